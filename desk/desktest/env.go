// Package desktest is the behaviour suite every desk kind runs (Run) and what its tests share:
// Env, a whole Tandem — SQLite store, runner on a virtual clock, the HTTP API with the desks'
// webhooks and the built-in inbox — whose handoffs go to a configured desk, and Fake, an HTTP
// server on 127.0.0.1 standing in for a desk's API (record every request, script failures per
// route). Only tests import it.
package desktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/api"
	apichannel "github.com/tandemchat/tandem/channel/api"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/desk/inbox"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
	"github.com/tandemchat/tandem/workspace"
)

// T0 is where the virtual clock starts.
var T0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// Texts the flow of the suite sends.
const (
	TextReply = "Refunds take 5 business days."
	TextAsk   = "Anything else?"
	TextBack  = "The bot is back. How else can I help?"
	TextSorry = "Nobody can take this now."
	TextBye   = "Bye."
	Question1 = "How long does a refund take?"
	Question2 = "I want a human please"
	// Reason and Summary are what a handoff of SummaryFlow gives the desk: its step's reason,
	// and the summary the workspace's default provider writes.
	Reason       = "asks for a human"
	Summary      = "Bob asks how long a refund takes and wants a person."
	TeamName     = "support"
	DeskID       = "desk"
	AgentEmail   = "ana@acme.com"
	AgentName    = "Ana"
	waitTimeout  = 60 * time.Second
	SessionLimit = 180 * time.Second
)

// HandoffFlow answers, asks, then hands the conversation to the desk with the id; the bot
// takes over again when the agent closes.
func HandoffFlow(deskID string) string {
	return fmt.Sprintf(`format: 1
id: helpdesk
name: Help desk
trigger: {on: message, match: any}
steps:
  - id: reply
    type: message
    text: %q
  - id: ask
    type: question
    text: %q
    answer: text
  - id: to_human
    type: handoff
    desk: %s
    team: %s
    transfer: {rounds: 10}
    wait_timeout: 60s
    session_timeout: 180s
    next: back
    on_unavailable: sorry
    on_user_closed: bye
    on_timeout: bye
  - id: back
    type: message
    text: %q
    next: end
  - id: sorry
    type: message
    text: %q
    next: end
  - id: bye
    type: message
    text: %q
`, TextReply, TextAsk, deskID, TeamName, TextBack, TextSorry, TextBye)
}

// SummaryFlow is HandoffFlow whose handoff step gives a reason and asks for a summary, from
// the provider named ("" for the workspace's default, which writes Summary; "down" fails).
func SummaryFlow(deskID, provider string) string {
	f := HandoffFlow(deskID)
	t := fmt.Sprintf("transfer: {rounds: 10, summary: true, provider: %q}\n    reason: %q", provider, Reason)
	if provider == "" {
		t = fmt.Sprintf("transfer: {rounds: 10, summary: true}\n    reason: %q", Reason)
	}
	return strings.Replace(f, "transfer: {rounds: 10}", t, 1)
}

// summarizer is the workspace's AI provider in an Env: it summarizes a transcript that holds
// the suite's question as Summary; "down" fails every call.
type summarizer struct{ id string }

func (p summarizer) Call(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	if p.id == "down" {
		return nil, &tandem.AIError{Status: 503, Message: "the model is overloaded", Temporary: true}
	}
	if req.Op != tandem.AISummarize || !strings.Contains(req.Input, Question1) {
		return nil, &tandem.AIError{Status: 400, Message: fmt.Sprintf("unexpected %s request: %q", req.Op, req.Input)}
	}
	return &tandem.AIResult{Provider: p.id, Text: Summary, Model: "m", Usage: tandem.Usage{Calls: 1}}, nil
}

// Options configure an Env.
type Options struct {
	// Desks is the desks: section's entries, one YAML line each ("- {id: desk, kind: ...}").
	Desks []string
	// Vars are the ${VAR}s of the configuration.
	Vars map[string]string
	// HTTP is the client desks call through (a fake's); nil: a plain client.
	HTTP *http.Client
	// Flows to publish; default HandoffFlow(DeskID).
	Flows []string
	// Secrets keeps desks' credentials; nil: a memory store.
	Secrets func(deskID string) desk.Secrets
}

// Env is a whole Tandem for desk tests.
type Env struct {
	T       *testing.T
	Ctx     context.Context
	DB      *store.DB
	Run     *runner.Runner
	Clock   *clock.Virtual
	Server  *httptest.Server
	Config  *config.Config
	Desks   map[string]tandem.Desk
	Inbox   *inbox.Service
	Logs    *Buffer
	Token   string
	Secrets map[string]*MemorySecrets

	mu     sync.Mutex
	sleeps []time.Duration
}

// NewEnv starts a Tandem; everything stops when the test ends.
func NewEnv(t *testing.T, o Options) *Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	src := `
workspace: {name: Test, timezone: UTC, language: en}
channels:
  - {id: api, kind: api}
teams:
  - {id: support, name: Support, members: [ana@acme.com]}
providers:
  - {id: ai, kind: openai, api_key: sk-test, model: m}
  - {id: down, kind: openai, api_key: sk-test, model: m}
default_provider: ai
agents:
  - {email: ana@acme.com, name: Ana}
desks:
`
	for _, d := range o.Desks {
		src += "  " + strings.TrimSpace(d) + "\n"
	}
	if len(o.Desks) == 0 {
		src = strings.TrimSuffix(src, "desks:\n")
	}
	cfg, err := config.Parse("tandem.yaml", []byte(src), func(k string) (string, bool) { v, ok := o.Vars[k]; return v, ok })
	if err != nil {
		t.Fatalf("configuration: %v\n%s", err, src)
	}
	e := &Env{T: t, Ctx: ctx, DB: storetest.SQLite(t), Clock: clock.NewVirtual(T0), Config: cfg, Logs: &Buffer{}, Secrets: map[string]*MemorySecrets{}}
	log := slog.New(slog.NewTextHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wenv, err := workspace.Env(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := &apichannel.Channel{ID: "api", Client: &http.Client{Timeout: 5 * time.Second}}
	var ib *inbox.Service
	e.Run = runner.New(runner.Config{DB: e.DB, Clock: e.Clock, Poll: 50 * time.Millisecond, Env: wenv, Logger: log,
		Sleep:   func(ctx context.Context, d time.Duration) error { return ctx.Err() },
		Channel: func(id string) (tandem.Channel, bool) { return ch, id == "api" },
		Desk: func(id string) (tandem.Desk, bool) {
			if d, ok := ib.Desk(id); ok {
				return d, true
			}
			d, ok := e.Desks[id]
			return d, ok
		},
		Notify:   func(id string) { ib.Notify(id) },
		Provider: func(id string) (tandem.Provider, bool) { return summarizer{id}, id == "ai" || id == "down" },
	})
	ib = inbox.New(inbox.Config{DB: e.DB, Workspace: cfg, Events: e.Run, Clock: e.Clock, Logger: log, BcryptCost: bcrypt.MinCost, TickEvery: time.Hour})
	if err := ib.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	e.Inbox = ib
	client := o.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	e.Desks = map[string]tandem.Desk{}
	for _, d := range cfg.Desks {
		if d.Kind == config.InboxDesk {
			continue
		}
		var secrets desk.Secrets
		if o.Secrets != nil {
			secrets = o.Secrets(d.ID)
		} else {
			m := &MemorySecrets{}
			e.Secrets[d.ID] = m
			secrets = m
		}
		built, err := workspace.Desks(&config.Config{Desks: []config.Desk{d}}, desk.Deps{HTTP: client, Store: e.DB, Sink: e.Run, Secrets: secrets,
			Logger: log, Clock: e.Clock, Sleep: e.sleep})
		if err != nil {
			t.Fatal(err)
		}
		for id, dk := range built {
			e.Desks[id] = dk
		}
	}
	flows := o.Flows
	if flows == nil {
		flows = []string{HandoffFlow(DeskID)}
	}
	for _, src := range flows {
		f, findings := flow.Parse("flow.yaml", []byte(src))
		if f == nil {
			t.Fatalf("flow: %v", findings)
		}
		if _, _, err := e.Run.Publish(ctx, f, "yaml"); err != nil {
			t.Fatal(err)
		}
	}
	srv := api.New(api.Config{DB: e.DB, Runner: e.Run, Workspace: cfg, Clock: e.Clock, Logger: log, RateLimit: -1, Inbox: ib,
		Desks: func(id string) tandem.Desk { return e.Desks[id] }})
	e.Server = httptest.NewServer(srv)
	t.Cleanup(e.Server.Close)
	tok, _, err := e.DB.TokenCreate(ctx, "test", "", T0, runner.NewID)
	if err != nil {
		t.Fatal(err)
	}
	e.Token = tok
	return e
}

// sleep is the desks' wait between attempts: recorded, not waited (the clock is virtual).
func (e *Env) sleep(ctx context.Context, d time.Duration) error {
	e.mu.Lock()
	e.sleeps = append(e.sleeps, d)
	e.mu.Unlock()
	return ctx.Err()
}

// Sleeps returns the waits desks asked for between attempts, in order.
func (e *Env) Sleeps() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Duration(nil), e.sleeps...)
}

// URL is Tandem's address of a path.
func (e *Env) URL(path string) string { return e.Server.URL + path }

// Drain carries out everything due now on the virtual clock.
func (e *Env) Drain() {
	e.T.Helper()
	if err := e.Run.Drain(e.Ctx); err != nil {
		e.T.Fatalf("drain: %v", err)
	}
}

// Advance moves the virtual clock by d, carrying out what falls due.
func (e *Env) Advance(d time.Duration) {
	e.T.Helper()
	if err := e.Run.AdvanceTo(e.Ctx, e.Clock.Now().Add(d)); err != nil {
		e.T.Fatalf("advance: %v", err)
	}
}

// Do calls Tandem's API with the test token and returns the status and the body.
func (e *Env) Do(method, path string, body any) (int, []byte) {
	e.T.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.T.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(e.Ctx, method, e.URL(path), r)
	if err != nil {
		e.T.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.Server.Client().Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	e.Logs.Write([]byte("API ANSWER " + method + " " + path + ": " + string(b) + "\n")) // checked for secrets too
	return resp.StatusCode, b
}

// Customer sends a customer message on the API channel as contact user (with an e-mail
// when email is not "") and carries out what follows; it returns the conversation id.
func (e *Env) Customer(user, email, messageID, text string) string {
	e.T.Helper()
	contact := map[string]any{"external_id": "u-" + user, "name": user}
	if email != "" {
		contact["email"] = email
	}
	status, b := e.Do("POST", "/api/v1/channels/api/messages", map[string]any{"contact": contact, "message": map[string]any{"id": messageID, "text": text}})
	if status != http.StatusAccepted && status != http.StatusOK {
		e.T.Fatalf("customer message: %d %s", status, b)
	}
	var out struct {
		ConversationID string `json:"conversation_id"`
	}
	json.Unmarshal(b, &out)
	e.Drain()
	return out.ConversationID
}

// View returns what the customer of a conversation got, "author: text", oldest first.
func (e *Env) View(conv string) []string {
	e.T.Helper()
	status, b := e.Do("GET", "/api/v1/conversations/"+conv+"/messages", nil)
	if status != http.StatusOK {
		e.T.Fatalf("messages: %d %s", status, b)
	}
	var out struct {
		Messages []struct {
			Direction, Author, Text string
			Media                   *struct{ URL string }
		} `json:"messages"`
	}
	json.Unmarshal(b, &out)
	var view []string
	for _, m := range out.Messages {
		if m.Direction == tandem.DirectionOut {
			line := m.Author + ": " + m.Text
			if m.Media != nil {
				line += " [" + m.Media.URL + "]"
			}
			view = append(view, line)
		}
	}
	return view
}

// Conversation returns the conversation as the API shows it.
func (e *Env) Conversation(conv string) map[string]any {
	e.T.Helper()
	status, b := e.Do("GET", "/api/v1/conversations/"+conv, nil)
	if status != http.StatusOK {
		e.T.Fatalf("conversation: %d %s", status, b)
	}
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// Traces returns the JSON of the runs of a conversation (their step traces), for secret checks.
func (e *Env) Traces(conv string) string {
	e.T.Helper()
	c := e.Conversation(conv)
	var b strings.Builder
	if run, ok := c["active_run"].(map[string]any); ok {
		if id, _ := run["id"].(string); id != "" {
			_, body := e.Do("GET", "/api/v1/runs/"+id, nil)
			b.Write(body)
		}
	}
	rb, _ := json.Marshal(c)
	b.Write(rb)
	return b.String()
}

// HandoffSession returns the session of the conversation's handoff ("" without one).
func (e *Env) HandoffSession(conv string) string {
	e.T.Helper()
	info, err := e.DB.ConversationGet(e.Ctx, conv)
	if err != nil {
		e.T.Fatal(err)
	}
	st, err := runner.State(info)
	if err != nil || st.Handoff == nil {
		return ""
	}
	return st.Handoff.Session
}

// NoSecrets fails the test when a value shows in the logs, an API answer or a trace.
func (e *Env) NoSecrets(values []string, convs ...string) {
	e.T.Helper()
	var all strings.Builder
	for _, c := range convs {
		all.WriteString(e.Traces(c))
	}
	all.WriteString(e.Logs.String())
	text := all.String()
	for _, v := range values {
		if v != "" && strings.Contains(text, v) {
			e.T.Errorf("a credential shows in the logs, API answers or traces: %.12s…", v)
		}
	}
}

// Buffer is a buffer loggers on several goroutines write to.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// MemorySecrets is a desk.Secrets in memory.
type MemorySecrets struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *MemorySecrets) Get(ctx context.Context, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[name]
	if !ok {
		return "", tandem.Errorf(tandem.ENOTFOUND, "Secret %q is not set.", name)
	}
	return v, nil
}

func (s *MemorySecrets) Put(ctx context.Context, name, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[name] = value
	return nil
}

func (s *MemorySecrets) Delete(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[name]; !ok {
		return tandem.Errorf(tandem.ENOTFOUND, "Secret %q is not set.", name)
	}
	delete(s.m, name)
	return nil
}
