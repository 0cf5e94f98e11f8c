// Package runner is the loop around the engine: it stores inbound events, processes each
// conversation's events one at a time in order (load → engine → commit state, outbox and
// timers in one transaction), and runs the workers that carry out effects and fire timers,
// feeding their results back as events.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/store"
)

// HTTPDoer performs HTTP requests: an *http.Client (guarded by internal/safehttp), or a mock.
type HTTPDoer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Config wires a runner.
type Config struct {
	DB     *store.DB
	Env    *engine.Env
	Clock  tandem.Clock
	Logger *slog.Logger
	// Channel returns the channel a conversation's messages go out on, by channel id.
	Channel func(id string) (tandem.Channel, bool)
	// HTTP carries out http effects.
	HTTP HTTPDoer
	// Provider and Desk look up AI providers and human desks by id.
	Provider func(id string) (tandem.Provider, bool)
	Desk     func(id string) (tandem.Desk, bool)
	// Knowledge answers the agent's knowledge searches.
	Knowledge tandem.Knowledge
	// Sleep waits between retries inside one effect; nil sleeps for real. Tests pass a no-op:
	// with a virtual clock, calls complete at the instant they are made.
	Sleep func(ctx context.Context, d time.Duration) error
	// Observer receives measurements; nil ignores them.
	Observer Observer
	// Notify is called after a conversation's new messages are committed (long-polls wake).
	Notify func(conversationID string)
	// Workers bounds concurrent effect executions and conversation processing (default 64).
	Workers int
	// Poll is how often workers look for work that another process queued (default 1s).
	Poll time.Duration
	// SendMaxAge is how long a failing send is retried before it is given up (default 24h).
	SendMaxAge time.Duration
	// ClaimLease is how long an effect claimed by this runner stays reserved without a
	// heartbeat (default 6s): the heartbeat renews it every Heartbeat (default a sixth of it)
	// while the work runs, so a runner that dies leaves its work to others after ClaimLease.
	ClaimLease time.Duration
	Heartbeat  time.Duration
}

// Observer receives the runner's measurements (metrics).
type Observer interface {
	Turn(d time.Duration, events int)
	Step(typ string, d time.Duration)
	Effect(kind string, ok bool, d time.Duration)
	TimerLate(d time.Duration)
	RunEnded(status, reason string)
	// AICall reports one AI call (retries and fallback included) with its tokens; kind is
	// "ok" or the kind of failure (rate_limited, timeout, auth, server_error, error).
	AICall(provider, kind string, d time.Duration, usage tandem.Usage)
}

type nopObserver struct{}

func (nopObserver) Turn(time.Duration, int)                            {}
func (nopObserver) Step(string, time.Duration)                         {}
func (nopObserver) Effect(string, bool, time.Duration)                 {}
func (nopObserver) TimerLate(time.Duration)                            {}
func (nopObserver) RunEnded(string, string)                            {}
func (nopObserver) AICall(string, string, time.Duration, tandem.Usage) {}

// Runner processes conversations.
type Runner struct {
	cfg   Config
	db    *store.DB
	env   engine.Env
	flows *flowCache
	log   *slog.Logger
	obs   Observer

	mu    sync.Mutex
	slots map[string]*slot
	// calling holds, by conversation, the turn waiting on an early call (early.go): the
	// conversation's next events wait for it.
	calling map[string]chan struct{}
	// earlyCalls are the early calls handed over to the outbox.
	earlyCalls earlyCalls
	// slotsPeak is the most slots held since the map was last made.
	slotsPeak int
	started   bool
	stopped   bool
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	// convs processes busy conversations, effects carries out effects: each on at most
	// Workers goroutines, whatever the backlog.
	convs   *pool
	effects *pool
	// esem bounds the effects carried out at once, by the pool and by the outbox loop.
	esem chan struct{}
	// stopC is closed when Stop begins.
	stopC    chan struct{}
	stopOnce sync.Once
	wakeOut  chan struct{}
	wakeTim  chan struct{}
	// timerWakeAt is when the timer loop, idle, looks at the timers next (Unix nanoseconds of
	// the clock; 0 while it is awake): a commit wakes it only for a timer due before then.
	timerWakeAt atomic.Int64
	// flushDue says that flushSoon's timer will write the completions waiting in memory.
	flushDue bool
	// step handles one event: the engine (tests wrap it to make it crash).
	step func(*engine.Input) *engine.Output
	// id names this runner in the claims it holds on outbox rows.
	id string
	// beatStop ends the heartbeat, which closes beatDone.
	beatStop, beatDone chan struct{}
}

type slot struct{ again bool }

// New returns a runner; Start launches its workers, or Drain runs them synchronously.
func New(cfg Config) *Runner {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.SendMaxAge <= 0 {
		cfg.SendMaxAge = 24 * time.Hour
	}
	if cfg.ClaimLease <= 0 {
		cfg.ClaimLease = defaultClaimLease
	}
	if cfg.Heartbeat <= 0 || cfg.Heartbeat >= cfg.ClaimLease {
		cfg.Heartbeat = cfg.ClaimLease / 6
	}
	if cfg.Sleep == nil {
		cfg.Sleep = safehttp.Sleep
	}
	r := &Runner{cfg: cfg, db: cfg.DB, log: cfg.Logger, obs: cfg.Observer, slots: map[string]*slot{}, calling: map[string]chan struct{}{},
		esem: make(chan struct{}, cfg.Workers), stopC: make(chan struct{}), wakeOut: make(chan struct{}, 1), wakeTim: make(chan struct{}, 1)}
	if r.obs == nil {
		r.obs = nopObserver{}
	}
	r.convs, r.effects = newPool(cfg.Workers, &r.wg), newPool(cfg.Workers, &r.wg)
	r.flows = newFlowCache(cfg.DB)
	r.env = *cfg.Env
	if r.env.Caps == nil && cfg.Channel != nil {
		// Capabilities come from the channels themselves.
		r.env.Caps = func(id string) tandem.Caps {
			if ch, ok := cfg.Channel(id); ok {
				return ch.Caps()
			}
			return channel.DefaultCaps
		}
	}
	r.env.Flows = r.flows
	if r.env.NewID == nil {
		r.env.NewID = NewID
	}
	r.step = r.env.Process
	r.id = NewID()
	return r
}

// NewID returns a new sortable unique id.
func NewID() string { return ulid.Make().String() }

// Env returns the engine environment the runner uses.
func (r *Runner) Env() *engine.Env { return &r.env }

// DB returns the runner's database.
func (r *Runner) DB() *store.DB { return r.db }

// LoadFlows loads the newest published versions from the database.
func (r *Runner) LoadFlows(ctx context.Context) error { return r.flows.refresh(ctx) }

// Publish stores f as a new published version (unless it equals the latest) and makes it the
// version new runs start on. Running conversations keep the version they started on.
func (r *Runner) Publish(ctx context.Context, f *flow.Flow, format string) (version int, created bool, err error) {
	name := f.Name
	version, created, err = r.db.FlowPublish(ctx, f.ID, name, string(f.Source), format, f.Hash, r.cfg.Clock.Now())
	if err != nil {
		return 0, false, err
	}
	pub := *f
	pub.Version = version
	r.flows.setLatest(&pub)
	return version, created, nil
}

// Unpublish forgets a deleted flow for new runs.
func (r *Runner) Unpublish(id string) { r.flows.remove(id) }

// Inbound stores a customer message durably, then processes its conversation.
func (r *Runner) Inbound(ctx context.Context, p store.InboundParams) (store.InboundResult, error) {
	if p.Now.IsZero() {
		p.Now = r.cfg.Clock.Now()
	}
	if p.NewID == nil {
		p.NewID = r.env.NewID
	}
	var t *directTurn
	if p.Direct == nil && r.running() && p.Contact.ExternalID != "" && !tandem.Quiet(p.Message.Type) {
		// In an open conversation, the message's turn is committed with the message.
		if id := r.db.ConversationOf(p.ChannelID, p.Contact.ExternalID); id != "" {
			if p.Message.ID == "" {
				p.Message.ID = p.NewID()
			}
			m := store.InboundMessage(p.Message, id, p.Now)
			t = r.direct(ctx, &tandem.Event{ConversationID: id, Kind: tandem.EventMessage, At: p.Now, Message: &m})
			p.Direct = t.store()
			defer r.unhold(t)
		}
	}
	res, err := r.db.Inbound(ctx, p)
	if err != nil {
		return res, err
	}
	if !res.Duplicate && !r.done(res.ConversationID, t) {
		r.Kick(res.ConversationID)
	}
	return res, nil
}

// Enqueue queues an event for a conversation and processes it.
func (r *Runner) Enqueue(ctx context.Context, ev tandem.Event) error {
	if ev.At.IsZero() {
		ev.At = r.cfg.Clock.Now()
	}
	if err := r.db.Enqueue(ctx, ev); err != nil {
		return err
	}
	r.Kick(ev.ConversationID)
	return nil
}

// running reports whether the background workers run.
func (r *Runner) running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started && !r.stopped
}

// dispatch carries out claimed effects in the background.
func (r *Runner) dispatch(items []store.OutboxItem) {
	for i := range items {
		it := items[i]
		r.effects.submit(func() {
			r.esem <- struct{}{}
			defer func() { <-r.esem }()
			r.execute(r.ctx, &it)
		})
	}
}

// Kick makes sure a conversation's queued events get processed. With workers started it
// processes them in the background, on at most Workers goroutines (a conversation waiting for
// one is a queued entry, not a goroutine); before Start (or in Drain mode) it does nothing:
// Drain finds queued events itself.
func (r *Runner) Kick(id string) {
	r.mu.Lock()
	if !r.started || r.stopped {
		r.mu.Unlock()
		return
	}
	if s, ok := r.slots[id]; ok {
		s.again = true
		r.mu.Unlock()
		return
	}
	s := &slot{}
	r.slots[id] = s
	r.slotsPeak = max(r.slotsPeak, len(r.slots))
	r.mu.Unlock()
	r.convs.submit(func() {
		for {
			if err := r.safely("conversation processing", func() error { return r.process(r.ctx, id) }); err != nil && !errors.Is(err, context.Canceled) {
				r.log.Error("conversation processing failed; it will be retried", "conversation", id, "err", err)
				// Its events stay queued, and nothing else would look at them before the next
				// event of the conversation or a restart: try again after a poll interval
				// (a Kick after Stop does nothing).
				time.AfterFunc(r.cfg.Poll, func() { r.Kick(id) })
			}
			r.mu.Lock()
			if !s.again {
				delete(r.slots, id)
				if len(r.slots) == 0 && r.slotsPeak > 1024 {
					r.slots, r.slotsPeak = map[string]*slot{}, 0 // a map never shrinks: drop what a burst grew
				}
				r.mu.Unlock()
				return
			}
			s.again = false
			r.mu.Unlock()
		}
	})
}

// batchEvents is how many queued events of a conversation one turn handles at most.
const batchEvents = 16

// process handles every queued event of one conversation.
func (r *Runner) process(ctx context.Context, id string) error {
	limit := batchEvents
	var aborting *crash // an event whose handling crashed, to consume by failing its run
	for {
		start := time.Now()
		var last *store.Changes
		var dues []time.Time
		n, more, err := r.db.Process(ctx, id, limit, func(b *store.Batch) (*store.Changes, error) {
			dues = dues[:0]
			var ch *store.Changes
			var err error
			if aborting != nil && b.Events[0].Seq == aborting.seq {
				ch, err = r.abort(b, aborting)
			} else {
				ch, err = r.handle(b, &dues, nil)
			}
			last = ch
			return ch, err
		})
		var c *crash
		if errors.As(err, &c) {
			// Nothing was written. The events before the crashed one are committed first (a
			// smaller batch); then, first in its batch, the crashed one is aborted.
			if c.index > 0 {
				limit = c.index
			} else {
				limit, aborting = 1, c
			}
			continue
		}
		limit, aborting = batchEvents, nil
		if err != nil {
			return err
		}
		if n > 0 && last != nil {
			r.committed(id, last, dues, start, n)
		}
		if !more {
			return nil
		}
	}
}

// committed does what follows a committed turn of n events: the effects claimed with the
// commit are carried out, the workers woken for the others and for new timers, the turn
// observed, and what follows the conversation (long-polls, streams, the inbox) notified.
func (r *Runner) committed(id string, ch *store.Changes, dues []time.Time, start time.Time, n int) {
	effects := len(ch.Effects) > ch.InlineSent
	if len(ch.Claimed) > 0 {
		// The effects first in their lane were claimed with the commit: carry them out now,
		// with no claim of their own and no wait for the outbox poll.
		r.dispatch(ch.Claimed)
		effects = len(ch.Claimed)+ch.InlineSent < len(ch.Effects)
	}
	// Observed only for the attempt that committed: a conflict runs the batch again.
	r.observe(ch, dues)
	for range ch.InlineSent {
		r.obs.Effect(tandem.EffectSend, true, 0) // sent by the commit itself
	}
	r.obs.Turn(time.Since(start), n)
	if r.cfg.Notify != nil {
		// Messages, status, assignee: whatever changed, long-polls and the inbox's event
		// stream look again now rather than at their next poll.
		r.cfg.Notify(id)
	}
	if effects || ch.LaneFreed {
		wake(r.wakeOut)
	}
	if len(ch.Timers) > 0 {
		r.timerSet(ch.Timers)
	}
}

// timerSet wakes the timer loop for timers just committed that are due before it looks next:
// most timers a turn sets (a question's timeout) are due long after, and waking the loop for
// each would cost two reads a turn.
func (r *Runner) timerSet(timers []tandem.Timer) {
	at := r.timerWakeAt.Load()
	for _, t := range timers {
		if at == 0 || t.Due.UnixNano() < at {
			wake(r.wakeTim)
			return
		}
	}
}

// observe reports the committed changes of one batch to the observer.
// A fired timer's lateness is taken at the commit, when its conversation moves on.
func (r *Runner) observe(ch *store.Changes, dues []time.Time) {
	if len(dues) > 0 {
		now := r.cfg.Clock.Now()
		for _, due := range dues {
			r.obs.TimerLate(now.Sub(due))
		}
	}
	for _, t := range ch.Trace {
		r.obs.Step(t.Type, time.Duration(t.DurationUS)*time.Microsecond)
	}
	for _, run := range ch.Runs {
		if tandem.Terminal(run.Status) {
			r.obs.RunEnded(run.Status, run.Reason)
		}
	}
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// handle runs the engine over a batch of events.
// The due times of the timers it fires are appended to dues; the caller reports their lateness
// (at the commit), with the steps and ended runs, once the changes are committed. An event whose handling panics stops
// the batch with a *crash error and nothing to commit (the state may be half-changed); process
// then commits the events before it, and fails the run of that one (abort).
// early, when set, is called after each event with what it produced; an event it returns (an
// early call's answer) is handled next, in the same turn.
func (r *Runner) handle(b *store.Batch, dues *[]time.Time, early func(*engine.Output, *store.Changes) *tandem.Event) (*store.Changes, error) {
	st, err := decodeState(b)
	if err != nil {
		return nil, err
	}
	ch := &store.Changes{Conversation: b.Conversation}
	contactChanged := false
	now := r.cfg.Clock.Now()
	for i := 0; i < len(b.Events); i++ {
		ev := &b.Events[i]
		now = r.cfg.Clock.Now()
		if ev.Kind == tandem.EventTimer && ev.Timer != nil {
			*dues = append(*dues, ev.Timer.Due)
		}
		out, c := r.processEvent(&engine.Input{Now: now, Conversation: b.Conversation, Contact: b.Contact, State: st, Event: ev})
		if c != nil {
			c.index, c.seq, c.kind = i, ev.Seq, ev.Kind
			return nil, c
		}
		contactChanged = addOutput(ch, out) || contactChanged
		ch.DoneSeq = ev.Seq
		if early != nil {
			if next := early(out, ch); next != nil {
				next.Seq = ev.Seq
				b.Events = append(b.Events, *next)
			}
		}
	}
	return r.changes(b, st, ch, now, contactChanged)
}

// decodeState returns the batch's state: as the last turn this process committed left it
// (taken: a second call decodes it afresh), or decoded from its JSON.
func decodeState(b *store.Batch) (*engine.State, error) {
	if st, ok := b.Decoded.(*engine.State); ok && st != nil {
		b.Decoded = nil
		return st, nil
	}
	st := &engine.State{}
	if len(b.State) > 2 {
		if err := json.Unmarshal(b.State, st); err != nil {
			return nil, fmt.Errorf("conversation %s: state: %w", b.Conversation.ID, err)
		}
	}
	return st, nil
}

// addOutput adds what one event produced to a batch's changes, and reports whether the contact
// changed.
func addOutput(ch *store.Changes, out *engine.Output) bool {
	ch.Effects = append(ch.Effects, out.Effects...)
	ch.Timers = append(ch.Timers, out.Timers...)
	ch.CancelTimers = append(ch.CancelTimers, out.CancelTimers...)
	ch.Runs = append(ch.Runs, out.Runs...)
	ch.Trace = append(ch.Trace, out.Trace...)
	ch.Notes = append(ch.Notes, out.Notes...)
	ch.AICalls = append(ch.AICalls, out.AICalls...)
	ch.Handoffs = append(ch.Handoffs, out.Handoffs...)
	return out.ContactChanged
}

// changes completes a batch's changes with the new state: timers set and canceled within the
// batch dropped, one snapshot per run, the lease of the effects claimed with the commit.
func (r *Runner) changes(b *store.Batch, st *engine.State, ch *store.Changes, now time.Time, contactChanged bool) (*store.Changes, error) {
	// A timer set and canceled within the batch never needs a row.
	if len(ch.CancelTimers) > 0 && len(ch.Timers) > 0 {
		canceled := map[string]bool{}
		for _, id := range ch.CancelTimers {
			canceled[id] = true
		}
		kept := ch.Timers[:0]
		for _, t := range ch.Timers {
			if canceled[t.ID] {
				delete(canceled, t.ID)
				continue
			}
			kept = append(kept, t)
		}
		ch.Timers = kept
		ch.CancelTimers = ch.CancelTimers[:0]
		for id := range canceled {
			ch.CancelTimers = append(ch.CancelTimers, id)
		}
	}
	// Keep only the last snapshot of each run.
	if len(ch.Runs) > 1 {
		last := map[string]int{}
		for i, run := range ch.Runs {
			last[run.ID] = i
		}
		kept := ch.Runs[:0]
		for i, run := range ch.Runs {
			if last[run.ID] == i {
				kept = append(kept, run)
			}
		}
		ch.Runs = kept
	}
	b.Conversation.UpdatedAt = now
	if contactChanged {
		b.Contact.UpdatedAt = now
		ch.Contact = b.Contact
	}
	state, err := stateJSON(st)
	if err != nil {
		return nil, fmt.Errorf("conversation %s: state: %w", b.Conversation.ID, err)
	}
	ch.State, ch.Decoded = state, st
	if r.cfg.Channel != nil {
		if c, ok := r.cfg.Channel(b.Conversation.ChannelID); ok {
			if is, ok := c.(tandem.InlineSender); ok && is.SendsInline() {
				ch.InlineSends = true // the commit completes its sends
			}
		}
	}
	if r.running() {
		// With the workers running, effects first in their lane are claimed by the commit and
		// carried out at once (Drain claims them one at a time instead, deterministically).
		ch.Claim = r.claim(now)
	}
	if st.Run != nil {
		ch.RunID, ch.RunStatus = st.Run.ID, st.Run.Status
	} else if st.Last != nil {
		ch.RunID, ch.RunStatus = st.Last.ID, st.Last.Status
	}
	if st.Handoff != nil {
		ch.Handoff = st.Handoff.Status
	}
	return ch, nil
}

// State decodes a conversation's engine state.
func State(info *store.ConversationInfo) (*engine.State, error) {
	st := &engine.State{}
	if len(info.State) > 2 {
		if err := json.Unmarshal(info.State, st); err != nil {
			return nil, err
		}
	}
	return st, nil
}
