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
}

// runBench is `tandem bench w1|w2`: the load scenarios of the performance goals, against a
// server it starts on 127.0.0.1 (SQLite in a temporary folder, or TANDEM_DATABASE_URL).
func (m *Main) runBench(ctx context.Context, args []string) error {
	fs := m.newFlags("bench", "bench w1|w2 [--duration 10s] [--concurrency 64] [--baseline] [--json] [--waiting 100000] [--million]")
	o := benchOptions{}
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "w1: how long each measured phase lasts")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "w1: simulated customers writing at once")
	fs.BoolVar(&o.Baseline, "baseline", false, "w1: also measure the minimal same-work handler (one SQLite transaction per turn)")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object per scenario")
	fs.IntVar(&o.Waiting, "waiting", 100000, "w2: conversations left waiting on a timer")
	million := fs.Bool("million", false, "w2: 1,000,000 waiting conversations")
	fs.IntVar(&o.Due, "due", 10000, "w2: timers made due at the same instant")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	fs.StringVar(&o.MemProfile, "memprofile", "", "w2: write a heap profile to this file once the conversations wait (go tool pprof)")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if *million {
		o.Waiting = 1000000
	}
	if len(pos) == 0 {
		pos = []string{"w1", "w2"}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, sc := range pos {
		var res any
		switch sc {
		case "w1":
			res, err = m.benchW1(ctx, o)
		case "w2":
			res, err = m.benchW2(ctx, o)
		default:
			return usagef("bench: unknown scenario %q (w1, w2)", sc)
		}
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

// W1Result is the chat-turn scenario's outcome.
type W1Result struct {
	Scenario          string  `json:"scenario"`
	Store             string  `json:"store"`
	Concurrency       int     `json:"concurrency"`
	Turns             int     `json:"turns"`
	TurnsPerS         float64 `json:"turns_per_s"`
	P50MS             float64 `json:"p50_ms"`
	P99MS             float64 `json:"p99_ms"`
	Errors            int     `json:"errors"`
	HalfRate          float64 `json:"half_rate_turns_per_s"`
	HalfP50MS         float64 `json:"half_rate_p50_ms"`
	HalfP99MS         float64 `json:"half_rate_p99_ms"`
	BaselineTurnsPerS float64 `json:"baseline_turns_per_s,omitempty"`
	BaselineP99MS     float64 `json:"baseline_p99_ms,omitempty"`
	Ratio             float64 `json:"ratio,omitempty"`
	CPUs              int     `json:"cpus"`
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

// benchServer starts a Tandem server on 127.0.0.1 with one flow and an API channel.
func (m *Main) benchServer(ctx context.Context, dir, flowYAML, outbound string, wrap func(runner.Observer) runner.Observer) (*server, string, string, error) {
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
	cfg.Channels = []config.Channel{{ID: "api", Kind: "api", OutboundURL: outbound, Secret: "bench-secret"}}
	s, err := m.startServer(ctx, serveOptions{Config: cfg, Addr: "127.0.0.1:0", Data: filepath.Join(dir, "data"),
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

func (m *Main) benchW1(ctx context.Context, o benchOptions) (*W1Result, error) {
	dir, err := os.MkdirTemp("", "tandem-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	mockURL, stopMock, err := localServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status": "shipped"}`)
	}))
	if err != nil {
		return nil, err
	}
	defer stopMock()
	// The outbound receiver hands each delivered message to the customer waiting for it.
	var waiters sync.Map // external id → chan struct{}
	recvURL, stopRecv, err := localServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Contact struct {
				ExternalID string `json:"external_id"`
			} `json:"contact"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		if c, ok := waiters.Load(body.Contact.ExternalID); ok {
			select {
			case c.(chan struct{}) <- struct{}{}:
			default:
			}
		}
	}))
	if err != nil {
		return nil, err
	}
	defer stopRecv()
	s, base, token, err := m.benchServer(ctx, dir, fmt.Sprintf(w1Flow, mockURL), recvURL+"/out", nil)
	if err != nil {
		return nil, err
	}
	defer s.close(context.Background())
	client := benchClient(o.Concurrency)
	res := &W1Result{Scenario: "w1", Store: s.db.Dialect(), Concurrency: o.Concurrency, CPUs: runtime.NumCPU()}
	var seq atomic.Int64
	turn := func(customer string, ch chan struct{}, text string) (time.Duration, error) {
		body := fmt.Sprintf(`{"contact":{"external_id":%q},"message":{"id":"m%d","text":%q}}`, customer, seq.Add(1), text)
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/channels/api/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return 0, fmt.Errorf("inbound answered %d", resp.StatusCode)
		}
		select {
		case <-ch:
			return time.Since(start), nil
		case <-time.After(10 * time.Second):
			return 0, fmt.Errorf("no answer within 10s")
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	// Each customer opens its conversation first (the flow asks its question).
	customers := make([]string, o.Concurrency)
	chans := make([]chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	for i := range customers {
		customers[i] = fmt.Sprintf("bench-%d", i)
		chans[i] = make(chan struct{}, 4)
		waiters.Store(customers[i], chans[i])
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			turn(customers[i], chans[i], "hi")
		}(i)
	}
	wg.Wait()
	// Phase 1: as fast as it goes.
	lat, errs := loadPhase(ctx, o.Duration, o.Concurrency, 0, func(i int) (time.Duration, error) {
		return turn(customers[i], chans[i], strconv.Itoa(i))
	})
	res.Turns, res.Errors = len(lat), errs
	res.TurnsPerS = float64(len(lat)) / o.Duration.Seconds()
	res.P50MS, res.P99MS = percentile(lat, 0.50), percentile(lat, 0.99)
	// Phase 2: at half that rate, paced.
	res.HalfRate = res.TurnsPerS / 2
	lat2, errs2 := loadPhase(ctx, o.Duration, o.Concurrency, res.HalfRate, func(i int) (time.Duration, error) {
		return turn(customers[i], chans[i], strconv.Itoa(i))
	})
	res.Errors += errs2
	res.HalfP50MS, res.HalfP99MS = percentile(lat2, 0.50), percentile(lat2, 0.99)
	if o.Baseline {
		b, p99, err := benchBaseline(ctx, dir, o)
		if err != nil {
			return nil, err
		}
		res.BaselineTurnsPerS, res.BaselineP99MS = b, p99
		if b > 0 {
			res.Ratio = round2(res.TurnsPerS / b)
		}
	}
	res.TurnsPerS, res.HalfRate = round2(res.TurnsPerS), round2(res.HalfRate)
	if b, j := store.BatchStats(); b > 0 {
		fmt.Fprintf(m.Stderr, "batches %d, jobs %d, %.1f jobs per batch, %.1f jobs per turn\n", b, j, float64(j)/float64(b), float64(j)/float64(res.Turns*2+o.Concurrency))
	}
	return res, nil
}

// loadPhase runs customers concurrently for d; with rate > 0, turns start at that total rate
// (paced), else each customer starts its next turn when the previous one ended.
func loadPhase(ctx context.Context, d time.Duration, n int, rate float64, turn func(i int) (time.Duration, error)) ([]time.Duration, int) {
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	deadline := time.Now().Add(d)
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		tick = t.C
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if tick != nil {
					select {
					case <-tick:
					case <-time.After(time.Until(deadline)):
						return
					}
				}
				l, err := turn(i)
				if err != nil {
					errs.Add(1)
					continue
				}
				mu.Lock()
				lat = append(lat, l)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	return lat, int(errs.Load())
}

// benchBaseline measures the machine's own limit for the same durable work: a minimal handler
// writing the inbound and the reply in one SQLite transaction (WAL, synchronous=NORMAL).
func benchBaseline(ctx context.Context, dir string, o benchOptions) (float64, float64, error) {
	path := filepath.Join(dir, "baseline.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE messages (id INTEGER PRIMARY KEY, conversation TEXT, direction TEXT, text TEXT, created_at INTEGER)`); err != nil {
		return 0, 0, err
	}
	url, stop, err := localServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Contact struct {
				ExternalID string `json:"external_id"`
			} `json:"contact"`
			Message struct {
				Text string `json:"text"`
			} `json:"message"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		tx, err := db.BeginTx(r.Context(), nil)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		now := time.Now().UnixMicro()
		reply := "Order " + in.Message.Text + " is shipped. Another one?"
		_, err1 := tx.Exec(`INSERT INTO messages (conversation, direction, text, created_at) VALUES (?, 'in', ?, ?)`, in.Contact.ExternalID, in.Message.Text, now)
		_, err2 := tx.Exec(`INSERT INTO messages (conversation, direction, text, created_at) VALUES (?, 'out', ?, ?)`, in.Contact.ExternalID, reply, now)
		if err1 != nil || err2 != nil || tx.Commit() != nil {
			tx.Rollback()
			http.Error(w, "write failed", 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"text": reply})
	}))
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	client := benchClient(o.Concurrency)
	lat, _ := loadPhase(ctx, o.Duration, o.Concurrency, 0, func(i int) (time.Duration, error) {
		body := fmt.Sprintf(`{"contact":{"external_id":"b-%d"},"message":{"text":"%d"}}`, i, i)
		start := time.Now()
		resp, err := client.Post(url, "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("baseline answered %d", resp.StatusCode)
		}
		return time.Since(start), nil
	})
	return round2(float64(len(lat)) / o.Duration.Seconds()), percentile(lat, 0.99), nil
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
	start := time.Now()
	if err := parallel(ctx, o.Waiting, 64, func(i int) error { return inbound(fmt.Sprintf("w-%d", i), "hold") }); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 10*time.Minute, func() bool {
		n, err := s.db.RunCounts(ctx)
		return err == nil && n["waiting"] >= o.Waiting
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
	due := time.Now().Add(5*time.Second + time.Duration(o.Due)*200*time.Microsecond).Truncate(time.Second)
	late.on.Store(true)
	if err := parallel(ctx, o.Due, 64, func(i int) error { return inbound(fmt.Sprintf("d-%d", i), due.Format(time.RFC3339Nano)) }); err != nil {
		return nil, err
	}
	if time.Now().After(due) {
		return nil, fmt.Errorf("creating %d timers took past their due time; lower --due", o.Due)
	}
	if err := waitFor(ctx, time.Until(due)+2*time.Minute, func() bool {
		late.mu.Lock()
		defer late.mu.Unlock()
		return len(late.samples) >= o.Due
	}); err != nil {
		return nil, fmt.Errorf("not every timer fired: %w", err)
	}
	late.mu.Lock()
	res.TimerLatenessP50MS, res.TimerLatenessP99MS = percentile(late.samples, 0.5), percentile(late.samples, 0.99)
	res.TimerLatenessMaxMS = percentile(late.samples, 1)
	late.mu.Unlock()
	return res, nil
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
		fmt.Fprintf(w, "W1 chat turn (%s, %d customers, %d CPUs)\n", r.Store, r.Concurrency, r.CPUs)
		fmt.Fprintf(w, "  %-28s %10.0f turns/s  p50 %6.2f ms  p99 %7.2f ms  (%d turns, %d errors)\n", "max rate", r.TurnsPerS, r.P50MS, r.P99MS, r.Turns, r.Errors)
		fmt.Fprintf(w, "  %-28s %10.0f turns/s  p50 %6.2f ms  p99 %7.2f ms\n", "half of max rate", r.HalfRate, r.HalfP50MS, r.HalfP99MS)
		if r.BaselineTurnsPerS > 0 {
			fmt.Fprintf(w, "  %-28s %10.0f turns/s  p99 %7.2f ms  ratio %.2f\n", "baseline (1 tx per turn)", r.BaselineTurnsPerS, r.BaselineP99MS, r.Ratio)
		}
	case *W2Result:
		fmt.Fprintf(w, "W2 waiting conversations (%s)\n", r.Store)
		fmt.Fprintf(w, "  %-28s %10d  (created at %.0f/s)\n", "waiting", r.Waiting, r.CreatePerS)
		fmt.Fprintf(w, "  %-28s %10.1f MB (heap %.1f MB, %d goroutines)\n", "RSS", r.RSSMB, r.HeapMB, r.Goroutines)
		fmt.Fprintf(w, "  %-28s %10.0f bytes\n", "disk per conversation", r.DiskBytesPerConversation)
		fmt.Fprintf(w, "  %-28s p50 %.1f ms  p99 %.1f ms  max %.1f ms (%d timers due at once)\n", "timer lateness", r.TimerLatenessP50MS, r.TimerLatenessP99MS, r.TimerLatenessMaxMS, r.Due)
	}
}
