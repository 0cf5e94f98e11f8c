package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apichannel "github.com/tandemchat/tandem/channel/api"
	"github.com/tandemchat/tandem/store/storetest"
)

// A replica is this test binary run again with these variables set: it runs `tandem serve`
// through Main, as the real binary does, in a process of its own.
const (
	envReplicaChild = "TANDEM_REPLICA_CHILD" // "1" in a replica
	envReplicaArgs  = "TANDEM_REPLICA_ARGS"  // the command line, as a JSON list
	envReplicaSeed  = "TANDEM_REPLICA_SEED"  // replays a run of TestReplicas
)

// The workload: conversations in parallel, each sending its messages one after the other.
const (
	replicaConversations = 20
	replicaMessages      = 6
	replicaSecret        = "s"
)

// replicaFlow answers every message at once, waits on a durable timer, then answers again; it
// then waits for the next message (a message that came during the timer was kept, and is taken
// here at once). Each message makes two sends and one timer.
const replicaFlow = `format: 1
id: replica
name: Replica
trigger: {on: message, match: any}
steps:
  - {id: remember, type: set, assign: [{target: var.text, value: "{{message.text}}"}]}
  - {id: got, type: message, text: "got {{var.text}}"}
  - {id: pause, type: wait, for: 300ms}
  - {id: later, type: message, text: "later {{var.text}}"}
  - {id: next, type: wait, or_message: true, on_message: remember, next: end}
`

// When a conversation sends its next message, relative to the previous one: each lands on the
// run in a different place (kept during the timer, or taken by the waiting step).
const (
	afterAck   = iota // as soon as the previous message was acknowledged
	afterGot          // once the previous message's "got" reply was delivered (the run is in its timer)
	afterLater        // once its "later" reply was delivered (the run waits for a message)
)

var replicaModes = []string{"after-ack", "after-got", "after-later"}

// Several replicas (the words): two `tandem serve` processes on one PostgreSQL, the
// messages of the same conversations sent to both at random. Per conversation the replies go
// out in the order of the messages, each timer fires once (each "later" reply is sent once),
// nothing is sent twice, and both replicas did the work.
//
// TANDEM_REPLICA_SEED=<seed> replays the random choices of a run (the seed is logged).
func TestReplicas(t *testing.T) {
	if os.Getenv(envReplicaChild) == "1" {
		replicaMain() // never returns
	}
	if testing.Short() {
		t.Skip("starts two server processes on PostgreSQL; skipped with -short")
	}
	t.Parallel()
	dbURL := storetest.PostgresURL(t) // skips without TANDEM_TEST_POSTGRES_URL
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envReplicaSeed); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envReplicaSeed, s, err)
		}
		seed = n
	}
	t.Logf("seed %d (replay with %s=%d)", seed, envReplicaSeed, seed)
	plan := newReplicaPlan(seed)

	sink := newReplicaSink(replicaSecret)
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)

	cfg := writeReplicaWorkspace(t, srv.URL+"/outbound")
	token := cli{env: map[string]string{"TANDEM_DATABASE_URL": dbURL}}.token(t, t.TempDir()) // migrates the schema

	// Both replicas start together from the same configuration, as a deployment starts them.
	replicas := []*replica{
		startReplica(t, dbURL, "serve", "--config", cfg, "--addr", "127.0.0.1:0", "--log-format", "json", "--data", t.TempDir()),
		startReplica(t, dbURL, "serve", "--config", cfg, "--addr", "127.0.0.1:0", "--log-format", "json", "--data", t.TempDir()),
	}
	for i, r := range replicas {
		if err := r.waitServing(ctx, 30*time.Second); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	t.Logf("replicas %s and %s serving after %s", replicas[0].base, replicas[1].base, time.Since(start).Round(time.Millisecond))

	// The conversations, in parallel; each one's messages in order.
	sendStart := time.Now()
	client := &http.Client{Timeout: 15 * time.Second}
	acks := make([][]replicaAck, replicaConversations)
	errs := make(chan error, replicaConversations)
	var wg sync.WaitGroup
	for c := range replicaConversations {
		wg.Go(func() {
			for k := range replicaMessages {
				if k > 0 {
					if err := sink.awaitPrevious(ctx, c, k-1, plan.mode[c][k]); err != nil {
						errs <- err
						return
					}
				}
				r := plan.replica[c][k]
				ack, err := replicas[r].say(ctx, client, token, replicaContact(c), replicaText(c, k))
				if err != nil {
					errs <- fmt.Errorf("conversation %d message %d to replica %d: %w", c, k+1, r, err)
					return
				}
				ack.replica = r
				acks[c] = append(acks[c], ack)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		replicaLogs(t, replicas)
		t.FailNow()
	}
	t.Logf("%d messages acknowledged in %s", replicaConversations*replicaMessages, time.Since(sendStart).Round(time.Millisecond))

	// Every reply comes out, and the outbox is empty: nothing is left to send twice.
	if err := sink.awaitAll(ctx, 60*time.Second); err != nil {
		t.Error(err)
	}
	if err := replicas[0].awaitOutboxEmpty(ctx, client, 20*time.Second); err != nil {
		t.Error(err)
	}
	t.Logf("every reply delivered %s after the first message", time.Since(sendStart).Round(time.Millisecond))
	stats := make([]replicaStats, len(replicas))
	for i, r := range replicas {
		st, err := r.stats(ctx, client)
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
		stats[i] = st
	}
	// Stopped (SIGTERM: in-flight work finishes) before the deliveries are judged, so that a
	// late second send cannot arrive after the checks.
	stopStart := time.Now()
	for i, r := range replicas {
		if code, err := r.stop(20 * time.Second); err != nil || code != 0 {
			t.Errorf("replica %d: stop: exit %d, %v", i, code, err)
		}
	}
	t.Logf("replicas stopped in %s", time.Since(stopStart).Round(time.Millisecond))

	for _, p := range checkReplicaDeliveries(sink.snapshot(), acks) {
		t.Error(p)
	}
	for i, st := range stats {
		t.Logf("replica %d: acknowledged %d messages, %v sends, %v timers fired, %v turns", i, plan.count(i), st.sends, st.timers, st.turns)
		if st.sends == 0 {
			t.Errorf("replica %d carried out no send: the replicas did not share the outbox", i)
		}
		if st.turns == 0 {
			t.Errorf("replica %d processed no turn", i)
		}
	}
	if timers, want := stats[0].timers+stats[1].timers, float64(replicaConversations*replicaMessages); timers != want {
		// Each timer fires once and its event is measured when its turn commits (a turn
		// recomputed after a conflict between replicas is not measured twice).
		t.Errorf("the replicas handled %v timer events, want %v (one per message)", timers, want)
	}
	if t.Failed() {
		replicaLogs(t, replicas)
	}
	t.Logf("took %s", time.Since(start).Round(time.Millisecond))
}

// replicaMain is a replica process: `tandem serve` through Main until SIGTERM, or until the test
// that started it goes away (its stdin closes).
func replicaMain() {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(envReplicaArgs)), &args); err != nil {
		fmt.Fprintf(os.Stderr, "replica: %s: %v\n", envReplicaArgs, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	os.Exit(NewMain(strings.NewReader(""), os.Stdout, os.Stderr).Run(ctx, args))
}

// replicaPlan is the random part of a run, drawn from its seed: which replica each message goes
// to, and when it is sent.
type replicaPlan struct {
	replica [replicaConversations][replicaMessages]int
	mode    [replicaConversations][replicaMessages]int
}

func newReplicaPlan(seed uint64) *replicaPlan {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	p := &replicaPlan{}
	for c := range replicaConversations {
		for k := range replicaMessages {
			p.replica[c][k] = rng.IntN(2)
			p.mode[c][k] = rng.IntN(len(replicaModes))
		}
	}
	return p
}

// count is how many messages go to replica i.
func (p *replicaPlan) count(i int) int {
	n := 0
	for c := range replicaConversations {
		for k := range replicaMessages {
			if p.replica[c][k] == i {
				n++
			}
		}
	}
	return n
}

func replicaContact(c int) string  { return fmt.Sprintf("replica-c%02d", c) }
func replicaText(c, k int) string  { return fmt.Sprintf("c%02d-m%d", c, k+1) }
func replicaGot(c, k int) string   { return "got " + replicaText(c, k) }
func replicaLater(c, k int) string { return "later " + replicaText(c, k) }
func replicaContactIndex(s string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "replica-c"))
	if err != nil || !strings.HasPrefix(s, "replica-c") || n < 0 || n >= replicaConversations {
		return -1
	}
	return n
}

// replicaWant is the replies of conversation c in the order the flow sends them.
func replicaWant(c int) []string {
	var want []string
	for k := range replicaMessages {
		want = append(want, replicaGot(c, k), replicaLater(c, k))
	}
	return want
}

// writeReplicaWorkspace writes the replicas' shared tandem.yaml: the API channel posting to
// outbound, and the flows folder with replicaFlow.
func writeReplicaWorkspace(t *testing.T, outbound string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "flows"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("workspace: {name: Replicas}\nflows: ./flows\nchannels:\n  - {id: api, kind: api, outbound_url: %q, secret: %s}\n", outbound, replicaSecret)
	if err := os.WriteFile(filepath.Join(dir, "tandem.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "flows", "replica.yaml"), []byte(replicaFlow), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "tandem.yaml")
}

// ---- the replica processes ----

// replica is a running `tandem serve` process.
type replica struct {
	cmd    *exec.Cmd
	stdin  io.Closer
	stderr *output
	base   string
	exited chan struct{} // closed when the process is gone
}

// startReplica starts a replica on the database at dbURL; it is stopped when the test ends.
func startReplica(t *testing.T, dbURL string, args ...string) *replica {
	t.Helper()
	return startReplicaEnv(t, dbURL, nil, args...)
}

// startReplicaEnv is startReplica with more environment variables ("NAME=value").
func startReplicaEnv(t *testing.T, dbURL string, env []string, args ...string) *replica {
	t.Helper()
	a, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplicas$", "-test.count=1", "-test.timeout=30m")
	cmd.Env = append(append(os.Environ(), envReplicaChild+"=1", envReplicaArgs+"="+string(a), "TANDEM_DATABASE_URL="+dbURL), env...)
	cmd.Dir = t.TempDir()
	r := &replica{cmd: cmd, stderr: newOutput(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, r.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		if _, err := r.stop(20 * time.Second); err != nil {
			t.Errorf("replica: %v", err)
		}
	})
	return r
}

var replicaServingRE = regexp.MustCompile(`"msg":"tandem is serving".*?"addr":"([^"]+)"|(?m)^tandem: .*$`)

// waitServing waits for the log line that tells the replica's address.
func (r *replica) waitServing(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		r.stderr.mu.Lock()
		m := replicaServingRE.FindStringSubmatch(r.stderr.buf.String())
		changed := r.stderr.changed
		r.stderr.mu.Unlock()
		if m != nil {
			if m[1] == "" {
				return fmt.Errorf("serve failed: %s", m[0])
			}
			r.base = "http://" + m[1]
			return nil
		}
		select {
		case <-changed:
		case <-r.exited:
			return fmt.Errorf("exited (%v) before serving:\n%s", r.cmd.ProcessState, r.stderr.String())
		case <-ctx.Done():
			return fmt.Errorf("not serving after %s:\n%s", d, r.stderr.String())
		}
	}
}

// stop sends SIGTERM and waits up to d for the process to end, then kills it. It returns the
// exit code; stopping twice is harmless.
func (r *replica) stop(d time.Duration) (int, error) {
	defer r.stdin.Close()
	select {
	case <-r.exited:
		return r.cmd.ProcessState.ExitCode(), nil
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
		return r.cmd.ProcessState.ExitCode(), nil
	case <-time.After(d):
	}
	// SIGQUIT makes the Go runtime print every goroutine: where the shutdown is stuck.
	before := len(r.stderr.String())
	r.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
	return -1, fmt.Errorf("did not stop within %s of SIGTERM; its goroutines at SIGQUIT:\n%s", d, r.stderr.String()[before:])
}

// replicaAck is a message the replica acknowledged.
type replicaAck struct {
	replica        int
	conversationID string
}

// say sends a customer message to the replica's API channel; only a 202 is an acknowledgement.
func (r *replica) say(ctx context.Context, client *http.Client, token, contact, text string) (replicaAck, error) {
	body, _ := json.Marshal(map[string]any{
		"contact": map[string]any{"external_id": contact},
		"message": map[string]any{"id": text, "text": text},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+"/api/v1/channels/api/messages", strings.NewReader(string(body)))
	if err != nil {
		return replicaAck{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return replicaAck{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusAccepted {
		return replicaAck{}, fmt.Errorf("answered %d %s, want 202", resp.StatusCode, b)
	}
	var out struct {
		ConversationID string `json:"conversation_id"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.ConversationID == "" {
		return replicaAck{}, fmt.Errorf("acknowledgement %s: no conversation_id (%v)", b, err)
	}
	return replicaAck{conversationID: out.ConversationID}, nil
}

// replicaStats is what a replica's /metrics says it did itself.
type replicaStats struct {
	sends, timers, turns float64
	outboxDepth          float64 // of the shared database
}

func (r *replica) stats(ctx context.Context, client *http.Client) (replicaStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/metrics", nil)
	if err != nil {
		return replicaStats{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return replicaStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return replicaStats{}, fmt.Errorf("/metrics answered %d", resp.StatusCode)
	}
	var st replicaStats
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name := line[:i]
		switch {
		case strings.HasPrefix(name, "tandem_effects_total{") && strings.Contains(name, `kind="send"`):
			st.sends += v
		case name == "tandem_timer_lateness_seconds_count":
			st.timers += v
		case name == "tandem_turns_total":
			st.turns += v
		case name == "tandem_outbox_depth":
			st.outboxDepth = v
		}
	}
	return st, sc.Err()
}

// awaitOutboxEmpty waits until no effect is pending in the shared outbox.
func (r *replica) awaitOutboxEmpty(ctx context.Context, client *http.Client, d time.Duration) error {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := r.stats(ctx, client)
		if err == nil && st.outboxDepth == 0 {
			return nil
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return fmt.Errorf("the outbox still holds %v effects %s after every reply arrived (last error: %v)", st.outboxDepth, d, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// replicaLogs prints the replicas' warnings and errors, and the end of their logs.
func replicaLogs(t *testing.T, replicas []*replica) {
	t.Helper()
	for i, r := range replicas {
		log := r.stderr.String()
		var notable []string
		for line := range strings.Lines(log) {
			if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
				notable = append(notable, strings.TrimSpace(line))
			}
		}
		if len(notable) > 20 {
			notable = append(notable[:20], fmt.Sprintf("… and %d more", len(notable)-20))
		}
		tail := log
		if len(tail) > 4000 {
			tail = "…" + tail[len(tail)-4000:]
		}
		t.Logf("replica %d (%s): warnings and errors:\n%s\nlog tail:\n%s", i, r.base, strings.Join(notable, "\n"), tail)
	}
}

// ---- the business's endpoint ----

// replicaDelivery is one POST to the outbound URL.
type replicaDelivery struct {
	contact        string
	conversationID string
	messageID      string
	key            string
	text           string
	problem        string // a bad signature or body
}

// replicaSink is the business's endpoint: it records every delivery in arrival order and
// wakes those waiting for one.
type replicaSink struct {
	notifier
	secret     string
	deliveries []replicaDelivery
	texts      map[string]bool // contact + "\x00" + text, delivered at least once
}

func newReplicaSink(secret string) *replicaSink {
	return &replicaSink{secret: secret, texts: map[string]bool{}, notifier: newNotifier()}
}

// notifier guards what a fake endpoint records (mu) and wakes those waiting for a change.
type notifier struct {
	mu      sync.Mutex
	changed chan struct{}
}

func newNotifier() notifier { return notifier{changed: make(chan struct{})} }

// wake tells the waiters that something changed; the caller holds mu.
func (n *notifier) wake() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// await waits until cond holds (checked under mu at every change) or ctx ends.
func (n *notifier) await(ctx context.Context, cond func() bool) bool {
	for {
		n.mu.Lock()
		ok := cond()
		changed := n.changed
		n.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

func (s *replicaSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d := replicaDelivery{key: r.Header.Get("Idempotency-Key")}
	var out apichannel.Outbound
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/outbound":
		d.problem = fmt.Sprintf("%s %s, want POST /outbound", r.Method, r.URL.Path)
	case !apichannel.Verify(s.secret, body, r.Header.Get(apichannel.SignatureHeader)):
		d.problem = fmt.Sprintf("bad signature %q on %s", r.Header.Get(apichannel.SignatureHeader), body)
	case json.Unmarshal(body, &out) != nil:
		d.problem = fmt.Sprintf("body is not JSON: %s", body)
	case d.key == "":
		d.problem = fmt.Sprintf("no Idempotency-Key on %s", body)
	}
	d.contact, d.conversationID, d.messageID, d.text = out.Contact.ExternalID, out.ConversationID, out.Message.ID, out.Message.Text
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	if d.problem == "" {
		s.texts[d.contact+"\x00"+d.text] = true
	}
	s.wake()
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// awaitPrevious waits, for conversation c, until message k may be followed as mode says.
func (s *replicaSink) awaitPrevious(ctx context.Context, c, k, mode int) error {
	var text string
	switch mode {
	case afterAck:
		return nil
	case afterGot:
		text = replicaGot(c, k)
	case afterLater:
		text = replicaLater(c, k)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if !s.await(ctx, func() bool { return s.texts[replicaContact(c)+"\x00"+text] }) {
		return fmt.Errorf("conversation %d: %q never delivered (%s)", c, text, replicaModes[mode])
	}
	return nil
}

// awaitAll waits until every reply of every conversation was delivered at least once.
func (s *replicaSink) awaitAll(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	missing := func() []string {
		var m []string
		for c := range replicaConversations {
			for _, text := range replicaWant(c) {
				if !s.texts[replicaContact(c)+"\x00"+text] {
					m = append(m, text)
				}
			}
		}
		return m
	}
	if s.await(ctx, func() bool { return len(missing()) == 0 }) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := missing()
	return fmt.Errorf("%d replies not delivered within %s: %q", len(m), d, m)
}

func (s *replicaSink) snapshot() []replicaDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// checkReplicaDeliveries judges what the endpoint received, in arrival order, against the
// acknowledged messages; it returns the problems found, each naming the conversation.
func checkReplicaDeliveries(deliveries []replicaDelivery, acks [][]replicaAck) []string {
	var problems []string
	per := make([][]replicaDelivery, replicaConversations)
	for _, d := range deliveries {
		if d.problem != "" {
			problems = append(problems, "outbound: "+d.problem)
			continue
		}
		c := replicaContactIndex(d.contact)
		if c < 0 {
			problems = append(problems, fmt.Sprintf("outbound to an unknown contact %q: %q", d.contact, d.text))
			continue
		}
		per[c] = append(per[c], d)
	}
	for c, ds := range per {
		name := fmt.Sprintf("conversation %d (%s)", c, replicaContact(c))
		// One conversation per contact, whichever replica took its messages.
		convs := map[string]bool{}
		for _, a := range acks[c] {
			convs[a.conversationID] = true
		}
		for _, d := range ds {
			convs[d.conversationID] = true
		}
		if len(convs) != 1 {
			problems = append(problems, fmt.Sprintf("%s: its messages and replies name %d conversations %v, want one", name, len(convs), slices.Sorted(maps.Keys(convs))))
		}
		// Each delivery (Idempotency-Key) arrives once; each reply is one delivery.
		byKey, keysByText := map[string][]string{}, map[string][]string{}
		var order []string // texts in the order they first arrived
		for _, d := range ds {
			if !slices.Contains(keysByText[d.text], d.key) {
				keysByText[d.text] = append(keysByText[d.text], d.key)
			}
			byKey[d.key] = append(byKey[d.key], d.text)
			if !slices.Contains(order, d.text) {
				order = append(order, d.text)
			}
		}
		for key, texts := range byKey {
			if len(texts) > 1 {
				problems = append(problems, fmt.Sprintf("%s: Idempotency-Key %s delivered %d times (%q): a send carried out twice", name, key, len(texts), texts))
			}
		}
		want := replicaWant(c)
		for _, text := range order {
			if keys := keysByText[text]; len(keys) > 1 {
				problems = append(problems, fmt.Sprintf("%s: %q sent as %d different effects %q: a duplicate outbound message", name, text, len(keys), keys))
			}
			if !slices.Contains(want, text) {
				problems = append(problems, fmt.Sprintf("%s: unexpected reply %q", name, text))
			}
		}
		for _, text := range want {
			if len(keysByText[text]) == 0 {
				what := "reply"
				if strings.HasPrefix(text, "later ") {
					what = "reply after the timer (the timer did not fire)"
				}
				problems = append(problems, fmt.Sprintf("%s: %s %q never delivered", name, what, text))
			}
		}
		// The flow's order: got m1, later m1, got m2, later m2, … — so the "got" replies come in
		// the order of the messages and each "later" after its "got".
		if !slices.Equal(order, want) {
			var gots []string
			for _, text := range order {
				if strings.HasPrefix(text, "got ") {
					gots = append(gots, text)
				}
			}
			problems = append(problems, fmt.Sprintf("%s: replies arrived in the order\n  %q\nwant\n  %q\n(\"got\" replies in order %q; messages acknowledged by replicas %v)",
				name, order, want, gots, ackReplicas(acks[c])))
		}
	}
	return problems
}

func ackReplicas(acks []replicaAck) []int {
	var out []int
	for _, a := range acks {
		out = append(out, a.replica)
	}
	return out
}

// The judge of TestReplicas finds each kind of fault it is there to find.
func TestCheckReplicaDeliveries(t *testing.T) {
	t.Parallel()
	// good is every reply of every conversation once, in the flow's order, with its acks.
	good := func() ([]replicaDelivery, [][]replicaAck) {
		var ds []replicaDelivery
		acks := make([][]replicaAck, replicaConversations)
		for c := range replicaConversations {
			conv := fmt.Sprintf("conv-%d", c)
			for i, text := range replicaWant(c) {
				ds = append(ds, replicaDelivery{contact: replicaContact(c), conversationID: conv, key: fmt.Sprintf("k-%d-%d", c, i), text: text})
			}
			for k := range replicaMessages {
				acks[c] = append(acks[c], replicaAck{replica: k % 2, conversationID: conv})
			}
		}
		return ds, acks
	}
	tests := []struct {
		name   string
		change func(ds []replicaDelivery, acks [][]replicaAck) []replicaDelivery
		want   string // a problem matching this, or none when empty
	}{
		{"every reply once in order", func(ds []replicaDelivery, _ [][]replicaAck) []replicaDelivery { return ds }, ""},
		{"a send carried out twice", func(ds []replicaDelivery, _ [][]replicaAck) []replicaDelivery { return append(ds, ds[3]) }, `conversation 0 .*Idempotency-Key k-0-3 delivered 2 times`},
		{"a reply sent twice", func(ds []replicaDelivery, _ [][]replicaAck) []replicaDelivery {
			d := ds[2]
			d.key = "other"
			return append(ds, d)
		}, `conversation 0 .*"got c00-m2" sent as 2 different effects`},
		{"replies out of order", func(ds []replicaDelivery, _ [][]replicaAck) []replicaDelivery {
			ds[14], ds[16] = ds[16], ds[14] // conversation 1: got m2 and got m3
			return ds
		}, `(?s)conversation 1 .*replies arrived in the order.*"got c01-m3".*"got c01-m2"`},
		{"a timer that did not fire", func(ds []replicaDelivery, _ [][]replicaAck) []replicaDelivery {
			return slices.DeleteFunc(ds, func(d replicaDelivery) bool { return d.text == "later c05-m6" })
		}, `conversation 5 .*"later c05-m6" never delivered`},
		{"two conversations for one contact", func(ds []replicaDelivery, acks [][]replicaAck) []replicaDelivery {
			acks[7][4].conversationID = "conv-other"
			return ds
		}, `conversation 7 .*2 conversations`},
		{"a bad signature", func(ds []replicaDelivery, _ [][]replicaAck) []replicaDelivery {
			ds[0].problem = "bad signature"
			return ds
		}, `outbound: bad signature`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, acks := good()
			got := checkReplicaDeliveries(tt.change(ds, acks), acks)
			if tt.want == "" {
				if len(got) > 0 {
					t.Errorf("problems %q, want none", got)
				}
				return
			}
			re := regexp.MustCompile(tt.want)
			if !slices.ContainsFunc(got, re.MatchString) {
				t.Errorf("problems %q, want one matching %q", got, tt.want)
			}
		})
	}
}
