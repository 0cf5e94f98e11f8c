// Package engine is Tandem's step machine: given a conversation's state and one event, it
// computes the new state and the effects to carry out (messages to send, calls to make, timers
// to set). It is pure: no I/O, no goroutines, no clock — time comes in with the event, and
// everything outside is reached through effects whose results come back as events.
package engine

import (
	"fmt"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/schedule"
)

// Flows gives the engine published flow versions. Versions are immutable.
type Flows interface {
	// Version returns one published version of a flow.
	Version(id string, version int) (*flow.Flow, error)
	// Latest returns the newest published version of a flow.
	Latest(id string) (*flow.Flow, error)
	// Triggerable returns the newest published version of every flow, for trigger matching.
	Triggerable() []*flow.Flow
}

// DeskInfo is what the engine knows of a desk without calling it.
type DeskInfo struct {
	NeedsEmail bool
}

// Env is the workspace the engine runs in. It is read-only during a turn.
type Env struct {
	Flows     Flows
	Schedules map[string]*schedule.Schedule
	// Location is the workspace time zone (now.*); Language its default language.
	Location *time.Location
	Language string
	// Region is the default phone region (ISO 3166 alpha-2) for phone answers.
	Region  string
	Secrets map[string]string
	// DefaultProvider is used by AI steps that name none.
	DefaultProvider string
	Desks           map[string]DeskInfo
	// Handoff defaults.
	HandoffWait    time.Duration
	HandoffSession time.Duration
	TransferRounds int
	// Caps returns what the channel of a conversation can render, by channel id (nil: what the
	// API channel renders). The runner sets it from its channels.
	Caps func(channelID string) tandem.Caps
	// NewID returns a fresh unique id.
	NewID func() string
}

// Input is one event for one conversation, with what the engine needs to handle it.
type Input struct {
	Now          time.Time
	Conversation *tandem.Conversation
	Contact      *tandem.Contact
	State        *State
	Event        *tandem.Event
}

// Output is what handling an event produced. Conversation, Contact and State of the Input are
// updated in place.
type Output struct {
	Effects      []tandem.Effect
	Timers       []tandem.Timer
	CancelTimers []string
	// Runs are snapshots of every run created or changed.
	Runs  []tandem.Run
	Trace []tandem.StepTrace
	Notes []tandem.Note
	// AICalls are the AI provider calls whose results the event brought; Handoffs the
	// handoffs it queued or changed (their latest state). Flow analytics count them.
	AICalls  []tandem.AICall
	Handoffs []tandem.HandoffRecord
	// ContactChanged and ConversationChanged say what must be written back.
	ContactChanged      bool
	ConversationChanged bool
}

// Process handles one event. It never fails: problems end the run with a recorded reason.
func (e *Env) Process(in *Input) *Output {
	c := newCursor(e, in)
	ev := in.Event
	switch ev.Kind {
	case tandem.EventMessage:
		c.inbound(ev.Message)
	case tandem.EventTimer:
		c.timer(ev.Timer)
	case tandem.EventResult:
		c.result(ev.Result)
	case tandem.EventStart:
		c.startEvent(ev.Start)
	case tandem.EventAgent:
		c.agent(ev.Agent)
	case tandem.EventUserClose:
		c.userClose()
	case tandem.EventResumeBot:
		c.resumeBot()
	case tandem.EventDelivery:
		c.delivery(ev.Delivery)
	default:
		c.trace(nil, "", map[string]any{"event": ev.Kind}, nil, fmt.Sprintf("unknown event kind %q ignored", ev.Kind))
	}
	in.State.Started = true
	return c.finish()
}

// Abort ends the conversation's active run as failed with reason and errText in place of
// handling in.Event, which is dropped: the runner calls it when handling the event crashed (a
// bug), so that the event is consumed once and the conversation goes on. crashed, when set, is
// the run as the crashed attempt left it: its step is where the run failed, and it is recorded
// failed when the conversation had no active run (the event started it). Messages pending in
// the state stay pending.
func (e *Env) Abort(in *Input, crashed *RunState, reason, errText string) *Output {
	c := newCursor(e, in)
	if crashed != nil && crashed.ID != "" {
		switch r := c.st.Run; {
		case r == nil:
			run := *crashed
			run.Wait = nil // its timer was never stored
			c.st.Run = &run
		case r.ID == crashed.ID && crashed.Step != "":
			r.Step = crashed.Step
		}
	}
	if r := c.st.Run; r != nil {
		var s *flow.Step
		if f := c.flow(); f != nil {
			s = f.Step(r.Step)
		}
		c.trace(s, reason, map[string]any{"event": in.Event.Kind}, nil, errText)
		c.endRun(tandem.RunFailed, reason, errText)
	} else {
		c.trace(nil, reason, map[string]any{"event": in.Event.Kind}, nil, errText)
	}
	in.State.Started = true
	return c.finish()
}
