package runner

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/store"
)

// A step (or the engine around it) that panics is a bug. It must neither kill the server nor,
// since the event stays queued until a turn commits, kill it again at every restart. Each event
// is handled under recover: a panic stops the batch with nothing written, the events before
// the bad one are committed as usual, and the bad one is then consumed by failing its run with
// reason internal_error (the stack goes to the log). The conversation goes on: its next message
// starts or continues a run as if nothing happened.

// crash is a panic while handling one event of a batch.
type crash struct {
	index int    // of the event in the batch
	seq   int64  // the event's sequence number
	kind  string // the event's kind
	value any
	stack []byte
	// run is the active run as the crashed attempt left it (nil without one): the step it was
	// in, or the run the event had just started.
	run *engine.RunState
}

func (c *crash) Error() string {
	return fmt.Sprintf("handling the %s event %d crashed: %v", c.kind, c.seq, c.value)
}

// processEvent runs the engine on one event, turning a panic into a *crash.
func (r *Runner) processEvent(in *engine.Input) (out *engine.Output, c *crash) {
	defer func() {
		if v := recover(); v != nil {
			c = &crash{value: v, stack: debug.Stack()}
			if in.State != nil && in.State.Run != nil {
				run := *in.State.Run
				c.run = &run
			}
		}
	}()
	return r.step(in), nil
}

// abort consumes the first event of b, whose handling crashed as c says: the conversation's
// run fails with reason internal_error and the event is dropped. Should failing the run crash
// too, the event is dropped with the state left as it was. Either way the event is done.
func (r *Runner) abort(b *store.Batch, c *crash) (*store.Changes, error) {
	ev := &b.Events[0]
	step, runID := "", ""
	if c.run != nil {
		step, runID = c.run.Step, c.run.ID
	}
	msg := "an internal error (a bug in Tandem) stopped the run; the server log has the details"
	if step != "" {
		msg = fmt.Sprintf("step %q: %s", step, msg)
	}
	r.log.Error("handling an event crashed: its run fails with internal_error and the conversation goes on",
		"conversation", b.Conversation.ID, "event", ev.Kind, "seq", ev.Seq, "run", runID, "step", step,
		"panic", r.maskSecrets(fmt.Sprint(c.value)), "stack", string(c.stack))
	st, err := decodeState(b)
	if err != nil {
		return nil, err
	}
	now := r.cfg.Clock.Now()
	in := &engine.Input{Now: now, Conversation: b.Conversation, Contact: b.Contact, State: st, Event: ev}
	out, c2 := func() (out *engine.Output, c2 *crash) {
		defer func() {
			if v := recover(); v != nil {
				c2 = &crash{value: v, stack: debug.Stack()}
			}
		}()
		return r.env.Abort(in, c.run, tandem.ReasonInternalError, msg), nil
	}()
	if c2 != nil {
		r.log.Error("failing the crashed run crashed too: the event is dropped and the conversation's state kept as it was",
			"conversation", b.Conversation.ID, "seq", ev.Seq, "panic", r.maskSecrets(fmt.Sprint(c2.value)), "stack", string(c2.stack))
		st, err = decodeState(b)
		if err != nil {
			return nil, err
		}
		out = &engine.Output{}
	}
	ch := &store.Changes{Conversation: b.Conversation, DoneSeq: ev.Seq}
	contactChanged := addOutput(ch, out)
	return r.changes(b, st, ch, now, contactChanged)
}

// maskSecrets hides the workspace's secrets in a text bound for the log.
func (r *Runner) maskSecrets(s string) string {
	for _, v := range r.env.Secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	return s
}

// safely runs fn, turning a panic into an error (logged with its stack): a bug in a worker
// fails that piece of work, never the process.
func (r *Runner) safely(what string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error(what+" crashed", "panic", r.maskSecrets(fmt.Sprint(v)), "stack", string(debug.Stack()))
			err = fmt.Errorf("%s crashed: %v", what, v)
		}
	}()
	return fn()
}
