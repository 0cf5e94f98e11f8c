package runner_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
)

// The crash test's child process is this test binary run with these variables set.
const (
	envCrashChild = "TANDEM_CRASH_CHILD" // "1" in the child
	envCrashDir   = "TANDEM_CRASH_DIR"   // the data folder
	envCrashSink  = "TANDEM_CRASH_SINK"  // the parent's loopback URL
	envCrashSeed  = "TANDEM_CRASH_SEED"  // replays a run of TestCrash
	crashAddrLine = "TANDEM_CRASH_ADDR="
)

// crashFlow answers each message at once, looks it up with a GET (an early call, made before
// the message's write when it answers in time, else handed to the outbox in flight), calls
// the parent's API with a POST, waits on a durable timer, then answers again with what the
// calls returned: sends, two calls and a timer per message.
func crashFlow(sink string) string {
	return fmt.Sprintf(`
format: 1
id: crash
trigger: {on: message, match: any}
steps:
  - {id: got, type: message, text: "got: {{message.text}}"}
  - id: lookup
    type: http
    url: "%[1]s/lookup?text={{message.text | urlencode}}"
    timeout: 5s
    retry: {attempts: 5, backoff: 100ms, on: [network, timeout, 5xx]}
    on_error: failed
  - id: call
    type: http
    method: POST
    url: "%[1]s/call"
    body: {json: {text: "{{message.text}}"}}
    timeout: 5s
    retry: {attempts: 5, backoff: 100ms, on: [network, timeout, 5xx]}
    on_error: failed
  - {id: pause, type: wait, for: 300ms}
  - {id: later, type: message, text: "later: {{message.text}} {{step.call.response.echo}} {{step.lookup.response.echo}}", next: end}
  - {id: failed, type: message, text: "failed: {{message.text}} {{step.lookup.error}} {{step.call.error}}"}
`, sink)
}

// crashDelivery is what the child's channel posts to the parent for every send attempt.
type crashDelivery struct {
	Contact string `json:"contact"`
	Key     string `json:"key"`
	Text    string `json:"text"`
}

// crashInbound is a customer message the parent posts to the child.
type crashInbound struct {
	Contact string `json:"contact"`
	ID      string `json:"id"`
	Text    string `json:"text"`
}

// sinkChannel delivers by posting to the crash test's parent.
type sinkChannel struct {
	url    string
	client *http.Client
}

func (sinkChannel) Kind() string      { return "api" }
func (sinkChannel) Caps() tandem.Caps { return tandem.Caps{Buttons: 100, List: 100, Media: true} }

func (c sinkChannel) Send(ctx context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	body, _ := json.Marshal(crashDelivery{Contact: out.Contact.ExternalID, Key: out.IdempotencyKey, Text: out.Message.Text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/deliver", bytes.NewReader(body))
	if err != nil {
		return tandem.SendResult{}, tandem.Permanent(err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return tandem.SendResult{}, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return tandem.SendResult{}, fmt.Errorf("sink: HTTP %d", resp.StatusCode)
	}
	return tandem.SendResult{ChannelMessageID: "sink-" + out.IdempotencyKey}, nil
}

// TestCrashChild is the process TestCrash kills: a runner on the wall clock over the SQLite
// database in TANDEM_CRASH_DIR, whose channel and API are the parent's loopback server, and a
// loopback endpoint taking inbound messages, answered only once they are durable. It prints
// its address, then runs until killed (or until the parent goes away: stdin closes).
func TestCrashChild(t *testing.T) {
	if os.Getenv(envCrashChild) != "1" {
		t.Skip("the child process of TestCrash; it runs only when TestCrash starts it")
	}
	dir, sink := os.Getenv(envCrashDir), os.Getenv(envCrashSink)
	ctx := context.Background()
	db, err := store.OpenDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	r := runner.New(runner.Config{
		DB:     db,
		Env:    &engine.Env{},
		Clock:  clock.Wall{},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Channel: func(string) (tandem.Channel, bool) {
			return sinkChannel{url: sink, client: &http.Client{Timeout: 5 * time.Second}}, true
		},
		HTTP: safehttp.NewClient(safehttp.Options{AllowPrivate: true}),
	})
	f := mustFlow(t, crashFlow(sink))
	if _, _, err := r.Publish(ctx, f, "yaml"); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var in crashInbound
		if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res, err := r.Inbound(req.Context(), inboundParams(in.Contact, in.ID, in.Text))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// Acknowledged only now: the message is durable.
		json.NewEncoder(w).Encode(map[string]bool{"duplicate": res.Duplicate})
	})}
	go srv.Serve(ln)
	fmt.Printf("%s%s\n", crashAddrLine, ln.Addr())

	// Run until killed; a parent that died closes stdin, and two minutes is more than any run.
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(gone)
	}()
	select {
	case <-gone:
	case <-time.After(2 * time.Minute):
	}
	os.Exit(0)
}

// crashChild is one run of the child process.
type crashChild struct {
	cmd    *exec.Cmd
	stdin  io.Closer
	addr   string
	stderr *lockedBuffer
	exited chan struct{} // closed when the process is gone
}

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// addrWriter watches a child's stdout for the line announcing its address.
type addrWriter struct {
	mu   sync.Mutex
	buf  []byte
	addr chan string
	sent bool
}

func (w *addrWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if a, ok := strings.CutPrefix(line, crashAddrLine); ok && !w.sent {
			w.sent = true
			w.addr <- a
		}
	}
	return len(p), nil
}

// startCrashChild starts the child on dir and waits for its address.
func startCrashChild(ctx context.Context, dir, sink string) (*crashChild, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), envCrashChild+"=1", envCrashDir+"="+dir, envCrashSink+"="+sink)
	out := &addrWriter{addr: make(chan string, 1)}
	c := &crashChild{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, c.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	c.stdin = stdin
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		cmd.Wait()
		close(c.exited)
	}()
	select {
	case c.addr = <-out.addr:
		return c, nil
	case <-c.exited:
		c.stdin.Close()
		return nil, fmt.Errorf("the child exited before it started (%v):\n%s", cmd.ProcessState, c.stderr)
	case <-ctx.Done():
		c.kill()
		return nil, fmt.Errorf("the child did not start: %w\n%s", ctx.Err(), c.stderr)
	}
}

// kill ends the child with SIGKILL and waits for it.
func (c *crashChild) kill() {
	c.cmd.Process.Kill()
	<-c.exited
	c.stdin.Close()
}

// crashSink is the parent's loopback server: the child's channel (/deliver) and API (/call).
type crashSink struct {
	// latency, when set, is how long a request takes: a real provider and API are not
	// instantaneous, which leaves sends and calls in flight when a kill lands.
	latency    func(path string) time.Duration
	mu         sync.Mutex
	deliveries []crashDelivery
	calls      map[string][]string // text → Idempotency-Key of every call
	lookups    map[string]int      // text → GET lookups made (made again after a kill before the write)
	signal     chan struct{}
}

func newCrashSink() *crashSink {
	return &crashSink{calls: map[string][]string{}, lookups: map[string]int{}, signal: make(chan struct{})}
}

func (s *crashSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.latency != nil {
		select {
		case <-time.After(s.latency(r.URL.Path)):
		case <-r.Context().Done():
			return
		}
	}
	switch r.URL.Path {
	case "/deliver":
		var d crashDelivery
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		close(s.signal)
		s.signal = make(chan struct{})
		s.mu.Unlock()
	case "/call":
		var body struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.calls[body.Text] = append(s.calls[body.Text], r.Header.Get("Idempotency-Key"))
		s.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"echo": "call-" + body.Text})
	case "/lookup":
		text := r.URL.Query().Get("text")
		s.mu.Lock()
		s.lookups[text]++
		s.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"echo": "look-" + text})
	default:
		http.NotFound(w, r)
	}
}

func (s *crashSink) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signal
}

// distinct returns, per contact, the texts in the order they first arrived, and the keys seen
// per (contact, text).
func (s *crashSink) snapshot() (order map[string][]string, keys map[string]map[string]bool, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	order, keys = map[string][]string{}, map[string]map[string]bool{}
	for _, d := range s.deliveries {
		id := d.Contact + "\x00" + d.Text
		if keys[id] == nil {
			keys[id] = map[string]bool{}
			order[d.Contact] = append(order[d.Contact], d.Text)
		}
		keys[id][d.Key] = true
	}
	return order, keys, len(s.deliveries)
}

// crashSupervisor owns the current child: it restarts it and lets senders wait for a new one.
type crashSupervisor struct {
	dir, sink string
	mu        sync.Mutex
	child     *crashChild
	gen       int
	up        chan struct{} // closed when a child is up; replaced on kill
	restarts  atomic.Int32
}

// current returns the live child's address and generation, waiting for one to be up.
func (s *crashSupervisor) current(ctx context.Context) (string, int, error) {
	for {
		s.mu.Lock()
		c, gen, up := s.child, s.gen, s.up
		s.mu.Unlock()
		if c != nil {
			return c.addr, gen, nil
		}
		select {
		case <-up:
		case <-ctx.Done():
			return "", 0, ctx.Err()
		}
	}
}

func (s *crashSupervisor) start(ctx context.Context) error {
	c, err := startCrashChild(ctx, s.dir, s.sink)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.child = c
	s.gen++
	close(s.up)
	s.mu.Unlock()
	return nil
}

// killChild kills the live child with SIGKILL; its output is returned for the log.
func (s *crashSupervisor) killChild() string {
	s.mu.Lock()
	c := s.child
	s.child = nil
	s.up = make(chan struct{})
	s.mu.Unlock()
	if c == nil {
		return ""
	}
	c.kill()
	return c.stderr.String()
}

// TestCrash kills the runner's process with SIGKILL at random moments during a stream of
// conversations, restarts it on the same data folder, re-sends every inbound message that was
// not acknowledged (same provider id), and checks invariants 1 and 2 end to end: nothing
// acknowledged is lost (every message gets both its replies), every timer fires (every
// "later" reply arrives), every call is made with one key, and nothing is sent twice with
// different keys: a reply delivered more than once (a send in flight at a kill) always carries
// the same idempotency key; at the end the database holds no queued event, effect or timer and
// every run completed. Invariant 3 is checked too: each conversation's replies first arrive in
// the order of its messages. TANDEM_CRASH_SEED=n repeats a run's random choices
// (kill moments, pacing, latencies; the scheduling of goroutines still varies).
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test starts and kills processes for several seconds; run without -short")
	}
	if os.Getenv(envCrashChild) == "1" {
		t.Skip("in the child process")
	}
	const (
		convs    = 30
		perConv  = 5
		minKills = 10
		maxKills = 20
	)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envCrashSeed); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envCrashSeed, s, err)
		}
		seed = n
	}
	t.Logf("seed %d (replay with %s=%d)", seed, envCrashSeed, seed)
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var rndMu sync.Mutex
	randBetween := func(lo, hi time.Duration) time.Duration {
		rndMu.Lock()
		defer rndMu.Unlock()
		return lo + time.Duration(rnd.Int64N(int64(hi-lo)+1))
	}

	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), scaled(60*time.Second))
	defer cancel()
	sink := newCrashSink()
	sink.latency = func(path string) time.Duration {
		switch path {
		case "/call":
			return randBetween(0, 100*time.Millisecond)
		case "/lookup":
			// Early calls answer within 200 ms or are handed to the outbox in flight.
			return randBetween(0, 300*time.Millisecond)
		}
		return randBetween(0, 30*time.Millisecond)
	}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	sup := &crashSupervisor{dir: filepath.Join(t.TempDir(), "data"), sink: srv.URL, up: make(chan struct{})}
	if err := sup.start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if out := sup.killChild(); t.Failed() && out != "" {
			t.Logf("last child's stderr:\n%s", out)
		}
	}()

	// Senders: one goroutine per conversation sends its messages in order, each until it is
	// acknowledged, through whichever child is up, with random gaps so kills land among them.
	client := &http.Client{Timeout: 3 * time.Second}
	var acked, resent, dupAcks atomic.Int32
	var sendWG sync.WaitGroup
	sendErrs := make(chan error, convs)
	for c := range convs {
		sendWG.Go(func() {
			contact := fmt.Sprintf("c%02d", c)
			for i := range perConv {
				in := crashInbound{Contact: contact, ID: fmt.Sprintf("%s-p%d", contact, i), Text: fmt.Sprintf("%s-m%d", contact, i)}
				dup, tries, err := postInbound(ctx, client, sup, in)
				if err != nil {
					sendErrs <- fmt.Errorf("%s: %w", in.ID, err)
					return
				}
				acked.Add(1)
				resent.Add(int32(tries - 1))
				if dup {
					dupAcks.Add(1)
				}
				select {
				case <-time.After(randBetween(0, scaled(600*time.Millisecond))): // pacing, not synchronisation
				case <-ctx.Done():
					return
				}
			}
		})
	}
	sendsDone := make(chan struct{})
	go func() { sendWG.Wait(); close(sendsDone) }()

	// Every message must produce "got: m" and "later: m call-m".
	expected := convs * perConv * 2
	complete := func() bool {
		_, keys, _ := sink.snapshot()
		return len(keys) >= expected
	}

	// The killer: SIGKILL at random moments until every message is acknowledged and answered
	// (at least minKills times, at most maxKills), so kills land among inbound messages,
	// sends, calls and timers alike.
	kills := 0
	var killLog []string
	var atKills work // what the dead process left to do, summed over the kills
	var downtime time.Duration
killing:
	for kills < maxKills {
		select {
		case <-sendsDone:
			if kills >= minKills && complete() {
				break killing
			}
		default:
		}
		wait := randBetween(scaled(150*time.Millisecond), scaled(600*time.Millisecond))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			t.Fatalf("deadline during the kills: %v", ctx.Err())
		}
		if out := sup.killChild(); strings.Contains(out, "level=ERROR") || strings.Contains(out, "DATA RACE") {
			killLog = append(killLog, out)
		}
		kills++
		restartBegan := time.Now()
		w := pendingWork(t, sup.dir)
		atKills.timers += w.timers
		atKills.effects += w.effects
		atKills.events += w.events
		if err := sup.start(ctx); err != nil {
			t.Fatal(err)
		}
		downtime += time.Since(restartBegan)
	}
	select {
	case <-sendsDone:
	case <-ctx.Done():
		t.Fatalf("the senders did not finish: %v", ctx.Err())
	}
	close(sendErrs)
	for err := range sendErrs {
		t.Fatal(err)
	}
	stoppedKilling := time.Since(began)

	// After the last restart, wait for every reply.
	want := map[string][]string{}
	for c := range convs {
		contact := fmt.Sprintf("c%02d", c)
		for i := range perConv {
			text := fmt.Sprintf("%s-m%d", contact, i)
			want[contact] = append(want[contact], "got: "+text, "later: "+text+" call-"+text+" look-"+text)
		}
	}
	deadline, _ := ctx.Deadline()
	waitFor(t, time.Until(deadline), sprintf("all %d replies", expected), complete, sink.changed)

	// The process left nothing half-done: no queued event, effect or timer, and every run
	// (one per message) completed.
	waitFor(t, time.Until(deadline), "the database to have nothing left to do",
		func() bool { return pendingWork(t, sup.dir) == work{} }, sink.changed)
	if runs, done := crashRuns(t, sup.dir); runs != convs*perConv || done != runs {
		t.Errorf("runs: %d, %d completed; want %d, all completed", runs, done, convs*perConv)
	}

	order, keys, total := sink.snapshot()
	for contact, w := range want {
		if got := order[contact]; !slices.Equal(got, w) {
			t.Errorf("%s: replies in order of first arrival\n got %q\nwant %q", contact, got, w)
		}
	}
	byKey := map[string]string{}
	for id, ks := range keys {
		if len(ks) != 1 {
			t.Errorf("reply %q delivered with %d different keys %v: the same reply was produced twice", strings.ReplaceAll(id, "\x00", ": "), len(ks), ks)
		}
		for k := range ks {
			if prev, ok := byKey[k]; ok && prev != id {
				t.Errorf("key %s delivered with two contents: %q and %q", k, prev, id)
			}
			byKey[k] = id
		}
	}
	sink.mu.Lock()
	calls, callDups := 0, 0
	for text, ks := range sink.calls {
		calls++
		callDups += len(ks) - 1
		for _, k := range ks {
			if k == "" || k != ks[0] {
				t.Errorf("call for %q made with keys %q, want one key", text, ks)
				break
			}
		}
	}
	lookups, lookupRepeats := len(sink.lookups), 0
	for _, n := range sink.lookups {
		lookupRepeats += n - 1
	}
	sink.mu.Unlock()
	if lookups != convs*perConv {
		t.Errorf("lookups made for %d messages, want %d", lookups, convs*perConv)
	}
	if calls != convs*perConv {
		t.Errorf("calls made for %d messages, want %d", calls, convs*perConv)
	}
	if atKills.timers == 0 {
		t.Errorf("no kill left a timer waiting: the test did not exercise timers across a crash")
	}
	for _, out := range killLog {
		if strings.Contains(out, "DATA RACE") {
			t.Errorf("a child found a data race:\n%s", out)
			continue
		}
		t.Logf("a child logged errors:\n%s", out)
	}
	t.Logf("%d conversations × %d messages: %d kills, %d inbound acknowledged (%d re-sent after a kill, %d recognised as duplicates), "+
		"%d deliveries of %d replies (%d duplicates, same key), %d calls with %d repeats (same key), %d lookups with %d repeats; left by the killed processes: "+
		"%d timers, %d effects, %d events; restarts took %v on average; kills over after %v, all done after %v",
		convs, perConv, kills, acked.Load(), resent.Load(), dupAcks.Load(), total, expected, total-expected, calls, callDups, lookups, lookupRepeats,
		atKills.timers, atKills.effects, atKills.events, (downtime / time.Duration(max(kills, 1))).Round(time.Millisecond),
		stoppedKilling.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// work counts what a dead child left in its database.
type work struct{ timers, effects, events int }

// crashDB opens the child's database read-only, for a moment.
func crashDB(tb testing.TB, dir string) *sql.DB {
	tb.Helper()
	u := (&url.URL{Scheme: "file", Path: filepath.Join(dir, "tandem.db")}).String() + "?mode=ro&_pragma=busy_timeout(10000)"
	raw, err := sql.Open("sqlite", u)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// crashRuns counts the runs and the completed ones.
func crashRuns(tb testing.TB, dir string) (runs, completed int) {
	tb.Helper()
	raw := crashDB(tb, dir)
	defer raw.Close()
	err := raw.QueryRow(`SELECT COUNT(*), COUNT(*) FILTER (WHERE status = ?) FROM runs`, tandem.RunCompleted).Scan(&runs, &completed)
	if err != nil {
		tb.Fatalf("runs: %v", err)
	}
	return runs, completed
}

// pendingWork reads what the child's database holds to do: between a kill and the restart,
// what the dead process left.
func pendingWork(tb testing.TB, dir string) work {
	tb.Helper()
	raw := crashDB(tb, dir)
	defer raw.Close()
	var w work
	err := raw.QueryRow(`SELECT (SELECT COUNT(*) FROM timers), (SELECT COUNT(*) FROM outbox WHERE status = 'pending'), (SELECT COUNT(*) FROM events)`).
		Scan(&w.timers, &w.effects, &w.events)
	if err != nil {
		tb.Fatalf("the killed process's database cannot be read: %v", err)
	}
	return w
}

// postInbound posts a message to the live child until one acknowledges it, across kills: an
// error or a non-200 answer means "not acknowledged", so it is sent again, with the same id.
func postInbound(ctx context.Context, client *http.Client, sup *crashSupervisor, in crashInbound) (duplicate bool, tries int, err error) {
	body, _ := json.Marshal(in)
	for {
		tries++
		addr, gen, err := sup.current(ctx)
		if err != nil {
			return false, tries, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/inbound", bytes.NewReader(body))
		resp, err := client.Do(req)
		if err == nil {
			var ack struct{ Duplicate bool }
			derr := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&ack)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && derr == nil {
				return ack.Duplicate, tries, nil
			}
		}
		if ctx.Err() != nil {
			return false, tries, ctx.Err()
		}
		// Not acknowledged: wait for the next child, or retry this one shortly (a refused
		// connection while a child is being killed).
		sup.mu.Lock()
		same := sup.gen == gen && sup.child != nil
		up := sup.up
		sup.mu.Unlock()
		if same {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				return false, tries, ctx.Err()
			}
			continue
		}
		select {
		case <-up:
		case <-ctx.Done():
			return false, tries, ctx.Err()
		}
	}
}
