package runner

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
)

// Start launches the background workers: conversations with queued events (left by a previous
// process) are processed, the outbox is carried out and timers fire. Stop ends them.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("runner: already started")
	}
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.started = true
	r.mu.Unlock()
	if r.db.Dialect() == store.SQLite {
		// One process owns a SQLite database: claims of a previous process are void.
		if err := r.db.OutboxReleaseAll(ctx); err != nil {
			return err
		}
	}
	r.wg.Add(3)
	go r.recoverLoop()
	go r.outboxLoop()
	go r.timerLoop()
	r.beatStop, r.beatDone = make(chan struct{}), make(chan struct{})
	go r.heartbeat()
	return nil
}

// claim is what this runner claims outbox rows with at now.
func (r *Runner) claim(now time.Time) store.Claim {
	return store.Claim{Owner: r.id, Until: now.Add(r.cfg.ClaimLease)}
}

// heartbeat renews this runner's claims every Heartbeat until beatStop closes: an effect that
// runs long (a slow HTTP call, a backlog of claimed sends) keeps its claim while this process
// lives, and loses it ClaimLease after the process dies.
func (r *Runner) heartbeat() {
	defer close(r.beatDone)
	t := time.NewTicker(r.cfg.Heartbeat)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-r.beatStop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ClaimLease)
		_, err := r.db.OutboxRenew(ctx, r.claim(r.cfg.Clock.Now()))
		cancel()
		switch {
		case err != nil && !failing:
			r.log.Warn("the claims of the effects in progress cannot be renewed; other replicas may take them over", "err", err)
		case err == nil && failing:
			r.log.Info("the claims of the effects in progress are renewed again")
		}
		failing = err != nil
	}
}

// release ends the heartbeat and frees the claims this runner still holds (work it leaves
// unfinished), so that another process takes them at once rather than when they run out.
func (r *Runner) release() {
	if r.beatStop == nil {
		return // Start failed before the heartbeat began: nothing was claimed
	}
	r.flushLater() // sends carried out are not released to be sent again
	close(r.beatStop)
	<-r.beatDone
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.db.OutboxRelease(ctx, r.id); err != nil {
		r.log.Warn("the claims of unfinished effects cannot be released; other replicas take them over when they run out", "err", err)
	}
}

// Stop stops taking work, waits up to the context's deadline for work in progress (turns being
// processed, effects being carried out) and returns. Nothing is half-done: an unfinished effect
// stays in the outbox and is carried out by the next process.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.started || r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.cancelIdle()
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		r.cancel()
		r.release()
		return nil
	case <-ctx.Done():
		r.cancel()
		<-done
		r.release()
		return ctx.Err()
	}
}

// cancelIdle wakes the loops so they see the stop.
func (r *Runner) cancelIdle() {
	r.stopOnce.Do(func() { close(r.stopC) })
	wake(r.wakeOut)
	wake(r.wakeTim)
}

func (r *Runner) isStopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped
}

// recoverLoop processes every conversation whose events were queued but not processed when the
// previous process stopped.
// Afterwards it sweeps, every little while, for events queued a while ago that nobody processed
// (a replica that accepted them died; a turn that failed until now): on PostgreSQL every second
// for events older than half a claim lease, since another replica may have died; on SQLite,
// which one process owns, every 30 seconds.
func (r *Runner) recoverLoop() {
	defer r.wg.Done()
	every, age := sweepEvery, sweepEvery
	if r.db.Dialect() == store.Postgres {
		every, age = time.Second, r.cfg.ClaimLease/2
	}
	var before time.Time
	for {
		ids, err := r.db.PendingSince(r.ctx, before, 100000)
		if err != nil && !errors.Is(err, context.Canceled) {
			r.log.Error("pending conversations cannot be listed", "err", err)
		}
		for _, id := range ids {
			r.kickIdle(id)
		}
		t := time.NewTimer(every)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-r.stopC:
			t.Stop()
			return
		case <-t.C:
		}
		if r.isStopped() {
			return
		}
		before = r.cfg.Clock.Now().Add(-age)
	}
}

// kickIdle kicks a conversation this runner is not already processing or queueing: under a
// backlog the sweep finds the conversations waiting for a worker here, which need no second
// look.
func (r *Runner) kickIdle(id string) {
	r.mu.Lock()
	_, busy := r.slots[id]
	r.mu.Unlock()
	if !busy {
		r.Kick(id)
	}
}

// sweepEvery is how often a SQLite runner looks for queued events older than it.
const sweepEvery = 30 * time.Second

// defaultClaimLease is how long a claimed effect stays reserved for this process without a
// heartbeat. A process that dies leaves its claims to run out (PostgreSQL: another replica takes
// the work within seconds) or to be released at the next start (SQLite).
const defaultClaimLease = 6 * time.Second

// laterDelay is how long the completion of a send that succeeded waits in memory for its
// conversation's next write (store.OutboxDoneLater) before flushSoon writes it with the others
// waiting: the customer's answer to a reply usually comes sooner, and otherwise one write
// completes the sends of many conversations.
const laterDelay = 20 * time.Millisecond

// flushSoon writes the completions of sends that wait in memory laterDelay from now, unless a
// flush is due already. No goroutine waits meanwhile: a timer's.
func (r *Runner) flushSoon() {
	r.mu.Lock()
	if r.flushDue {
		r.mu.Unlock()
		return
	}
	r.flushDue = true
	r.mu.Unlock()
	r.wg.Add(1) // Stop waits for it; the caller, an effect being completed, holds r.wg too
	time.AfterFunc(laterDelay, func() {
		defer r.wg.Done()
		r.mu.Lock()
		r.flushDue = false
		r.mu.Unlock()
		r.flushLater()
		if r.db.OutboxLater() > 0 && r.running() {
			r.flushSoon() // failed, or more came meanwhile
		}
	})
}

// flushLater writes the completions of sends that wait in memory, and wakes the outbox loop
// when an effect may wait behind one of them.
func (r *Runner) flushLater() {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ClaimLease)
	defer cancel()
	_, freed, err := r.db.OutboxFlushDone(ctx)
	if err != nil {
		r.log.Warn("the completions of sends carried out cannot be recorded yet; they are tried again, and sent again (same idempotency key) if this process stops first", "err", err)
		return
	}
	if freed {
		wake(r.wakeOut)
	}
}

// outboxLoop claims due effects and carries them out, many at a time.
func (r *Runner) outboxLoop() {
	defer r.wg.Done()
	for !r.isStopped() {
		now := r.cfg.Clock.Now()
		items, err := r.db.OutboxClaim(r.ctx, now, r.cfg.Workers, r.claim(now))
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				r.log.Error("outbox cannot be read", "err", err)
			}
			r.idle(r.wakeOut, r.cfg.Poll)
			continue
		}
		for i := range items {
			it := items[i]
			r.esem <- struct{}{}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer func() { <-r.esem }()
				r.execute(r.ctx, &it)
				// The effect's lane may hold the next effect (a turn's second message), which
				// OutboxNext does not count while this one is claimed: claim it now, not at
				// the next poll.
				wake(r.wakeOut)
			}()
		}
		if len(items) == 0 {
			wait := r.cfg.Poll
			if next, ok, err := r.db.OutboxNext(r.ctx); err == nil && ok {
				if d := next.Sub(r.cfg.Clock.Now()); d < wait {
					wait = max(d, time.Millisecond)
				}
			}
			r.idle(r.wakeOut, wait)
		}
	}
}

// timerBatch is how many due timers the timer loop reads at a time: 10,000 due at once are a
// few reads, each followed by a short pause of the writer while the last chunk commits.
const timerBatch = 4096

// timerLoop fires due timers: each one's turn is committed with its firing (or it is queued as
// an event of its busy conversation), many conversations' in one write, side by side on the
// workers.
func (r *Runner) timerLoop() {
	defer r.wg.Done()
	for !r.isStopped() {
		r.timerWakeAt.Store(0) // awake: a timer committed from now on may be missed by the read
		due, err := r.db.TimersDue(r.ctx, r.cfg.Clock.Now(), timerBatch)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				r.log.Error("timers cannot be read", "err", err)
			}
			r.idle(r.wakeTim, r.cfg.Poll)
			continue
		}
		if len(due) > 0 {
			if failed := r.fire(due); failed > 0 {
				r.idle(r.wakeTim, r.cfg.Poll) // they are tried again after a poll interval
				continue
			}
			if len(due) == timerBatch {
				continue
			}
		}
		wait := r.cfg.Poll
		if next, ok, err := r.db.TimerNext(r.ctx); err == nil && ok {
			if d := next.Sub(r.cfg.Clock.Now()); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		r.timerWakeAt.Store(r.cfg.Clock.Now().Add(wait).UnixNano())
		r.idle(r.wakeTim, wait)
	}
}

// fire fires due timers (given oldest first) in chunks of store.TimerChunk conversations, and
// returns once all are fired, with how many conversations' timers could not be. A chunk's turns
// are computed on a worker and committed in one write; a few chunks are in progress at a time,
// enough to keep every core and the writer busy, and taken in due order: the oldest timers fire
// first, not after the whole batch's turns were computed.
func (r *Runner) fire(due []store.DueTimer) (failed int) {
	byConv := map[string][]tandem.TimerFired{}
	var order []string
	for _, t := range due {
		if _, ok := byConv[t.ConversationID]; !ok {
			order = append(order, t.ConversationID)
		}
		byConv[t.ConversationID] = append(byConv[t.ConversationID], t.Timer)
	}
	var wg sync.WaitGroup
	var failures atomic.Int64
	inflight := make(chan struct{}, 2*runtime.GOMAXPROCS(0))
	for len(order) > 0 {
		ids := order[:min(len(order), store.TimerChunk)]
		order = order[len(ids):]
		inflight <- struct{}{}
		wg.Add(1)
		r.convs.submit(func() {
			defer wg.Done()
			failures.Add(int64(r.fireChunk(ids, byConv)))
			<-inflight
		})
	}
	wg.Wait()
	return int(failures.Load())
}

// fireChunk fires the due timers of a few conversations, the turns they cause committed with
// them in one write; it returns how many conversations' timers could not be fired.
func (r *Runner) fireChunk(ids []string, byConv map[string][]tandem.TimerFired) (failed int) {
	turns := make([]*directTurn, len(ids))
	fs := make([]*store.TimerFiring, len(ids))
	for i, id := range ids {
		timers := byConv[id]
		if len(timers) == 1 {
			turns[i] = r.direct(r.ctx, &tandem.Event{ConversationID: id, Kind: tandem.EventTimer, At: timers[0].Due, Timer: &timers[0]})
		}
		fs[i] = &store.TimerFiring{ConversationID: id, Timers: timers, Direct: turns[i].store()}
	}
	r.db.TimersFire(r.ctx, fs)
	for i, f := range fs {
		if f.Err != nil {
			if !errors.Is(f.Err, context.Canceled) {
				r.log.Error("a timer cannot fire; it is tried again", "conversation", f.ConversationID, "err", f.Err)
			}
			failed++
			continue
		}
		if !r.done(f.ConversationID, turns[i]) && f.Queued {
			r.Kick(f.ConversationID)
		}
	}
	return failed
}

func (r *Runner) idle(wakeup chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wakeup:
	case <-t.C:
	case <-r.ctx.Done():
	}
}

// Drain does, synchronously and in a deterministic order, all the work due now: queued events,
// effects (each carried out at the instant it is made) and due timers, until nothing is left.
// Tests, `tandem test` and `tandem chat` use it instead of Start.
func (r *Runner) Drain(ctx context.Context) error {
	for round := 0; ; round++ {
		if round > 10000 {
			return errors.New("drain: work keeps coming after 10000 rounds; a flow may loop on calls without waiting")
		}
		progressed := false
		ids, err := r.db.Pending(ctx, 1000)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := r.process(ctx, id); err != nil {
				return err
			}
			progressed = true
		}
		items, err := r.db.OutboxClaim(ctx, r.cfg.Clock.Now(), 1, store.Claim{Owner: r.id, Until: r.cfg.Clock.Now().Add(time.Hour)})
		if err != nil {
			return err
		}
		for i := range items {
			r.execute(ctx, &items[i])
			progressed = true
		}
		if len(items) > 0 {
			continue // process the result before the next effect, as it happened
		}
		convs, err := r.db.TimerFire(ctx, r.cfg.Clock.Now(), 1)
		if err != nil {
			return err
		}
		if len(convs) > 0 {
			progressed = true
		}
		if !progressed {
			return nil
		}
	}
}

// Clock setter for virtual time, implemented by clock.Virtual.
type settable interface{ Set(time.Time) }

// AdvanceTo moves a virtual clock to t, firing every timer due on the way at its own instant
// (in time order) and draining the work each causes.
func (r *Runner) AdvanceTo(ctx context.Context, t time.Time) error {
	vc, ok := r.cfg.Clock.(settable)
	if !ok {
		return errors.New("runner: AdvanceTo needs a virtual clock")
	}
	if err := r.Drain(ctx); err != nil {
		return err
	}
	for {
		next, ok, err := r.db.TimerNext(ctx)
		if err != nil {
			return err
		}
		due := false
		if ok && !next.After(t) {
			due = true
			vc.Set(next)
		}
		// Retries waiting in the outbox are due by time too.
		if onext, ok, err := r.db.OutboxNext(ctx); err == nil && ok && !onext.After(t) && (!due || onext.Before(next)) {
			due = true
			vc.Set(onext)
		}
		if !due {
			break
		}
		if err := r.Drain(ctx); err != nil {
			return err
		}
	}
	vc.Set(t)
	return r.Drain(ctx)
}
