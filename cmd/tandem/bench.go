package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemchat/tandem"
	apichannel "github.com/tandemchat/tandem/channel/api"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
)

// benchOptions are `tandem bench`'s flags.
type benchOptions struct {
	Duration    time.Duration
	Concurrency int
	Baseline    bool
	JSON        bool
	Waiting     int
	Due         int
	// MemProfile, when set, is where W2 writes a heap profile once its conversations wait.
	MemProfile string
	// FireProfile, when set, is where W2 writes a CPU profile of its timers' firing alone.
	FireProfile string
	// Rate, when set, paces W1 at that many turns a second instead of its two phases (CPU per
	// turn at a fixed load compares builds on a busy machine).
	Rate float64
	// Streams is how many idle connections W3 opens; LongPoll makes them API long-polls
	// instead of widget event streams.
	Streams  int
	LongPoll bool
	// Replicas is how many servers W1 runs on one PostgreSQL, its customers split among them.
	Replicas int
}

// runBench is `tandem bench w1|w2|w3`: the load scenarios of the performance goals, against a
// server it starts on 127.0.0.1 (SQLite in a temporary folder, or TANDEM_DATABASE_URL).
func (m *Main) runBench(ctx context.Context, args []string) error {
	if plan := m.Getenv(envBenchClients); plan != "" {
		return m.benchClients(ctx, plan) // W3's clients, in a process of their own
	}
	fs := m.newFlags("bench", "bench w1|w2|w3 [--duration 10s] [--concurrency 64] [--baseline] [--json] [--replicas 2] [--waiting 100000] [--million] [--streams 10000] [--long-poll]")
	o := benchOptions{}
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "w1: how long each measured phase lasts")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "w1: simulated customers writing at once")
	fs.BoolVar(&o.Baseline, "baseline", false, "w1: also measure the minimal same-work handler (one SQLite transaction per turn)")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object per scenario")
	fs.IntVar(&o.Waiting, "waiting", 100000, "w2: conversations left waiting on a timer")
	million := fs.Bool("million", false, "w2: 1,000,000 waiting conversations")
	fs.IntVar(&o.Due, "due", 10000, "w2: timers made due at the same instant")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	fs.StringVar(&o.FireProfile, "fire-cpuprofile", "", "w2: write a CPU profile of the timers' firing alone to this file (go tool pprof)")
	fs.StringVar(&o.MemProfile, "memprofile", "", "w2, w3: write a heap profile to this file once the conversations or the streams wait (go tool pprof)")
	fs.Float64Var(&o.Rate, "rate", 0, "w1: one phase paced at this many turns a second (CPU per turn at a fixed load)")
	fs.IntVar(&o.Streams, "streams", 10000, "w3: idle connections held open")
	fs.BoolVar(&o.LongPoll, "long-poll", false, "w3: API long-polls instead of widget event streams")
	fs.IntVar(&o.Replicas, "replicas", 1, "w1 on PostgreSQL: servers sharing the database, each with its share of the customers")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if *million {
		o.Waiting = 1000000
	}
	if o.Replicas < 1 || (o.Replicas > 1 && m.Getenv("TANDEM_DATABASE_URL") == "") {
		return usagef("bench: --replicas takes a number from 1, and more than 1 needs TANDEM_DATABASE_URL (replicas share a PostgreSQL database)")
	}
	if len(pos) == 0 {
		pos = []string{"w1", "w2"}
	}
	if *cpuprofile != "" {
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	for _, sc := range pos {
		if sc != "w1" && sc != "w2" && sc != "w3" {
			return usagef("bench: unknown scenario %q (w1, w2, w3)", sc)
		}
		sm, drop, err := m.benchSchema(ctx)
		if err != nil {
			return fmt.Errorf("bench %s: %w", sc, err)
		}
		var res any
		switch sc {
		case "w1":
			res, err = sm.benchW1(ctx, o)
		case "w2":
			res, err = sm.benchW2(ctx, o)
		case "w3":
			res, err = sm.benchW3(ctx, o)
		}
		drop()
		if err != nil {
			return fmt.Errorf("bench %s: %w", sc, err)
		}
		if o.JSON {
			b, _ := json.Marshal(res)
			fmt.Fprintln(m.Stdout, string(b))
		} else {
			printBenchTable(m.Stdout, res)
		}
	}
	return nil
}

// benchSchema gives a scenario on PostgreSQL a schema of its own, created empty and dropped
// after it: the flows, contacts and conversations of an earlier run (another scenario's flow
// answering the same messages) are not in it. On SQLite each scenario has its own folder
// already, and m is returned as it is.
func (m *Main) benchSchema(ctx context.Context) (*Main, func(), error) {
	dsn := m.Getenv("TANDEM_DATABASE_URL")
	if dsn == "" {
		return m, func() {}, nil
	}
	u, err := neturl.Parse(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("TANDEM_DATABASE_URL is not a URL: %w", err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, nil, err
	}
	admin.SetMaxOpenConns(1)
	// The name is ours (lower-case letters and digits), safe to write into the statement.
	schema := "tandem_bench_" + strings.ToLower(runner.NewID())
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		return nil, nil, fmt.Errorf("PostgreSQL at %s: the bench's schema cannot be created: %w", u.Redacted(), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	sm := *m
	sm.Getenv = func(k string) string {
		if k == "TANDEM_DATABASE_URL" {
			return u.String()
		}
		return m.Getenv(k)
	}
	return &sm, func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			fmt.Fprintf(m.Stderr, "bench: PostgreSQL schema %s was not dropped: %v\n", schema, err)
		}
	}, nil
}

// W1Result is the chat-turn scenario's outcome.
type W1Result struct {
	Scenario    string  `json:"scenario"`
	Store       string  `json:"store"`
	Concurrency int     `json:"concurrency"`
	Turns       int     `json:"turns"`
	TurnsPerS   float64 `json:"turns_per_s"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
	Errors      int     `json:"errors"`
	HalfRate    float64 `json:"half_rate_turns_per_s"`
	HalfP50MS   float64 `json:"half_rate_p50_ms"`
	HalfP99MS   float64 `json:"half_rate_p99_ms"`
	// CPUUSPerTurn is the process's CPU time (load generator, mocks and server) per turn of
	// the maximum-rate phase: steadier than the rates on a busy machine.
	CPUUSPerTurn         float64 `json:"cpu_us_per_turn"`
	BaselineTurnsPerS    float64 `json:"baseline_turns_per_s,omitempty"`
	BaselineP50MS        float64 `json:"baseline_p50_ms,omitempty"`
	BaselineP99MS        float64 `json:"baseline_p99_ms,omitempty"`
	BaselineCPUUSPerTurn float64 `json:"baseline_cpu_us_per_turn,omitempty"`
	Ratio                float64 `json:"ratio,omitempty"`
	CPUs                 int     `json:"cpus"`
	Replicas             int     `json:"replicas"`
}

// W2Result is the waiting-conversations scenario's outcome.
type W2Result struct {
	Scenario                 string  `json:"scenario"`
	Store                    string  `json:"store"`
	Waiting                  int     `json:"waiting"`
	CreatePerS               float64 `json:"create_per_s"`
	RSSMB                    float64 `json:"rss_mb"`
	HeapMB                   float64 `json:"heap_mb"`
	Goroutines               int     `json:"goroutines"`
	DiskBytesPerConversation float64 `json:"disk_bytes_per_conversation"`
	Due                      int     `json:"due"`
	TimerLatenessP50MS       float64 `json:"timer_lateness_p50_ms"`
	TimerLatenessP99MS       float64 `json:"timer_lateness_p99_ms"`
	TimerLatenessMaxMS       float64 `json:"timer_lateness_max_ms"`
	// CPUUSPerTimer is the process's CPU time from the due conversations' creation to the
	// last timer's turn, per timer: the last timers cannot be less late than
	// due × CPUUSPerTimer ÷ cores, whatever else runs on the machine.
	CPUUSPerTimer float64 `json:"cpu_us_per_timer"`
}

const w1Flow = `format: 1
id: bench-w1
trigger: {on: message, match: any}
steps:
  - id: ask
    type: question
    text: "{{var.reply | default: \"Which order?\"}}"
    answer: text
  - id: check
    type: condition
    branches:
      - {when: {left: "{{step.ask}}", op: not_empty}, next: call}
    else: ask
  - id: call
    type: http
    url: "%s/orders/{{step.ask | urlencode}}"
    timeout: 5s
    on_error: failed
  - id: save
    type: set
    assign:
      - {target: var.reply, value: "Order {{step.ask}} is {{step.call.response.status}}. Another one?"}
    next: ask
  - id: failed
    type: set
    assign:
      - {target: var.reply, value: "Sorry, the order system did not answer."}
    next: ask
`

// benchServer starts a Tandem server on 127.0.0.1 with one flow, an API channel and the extra
// channels given.
func (m *Main) benchServer(ctx context.Context, dir, flowYAML, outbound string, wrap func(runner.Observer) runner.Observer, extra ...config.Channel) (*server, string, string, error) {
	flows := filepath.Join(dir, "flows")
	if err := os.MkdirAll(flows, 0o700); err != nil {
		return nil, "", "", err
	}
	if err := os.WriteFile(filepath.Join(flows, "bench.yaml"), []byte(flowYAML), 0o600); err != nil {
		return nil, "", "", err
	}
	cfg := config.Default()
	cfg.Dir, cfg.FlowsDir = dir, flows
	cfg.HTTP.AllowPrivate = true
	// The scenarios measure what the server carries: no limit of clients' use stands in the way.
	cfg.Limits.Connections, cfg.Limits.LongPolls, cfg.Limits.LongPollsPerToken = -1, -1, -1
	cfg.Channels = append([]config.Channel{{ID: "api", Kind: "api", OutboundURL: outbound, Secret: "bench-secret"}}, extra...)
	s, err := m.startServer(ctx, serveOptions{Config: cfg, Addr: "127.0.0.1:0", Data: filepath.Join(dir, "data"), Ephemeral: true,
		LogFormat: "text", LogLevel: "error", RateLimit: -1, WrapObserver: wrap})
	if err != nil {
		return nil, "", "", err
	}
	go s.http.Serve(s.ln)
	token, _, err := s.db.TokenCreate(ctx, "bench", "", time.Now(), runner.NewID)
	if err != nil {
		s.close(ctx)
		return nil, "", "", err
	}
	return s, "http://" + s.ln.Addr().String(), token, nil
}

// localServer serves h on 127.0.0.1 and returns its URL and a stop function.
func localServer(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

func benchClient(n int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: n * 2, MaxIdleConnsPerHost: n * 2, IdleConnTimeout: time.Minute}}
}

// w1Rig is what W1 and its baseline share: the order service the flow's http step calls (it
// answers at once), the receiver the replies are POSTed to, and the customers waiting for them.
type w1Rig struct {
	mockURL, recvURL string
	stops            []func()
	waiters          sync.Map // contact external id → chan struct{}
	client           *http.Client
	seq              atomic.Int64
	// run names this run's customers and messages: on PostgreSQL the database outlives the
	// run, and a customer or message id of an earlier run would be its conversation or a
	// duplicate.
	run string
}

func newW1Rig(concurrency int) (*w1Rig, error) {
	r := &w1Rig{client: benchClient(concurrency), run: strings.ToLower(runner.NewID())}
	var err error
	var stop func()
	r.mockURL, stop, err = localServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status": "shipped"}`)
	}))
	if err != nil {
		return nil, err
	}
	r.stops = append(r.stops, stop)
	// The receiver hands each delivered message to the customer waiting for it.
	r.recvURL, stop, err = localServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body apichannel.Outbound
		json.NewDecoder(req.Body).Decode(&body)
		if c, ok := r.waiters.Load(body.Contact.ExternalID); ok {
			select {
			case c.(chan struct{}) <- struct{}{}:
			default:
			}
		}
	}))
	if err != nil {
		r.close()
		return nil, err
	}
	r.stops = append(r.stops, stop)
	return r, nil
}

func (r *w1Rig) close() {
	for _, stop := range r.stops {
		stop()
	}
}

// customers registers n customers named prefix-0 … prefix-(n-1) with the receiver.
func (r *w1Rig) customers(prefix string, n int) ([]string, []chan struct{}) {
	names, chans := make([]string, n), make([]chan struct{}, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%s-%d", prefix, r.run, i)
		chans[i] = make(chan struct{}, 4)
		r.waiters.Store(names[i], chans[i])
	}
	return names, chans
}

// turn POSTs one customer message to url, as the API channel takes it, and waits until the
// reply reaches the receiver: the latency of a turn as the customer sees it.
func (r *w1Rig) turn(ctx context.Context, url, token, customer string, ch chan struct{}, text string) (time.Duration, error) {
	body := fmt.Sprintf(`{"contact":{"external_id":%q},"message":{"id":"m%s-%d","text":%q}}`, customer, r.run, r.seq.Add(1), text)
	req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return 0, fmt.Errorf("inbound answered %d", resp.StatusCode)
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-ch:
		return time.Since(start), nil
	case <-t.C:
		return 0, fmt.Errorf("no answer within 10s")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (m *Main) benchW1(ctx context.Context, o benchOptions) (*W1Result, error) {
	dir, err := os.MkdirTemp("", "tandem-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rig, err := newW1Rig(o.Concurrency)
	if err != nil {
		return nil, err
	}
	defer rig.close()
	s, base, token, err := m.benchServer(ctx, dir, fmt.Sprintf(w1Flow, rig.mockURL), rig.recvURL+"/out", nil)
	if err != nil {
		return nil, err
	}
	defer s.close(context.Background())
	res := &W1Result{Scenario: "w1", Store: s.db.Dialect(), Concurrency: o.Concurrency, CPUs: runtime.NumCPU(), Replicas: o.Replicas}
	// With replicas, customer i writes to server i mod replicas (a load balancer that keeps a
	// customer on one server); they share the database, as replicas do. They run in this
	// process, on the same cores.
	inURLs := []string{base + "/api/v1/channels/api/messages"}
	for len(inURLs) < o.Replicas {
		r, base, _, err := m.benchServer(ctx, dir, fmt.Sprintf(w1Flow, rig.mockURL), rig.recvURL+"/out", nil)
		if err != nil {
			return nil, fmt.Errorf("replica %d: %w", len(inURLs)+1, err)
		}
		defer r.close(context.Background())
		inURLs = append(inURLs, base+"/api/v1/channels/api/messages")
	}
	customers, chans := rig.customers("bench", o.Concurrency)
	// Each customer opens its conversation first (the flow asks its question).
	var wg sync.WaitGroup
	for i := range customers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rig.turn(ctx, inURLs[i%len(inURLs)], token, customers[i], chans[i], "hi")
		}(i)
	}
	wg.Wait()
	turn := func(i int) (time.Duration, error) {
		return rig.turn(ctx, inURLs[i%len(inURLs)], token, customers[i], chans[i], strconv.Itoa(i))
	}
	// Phase 1: as fast as it goes (or at --rate).
	cpu, io0 := cpuTime(), procIO()
	busy0, start0 := store.WriterBusy(), time.Now()
	lat, errs := loadPhase(ctx, o.Duration, o.Concurrency, o.Rate, turn)
	if busy := store.WriterBusy() - busy0; busy > 0 && len(lat) > 0 {
		fmt.Fprintf(m.Stderr, "SQLite writer busy %.0f %% of the first phase, %.0f µs a turn\n",
			100*busy.Seconds()/time.Since(start0).Seconds(), float64(busy.Microseconds())/float64(len(lat)))
	}
	if store.Debug() && len(lat) > 0 {
		io1 := procIO()
		n := float64(len(lat))
		fmt.Fprintf(m.Stderr, "max rate, per turn: %.1f write syscalls (%.0f bytes), %.1f read syscalls, %.0f bytes to disk\n",
			float64(io1["syscw"]-io0["syscw"])/n, float64(io1["wchar"]-io0["wchar"])/n, float64(io1["syscr"]-io0["syscr"])/n, float64(io1["write_bytes"]-io0["write_bytes"])/n)
	}
	res.Turns, res.Errors = len(lat), errs
	res.TurnsPerS = float64(len(lat)) / o.Duration.Seconds()
	res.P50MS, res.P99MS = percentile(lat, 0.50), percentile(lat, 0.99)
	res.CPUUSPerTurn = perTurn(cpuTime()-cpu, len(lat))
	// Phase 2: at half that rate, paced.
	var lat2 []time.Duration
	if o.Rate <= 0 {
		res.HalfRate = res.TurnsPerS / 2
		var errs2 int
		lat2, errs2 = loadPhase(ctx, o.Duration, o.Concurrency, res.HalfRate, turn)
		res.Errors += errs2
		res.HalfP50MS, res.HalfP99MS = percentile(lat2, 0.50), percentile(lat2, 0.99)
	}
	if b, j, wr, rd := store.BatchStats(); b > 0 {
		turns := float64(res.Turns + len(lat2) + o.Concurrency)
		fmt.Fprintf(m.Stderr, "batches %d, jobs %d, %.1f jobs per batch; per turn: %.1f jobs, %.1f statements written, %.1f read\n",
			b, j, float64(j)/float64(b), float64(j)/turns, float64(wr)/turns, float64(rd)/turns)
	}
	if t, st, tx := store.PipeStats(); t > 0 {
		turns := float64(res.Turns + len(lat2) + o.Concurrency)
		fmt.Fprintf(m.Stderr, "PostgreSQL writes, per turn: %.1f statements (BEGIN and COMMIT included) in %.1f round trips, %.1f transactions\n",
			float64(st)/turns, float64(t)/turns, float64(tx)/turns)
		if g, w, shared := store.GroupStats(); g > 0 {
			fmt.Fprintf(m.Stderr, "PostgreSQL group commit: %d groups of %.1f writes on average, %d%% of the writes committed in a shared transaction\n",
				g, float64(w)/float64(g), 100*shared/w)
		}
	}
	if o.Baseline {
		b, err := m.benchBaseline(ctx, dir, rig, o)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		res.BaselineTurnsPerS, res.BaselineP50MS, res.BaselineP99MS, res.BaselineCPUUSPerTurn = b.TurnsPerS, b.P50MS, b.P99MS, b.CPUUSPerTurn
		if b.TurnsPerS > 0 {
			res.Ratio = round2(res.TurnsPerS / b.TurnsPerS)
		}
	}
	res.TurnsPerS, res.HalfRate = round2(res.TurnsPerS), round2(res.HalfRate)
	return res, nil
}

// loadPhase runs customers concurrently for d; with rate > 0, turns start at that total rate
// (paced), else each customer starts its next turn when the previous one ended.
func loadPhase(ctx context.Context, d time.Duration, n int, rate float64, turn func(i int) (time.Duration, error)) ([]time.Duration, int) {
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		tick = t.C
	}
	end := time.NewTimer(d)
	defer end.Stop()
	done := make(chan struct{})
	go func() {
		select {
		case <-end.C:
		case <-ctx.Done():
		}
		close(done)
	}()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if tick != nil {
					select {
					case <-tick:
					case <-done:
						return
					}
				}
				l, err := turn(i)
				if err != nil {
					if errs.Add(1) == 1 {
						firstErr.Store(err.Error())
					}
					continue
				}
				mu.Lock()
				lat = append(lat, l)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	<-done
	if e, ok := firstErr.Load().(string); ok {
		fmt.Fprintf(os.Stderr, "bench: %d turns failed, the first: %s\n", errs.Load(), e)
	}
	return lat, int(errs.Load())
}

// baselineResult is what the baseline measured.
type baselineResult struct {
	TurnsPerS, P50MS, P99MS, CPUUSPerTurn float64
}

// benchBaseline measures the machine's own limit for the external work of a W1 turn, done by
// the least code that can do it: one handler that takes the same inbound POST (token checked,
// JSON parsed), makes the same GET to the order service, commits the inbound message and the
// reply in one transaction of the same database (SQLite in WAL mode with synchronous=NORMAL,
// as Tandem runs it; or the PostgreSQL of TANDEM_DATABASE_URL), answers 202, then POSTs the
// reply, signed, to the same receiver. The customers and the latency measured are W1's.
func (m *Main) benchBaseline(ctx context.Context, dir string, rig *w1Rig, o benchOptions) (*baselineResult, error) {
	b := &baseline{mock: rig.mockURL, recv: rig.recvURL + "/out", token: "baseline-token", secret: "bench-secret",
		client: benchClient(o.Concurrency)}
	var err error
	if dsn := m.Getenv("TANDEM_DATABASE_URL"); dsn != "" {
		err = b.openPostgres(ctx, dsn)
	} else {
		err = b.openSQLite(ctx, filepath.Join(dir, "baseline.db"))
	}
	if err != nil {
		return nil, err
	}
	defer b.close()
	url, stop, err := localServer(b)
	if err != nil {
		return nil, err
	}
	defer stop()
	customers, chans := rig.customers("baseline", o.Concurrency)
	cpu := cpuTime()
	lat, _ := loadPhase(ctx, o.Duration, o.Concurrency, 0, func(i int) (time.Duration, error) {
		return rig.turn(ctx, url, b.token, customers[i], chans[i], strconv.Itoa(i))
	})
	return &baselineResult{TurnsPerS: round2(float64(len(lat)) / o.Duration.Seconds()), P50MS: percentile(lat, 0.5),
		P99MS: percentile(lat, 0.99), CPUUSPerTurn: perTurn(cpuTime()-cpu, len(lat))}, nil
}

// baseline is the minimal same-work handler of `bench w1 --baseline`.
type baseline struct {
	db            *sql.DB
	insert, drop  string
	mock, recv    string
	token, secret string
	client        *http.Client
}

func (b *baseline) openSQLite(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1) // SQLite has one writer
	b.db = db
	b.insert = `INSERT INTO baseline_messages (conversation, provider_id, direction, text, created_at) VALUES (?, ?, 'in', ?, ?), (?, '', 'out', ?, ?)`
	_, err = db.ExecContext(ctx, `CREATE TABLE baseline_messages (id INTEGER PRIMARY KEY, conversation TEXT NOT NULL, provider_id TEXT NOT NULL, direction TEXT NOT NULL, text TEXT NOT NULL, created_at INTEGER NOT NULL)`)
	return err
}

func (b *baseline) openPostgres(ctx context.Context, dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(16) // as Tandem's write pool
	db.SetMaxIdleConns(16)
	b.db = db
	table := "tandem_bench_baseline_" + strings.ToLower(runner.NewID())
	b.insert = `INSERT INTO ` + table + ` (conversation, provider_id, direction, text, created_at) VALUES ($1, $2, 'in', $3, $4), ($5, '', 'out', $6, $7)`
	b.drop = `DROP TABLE IF EXISTS ` + table
	_, err = db.ExecContext(ctx, `CREATE TABLE `+table+` (id BIGSERIAL PRIMARY KEY, conversation TEXT NOT NULL, provider_id TEXT NOT NULL, direction TEXT NOT NULL, text TEXT NOT NULL, created_at BIGINT NOT NULL)`)
	if err != nil {
		db.Close()
		return fmt.Errorf("PostgreSQL: %w", err)
	}
	return nil
}

func (b *baseline) close() {
	if b.drop != "" {
		b.db.Exec(b.drop)
	}
	b.db.Close()
}

func (b *baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+b.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var in struct {
		Contact struct {
			ExternalID string `json:"external_id"`
		} `json:"contact"`
		Message struct {
			ID   string `json:"id"`
			Text string `json:"text"`
		} `json:"message"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil || in.Contact.ExternalID == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	// The flow's http step: GET the order's status.
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.mock+"/orders/"+neturl.PathEscape(in.Message.Text), nil)
	resp, err := b.client.Do(req)
	if err != nil {
		http.Error(w, "order service: "+err.Error(), http.StatusBadGateway)
		return
	}
	var order struct {
		Status string `json:"status"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&order)
	resp.Body.Close()
	if err != nil {
		http.Error(w, "order service: "+err.Error(), http.StatusBadGateway)
		return
	}
	reply := "Order " + in.Message.Text + " is " + order.Status + ". Another one?"
	// The inbound message and the reply, durable in one transaction.
	now := time.Now()
	tx, err := b.db.BeginTx(r.Context(), nil)
	if err != nil {
		http.Error(w, "write failed", http.StatusInternalServerError)
		return
	}
	if _, err := tx.Exec(b.insert, in.Contact.ExternalID, in.Message.ID, in.Message.Text, now.UnixMicro(), in.Contact.ExternalID, reply, now.UnixMicro()); err != nil {
		tx.Rollback()
		http.Error(w, "write failed", http.StatusInternalServerError)
		return
	}
	if err := tx.Commit(); err != nil {
		http.Error(w, "write failed", http.StatusInternalServerError)
		return
	}
	ack := fmt.Sprintf(`{"conversation_id":%q,"message_id":%q}`, in.Contact.ExternalID, in.Message.ID)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(ack)))
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, ack)
	w.(http.Flusher).Flush()
	// The reply goes out after the acknowledgement, as the API channel's outbound POST (which
	// the inbound request's end does not cancel).
	ctx, cancel = context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	body, _ := json.Marshal(apichannel.Outbound{ChannelID: "api", ConversationID: in.Contact.ExternalID,
		Contact: apichannel.OutboundContact{ID: in.Contact.ExternalID, ExternalID: in.Contact.ExternalID},
		Message: apichannel.OutboundMessage{ID: in.Message.ID + "-reply", Author: tandem.AuthorBot, Type: tandem.MessageText, Text: reply, CreatedAt: now}})
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, b.recv, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", in.Message.ID+"-reply")
	req.Header.Set(apichannel.SignatureHeader, apichannel.Sign(b.secret, body))
	if resp, err := b.client.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// procIO reads the process's I/O counters (Linux; empty elsewhere).
func procIO() map[string]int64 {
	out := map[string]int64{}
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok {
			out[k], _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return out
}

// perTurn is CPU time per turn in microseconds.
func perTurn(d time.Duration, turns int) float64 {
	if turns == 0 {
		return 0
	}
	return round2(float64(d.Microseconds()) / float64(turns))
}

const w2Flow = `format: 1
id: bench-w2
trigger: {on: message, match: any}
steps:
  - id: route
    type: condition
    branches:
      - {when: {left: "{{message.text}}", op: equals, right: hold}, next: hold}
    else: due
  - id: hold
    type: wait
    for: 48h
    next: end
  - id: due
    type: wait
    until: "{{message.text}}"
  - id: fired
    type: message
    text: "fired"
`

// lateness collects timer lateness samples.
type lateness struct {
	runner.Observer
	mu      sync.Mutex
	samples []time.Duration
	on      atomic.Bool
}

func (l *lateness) TimerLate(d time.Duration) {
	l.Observer.TimerLate(d)
	if l.on.Load() {
		l.mu.Lock()
		l.samples = append(l.samples, d)
		l.mu.Unlock()
	}
}

func (m *Main) benchW2(ctx context.Context, o benchOptions) (*W2Result, error) {
	dir, err := os.MkdirTemp("", "tandem-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	late := &lateness{}
	s, _, _, err := m.benchServer(ctx, dir, w2Flow, "", func(next runner.Observer) runner.Observer {
		late.Observer = next
		return late
	})
	if err != nil {
		return nil, err
	}
	defer s.close(context.Background())
	res := &W2Result{Scenario: "w2", Store: s.db.Dialect(), Waiting: o.Waiting, Due: o.Due}
	// Conversations are opened through the runner (the API's own path minus HTTP parsing), 64 at
	// a time, so that a million take minutes, not hours.
	inbound := func(ext, text string) error {
		_, err := s.run.Inbound(ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api",
			Contact: tandem.Contact{ExternalID: ext}, Message: tandem.Message{Type: tandem.MessageText, Text: text, ChannelMessageID: ext}})
		return err
	}
	// This run's contacts: on PostgreSQL the database outlives the run, and the runs an
	// earlier run left waiting are not this one's.
	run := strings.ToLower(runner.NewID())
	before, err := s.db.RunCounts(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := parallel(ctx, o.Waiting, 64, func(i int) error { return inbound(fmt.Sprintf("w-%s-%d", run, i), "hold") }); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 10*time.Minute, func() bool {
		n, err := s.db.RunCounts(ctx)
		return err == nil && n["waiting"] >= before["waiting"]+o.Waiting
	}); err != nil {
		return nil, fmt.Errorf("the waiting conversations did not all start: %w", err)
	}
	res.CreatePerS = round2(float64(o.Waiting) / time.Since(start).Seconds())
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.RSSMB = round2(rssMB())
	res.HeapMB = round2(float64(ms.HeapInuse) / (1 << 20))
	res.Goroutines = runtime.NumGoroutine()
	res.DiskBytesPerConversation = round2(float64(dirSize(filepath.Join(dir, "data"))) / float64(o.Waiting))
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return nil, err
		}
	}
	// Then o.Due timers made due at the same instant.
	// Late enough for all of them to be created first, at the pace the waiting ones were (with
	// half as much again to spare): PostgreSQL on a busy machine creates a few hundred a second.
	create := time.Duration(float64(o.Due) / res.CreatePerS * 1.5 * float64(time.Second))
	due := time.Now().Add(3*time.Second + create).Truncate(time.Second)
	late.on.Store(true)
	if err := parallel(ctx, o.Due, 64, func(i int) error { return inbound(fmt.Sprintf("d-%s-%d", run, i), due.Format(time.RFC3339Nano)) }); err != nil {
		return nil, err
	}
	if time.Now().After(due) {
		return nil, fmt.Errorf("creating %d timers took past their due time; lower --due", o.Due)
	}
	cpu := cpuTime()
	b0, j0, w0, r0 := store.BatchStats()
	t0, s0, x0 := store.PipeStats()
	if o.FireProfile != "" {
		stop, err := startCPUProfile(o.FireProfile)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	if err := waitFor(ctx, time.Until(due)+2*time.Minute, func() bool {
		late.mu.Lock()
		defer late.mu.Unlock()
		return len(late.samples) >= o.Due
	}); err != nil {
		return nil, fmt.Errorf("not every timer fired: %w", err)
	}
	res.CPUUSPerTimer = perTurn(cpuTime()-cpu, o.Due)
	if b, j, wr, rd := store.BatchStats(); b > b0 {
		n := float64(o.Due)
		fmt.Fprintf(m.Stderr, "firing: batches %d, jobs %d; per timer: %.2f jobs, %.1f statements written, %.1f read\n",
			b-b0, j-j0, float64(j-j0)/n, float64(wr-w0)/n, float64(rd-r0)/n)
	}
	if t, st, tx := store.PipeStats(); t > t0 {
		n := float64(o.Due)
		fmt.Fprintf(m.Stderr, "firing: PostgreSQL writes, per timer: %.1f statements (BEGIN and COMMIT included) in %.1f round trips, %.2f transactions\n",
			float64(st-s0)/n, float64(t-t0)/n, float64(tx-x0)/n)
	}
	late.mu.Lock()
	res.TimerLatenessP50MS, res.TimerLatenessP99MS = percentile(late.samples, 0.5), percentile(late.samples, 0.99)
	res.TimerLatenessMaxMS = percentile(late.samples, 1)
	late.mu.Unlock()
	return res, nil
}

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s", d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return round2(float64(s[i].Microseconds()) / 1000)
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

func printBenchTable(w io.Writer, res any) {
	switch r := res.(type) {
	case *W1Result:
		fmt.Fprintf(w, "W1 chat turn (%s, %d customers, %d CPUs, %d server(s))\n", r.Store, r.Concurrency, r.CPUs, r.Replicas)
		fmt.Fprintf(w, "  %-28s %10.0f turns/s  p50 %6.2f ms  p99 %7.2f ms  (%d turns, %d errors, %.0f µs CPU per turn)\n", "max rate", r.TurnsPerS, r.P50MS, r.P99MS, r.Turns, r.Errors, r.CPUUSPerTurn)
		fmt.Fprintf(w, "  %-28s %10.0f turns/s  p50 %6.2f ms  p99 %7.2f ms\n", "half of max rate", r.HalfRate, r.HalfP50MS, r.HalfP99MS)
		if r.BaselineTurnsPerS > 0 {
			fmt.Fprintf(w, "  %-28s %10.0f turns/s  p50 %6.2f ms  p99 %7.2f ms  (%.0f µs CPU per turn)  ratio %.2f\n", "baseline (same work)", r.BaselineTurnsPerS, r.BaselineP50MS, r.BaselineP99MS, r.BaselineCPUUSPerTurn, r.Ratio)
		}
	case *W3Result:
		fmt.Fprintf(w, "W3 idle connections (%s, %s)\n", r.Store, r.Kind)
		fmt.Fprintf(w, "  %-28s %10d  (%d goroutines)\n", "open", r.Streams, r.Goroutines)
		fmt.Fprintf(w, "  %-28s %10.1f MB, %.2f KB per stream (heap %.2f KB per stream)\n", "RSS", r.RSSMB, r.RSSKBPerStream, r.HeapKBPerStream)
		fmt.Fprintf(w, "  %-28s p50 %.1f ms  p99 %.1f ms (%d messages, %d errors)\n", "delivery to 1%", r.DeliveryP50MS, r.DeliveryP99MS, r.Delivered, r.Errors)
	case *W2Result:
		fmt.Fprintf(w, "W2 waiting conversations (%s)\n", r.Store)
		fmt.Fprintf(w, "  %-28s %10d  (created at %.0f/s)\n", "waiting", r.Waiting, r.CreatePerS)
		fmt.Fprintf(w, "  %-28s %10.1f MB (heap %.1f MB, %d goroutines)\n", "RSS", r.RSSMB, r.HeapMB, r.Goroutines)
		fmt.Fprintf(w, "  %-28s %10.0f bytes\n", "disk per conversation", r.DiskBytesPerConversation)
		fmt.Fprintf(w, "  %-28s p50 %.1f ms  p99 %.1f ms  max %.1f ms (%d timers due at once, %.0f µs CPU per timer)\n", "timer lateness", r.TimerLatenessP50MS, r.TimerLatenessP99MS, r.TimerLatenessMaxMS, r.Due, r.CPUUSPerTimer)
	}
}
