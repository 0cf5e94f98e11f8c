package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	apichannel "github.com/tandemchat/tandem/channel/api"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/metrics"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
	"github.com/tandemchat/tandem/workspace"
)

// t0 is where virtual clocks start.
var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// workspaceYAML is the default workspace of the tests: one API channel without outbound_url
// (messages are only polled), a secret and a team.
const workspaceYAML = `
workspace: {name: Test, timezone: UTC, language: en}
secrets:
  API_KEY: "${API_KEY}"
channels:
  - {id: api, kind: api}
  - {id: web, kind: web, allowed_origins: ["https://acme.com"]}
teams:
  - {id: support, name: Support, members: [ana@acme.com]}
  - {id: sales, name: Sales, members: [bob@acme.com]}
`

// secretValue is the value of {{secret.API_KEY}}: it must never come out of the API.
const secretValue = "sk-test-0123456789-do-not-leak"

// testEnvVars is the environment config.Parse expands ${VAR} with.
var testEnvVars = map[string]string{"API_KEY": secretValue, "API_CHANNEL_SECRET": "chan-secret-42"}

// echoFlow answers every message, writes an internal note and asks a question.
const echoFlow = `format: 1
id: echo
name: Echo
trigger: {on: message, match: any}
steps:
  - id: hello
    type: message
    text: "You said: {{message.text}}"
  - id: memo
    type: note
    text: "internal: {{contact.name}} wrote {{message.text}}"
  - id: ask
    type: question
    text: "What is your e-mail?"
    answer: email
  - id: thanks
    type: message
    text: "Thanks, {{step.ask}}."
`

// options configures a test server.
type options struct {
	workspace string    // tandem.yaml; default workspaceYAML
	db        *store.DB // default: a fresh SQLite database
	flows     []string
	bodyLimit int64
	rateLimit float64 // default: unlimited
	// configRates takes the rates of the workspace's limits.rate instead of rateLimit.
	configRates bool
	// maxConns caps open connections (api.Config.MaxConnections); they are counted always.
	maxConns int
	http     runner.HTTPDoer
	provider func(id string) (tandem.Provider, bool) // AI providers; default: none
	desk     func(id string) (tandem.Desk, bool)     // human desks; default: none
	// wall starts the runner on the wall clock (background workers); otherwise the runner runs
	// on a virtual clock and the test drains it.
	wall bool
}

// env is an API server over a real runner and a real SQLite store.
type env struct {
	t     *testing.T
	db    *store.DB
	run   *runner.Runner
	clock *clock.Virtual
	hub   *Hub
	api   *Server
	srv   *httptest.Server
	cfg   *config.Config
	token string
	// tokenID is the id of token, for revoking it.
	tokenID string
}

// newEnv starts a server; everything is closed at the end of the test.
func newEnv(t *testing.T, o options) *env {
	t.Helper()
	ctx := context.Background()
	if o.workspace == "" {
		o.workspace = workspaceYAML
	}
	cfg, err := config.Parse("tandem.yaml", []byte(o.workspace), func(k string) (string, bool) { v, ok := testEnvVars[k]; return v, ok })
	if err != nil {
		t.Fatalf("workspace: %v", err)
	}
	db := o.db
	if db == nil {
		db = storetest.SQLite(t)
	}
	e := &env{t: t, db: db, cfg: cfg, hub: NewHub()}
	var clk tandem.Clock = clock.Wall{}
	if !o.wall {
		e.clock = clock.NewVirtual(t0)
		clk = e.clock
	}
	channels := map[string]tandem.Channel{}
	for _, c := range cfg.Channels {
		if c.Kind == apichannel.Kind {
			channels[c.ID] = &apichannel.Channel{ID: c.ID, OutboundURL: c.OutboundURL, Secret: c.Secret, Client: &http.Client{Timeout: 5 * time.Second}}
		}
	}
	doer := o.http
	if doer == nil {
		doer = &fakeHTTP{}
	}
	wenv, err := workspace.Env(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.run = runner.New(runner.Config{
		DB: db, Clock: clk, Poll: 50 * time.Millisecond, HTTP: doer, Env: wenv, Provider: o.provider,
		Sleep:   func(ctx context.Context, d time.Duration) error { return ctx.Err() },
		Channel: func(id string) (tandem.Channel, bool) { c, ok := channels[id]; return c, ok },
		Notify:  e.hub.Notify, Desk: o.desk,
	})
	for _, src := range append([]string{echoFlow}, o.flows...) {
		e.publish(src)
	}
	if o.wall {
		if err := e.run.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e.run.Stop(sctx)
		})
	}
	if o.rateLimit == 0 && !o.configRates {
		o.rateLimit = -1
	}
	m := metrics.New(db, clk.Now)
	e.api = New(Config{DB: db, Runner: e.run, Workspace: cfg, Clock: clk, Hub: e.hub, Observer: observer{m},
		Metrics: m.Handler(), BodyLimit: o.bodyLimit, RateLimit: o.rateLimit, MaxConnections: o.maxConns})
	m.HTTPLoad(e.api.OpenConnections, e.api.Waiting)
	e.srv = httptest.NewUnstartedServer(e.api)
	e.srv.Config.ConnState = e.api.ConnState
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	tok, rec, err := db.TokenCreate(ctx, "test", "", t0, runner.NewID)
	if err != nil {
		t.Fatal(err)
	}
	e.token, e.tokenID = tok, rec.ID
	return e
}

// with returns the env reporting to t: for subtests.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// publish parses and publishes a flow with the runner.
func (e *env) publish(src string) {
	e.t.Helper()
	f, findings := flow.Parse("test.yaml", []byte(src))
	if f == nil {
		e.t.Fatalf("flow does not parse: %v", findings)
	}
	if _, _, err := e.run.Publish(context.Background(), f, "yaml"); err != nil {
		e.t.Fatal(err)
	}
}

// drain carries out all the work due on the virtual clock.
func (e *env) drain() {
	e.t.Helper()
	if err := e.run.Drain(context.Background()); err != nil {
		e.t.Fatalf("drain: %v", err)
	}
}

// request is one HTTP request to the server.
type request struct {
	method, path string
	body         any // string, []byte or a value encoded as JSON
	header       map[string]string
	noAuth       bool
}

// response is an answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v or fails the test.
func (r *response) json(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("answer %d is not JSON (%v): %s", r.status, err, r.body)
	}
}

// m decodes the body as a JSON object.
func (r *response) m(tb testing.TB) map[string]any {
	tb.Helper()
	var v map[string]any
	r.json(tb, &v)
	return v
}

// errorBody decodes an error answer, checking its shape: {"error": {"code", "message"}}.
func (r *response) err(tb testing.TB) (code, message string) {
	tb.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("error answer %d has Content-Type %q, want JSON: %s", r.status, ct, r.body)
	}
	var b struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	r.json(tb, &b)
	if b.Error == nil || b.Error.Code == "" || b.Error.Message == "" {
		tb.Fatalf("answer %d is not an error body {\"error\": {\"code\", \"message\"}}: %s", r.status, r.body)
	}
	return b.Error.Code, b.Error.Message
}

// do sends a request with the env's token (unless noAuth).
func (e *env) do(req request) *response {
	e.t.Helper()
	return e.doCtx(context.Background(), req)
}

func (e *env) doCtx(ctx context.Context, req request) *response {
	e.t.Helper()
	return e.send(ctx, e.srv.Client(), req)
}

// doWith sends a request with another HTTP client (another source address, say).
func (e *env) doWith(client *http.Client, req request) *response {
	e.t.Helper()
	return e.send(context.Background(), client, req)
}

func (e *env) send(ctx context.Context, client *http.Client, req request) *response {
	e.t.Helper()
	var body io.Reader
	ctype := ""
	switch b := req.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body, ctype = bytes.NewReader(j), "application/json"
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, e.srv.URL+req.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		hr.Header.Set("Content-Type", ctype)
	}
	if !req.noAuth {
		hr.Header.Set("Authorization", "Bearer "+e.token)
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	resp, err := client.Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read: %v", req.method, req.path, err)
	}
	_, pattern := e.api.mux.Handler(hr)
	exchanges.add(pattern, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

// mustStatus fails the test unless the answer has the status.
func (r *response) mustStatus(tb testing.TB, want int) *response {
	tb.Helper()
	if r.status != want {
		tb.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

// inbound is the body of a customer message on the API channel.
func inbound(externalID, messageID, text string) map[string]any {
	return map[string]any{
		"contact": map[string]any{"external_id": externalID, "name": "Ana Souza"},
		"message": map[string]any{"id": messageID, "text": text},
	}
}

// say posts a customer message on the API channel and returns its ids.
func (e *env) say(externalID, messageID, text string) (conversationID, messageIDOut string) {
	e.t.Helper()
	r := e.do(request{method: "POST", path: "/api/v1/channels/api/messages", body: inbound(externalID, messageID, text)})
	r.mustStatus(e.t, http.StatusAccepted)
	var out struct {
		ConversationID string `json:"conversation_id"`
		MessageID      string `json:"message_id"`
	}
	r.json(e.t, &out)
	if out.ConversationID == "" || out.MessageID == "" {
		e.t.Fatalf("inbound answer without ids: %s", r.body)
	}
	return out.ConversationID, out.MessageID
}

// messageList is the answer of the messages endpoint.
type messageList struct {
	Messages   []messageJSON `json:"messages"`
	NextCursor string        `json:"next_cursor"`
}

// messages reads a conversation's messages after a cursor.
func (e *env) messages(conversationID, after string) messageList {
	e.t.Helper()
	path := "/api/v1/conversations/" + conversationID + "/messages"
	if after != "" {
		path += "?after=" + after
	}
	var out messageList
	e.do(request{method: "GET", path: path}).mustStatus(e.t, http.StatusOK).json(e.t, &out)
	return out
}

// texts returns the texts of messages, prefixed by their author.
func texts(ms []messageJSON) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Author + ": " + m.Text
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes: for conditions with no signal to
// wait on (a goroutine blocked inside a handler).
func waitFor(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeHTTP answers http steps in the process and records the requests it got.
type fakeHTTP struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (f *fakeHTTP) Do(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"id": "o-1", "status": "shipped"}`)), Request: req}, nil
}

func (f *fakeHTTP) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.reqs...)
}

// observer forwards request measurements to the metrics and records every (route, status)
// pair a test saw, for the OpenAPI conformance check in TestMain.
type observer struct{ next Observer }

// Refused forwards refusals to the metrics.
func (o observer) Refused(reason string) {
	if r, ok := o.next.(Refusals); ok {
		r.Refused(reason)
	}
}

func (o observer) Request(route string, status int, d time.Duration) {
	seen.add(route, status)
	if o.next != nil {
		o.next.Request(route, status, d)
	}
}

// seen is every (route, status) pair answered during this package's tests.
var seen = &seenRoutes{m: map[string]map[int]bool{}}

type seenRoutes struct {
	mu sync.Mutex
	m  map[string]map[int]bool
}

func (s *seenRoutes) add(route string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[route] == nil {
		s.m[route] = map[int]bool{}
	}
	s.m[route][status] = true
}

func (s *seenRoutes) snapshot() map[string]map[int]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[int]bool{}
	for r, st := range s.m {
		out[r] = map[int]bool{}
		for k := range st {
			out[r][k] = true
		}
	}
	return out
}
