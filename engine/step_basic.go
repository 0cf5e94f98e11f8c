package engine

import (
	"hash/fnv"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/expr"
	"github.com/tandemchat/tandem/flow"
)

func init() {
	register("message", messageHandler{})
	register("set", setHandler{})
	register("condition", conditionHandler{})
	register("goto", gotoHandler{})
	register("split", splitHandler{})
	register("tag", tagHandler{})
	register("note", noteHandler{})
	register("notify", notifyHandler{})
	register("assign", assignHandler{})
	register("stop", stopHandler{})
}

// message — send to the customer.
type messageHandler struct{}

func (messageHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.MessageStep)
	if len(b.Channels) > 0 && !c.channelOK(&flow.Trigger{Channels: b.Channels}) {
		c.trace(s, "", map[string]any{"skipped": "channel " + c.conv.ChannelKind}, nil, "")
		return c.next(s)
	}
	m := tandem.Message{Text: c.render(&b.Text)}
	for _, btn := range b.Buttons {
		title := c.render(&btn.Title)
		if title == "" {
			title = btn.ID
		}
		m.Buttons = append(m.Buttons, tandem.Button{ID: btn.ID, Title: title})
	}
	if b.Media != nil {
		m.Media = c.media(b.Media)
	}
	if t := b.Template; t != nil {
		m.Template = &tandem.Template{Name: c.render(&t.Name), Language: c.render(&t.Language)}
		if t.Components != nil {
			m.Template.Components = t.Components.Eval(scope{c})
		}
		if m.Text == "" && m.Media == nil && c.caps().Window == 0 {
			// Only a template, on a channel that sends none: nothing to send.
			c.trace(s, "", map[string]any{"skipped": "channel " + c.conv.ChannelKind + " sends no templates"}, nil, "")
			return c.next(s)
		}
	}
	id := c.send(m, "", b.OnFailed != "")
	in := map[string]any{"text": m.Text}
	if m.Media != nil {
		in["media"] = m.Media.URL
	}
	if m.Template != nil {
		in["template"] = m.Template.Name
	}
	c.output(s, map[string]any{"id": id})
	c.trace(s, "", in, map[string]any{"id": id}, "")
	if b.OnFailed != "" {
		return c.wait(false, zeroTime, id)
	}
	return c.next(s)
}

// resume handles what a message step with on_failed waits for: the send's result, then, on a
// channel that reports delivery, the report (or the end of delivery_timeout, when it goes on as
// sent). A report may also come before the result.
func (messageHandler) resume(c *cursor, s *flow.Step, ev *tandem.Event) outcome {
	b := s.Body.(*flow.MessageStep)
	out := c.st.Run.Outputs[s.ID].(map[string]any)
	switch ev.Kind {
	case tandem.EventResult:
		r := ev.Result
		if r.Error != "" || (r.Send != nil && r.Send.Failed) {
			out["status"] = "failed"
			out["error"] = firstNonEmpty(r.Error, sendError(r.Send))
			c.trace(s, "failed", nil, out, "")
			return c.branch(s, b.OnFailed)
		}
		out["status"] = "sent"
		if c.caps().Statuses && r.Send != nil && r.Send.ChannelMessageID != "" {
			timeout := flow.DefaultDeliveryTimeout
			if b.DeliveryTimeout != nil {
				timeout = b.DeliveryTimeout.D()
			}
			return c.wait(false, c.now.Add(timeout), r.EffectID)
		}
	case tandem.EventDelivery:
		d := ev.Delivery
		out["status"] = d.Status
		if d.Status == tandem.DeliveryFailed {
			out["error"] = d.Error
			c.trace(s, "failed", nil, out, "")
			return c.branch(s, b.OnFailed)
		}
		c.trace(s, d.Status, nil, out, "")
	case tandem.EventTimer:
		c.trace(s, "no delivery report", nil, out, "")
	}
	return c.next(s)
}

func sendError(r *tandem.SendResult) string {
	if r == nil {
		return ""
	}
	return r.Error
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func (c *cursor) media(ms *flow.MediaSpec) *tandem.Media {
	typ := ms.Type
	if typ == "document" {
		typ = tandem.MessageFile
	}
	return &tandem.Media{Type: typ, URL: c.render(&ms.URL), Mime: ms.Mime, Name: c.render(&ms.Name), Caption: c.render(&ms.Caption)}
}

// set — write variables and contact fields.
type setHandler struct{}

func (setHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.SetStep)
	written := map[string]any{}
	for _, a := range b.Assign {
		var v any
		if a.Value != nil {
			v = a.Value.Eval(scope{c})
		}
		sep := "\n"
		if a.Separator != nil {
			sep = *a.Separator
		}
		if err := c.assign(a.Target, v, a.Mode, sep); err != nil {
			c.trace(s, "", written, nil, err.Error())
			return c.fail(s, "", err.Error())
		}
		written[a.Target] = c.readTarget(a.Target)
	}
	c.trace(s, "", nil, written, "")
	return c.next(s)
}

// readTarget reads back a written target for the trace.
func (c *cursor) readTarget(target string) any {
	p, err := expr.ParsePath(target)
	if err != nil {
		return nil
	}
	v, _ := scope{c}.Lookup(p)
	return v
}

// condition — the first branch whose `when` holds.
type conditionHandler struct{}

func (conditionHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.ConditionStep)
	for i, br := range b.Branches {
		if br.When.Eval(scope{c}) {
			name := br.Name
			if name == "" {
				name = "#" + expr.FormatNumber(float64(i+1))
			}
			return conditionTaken(c, s, name, c.branch(s, br.Next))
		}
	}
	return conditionTaken(c, s, "else", c.branch(s, b.Else))
}

// conditionTaken records the branch a condition took as its outputs ({{step.<id>}} is the
// branch's name, {{step.<id>.next}} the step it leads to) and in the trace.
func conditionTaken(c *cursor, s *flow.Step, name string, o outcome) outcome {
	out := map[string]any{"branch": name, "next": o.next}
	c.output(s, out)
	c.trace(s, "", nil, out, "")
	return o
}

// goto — jump.
type gotoHandler struct{}

func (gotoHandler) enter(c *cursor, s *flow.Step) outcome {
	to := s.Body.(*flow.GotoStep).To
	c.trace(s, "", nil, map[string]any{"next": to}, "")
	return c.goTo(to)
}

// split — a weighted random path, stable for a run and a visit so a replay picks the same.
type splitHandler struct{}

func (splitHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.SplitStep)
	total := 0.0
	for _, p := range b.Paths {
		if p.Weight > 0 {
			total += p.Weight
		}
	}
	if total <= 0 {
		return c.fail(s, "", "split has no path with a positive weight")
	}
	h := fnv.New64a()
	h.Write([]byte(c.st.Run.ID + "/" + s.ID + "/" + c.conv.ID))
	x := float64(h.Sum64()%1_000_000) / 1_000_000 * total
	for i, p := range b.Paths {
		if p.Weight <= 0 {
			continue
		}
		if x < p.Weight || i == len(b.Paths)-1 {
			c.output(s, map[string]any{"path": float64(i + 1), "next": p.Next})
			c.trace(s, "", nil, map[string]any{"path": i + 1, "next": p.Next}, "")
			return c.goTo(p.Next)
		}
		x -= p.Weight
	}
	return c.next(s)
}

// tag — add and remove tags on the contact or the conversation.
type tagHandler struct{}

func (tagHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.TagStep)
	var add, remove []string
	for _, t := range b.Add {
		if v := strings.TrimSpace(c.render(&t)); v != "" {
			add = append(add, v)
		}
	}
	for _, t := range b.Remove {
		if v := strings.TrimSpace(c.render(&t)); v != "" {
			remove = append(remove, v)
		}
	}
	if b.On == "conversation" {
		c.conv.Tags = retag(c.conv.Tags, add, remove)
		c.out.ConversationChanged = true
	} else {
		c.contact.Tags = retag(c.contact.Tags, add, remove)
		c.out.ContactChanged = true
	}
	c.trace(s, "", map[string]any{"add": add, "remove": remove, "on": firstNonEmpty(b.On, "contact")}, nil, "")
	return c.next(s)
}

// retag adds and removes tags, case-insensitively, keeping order and no duplicates.
func retag(tags, add, remove []string) []string {
	out := make([]string, 0, len(tags)+len(add))
	has := func(list []string, t string) bool {
		for _, e := range list {
			if strings.EqualFold(e, t) {
				return true
			}
		}
		return false
	}
	for _, t := range tags {
		if !has(remove, t) && !has(out, t) {
			out = append(out, t)
		}
	}
	for _, t := range add {
		if !has(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// note — an internal note, visible to agents only.
type noteHandler struct{}

func (noteHandler) enter(c *cursor, s *flow.Step) outcome {
	text := c.render(&s.Body.(*flow.NoteStep).Text)
	c.out.Notes = append(c.out.Notes, tandem.Note{ID: c.id(), ConversationID: c.conv.ID, Author: tandem.AuthorBot, Text: text, CreatedAt: c.now})
	c.trace(s, "", map[string]any{"text": text}, nil, "")
	return c.next(s)
}

// notify — an internal message to agents.
type notifyHandler struct{}

func (notifyHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.NotifyStep)
	n := &tandem.Notification{Text: c.render(&b.Text), Team: c.render(&b.Team), Agent: c.render(&b.User)}
	if n.Team == "" && n.Agent == "" {
		n.Team = c.conv.Team
	}
	c.effect(tandem.Effect{Kind: tandem.EffectNotify, Notify: n})
	c.trace(s, "", map[string]any{"text": n.Text, "team": n.Team, "user": n.Agent}, nil, "")
	return c.next(s)
}

// assign — set team and assignee; the bot keeps going.
type assignHandler struct{}

func (assignHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.AssignStep)
	if b.Team != nil {
		c.conv.Team = c.render(b.Team)
	}
	if b.User != nil {
		c.conv.Assignee = c.render(b.User)
	}
	c.out.ConversationChanged = true
	c.trace(s, "", nil, map[string]any{"team": c.conv.Team, "assignee": c.conv.Assignee}, "")
	return c.next(s)
}

// stop — end the run; pause_bot keeps the bot silent until resumed; then_start starts a flow.
type stopHandler struct{}

func (stopHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.StopStep)
	c.trace(s, "", map[string]any{"pause_bot": b.PauseBot, "then_start": b.ThenStart}, nil, "")
	steps := c.st.Run.Steps
	c.endRun(tandem.RunCompleted, tandem.ReasonStopped, "")
	if b.PauseBot {
		c.conv.BotPaused = true
		c.out.ConversationChanged = true
	}
	if b.ThenStart != "" {
		f, err := c.env.Flows.Latest(b.ThenStart)
		if err != nil {
			c.trace(s, "then_start", nil, nil, "flow "+b.ThenStart+" cannot start: "+err.Error())
		} else {
			c.startAfter(f, nil, nil, steps)
		}
	}
	return outcome{kind: kindWait} // the run is over; advance sees it replaced
}
