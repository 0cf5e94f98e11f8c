package engine

import (
	"fmt"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/flow"
)

func init() { register("flow", flowHandler{}) }

// flow — call another flow and come back (its variables are its own), or hand over to it.
type flowHandler struct{}

func (flowHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.FlowStep)
	f, err := c.env.Flows.Latest(b.Start)
	if err != nil {
		msg := fmt.Sprintf("flow %q cannot start: %v", b.Start, err)
		c.trace(s, "", nil, nil, msg)
		return c.fail(s, "", msg)
	}
	vars := map[string]any{}
	for k, v := range b.Variables {
		vars[k] = v.Eval(scope{c})
	}
	r := c.st.Run
	c.trace(s, "", map[string]any{"start": f.ID, "version": f.Version, "mode": firstNonEmpty(b.Mode, "call"), "variables": vars}, nil, "")
	if b.Mode == "replace" {
		m, steps := r.Message, r.Steps
		c.endRun(tandem.RunCompleted, tandem.ReasonReplaced, "")
		c.startAfter(f, m, vars, steps)
		return outcome{kind: kindWait}
	}
	if len(r.Frames) >= maxFrames {
		return c.fail(s, "", fmt.Sprintf("flows call each other more than %d levels deep", maxFrames))
	}
	c.flows[flowKey{f.ID, f.Version}] = f
	r.Frames = append(r.Frames, Frame{FlowID: r.FlowID, Version: r.Version, Step: s.ID, Vars: r.Vars, Outputs: r.Outputs})
	r.FlowID, r.Version = f.ID, f.Version
	r.Vars = c.initialVars(f, vars)
	r.Outputs = map[string]any{}
	next := ""
	if e := f.Entry(); e != nil {
		next = e.ID
	}
	return outcome{kind: kindNext, next: next}
}
