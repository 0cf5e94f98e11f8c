package runner

import (
	"context"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/store"
)

// An event's turn is computed at its arrival and committed by the write that records the
// arrival (store.Direct): a customer's message, an effect's result, a timer's firing. One write
// instead of two, no event row. When the conversation is busy here, has queued events or
// changed meanwhile, the event is queued as before and processed in its turn.

// directTurn is a turn computed at an event's arrival.
type directTurn struct {
	d     *store.Direct
	dues  []time.Time
	start time.Time
	conv  string
	// earlyOK allows the turn early calls (early.go): a customer's message or an effect's
	// result; not a timer's firing, which the timer loop commits with others.
	earlyOK bool
	// used are the early calls whose answers the turn handles, by how long each took;
	// handed, those handed over to the outbox; held, set while the turn makes the
	// conversation's next events wait.
	used   []time.Duration
	handed map[string]*earlyCall
	held   chan struct{}
}

// direct computes the turn ev causes, or returns nil when the event is to be queued: the
// workers do not run (Drain keeps the queued path, deterministic for tests and `tandem test`),
// the conversation is being processed here, it cannot be read, or handling the event crashed
// (Process then fails its run as usual).
func (r *Runner) direct(ctx context.Context, ev *tandem.Event) *directTurn {
	if !r.running() {
		return nil
	}
	earlyOK := ev.Kind == tandem.EventMessage || ev.Kind == tandem.EventResult
	if earlyOK && !r.waitCalling(ctx, ev.ConversationID) {
		return nil
	}
	r.mu.Lock()
	_, busy := r.slots[ev.ConversationID]
	calling := r.calling[ev.ConversationID] != nil
	r.mu.Unlock()
	if busy || calling {
		return nil
	}
	start := time.Now()
	b, err := r.db.Snapshot(ctx, ev.ConversationID)
	if err != nil {
		return nil
	}
	b.Events = []tandem.Event{*ev}
	t := &directTurn{start: start, conv: ev.ConversationID, earlyOK: earlyOK}
	ch, err := r.handle(b, &t.dues, func(out *engine.Output, ch *store.Changes) *tandem.Event { return r.early(t, out, ch) })
	if err != nil {
		r.unhold(t)
		return nil
	}
	t.d = &store.Direct{Batch: b, Changes: ch}
	return t
}

// store returns the turn for the store's write (nil for none).
func (t *directTurn) store() *store.Direct {
	if t == nil {
		return nil
	}
	return t.d
}

// applied reports that the write committed the turn.
func (t *directTurn) applied() bool { return t != nil && t.d.Applied }

// done does what follows the turn's commit, when the write committed it, and reports whether
// it did.
// The calls the turn handed over go to the outbox first, which the commit may have asked to
// carry out their effects.
func (r *Runner) done(id string, t *directTurn) bool {
	if !t.applied() {
		return false
	}
	for eid, c := range t.handed {
		r.earlyCalls.put(eid, c)
	}
	for _, d := range t.used {
		r.obs.Effect(tandem.EffectHTTP, true, d)
	}
	r.committed(id, t.d.Changes, t.dues, t.start, 1)
	return true
}
