package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/runner"
)

// W3 "idle connections": many visitors keep a widget event stream (or an API long-poll) open
// and nothing happens on most of them; what each costs the server is measured as the growth
// of its RSS, then messages go to 1% of them and their delivery is timed.
//
// The clients run in a child process (the same binary, started with envBenchClients): 10,000
// connections are 20,000 file descriptors when both ends live in one process, more than a
// common limit, and their memory must not count as the server's. The server runs in this
// process, so that its garbage is collected before each measure of RSS.

// W3Result is the idle-connections scenario's outcome.
type W3Result struct {
	Scenario string `json:"scenario"`
	Store    string `json:"store"`
	// Kind is what waits: "widget" (SSE event streams) or "long-poll" (the API's messages).
	Kind    string `json:"kind"`
	Streams int    `json:"streams"`
	// RSSMB is the server's RSS with the streams open; RSSKBPerStream is its growth from before
	// they opened, divided by their number.
	RSSMB           float64 `json:"rss_mb"`
	RSSKBPerStream  float64 `json:"rss_kb_per_stream"`
	HeapKBPerStream float64 `json:"heap_kb_per_stream"`
	Goroutines      int     `json:"goroutines"`
	// Delivered messages went to 1% of the streams; the delivery time is from the visitor's
	// POST to the bot's reply read on the stream (or the long-poll's answer).
	Delivered     int     `json:"delivered"`
	DeliveryP50MS float64 `json:"delivery_p50_ms"`
	DeliveryP99MS float64 `json:"delivery_p99_ms"`
	Errors        int     `json:"errors"`
}

// envBenchClients, set for the child process, holds its w3ClientPlan as JSON.
const envBenchClients = "TANDEM_BENCH_CLIENTS"

// w3ClientPlan tells the clients' process what to open.
type w3ClientPlan struct {
	Base     string `json:"base"`
	Token    string `json:"token"` // API token (long-poll)
	LongPoll bool   `json:"long_poll"`
	Streams  int    `json:"streams"`
	Targets  int    `json:"targets"`
	// Run names this run's API contacts (PostgreSQL's database outlives a run).
	Run string `json:"run"`
}

// w3Report is what the clients' process answers at the end.
type w3Report struct {
	LatenciesUS []int64 `json:"latencies_us"`
	Errors      int     `json:"errors"`
	Message     string  `json:"message,omitempty"`
}

const w3Flow = `format: 1
id: bench-w3
trigger: {on: message, match: any}
steps:
  - id: route
    type: condition
    branches:
      - {when: {left: "{{message.text}}", op: equals, right: open}, next: end}
    else: reply
  - id: reply
    type: message
    text: "Got it: {{message.text}}"
`

// w3Origin is the page the bench's widget sessions say they are on.
const w3Origin = "http://127.0.0.1"

func (m *Main) benchW3(ctx context.Context, o benchOptions) (*W3Result, error) {
	dir, err := os.MkdirTemp("", "tandem-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s, base, token, err := m.benchServer(ctx, dir, w3Flow, "", nil,
		config.Channel{ID: "web", Kind: "web", AllowedOrigins: []string{w3Origin},
			Extra: config.SecretMap{"sessions_per_minute": "1000000"}}) // all its visitors come from 127.0.0.1
	if err != nil {
		return nil, err
	}
	defer s.close(context.Background())
	res := &W3Result{Scenario: "w3", Store: s.db.Dialect(), Kind: "widget", Streams: o.Streams}
	if o.LongPoll {
		res.Kind = "long-poll"
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	plan, _ := json.Marshal(w3ClientPlan{Base: base, Token: token, LongPoll: o.LongPoll, Streams: o.Streams, Targets: max(1, o.Streams/100),
		Run: strings.ToLower(runner.NewID())})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(cctx, exe, "bench", "w3")
	cmd.Env = append(os.Environ(), envBenchClients+"="+string(plan))
	cmd.Stderr = m.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("the clients' process cannot start: %w", err)
	}
	defer cmd.Wait()
	out := bufio.NewReader(outPipe)
	expect := func(word string) error {
		line, err := out.ReadString('\n')
		if err != nil {
			return fmt.Errorf("the clients' process ended before %q: %w", word, err)
		}
		if strings.TrimSpace(line) != word {
			return fmt.Errorf("the clients' process said %q, not %q", strings.TrimSpace(line), word)
		}
		return nil
	}
	// The visitors (sessions, or conversations for long-polls) exist: measure before the
	// streams open.
	if err := expect("ready"); err != nil {
		return nil, err
	}
	rss0, heap0 := settledMemory()
	fmt.Fprintln(in, "open")
	if err := expect("open"); err != nil {
		return nil, err
	}
	// Every stream is open at the server: long-polls are counted by the hub; a widget stream
	// is registered right after its first bytes, which the clients waited for.
	if o.LongPoll {
		if err := waitFor(ctx, time.Minute, func() bool { return s.hub.Waiting() >= o.Streams }); err != nil {
			return nil, fmt.Errorf("the long-polls did not all wait (%d of %d): %w", s.hub.Waiting(), o.Streams, err)
		}
	} else {
		time.Sleep(time.Second)
	}
	rss1, heap1 := settledMemory()
	res.Goroutines = runtime.NumGoroutine()
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return nil, err
		}
	}
	res.RSSMB = round2(rss1 / 1024)
	res.RSSKBPerStream = round2((rss1 - rss0) / float64(o.Streams))
	res.HeapKBPerStream = round2((heap1 - heap0) / float64(o.Streams))
	fmt.Fprintln(in, "deliver")
	var rep w3Report
	if err := json.NewDecoder(out).Decode(&rep); err != nil {
		return nil, fmt.Errorf("the clients' process answered no report: %w", err)
	}
	in.Close()
	if rep.Message != "" {
		return nil, errors.New(rep.Message)
	}
	lat := make([]time.Duration, len(rep.LatenciesUS))
	for i, us := range rep.LatenciesUS {
		lat[i] = time.Duration(us) * time.Microsecond
	}
	res.Delivered, res.Errors = len(lat), rep.Errors
	res.DeliveryP50MS, res.DeliveryP99MS = percentile(lat, 0.5), percentile(lat, 0.99)
	return res, nil
}

// settledMemory returns the process's RSS and Go heap in KB after a full collection with the
// freed memory returned to the system.
func settledMemory() (rssKB, heapKB float64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return rssMB() * 1024, float64(ms.HeapInuse) / 1024
}

// benchClients is the clients' process of W3: it creates the visitors, opens their streams
// when told, and, when told again, sends messages to 1% of them and reports the delivery times.
func (m *Main) benchClients(ctx context.Context, planJSON string) error {
	var plan w3ClientPlan
	if err := json.Unmarshal([]byte(planJSON), &plan); err != nil {
		return fmt.Errorf("bench clients: %w", err)
	}
	u, err := url.Parse(plan.Base)
	if err != nil {
		return err
	}
	c := &w3Clients{plan: plan, addr: u.Host, client: benchClient(32), conns: make([]*w3Conn, plan.Streams)}
	report := func(rep w3Report) error {
		return json.NewEncoder(m.Stdout).Encode(rep)
	}
	if err := parallel(ctx, plan.Streams, 32, c.visitor); err != nil {
		return report(w3Report{Message: "visitors: " + err.Error()})
	}
	stdin := bufio.NewReader(m.Stdin)
	fmt.Fprintln(m.Stdout, "ready")
	if line, _ := stdin.ReadString('\n'); strings.TrimSpace(line) != "open" {
		return nil
	}
	if err := parallel(ctx, plan.Streams, 32, c.open); err != nil {
		return report(w3Report{Message: "streams: " + err.Error()})
	}
	fmt.Fprintln(m.Stdout, "open")
	if line, _ := stdin.ReadString('\n'); strings.TrimSpace(line) != "deliver" {
		return nil
	}
	rep := c.deliver(ctx)
	for _, cn := range c.conns {
		if cn != nil && cn.conn != nil {
			cn.conn.Close()
		}
	}
	return report(rep)
}

type w3Clients struct {
	plan   w3ClientPlan
	addr   string
	client *http.Client
	conns  []*w3Conn
}

// w3Conn is one visitor: its credentials and its open connection.
type w3Conn struct {
	token        string // widget session
	external     string // API contact
	conversation string
	after        string
	conn         net.Conn
	rest         []byte // bytes read past the stream's head
}

func (c *w3Clients) post(ctx context.Context, path, token string, body any, out any) (int, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, "POST", c.plan.Base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return resp.StatusCode, fmt.Errorf("POST %s answered %d: %s", path, resp.StatusCode, msg)
	}
	if out != nil {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// visitor creates visitor i: a widget session, or an API conversation (its first message,
// which the flow does not answer).
func (c *w3Clients) visitor(i int) error {
	ctx := context.Background()
	v := &w3Conn{}
	c.conns[i] = v
	if c.plan.LongPoll {
		v.external = fmt.Sprintf("w3-%s-%d", c.plan.Run, i)
		var ack struct {
			ConversationID string `json:"conversation_id"`
			MessageID      string `json:"message_id"`
		}
		_, err := c.post(ctx, "/api/v1/channels/api/messages", c.plan.Token, map[string]any{
			"contact": map[string]string{"external_id": v.external}, "message": map[string]string{"id": v.external + "-open", "text": "open"}}, &ack)
		v.conversation, v.after = ack.ConversationID, ack.MessageID
		if err != nil {
			return err
		}
		// A client reads what it has not seen before it waits: the database's caches are warm
		// before the streams are measured, as in a server that has been running.
		return c.get(ctx, "/api/v1/conversations/"+v.conversation+"/messages?after="+url.QueryEscape(v.after), c.plan.Token)
	}
	var s struct {
		Token string `json:"token"`
	}
	if _, err := c.post(ctx, "/widget/v1/web/sessions", "", map[string]string{"origin": w3Origin}, &s); err != nil {
		return err
	}
	v.token = s.Token
	return c.get(ctx, "/widget/v1/web/messages", v.token)
}

func (c *w3Clients) get(ctx context.Context, path, token string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", c.plan.Base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %d", path, resp.StatusCode)
	}
	return nil
}

// open opens visitor i's stream with a bare connection: nothing reads an idle stream (its
// pings wait in the socket), so the clients need no goroutine per stream.
func (c *w3Clients) open(i int) error {
	v := c.conns[i]
	conn, err := net.DialTimeout("tcp", c.addr, 10*time.Second)
	if err != nil {
		return err
	}
	v.conn = conn
	if c.plan.LongPoll {
		_, err := fmt.Fprintf(conn, "GET /api/v1/conversations/%s/messages?after=%s&wait=60s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n",
			v.conversation, url.QueryEscape(v.after), c.addr, c.plan.Token)
		return err
	}
	if _, err := fmt.Fprintf(conn, "GET /widget/v1/web/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", c.addr, v.token); err != nil {
		return err
	}
	// Wait for the stream's head: then the server holds the stream.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer conn.SetReadDeadline(time.Time{})
	var buf []byte
	chunk := make([]byte, 512)
	for {
		n, err := conn.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if i := bytes.Index(buf, []byte("retry: 3000\n\n")); i >= 0 {
			if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200")) {
				return fmt.Errorf("the event stream answered %q", bytes.SplitN(buf, []byte("\r\n"), 2)[0])
			}
			v.rest = append([]byte(nil), buf[i+len("retry: 3000\n\n"):]...)
			return nil
		}
		if err != nil {
			return fmt.Errorf("event stream: %w (read %q)", err, buf)
		}
	}
}

// deliver sends one message on each of 1% of the visitors' streams, spread over two seconds,
// and times each until it is delivered.
func (c *w3Clients) deliver(ctx context.Context) w3Report {
	n := c.plan.Targets
	step := c.plan.Streams / n
	var mu sync.Mutex
	var rep w3Report
	var errs atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(2 * time.Second / time.Duration(n))
	defer tick.Stop()
	for k := 0; k < n; k++ {
		<-tick.C
		v := c.conns[k*step]
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			d, err := c.deliverOne(ctx, v, k)
			if err != nil {
				if errs.Add(1) == 1 {
					fmt.Fprintln(os.Stderr, "w3 delivery:", err)
				}
				return
			}
			mu.Lock()
			rep.LatenciesUS = append(rep.LatenciesUS, d.Microseconds())
			mu.Unlock()
		}(k)
	}
	wg.Wait()
	rep.Errors = int(errs.Load())
	return rep
}

func (c *w3Clients) deliverOne(ctx context.Context, v *w3Conn, k int) (time.Duration, error) {
	text := fmt.Sprintf("hello %d", k)
	type arrival struct {
		at  time.Time
		err error
	}
	got := make(chan arrival, 1)
	v.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(io.MultiReader(bytes.NewReader(v.rest), v.conn))
	if c.plan.LongPoll {
		go func() {
			resp, err := http.ReadResponse(r, nil)
			at := time.Now()
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("the long-poll answered %d", resp.StatusCode)
				}
			}
			got <- arrival{at, err}
		}()
	} else {
		want := `"text":"Got it: ` + text + `"`
		go func() {
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					got <- arrival{err: fmt.Errorf("event stream: %w", err)}
					return
				}
				if strings.HasPrefix(line, "data: ") && strings.Contains(line, want) {
					got <- arrival{at: time.Now()}
					return
				}
			}
		}()
	}
	start := time.Now()
	var err error
	if c.plan.LongPoll {
		_, err = c.post(ctx, "/api/v1/channels/api/messages", c.plan.Token, map[string]any{
			"contact": map[string]string{"external_id": v.external}, "message": map[string]string{"id": fmt.Sprintf("%s-%d", v.external, k), "text": text}}, nil)
	} else {
		_, err = c.post(ctx, "/widget/v1/web/messages", v.token, map[string]string{"client_id": fmt.Sprintf("w3-%d", k), "text": text}, nil)
	}
	if err != nil {
		return 0, err
	}
	a := <-got
	if a.err != nil {
		return 0, a.err
	}
	return a.at.Sub(start), nil
}
