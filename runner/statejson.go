package runner

import (
	"encoding/json"
	"strconv"
	"sync"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/internal/jsonenc"
)

// stateJSON is json.Marshal(st), written by hand: every turn stores its conversation's state,
// and encoding/json's reflection over the run's variables and outputs (maps of maps) was
// ~5 % of a W1 turn's CPU. The parts a chat turn seldom has (a debounce, pending messages, a
// handoff, an agent's exchange, called flows' frames) go through encoding/json. The output is
// the same bytes (TestStateJSONIsMarshal); on any error json.Marshal says what it is.
func stateJSON(st *engine.State) ([]byte, error) {
	buf := stateBufs.Get().(*[]byte)
	defer stateBufs.Put(buf)
	b, err := appendState((*buf)[:0], st)
	if err != nil {
		return json.Marshal(st)
	}
	*buf = b
	// A copy of its own size: the snapshot cache keeps it.
	return append([]byte(nil), b...), nil
}

// stateBufs holds the buffers stateJSON writes in.
var stateBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func appendState(b []byte, st *engine.State) ([]byte, error) {
	var err error
	b = append(b, '{')
	first := true
	if st.Run != nil {
		b = jsonenc.Key(b, "run", first)
		first = false
		if b, err = appendRunState(b, st.Run); err != nil {
			return b, err
		}
	}
	if l := st.Last; l != nil {
		b = jsonenc.Key(b, "last", first)
		first = false
		b = jsonenc.Key(append(b, '{'), "id", true)
		b = jsonenc.String(b, l.ID)
		b = jsonenc.Key(b, "flow_id", false)
		b = jsonenc.String(b, l.FlowID)
		b = jsonenc.Key(b, "status", false)
		b = jsonenc.String(b, l.Status)
		if l.Reason != "" {
			b = jsonenc.Key(b, "reason", false)
			b = jsonenc.String(b, l.Reason)
		}
		if l.Step != "" {
			b = jsonenc.Key(b, "step", false)
			b = jsonenc.String(b, l.Step)
		}
		if len(l.Vars) > 0 {
			b = jsonenc.Key(b, "vars", false)
			if b, err = jsonenc.Map(b, l.Vars); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	if st.Seq != 0 {
		b = jsonenc.Key(b, "seq", first)
		first = false
		b = strconv.AppendInt(b, st.Seq, 10)
	}
	if st.Debounce != nil {
		b = jsonenc.Key(b, "debounce", first)
		first = false
		if b, err = jsonenc.Marshal(b, st.Debounce); err != nil {
			return b, err
		}
	}
	if len(st.Pending) > 0 {
		b = jsonenc.Key(b, "pending", first)
		first = false
		if b, err = jsonenc.Marshal(b, st.Pending); err != nil {
			return b, err
		}
	}
	if len(st.Memory) > 0 {
		b = jsonenc.Key(b, "memory", first)
		first = false
		if b, err = jsonenc.Value(b, st.Memory); err != nil {
			return b, err
		}
	}
	if st.Handoff != nil {
		b = jsonenc.Key(b, "handoff", first)
		first = false
		if b, err = jsonenc.Marshal(b, st.Handoff); err != nil {
			return b, err
		}
	}
	if st.Started {
		b = jsonenc.Key(b, "started", first)
		first = false
		b = append(b, "true"...)
	}
	if st.BotSpoke {
		b = jsonenc.Key(b, "bot_spoke", first)
		b = append(b, "true"...)
	}
	return append(b, '}'), nil
}

func appendRunState(b []byte, r *engine.RunState) ([]byte, error) {
	var err error
	b = jsonenc.Key(append(b, '{'), "id", true)
	b = jsonenc.String(b, r.ID)
	b = jsonenc.Key(b, "flow_id", false)
	b = jsonenc.String(b, r.FlowID)
	b = jsonenc.Key(b, "version", false)
	b = strconv.AppendInt(b, int64(r.Version), 10)
	b = jsonenc.Key(b, "status", false)
	b = jsonenc.String(b, r.Status)
	b = jsonenc.Key(b, "step", false)
	b = jsonenc.String(b, r.Step)
	b = jsonenc.Key(b, "started_at", false)
	if b, err = jsonenc.Time(b, r.StartedAt); err != nil {
		return b, err
	}
	b = jsonenc.Key(b, "vars", false)
	if b, err = jsonenc.Map(b, r.Vars); err != nil {
		return b, err
	}
	b = jsonenc.Key(b, "outputs", false)
	if b, err = jsonenc.Map(b, r.Outputs); err != nil {
		return b, err
	}
	if len(r.Frames) > 0 {
		b = jsonenc.Key(b, "frames", false)
		if b, err = jsonenc.Marshal(b, r.Frames); err != nil {
			return b, err
		}
	}
	if r.Message != nil {
		b = jsonenc.Key(b, "message", false)
		if b, err = jsonenc.Message(b, r.Message); err != nil {
			return b, err
		}
	}
	if w := r.Wait; w != nil {
		b = append(jsonenc.Key(b, "wait", false), '{')
		first := true
		if w.Human {
			b = append(jsonenc.Key(b, "human", first), "true"...)
			first = false
		}
		if w.Message {
			b = append(jsonenc.Key(b, "message", first), "true"...)
			first = false
		}
		if w.TimerID != "" {
			b = jsonenc.String(jsonenc.Key(b, "timer_id", first), w.TimerID)
			first = false
		}
		// omitempty leaves a time.Time (a struct) in
		b = jsonenc.Key(b, "due", first)
		if b, err = jsonenc.Time(b, w.Due); err != nil {
			return b, err
		}
		if w.EffectID != "" {
			b = jsonenc.String(jsonenc.Key(b, "effect_id", false), w.EffectID)
		}
		b = append(b, '}')
	}
	b = jsonenc.Key(b, "entered", false)
	if b, err = jsonenc.Time(b, r.Entered); err != nil {
		return b, err
	}
	if len(r.Local) > 0 {
		b = jsonenc.Key(b, "local", false)
		if b, err = jsonenc.Map(b, r.Local); err != nil {
			return b, err
		}
	}
	if r.Agent != nil {
		b = jsonenc.Key(b, "agent", false)
		if b, err = jsonenc.Marshal(b, r.Agent); err != nil {
			return b, err
		}
	}
	if r.Steps != 0 {
		b = strconv.AppendInt(jsonenc.Key(b, "steps", false), int64(r.Steps), 10)
	}
	b = appendUsage(jsonenc.Key(b, "usage", false), r.Usage)
	if len(r.Path) > 0 {
		b = jsonenc.Strings(jsonenc.Key(b, "path", false), r.Path)
	}
	if r.Error != "" {
		b = jsonenc.String(jsonenc.Key(b, "error", false), r.Error)
	}
	if r.HandoffReason != "" {
		b = jsonenc.String(jsonenc.Key(b, "handoff_reason", false), r.HandoffReason)
	}
	return append(b, '}'), nil
}

func appendUsage(b []byte, u tandem.Usage) []byte {
	b = strconv.AppendInt(jsonenc.Key(append(b, '{'), "calls", true), int64(u.Calls), 10)
	b = strconv.AppendInt(jsonenc.Key(b, "input_tokens", false), int64(u.InputTokens), 10)
	b = strconv.AppendInt(jsonenc.Key(b, "output_tokens", false), int64(u.OutputTokens), 10)
	return append(b, '}')
}
