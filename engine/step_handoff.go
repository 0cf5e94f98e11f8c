package engine

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/flow"
)

func init() { register("handoff", handoffHandler{}) }

// Handoff timer keys.
const (
	keyHandoffWait    = "handoff_wait"
	keyHandoffPrompt  = "handoff_prompt"
	keyHandoffSession = "handoff_session"
)

// Handoff closers, as step.<id>.closed_by reports them.
const (
	closedByAgent   = "agent"
	closedByUser    = "user"
	closedByTimeout = "timeout"
)

// handoff — give the conversation to humans. The sequence (docs/flows.md): schedule, desk
// health, e-mail when the desk needs one, connecting text and transcript, then the handoff's
// own state machine (waiting prompt, connected, closes), each exit to its branch.
type handoffHandler struct{}

func (handoffHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.HandoffStep)
	desk := b.Desk
	if desk == "" {
		desk = "inbox"
	}
	sched := b.Schedule
	if sched == "" {
		sched = c.settings().Schedule
	}
	if sched != "" {
		if sc, ok := c.env.Schedules[sched]; ok && !sc.Open(c.now) {
			c.handoffText(s, b, "out_of_hours")
			c.output(s, map[string]any{"status": "out_of_hours", "agent": "", "duration_s": 0.0, "closed_by": ""})
			c.trace(s, "out_of_hours", map[string]any{"schedule": sched}, nil, "")
			return c.branch(s, b.OnOutsideHours)
		}
	}
	// Why: the step's reason, else the one the agent step that led here gave its handoff tool.
	reason := strings.TrimSpace(c.render(&b.Reason))
	if reason == "" {
		reason = c.st.Run.HandoffReason
	}
	c.st.Run.HandoffReason = ""
	if _, ok := c.env.Desks[desk]; !ok {
		return handoffUnavailable(c, s, b, "desk "+desk+" is not configured")
	}
	c.setLocal("phase", "health")
	if reason != "" {
		c.setLocal("reason", reason)
	}
	if m := c.st.Run.Message; m != nil {
		// The transcript ends with the question that led here, not with the e-mail exchange.
		mb, _ := json.Marshal(m)
		c.setLocal("question", string(mb))
	}
	id := c.effect(tandem.Effect{Kind: tandem.EffectDesk, Await: true, Desk: &tandem.DeskRequest{Desk: desk, Op: "health"}})
	c.trace(s, "", map[string]any{"desk": desk, "team": b.Team}, nil, "")
	return c.wait(false, zeroTime, id)
}

func handoffUnavailable(c *cursor, s *flow.Step, b *flow.HandoffStep, why string) outcome {
	c.handoffText(s, b, "unavailable")
	c.output(s, map[string]any{"status": "unavailable", "agent": "", "duration_s": 0.0, "closed_by": "", "error": why})
	c.trace(s, "unavailable", nil, nil, why)
	return c.branch(s, b.OnUnavailable)
}

// handoffText sends a built-in text or the step's override ("" sends nothing).
func (c *cursor) handoffText(s *flow.Step, b *flow.HandoffStep, key string, buttons ...tandem.Button) {
	text := BuiltinText(c.handoffLanguage(), key)
	if t, ok := b.Texts[key]; ok {
		text = c.render(&t)
	}
	if strings.TrimSpace(text) == "" {
		return
	}
	c.send(tandem.Message{Text: text, Buttons: buttons}, "", false)
}

func (c *cursor) handoffLanguage() string {
	if l := c.settings().Language; l != "" {
		return l
	}
	if c.env.Language != "" {
		return c.env.Language
	}
	return "en"
}

func (c *cursor) handoffTimeouts(b *flow.HandoffStep) (wait, session time.Duration) {
	wait, session = c.env.HandoffWait, c.env.HandoffSession
	if wait <= 0 {
		wait = 60 * time.Second
	}
	if session <= 0 {
		session = 180 * time.Second
	}
	if b.WaitTimeout != nil && *b.WaitTimeout > 0 {
		wait = b.WaitTimeout.D()
	}
	if b.SessionTimeout != nil && *b.SessionTimeout > 0 {
		session = b.SessionTimeout.D()
	}
	return wait, session
}

func (handoffHandler) resume(c *cursor, s *flow.Step, ev *tandem.Event) outcome {
	b := s.Body.(*flow.HandoffStep)
	desk := b.Desk
	if desk == "" {
		desk = "inbox"
	}
	switch c.local("phase") {
	case "health":
		if r := ev.Result; r == nil || r.Error != "" || (r.Desk != nil && r.Desk.Error != "") {
			why := "the desk failed its health check"
			if r != nil && r.Desk != nil && r.Desk.Error != "" {
				why = r.Desk.Error
			} else if r != nil && r.Error != "" {
				why = r.Error
			}
			return handoffUnavailable(c, s, b, why)
		}
		needs := c.env.Desks[desk].NeedsEmail
		switch b.RequireEmail {
		case "always":
			needs = true
		case "never":
			needs = false
		}
		if needs && b.RequireEmail != "always" && strings.TrimSpace(c.contact.Email) == "" {
			// An e-mail the site gave for the visitor (web widget: Tandem.setEmail, an
			// unverified setUser) answers the question as the visitor would have.
			if claimed, ok := c.contact.Attributes["claimed_email"].(string); ok {
				if v, _, valid := ValidateAnswer("email", &tandem.Message{Type: tandem.MessageText, Text: claimed}, nil, c.answerEnv()); valid {
					if err := c.assign("contact.email", v, modeSet, ""); err != nil {
						return c.fail(s, "", err.Error())
					}
				}
			}
		}
		if needs && (b.RequireEmail == "always" || strings.TrimSpace(c.contact.Email) == "") {
			c.setLocal("phase", "email")
			c.handoffText(s, b, "ask_email")
			return c.wait(true, c.now.Add(c.settings().Wait()), "")
		}
		return handoffStart(c, s, b, desk)
	case "email":
		if ev.Kind == tandem.EventTimer {
			c.trace(s, "timeout", nil, nil, "no e-mail given")
			return c.branchOrExpire(s, b.OnTimeout)
		}
		if ev.Kind != tandem.EventMessage {
			return c.wait(true, c.now.Add(c.settings().Wait()), "")
		}
		if isEnd(ev.Message.Text) {
			c.handoffText(s, b, "user_closed")
			c.output(s, map[string]any{"status": "closed", "agent": "", "duration_s": 0.0, "closed_by": closedByUser})
			return c.branch(s, b.OnUserClosed)
		}
		v, _, ok := ValidateAnswer("email", ev.Message, nil, c.answerEnv())
		if !ok {
			c.handoffText(s, b, "invalid_email")
			return c.wait(true, c.now.Add(c.settings().Wait()), "")
		}
		if err := c.assign("contact.email", v, modeSet, ""); err != nil {
			return c.fail(s, "", err.Error())
		}
		return handoffStart(c, s, b, desk)
	case "summary":
		summary := ""
		if r := ev.Result; r != nil && r.AI != nil {
			res, errText := c.aiResult(ev)
			if errText == "" {
				summary = strings.TrimSpace(res.Text)
			} else {
				c.trace(s, "summary", nil, nil, "no summary for the agents ("+errText+"); the handoff goes on without one")
			}
		} else {
			why := "the summary call produced no result"
			if r != nil && r.Error != "" {
				why = r.Error
			}
			c.trace(s, "summary", nil, nil, "no summary for the agents ("+why+"); the handoff goes on without one")
		}
		return handoffQueue(c, s, b, desk, summary)
	case "start":
		r := ev.Result
		if r == nil || r.Error != "" || (r.Desk != nil && r.Desk.Error != "") {
			why := "the desk refused the conversation"
			if r != nil && r.Desk != nil && r.Desk.Error != "" {
				why = r.Desk.Error
			}
			c.cancelHandoffTimers()
			if h := c.st.Handoff; h != nil {
				h.EndedAt = c.now
				c.recordHandoff(h, "refused")
			}
			c.st.Handoff = nil
			c.conv.Status = tandem.ConversationBot
			c.out.ConversationChanged = true
			return handoffUnavailable(c, s, b, why)
		}
		if h := c.st.Handoff; h != nil && r.Desk != nil && r.Desk.Session != "" {
			h.Session = r.Desk.Session
		}
		c.setLocal("phase", "active")
		c.st.Run.Wait = &Wait{Human: true}
		return outcome{kind: kindWait}
	}
	// Events of an active handoff are routed by the cursor (handoffInbound & co.).
	c.st.Run.Wait = &Wait{Human: true}
	return outcome{kind: kindWait}
}

func (c *cursor) branchOrExpire(s *flow.Step, to string) outcome {
	if to != "" {
		return c.branch(s, to)
	}
	return c.end(tandem.RunExpired, tandem.ReasonTimeout)
}

// handoffStart tells the customer, hands the conversation to the desk with the transcript, and
// waits for an agent.
func handoffStart(c *cursor, s *flow.Step, b *flow.HandoffStep, desk string) outcome {
	c.handoffText(s, b, "connecting")
	if b.Transfer == nil || !b.Transfer.Summary {
		return handoffQueue(c, s, b, desk, "")
	}
	// The summary first: one model call on the transcript the desk gets, bounded by
	// SummaryTimeout and never retried; its failure leaves the summary out.
	req := &tandem.AIRequest{Op: tandem.AISummarize, Provider: c.providerID(b.Transfer.Provider), Step: s.ID, ConversationID: c.conv.ID,
		Model: b.Transfer.Model, System: summaryInstructions(c.handoffLanguage()), History: handoffRounds(c, b),
		Timeout: SummaryTimeout, Retry: tandem.RetryPolicy{Attempts: 1}}
	contact := *c.contact
	req.Contact = &contact
	if latest := handoffQuestion(c); latest != nil {
		req.HistoryBefore = latest.ID
	}
	c.setLocal("phase", "summary")
	id := c.effect(tandem.Effect{Kind: tandem.EffectAI, Await: true, AI: req})
	c.trace(s, "summarizing", map[string]any{"provider": req.Provider, "model": req.Model}, nil, "")
	return c.wait(false, zeroTime, id)
}

// SummaryTimeout bounds the call that writes a handoff's summary.
const SummaryTimeout = 20 * time.Second

// summaryInstructions are the model's instructions for a handoff summary, in the language of
// the handoff's texts.
func summaryInstructions(lang string) string {
	name := map[string]string{"es": "Spanish", "pt": "Portuguese"}[lang]
	if name == "" {
		name = "English"
	}
	return "A customer is being handed from a bot to a human support agent. Summarize the conversation below for the agent in at most 3 short sentences of " +
		name + ": what the customer wants, what they already gave (order numbers, e-mail, ...) and what the bot answered. Write only the summary."
}

// handoffRounds is how many rounds of history the desk gets.
func handoffRounds(c *cursor, b *flow.HandoffStep) int {
	rounds := c.env.TransferRounds
	if b.Transfer != nil && b.Transfer.Rounds != nil {
		rounds = *b.Transfer.Rounds
	} else if rounds <= 0 {
		rounds = 10
	}
	return rounds
}

// handoffQuestion is the customer message that led to the handoff (nil when none).
func handoffQuestion(c *cursor) *tandem.Message {
	if q, ok := c.local("question").(string); ok && q != "" {
		var m tandem.Message
		if json.Unmarshal([]byte(q), &m) == nil {
			return &m
		}
	}
	return nil
}

// handoffQueue queues the conversation for the desk's agents and hands it over with the
// transcript, the reason, the flow and the summary.
func handoffQueue(c *cursor, s *flow.Step, b *flow.HandoffStep, desk, summary string) outcome {
	rounds := handoffRounds(c, b)
	team := b.Team
	contact := *c.contact
	latest := handoffQuestion(c)
	reason, _ := c.local("reason").(string)
	r := c.st.Run
	// The session id is ours, minted now: every later call to the desk names it, even those
	// sent before the desk has answered the start.
	tag := c.id()
	if len(tag) > 10 {
		tag = tag[len(tag)-10:]
	}
	h := &Handoff{Status: tandem.HandoffQueued, Desk: desk, Team: team, StartedAt: c.now, RunStep: s.ID, RunID: r.ID,
		Session: "hf_" + c.conv.ID + "_" + strings.ToLower(tag), FlowID: r.FlowID, FlowVersion: r.Version, Reason: reason, Summary: summary}
	c.st.Handoff = h
	c.recordHandoff(h, h.Status)
	c.conv.Status = tandem.ConversationQueued
	c.conv.Assignee = "" // a new handoff waits in the queue for whoever takes it
	if team != "" {
		c.conv.Team = team
	}
	c.out.ConversationChanged = true
	wait, _ := c.handoffTimeouts(b)
	h.WaitTimer = c.setTimer(c.now.Add(wait), keyHandoffWait)
	c.setLocal("phase", "start")
	id := c.effect(tandem.Effect{Kind: tandem.EffectDesk, Await: true, Desk: &tandem.DeskRequest{
		Desk: desk, Op: "start", Session: h.Session, Team: team, Contact: &contact, Rounds: rounds, Message: latest,
		Reason: reason, Summary: summary, Flow: &tandem.FlowRef{ID: r.FlowID, Version: r.Version}}})
	in := map[string]any{"desk": desk, "team": team, "rounds": rounds}
	if reason != "" {
		in["reason"] = reason
	}
	if summary != "" {
		in["summary"] = summary
	}
	c.trace(s, "connecting", in, nil, "")
	return c.wait(false, zeroTime, id)
}

// handoffStep returns the handoff step the active run waits on.
func (c *cursor) handoffStep() (*flow.Step, *flow.HandoffStep) {
	h, r := c.st.Handoff, c.st.Run
	if h == nil || r == nil || r.Step != h.RunStep {
		return nil, nil
	}
	f := c.flow()
	if f == nil {
		return nil, nil
	}
	s := f.Step(h.RunStep)
	if s == nil {
		return nil, nil
	}
	b, ok := s.Body.(*flow.HandoffStep)
	if !ok {
		return nil, nil
	}
	return s, b
}

func isEnd(text string) bool { return strings.EqualFold(strings.TrimSpace(text), "/end") }

// handoffInbound routes a customer message during a handoff: /end closes it, an answer to the
// waiting prompt is handled, anything else goes to the desk.
func (c *cursor) handoffInbound(m *tandem.Message) {
	h := c.st.Handoff
	s, b := c.handoffStep()
	if isEnd(m.Text) {
		c.handoffClose(closedByUser, tandem.CloseUserClosed, "user_closed", func(b *flow.HandoffStep) string { return b.OnUserClosed })
		return
	}
	if h.Prompting && b != nil {
		choices := []Choice{{ID: "wait", Title: BuiltinText(c.handoffLanguage(), "option_wait")}, {ID: "end", Title: BuiltinText(c.handoffLanguage(), "option_end")}}
		if _, opt, ok := ValidateAnswer("option", m, choices, c.answerEnv()); ok {
			c.cancelTimer(h.WaitTimer)
			h.Prompting = false
			if opt == "end" {
				c.handoffClose(closedByUser, tandem.CloseUserClosed, "user_closed", func(b *flow.HandoffStep) string { return b.OnUserClosed })
				return
			}
			wait, _ := c.handoffTimeouts(b)
			h.WaitTimer = c.setTimer(c.now.Add(wait), keyHandoffWait)
			c.trace(s, "keep_waiting", nil, nil, "")
			return
		}
	}
	if h.Status == tandem.HandoffConnected && h.SessionTimer != "" {
		// The customer answered: the session timeout waits for the agent's next message.
		c.cancelTimer(h.SessionTimer)
		h.SessionTimer = ""
	}
	c.effect(tandem.Effect{Kind: tandem.EffectDesk, Desk: &tandem.DeskRequest{Desk: h.Desk, Op: "send", Session: h.Session, Message: m}})
}

// handoffAgentMessage relays an agent's message; the first one connects.
func (c *cursor) handoffAgentMessage(a *tandem.AgentAction) {
	h := c.st.Handoff
	s, b := c.handoffStep()
	if h.Status == tandem.HandoffQueued {
		h.Status = tandem.HandoffConnected
		h.ConnectedAt = c.now
		c.recordHandoff(h, h.Status)
		h.Agent = a.Agent
		h.Prompting = false
		c.cancelTimer(h.WaitTimer)
		h.WaitTimer = ""
		c.conv.Status = tandem.ConversationAssigned
		if a.Agent != "" {
			c.conv.Assignee = a.Agent
		}
		c.out.ConversationChanged = true
		if b != nil {
			c.handoffText(s, b, "connected")
		}
		c.trace(s, "connected", map[string]any{"agent": a.Agent}, nil, "")
	}
	c.relayAgent(a)
	if h.SessionTimer != "" {
		c.cancelTimer(h.SessionTimer)
	}
	session := c.env.HandoffSession
	if b != nil {
		_, session = c.handoffTimeouts(b)
	}
	if session <= 0 {
		session = 180 * time.Second
	}
	h.SessionTimer = c.setTimer(c.now.Add(session), keyHandoffSession)
}

// handoffAgentClose ends the handoff because the agent (or the desk) closed it.
func (c *cursor) handoffAgentClose(a *tandem.AgentAction) {
	c.handoffClose(closedByAgent, "", "agent_closed", func(b *flow.HandoffStep) string { return "" })
}

// userClose ends the active handoff at the customer's request (the "end" option).
func (c *cursor) userClose() {
	if !c.st.Handoff.Active() {
		return
	}
	c.handoffClose(closedByUser, tandem.CloseUserClosed, "user_closed", func(b *flow.HandoffStep) string { return b.OnUserClosed })
}

// handoffTimer handles the handoff's timers; false when the timer is not one of them.
func (c *cursor) handoffTimer(t *tandem.TimerFired) bool {
	h := c.st.Handoff
	if !h.Active() {
		return false
	}
	switch t.ID {
	case h.WaitTimer:
		h.WaitTimer = ""
		s, b := c.handoffStep()
		if h.Prompting || b == nil {
			// No answer to the prompt within another wait: close as the customer's choice.
			c.handoffClose(closedByUser, tandem.CloseUserClosed, "user_closed", func(b *flow.HandoffStep) string { return b.OnUserClosed })
			return true
		}
		lang := c.handoffLanguage()
		h.Prompting = true
		c.handoffText(s, b, "waiting_prompt", tandem.Button{ID: "wait", Title: BuiltinText(lang, "option_wait")}, tandem.Button{ID: "end", Title: BuiltinText(lang, "option_end")})
		wait, _ := c.handoffTimeouts(b)
		h.WaitTimer = c.setTimer(c.now.Add(wait), keyHandoffPrompt)
		c.trace(s, "waiting_prompt", nil, nil, "")
		return true
	case h.SessionTimer:
		h.SessionTimer = ""
		c.handoffClose(closedByTimeout, tandem.CloseTimeout, "session_timeout", func(b *flow.HandoffStep) string { return b.OnTimeout })
		return true
	}
	return false
}

// handoffResult handles results of desk calls outside the step's own waits.
func (c *cursor) handoffResult(r *tandem.EffectResult) bool { return r.Kind == tandem.EffectDesk }

func (c *cursor) cancelHandoffTimers() {
	if h := c.st.Handoff; h != nil {
		if h.WaitTimer != "" {
			c.cancelTimer(h.WaitTimer)
			h.WaitTimer = ""
		}
		if h.SessionTimer != "" {
			c.cancelTimer(h.SessionTimer)
			h.SessionTimer = ""
		}
	}
}

// handoffClose ends the active handoff: the customer gets the closing text, the desk is told why
// (unless it closed it), and the run continues on the step's branch for this exit.
func (c *cursor) handoffClose(by, deskReason, textKey string, branch func(*flow.HandoffStep) string) {
	h := c.st.Handoff
	s, b := c.handoffStep()
	c.cancelHandoffTimers()
	h.Status = tandem.HandoffClosed
	h.ClosedBy = by
	h.Prompting = false
	h.EndedAt = c.now
	c.recordHandoff(h, h.Status)
	if deskReason != "" {
		c.effect(tandem.Effect{Kind: tandem.EffectDesk, Desk: &tandem.DeskRequest{Desk: h.Desk, Op: "close", Session: h.Session, Reason: deskReason}})
	}
	c.conv.Status = tandem.ConversationBot
	c.conv.Assignee = ""
	c.out.ConversationChanged = true
	if b == nil {
		// No run waits on this handoff (it was canceled): the customer still gets the text.
		c.send(tandem.Message{Text: BuiltinText(c.handoffLanguage(), textKey)}, "", false)
		return
	}
	c.handoffText(s, b, textKey)
	c.output(s, map[string]any{"status": tandem.HandoffClosed, "agent": h.Agent,
		"duration_s": float64(int(c.now.Sub(h.StartedAt).Seconds())), "closed_by": by})
	c.trace(s, "closed", map[string]any{"closed_by": by}, nil, "")
	r := c.st.Run
	r.Wait = nil
	r.Local = nil
	r.Status = tandem.RunRunning
	r.Steps = 0
	r.Step = c.flow().Resolve(s, branch(b))
	c.runDirty = true
	c.advance(nil)
	c.afterRun()
}

// recordHandoff puts the handoff's latest state in the output, for analytics.
func (c *cursor) recordHandoff(h *Handoff, status string) {
	rec := tandem.HandoffRecord{ID: h.Session, RunID: h.RunID, Desk: h.Desk, Team: h.Team, Status: status,
		QueuedAt: h.StartedAt, FirstReplyAt: h.ConnectedAt, EndedAt: h.EndedAt, ClosedBy: h.ClosedBy}
	for i := range c.out.Handoffs {
		if c.out.Handoffs[i].ID == rec.ID {
			c.out.Handoffs[i] = rec
			return
		}
	}
	c.out.Handoffs = append(c.out.Handoffs, rec)
}
