package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apichannel "github.com/tandemchat/tandem/channel/api"
	"github.com/tandemchat/tandem/store/storetest"
)

// The crash harness: `tandem serve` replicas on one PostgreSQL, conversations driven by an
// at-least-once client (it retries on errors and timeouts with the same message id, on another
// replica), replicas killed with SIGKILL (and started again) while the work runs, and a judge
// that counts what was lost, duplicated, stuck or out of order, and how long after the last kill
// every reply was out. TestReplicaKillRecovery runs it small in every `go test`; TestSoak runs it
// large (TANDEM_SOAK=1, in CI).

// soakFlow answers each message at once, calls the business's API (retrying), waits on a
// durable timer, answers again with what the call returned, then waits for the next message:
// per message two sends, an HTTP call and a timer.
func soakFlow(sink string) string {
	return `format: 1
id: soak
name: Soak
trigger: {on: message, match: any}
steps:
  - {id: remember, type: set, assign: [{target: var.text, value: "{{message.text}}"}]}
  - {id: got, type: message, text: "got {{var.text}}"}
  - id: call
    type: http
    method: POST
    url: "` + sink + `/call"
    body: {json: {text: "{{var.text}}"}}
    timeout: 5s
    retry: {attempts: 6, backoff: 200ms, on: [network, timeout, 5xx]}
    on_error: failed
  - {id: pause, type: wait, for: 300ms}
  - {id: later, type: message, text: "later {{var.text}} {{step.call.response.echo}}"}
  - {id: next, type: wait, or_message: true, on_message: remember, next: end}
  - {id: failed, type: message, text: "failed {{var.text}}: {{step.call.error}}", next: next}
`
}

const soakSecret = "soak-channel-secret"

// soakConfig sizes a run.
type soakConfig struct {
	conversations int
	messages      int // per conversation, each after the previous one's ack or replies
	kills         int // SIGKILLs while messages are being sent
	killEvery     time.Duration
	restart       bool // a killed replica is started again (as a new process)
	// holdFirstKill makes the first kill land mid-send: the victim's deliveries are held
	// unanswered from a moment before, and it is killed once one is held.
	holdFirstKill bool
	deadline      time.Duration // bounds the whole run
	recoverWithin time.Duration // every reply out within this of the last kill
}

// ---- the business: outbound endpoint and API ----

// soakDelivery is one POST to an outbound URL that was answered 200.
type soakDelivery struct {
	from    string // the replica process (outbound path) that delivered it
	contact string
	text    string
	key     string
	at      time.Time
}

// soakSink is the business's side: the API channel's outbound endpoint (one path per replica
// process, so that it knows who delivered) and the API the flow calls.
type soakSink struct {
	notifier
	deliveries []soakDelivery
	first      map[string]time.Time // contact + "\x00" + text → first delivery
	problems   []string
	hold       map[string]bool // replica processes whose deliveries are held unanswered
	held       []soakDelivery
	calls      map[string]int // Idempotency-Key of /call → how many times
	done       chan struct{}  // closed at the end: held requests return
}

func newSoakSink() *soakSink {
	return &soakSink{notifier: newNotifier(), first: map[string]time.Time{}, hold: map[string]bool{}, calls: map[string]int{},
		done: make(chan struct{})}
}

func (s *soakSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	switch {
	case r.URL.Path == "/call":
		var in struct {
			Text string `json:"text"`
		}
		json.Unmarshal(body, &in)
		s.mu.Lock()
		s.calls[r.Header.Get("Idempotency-Key")]++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"echo": %q}`, "e-"+in.Text)
	case strings.HasPrefix(r.URL.Path, "/outbound/"):
		d := soakDelivery{from: strings.TrimPrefix(r.URL.Path, "/outbound/"), key: r.Header.Get("Idempotency-Key")}
		var out apichannel.Outbound
		problem := ""
		switch {
		case !apichannel.Verify(soakSecret, body, r.Header.Get(apichannel.SignatureHeader)):
			problem = "bad signature on " + string(body)
		case json.Unmarshal(body, &out) != nil:
			problem = "not JSON: " + string(body)
		case d.key == "":
			problem = "no Idempotency-Key on " + string(body)
		}
		d.contact, d.text = out.Contact.ExternalID, out.Message.Text
		s.mu.Lock()
		if s.hold[d.from] {
			// Held: never answered, so not delivered; the sender dies with it in flight.
			s.held = append(s.held, d)
			s.wake()
			s.mu.Unlock()
			select {
			case <-r.Context().Done():
			case <-s.done:
			}
			return
		}
		d.at = time.Now()
		if problem != "" {
			s.problems = append(s.problems, problem)
		} else {
			s.deliveries = append(s.deliveries, d)
			if _, ok := s.first[d.contact+"\x00"+d.text]; !ok {
				s.first[d.contact+"\x00"+d.text] = d.at
			}
		}
		s.wake()
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

func (s *soakSink) delivered(contact, text string) bool {
	_, ok := s.first[contact+"\x00"+text]
	return ok
}

// ---- the replicas ----

// soakCluster is the replicas: each slot runs one process at a time; a killed one may be started
// again as a new process (a new generation, with an outbound path of its own).
type soakCluster struct {
	t      *testing.T
	dbURL  string
	cfg    string
	sink   string
	mu     sync.Mutex
	procs  []*replica // nil while the slot is down
	names  []string   // the slot's current process name (outbound path)
	gens   []int
	killed map[string]bool // process names that were SIGKILLed
}

func (c *soakCluster) start(ctx context.Context, slot int) error {
	c.mu.Lock()
	c.gens[slot]++
	name := fmt.Sprintf("r%dg%d", slot, c.gens[slot])
	c.mu.Unlock()
	r := startReplicaEnv(c.t, c.dbURL, []string{"SOAK_OUTBOUND=" + c.sink + "/outbound/" + name},
		"serve", "--config", c.cfg, "--addr", "127.0.0.1:0", "--log-format", "json", "--data", c.t.TempDir())
	if err := r.waitServing(ctx, 30*time.Second); err != nil {
		return fmt.Errorf("replica %s: %w", name, err)
	}
	c.mu.Lock()
	c.procs[slot], c.names[slot] = r, name
	c.mu.Unlock()
	return nil
}

// kill SIGKILLs the slot's process and waits for it to be gone.
func (c *soakCluster) kill(slot int) string {
	c.mu.Lock()
	r, name := c.procs[slot], c.names[slot]
	c.procs[slot] = nil
	c.killed[name] = true
	c.mu.Unlock()
	r.cmd.Process.Kill()
	<-r.exited
	return name
}

// live returns the base URLs of the running replicas.
func (c *soakCluster) live() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.procs {
		if r != nil {
			out = append(out, r.base)
		}
	}
	return out
}

func (c *soakCluster) running() []*replica {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*replica
	for _, r := range c.procs {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// ---- the at-least-once client ----

// soakClient sends customer messages until one is acknowledged: on an error, a timeout, a 5xx
// or a 429 it tries again, with the same message id, on a replica chosen again.
type soakClient struct {
	cluster *soakCluster
	token   string
	http    *http.Client
	retries atomic.Int64
}

func (cl *soakClient) send(ctx context.Context, contact, text string) (string, error) {
	body, _ := json.Marshal(map[string]any{"contact": map[string]any{"external_id": contact}, "message": map[string]any{"id": text, "text": text}})
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		live := cl.cluster.live()
		if len(live) > 0 {
			base := live[rand.IntN(len(live))]
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/channels/api/messages", strings.NewReader(string(body)))
			req.Header.Set("Authorization", "Bearer "+cl.token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := cl.http.Do(req)
			if err == nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
					var out struct {
						ConversationID string `json:"conversation_id"`
					}
					if json.Unmarshal(b, &out) != nil || out.ConversationID == "" {
						return "", fmt.Errorf("%s: acknowledgement %s has no conversation_id", text, b)
					}
					return out.ConversationID, nil
				case resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
					return "", fmt.Errorf("%s: answered %d %s", text, resp.StatusCode, b)
				}
			}
		}
		cl.retries.Add(1)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("%s: not acknowledged after %d attempts: %w", text, attempt, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// ---- the run ----

func soakContact(c int) string  { return fmt.Sprintf("soak-c%03d", c) }
func soakText(c, k int) string  { return fmt.Sprintf("c%03d-m%d", c, k+1) }
func soakGot(c, k int) string   { return "got " + soakText(c, k) }
func soakLater(c, k int) string { return "later " + soakText(c, k) + " e-" + soakText(c, k) }

// soakReport is what a run found.
type soakReport struct {
	Conversations, Messages, Replies, Calls, Kills int
	ClientRetries                                  int64
	Lost, Duplicated, OutOfOrder, Stuck            int
	RedeliveredSends, RedeliveredCalls             int // the same Idempotency-Key again, after a kill
	HeldTakeover                                   time.Duration
	RecoverAfterLastKill                           time.Duration
	Took                                           time.Duration
	Problems                                       []string
}

func (r soakReport) String() string {
	return fmt.Sprintf("%d conversations, %d messages (%d client retries), %d replies, %d HTTP calls, %d SIGKILLs: "+
		"lost %d, duplicated %d, out of order %d, stuck %d; redelivered after a kill (same Idempotency-Key): %d sends, %d calls; "+
		"held sends taken over in %s; every reply out %s after the last kill; took %s",
		r.Conversations, r.Messages, r.ClientRetries, r.Replies, r.Calls, r.Kills, r.Lost, r.Duplicated, r.OutOfOrder, r.Stuck,
		r.RedeliveredSends, r.RedeliveredCalls, r.HeldTakeover.Round(10*time.Millisecond), r.RecoverAfterLastKill.Round(10*time.Millisecond), r.Took.Round(time.Second))
}

// runSoak runs the harness with cfg on two replicas and judges the outcome.
func runSoak(t *testing.T, cfg soakConfig) soakReport {
	dbURL := storetest.PostgresURL(t) // skips without TANDEM_TEST_POSTGRES_URL
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.deadline)
	defer cancel()
	sink := newSoakSink()
	srv := httptest.NewServer(sink)
	t.Cleanup(func() { close(sink.done); srv.Close() })

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "flows"), 0o700); err != nil {
		t.Fatal(err)
	}
	ws := "workspace: {name: Soak}\nflows: ./flows\nhttp: {allow: [\"127.0.0.1\"]}\nchannels:\n  - {id: api, kind: api, outbound_url: \"${SOAK_OUTBOUND}\", secret: " + soakSecret + "}\n"
	os.WriteFile(filepath.Join(dir, "tandem.yaml"), []byte(ws), 0o600)
	os.WriteFile(filepath.Join(dir, "flows", "soak.yaml"), []byte(soakFlow(srv.URL)), 0o600)
	cl := &soakCluster{t: t, dbURL: dbURL, cfg: filepath.Join(dir, "tandem.yaml"), sink: srv.URL,
		procs: make([]*replica, 2), names: make([]string, 2), gens: make([]int, 2), killed: map[string]bool{}}
	token := cli{env: map[string]string{"TANDEM_DATABASE_URL": dbURL}}.token(t, t.TempDir()) // migrates the schema
	for slot := range 2 {
		if err := cl.start(ctx, slot); err != nil {
			t.Fatal(err)
		}
	}
	client := &soakClient{cluster: cl, token: token, http: &http.Client{Timeout: 5 * time.Second}}
	rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), 7))
	modes := make([][]int, cfg.conversations)
	for c := range modes {
		for range cfg.messages {
			modes[c] = append(modes[c], rng.IntN(3))
		}
	}

	// The conversations, all at once, each sending its messages in order.
	var acked atomic.Int64
	convs := make([]string, cfg.conversations)
	errs := make(chan error, cfg.conversations)
	var senders sync.WaitGroup
	for c := range cfg.conversations {
		senders.Go(func() {
			for k := range cfg.messages {
				if k > 0 {
					var want string
					switch modes[c][k] {
					case 1:
						want = soakGot(c, k-1)
					case 2:
						want = soakLater(c, k-1)
					}
					if want != "" && !sink.await(ctx, func() bool { return sink.delivered(soakContact(c), want) }) {
						errs <- fmt.Errorf("conversation %d: %q never delivered, so message %d was not sent", c, want, k+1)
						return
					}
				}
				conv, err := client.send(ctx, soakContact(c), soakText(c, k))
				if err != nil {
					errs <- fmt.Errorf("conversation %d: %w", c, err)
					return
				}
				if convs[c] == "" {
					convs[c] = conv
				} else if convs[c] != conv {
					errs <- fmt.Errorf("conversation %d: message %d went to conversation %s, the first to %s", c, k+1, conv, convs[c])
				}
				acked.Add(1)
			}
		})
	}

	// The killer: a replica every killEvery while messages are being sent, never both at once.
	total := int64(cfg.conversations * cfg.messages)
	var lastKill time.Time
	var heldAt time.Time
	var heldTexts []string
	kills := 0
	for n := range cfg.kills {
		pace := time.NewTimer(cfg.killEvery)
		select {
		case <-pace.C:
		case <-ctx.Done():
			pace.Stop()
		}
		if ctx.Err() != nil || acked.Load() >= total {
			break
		}
		slot := n % 2
		if len(cl.live()) < 2 {
			continue // never both at once
		}
		if cfg.holdFirstKill && n == 0 {
			cl.mu.Lock()
			victim := cl.names[slot]
			cl.mu.Unlock()
			sink.mu.Lock()
			sink.hold[victim] = true
			sink.mu.Unlock()
			hctx, hcancel := context.WithTimeout(ctx, 20*time.Second)
			if !sink.await(hctx, func() bool { return len(sink.held) > 0 }) {
				t.Logf("no delivery of %s was held within 20s; killing it anyway", victim)
			}
			hcancel()
			sink.mu.Lock()
			for _, d := range sink.held {
				heldTexts = append(heldTexts, d.contact+"\x00"+d.text)
			}
			sink.mu.Unlock()
		}
		name := cl.kill(slot)
		lastKill = time.Now()
		if heldAt.IsZero() {
			heldAt = lastKill
		}
		kills++
		t.Logf("SIGKILL %s at %s (%d of %d messages acknowledged)", name, lastKill.Sub(start).Round(time.Millisecond), acked.Load(), total)
		if cfg.restart {
			if err := cl.start(ctx, slot); err != nil {
				t.Fatal(err)
			}
		}
	}
	senders.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Every reply out, then nothing left in the outbox.
	expected := func() (missing []string) {
		for c := range cfg.conversations {
			for k := range cfg.messages {
				for _, text := range []string{soakGot(c, k), soakLater(c, k)} {
					if !sink.delivered(soakContact(c), text) {
						missing = append(missing, soakContact(c)+": "+text)
					}
				}
			}
		}
		return missing
	}
	wctx, wcancel := context.WithTimeout(ctx, cfg.recoverWithin+30*time.Second)
	sink.await(wctx, func() bool { return len(expected()) == 0 })
	wcancel()
	live := cl.running()
	if len(live) == 0 {
		t.Fatal("no replica is running at the end")
	}
	// The checks after the run have time of their own, even when the run used all of its.
	jctx, jcancel := context.WithTimeout(context.Background(), time.Minute)
	defer jcancel()
	hc := &http.Client{Timeout: 10 * time.Second}
	if err := live[0].awaitOutboxEmpty(jctx, hc, 20*time.Second); err != nil {
		t.Error(err)
	}

	// Judge, on a copy of what the business saw.
	sink.mu.Lock()
	seen := soakSeen{deliveries: slices.Clone(sink.deliveries), problems: slices.Clone(sink.problems),
		first: maps.Clone(sink.first), calls: maps.Clone(sink.calls)}
	sink.mu.Unlock()
	cl.mu.Lock()
	seen.killed = maps.Clone(cl.killed)
	cl.mu.Unlock()
	rep := judgeSoak(cfg, seen)
	rep.Kills, rep.ClientRetries = kills, client.retries.Load()
	var lastFirst time.Time
	for _, at := range seen.first {
		if at.After(lastFirst) {
			lastFirst = at
		}
	}
	// Stuck: every conversation's run must wait for the next message at the flow's last wait.
	stuck := soakStuck(jctx, live[0].base, token, convs)
	rep.Stuck = len(stuck)
	rep.Problems = append(rep.Problems, stuck...)
	if !lastKill.IsZero() && !lastFirst.IsZero() {
		rep.RecoverAfterLastKill = max(0, lastFirst.Sub(lastKill))
	}
	for _, ht := range heldTexts {
		if at, ok := seen.first[ht]; ok {
			rep.HeldTakeover = max(rep.HeldTakeover, at.Sub(heldAt))
		}
	}
	rep.Took = time.Since(start)
	if len(rep.Problems) > 0 {
		for _, p := range firstN(rep.Problems, 40) {
			t.Error(p)
		}
		replicaLogs(t, cl.running())
	}
	if !lastKill.IsZero() && rep.Lost == 0 && rep.RecoverAfterLastKill > cfg.recoverWithin {
		t.Errorf("the last reply came out %s after the last kill, want at most %s", rep.RecoverAfterLastKill, cfg.recoverWithin)
	}
	return rep
}

// soakSeen is what the business saw in a run.
type soakSeen struct {
	deliveries []soakDelivery       // answered deliveries, in arrival order
	problems   []string             // deliveries that broke the channel's contract
	first      map[string]time.Time // contact + "\x00" + text → first delivery
	calls      map[string]int       // Idempotency-Key of an HTTP call → times made
	killed     map[string]bool      // replica processes that were SIGKILLed
}

// judgeSoak counts what was lost, duplicated and out of order among the replies of cfg's
// conversations (each message's "got" and "later" replies, in the messages' order), and the
// redeliveries after kills: the same Idempotency-Key again is a redelivery when the first copy
// came from a process that was killed (it may have died before recording it), a duplicate
// otherwise; the same reply under two keys is always a duplicate.
func judgeSoak(cfg soakConfig, seen soakSeen) soakReport {
	rep := soakReport{Conversations: cfg.conversations, Messages: cfg.conversations * cfg.messages,
		Replies: len(seen.first), Calls: len(seen.calls), Problems: slices.Clone(seen.problems)}
	var missing []string
	for c := range cfg.conversations {
		for k := range cfg.messages {
			for _, text := range []string{soakGot(c, k), soakLater(c, k)} {
				if _, ok := seen.first[soakContact(c)+"\x00"+text]; !ok {
					missing = append(missing, soakContact(c)+": "+text)
				}
			}
		}
	}
	rep.Lost = len(missing)
	if len(missing) > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d replies never delivered: %q", len(missing), firstN(missing, 20)))
	}
	byContact := map[string][]soakDelivery{}
	keys := map[string][]soakDelivery{}
	for _, d := range seen.deliveries {
		byContact[d.contact] = append(byContact[d.contact], d)
		keys[d.key] = append(keys[d.key], d)
	}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		ds := keys[key]
		if len(ds) < 2 {
			continue
		}
		if seen.killed[ds[0].from] {
			rep.RedeliveredSends += len(ds) - 1 // in flight when its sender was killed: at least once
			continue
		}
		rep.Duplicated++
		rep.Problems = append(rep.Problems, fmt.Sprintf("Idempotency-Key %s delivered %d times by %q, the first never killed: a send carried out twice", key, len(ds), froms(ds)))
	}
	for c := range cfg.conversations {
		contact := soakContact(c)
		var want []string
		for k := range cfg.messages {
			want = append(want, soakGot(c, k), soakLater(c, k))
		}
		var order []string
		textKeys := map[string][]string{}
		for _, d := range byContact[contact] {
			if !slices.Contains(textKeys[d.text], d.key) {
				textKeys[d.text] = append(textKeys[d.text], d.key)
			}
			if !slices.Contains(order, d.text) {
				order = append(order, d.text)
			}
		}
		for _, text := range order {
			if len(textKeys[text]) > 1 {
				rep.Duplicated++
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %q sent as %d different effects: a duplicate reply", contact, text, len(textKeys[text])))
			}
			if !slices.Contains(want, text) {
				rep.Duplicated++
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: unexpected reply %q", contact, text))
			}
		}
		got := slices.DeleteFunc(slices.Clone(order), func(s string) bool { return !slices.Contains(want, s) })
		if !slices.Equal(got, want[:len(got)]) {
			rep.OutOfOrder++
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: replies in the order %q, want %q", contact, got, want))
		}
	}
	for _, n := range seen.calls {
		rep.RedeliveredCalls += n - 1
	}
	return rep
}

func froms(ds []soakDelivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.from)
	}
	return out
}

func firstN(ss []string, n int) []string {
	if len(ss) > n {
		return append(ss[:n:n], fmt.Sprintf("… and %d more", len(ss)-n))
	}
	return ss
}

// soakStuck returns a problem for each conversation whose run does not wait for the next
// message at the flow's last wait.
func soakStuck(ctx context.Context, base, token string, convs []string) []string {
	var out []string
	client := &http.Client{Timeout: 10 * time.Second}
	for i, id := range convs {
		if id == "" {
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/conversations/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			out = append(out, fmt.Sprintf("conversation %d: %v", i, err))
			continue
		}
		var c struct {
			ActiveRun *struct {
				Status string `json:"status"`
				Step   string `json:"step"`
				Reason string `json:"reason"`
			} `json:"active_run"`
			LastRun *struct {
				Status string `json:"status"`
				Reason string `json:"reason"`
			} `json:"last_run"`
		}
		json.NewDecoder(resp.Body).Decode(&c)
		resp.Body.Close()
		if c.ActiveRun == nil || c.ActiveRun.Status != "waiting" || c.ActiveRun.Step != "next" {
			out = append(out, fmt.Sprintf("conversation %d (%s) is stuck: active run %+v, last run %+v", i, id, c.ActiveRun, c.LastRun))
		}
	}
	return out
}

// One of two replicas is killed with SIGKILL while it delivers a reply (the business holds the
// delivery unanswered, so the send is claimed and in flight): the other replica takes the dead
// one's claimed sends, unprocessed events and fired timers over within seconds — not after a
// 15-minute lease — and every reply comes out once, in order, with nothing stuck. Before the
// heartbeat leases, the held send and every later reply of its conversation waited 15 minutes.
func TestReplicaKillRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes on PostgreSQL; skipped with -short")
	}
	// Not parallel: with TestReplicas beside it, four replicas' connection pools would take
	// most of a default PostgreSQL's 100 connections.
	rep := runSoak(t, soakConfig{conversations: 20, messages: 6, kills: 1, killEvery: time.Second,
		holdFirstKill: true, deadline: 2 * time.Minute, recoverWithin: 20 * time.Second})
	t.Logf("kill recovery: %s", rep)
	if rep.Kills != 1 {
		t.Errorf("%d kills, want 1: the test did not test a kill", rep.Kills)
	}
	if rep.HeldTakeover == 0 {
		t.Error("no held send was delivered after the kill: the kill was not mid-send")
	}
}

// The soak test (the crash harness): hundreds of conversations with replies, timers and
// HTTP calls on two replicas, an at-least-once client, and repeated SIGKILLs with restarts.
// Nothing may be lost, duplicated, stuck or out of order, and every reply must be out within 30 s
// of the last kill. TANDEM_SOAK=1 runs it (CI does); TANDEM_SOAK_CONVERSATIONS and
// TANDEM_SOAK_KILLS size it.
func TestSoak(t *testing.T) {
	if os.Getenv("TANDEM_SOAK") == "" {
		t.Skip("the soak test runs with TANDEM_SOAK=1 (and TANDEM_TEST_POSTGRES_URL)")
	}
	cfg := soakConfig{conversations: 400, messages: 8, kills: 12, killEvery: 3 * time.Second, restart: true,
		holdFirstKill: true, deadline: 8 * time.Minute, recoverWithin: 30 * time.Second}
	if n, err := strconv.Atoi(os.Getenv("TANDEM_SOAK_CONVERSATIONS")); err == nil && n > 0 {
		cfg.conversations = n
	}
	if n, err := strconv.Atoi(os.Getenv("TANDEM_SOAK_KILLS")); err == nil && n >= 0 {
		cfg.kills = n
	}
	rep := runSoak(t, cfg)
	t.Logf("soak: %s", rep)
	b, _ := json.Marshal(map[string]any{"conversations": rep.Conversations, "messages": rep.Messages, "replies": rep.Replies,
		"calls": rep.Calls, "kills": rep.Kills, "client_retries": rep.ClientRetries, "lost": rep.Lost, "duplicated": rep.Duplicated,
		"out_of_order": rep.OutOfOrder, "stuck": rep.Stuck, "redelivered_sends": rep.RedeliveredSends, "redelivered_calls": rep.RedeliveredCalls,
		"held_takeover_s": rep.HeldTakeover.Seconds(), "recover_after_last_kill_s": rep.RecoverAfterLastKill.Seconds(), "took_s": rep.Took.Seconds()})
	fmt.Printf("soak report: %s\n", b)
}

// The soak's judge finds each kind of fault it is there to find, and takes a redelivery by a
// killed process for what it is.
func TestJudgeSoak(t *testing.T) {
	t.Parallel()
	cfg := soakConfig{conversations: 3, messages: 2}
	good := func() soakSeen {
		seen := soakSeen{first: map[string]time.Time{}, calls: map[string]int{}, killed: map[string]bool{"r0g1": true}}
		at := time.Unix(0, 0)
		for c := range cfg.conversations {
			for k := range cfg.messages {
				for i, text := range []string{soakGot(c, k), soakLater(c, k)} {
					at = at.Add(time.Millisecond)
					d := soakDelivery{from: "r1g1", contact: soakContact(c), text: text, key: fmt.Sprintf("k%d-%d-%d", c, k, i), at: at}
					seen.deliveries = append(seen.deliveries, d)
					seen.first[d.contact+"\x00"+text] = at
				}
				seen.calls[fmt.Sprintf("call-%d-%d", c, k)] = 1
			}
		}
		return seen
	}
	tests := []struct {
		name   string
		change func(*soakSeen)
		check  func(soakReport) bool
	}{
		{"every reply once in order", func(*soakSeen) {}, func(r soakReport) bool { return len(r.Problems) == 0 && r.Replies == 12 && r.Calls == 6 }},
		{"a lost reply", func(s *soakSeen) {
			s.deliveries = s.deliveries[:len(s.deliveries)-1]
			delete(s.first, soakContact(2)+"\x00"+soakLater(2, 1))
		}, func(r soakReport) bool { return r.Lost == 1 }},
		{"redelivered by a killed process", func(s *soakSeen) {
			s.deliveries[0].from = "r0g1"
			s.deliveries = append(s.deliveries, s.deliveries[0])
			s.calls["call-0-0"] = 2
		}, func(r soakReport) bool {
			return len(r.Problems) == 0 && r.RedeliveredSends == 1 && r.RedeliveredCalls == 1
		}},
		{"sent twice by a live process", func(s *soakSeen) { s.deliveries = append(s.deliveries, s.deliveries[3]) },
			func(r soakReport) bool { return r.Duplicated == 1 }},
		{"a reply sent as two effects", func(s *soakSeen) {
			d := s.deliveries[1]
			d.key = "another"
			s.deliveries = append(s.deliveries, d)
		}, func(r soakReport) bool { return r.Duplicated == 1 }},
		{"replies out of order", func(s *soakSeen) { s.deliveries[4], s.deliveries[5] = s.deliveries[5], s.deliveries[4] },
			func(r soakReport) bool { return r.OutOfOrder == 1 }},
		{"an unexpected reply", func(s *soakSeen) {
			s.deliveries = append(s.deliveries, soakDelivery{from: "r1g1", contact: soakContact(0), text: "failed c000-m1", key: "f"})
		}, func(r soakReport) bool { return r.Duplicated == 1 }},
	}
	for _, tt := range tests {
		seen := good()
		tt.change(&seen)
		if rep := judgeSoak(cfg, seen); !tt.check(rep) {
			t.Errorf("%s: judged %s, problems %q", tt.name, rep, rep.Problems)
		}
	}
}
