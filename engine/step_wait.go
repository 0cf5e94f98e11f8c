package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/expr"
	"github.com/tandemchat/tandem/flow"
)

func init() { register("wait", waitHandler{}) }

// wait — a delay, a moment, or a message, whichever comes first.
type waitHandler struct{}

func (waitHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.WaitStep)
	due, err := c.waitDue(b)
	if err != nil {
		c.trace(s, "", nil, nil, err.Error())
		return c.fail(s, "", err.Error())
	}
	c.trace(s, "", map[string]any{"until": due.Format(time.RFC3339), "or_message": b.OrMessage}, nil, "")
	if !due.After(c.now) && !b.OrMessage {
		c.output(s, map[string]any{"timed_out": true})
		return c.next(s)
	}
	return c.wait(b.OrMessage, due, "")
}

// waitDue computes when the wait ends: `for` (counted inside the schedule with
// within_schedule), `until`, or the flow's wait_timeout for a bare message wait.
func (c *cursor) waitDue(b *flow.WaitStep) (time.Time, error) {
	if !b.Until.IsZero() {
		text := strings.TrimSpace(c.render(&b.Until))
		t, err := time.Parse(time.RFC3339, text)
		if err != nil {
			return time.Time{}, fmt.Errorf("until: %q is not an RFC 3339 time such as 2026-01-05T10:00:00-03:00", text)
		}
		return t, nil
	}
	d := c.settings().Wait()
	if b.For != nil {
		d = b.For.D()
	}
	if b.WithinSchedule != "" {
		sc, ok := c.env.Schedules[b.WithinSchedule]
		if !ok {
			return time.Time{}, fmt.Errorf("within_schedule: no schedule %q in the configuration", b.WithinSchedule)
		}
		at, ok := sc.AddOpen(c.now, d)
		if !ok {
			return time.Time{}, fmt.Errorf("within_schedule: schedule %q does not open in the next 400 days", b.WithinSchedule)
		}
		return at, nil
	}
	return c.now.Add(d), nil
}

func (waitHandler) resume(c *cursor, s *flow.Step, ev *tandem.Event) outcome {
	b := s.Body.(*flow.WaitStep)
	switch ev.Kind {
	case tandem.EventTimer:
		out, _ := c.st.Run.Outputs[s.ID].(map[string]any)
		if out == nil {
			out = map[string]any{}
		}
		out["timed_out"] = true
		c.output(s, out)
		c.trace(s, "done", nil, out, "")
		return c.next(s)
	case tandem.EventMessage:
		m := ev.Message
		if b.Accumulate != "" {
			if err := c.assign(b.Accumulate, m.Text, modeAppend, "\n"); err != nil {
				return c.fail(s, "", err.Error())
			}
			// The step's text is what it gathered: {{step.<id>}} reads like the variable.
			c.output(s, map[string]any{"text": expr.String(c.readTarget(b.Accumulate)), "timed_out": false})
			c.trace(s, "accumulate", map[string]any{"text": m.Text}, map[string]any{b.Accumulate: c.readTarget(b.Accumulate)}, "")
			next, err := c.waitDue(b)
			if err != nil {
				return c.fail(s, "", err.Error())
			}
			return c.wait(true, next, "")
		}
		c.output(s, map[string]any{"text": m.Text, "timed_out": false})
		c.trace(s, "message", map[string]any{"text": m.Text}, nil, "")
		if b.OnMessage != "" {
			return c.branch(s, b.OnMessage)
		}
		return c.next(s)
	}
	return c.next(s)
}
