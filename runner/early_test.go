package runner_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ordersFlow asks for an order number, looks it up with a GET and answers, then asks again.
func ordersFlow(url, retry string) string {
	return fmt.Sprintf(`
format: 1
id: orders
trigger: {on: message, match: any}
steps:
  - id: ask
    type: question
    text: "Which order?"
    answer: text
  - id: call
    type: http
    url: "%s/orders/{{step.ask | urlencode}}"
    timeout: 5s
    retry: %s
    on_error: failed
  - id: reply
    type: message
    text: "Order {{step.ask}} is {{step.call.response.status}} ({{step.call.attempts}})"
    next: ask
  - id: failed
    type: message
    text: "failed: {{step.call.error}}"
    next: ask
`, url, retry)
}

// orders starts a conversation with the orders flow on a running runner, and returns its id
// once the flow has asked its question and the conversation is idle.
func (h *harness) orders(url, retry string) string {
	h.t.Helper()
	h.publish(h.r, ordersFlow(url, retry))
	h.start(h.r)
	id := h.say(h.r, "olga", "p-0", "hi").ConversationID
	waitFor(h.t, 10*time.Second, "the question", func() bool { return slices.Contains(h.ch.texts("olga"), "Which order?") }, h.ch.changed)
	// The question goes out before the goroutine that asked it lets the conversation go: the
	// next message is handled at its arrival only once it has.
	waitFor(h.t, 10*time.Second, "the conversation to be idle", func() bool { return h.r.Idle(id) }, nil)
	return id
}

// gate holds the order service's answers until the test opens it (at the latest at its end).
type gate struct {
	c    chan struct{}
	once sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{c: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.c) }) }
func (g *gate) wait() { <-g.c }

func answers(h *harness) []string { return withPrefix(h.ch.texts("olga"), "Order ") }

// answered waits for the flow's answers and checks them.
func (h *harness) answered(want ...string) {
	h.t.Helper()
	waitFor(h.t, 10*time.Second, sprintf("%d answers", len(want)), func() bool { return len(answers(h)) >= len(want) }, h.ch.changed)
	if got := answers(h); !slices.Equal(got, want) {
		h.t.Fatalf("answers %q, want %q", got, want)
	}
}

// A GET the run waits on is made before the message's write, and its answer handled in the
// same turn: once the message is acknowledged, the flow is already past the call, waiting for
// the next answer, and the call was made once.
func TestEarlyCallAnsweredWithItsMessage(t *testing.T) {
	t.Parallel()
	srv := newKeyServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"status": "shipped"}`) })
	h := newHarness(t, true)
	id := h.orders(srv.URL, "{attempts: 1}")

	h.say(h.r, "olga", "p-1", "7")
	if n := len(srv.requestKeys()); n != 1 {
		t.Fatalf("when the message was acknowledged the order service had %d requests, want 1", n)
	}
	if _, st := h.state(id); st.Run == nil || st.Run.Step != "ask" {
		t.Fatalf("when the message was acknowledged the run was at %+v, want it waiting at ask with the call's answer handled", st.Run)
	}
	h.answered("Order 7 is shipped (1)")
	if n := len(srv.requestKeys()); n != 1 {
		t.Fatalf("the order service had %d requests, want 1", n)
	}
}

// A GET that does not answer within the early wait is handed to the outbox in flight: the
// message is acknowledged with the call stored, and the call is not made a second time.
func TestEarlyCallTooSlowIsHandedOverInFlight(t *testing.T) {
	t.Parallel()
	release := newGate(t)
	srv := newKeyServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		release.wait()
		fmt.Fprint(w, `{"status": "packed"}`)
	})
	h := newHarness(t, true)
	id := h.orders(srv.URL, "{attempts: 1}")

	h.say(h.r, "olga", "p-1", "8")
	if _, st := h.state(id); st.Run == nil || st.Run.Step != "call" {
		t.Fatalf("with the call unanswered the run was at %+v, want it waiting at call", st.Run)
	}
	release.open()
	h.answered("Order 8 is packed (1)")
	if n := len(srv.requestKeys()); n != 1 {
		t.Fatalf("the order service had %d requests, want 1: the outbox took over the call in flight", n)
	}
}

// A GET whose early attempt fails in a way its retry policy retries goes on in the outbox:
// the attempts are counted from the early one, with its backoff, and the same key.
func TestEarlyCallRetriedByTheOutbox(t *testing.T) {
	t.Parallel()
	srv := newKeyServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"status": "delivered"}`)
	})
	h := newHarness(t, true)
	h.orders(srv.URL, "{attempts: 3, backoff: 1s, on: [5xx]}")

	h.say(h.r, "olga", "p-1", "9")
	h.answered("Order 9 is delivered (2)")
	keys := srv.requestKeys()
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("Idempotency-Keys = %q, want the same key twice (the early attempt and one retry)", keys)
	}
	if d := h.sleeps.delays(); len(d) != 1 || d[0] < 800*time.Millisecond || d[0] > 1200*time.Millisecond {
		t.Fatalf("backoffs = %v, want one of about 1s", d)
	}
}

// Invariant 3: a message that arrives while the conversation's turn waits on an early call is
// handled after that turn, in the order the customer sent them: the first is the question's
// answer.
func TestEarlyCallKeepsTheConversationsOrder(t *testing.T) {
	t.Parallel()
	release := newGate(t)
	srv := newKeyServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/A") {
			release.wait()
		}
		fmt.Fprint(w, `{"status": "found"}`)
	})
	h := newHarness(t, true)
	h.orders(srv.URL, "{attempts: 1}")

	doneA := make(chan struct{})
	go func() {
		defer close(doneA)
		h.say(h.r, "olga", "p-1", "A")
	}()
	select {
	case <-srv.arrived: // A's call is in flight
	case <-time.After(10 * time.Second):
		t.Fatal("the call for A was not made")
	}
	h.say(h.r, "olga", "p-2", "B")
	<-doneA
	release.open()
	// B arrived while A's call was made: it waited for A's turn, then, written while the run
	// waited on the call, was not the answer to the question asked after it (docs/flows.md):
	// the message sent first is the question's answer.
	h.answered("Order A is found (1)")
	if n := len(srv.requestKeys()); n != 1 {
		t.Fatalf("the order service had %d requests, want 1 (for A)", n)
	}
}
