package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	apichannel "github.com/tandemchat/tandem/channel/api"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/desk/webhook"
	"github.com/tandemchat/tandem/desk/webhook/webhooktest"
	"github.com/tandemchat/tandem/metrics"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store/storetest"
	"github.com/tandemchat/tandem/workspace"
)

const (
	deskSecret   = "desk-secret-0123456789-abcdef"
	deskPassword = "desk-pass-do-not-leak"
)

// handoffFlow answers, asks, then hands the conversation to the webhook desk "desk".
const handoffFlow = `format: 1
id: helpdesk
name: Help desk
trigger: {on: message, match: any}
steps:
  - id: reply
    type: message
    text: "Refunds take 5 business days."
  - id: ask
    type: question
    text: "Anything else?"
    answer: text
  - id: to_human
    type: handoff
    desk: desk
    transfer: {rounds: 10}
    wait_timeout: 60s
    session_timeout: 180s
    next: back
    on_unavailable: sorry
    on_user_closed: bye
    on_timeout: bye
  - id: back
    type: message
    text: "The bot is back. How else can I help?"
    next: end
  - id: sorry
    type: message
    text: "Nobody can take this now."
    next: end
  - id: bye
    type: message
    text: "Bye."
`

// deskEnv is a server whose runner hands conversations to a fake webhook desk on 127.0.0.1.
type deskEnv struct {
	*env
	desk *webhooktest.Desk
	logs *syncBuffer // what the runner and the server logged, at debug level
}

// syncBuffer is a buffer that loggers on several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkLogs fails the test if the desk's password or secret was logged.
func (e *deskEnv) checkLogs() {
	e.t.Helper()
	logs := e.logs.String()
	for _, secret := range []string{deskPassword, deskSecret} {
		if strings.Contains(logs, secret) {
			e.t.Errorf("the logs show a secret of the desk:\n%s", logs)
		}
	}
}

// newDeskEnv starts a server with the webhook desk "desk" (and a webhook desk "other") pointing
// at a fake desk, on a virtual clock that the test drains.
func newDeskEnv(t *testing.T) *deskEnv {
	t.Helper()
	ctx := context.Background()
	fd := webhooktest.New(t)
	yaml := workspaceYAML + fmt.Sprintf(`
desks:
  - {id: desk, kind: webhook, url: "%s", username: u, password: "${DESK_PASS}", secret: "${DESK_SECRET}"}
  - {id: other, kind: webhook, url: "%s", secret: "other-secret-0123456789"}
`, fd.URL, fd.URL)
	vars := map[string]string{"DESK_PASS": deskPassword, "DESK_SECRET": deskSecret}
	cfg, err := config.Parse("tandem.yaml", []byte(yaml), func(k string) (string, bool) {
		if v, ok := vars[k]; ok {
			return v, true
		}
		v, ok := testEnvVars[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("workspace: %v", err)
	}
	db := storetest.SQLite(t)
	e := &env{t: t, db: db, cfg: cfg, hub: NewHub(), clock: clock.NewVirtual(t0)}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var desks map[string]tandem.Desk
	api := &apichannel.Channel{ID: "api", Client: &http.Client{Timeout: 5 * time.Second}}
	wenv, err := workspace.Env(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.run = runner.New(runner.Config{
		DB: db, Clock: e.clock, Poll: 50 * time.Millisecond, HTTP: &fakeHTTP{}, Env: wenv, Logger: log,
		Sleep:   func(ctx context.Context, d time.Duration) error { return ctx.Err() },
		Channel: func(id string) (tandem.Channel, bool) { return api, id == "api" },
		Desk:    func(id string) (tandem.Desk, bool) { d, ok := desks[id]; return d, ok },
		Notify:  e.hub.Notify,
	})
	desks, err = workspace.Desks(cfg, desk.Deps{HTTP: fd.Client(), Store: db, Sink: e.run, Logger: log, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range desks {
		wd := d.(*webhook.Desk)
		wd.Sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
		wd.Timeout = 2 * time.Second
	}
	e.publish(handoffFlow)
	m := metrics.New(db, e.clock.Now)
	e.api = New(Config{DB: db, Runner: e.run, Workspace: cfg, Clock: e.clock, Hub: e.hub, Observer: observer{m}, Logger: log,
		Metrics: m.Handler(), RateLimit: -1, Desks: func(id string) tandem.Desk { return desks[id] }})
	e.srv = httptest.NewServer(e.api)
	t.Cleanup(e.srv.Close)
	tok, rec, err := db.TokenCreate(ctx, "test", "", t0, runner.NewID)
	if err != nil {
		t.Fatal(err)
	}
	e.token, e.tokenID = tok, rec.ID
	return &deskEnv{env: e, desk: fd, logs: logs}
}

// customer posts a message of a customer who gave an e-mail on the API channel, then drains.
func (e *deskEnv) customer(user, messageID, text string) (conversationID, id string) {
	e.t.Helper()
	r := e.do(request{method: "POST", path: "/api/v1/channels/api/messages", body: map[string]any{
		"contact": map[string]any{"external_id": "u-" + user, "name": user, "email": user + "@example.com"},
		"message": map[string]any{"id": messageID, "text": text},
	}}).mustStatus(e.t, http.StatusAccepted)
	var out struct {
		ConversationID string `json:"conversation_id"`
		MessageID      string `json:"message_id"`
	}
	r.json(e.t, &out)
	e.drain()
	return out.ConversationID, out.MessageID
}

// handoff brings a conversation to an open handoff and returns it with the handoff id.
func (e *deskEnv) handoff(user string) (conversationID, handoffID string) {
	e.t.Helper()
	conv, _ := e.customer(user, user+"-1", "How long does a refund take?")
	e.customer(user, user+"-2", "I want a human please")
	reqs := e.desk.Requests(webhook.PathEstablish)
	if len(reqs) == 0 {
		e.t.Fatal("the desk got no establish")
	}
	hid, _ := reqs[len(reqs)-1].JSON(e.t)["conversation_id"].(string)
	if c, ok := webhook.ConversationOf(hid); !ok || c != conv {
		e.t.Fatalf("establish conversation_id %q is not a handoff of %s", hid, conv)
	}
	return conv, hid
}

// callback posts to a desk callback path with the given headers (none: the Bearer secret).
func (e *deskEnv) callback(path string, body any, header map[string]string) *response {
	e.t.Helper()
	if header == nil {
		header = map[string]string{"Authorization": "Bearer " + deskSecret}
	}
	return e.do(request{method: "POST", path: path, body: body, header: header, noAuth: true})
}

// answer decodes a callback answer: {"code", "message"}.
func (r *response) answer(tb testing.TB) (code int, message string) {
	tb.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("answer %d has Content-Type %q", r.status, ct)
	}
	var a struct {
		Code    *int   `json:"code"`
		Message string `json:"message"`
	}
	r.json(tb, &a)
	if a.Code == nil {
		tb.Fatalf("answer %d is not {code, message}: %s", r.status, r.body)
	}
	return *a.Code, a.Message
}

func (e *deskEnv) mustAnswer(r *response, status, code int) string {
	e.t.Helper()
	r.mustStatus(e.t, status)
	got, msg := r.answer(e.t)
	if got != code {
		e.t.Errorf("code %d (%s), want %d", got, msg, code)
	}
	return msg
}

func agentMessage(hid, messageID, text string) map[string]any {
	m := map[string]any{"conversation_id": hid, "timestamp": 1764000902000, "body": text,
		"agent": map[string]any{"id": "42", "name": "Ana", "avatar_url": "https://desk.example/a/42.png"}}
	if messageID != "" {
		m["message_id"] = messageID
	}
	return m
}

// customerView returns what the customer got, "author: text", oldest first.
func (e *deskEnv) customerView(conv string) []string {
	e.t.Helper()
	var out []string
	for _, m := range e.messages(conv, "").Messages {
		if m.Direction == tandem.DirectionOut {
			out = append(out, m.Author+": "+m.Text)
		}
	}
	return out
}

// The whole handoff through the webhook contract: establish with the transcript, an agent's
// message to the customer (once, though the desk sends it twice), a customer message to the
// desk's /chat, the desk's close, and the bot taking over again.
func TestDeskWebhookEndToEnd(t *testing.T) {
	t.Parallel()
	e := newDeskEnv(t)
	conv, hid := e.handoff("bob")

	// establish: GPTBots' fields, the transcript, Basic auth, our signature.
	est := e.desk.Requests(webhook.PathEstablish)
	if len(est) != 1 {
		t.Fatalf("%d establish calls, want 1", len(est))
	}
	if user, pass, ok := (&http.Request{Header: est[0].Header}).BasicAuth(); !ok || user != "u" || pass != deskPassword {
		t.Errorf("establish Basic auth %q/%q %v", user, pass, ok)
	}
	if got, want := est[0].Header.Get(webhook.SignatureHeader), webhook.Sign(deskSecret, est[0].Body); got != want {
		t.Errorf("establish signature %q, want %q", got, want)
	}
	body := est[0].JSON(t)
	rounds, _ := json.Marshal(body["body"])
	if want := `[{"message_type":"QUESTION","text":"How long does a refund take?"},{"message_type":"ANSWER","text":"Refunds take 5 business days.\nAnything else?"},` +
		`{"message_type":"QUESTION","text":"I want a human please"},{"message_type":"ANSWER","text":""}]`; string(rounds) != want {
		t.Errorf("establish body:\n got %s\nwant %s", rounds, want)
	}
	ui, _ := body["user_info"].(map[string]any)
	if body["email"] != "bob@example.com" || ui["email"] != "bob@example.com" || ui["user_id"] != "u-bob" || ui["anonymous_id"] == "" {
		t.Errorf("establish email %v, user_info %v", body["email"], ui)
	}
	if ts, _ := body["timestamp"].(float64); int64(ts) != t0.UnixMilli() {
		t.Errorf("timestamp %v, want %d (milliseconds)", body["timestamp"], t0.UnixMilli())
	}
	if got := e.customerView(conv); !slices.Contains(got, "bot: Connecting you with an agent. Please wait a moment.") {
		t.Errorf("customer got %q, want the connecting text", got)
	}

	// B1, twice (a desk's retry): one delivery, 200 both times.
	for range 2 {
		e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", agentMessage(hid, "desk-msg-1", "Hi Bob, this is Ana."), nil), http.StatusOK, 0)
	}
	e.drain()
	got := e.customerView(conv)
	if n := count(got, "agent: Hi Bob, this is Ana."); n != 1 {
		t.Errorf("the agent's message reached the customer %d times, want 1: %q", n, got)
	}
	if i, j := slices.Index(got, "bot: An agent has joined the conversation."), slices.Index(got, "agent: Hi Bob, this is Ana."); i < 0 || i > j {
		t.Errorf("the connected text should come before the agent's first message: %q", got)
	}
	var info struct {
		Status   string `json:"status"`
		Assignee string `json:"assignee"`
	}
	e.do(request{method: "GET", path: "/api/v1/conversations/" + conv}).mustStatus(t, 200).json(t, &info)
	if info.Status != tandem.ConversationAssigned || info.Assignee != "Ana" {
		t.Errorf("conversation status %q assignee %q, want assigned to Ana", info.Status, info.Assignee)
	}

	// The customer answers: the desk gets it on /chat.
	_, mid := e.customer("bob", "bob-3", "My order is 123")
	chats := e.desk.Requests(webhook.PathChat)
	if len(chats) != 1 {
		t.Fatalf("%d chat calls, want 1", len(chats))
	}
	chat := chats[0].JSON(t)
	if chat["conversation_id"] != hid || chat["body"] != "My order is 123" || chat["message_id"] != mid {
		t.Errorf("chat %s", chats[0].Body)
	}

	// B2 through the GPTBots alias path, twice: the bot takes over once; no close goes back.
	for range 2 {
		e.mustAnswer(e.callback("/hooks/desk/desk/v1/human/close", map[string]any{"conversation_id": hid, "timestamp": 1764001100000, "reason": "resolved"}, nil), http.StatusOK, 0)
	}
	e.drain()
	got = e.customerView(conv)
	if n := count(got, "bot: The bot is back. How else can I help?"); n != 1 || !slices.Contains(got, "bot: The agent ended the conversation. Thank you for contacting us!") {
		t.Errorf("after the desk's close the customer got %q", got)
	}
	if n := len(e.desk.Requests(webhook.PathClose)); n != 0 {
		t.Errorf("%d close calls after the desk closed, want 0", n)
	}
	// After the close, agent messages are refused.
	e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", agentMessage(hid, "desk-msg-2", "Still there?"), nil), http.StatusConflict, webhook.CodeClosed)
	// A repeat of an accepted message is still acknowledged.
	e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", agentMessage(hid, "desk-msg-1", "Hi Bob, this is Ana."), nil), http.StatusOK, 0)
	e.drain()
	if n := count(e.customerView(conv), "agent: Hi Bob, this is Ana."); n != 1 {
		t.Errorf("the agent's message reached the customer %d times", n)
	}
	e.checkLogs()
}

func count(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}

// Closes that Tandem starts tell the desk why: no customer reply within session_timeout →
// TIMEOUT; /end → USER_CLOSED. The desk's later close of such a handoff gets 409, its messages too.
func TestDeskWebhookTandemCloses(t *testing.T) {
	t.Parallel()
	e := newDeskEnv(t)

	conv, hid := e.handoff("carol")
	e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", agentMessage(hid, "m1", "Hello Carol"), nil), http.StatusOK, 0)
	e.drain()
	e.clock.Advance(181 * time.Second)
	e.drain()
	closes := e.desk.Requests(webhook.PathClose)
	if len(closes) != 1 {
		t.Fatalf("%d close calls after the session timeout, want 1", len(closes))
	}
	if c := closes[0].JSON(t); c["type"] != "TIMEOUT" || c["conversation_id"] != hid {
		t.Errorf("close %s", closes[0].Body)
	}
	if got := e.customerView(conv); !slices.Contains(got, "bot: Bye.") {
		t.Errorf("customer got %q, want the on_timeout branch", got)
	}
	e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", agentMessage(hid, "m2", "Are you there?"), nil), http.StatusConflict, webhook.CodeClosed)
	e.mustAnswer(e.callback("/hooks/desk/desk/close", map[string]any{"conversation_id": hid, "timestamp": 1}, nil), http.StatusConflict, webhook.CodeClosed)

	_, hid2 := e.handoff("dave")
	e.customer("dave", "dave-3", "/end")
	closes = e.desk.Requests(webhook.PathClose)
	if len(closes) != 2 {
		t.Fatalf("%d close calls, want 2", len(closes))
	}
	if c := closes[1].JSON(t); c["type"] != "USER_CLOSED" || c["conversation_id"] != hid2 {
		t.Errorf("close %s", closes[1].Body)
	}
}

// Callbacks that fail a check get the contract's status and code, and change nothing.
func TestDeskWebhookRefusals(t *testing.T) {
	t.Parallel()
	e := newDeskEnv(t)
	conv, hid := e.handoff("erin")
	good := agentMessage(hid, "x1", "hello")
	raw, _ := json.Marshal(good)
	big := agentMessage(hid, "x2", strings.Repeat("a", webhook.MaxCallbackBody))
	tests := []struct {
		name   string
		path   string
		body   any
		header map[string]string
		status int
		code   int
	}{
		{"no credentials", "/hooks/desk/desk/message/receive", good, map[string]string{}, 401, webhook.CodeUnauthorized},
		{"wrong bearer", "/hooks/desk/desk/message/receive", good, map[string]string{"Authorization": "Bearer " + deskSecret + "x"}, 401, webhook.CodeUnauthorized},
		{"an API token", "/hooks/desk/desk/message/receive", good, map[string]string{"Authorization": "Bearer " + e.token}, 401, webhook.CodeUnauthorized},
		{"bad signature", "/hooks/desk/desk/message/receive", good, map[string]string{webhook.SignatureHeader: webhook.Sign("other-secret-0123456789", raw)}, 401, webhook.CodeUnauthorized},
		{"another desk's secret", "/hooks/desk/other/message/receive", good, nil, 401, webhook.CodeUnauthorized},
		{"unknown desk", "/hooks/desk/nope/message/receive", good, nil, 404, webhook.CodeUnknownDesk},
		{"too large", "/hooks/desk/desk/message/receive", big, nil, 413, webhook.CodeTooLarge},
		{"not JSON", "/hooks/desk/desk/message/receive", "{", nil, 400, webhook.CodeInvalid},
		{"no conversation_id", "/hooks/desk/desk/message/receive", map[string]any{"timestamp": 1, "body": "hi"}, nil, 400, webhook.CodeInvalid},
		{"empty body", "/hooks/desk/desk/message/receive", map[string]any{"conversation_id": hid, "timestamp": 1, "body": ""}, nil, 400, webhook.CodeInvalid},
		{"close without timestamp", "/hooks/desk/desk/close", map[string]any{"conversation_id": hid}, nil, 400, webhook.CodeInvalid},
		{"unknown handoff", "/hooks/desk/desk/message/receive", agentMessage("hf_nosuchconv_abcdefghij", "x3", "hi"), nil, 404, webhook.CodeNoConversation},
		{"not a handoff id", "/hooks/desk/desk/message/receive", agentMessage("67d8db020fa31d1ef64f53dg", "x4", "hi"), nil, 404, webhook.CodeNoConversation},
		{"handoff of another desk", "/hooks/desk/other/message/receive", good, map[string]string{"Authorization": "Bearer other-secret-0123456789"}, 404, webhook.CodeNoConversation},
	}
	for _, tt := range tests {
		r := e.callback(tt.path, tt.body, tt.header)
		if r.status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, r.status, tt.status, r.body)
			continue
		}
		if code, msg := r.answer(t); code != tt.code {
			t.Errorf("%s: code %d (%s), want %d", tt.name, code, msg, tt.code)
		}
	}
	// Field errors name the field.
	if msg := e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", map[string]any{"timestamp": 1, "body": "hi"}, nil), 400, webhook.CodeInvalid); msg != "conversation_id: required" {
		t.Errorf("message %q", msg)
	}
	if msg := e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", map[string]any{"conversation_id": hid, "timestamp": 1, "body": ""}, nil), 400, webhook.CodeInvalid); !strings.HasPrefix(msg, "body: ") {
		t.Errorf("message %q", msg)
	}
	// GET is not served.
	r := e.do(request{method: "GET", path: "/hooks/desk/desk/message/receive", noAuth: true}).mustStatus(t, http.StatusMethodNotAllowed)
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	e.drain()
	for _, m := range e.customerView(conv) {
		if strings.HasPrefix(m, "agent: ") {
			t.Errorf("a refused callback reached the customer: %q", m)
		}
	}
	// The same message then passes with a signature alone (of a body sent now).
	fresh := agentMessage(hid, "x1", "hello")
	fresh["timestamp"] = e.clock.Now().UnixMilli()
	raw, _ = json.Marshal(fresh)
	e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", json.RawMessage(raw), map[string]string{webhook.SignatureHeader: webhook.Sign(deskSecret, raw)}), 200, 0)
	e.drain()
	if got := e.customerView(conv); count(got, "agent: hello") != 1 {
		t.Errorf("customer got %q", got)
	}
	e.checkLogs()
}

// A signed callback replayed later changes nothing. With X-Tandem-Timestamp, a replay within
// five minutes of its timestamp is a repeat (200, nothing changes) and after them 401, with the
// reason. The contract's signature of the body alone passes at any date (the contract: "a
// correct signature alone passes"; its example bodies are dated 2025), so its replay, however
// late, is a repeat: 200, nothing changes.
func TestDeskWebhookReplayRefused(t *testing.T) {
	t.Parallel()
	e := newDeskEnv(t)
	conv, hid := e.handoff("gus")
	stamped := agentMessage(hid, "", "signed with a timestamp")
	rawStamped, _ := json.Marshal(stamped)
	ts, sig := webhook.SignAt(deskSecret, e.clock.Now(), rawStamped)
	stampedHeader := map[string]string{webhook.TimestampHeader: ts, webhook.SignatureHeader: sig}
	legacy := agentMessage(hid, "", "signed body")
	legacy["timestamp"] = e.clock.Now().UnixMilli()
	rawLegacy, _ := json.Marshal(legacy)
	legacyHeader := map[string]string{webhook.SignatureHeader: webhook.Sign(deskSecret, rawLegacy)}
	for range 2 {
		e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", json.RawMessage(rawStamped), stampedHeader), 200, 0)
		e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", json.RawMessage(rawLegacy), legacyHeader), 200, 0)
	}
	e.drain()
	e.clock.Advance(webhook.MaxSkew + time.Second)
	msg := e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", json.RawMessage(rawStamped), stampedHeader), 401, webhook.CodeUnauthorized)
	if !strings.Contains(msg, "is more than 5m from the server's time") {
		t.Errorf("a stale replay answered %q; want the reason", msg)
	}
	e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", json.RawMessage(rawLegacy), legacyHeader), 200, 0)
	// A close signed with a timestamp six minutes old, too.
	closeBody, _ := json.Marshal(map[string]any{"conversation_id": hid, "timestamp": t0.UnixMilli()})
	cts, csig := webhook.SignAt(deskSecret, e.clock.Now().Add(-webhook.MaxSkew-time.Minute), closeBody)
	e.mustAnswer(e.callback("/hooks/desk/desk/close", json.RawMessage(closeBody), map[string]string{webhook.TimestampHeader: cts, webhook.SignatureHeader: csig}), 401, webhook.CodeUnauthorized)
	e.drain()
	got := e.customerView(conv)
	if count(got, "agent: signed with a timestamp") != 1 || count(got, "agent: signed body") != 1 {
		t.Errorf("customer got %q; want each agent message once", got)
	}
	info, err := e.db.ConversationGet(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	// (The session timed out meanwhile; the desk's close must not be what closed it.)
	if st, err := runner.State(info); err != nil || st.Handoff == nil || st.Handoff.ClosedBy == "agent" {
		t.Errorf("the replayed close closed the handoff: %+v, %v", st.Handoff, err)
	}
	e.checkLogs()
}

// Without a message_id, the same timestamp and body twice are one delivery; another timestamp
// is another message. Attachments become media messages.
func TestDeskWebhookDedupeWithoutMessageID(t *testing.T) {
	t.Parallel()
	e := newDeskEnv(t)
	conv, hid := e.handoff("fay")
	for range 2 {
		e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", agentMessage(hid, "", "Same text"), nil), 200, 0)
	}
	again := agentMessage(hid, "", "Same text")
	again["timestamp"] = 1764000999000
	e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", again, nil), 200, 0)
	e.mustAnswer(e.callback("/hooks/desk/desk/message/receive", map[string]any{"conversation_id": hid, "timestamp": 5, "body": "",
		"attachments": []any{map[string]any{"type": "file", "url": "https://desk.example/f/form.pdf", "mime": "application/pdf", "name": "form.pdf"}}}, nil), 200, 0)
	e.drain()
	if n := count(e.customerView(conv), "agent: Same text"); n != 2 {
		t.Errorf("%d deliveries, want 2", n)
	}
	var media *mediaJSON
	for _, m := range e.messages(conv, "").Messages {
		if m.Author == tandem.AuthorAgent && m.Media != nil {
			media = m.Media
		}
	}
	if media == nil || media.URL != "https://desk.example/f/form.pdf" {
		t.Errorf("attachment delivered as %+v", media)
	}
}

// Five quick customer messages reach /chat in order, though the second needs two retries: the
// outbox retries it with backoff and holds the others behind it.
func TestDeskWebhookChatOrder(t *testing.T) {
	t.Parallel()
	e := newDeskEnv(t)
	_, hid := e.handoff("gus")
	e.desk.Script(webhook.PathChat, webhooktest.Reply{}, webhooktest.Reply{Status: 500}, webhooktest.Reply{Status: 503, RetryAfter: "1"})
	for i := 1; i <= 5; i++ {
		e.do(request{method: "POST", path: "/api/v1/channels/api/messages", body: map[string]any{
			"contact": map[string]any{"external_id": "u-gus", "email": "gus@example.com"},
			"message": map[string]any{"id": fmt.Sprintf("gus-m%d", i), "text": fmt.Sprintf("message %d", i)},
		}}).mustStatus(t, http.StatusAccepted)
	}
	for range 10 {
		e.drain()
		e.clock.Advance(10 * time.Second)
	}
	var bodies []string
	for _, r := range e.desk.Requests(webhook.PathChat) {
		m := r.JSON(t)
		if m["conversation_id"] != hid {
			t.Errorf("chat for %v", m["conversation_id"])
		}
		bodies = append(bodies, m["body"].(string))
	}
	want := []string{"message 1", "message 2", "message 2", "message 2", "message 3", "message 4", "message 5"}
	if !slices.Equal(bodies, want) {
		t.Errorf("chat calls %q, want %q", bodies, want)
	}
	if !strings.Contains(e.logs.String(), "effect failed; it will be retried") {
		t.Error("the chat failures were not logged")
	}
	e.checkLogs()
}

// A desk that refuses the establish sends the customer to on_unavailable and turns Unavailable:
// the next handoff within 60 s does not call it; no chat or close follows.
func TestDeskWebhookUnavailable(t *testing.T) {
	t.Parallel()
	e := newDeskEnv(t)
	e.desk.Script(webhook.PathEstablish, webhooktest.Reply{Status: 500}, webhooktest.Reply{Status: 500}, webhooktest.Reply{Status: 500}, webhooktest.Reply{Status: 500})
	conv, _ := e.customer("hal", "hal-1", "help")
	e.customer("hal", "hal-2", "a human please")
	if n := len(e.desk.Requests(webhook.PathEstablish)); n != 4 {
		t.Errorf("%d establish attempts, want 4", n)
	}
	got := e.customerView(conv)
	if !slices.Contains(got, "bot: Sorry, our agents can't be reached right now. Please try again later.") || !slices.Contains(got, "bot: Nobody can take this now.") {
		t.Errorf("customer got %q", got)
	}
	conv2, _ := e.customer("ida", "ida-1", "help")
	e.customer("ida", "ida-2", "a human please")
	if n := len(e.desk.Requests(webhook.PathEstablish)); n != 4 {
		t.Errorf("%d establish attempts, want still 4: the desk is Unavailable", n)
	}
	if got := e.customerView(conv2); !slices.Contains(got, "bot: Nobody can take this now.") {
		t.Errorf("customer got %q", got)
	}
	e.customer("ida", "ida-3", "hello?")
	if n := len(e.desk.Requests(webhook.PathChat)) + len(e.desk.Requests(webhook.PathClose)); n != 0 {
		t.Errorf("%d chat/close calls for a handoff that never started", n)
	}
	e.checkLogs()
}
