package runner_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// t0 is where virtual clocks start.
var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// mustFlow parses a flow document or fails the test.
func mustFlow(tb testing.TB, src string) *flow.Flow {
	tb.Helper()
	f, findings := flow.Parse("test.yaml", []byte(src))
	if f == nil {
		tb.Fatalf("flow does not parse: %v", findings)
	}
	return f
}

// openDB opens (creating) the migrated SQLite database in dir; it is closed at cleanup.
func openDB(tb testing.TB, dir string) *store.DB {
	tb.Helper()
	return storetest.OpenSQLite(tb, filepath.Join(dir, "tandem.db"))
}

// rawDB opens a read-only connection pool of its own to a store's SQLite file, for checks the
// store has no method for (timer rows); it is closed at cleanup.
func rawDB(tb testing.TB, db *store.DB) *sql.DB {
	tb.Helper()
	u := (&url.URL{Scheme: "file", Path: filepath.Clean(db.Path())}).String() + "?mode=ro&_pragma=busy_timeout(10000)"
	raw, err := sql.Open("sqlite", u)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

// rawCount runs a COUNT query on a raw connection.
func rawCount(tb testing.TB, raw *sql.DB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := raw.QueryRow(query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// sleepLog is a runner Sleep that records the delays asked for and returns at once.
type sleepLog struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepLog) delays() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

// sent is one message a fake channel delivered.
type sent struct {
	Conversation string
	Contact      string
	Key          string
	MessageID    string
	Text         string
}

// fakeChannel records deliveries. hook, when set, runs before each attempt; an error it returns
// fails the attempt (as a provider outage would).
type fakeChannel struct {
	mu        sync.Mutex
	delivered []sent
	attempts  []sent
	hook      func(ctx context.Context, out tandem.Outbound) error
	signal    chan struct{} // closed and replaced at every attempt
}

func newFakeChannel() *fakeChannel { return &fakeChannel{signal: make(chan struct{})} }

func (c *fakeChannel) Kind() string      { return "api" }
func (c *fakeChannel) Caps() tandem.Caps { return tandem.Caps{Buttons: 100, List: 100, Media: true} }

func (c *fakeChannel) Send(ctx context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	s := sent{Conversation: out.Conversation.ID, Key: out.IdempotencyKey, MessageID: out.Message.ID, Text: out.Message.Text}
	if out.Contact != nil {
		s.Contact = out.Contact.ExternalID
	}
	c.mu.Lock()
	hook := c.hook
	c.attempts = append(c.attempts, s)
	c.mu.Unlock()
	var err error
	if hook != nil {
		err = hook(ctx, out)
	}
	c.mu.Lock()
	if err == nil {
		c.delivered = append(c.delivered, s)
	}
	close(c.signal)
	c.signal = make(chan struct{})
	c.mu.Unlock()
	if err != nil {
		return tandem.SendResult{}, err
	}
	return tandem.SendResult{ChannelMessageID: "ch-" + out.IdempotencyKey}, nil
}

func (c *fakeChannel) setHook(h func(ctx context.Context, out tandem.Outbound) error) {
	c.mu.Lock()
	c.hook = h
	c.mu.Unlock()
}

// changed returns a channel closed at the next attempt.
func (c *fakeChannel) changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.signal
}

func (c *fakeChannel) all() []sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sent(nil), c.delivered...)
}

func (c *fakeChannel) tries() []sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sent(nil), c.attempts...)
}

// texts returns the texts delivered to a contact, in order.
func (c *fakeChannel) texts(contact string) []string {
	var out []string
	for _, s := range c.all() {
		if s.Contact == contact {
			out = append(out, s.Text)
		}
	}
	return out
}

func (c *fakeChannel) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.delivered)
}

// scaled stretches a duration for -race builds, which run several times slower; deadlines and
// the crash test's pacing use it so that they bound hangs, not speed.
func scaled(d time.Duration) time.Duration {
	if raceEnabled {
		return 5 * d
	}
	return d
}

// waitFor waits until cond holds, re-checking whenever signal fires (if given) and every few
// milliseconds, and fails the test at the deadline.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool, signal func() <-chan struct{}) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		var sig <-chan struct{}
		if signal != nil {
			sig = signal()
		}
		if cond() {
			return
		}
		select {
		case <-sig:
		case <-tick.C:
		case <-deadline.C:
			if cond() {
				return
			}
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// harness is a runner on a real SQLite database in a temporary folder.
type harness struct {
	t      *testing.T
	dir    string
	db     *store.DB
	clock  tandem.Clock
	vclock *clock.Virtual // nil with the wall clock
	ch     *fakeChannel
	sleeps *sleepLog
	r      *runner.Runner
}

type harnessOpt func(*runner.Config)

// newHarness builds a runner with a virtual clock at t0 (wall: the wall clock).
func newHarness(t *testing.T, wall bool, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), ch: newFakeChannel(), sleeps: &sleepLog{}}
	h.db = openDB(t, h.dir)
	if wall {
		h.clock = clock.Wall{}
	} else {
		h.vclock = clock.NewVirtual(t0)
		h.clock = h.vclock
	}
	h.r = h.newRunner(opts...)
	return h
}

// newRunner returns another runner on the harness's database (a restarted process).
func (h *harness) newRunner(opts ...harnessOpt) *runner.Runner {
	cfg := runner.Config{
		DB:      h.db,
		Env:     &engine.Env{},
		Clock:   h.clock,
		Channel: func(string) (tandem.Channel, bool) { return h.ch, true },
		HTTP:    safehttp.NewClient(safehttp.Options{AllowPrivate: true}),
		Sleep:   h.sleeps.sleep,
		Poll:    50 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return runner.New(cfg)
}

// start starts r's workers and stops them at cleanup.
func (h *harness) start(r *runner.Runner) {
	h.t.Helper()
	if err := r.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Stop(ctx)
	})
}

func (h *harness) publish(r *runner.Runner, src string) int {
	h.t.Helper()
	v, _, err := r.Publish(context.Background(), mustFlow(h.t, src), "yaml")
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// inboundParams is a customer text with a provider message id.
func inboundParams(contact, providerID, text string) store.InboundParams {
	return store.InboundParams{
		ChannelID: "api", ChannelKind: "api",
		Contact: tandem.Contact{ExternalID: contact},
		Message: tandem.Message{Type: tandem.MessageText, Text: text, ChannelMessageID: providerID},
	}
}

func (h *harness) say(r *runner.Runner, contact, providerID, text string) store.InboundResult {
	h.t.Helper()
	res, err := r.Inbound(context.Background(), inboundParams(contact, providerID, text))
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) drain(r *runner.Runner) {
	h.t.Helper()
	if err := r.Drain(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// outboxDepth returns how many effects are pending.
func (h *harness) outboxDepth() int {
	h.t.Helper()
	n, _, err := h.db.OutboxStats(context.Background(), h.clock.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// state returns a conversation's engine state.
func (h *harness) state(convID string) (*store.ConversationInfo, *engine.State) {
	h.t.Helper()
	info, err := h.db.ConversationGet(context.Background(), convID)
	if err != nil {
		h.t.Fatal(err)
	}
	st, err := runner.State(info)
	if err != nil {
		h.t.Fatal(err)
	}
	return info, st
}

// messages returns a conversation's stored messages of one direction ("" for all), as texts.
func (h *harness) messages(convID, direction string) []tandem.Message {
	h.t.Helper()
	ms, err := h.db.Messages(context.Background(), store.MessagesParams{ConversationID: convID, Limit: 10000})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []tandem.Message
	for _, m := range ms {
		if direction == "" || m.Direction == direction {
			out = append(out, m)
		}
	}
	return out
}

func withPrefix(texts []string, prefix string) []string {
	var out []string
	for _, s := range texts {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// logSink is a slog handler that keeps the messages of the records it gets.
type logSink struct {
	mu     sync.Mutex
	msgs   []string
	signal chan struct{}
}

func newLogSink() *logSink { return &logSink{signal: make(chan struct{})} }

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logSink) WithGroup(string) slog.Handler            { return l }

func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	close(l.signal)
	l.signal = make(chan struct{})
	return nil
}

func (l *logSink) changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.signal
}

// has reports whether a record's message contains s.
func (l *logSink) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// errTransient is what a fake provider outage returns.
var errTransient = errors.New("provider unavailable (test)")

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
