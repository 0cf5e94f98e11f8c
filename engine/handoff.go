package engine

import (
	"github.com/tandemchat/tandem"
)

// The handoff step's state machine lives here; a conversation whose handoff is active routes
// customer messages to the desk and agent messages to the customer.

// handoffInbound forwards a customer message to the desk of the active handoff.
func (c *cursor) handoffInbound(m *tandem.Message) {
	h := c.st.Handoff
	c.effect(tandem.Effect{Kind: tandem.EffectDesk, Desk: &tandem.DeskRequest{Desk: h.Desk, Op: "send", Session: h.Session, Message: m}})
}

// handoffAgentMessage relays an agent's message during a handoff and marks it connected.
func (c *cursor) handoffAgentMessage(a *tandem.AgentAction) {
	h := c.st.Handoff
	if h.Status == tandem.HandoffQueued {
		h.Status = tandem.HandoffConnected
		h.Agent = a.Agent
	}
	c.relayAgent(a)
}

// handoffAgentClose ends the active handoff because the agent closed it.
func (c *cursor) handoffAgentClose(a *tandem.AgentAction) {
	h := c.st.Handoff
	h.Status = tandem.HandoffClosed
	h.ClosedBy = "agent"
}

// userClose ends the active handoff at the customer's request.
func (c *cursor) userClose() {
	h := c.st.Handoff
	if h == nil || (h.Status != tandem.HandoffQueued && h.Status != tandem.HandoffConnected) {
		return
	}
	h.Status = tandem.HandoffClosed
	h.ClosedBy = "user"
	c.effect(tandem.Effect{Kind: tandem.EffectDesk, Desk: &tandem.DeskRequest{Desk: h.Desk, Op: "close", Session: h.Session, Reason: tandem.CloseUserClosed}})
}

// handoffTimer handles the handoff's own timers; false when the timer is not one of them.
func (c *cursor) handoffTimer(t *tandem.TimerFired) bool { return false }

// handoffResult handles desk call results; false when the result is not one of them.
func (c *cursor) handoffResult(r *tandem.EffectResult) bool { return false }
