package engine

import (
	"github.com/tandemchat/tandem"
)

// agent handles a human agent's action on the conversation.
func (c *cursor) agent(a *tandem.AgentAction) {
	if a.Desk != "" && a.Desk != "inbox" && (!c.st.Handoff.Active() || c.st.Handoff.Desk != a.Desk) {
		// An external desk acts only inside its own active handoff: a callback arriving after
		// the handoff closed on our side must not take the conversation over.
		c.trace(nil, "agent_ignored", map[string]any{"desk": a.Desk, "action": a.Action}, nil, "")
		return
	}
	switch a.Action {
	case tandem.AgentMessage:
		if a.Message == nil {
			return
		}
		if c.st.Handoff.Active() {
			c.handoffAgentMessage(a)
			return
		}
		// An agent writing in a conversation the bot handles takes it over: the bot pauses,
		// so the customer never gets two answers.
		c.takeOver(a.Agent)
		c.relayAgent(a)
	case tandem.AgentTake:
		if c.st.Handoff.Active() {
			// Assigned in the queue: the conversation waits for the agent's first message.
			if a.Agent != "" && c.conv.Assignee != a.Agent {
				c.conv.Assignee = a.Agent
				c.conv.Status = tandem.ConversationAssigned
				c.out.ConversationChanged = true
			}
			return
		}
		c.takeOver(a.Agent)
	case tandem.AgentClose:
		if c.st.Handoff.Active() {
			c.handoffAgentClose(a)
			return
		}
		c.conv.Status = tandem.ConversationClosed
		c.out.ConversationChanged = true
		if c.st.Run != nil {
			c.endRun(tandem.RunCanceled, tandem.ReasonAgentClosed, "")
		}
	}
}

// takeOver pauses the bot for an agent, canceling the active run.
func (c *cursor) takeOver(agent string) {
	if c.st.Run != nil {
		c.endRun(tandem.RunCanceled, tandem.ReasonBotPaused, "")
	}
	c.st.Pending = nil
	c.st.Debounce = nil
	if !c.conv.BotPaused || (agent != "" && c.conv.Assignee != agent) {
		c.conv.BotPaused = true
		if agent != "" {
			c.conv.Assignee = agent
		}
		c.conv.Status = tandem.ConversationAssigned
		c.out.ConversationChanged = true
	}
}

// relayAgent sends an agent's message to the customer.
func (c *cursor) relayAgent(a *tandem.AgentAction) {
	m := *a.Message
	m.Author = tandem.AuthorAgent
	m.AgentID = a.Agent
	m.Buttons = nil
	c.send(m, "", false)
}

// resumeBot gives the conversation back to the bot.
func (c *cursor) resumeBot() {
	if c.st.Handoff.Active() {
		c.handoffAgentClose(&tandem.AgentAction{Action: tandem.AgentClose})
	}
	c.conv.BotPaused = false
	c.conv.Status = tandem.ConversationBot
	c.conv.Assignee = ""
	c.out.ConversationChanged = true
}
