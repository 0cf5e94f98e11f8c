package api

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/runner"
)

// limitsWorkspace caps waiting requests at 3 in all and 2 per API token.
const limitsWorkspace = `
channels:
  - {id: api, kind: api}
limits: {long_polls: 3, long_polls_per_token: 2}
`

// Long-polls are bounded per token (429) and in all (503), with Retry-After; requests that do
// not wait, and /healthz and /metrics, still get through; a long-poll that ends frees its slot.
func TestLongPollLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{workspace: limitsWorkspace})
	conv, _ := e.say("u-1", "m-1", "hello")
	e.drain() // the bot answered and waits: nothing new comes
	waitPath := "/api/v1/conversations/" + conv + "/messages?after=" + e.lastMessage(conv) + "&wait=30s"
	other, _, err := e.db.TokenCreate(context.Background(), "other", "", t0, runner.NewID)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	hold := func(token string) {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+waitPath, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	hold(e.token)
	hold(e.token)
	waitFor(t, "two long-polls waiting", 10*time.Second, func() bool { return e.api.Waiting() == 2 })
	r := e.do(request{method: "GET", path: waitPath}).mustStatus(t, http.StatusTooManyRequests)
	if _, msg := r.err(t); !strings.Contains(msg, "long_polls_per_token") || r.header.Get("Retry-After") != "5" {
		t.Errorf("the third of a token: %q, Retry-After %q", msg, r.header.Get("Retry-After"))
	}
	e.do(request{method: "GET", path: "/api/v1/conversations/" + conv + "/messages"}).mustStatus(t, http.StatusOK)
	hold(other)
	waitFor(t, "three long-polls waiting", 10*time.Second, func() bool { return e.api.Waiting() == 3 })
	// Parked or not, a waiting long-poll holds a connection: it counts among the open ones.
	if n := e.api.OpenConnections(); n < 3 {
		t.Errorf("%d open connections with 3 long-polls waiting", n)
	}
	as := func(token string, req request) *response {
		req.header = map[string]string{"Authorization": "Bearer " + token}
		return e.do(req)
	}
	r = as(other, request{method: "GET", path: waitPath}).mustStatus(t, http.StatusServiceUnavailable)
	if _, msg := r.err(t); !strings.Contains(msg, "limits.long_polls") || r.header.Get("Retry-After") != "5" {
		t.Errorf("the fourth in all: %q, Retry-After %q", msg, r.header.Get("Retry-After"))
	}
	e.do(request{method: "GET", path: "/healthz", noAuth: true}).mustStatus(t, http.StatusOK)
	m := e.do(request{method: "GET", path: "/metrics", noAuth: true}).mustStatus(t, http.StatusOK)
	for _, want := range []string{`tandem_http_refused_total{reason="long_polls"} 1`, `tandem_http_refused_total{reason="long_polls_total"} 1`, "tandem_http_waiting 3"} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	cancel()
	wg.Wait()
	waitFor(t, "the long-polls to end", 10*time.Second, func() bool { return e.api.Waiting() == 0 })
	e.do(request{method: "GET", path: strings.Replace(waitPath, "wait=30s", "wait=0.01", 1)}).mustStatus(t, http.StatusOK)
}

// lastMessage returns the id of a conversation's last message.
func (e *env) lastMessage(conv string) string {
	e.t.Helper()
	ms := e.messages(conv, "").Messages
	return ms[len(ms)-1].ID
}

// An agent's event streams count as waiting requests, capped per login (limits.long_polls_per_agent).
func TestEventStreamLimit(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var opened []*http.Response
	for range 8 {
		_, resp := readSSE(t, ctx, e.srv.URL+"/api/v1/inbox/events", e.tokens["ana@acme.com"], nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", len(opened)+1, resp.StatusCode)
		}
		opened = append(opened, resp)
	}
	r := e.as("ana@acme.com", request{method: "GET", path: "/api/v1/inbox/events"}).mustStatus(t, http.StatusTooManyRequests)
	if _, msg := r.err(t); !strings.Contains(msg, "long_polls_per_agent") {
		t.Errorf("the ninth stream: %q", msg)
	}
	// Another agent has their own.
	_, resp := readSSE(t, ctx, e.srv.URL+"/api/v1/inbox/events", e.tokens["bob@acme.com"], nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("bob's stream: %d", resp.StatusCode)
	}
}

// Past limits.connections, requests are refused with 503, Retry-After and Connection: close;
// /healthz and /metrics still answer; once connections close, requests pass again.
func TestConnectionLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{maxConns: 3})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	var idle []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	waitFor(t, "three open connections", 10*time.Second, func() bool { return e.api.OpenConnections() >= 3 })
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	r := e.doWith(client, request{method: "GET", path: "/api/v1/flows"}).mustStatus(t, http.StatusServiceUnavailable)
	if code, msg := r.err(t); code != "unavailable" || !strings.Contains(msg, "limits.connections (3)") || r.header.Get("Retry-After") != "1" {
		t.Errorf("%s %q, Retry-After %q", code, msg, r.header.Get("Retry-After"))
	}
	e.doWith(client, request{method: "GET", path: "/healthz", noAuth: true}).mustStatus(t, http.StatusOK)
	e.doWith(client, request{method: "GET", path: "/metrics", noAuth: true}).mustStatus(t, http.StatusOK)
	for _, c := range idle {
		c.Close()
	}
	waitFor(t, "the idle connections to close", 10*time.Second, func() bool { return e.api.OpenConnections() <= 1 })
	e.doWith(client, request{method: "GET", path: "/api/v1/flows"}).mustStatus(t, http.StatusOK)
}

// Rates per kind of credential by default: an agent's login is limited long before an API token
// (50/s against 10,000/s); a route of limits.rate.routes has its own rate per credential. 429s
// carry Retry-After and are counted in the metrics.
func TestRateLimitsByKindAndRoute(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	agentLimited := 0
	for i := 0; i < 200 && agentLimited == 0; i++ {
		if r := e.as("ana@acme.com", request{method: "GET", path: "/api/v1/inbox/teams"}); r.status == http.StatusTooManyRequests {
			agentLimited = i
			if _, msg := r.err(t); !strings.Contains(msg, "this login") || r.header.Get("Retry-After") == "" {
				t.Errorf("an agent's 429: %q, Retry-After %q", msg, r.header.Get("Retry-After"))
			}
		}
	}
	if agentLimited != 100 {
		t.Errorf("the agent was limited after %d requests, want a burst of 100 (twice 50/s)", agentLimited)
	}
	for range 300 {
		e.do(request{method: "GET", path: "/api/v1/inbox/teams"}).mustStatus(t, http.StatusOK)
	}
	// A second later the agent has 50 more.
	e.clock.Advance(time.Second)
	for range 50 {
		e.as("ana@acme.com", request{method: "GET", path: "/api/v1/inbox/teams"}).mustStatus(t, http.StatusOK)
	}
	e.as("ana@acme.com", request{method: "GET", path: "/api/v1/inbox/teams"}).mustStatus(t, http.StatusTooManyRequests)
	m := e.do(request{method: "GET", path: "/metrics", noAuth: true}).mustStatus(t, http.StatusOK)
	if !strings.Contains(string(m.body), `tandem_http_refused_total{reason="rate"} 2`) {
		t.Error(`metrics lack tandem_http_refused_total{reason="rate"} 2`)
	}
}

// limits.rate.routes: a route's own rate per credential, beside the credential's.
func TestRateLimitPerRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{configRates: true, workspace: `
channels:
  - {id: api, kind: api}
limits:
  rate:
    routes: {"POST /api/v1/flows/{id}/publish": 1}
`})
	publish := func() int { return e.do(request{method: "POST", path: "/api/v1/flows/echo/publish"}).status }
	for i := range 10 {
		if st := publish(); st == http.StatusTooManyRequests {
			t.Fatalf("publish %d was limited; want a burst of 10", i+1)
		}
	}
	r := e.do(request{method: "POST", path: "/api/v1/flows/echo/publish"}).mustStatus(t, http.StatusTooManyRequests)
	if _, msg := r.err(t); !strings.Contains(msg, "on POST /api/v1/flows/{id}/publish") {
		t.Errorf("the route's 429: %q", msg)
	}
	for range 50 {
		e.do(request{method: "GET", path: "/api/v1/flows"}).mustStatus(t, http.StatusOK)
	}
	e.clock.Advance(time.Second)
	if st := publish(); st == http.StatusTooManyRequests {
		t.Error("a second later the route is still limited")
	}
	// A route of limits.rate.routes that the API does not serve stops the start.
	bad := New(Config{Workspace: mustConfig(t, "limits: {rate: {routes: {\"GET /api/v1/nothing\": 5}}}")})
	if err := bad.CheckLimits(); err == nil || !strings.Contains(err.Error(), `"GET /api/v1/nothing" is not a route`) {
		t.Errorf("CheckLimits = %v", err)
	}
}

// mustConfig parses a tandem.yaml.
func mustConfig(tb testing.TB, src string) *config.Config {
	tb.Helper()
	c, err := config.Parse("tandem.yaml", []byte(src), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
