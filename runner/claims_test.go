package runner_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
)

// heldHTTP is an HTTP client whose calls wait until released; it counts them.
type heldHTTP struct {
	calls   atomic.Int64
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func newHeldHTTP() *heldHTTP {
	return &heldHTTP{arrived: make(chan struct{}, 16), release: make(chan struct{})}
}

func (h *heldHTTP) Do(req *http.Request) (*http.Response, error) {
	h.calls.Add(1)
	h.arrived <- struct{}{}
	select {
	case <-h.release:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

func (h *heldHTTP) let() { h.once.Do(func() { close(h.release) }) }

const slowCallFlow = `format: 1
id: slow
trigger: {on: message, match: any}
steps:
  - {id: call, type: http, url: "https://api.example.com/slow", timeout: 150s}
  - {id: done, type: message, text: "done {{step.call.status}}"}
`

// An effect that legitimately runs long — an http step of two minutes — keeps its claim while
// its runner lives: the heartbeat renews the short lease, so another replica never takes it over
// and the call is made once.
func TestLongEffectKeepsItsClaim(t *testing.T) {
	t.Parallel()
	held := newHeldHTTP()
	t.Cleanup(held.let)
	h := newHarness(t, false, func(c *runner.Config) {
		c.HTTP = held
		c.ClaimLease, c.Heartbeat = 6*time.Second, 5*time.Millisecond
	})
	h.publish(h.r, slowCallFlow)
	h.start(h.r)
	h.say(h.r, "dan", "m1", "go")
	<-held.arrived
	ctx := context.Background()
	for s := 1; s <= 120; s++ {
		h.vclock.Advance(time.Second)
		now := h.vclock.Now()
		// The heartbeat renews the claim for a lease from now (the clock moved, the beat
		// follows); the clock moves on only then, as it would at a second a second.
		waitFor(t, scaled(5*time.Second), "the heartbeat to renew the claim", func() bool {
			next, ok, err := h.db.OutboxNext(ctx)
			return err == nil && ok && !next.Before(now.Add(6*time.Second))
		}, nil)
		// Another replica finds nothing to take.
		items, err := h.db.OutboxClaim(ctx, now, 10, store.Claim{Owner: "replica-b", Until: now.Add(6 * time.Second)})
		if err != nil || len(items) != 0 {
			t.Fatalf("at %ds another replica claimed %d effects (%v) while the call runs", s, len(items), err)
		}
	}
	held.let()
	waitFor(t, scaled(5*time.Second), "the reply", func() bool { return h.ch.count() == 1 }, h.ch.changed)
	if got := h.ch.texts("dan"); !slices.Equal(got, []string{"done 200"}) || held.calls.Load() != 1 {
		t.Errorf("sent %q after %d calls; want one call and its reply", got, held.calls.Load())
	}
}

// A runner that stops with work unfinished (its shutdown deadline passed mid-call) releases its
// claims: another process takes the work at once, not when the lease runs out.
func TestStopReleasesClaims(t *testing.T) {
	t.Parallel()
	held := newHeldHTTP()
	t.Cleanup(held.let)
	h := newHarness(t, false, func(c *runner.Config) { c.HTTP = held; c.ClaimLease = time.Hour })
	h.publish(h.r, slowCallFlow)
	if err := h.r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.say(h.r, "eve", "m1", "go")
	<-held.arrived
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.r.Stop(ctx); err == nil {
		t.Fatal("Stop returned before the held call ended")
	}
	now := h.vclock.Now()
	items, err := h.db.OutboxClaim(context.Background(), now, 10, store.Claim{Owner: "next", Until: now.Add(time.Minute)})
	if err != nil || len(items) != 1 || !strings.Contains(items[0].Effect.HTTP.URL, "/slow") {
		t.Errorf("after the stop, another process claimed %d effects (%v); want the unfinished call at once", len(items), err)
	}
}
