package runner_test

import (
	"context"
	"database/sql"
	"log/slog"
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

// An effect carried out whose outcome cannot be recorded (the database fails for a moment) is
// carried out again, with the same idempotency key, once the database answers: the runner hands
// its claim back. It used to keep the claim, renewed by its heartbeat, so the effect and every
// later send of the conversation waited until the process ended (seen in the soak test when
// PostgreSQL refused connections: replies stuck for good on a live replica).
func TestUnrecordedEffectIsCarriedOutAgain(t *testing.T) {
	t.Parallel()
	logs := newLogSink()
	h := newHarness(t, false, func(c *runner.Config) {
		c.Logger = slog.New(logs)
		c.ClaimLease, c.Heartbeat = 6*time.Second, 5*time.Millisecond
	})
	h.publish(h.r, greetFlow)
	raw, err := sql.Open("sqlite", "file:"+h.db.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// The completion of a send deletes its outbox row: make that fail as a full disk would.
	if _, err := raw.Exec(`CREATE TRIGGER outbox_fails BEFORE DELETE ON outbox BEGIN SELECT RAISE(ABORT, 'disk I/O error (test)'); END`); err != nil {
		t.Fatal(err)
	}
	h.start(h.r)
	h.say(h.r, "kim", "k-1", "one")
	waitFor(t, scaled(10*time.Second), "the outcome to fail to be recorded", func() bool { return logs.has("effect outcome not recorded") }, logs.changed)
	if _, err := raw.Exec(`DROP TRIGGER outbox_fails`); err != nil {
		t.Fatal(err)
	}
	// Well within the claim's lease: only a handed-back claim is taken again this soon.
	h.vclock.Advance(2 * time.Second)
	waitFor(t, scaled(10*time.Second), "the send to be carried out again and recorded", func() bool { return h.outboxDepth() == 0 }, h.ch.changed)
	tries := h.ch.tries()
	if len(tries) != 2 || tries[0].Text != "hello one" || tries[1].Key != tries[0].Key {
		t.Errorf("sends %+v; want \"hello one\" twice with one idempotency key", tries)
	}
}
