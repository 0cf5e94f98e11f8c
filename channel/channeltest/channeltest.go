// Package channeltest is the behaviour suite every channel runs (courier's handler tests are
// its model): real payloads posted to the channel's webhook through the real API server, runner
// and store (SQLite, virtual clock) must come out as the right normalised messages, stored once;
// forged requests are refused with 401 and store nothing; delivery reports reach a message
// step's on_failed; outbound requests equal golden files; throttling is retried after
// Retry-After and rejections fail with the platform's code and message; and no secret of the
// channel ever shows in logs, traces or API answers.
//
// A channel's test fills a Suite with its payloads (copied into its testdata/) and calls Run.
// Parts that do not apply to a kind are left empty (the API channel's inbound route takes an
// API token, not a signature; Telegram reports no delivery) and are skipped with the reason,
// or named in Suite.Skip with why they do not apply (the web widget has no platform).
package channeltest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/api"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
	"github.com/tandemchat/tandem/workspace"
)

// update rewrites the golden files of outbound payloads: go test ./channel/... -update.
var update = flag.Bool("update", false, "rewrite the golden files of outbound payloads")

// T0 is where the suite's virtual clock starts.
var T0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// Suite describes one channel kind to the behaviour suite.
type Suite struct {
	// Config is the channel under test; its BaseURL is replaced by the fake platform's.
	Config channel.Config
	// Secrets are values that must never show in logs, traces or API answers (its tokens).
	Secrets []string
	// Hook is the path payloads are posted to ("/hooks/whatsapp/wa").
	Hook string
	// Sign makes a request authentic (its signature or secret header). Nil: the route takes an
	// API token (the API channel), and the forgery checks are skipped.
	Sign func(r *http.Request, body []byte)
	// Forgeries break a request's authentication each in one way a caller can get it wrong
	// (no signature, another secret's, a stale one); each must be answered 401.
	Forgeries map[string]func(r *http.Request)
	// Incoming are payloads and the messages they must store, in order. The first one must be
	// a customer's text: the other checks open conversations with it.
	Incoming []Incoming
	// StatusBody returns a payload reporting a delivery status of a message Tandem sent (nil:
	// the kind reports none).
	StatusBody func(st channel.Status, customer string) []byte
	// Outgoing are messages to send and the golden file their request must equal.
	Outgoing []Outgoing
	// Platform serves the fake platform's endpoints other than sends (media downloads); it
	// reports whether it answered.
	Platform func(p *Platform, w http.ResponseWriter, r *http.Request) bool
	// IsSend tells the platform's send requests apart from the others.
	IsSend func(r *http.Request, body []byte) bool
	// Rewrite adapts a payload to the test's fake platform before it is signed and posted
	// (a media URL of the platform's own host); nil: payloads are posted as they are.
	Rewrite func(body []byte, platformURL string) []byte
	// SendOK answers a send that succeeds.
	SendOK Response
	// Throttled answers a send that is throttled and asks to wait ThrottleDelay.
	Throttled     Response
	ThrottleDelay time.Duration
	// ServerError answers a send that fails on the platform's side (5xx).
	ServerError Response
	// Rejected answers a send that can never work; the failure must contain RejectedText (the
	// platform's code and message). Zero: the kind retries every failure (the API channel).
	Rejected     Response
	RejectedText []string
	// RejectedError is why the API says the rejected message failed: the platform's code and
	// message.
	RejectedError tandem.MessageError
	// Start, when set, runs at the end of NewEnv: a kind whose callers authenticate with
	// something the server issues (the widget's session) gets it there and sets Env.Sign.
	Start func(e *Env)
	// Skip names the parts of the suite that do not apply to the kind (incoming, replayed,
	// forged, forged.logged, statuses, outgoing, errors, retried, secrets) and says why.
	Skip map[string]string
}

// Incoming is a payload and what it must store.
type Incoming struct {
	Name string
	Body []byte
	// Want are the messages stored, in order (none: the payload stores nothing, e.g. a status).
	Want []Want
}

// Want is a stored customer message; empty fields are not compared.
type Want struct {
	ExternalID string
	Name       string
	Type       string
	Text       string
	Option     string
	// MediaMime and MediaSize describe a file kept in the media store (MediaSize > 0: it must
	// be kept and served at its URL with that many bytes); MediaError that it is not kept.
	MediaMime  string
	MediaSize  int64
	MediaError bool
	Location   *tandem.Location
	Contacts   []tandem.SharedContact
	Reaction   string
	RefersTo   string
	Data       map[string]any
}

// Outgoing is a message to send and its golden file.
type Outgoing struct {
	Name string
	// Message is what the engine hands the channel; Contact is the customer.
	Message     tandem.Message
	Contact     tandem.Contact
	UseTemplate bool
	// Golden is the file under testdata/golden/ the platform request must equal (JSON
	// compared by value; several requests are a JSON array); "" for a multipart upload, whose
	// boundary changes (the kind checks it itself).
	Golden string
	// Setup prepares the env before the send (a file kept in the media store).
	Setup func(e *Env)
}

// Response is an answer of the fake platform.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Env is a running Tandem around the channel under test, and the fake platform.
type Env struct {
	T        *testing.T
	Suite    *Suite
	DB       *store.DB
	Clock    *clock.Virtual
	Runner   *runner.Runner
	API      *httptest.Server
	Platform *Platform
	Channel  channel.Channel
	Logs     *Buffer
	Token    string
	// Sign authenticates a payload posted to the hook: Suite.Sign unless Suite.Start set it.
	Sign func(r *http.Request, body []byte)

	restart func() *runner.Runner
	current atomic.Pointer[runner.Runner] // Runner, for the webhook's goroutines
}

// Restart replaces the runner by a new one on the same store, as a process restarted: what
// the old one held in memory is forgotten, what it stored is not. The API keeps reading the
// store.
func (e *Env) Restart() {
	e.Runner = e.restart()
	e.current.Store(e.Runner)
}

// The flows every Env runs: an echo, and a delivery-tracked message (started by the API).
const echoFlow = `format: 1
id: echo
trigger: {on: message, match: any}
steps:
  - {id: hello, type: message, text: "You said: {{message.text}}"}
`

const trackFlow = `format: 1
id: track
trigger: {on: api}
steps:
  - {id: tracked, type: message, text: "Your code is 1234", on_failed: fallback, delivery_timeout: 1m}
  - {id: ok, type: message, text: "went on: {{step.tracked.status}}", next: end}
  - {id: fallback, type: message, text: "failed: {{step.tracked.error}}"}
`

// NewEnv starts Tandem with the suite's channel and a fake platform; everything stops with
// the test.
func NewEnv(t *testing.T, s *Suite) *Env {
	t.Helper()
	return NewEnvOn(t, s, storetest.SQLite(t))
}

// NewEnvOn is NewEnv on the store db (storetest.Each gives one of each kind).
func NewEnvOn(t *testing.T, s *Suite, db *store.DB) *Env {
	t.Helper()
	ctx := context.Background()
	e := &Env{T: t, Suite: s, DB: db, Clock: clock.NewVirtual(T0), Logs: &Buffer{}}
	e.Platform = newPlatform(t, s)
	log := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cc := s.Config
	cc.BaseURL = e.Platform.URL
	if strings.HasPrefix(cc.OutboundURL, "/") {
		cc.OutboundURL = e.Platform.URL + cc.OutboundURL // the API channel posts to the business's URL
	}
	cfg := config.Default()
	cfg.Channels = []config.Channel{{ID: cc.ID, Kind: cc.Kind}}
	env, err := workspace.Env(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := channel.New(cc, channel.Deps{HTTP: e.Platform.Client(), Clock: e.Clock, Logger: log, Media: e.DB,
		Inbox: channel.InboxFunc(func(ctx context.Context, id string, b *channel.Batch) (*channel.Receipt, error) {
			return e.current.Load().Receive(ctx, id, b)
		}),
		Channels: func(kind string) map[string]channel.Channel { return nil }})
	if err != nil {
		t.Fatalf("channel %s: %v", cc.Kind, err)
	}
	e.Channel = ch
	e.restart = func() *runner.Runner {
		return runner.New(runner.Config{DB: e.DB, Env: env, Clock: e.Clock, Logger: log,
			Channel: func(id string) (tandem.Channel, bool) { return ch, id == cc.ID },
			Sleep:   func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	}
	run := e.restart()
	e.Runner = run
	e.current.Store(run)
	for _, src := range []string{echoFlow, trackFlow} {
		e.Publish(src)
	}
	srv := api.New(api.Config{DB: e.DB, Runner: run, Workspace: cfg, Clock: e.Clock, Logger: log, RateLimit: -1, BodyLimit: 1 << 20,
		Channels: map[string]channel.Channel{cc.ID: ch}})
	e.API = httptest.NewServer(srv)
	t.Cleanup(e.API.Close)
	tok, _, err := e.DB.TokenCreate(ctx, "channeltest", "", T0, runner.NewID)
	if err != nil {
		t.Fatal(err)
	}
	e.Token = tok
	e.Sign = s.Sign
	if s.Start != nil {
		s.Start(e)
	}
	return e
}

// Publish publishes a flow (YAML) on the env's runner.
func (e *Env) Publish(src string) {
	e.T.Helper()
	f, findings := flow.Parse("flow.yaml", []byte(src))
	if f == nil {
		e.T.Fatalf("flow: %v", findings)
	}
	if _, _, err := e.Runner.Publish(context.Background(), f, "yaml"); err != nil {
		e.T.Fatal(err)
	}
}

// Start starts a flow in a conversation and does the work it causes.
func (e *Env) Start(conv, flowID string) {
	e.T.Helper()
	if err := e.Runner.Enqueue(context.Background(), tandem.Event{ConversationID: conv, Kind: tandem.EventStart, Start: &tandem.StartRun{FlowID: flowID}}); err != nil {
		e.T.Fatal(err)
	}
	e.Drain()
}

// Post sends a payload to the channel's hook, signed when sign is set (and the kind signs),
// then forge modifies it; it returns the status.
func (e *Env) Post(body []byte, sign bool, forge func(r *http.Request)) int {
	e.T.Helper()
	if e.Suite.Rewrite != nil {
		body = e.Suite.Rewrite(body, e.Platform.URL)
	}
	req, err := http.NewRequest(http.MethodPost, e.API.URL+e.Suite.Hook, bytes.NewReader(body))
	if err != nil {
		e.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if e.Sign == nil {
		req.Header.Set("Authorization", "Bearer "+e.Token)
	} else if sign {
		e.Sign(req, body)
	}
	if forge != nil {
		forge(req)
	}
	resp, err := e.API.Client().Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	e.record("POST "+e.Suite.Hook, data)
	return resp.StatusCode
}

// Get reads an API route with the test's token; the answer is checked for secrets.
func (e *Env) Get(path string, v any) {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.API.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.Token)
	resp, err := e.API.Client().Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	e.record("GET "+path, data)
	if resp.StatusCode != http.StatusOK {
		e.T.Fatalf("GET %s: %d %s", path, resp.StatusCode, data)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			e.T.Fatalf("GET %s: %v", path, err)
		}
	}
}

// answers keeps every API answer, for the secrets check.
var answersMu sync.Mutex

func (e *Env) record(what string, body []byte) {
	answersMu.Lock()
	defer answersMu.Unlock()
	e.Logs.answers = append(e.Logs.answers, what+": "+string(body))
}

// Drain does all the work queued at the current virtual time.
func (e *Env) Drain() {
	e.T.Helper()
	if err := e.Runner.Drain(context.Background()); err != nil {
		e.T.Fatal(err)
	}
}

// Advance moves the virtual clock and does the work that falls due.
func (e *Env) Advance(d time.Duration) {
	e.T.Helper()
	if err := e.Runner.AdvanceTo(context.Background(), e.Clock.Now().Add(d)); err != nil {
		e.T.Fatal(err)
	}
}

// Message is a stored message as the API shows it.
type Message struct {
	ID        string                 `json:"id"`
	Direction string                 `json:"direction"`
	Author    string                 `json:"author"`
	Type      string                 `json:"type"`
	Text      string                 `json:"text"`
	Option    string                 `json:"option"`
	Status    string                 `json:"status"`
	Error     *tandem.MessageError   `json:"error"`
	Media     *tandem.Media          `json:"media"`
	Location  *tandem.Location       `json:"location"`
	Contacts  []tandem.SharedContact `json:"contacts"`
	Reaction  string                 `json:"reaction"`
	RefersTo  string                 `json:"refers_to"`
	Data      map[string]any         `json:"data"`
}

// Conversations returns every conversation with its contact and messages, oldest first.
func (e *Env) Conversations() []Conversation {
	e.T.Helper()
	ctx := context.Background()
	infos, _, err := e.DB.ConversationList(ctx, store.ConversationListParams{Limit: 100})
	if err != nil {
		e.T.Fatal(err)
	}
	var out []Conversation
	for i := len(infos) - 1; i >= 0; i-- {
		c := Conversation{ID: infos[i].ID}
		var ct tandem.Contact
		e.Get("/api/v1/contacts/"+infos[i].ContactID, &ct)
		c.Contact = ct
		var l struct {
			Messages []Message `json:"messages"`
		}
		e.Get("/api/v1/conversations/"+c.ID+"/messages?limit=1000", &l)
		c.Messages = l.Messages
		out = append(out, c)
	}
	return out
}

// Conversation is a conversation, its contact and its messages.
type Conversation struct {
	ID       string
	Contact  tandem.Contact
	Messages []Message
}

// Inbound returns the customers' messages of every conversation, in order.
func (e *Env) Inbound() []Message {
	var out []Message
	for _, c := range e.Conversations() {
		for _, m := range c.Messages {
			if m.Direction == tandem.DirectionIn {
				out = append(out, m)
			}
		}
	}
	return out
}

// Buffer is a log destination safe for concurrent writes; it also keeps API answers.
type Buffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	answers []string
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was logged.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// CheckSecrets fails the test when a secret of the suite shows in the logs, an API answer or a
// run's trace.
func (e *Env) CheckSecrets() {
	e.T.Helper()
	var traces []string
	for _, c := range e.Conversations() {
		runs, err := e.DB.Runs(context.Background(), c.ID)
		if err != nil {
			e.T.Fatal(err)
		}
		for _, r := range runs {
			var v json.RawMessage
			e.Get("/api/v1/runs/"+r.ID, &v)
			traces = append(traces, string(v))
		}
	}
	var chans json.RawMessage
	e.Get("/api/v1/channels", &chans)
	answersMu.Lock()
	answers := strings.Join(e.Logs.answers, "\n")
	answersMu.Unlock()
	for _, s := range e.Suite.Secrets {
		if s == "" {
			continue
		}
		for what, text := range map[string]string{"the logs": e.Logs.String(), "the API's answers": answers, "the traces": strings.Join(traces, "\n")} {
			if strings.Contains(text, s) {
				e.T.Errorf("the secret %q shows in %s", clip(s), what)
			}
		}
	}
}

func clip(s string) string {
	if len(s) > 6 {
		return s[:3] + "…"
	}
	return "…"
}

// Golden compares got (JSON) with testdata/golden/name, or writes it with -update.
func Golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s: the request is not JSON: %v\n%s", name, err, got)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	pretty = append(pretty, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run with -update to write it)", name, err)
	}
	var w any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	wantPretty, _ := json.MarshalIndent(w, "", "  ")
	if !bytes.Equal(bytes.TrimSpace(pretty), bytes.TrimSpace(wantPretty)) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, pretty, wantPretty)
	}
}

// Contains reports whether every field of want is in got with the same value (objects by key,
// arrays element by element): a payload of the platform's documentation is the shape of ours.
func Contains(got, want any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("want an object, got %v", got)
		}
		for k, wv := range w {
			if err := Contains(g[k], wv); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("want %d elements, got %v", len(w), got)
		}
		for i := range w {
			if err := Contains(g[i], w[i]); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	default:
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("got %v, want %v", got, want)
		}
	}
	return nil
}

// File reads a kept file at its URL (a message's media.url) through the API, with its type.
func (e *Env) File(url string) ([]byte, string) {
	e.T.Helper()
	return e.fetch(e.T, url)
}
