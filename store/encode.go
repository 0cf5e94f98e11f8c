package store

import (
	"encoding/json"
	"time"

	"github.com/tandemchat/tandem"
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
	data, _ := json.Marshal(convDataOf(ch.Conversation))
	e.conv = string(data)
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
				data, _ := json.Marshal(dataOf(&m))
				e.msgs[i] = string(data)
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

// stepsJSON is the data column of a row of several steps.
func stepsJSON(trace []tandem.StepTrace) string {
	steps := make([]traceStep, len(trace))
	for i, t := range trace {
		steps[i] = traceStep{Seq: t.Seq, Step: t.Step, Type: t.Type, StartedAt: micros(t.StartedAt), DurationUS: t.DurationUS,
			Input: t.Input, Output: t.Output, Next: t.Next, Error: t.Error, Flow: t.FlowID}
	}
	data, _ := json.Marshal(steps)
	return string(data)
}

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

// runJSON is a run's data column.
func runJSON(r *tandem.Run) string {
	data, _ := json.Marshal(runData{Usage: r.Usage, Path: r.Path, At: r.At})
	return string(data)
}

// traceJSON is a trace row's data column.
func traceJSON(t *tandem.StepTrace) string {
	data, _ := json.Marshal(struct {
		Input  map[string]any `json:"input,omitempty"`
		Output map[string]any `json:"output,omitempty"`
		Next   string         `json:"next,omitempty"`
		Error  string         `json:"error,omitempty"`
		Flow   string         `json:"flow,omitempty"`
	}{t.Input, t.Output, t.Next, t.Error, t.FlowID})
	return string(data)
}
