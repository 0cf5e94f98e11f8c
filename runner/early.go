package runner

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/store"
)

// Early calls. A turn computed at its event's arrival (direct) whose run waits on one call with
// a safe method (GET or HEAD: it reads, and may be made again) makes that call before the turn
// is written, and handles its answer in the same turn: the message, the call's answer and what
// the flow does with it are committed in one write, instead of a write that stores the call and
// a second one for its answer. The call is made at least once, as every effect is: should the
// process stop before the write, the message was not acknowledged, its provider delivers it
// again, and the call is made again.
//
// A call that has not answered within earlyWait, or failed in a way its retry policy retries,
// is handed to the outbox: the turn is written with the effect, as any other, and the outbox,
// instead of calling again, takes over the call in flight (and makes the further attempts).
// While a turn waits on an early call, the conversation's next events wait for its write, so
// that they are handled in the order they arrived.

// earlyWait is how long a turn waits for its early calls, in all, before its write.
const earlyWait = 200 * time.Millisecond

// earlyPerTurn is how many early calls one turn makes at most (a flow that reads from one API,
// then another).
const earlyPerTurn = 4

// earlyCall is a call made before its turn's write.
type earlyCall struct {
	start      time.Time // on the runner's clock
	done       chan struct{}
	res        *tandem.HTTPResult
	retryAfter time.Duration
	finished   time.Time // wall time, once done: how long a handed-over call is kept for
}

// earlyCalls holds the calls handed over to the outbox, by effect id.
type earlyCalls struct {
	mu    sync.Mutex
	calls map[string]*earlyCall
	swept time.Time
}

// earlyKeep is how long a finished call handed over is kept for the outbox to take: it takes it
// at once when the turn's commit claimed the effect; when another process claimed it, or the
// lane's earlier effects hold it, the call is made again.
const earlyKeep = time.Minute

func (ec *earlyCalls) put(id string, c *earlyCall) {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	if ec.calls == nil {
		ec.calls = map[string]*earlyCall{}
	}
	if now := time.Now(); now.Sub(ec.swept) > 10*time.Second {
		ec.swept = now
		for k, x := range ec.calls {
			select {
			case <-x.done: // finished is set
				if now.Sub(x.finished) > earlyKeep {
					delete(ec.calls, k)
				}
			default:
			}
		}
	}
	ec.calls[id] = c
}

// take returns the call made early for an effect, if any, and forgets it.
func (ec *earlyCalls) take(id string) *earlyCall {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	c := ec.calls[id]
	if c != nil {
		delete(ec.calls, id)
	}
	return c
}

// earlyOf returns the effect of out that its run waits on, when it is one call with a safe
// method.
func earlyOf(out *engine.Output) *tandem.Effect {
	var e *tandem.Effect
	for i := range out.Effects {
		if out.Effects[i].Await {
			if e != nil {
				return nil
			}
			e = &out.Effects[i]
		}
	}
	if e == nil || e.Kind != tandem.EffectHTTP || e.HTTP == nil || (e.HTTP.Method != "GET" && e.HTTP.Method != "HEAD") {
		return nil
	}
	return e
}

// early makes the call the event just handled waits on, when it may be made early, and returns
// the event of its answer, handled next in the same turn; nil leaves the effect to the outbox.
func (r *Runner) early(t *directTurn, out *engine.Output, ch *store.Changes) *tandem.Event {
	if len(t.used) >= earlyPerTurn || r.ctx.Err() != nil {
		return nil
	}
	left := earlyWait - time.Since(t.start)
	if left <= 0 {
		return nil
	}
	e := earlyOf(out)
	if e == nil {
		return nil
	}
	if !t.hold(r) {
		return nil
	}
	id, req := e.ID, e.HTTP
	c := &earlyCall{start: r.cfg.Clock.Now(), done: make(chan struct{})}
	began := time.Now()
	go func() {
		defer close(c.done)
		if crashed := r.safely("the early call of effect "+id+" of conversation "+t.conv, func() error {
			c.res, c.retryAfter = r.httpOnce(r.ctx, req)
			return nil
		}); crashed != nil {
			c.res = &tandem.HTTPResult{Error: "an internal error (a bug in Tandem) stopped the http call; the server log has the details", ErrorKind: "network"}
		}
		c.res.Attempts = 1
		c.finished = time.Now()
	}()
	wait := time.NewTimer(left)
	select {
	case <-c.done:
		wait.Stop()
	case <-wait.C:
		t.hand(id, c) // slow: the outbox takes the call over
		return nil
	}
	if r.ctx.Err() != nil {
		return nil // the runner stops: the call is made again after the restart
	}
	res := c.res
	if !res.OK() && res.Attempts < max(1, req.Retry.Attempts) && retryable(req.Retry.On, res) {
		t.hand(id, c) // the outbox makes the further attempts
		return nil
	}
	res.DurationMS = r.cfg.Clock.Now().Sub(c.start).Milliseconds()
	// Carried out: the effect needs no row.
	ch.Effects = slices.DeleteFunc(ch.Effects, func(x tandem.Effect) bool { return x.ID == id })
	t.used = append(t.used, time.Since(began))
	return &tandem.Event{ConversationID: t.conv, Kind: tandem.EventResult, At: r.cfg.Clock.Now(),
		Result: &tandem.EffectResult{EffectID: id, Kind: tandem.EffectHTTP, HTTP: r.maskResult(res)}}
}

// hold makes the conversation's next events wait for this turn's write, and reports whether it
// does (a turn not allowed early calls does not).
func (t *directTurn) hold(r *Runner) bool {
	if !t.earlyOK {
		return false
	}
	if t.held != nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calling[t.conv] != nil {
		return false // another turn of the conversation holds it
	}
	t.held = make(chan struct{})
	r.calling[t.conv] = t.held
	return true
}

// hand keeps a call for the outbox, should the turn's write store its effect.
func (t *directTurn) hand(id string, c *earlyCall) {
	if t.handed == nil {
		t.handed = map[string]*earlyCall{}
	}
	t.handed[id] = c
}

// waitCalling waits while a turn of the conversation waits on an early call, and reports
// whether the caller may go on (false: ctx ended).
func (r *Runner) waitCalling(ctx context.Context, id string) bool {
	for {
		r.mu.Lock()
		c := r.calling[id]
		r.mu.Unlock()
		if c == nil {
			return true
		}
		select {
		case <-c:
		case <-ctx.Done():
			return false
		}
	}
}

// unhold lets the conversation's next events go on, once the turn's write is done (committed
// or not).
func (r *Runner) unhold(t *directTurn) {
	if t != nil && t.held != nil {
		r.mu.Lock()
		delete(r.calling, t.conv)
		r.mu.Unlock()
		close(t.held)
		t.held = nil
	}
}
