package runner_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
)

// greetFlow answers every message once and ends.
const greetFlow = `
format: 1
id: greet
trigger: {on: message, match: any}
steps:
  - id: hello
    type: message
    text: "hello {{message.text}}"
`

// threeFlow sends three messages in a row.
const threeFlow = `
format: 1
id: three
trigger: {on: message, match: any}
steps:
  - {id: one, type: message, text: "one"}
  - {id: two, type: message, text: "two"}
  - {id: three, type: message, text: "three"}
`

// echoFlow echoes the message that started it, then every answer to its question: the order
// of the echoes is the order in which the conversation took its messages.
const echoFlow = `
format: 1
id: echo
trigger: {on: message, match: any}
steps:
  - id: echo
    type: message
    text: "echo: {{message.text}}"
  - id: ask
    type: question
    text: "more?"
    answer: text
    timeout: 1h
    next: echo
`

// Invariant 2: a provider's retry of an inbound message (same channel, same provider message
// id) is recognised and processed once, whether it arrives before or after the first copy was
// processed; another provider id with the same text is a new message.
func TestInboundDuplicateProcessedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	h.publish(h.r, greetFlow)

	first := h.say(h.r, "alice", "wamid.1", "hi")
	if first.Duplicate {
		t.Fatal("the first delivery is reported as a duplicate")
	}
	again := h.say(h.r, "alice", "wamid.1", "hi") // before processing
	if !again.Duplicate || again.ConversationID != first.ConversationID || again.MessageID != first.MessageID {
		t.Fatalf("retry before processing: got %+v (duplicate %v), want the first message's ids %+v with Duplicate", again, again.Duplicate, first)
	}
	h.drain(h.r)
	late := h.say(h.r, "alice", "wamid.1", "hi") // after processing
	if !late.Duplicate || late.MessageID != first.MessageID {
		t.Fatalf("retry after processing: got %+v (duplicate %v), want a duplicate of %s", late, late.Duplicate, first.MessageID)
	}
	h.drain(h.r)

	if got, want := h.ch.texts("alice"), []string{"hello hi"}; !slices.Equal(got, want) {
		t.Fatalf("bot answers = %q, want %q (one answer for one message)", got, want)
	}
	if got := len(h.messages(first.ConversationID, tandem.DirectionIn)); got != 1 {
		t.Errorf("stored inbound messages = %d, want 1", got)
	}

	// Dedupe is by provider id, not by content.
	h.say(h.r, "alice", "wamid.2", "hi")
	h.drain(h.r)
	if got, want := h.ch.texts("alice"), []string{"hello hi", "hello hi"}; !slices.Equal(got, want) {
		t.Fatalf("after a new provider id: bot answers = %q, want %q", got, want)
	}

	// Retries racing each other: one copy is stored, all get its ids.
	const copies = 20
	results := make([]store.InboundResult, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Go(func() {
			res, err := h.r.Inbound(context.Background(), inboundParams("alice", "wamid.3", "again"))
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	fresh := 0
	for _, res := range results {
		if !res.Duplicate {
			fresh++
		}
		if res.MessageID != results[0].MessageID {
			t.Errorf("concurrent copies got message ids %q and %q", res.MessageID, results[0].MessageID)
		}
	}
	if fresh != 1 {
		t.Errorf("%d of %d concurrent copies were stored, want 1", fresh, copies)
	}
	h.drain(h.r)
	if got, want := h.ch.texts("alice"), []string{"hello hi", "hello hi", "hello again"}; !slices.Equal(got, want) {
		t.Fatalf("after concurrent copies: bot answers = %q, want %q", got, want)
	}
}

// Invariant 2: every send carries an idempotency key (the effect id, also the stored message
// id); a send that failed transiently is retried with the same key, delivered once, and the
// conversation's later sends wait for it (order kept).
func TestSendRetriedWithSameIdempotencyKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	h.publish(h.r, threeFlow)
	var failed atomic.Bool
	h.ch.setHook(func(_ context.Context, out tandem.Outbound) error {
		if out.Message.Text == "one" && failed.CompareAndSwap(false, true) {
			return errTransient
		}
		return nil
	})
	res := h.say(h.r, "bob", "p-1", "go")
	h.drain(h.r)
	if got := h.ch.count(); got != 0 {
		t.Fatalf("delivered %d messages while the first send is failing, want 0 (the others wait in line)", got)
	}
	if got := h.outboxDepth(); got != 3 {
		t.Fatalf("outbox depth after the failure = %d, want 3", got)
	}
	// The retry is due by time: move the virtual clock past the backoff.
	if err := h.r.AdvanceTo(context.Background(), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	if got, want := h.ch.texts("bob"), []string{"one", "two", "three"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	if got := h.outboxDepth(); got != 0 {
		t.Errorf("outbox depth = %d, want 0", got)
	}
	tries := h.ch.tries()
	if got, want := len(tries), 4; got != want {
		t.Fatalf("attempts = %d (%+v), want %d", got, tries, want)
	}
	if tries[0].Text != "one" || tries[1].Text != "one" {
		t.Fatalf("attempts %q, %q: want the failed send retried first", tries[0].Text, tries[1].Text)
	}
	if tries[0].Key == "" || tries[0].Key != tries[1].Key {
		t.Errorf("retry key %q, first key %q: want the same non-empty key", tries[1].Key, tries[0].Key)
	}
	stored := h.messages(res.ConversationID, tandem.DirectionOut)
	keys := map[string]bool{}
	for i, s := range h.ch.all() {
		if s.Key == "" {
			t.Errorf("send %q has no idempotency key", s.Text)
		}
		if keys[s.Key] {
			t.Errorf("key %q used by two messages", s.Key)
		}
		keys[s.Key] = true
		if s.Key != s.MessageID || i >= len(stored) || stored[i].ID != s.Key {
			t.Errorf("send %q: key %q, message id %q; want the key to be the stored message's id", s.Text, s.Key, s.MessageID)
		}
	}
}

// The messages of one turn go out one after another without waiting for the poll: when a send
// is done, the next one in its conversation's lane is claimed at once. (The poll is set to an
// hour so that a missing wake-up shows as a timeout, not as a slow test.)
func TestSendsOfOneTurnDoNotWaitForThePoll(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, func(c *runner.Config) { c.Poll = time.Hour })
	h.publish(h.r, threeFlow)
	h.start(h.r)
	h.say(h.r, "hank", "p-1", "go")
	waitFor(t, 10*time.Second, "the three messages of the turn", func() bool { return h.ch.count() == 3 }, h.ch.changed)
	if got, want := h.ch.texts("hank"), []string{"one", "two", "three"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
}

// A send that succeeded is completed without a write of its own (with the conversation's next
// write, or within a moment with other completions): its row goes all the same, and Stop writes
// the completions still waiting, so that the next process does not send them again.
func TestSendCompletionWrittenLaterAndByStop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	h.publish(h.r, greetFlow)
	h.start(h.r)
	h.say(h.r, "gina", "p-1", "hi")
	waitFor(t, 10*time.Second, "the answer", func() bool { return h.ch.count() == 1 }, h.ch.changed)
	waitFor(t, 10*time.Second, "the send's completion to be written", func() bool { return h.outboxDepth() == 0 }, nil)
	h.say(h.r, "gina", "p-2", "again")
	waitFor(t, 10*time.Second, "the second answer", func() bool { return h.ch.count() == 2 }, h.ch.changed)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.r.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if got := h.outboxDepth(); got != 0 {
		t.Fatalf("outbox depth after Stop = %d, want 0: a send carried out would be sent again by the next process", got)
	}
	r2 := h.newRunner()
	if err := r2.LoadFlows(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.start(r2)
	h.say(r2, "gina", "p-3", "last")
	waitFor(t, 10*time.Second, "the third answer", func() bool { return h.ch.count() >= 3 }, h.ch.changed)
	if got, want := h.ch.texts("gina"), []string{"hello hi", "hello again", "hello last"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
}

// A turn that fails (here: a conversation state that cannot be read, repaired a moment later,
// as a database hiccup would be) is retried: its events stay queued and are processed without
// waiting for another message or a restart.
func TestFailedTurnIsRetried(t *testing.T) {
	t.Parallel()
	logs := newLogSink()
	h := newHarness(t, true, func(c *runner.Config) { c.Logger = slog.New(logs) })
	h.publish(h.r, greetFlow)
	h.start(h.r)
	res := h.say(h.r, "ivan", "p-1", "one")
	waitFor(t, 10*time.Second, "the first answer", func() bool { return h.ch.count() == 1 }, h.ch.changed)

	raw, err := sql.Open("sqlite", "file:"+h.db.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var good string
	if err := raw.QueryRow(`SELECT state FROM conversations WHERE id = ?`, res.ConversationID).Scan(&good); err != nil {
		t.Fatal(err)
	}
	// Its version is raised, as by every write of Tandem's: the turns this process computes from
	// what it committed last are checked against it.
	if _, err := raw.Exec(`UPDATE conversations SET state = '{"run": 7', version = version + 1 WHERE id = ?`, res.ConversationID); err != nil {
		t.Fatal(err)
	}
	h.say(h.r, "ivan", "p-2", "two")
	waitFor(t, 10*time.Second, "the turn to fail", func() bool { return logs.has("conversation processing failed") }, logs.changed)
	if _, err := raw.Exec(`UPDATE conversations SET state = ?, version = version + 1 WHERE id = ?`, good, res.ConversationID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the failed turn to be retried", func() bool { return h.ch.count() == 2 }, h.ch.changed)
	if got, want := h.ch.texts("ivan"), []string{"hello one", "hello two"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
}

// Invariant 3: with background workers and many goroutines writing to 20 conversations at
// once (several goroutines per conversation), each conversation answers its messages in the
// order it took them (the order of its stored inbound messages), and conversations progress in
// parallel: the first reply of every conversation is held at the channel until all 20 are in
// flight at once, then one conversation's replies are held until every other conversation is
// done. Either would hang if conversations were served one after another. (Turns themselves
// commit through SQLite's one writer, in group commits; what runs side by side is everything
// that waits on the outside.)
func TestConversationOrderAndParallelism(t *testing.T) {
	h := newHarness(t, true)
	h.publish(h.r, echoFlow)
	const convs, senders, perSender = 20, 3, 4
	perConv := senders * perSender
	var (
		barrierMu sync.Mutex
		inFlight  = map[string]bool{}
		allIn     = make(chan struct{}) // closed when every conversation has a send in flight
		gate      = make(chan struct{}) // holds c00's sends
	)
	h.ch.setHook(func(ctx context.Context, out tandem.Outbound) error {
		contact := out.Contact.ExternalID
		barrierMu.Lock()
		first := !inFlight[contact]
		if first {
			inFlight[contact] = true
			if len(inFlight) == convs {
				close(allIn)
			}
		}
		barrierMu.Unlock()
		if first {
			select {
			case <-allIn:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if contact != "c00" {
			return nil
		}
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	h.start(h.r)
	deadline := time.Now().Add(scaled(10 * time.Second))

	var wg sync.WaitGroup
	errs := make(chan error, convs*senders)
	convIDs := make([]string, convs)
	var idMu sync.Mutex
	for c := range convs {
		for s := range senders {
			wg.Go(func() {
				for i := range perSender {
					contact := fmt.Sprintf("c%02d", c)
					res, err := h.r.Inbound(context.Background(), inboundParams(contact, fmt.Sprintf("%s-s%d-%d", contact, s, i), fmt.Sprintf("s%d-%d", s, i)))
					if err != nil {
						errs <- err
						return
					}
					idMu.Lock()
					convIDs[c] = res.ConversationID
					idMu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	othersDone := func() bool {
		for c := 1; c < convs; c++ {
			if len(withPrefix(h.ch.texts(fmt.Sprintf("c%02d", c)), "echo: ")) < perConv {
				return false
			}
		}
		return true
	}
	waitFor(t, time.Until(deadline), "every conversation but c00 to answer all its messages while c00's channel is held", othersDone, h.ch.changed)
	if got := len(h.ch.texts("c00")); got != 0 {
		t.Fatalf("c00 delivered %d messages through a held channel", got)
	}
	close(gate)
	waitFor(t, time.Until(deadline), "c00 to answer all its messages", func() bool {
		return len(withPrefix(h.ch.texts("c00"), "echo: ")) == perConv
	}, h.ch.changed)
	waitFor(t, time.Until(deadline), "the outbox to empty", func() bool { return h.outboxDepth() == 0 }, h.ch.changed)

	keys := map[string]bool{}
	for _, s := range h.ch.tries() {
		if s.Key == "" || keys[s.Key] {
			t.Fatalf("send %q: idempotency key %q missing or reused (no send failed here)", s.Text, s.Key)
		}
		keys[s.Key] = true
	}
	for c := range convs {
		contact := fmt.Sprintf("c%02d", c)
		var want []string
		for _, m := range h.messages(convIDs[c], tandem.DirectionIn) {
			want = append(want, "echo: "+m.Text)
		}
		if len(want) != perConv {
			t.Fatalf("%s: %d inbound messages stored, want %d", contact, len(want), perConv)
		}
		if got := withPrefix(h.ch.texts(contact), "echo: "); !slices.Equal(got, want) {
			t.Errorf("%s: echoes %q\nwant the order of arrival %q", contact, got, want)
		}
		var stored []string
		for _, m := range h.messages(convIDs[c], tandem.DirectionOut) {
			stored = append(stored, m.Text)
		}
		if got := h.ch.texts(contact); !slices.Equal(got, stored) {
			t.Errorf("%s: channel order %q differs from the stored order %q", contact, got, stored)
		}
	}
}

// Invariant 4: a conversation waiting on a question holds no goroutine: with 1,000 waiting
// conversations (250 with -short) and the workers running, the goroutine count is back to what
// it was before the runner started, give or take the runner's fixed loops; what a waiting
// conversation keeps is its state row and a timer row in the database.
func TestWaitingHoldsNoGoroutine(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 250 // the same proof, quicker (-race -short runs it ten times slower)
	}
	// An hour's poll keeps the idle loops from querying (and holding database/sql's
	// per-query goroutines) while the goroutines are counted.
	h := newHarness(t, false, func(c *runner.Config) { c.Poll = time.Hour })
	h.publish(h.r, `
format: 1
id: ask
trigger: {on: message, match: any}
steps:
  - id: name
    type: question
    text: "What is your name?"
    answer: text
    timeout: 1h
  - id: thanks
    type: message
    text: "thanks {{message.text}}"
`)
	raw := rawDB(t, h.db)
	rawCount(t, raw, `SELECT COUNT(*) FROM timers`) // open the raw pool before the baseline
	baseline := runtime.NumGoroutine()
	h.start(h.r)

	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				res, err := h.r.Inbound(context.Background(), inboundParams(fmt.Sprintf("w%04d", i), fmt.Sprintf("p%04d", i), "hi"))
				if err != nil {
					errs <- err
					return
				}
				ids[i] = res.ConversationID
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, scaled(60*time.Second), sprintf("%d questions to be delivered", n), func() bool { return h.ch.count() == n }, h.ch.changed)
	waitFor(t, scaled(10*time.Second), "the outbox to empty and the queues to drain", func() bool {
		return h.outboxDepth() == 0 && rawCount(t, raw, `SELECT COUNT(*) FROM events`) == 0
	}, nil)

	// The runner keeps its outbox and timer loops; everything else must be gone.
	const fixed, tolerance = 2, 2
	limit := baseline + fixed + tolerance
	lowest := runtime.NumGoroutine()
	waitFor(t, scaled(10*time.Second), sprintf("the goroutine count to return to %d (baseline %d)", limit, baseline),
		func() bool {
			lowest = min(lowest, runtime.NumGoroutine())
			return lowest <= limit
		}, nil)
	t.Logf("goroutines: baseline %d, with %d conversations waiting %d", baseline, n, lowest)

	if got := rawCount(t, raw, `SELECT COUNT(*) FROM timers`); got != n {
		t.Errorf("timer rows = %d, want %d (one wake-up per waiting conversation)", got, n)
	}
	for _, id := range ids {
		_, st := h.state(id)
		if st.Run == nil || st.Run.Status != tandem.RunWaiting || st.Run.Wait == nil || !st.Run.Wait.Message || st.Run.Wait.TimerID == "" {
			t.Fatalf("conversation %s: state %+v, want a run waiting on a message with a timer", id, st.Run)
		}
		if !st.Run.Wait.Due.Equal(t0.Add(time.Hour)) {
			t.Errorf("conversation %s: wait due %v, want %v", id, st.Run.Wait.Due, t0.Add(time.Hour))
		}
		if got := rawCount(t, raw, `SELECT COUNT(*) FROM timers WHERE conversation_id = ? AND id = ?`, id, st.Run.Wait.TimerID); got != 1 {
			t.Fatalf("conversation %s: its wait's timer row is missing", id)
		}
	}
}

// Invariant 1 (in process): a conversation waiting on a timer survives a restart: a new
// runner on the reopened database fires the timer and the run continues.
func TestTimerFiresAfterRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	h.publish(h.r, `
format: 1
id: later
trigger: {on: message, match: any}
steps:
  - {id: first, type: message, text: "see you in an hour"}
  - {id: pause, type: wait, for: 1h}
  - {id: second, type: message, text: "an hour later: {{message.text}}"}
`)
	h.say(h.r, "carol", "p-1", "ping")
	h.drain(h.r)
	if got := rawCount(t, rawDB(t, h.db), `SELECT COUNT(*) FROM timers`); got != 1 {
		t.Fatalf("timer rows = %d, want 1", got)
	}

	r2 := h.newRunner()
	if err := r2.LoadFlows(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r2.AdvanceTo(context.Background(), t0.Add(59*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, want := h.ch.texts("carol"), []string{"see you in an hour"}; !slices.Equal(got, want) {
		t.Fatalf("before the hour: %q, want %q", got, want)
	}
	if err := r2.AdvanceTo(context.Background(), t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, want := h.ch.texts("carol"), []string{"see you in an hour", "an hour later: ping"}; !slices.Equal(got, want) {
		t.Fatalf("after the hour: %q, want %q", got, want)
	}
}

// Invariant 5: a run keeps the flow version it started on when a new version is published in
// the middle of the conversation (even in a restarted runner whose cache knows only the new
// version), while a new conversation starts on the new version.
func TestRunPinnedToVersion(t *testing.T) {
	t.Parallel()
	const v1 = `
format: 1
id: pinned
trigger: {on: message, match: any}
steps:
  - {id: ask_v1, type: question, text: "v1: what is your name?", answer: text}
  - {id: reply_v1, type: message, text: "v1: thanks {{message.text}}"}
`
	const v2 = `
format: 1
id: pinned
trigger: {on: message, match: any}
steps:
  - {id: ask_v2, type: question, text: "v2: who are you?", answer: text}
  - {id: reply_v2, type: message, text: "v2: hello {{message.text}}"}
`
	h := newHarness(t, false)
	if got := h.publish(h.r, v1); got != 1 {
		t.Fatalf("first version = %d, want 1", got)
	}
	alice := h.say(h.r, "alice", "a-1", "hi")
	h.drain(h.r)
	if got := h.publish(h.r, v2); got != 2 {
		t.Fatalf("second version = %d, want 2", got)
	}
	bob := h.say(h.r, "bob", "b-1", "hey")
	h.drain(h.r)

	r2 := h.newRunner() // a restart: its cache is loaded from the database
	if err := r2.LoadFlows(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.say(r2, "alice", "a-2", "Alice")
	h.say(r2, "bob", "b-2", "Bob")
	h.drain(r2)
	carol := h.say(r2, "carol", "c-1", "yo")
	h.drain(r2)

	for _, c := range []struct {
		contact, conv string
		version       int
		want          []string
	}{
		{"alice", alice.ConversationID, 1, []string{"v1: what is your name?", "v1: thanks Alice"}},
		{"bob", bob.ConversationID, 2, []string{"v2: who are you?", "v2: hello Bob"}},
		{"carol", carol.ConversationID, 2, []string{"v2: who are you?"}},
	} {
		if got := h.ch.texts(c.contact); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.contact, got, c.want)
		}
		runs, err := h.db.Runs(context.Background(), c.conv)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || runs[0].FlowVersion != c.version {
			t.Errorf("%s: runs %+v, want one run on version %d", c.contact, runs, c.version)
		}
	}
}

// httpFlow calls url with the given timeout and retry policy and reports the outcome.
func httpFlow(url, timeout, retry string) string {
	return fmt.Sprintf(`
format: 1
id: call
trigger: {on: message, match: any}
steps:
  - id: call
    type: http
    method: POST
    url: "%s/hook"
    body: {json: {text: "{{message.text}}"}}
    timeout: %s
    retry: %s
    on_error: failed
  - id: ok
    type: message
    text: "ok status={{step.call.status}} attempts={{step.call.attempts}}"
    next: end
  - id: failed
    type: message
    text: "failed status={{step.call.status}} attempts={{step.call.attempts}} error={{step.call.error}}"
`, url, timeout, retry)
}

// keyServer is a loopback API that records the Idempotency-Key of every request and answers
// with respond(n, w, r), n counting requests from 1.
type keyServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []string
	arrived chan int
}

func newKeyServer(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *keyServer {
	s := &keyServer{arrived: make(chan int, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does the server notice a client that goes away.
		io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
		n := len(s.keys)
		s.mu.Unlock()
		s.arrived <- n
		respond(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *keyServer) requestKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

// The http effect: retries with backoff on the statuses the step names, as many attempts as
// it says, Retry-After honoured, the same Idempotency-Key on every attempt, and a timeout
// turned into an error result the flow branches on.
func TestHTTPEffect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		respond func(n int, w http.ResponseWriter, r *http.Request)
		timeout string
		retry   string
		want    string // delivered message (prefix)
		calls   int
		// sleeps are the bounds of each delay between attempts.
		sleeps [][2]time.Duration
	}{
		{
			name: "5xx retried with backoff until it succeeds",
			respond: func(n int, w http.ResponseWriter, _ *http.Request) {
				if n < 3 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				fmt.Fprint(w, `{"ok": true}`)
			},
			timeout: "5s", retry: "{attempts: 3, backoff: 1s, on: [5xx]}",
			want: "ok status=200 attempts=3", calls: 3,
			sleeps: [][2]time.Duration{{800 * time.Millisecond, 1200 * time.Millisecond}, {1600 * time.Millisecond, 2400 * time.Millisecond}},
		},
		{
			name:    "attempts honoured, then the failure branch",
			respond: func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) },
			timeout: "5s", retry: "{attempts: 2, backoff: 2s, on: [5xx]}",
			want: "failed status=500 attempts=2", calls: 2,
			sleeps: [][2]time.Duration{{1600 * time.Millisecond, 2400 * time.Millisecond}},
		},
		{
			name:    "a status not named is not retried",
			respond: func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) },
			timeout: "5s", retry: "{attempts: 3, backoff: 1s, on: [5xx]}",
			want: "failed status=404 attempts=1", calls: 1,
		},
		{
			name: "Retry-After in seconds honoured",
			respond: func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", "7")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				fmt.Fprint(w, `{}`)
			},
			timeout: "5s", retry: "{attempts: 2, backoff: 1s, on: [429]}",
			want: "ok status=200 attempts=2", calls: 2,
			sleeps: [][2]time.Duration{{7 * time.Second, 5 * time.Minute}},
		},
		{
			name: "Retry-After as an HTTP date honoured",
			respond: func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					// The runner reads the date against its (virtual) clock.
					w.Header().Set("Retry-After", t0.Add(30*time.Second).Format(http.TimeFormat))
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				fmt.Fprint(w, `{}`)
			},
			timeout: "5s", retry: "{attempts: 2, backoff: 1s, on: [5xx]}",
			want: "ok status=200 attempts=2", calls: 2,
			sleeps: [][2]time.Duration{{30 * time.Second, 30 * time.Second}},
		},
		{
			name: "timeout is an error result, retried when asked",
			respond: func(_ int, _ http.ResponseWriter, r *http.Request) {
				<-r.Context().Done() // never answers; the client gives up
			},
			timeout: "300ms", retry: "{attempts: 2, backoff: 1s, on: [timeout]}",
			want: "failed status=0 attempts=2 error=no answer within 300ms (timeout)", calls: 2,
			sleeps: [][2]time.Duration{{800 * time.Millisecond, 1200 * time.Millisecond}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newKeyServer(t, tc.respond)
			h := newHarness(t, false)
			h.publish(h.r, httpFlow(srv.URL, tc.timeout, tc.retry))
			h.say(h.r, "dave", "p-1", "call")
			h.drain(h.r)

			got := h.ch.texts("dave")
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Fatalf("delivered %q, want one message starting %q", got, tc.want)
			}
			keys := srv.requestKeys()
			if len(keys) != tc.calls {
				t.Fatalf("requests = %d, want %d", len(keys), tc.calls)
			}
			for _, k := range keys {
				if k == "" || k != keys[0] {
					t.Fatalf("Idempotency-Key per attempt = %q, want one non-empty key", keys)
				}
			}
			sleeps := h.sleeps.delays()
			if len(sleeps) != len(tc.sleeps) {
				t.Fatalf("sleeps = %v, want %d", sleeps, len(tc.sleeps))
			}
			for i, d := range sleeps {
				if d < tc.sleeps[i][0] || d > tc.sleeps[i][1] {
					t.Errorf("sleep %d = %v, want within %v", i, d, tc.sleeps[i])
				}
			}
		})
	}
}

// A call to a private address is refused by the guard with a message that names the keys
// that allow it, so the flow author knows what to write in tandem.yaml.
func TestHTTPToPrivateAddressNamesTheAllowKeys(t *testing.T) {
	t.Parallel()
	srv := newKeyServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{}`) })
	h := newHarness(t, false, func(c *runner.Config) { c.HTTP = safehttp.NewClient(safehttp.Options{}) })
	h.publish(h.r, httpFlow(srv.URL, "5s", "{attempts: 1}"))
	h.say(h.r, "erin", "p-1", "call")
	h.drain(h.r)

	got := h.ch.texts("erin")
	want := `failed status=0 attempts=1 error=the URL resolves to 127.0.0.1, a loopback address that http steps may not reach; if the service is yours, allow it in tandem.yaml with http.allow: ["127.0.0.1"] (or http.allow_private: true)`
	if len(got) != 1 || got[0] != want {
		t.Fatalf("delivered %q\nwant %q", got, want)
	}
	if n := len(srv.requestKeys()); n != 0 {
		t.Fatalf("the server got %d requests; the guard must refuse before connecting", n)
	}
}

// Invariants 1 and 2: an http call cut off by a shutdown is neither lost nor turned into a
// failure: its effect stays in the outbox, and the next process issues it again with the same
// Idempotency-Key; the flow continues on the success branch.
func TestHTTPCallInterruptedByRestartIsReissued(t *testing.T) {
	t.Parallel()
	srv := newKeyServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			<-r.Context().Done() // the process goes away mid-call
			return
		}
		fmt.Fprint(w, `{"n": 2}`)
	})
	h := newHarness(t, true)
	h.publish(h.r, httpFlow(srv.URL, "30s", "{attempts: 1}"))
	h.start(h.r)
	h.say(h.r, "erin", "p-1", "call")
	select {
	case <-srv.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the call was not made")
	}
	// Stop with no time to finish: the call is abandoned.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.r.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop = %v, want context.Canceled", err)
	}
	if got := h.ch.texts("erin"); len(got) != 0 {
		t.Fatalf("after the interrupted call the flow sent %q, want nothing yet", got)
	}
	if got := h.outboxDepth(); got != 1 {
		t.Fatalf("outbox depth after the interruption = %d, want 1 (the call is still to do)", got)
	}

	r2 := h.newRunner()
	if err := r2.LoadFlows(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.start(r2)
	waitFor(t, 10*time.Second, "the flow to continue after the restart", func() bool { return h.ch.count() > 0 }, h.ch.changed)
	if got, want := h.ch.texts("erin"), []string{"ok status=200 attempts=1"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	keys := srv.requestKeys()
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("Idempotency-Keys = %q, want the same key twice", keys)
	}
}

// Graceful Stop: a send in flight when Stop is called finishes and its outcome is recorded
// before Stop returns; work not yet started stays whole in the outbox and is done by the next
// process, and nothing is sent twice.
func TestStopFinishesInFlightWork(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	h.publish(h.r, threeFlow)
	inSend, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.ch.setHook(func(_ context.Context, out tandem.Outbound) error {
		if out.Message.Text == "one" {
			once.Do(func() { close(inSend) })
			<-release
		}
		return nil
	})
	h.start(h.r)
	res := h.say(h.r, "frank", "p-1", "go")
	select {
	case <-inSend:
	case <-time.After(10 * time.Second):
		t.Fatal("the first send did not start")
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- h.r.Stop(ctx)
	}()
	waitFor(t, 5*time.Second, "Stop to begin", h.r.Stopping, nil)
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a send was in flight", err)
	default:
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop = %v", err)
	}
	// The send finished and was recorded: one effect done, two left whole.
	if got, want := h.ch.texts("frank"), []string{"one"}; !slices.Equal(got, want) {
		t.Fatalf("delivered before Stop returned %q, want %q", got, want)
	}
	if got := h.outboxDepth(); got != 2 {
		t.Fatalf("outbox depth after Stop = %d, want 2 (the in-flight send recorded, the rest untouched)", got)
	}

	// Work that arrives after Stop is stored, not processed, and not lost.
	h.say(h.r, "frank", "p-2", "again")
	r2 := h.newRunner()
	if err := r2.LoadFlows(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.start(r2)
	want := []string{"one", "two", "three", "one", "two", "three"}
	waitFor(t, 10*time.Second, "the next process to finish the work", func() bool { return h.ch.count() >= len(want) }, h.ch.changed)
	if got := h.ch.texts("frank"); !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	if got := len(h.messages(res.ConversationID, tandem.DirectionOut)); got != len(want) {
		t.Errorf("stored outbound messages = %d, want %d", got, len(want))
	}
}

// Stop with a deadline shorter than a send: the send is abandoned, not recorded as failed; the
// next process delivers it with the same key.
func TestStopDeadlineLeavesEffectForNextProcess(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	h.publish(h.r, greetFlow)
	inSend := make(chan struct{})
	var blocked atomic.Bool
	h.ch.setHook(func(ctx context.Context, _ tandem.Outbound) error {
		if blocked.CompareAndSwap(false, true) {
			close(inSend)
			<-ctx.Done() // a provider that hangs until the runner gives up
			return ctx.Err()
		}
		return nil
	})
	h.start(h.r)
	h.say(h.r, "gina", "p-1", "hi")
	select {
	case <-inSend:
	case <-time.After(10 * time.Second):
		t.Fatal("the send did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := h.r.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want context.DeadlineExceeded", err)
	}
	if got := h.outboxDepth(); got != 1 {
		t.Fatalf("outbox depth = %d, want 1: the abandoned send must stay to do", got)
	}

	r2 := h.newRunner()
	h.start(r2)
	waitFor(t, 10*time.Second, "the send to be delivered by the next process", func() bool { return h.ch.count() == 1 }, h.ch.changed)
	tries := h.ch.tries()
	if len(tries) != 2 || tries[0].Key != tries[1].Key {
		t.Fatalf("attempts %+v, want two with the same key", tries)
	}
	if got, want := h.ch.texts("gina"), []string{"hello hi"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
}

// countingObserver counts the runner's measurements.
type countingObserver struct {
	mu    sync.Mutex
	ended int
	steps int
}

func (o *countingObserver) Turn(time.Duration, int) {}
func (o *countingObserver) Step(string, time.Duration) {
	o.mu.Lock()
	o.steps++
	o.mu.Unlock()
}
func (o *countingObserver) Effect(string, bool, time.Duration) {}
func (o *countingObserver) TimerLate(time.Duration)            {}
func (o *countingObserver) RunEnded(string, string) {
	o.mu.Lock()
	o.ended++
	o.mu.Unlock()
}
func (o *countingObserver) AICall(string, string, time.Duration, tandem.Usage) {}

// hookClock is a clock that runs a hook once, at the first Now after it is armed.
type hookClock struct {
	tandem.Clock
	mu   sync.Mutex
	hook func()
}

func (c *hookClock) Now() time.Time {
	c.mu.Lock()
	hook := c.hook
	c.hook = nil
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return c.Clock.Now()
}

// A turn computed twice because another writer changed the conversation meanwhile (another
// replica, an agent) is measured once: metrics count what was committed, not the attempts.
func TestConflictRetryMeasuredOnce(t *testing.T) {
	t.Parallel()
	obs := &countingObserver{}
	hc := &hookClock{Clock: clock.NewVirtual(t0)}
	h := newHarness(t, false, func(c *runner.Config) {
		c.Observer = obs
		c.Clock = hc
	})
	h.publish(h.r, `
format: 1
id: remember
trigger: {on: message, match: any}
steps:
  - {id: keep, type: set, assign: [{target: contact.last, value: "{{message.text}}"}]}
  - {id: reply, type: message, text: "noted {{message.text}}"}
`)
	res := h.say(h.r, "dave", "m-1", "one")
	conflicts := 0
	hc.mu.Lock()
	hc.hook = func() {
		// The contact changes between the batch's read and its commit.
		conflicts++
		name := "Dave"
		if _, err := h.db.ContactUpdate(context.Background(), res.ContactID, store.ContactPatch{Name: &name}, t0); err != nil {
			t.Error(err)
		}
	}
	hc.mu.Unlock()
	h.drain(h.r)

	if conflicts != 1 {
		t.Fatalf("the hook ran %d times, want 1", conflicts)
	}
	if got, want := h.ch.texts("dave"), []string{"noted one"}; !slices.Equal(got, want) {
		t.Fatalf("bot answers = %q, want %q", got, want)
	}
	c, err := h.db.ContactGet(context.Background(), res.ContactID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Dave" || c.Attributes["last"] != "one" {
		t.Errorf("contact = name %q, attributes %v; want both the update and the flow's attribute", c.Name, c.Attributes)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.ended != 1 || obs.steps != 2 {
		t.Errorf("measured %d ended runs and %d steps, want 1 and 2 (once, though the turn was computed twice)", obs.ended, obs.steps)
	}
}

// gateObserver holds every processing worker after its commit until the gate opens.
type gateObserver struct {
	countingObserver
	gate chan struct{}
}

func (o *gateObserver) Turn(time.Duration, int) { <-o.gate }

// A burst larger than the workers (ten thousand timers due at once, a broadcast's answers)
// waits as queued entries, not as a goroutine per conversation: memory under overload stays
// flat instead of growing by a goroutine stack per busy conversation.
func TestBacklogHoldsNoGoroutinePerConversation(t *testing.T) {
	n := 600
	if testing.Short() {
		n = 200
	}
	const workers = 4
	obs := &gateObserver{gate: make(chan struct{})}
	h := newHarness(t, false, func(c *runner.Config) {
		c.Workers = workers
		c.Observer = obs
		c.Poll = time.Hour
	})
	h.publish(h.r, greetFlow)
	h.start(h.r)
	opened := false
	open := func() {
		if !opened {
			opened = true
			close(obs.gate)
		}
	}
	defer open()

	baseline := runtime.NumGoroutine()
	for i := range n {
		h.say(h.r, fmt.Sprintf("b%04d", i), fmt.Sprintf("bp%04d", i), "hi")
	}
	// Every worker is now held after its first commit; the others wait in the queue. Short-lived
	// goroutines (a query's interrupt watcher) may not have exited yet on a busy machine: the
	// count must come down to the bound while the workers are still held.
	limit := baseline + 3*workers + 8
	lowest := runtime.NumGoroutine()
	waitFor(t, scaled(10*time.Second), sprintf("%d conversations queued behind %d workers to hold at most %d goroutines (baseline %d)", n, workers, limit, baseline),
		func() bool {
			lowest = min(lowest, runtime.NumGoroutine())
			return lowest <= limit
		}, nil)
	open()
	waitFor(t, scaled(60*time.Second), sprintf("%d answers", n), func() bool { return h.ch.count() == n }, h.ch.changed)
	for i := range n {
		if got, want := h.ch.texts(fmt.Sprintf("b%04d", i)), []string{"hello hi"}; !slices.Equal(got, want) {
			t.Fatalf("customer %d got %q, want %q", i, got, want)
		}
	}
}

// lateLog records the lateness of the timers fired, in the order their turns commit.
type lateLog struct {
	mu   sync.Mutex
	late []time.Duration
}

func (*lateLog) Turn(time.Duration, int)                            {}
func (*lateLog) Step(string, time.Duration)                         {}
func (*lateLog) Effect(string, bool, time.Duration)                 {}
func (*lateLog) RunEnded(string, string)                            {}
func (*lateLog) AICall(string, string, time.Duration, tandem.Usage) {}

func (l *lateLog) TimerLate(d time.Duration) {
	l.mu.Lock()
	l.late = append(l.late, d)
	l.mu.Unlock()
}

func (l *lateLog) all() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.late...)
}

// Timers found due together (more than one write's worth, set in the reverse of the order they
// are due) fire oldest first: the timer loop takes them in due order, and with one worker their
// turns commit in that order; every one of them fires.
func TestDueTimersFireOldestFirst(t *testing.T) {
	t.Parallel()
	const n = 2*store.TimerChunk + 7
	log := &lateLog{}
	h := newHarness(t, false, func(c *runner.Config) {
		c.Workers, c.Poll = 1, time.Hour
		c.Observer = log
	})
	h.publish(h.r, `
format: 1
id: due
trigger: {on: message, match: any}
steps:
  - {id: due, type: wait, until: "{{message.text}}"}
  - {id: fired, type: message, text: "fired"}
`)
	for i := range n {
		due := t0.Add(time.Hour + time.Duration(n-i)*time.Second)
		h.say(h.r, fmt.Sprintf("d%03d", i), fmt.Sprintf("p%03d", i), due.Format(time.RFC3339))
	}
	h.drain(h.r)
	if got := rawCount(t, rawDB(t, h.db), `SELECT COUNT(*) FROM timers`); got != n {
		t.Fatalf("%d timers set, want %d", got, n)
	}
	h.vclock.Set(t0.Add(2 * time.Hour))
	h.start(h.r)
	waitFor(t, scaled(30*time.Second), sprintf("%d timers to fire", n), func() bool { return h.ch.count() == n }, h.ch.changed)
	late := log.all()
	if len(late) != n {
		t.Fatalf("%d timers fired, want %d", len(late), n)
	}
	for i := 1; i < n; i++ {
		if late[i] >= late[i-1] {
			t.Fatalf("timer %d fired %v late after one %v late: not in due order (all: %v)", i, late[i], late[i-1], late)
		}
	}
	if first, last := time.Hour-time.Second, time.Hour-n*time.Second; late[0] != first || late[n-1] != last {
		t.Errorf("lateness from %v to %v, want %v to %v", late[0], late[n-1], first, last)
	}
}
