package store

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/jsonenc"
)

// encoded is the JSON a turn's commit writes, made before the write: on SQLite the single
// writer then only writes (the trace, the effects, the messages and the run were ~8 % of its
// time), and a commit run again after a rolled-back batch does not encode twice.
type encoded struct {
	conv, state string
	// effects is each effect's outbox data ("" for a notification), msgs each send's message
	// data, by effect index.
	effects, msgs []string
	runs          []string
	// trace is each trace row's data column, traceRows the rows (see traceRowsOf).
	trace     []string
	traceRows []tandem.StepTrace
	// inbound is the data of the customer message committed with the turn (Direct), if any.
	inbound string
}

// encode makes ch's JSON for a commit in conversation convID (Changes.enc). It completes the
// turn's sends as they are stored (their conversation, author, type, time).
func (db *DB) encode(convID string, ch *Changes) {
	if ch.Conversation == nil {
		return // Process and applyDirect set it first
	}
	e := &encoded{state: string(ch.State)}
	e.conv = convJSON(ch.Conversation)
	if len(ch.Effects) > 0 {
		e.effects, e.msgs = make([]string, len(ch.Effects)), make([]string, len(ch.Effects))
		for i := range ch.Effects {
			ef := &ch.Effects[i]
			switch ef.Kind {
			case tandem.EffectNotify:
				continue
			case tandem.EffectSend:
				if ef.Send == nil {
					continue // insertEffects refuses it
				}
				m := storedSend(convID, ef, ch.Conversation.UpdatedAt)
				c := *ef
				c.Send = &m
				*ef = c
				e.msgs[i] = messageDataJSON(&m)
			}
			e.effects[i] = db.effectData(convID, ef)
		}
	}
	for _, r := range ch.Runs {
		e.runs = append(e.runs, runJSON(&r))
	}
	e.traceRows, e.trace = traceRowsOf(ch.Trace)
	ch.enc = e
}

// stepsRow is the type of a trace row that holds several steps of a run (stepsJSON).
const stepsRow = "+steps"

// traceRowsOf makes the rows that store a turn's trace: the consecutive steps of one run go in
// one row (type stepsRow, the first step's seq, its data the steps), a run's lone step in a row
// of its own. A turn's steps were a row each: six rows a W1 turn, each an insert in the
// run_steps B-tree, for ~200 bytes.
func traceRowsOf(trace []tandem.StepTrace) (rows []tandem.StepTrace, data []string) {
	for len(trace) > 0 {
		n := 1
		for n < len(trace) && trace[n].RunID == trace[0].RunID && trace[n].Seq > trace[n-1].Seq {
			n++
		}
		if n == 1 {
			rows, data = append(rows, trace[0]), append(data, traceJSON(&trace[0]))
		} else {
			row := trace[0]
			row.Type = stepsRow
			rows, data = append(rows, row), append(data, stepsJSON(trace[:n]))
		}
		trace = trace[n:]
	}
	return rows, data
}

// traceStep is a step in a row of several (stepsRow).
type traceStep struct {
	Seq        int            `json:"seq"`
	Step       string         `json:"step"`
	Type       string         `json:"type"`
	StartedAt  int64          `json:"started_at"` // Unix microseconds, as the started_at column
	DurationUS int64          `json:"duration_us,omitempty"`
	Input      map[string]any `json:"input,omitempty"`
	Output     map[string]any `json:"output,omitempty"`
	Next       string         `json:"next,omitempty"`
	Error      string         `json:"error,omitempty"`
	Flow       string         `json:"flow,omitempty"`
}

// stepsJSON is the data column of a row of several steps: json.Marshal of the steps as
// traceStep, written by hand (jsonenc).
func stepsJSON(trace []tandem.StepTrace) string {
	return encodeWith(func(b []byte) ([]byte, error) {
		b = append(b, '[')
		for i := range trace {
			t := &trace[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(jsonenc.Key(append(b, '{'), "seq", true), int64(t.Seq), 10)
			b = jsonenc.String(jsonenc.Key(b, "step", false), t.Step)
			b = jsonenc.String(jsonenc.Key(b, "type", false), t.Type)
			b = strconv.AppendInt(jsonenc.Key(b, "started_at", false), micros(t.StartedAt), 10)
			if t.DurationUS != 0 {
				b = strconv.AppendInt(jsonenc.Key(b, "duration_us", false), t.DurationUS, 10)
			}
			var err error
			if b, err = appendTraceTail(b, t, false); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}, func() any { return traceSteps(trace) })
}

// traceSteps is what stepsJSON writes, for encoding/json.
func traceSteps(trace []tandem.StepTrace) []traceStep {
	steps := make([]traceStep, len(trace))
	for i, t := range trace {
		steps[i] = traceStep{Seq: t.Seq, Step: t.Step, Type: t.Type, StartedAt: micros(t.StartedAt), DurationUS: t.DurationUS,
			Input: t.Input, Output: t.Output, Next: t.Next, Error: t.Error, Flow: t.FlowID}
	}
	return steps
}

// appendTraceTail writes a trace step's input, output, next step, error and flow, and the
// object's closing brace.
func appendTraceTail(b []byte, t *tandem.StepTrace, first bool) ([]byte, error) {
	var err error
	if len(t.Input) > 0 {
		if b, err = jsonenc.Map(jsonenc.Key(b, "input", first), t.Input); err != nil {
			return b, err
		}
		first = false
	}
	if len(t.Output) > 0 {
		if b, err = jsonenc.Map(jsonenc.Key(b, "output", first), t.Output); err != nil {
			return b, err
		}
		first = false
	}
	if t.Next != "" {
		b = jsonenc.String(jsonenc.Key(b, "next", first), t.Next)
		first = false
	}
	if t.Error != "" {
		b = jsonenc.String(jsonenc.Key(b, "error", first), t.Error)
		first = false
	}
	if t.FlowID != "" {
		b = jsonenc.String(jsonenc.Key(b, "flow", first), t.FlowID)
	}
	return append(b, '}'), nil
}

// encodeWith returns the JSON write makes, or, when it fails, encoding/json's of value() (""
// when that fails too, as before the JSON was written by hand).
func encodeWith(write func([]byte) ([]byte, error), value func() any) string {
	buf := encodeBufs.Get().(*[]byte)
	defer encodeBufs.Put(buf)
	b, err := write((*buf)[:0])
	*buf = b[:0]
	if err != nil {
		data, _ := json.Marshal(value())
		return string(data)
	}
	return string(b)
}

// encodeBufs holds the buffers encodeWith writes in.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// storedSend is a send's message as it is stored: in its conversation, the bot's, a text unless
// said otherwise, made at now unless it says when.
func storedSend(convID string, e *tandem.Effect, now time.Time) tandem.Message {
	m := *e.Send
	m.ConversationID = convID
	if m.ID == "" {
		m.ID = e.ID
	}
	if m.Direction == "" {
		m.Direction = tandem.DirectionOut
	}
	if m.Author == "" {
		m.Author = tandem.AuthorBot
	}
	if m.Type == "" {
		m.Type = tandem.MessageText
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	return m
}

// runJSON is a run's data column: json.Marshal of runData, written by hand.
func runJSON(r *tandem.Run) string {
	return encodeWith(func(b []byte) ([]byte, error) {
		u := r.Usage
		b = append(jsonenc.Key(append(b, '{'), "usage", true), '{')
		b = strconv.AppendInt(jsonenc.Key(b, "calls", true), int64(u.Calls), 10)
		b = strconv.AppendInt(jsonenc.Key(b, "input_tokens", false), int64(u.InputTokens), 10)
		b = strconv.AppendInt(jsonenc.Key(b, "output_tokens", false), int64(u.OutputTokens), 10)
		b = append(b, '}')
		if len(r.Path) > 0 {
			b = jsonenc.Strings(jsonenc.Key(b, "path", false), r.Path)
		}
		if r.At != "" {
			b = jsonenc.String(jsonenc.Key(b, "at", false), r.At)
		}
		return append(b, '}'), nil
	}, func() any { return runData{Usage: r.Usage, Path: r.Path, At: r.At} })
}

// traceJSON is a trace row's data column: json.Marshal of its input, output, next step, error
// and flow, written by hand.
func traceJSON(t *tandem.StepTrace) string {
	return encodeWith(func(b []byte) ([]byte, error) {
		return appendTraceTail(append(b, '{'), t, true)
	}, func() any {
		return struct {
			Input  map[string]any `json:"input,omitempty"`
			Output map[string]any `json:"output,omitempty"`
			Next   string         `json:"next,omitempty"`
			Error  string         `json:"error,omitempty"`
			Flow   string         `json:"flow,omitempty"`
		}{t.Input, t.Output, t.Next, t.Error, t.FlowID}
	})
}

// convJSON is a conversation's data column: json.Marshal of convDataOf(c), written by hand.
func convJSON(c *tandem.Conversation) string {
	if len(c.Attributes) == 0 && len(c.Tags) == 0 && len(c.Variables) == 0 {
		return "{}"
	}
	return encodeWith(func(b []byte) ([]byte, error) {
		b = append(b, '{')
		first := true
		var err error
		if len(c.Attributes) > 0 {
			if b, err = jsonenc.Map(jsonenc.Key(b, "attributes", first), c.Attributes); err != nil {
				return b, err
			}
			first = false
		}
		if len(c.Tags) > 0 {
			b = jsonenc.Strings(jsonenc.Key(b, "tags", first), c.Tags)
			first = false
		}
		if len(c.Variables) > 0 {
			if b, err = jsonenc.Map(jsonenc.Key(b, "variables", first), c.Variables); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}, func() any { return convDataOf(c) })
}

// messageDataJSON is a message's data column: json.Marshal of dataOf(m), written by hand (its
// rarer parts through encoding/json).
func messageDataJSON(m *tandem.Message) string {
	if len(m.Buttons) == 0 && m.Render == "" && m.Media == nil && m.Location == nil && m.Option == "" && m.AgentID == "" &&
		len(m.Contacts) == 0 && m.Reaction == "" && m.RefersTo == "" && len(m.Data) == 0 && m.Template == nil {
		return "{}"
	}
	return encodeWith(func(b []byte) ([]byte, error) {
		b = append(b, '{')
		first := true
		var err error
		key := func(name string) {
			b = jsonenc.Key(b, name, first)
			first = false
		}
		if len(m.Buttons) > 0 {
			key("buttons")
			if b, err = jsonenc.Marshal(b, m.Buttons); err != nil {
				return b, err
			}
		}
		if m.Render != "" {
			key("render")
			b = jsonenc.String(b, m.Render)
		}
		if m.Media != nil {
			key("media")
			if b, err = jsonenc.Marshal(b, m.Media); err != nil {
				return b, err
			}
		}
		if m.Location != nil {
			key("location")
			if b, err = jsonenc.Marshal(b, m.Location); err != nil {
				return b, err
			}
		}
		if m.Option != "" {
			key("option")
			b = jsonenc.String(b, m.Option)
		}
		if m.AgentID != "" {
			key("agent")
			b = jsonenc.String(b, m.AgentID)
		}
		if len(m.Contacts) > 0 {
			key("contacts")
			if b, err = jsonenc.Marshal(b, m.Contacts); err != nil {
				return b, err
			}
		}
		if m.Reaction != "" {
			key("reaction")
			b = jsonenc.String(b, m.Reaction)
		}
		if m.RefersTo != "" {
			key("refers_to")
			b = jsonenc.String(b, m.RefersTo)
		}
		if len(m.Data) > 0 {
			key("data")
			if b, err = jsonenc.Map(b, m.Data); err != nil {
				return b, err
			}
		}
		if m.Template != nil {
			key("template")
			if b, err = jsonenc.Marshal(b, m.Template); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}, func() any { return dataOf(m) })
}
