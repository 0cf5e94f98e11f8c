package api

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tandemchat/tandem"
	apichannel "github.com/tandemchat/tandem/channel/api"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk/inbox"
	"github.com/tandemchat/tandem/metrics"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
	"github.com/tandemchat/tandem/workspace"
)

// inboxWorkspace has a round-robin support team (ana, bob), a sales team (cid) and the agents,
// ana with a password; bob is created with the API. The secret SHOP_KEY is shopKey.
const inboxWorkspace = `
workspace: {name: Test, timezone: UTC, language: en}
secrets:
  SHOP_KEY: "${SHOP_KEY}"
channels:
  - {id: api, kind: api}
teams:
  - {id: support, name: Support, strategy: round_robin, members: [ana@acme.com, bob@acme.com], reassign_after: 5m}
  - {id: sales, name: Sales, strategy: least_busy, members: [cid@acme.com]}
agents:
  - {email: ana@acme.com, name: Ana, password_hash: "%s"}
  - {email: cid@acme.com, name: Cid, password_hash: "%s"}
`

// shopKey is the value of {{secret.SHOP_KEY}} in the inbox tests: no customer may ever get it.
const shopKey = "shop-key-must-never-reach-a-customer"

// Passwords of the test agents.
const (
	anaPassword = "ana-secret-password"
	bobPassword = "bob-secret-password"
	cidPassword = "cid-secret-password"
)

// inboxFlow hands conversations that ask for a human to the inbox's support team; when the agent
// closes, the bot says it is back. Other messages go to the echo flow.
const inboxFlow = `format: 1
id: inbox-help
name: Inbox help
trigger: {on: message, match: {contains: human}, priority: 10}
steps:
  - {id: to_human, type: handoff, desk: inbox, team: support, wait_timeout: 24h, session_timeout: 24h, next: back}
  - {id: back, type: message, text: "The bot is back."}
`

// inboxEnv is a server with the built-in inbox over a real runner on a virtual clock.
type inboxEnv struct {
	*env
	ib *inbox.Service
	// tokens are the agents' login tokens, by e-mail.
	tokens map[string]string
}

func newInboxEnv(t *testing.T, db *store.DB) *inboxEnv {
	t.Helper()
	ctx := context.Background()
	hash := func(p string) string {
		b, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cfg, err := config.Parse("tandem.yaml", []byte(fmt.Sprintf(inboxWorkspace, hash(anaPassword), hash(cidPassword))),
		func(k string) (string, bool) { return shopKey, k == "SHOP_KEY" })
	if err != nil {
		t.Fatalf("workspace: %v", err)
	}
	if db == nil {
		db = storetest.SQLite(t)
	}
	e := &env{t: t, db: db, cfg: cfg, hub: NewHub(), clock: clock.NewVirtual(t0)}
	wenv, err := workspace.Env(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := &apichannel.Channel{ID: "api", Client: &http.Client{Timeout: 5 * time.Second}}
	var ib *inbox.Service
	e.run = runner.New(runner.Config{
		DB: db, Clock: e.clock, Poll: 50 * time.Millisecond, HTTP: &fakeHTTP{}, Env: wenv,
		Sleep:   func(ctx context.Context, d time.Duration) error { return ctx.Err() },
		Channel: func(id string) (tandem.Channel, bool) { return ch, id == "api" },
		Desk:    func(id string) (tandem.Desk, bool) { return ib.Desk(id) },
		Notify:  func(id string) { e.hub.Notify(id); ib.Notify(id) },
	})
	ib = inbox.New(inbox.Config{DB: db, Workspace: cfg, Events: e.run, Clock: e.clock, BcryptCost: bcrypt.MinCost,
		TickEvery: time.Hour, Poll: 50 * time.Millisecond})
	if err := ib.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ib.Stop)
	e.publish(echoFlow)
	e.publish(inboxFlow)
	m := metrics.New(db, e.clock.Now)
	e.api = New(Config{DB: db, Runner: e.run, Workspace: cfg, Clock: e.clock, Hub: e.hub, Observer: observer{m},
		Metrics: m.Handler(), Inbox: ib}) // the workspace's default rates
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
	ie := &inboxEnv{env: e, ib: ib, tokens: map[string]string{}}
	// Bob is created with the API, by the admin token.
	ie.do(request{method: "POST", path: "/api/v1/inbox/agents", body: map[string]any{
		"email": "bob@acme.com", "name": "Bob", "password": bobPassword, "teams": []string{"support"}}}).mustStatus(t, http.StatusCreated)
	ie.login("ana@acme.com", "bob@acme.com", "cid@acme.com")
	return ie
}

// passwords are the test agents' passwords, by e-mail.
var passwords = map[string]string{"ana@acme.com": anaPassword, "bob@acme.com": bobPassword, "cid@acme.com": cidPassword, "dee@acme.com": deePassword}

// login logs agents in (again), keeping their new login tokens.
func (e *inboxEnv) login(emails ...string) {
	e.t.Helper()
	for _, email := range emails {
		var out struct {
			Token string `json:"token"`
		}
		e.do(request{method: "POST", path: "/api/v1/inbox/login", noAuth: true, body: map[string]string{"email": email, "password": passwords[email]}}).
			mustStatus(e.t, http.StatusOK).json(e.t, &out)
		e.tokens[email] = out.Token
	}
}

// as sends a request with an agent's login token.
func (e *inboxEnv) as(email string, req request) *response {
	e.t.Helper()
	if req.header == nil {
		req.header = map[string]string{}
	}
	req.header["Authorization"] = "Bearer " + e.tokens[email]
	return e.do(req)
}

// deePassword is the password of dee@acme.com, an admin that addAdmin creates.
const deePassword = "dee-secret-password"

// addAdmin creates dee@acme.com, an agent with role admin and no team, and logs her in.
func (e *inboxEnv) addAdmin() string {
	e.t.Helper()
	const email = "dee@acme.com"
	e.do(request{method: "POST", path: "/api/v1/inbox/agents", body: map[string]any{
		"email": email, "name": "Dee", "password": deePassword, "role": "admin"}}).mustStatus(e.t, http.StatusCreated)
	e.login(email)
	return email
}

// online sets agents online.
func (e *inboxEnv) online(emails ...string) {
	e.t.Helper()
	for _, m := range emails {
		e.as(m, request{method: "PUT", path: "/api/v1/inbox/presence", body: map[string]string{"status": "online"}}).mustStatus(e.t, http.StatusOK)
	}
	e.drain()
}

// conversation reads a conversation with the conversations API.
func (e *inboxEnv) conversation(id string) conversationJSON {
	e.t.Helper()
	var c conversationJSON
	e.do(request{method: "GET", path: "/api/v1/conversations/" + id}).mustStatus(e.t, http.StatusOK).json(e.t, &c)
	return c
}

// customer posts a customer message and processes it.
func (e *inboxEnv) customer(user, messageID, text string) string {
	e.t.Helper()
	id, _ := e.say(user, messageID, text)
	e.drain()
	return id
}

// Login: the right password gets a token of the agent; a wrong password and an unknown e-mail
// get the same 401; the token works on the inbox routes.
func TestInboxLogin(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	var out struct {
		Token string    `json:"token"`
		Agent agentJSON `json:"agent"`
	}
	e.do(request{method: "POST", path: "/api/v1/inbox/login", noAuth: true, body: map[string]string{"email": "Ana@Acme.com", "password": anaPassword}}).
		mustStatus(t, http.StatusOK).json(t, &out)
	if !strings.HasPrefix(out.Token, "tdm_") || out.Agent.Email != "ana@acme.com" || out.Agent.Name != "Ana" || out.Agent.Role != "agent" || !slices.Equal(out.Agent.Teams, []string{"support"}) {
		t.Errorf("login = %+v", out)
	}
	var me agentJSON
	e.do(request{method: "GET", path: "/api/v1/inbox/agents/me", header: map[string]string{"Authorization": "Bearer " + out.Token}}).
		mustStatus(t, http.StatusOK).json(t, &me)
	if me.Email != "ana@acme.com" {
		t.Errorf("GET agents/me = %+v", me)
	}
	var messages []string
	for _, body := range []map[string]string{
		{"email": "ana@acme.com", "password": "wrong-password"},
		{"email": "nobody@acme.com", "password": anaPassword},
	} {
		r := e.do(request{method: "POST", path: "/api/v1/inbox/login", noAuth: true, body: body}).mustStatus(t, http.StatusUnauthorized)
		code, msg := r.err(t)
		if code != "unauthorized" {
			t.Errorf("code %q", code)
		}
		messages = append(messages, msg)
	}
	if messages[0] != messages[1] {
		t.Errorf("a wrong password and an unknown e-mail are told apart: %q vs %q", messages[0], messages[1])
	}
	for _, tt := range []struct {
		body    any
		mention string
	}{
		{map[string]string{"password": "x"}, "email"},
		{map[string]string{"email": "ana@acme.com"}, "password"},
		{map[string]string{"email": "ana@acme.com", "password": "x", "otp": "1"}, "otp"},
		{"{", "JSON"},
	} {
		r := e.do(request{method: "POST", path: "/api/v1/inbox/login", noAuth: true, body: tt.body}).mustStatus(t, http.StatusBadRequest)
		if _, msg := r.err(t); !strings.Contains(msg, tt.mention) {
			t.Errorf("login %v: %q does not name %s", tt.body, msg, tt.mention)
		}
	}
	// An API token has no agent: "me" is refused, naming agent.
	r := e.do(request{method: "GET", path: "/api/v1/inbox/agents/me"}).mustStatus(t, http.StatusBadRequest)
	if _, msg := r.err(t); !strings.HasPrefix(msg, "agent:") {
		t.Errorf("me with an API token: %q", msg)
	}
	e.do(request{method: "GET", path: "/api/v1/inbox/agents/nobody@acme.com"}).mustStatus(t, http.StatusNotFound)
	e.do(request{method: "GET", path: "/api/v1/inbox/agents", noAuth: true}).mustStatus(t, http.StatusUnauthorized)
}

// Agents and teams: admins (and API tokens) create agents; agents list them; presence.
func TestInboxAgentsAndTeams(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/agents", body: map[string]any{"email": "eve@acme.com", "password": "long-enough"}}).
		mustStatus(t, http.StatusForbidden)
	e.do(request{method: "POST", path: "/api/v1/inbox/agents", body: map[string]any{"email": "bob@acme.com", "password": "long-enough"}}).
		mustStatus(t, http.StatusConflict)
	for _, tt := range []struct {
		body    map[string]any
		mention string
	}{
		{map[string]any{"email": "eve", "password": "long-enough"}, "email"},
		{map[string]any{"email": "eve@acme.com", "password": "short"}, "password"},
		{map[string]any{"email": "eve@acme.com", "password": "long-enough", "role": "root"}, "role"},
		{map[string]any{"email": "eve@acme.com", "password": "long-enough", "teams": []string{"ops"}}, "teams"},
	} {
		r := e.do(request{method: "POST", path: "/api/v1/inbox/agents", body: tt.body}).mustStatus(t, http.StatusBadRequest)
		if _, msg := r.err(t); !strings.HasPrefix(msg, tt.mention+":") {
			t.Errorf("%v: %q does not start with %s", tt.body, msg, tt.mention)
		}
	}
	var eve agentJSON
	e.do(request{method: "POST", path: "/api/v1/inbox/agents", body: map[string]any{"email": "eve@acme.com", "name": "Eve", "password": "long-enough", "role": "admin"}}).
		mustStatus(t, http.StatusCreated).json(t, &eve)
	if eve.Email != "eve@acme.com" || eve.Role != "admin" || eve.Status != "offline" || eve.LastSeenAt != nil {
		t.Errorf("created %+v", eve)
	}
	var a agentJSON
	e.as("ana@acme.com", request{method: "PUT", path: "/api/v1/inbox/presence", body: map[string]string{"status": "away"}}).mustStatus(t, http.StatusOK).json(t, &a)
	if a.Status != "away" || a.Presence != "away" || a.LastSeenAt == nil {
		t.Errorf("after PUT presence away: %+v", a)
	}
	e.as("ana@acme.com", request{method: "PUT", path: "/api/v1/inbox/presence", body: map[string]string{"status": "busy"}}).mustStatus(t, http.StatusBadRequest)
	e.do(request{method: "PUT", path: "/api/v1/inbox/presence", body: map[string]string{"status": "online"}}).mustStatus(t, http.StatusBadRequest)
	var list struct {
		Agents []agentJSON `json:"agents"`
	}
	e.as("bob@acme.com", request{method: "GET", path: "/api/v1/inbox/agents"}).mustStatus(t, http.StatusOK).json(t, &list)
	var emails []string
	for _, a := range list.Agents {
		emails = append(emails, a.Email+"="+a.Status)
	}
	if want := []string{"ana@acme.com=away", "bob@acme.com=offline", "cid@acme.com=offline", "eve@acme.com=offline"}; !slices.Equal(emails, want) {
		t.Errorf("agents %q, want %q", emails, want)
	}
	e.online("bob@acme.com")
	var teams struct {
		Teams []teamJSON `json:"teams"`
	}
	e.as("bob@acme.com", request{method: "GET", path: "/api/v1/inbox/teams"}).mustStatus(t, http.StatusOK).json(t, &teams)
	if len(teams.Teams) != 2 || teams.Teams[0].ID != "support" || teams.Teams[0].Online != 1 || teams.Teams[0].ReassignAfter != "5m" ||
		!slices.Equal(teams.Teams[0].Members, []string{"ana@acme.com", "bob@acme.com"}) || teams.Teams[1].Strategy != "least_busy" {
		t.Errorf("teams %+v", teams.Teams)
	}
}

// The whole path: a handoff to the inbox is queued, assigned round robin when agents come online,
// the agent's message connects it and reaches the customer, notes stay internal, and the
// agent's close gives the conversation back to the bot.
func TestInboxHandoff(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newInboxEnv(t, db)
		first := e.customer("u-1", "m-1", "I want a human")
		if c := e.conversation(first); c.Status != "queued" || c.Team != "support" || c.Assignee != "" || c.Handoff.Status != "queued" || c.Handoff.Desk != "inbox" {
			t.Fatalf("after the handoff: %+v", c)
		}
		var list struct {
			Conversations []inboxConversationJSON `json:"conversations"`
			NextCursor    string                  `json:"next_cursor"`
		}
		e.as("ana@acme.com", request{method: "GET", path: "/api/v1/inbox/conversations?status=queued&team=support"}).mustStatus(t, http.StatusOK).json(t, &list)
		if len(list.Conversations) != 1 || list.Conversations[0].ID != first || list.Conversations[0].Contact == nil ||
			list.Conversations[0].Contact.ExternalID != "u-1" || list.Conversations[0].LastMessage == nil || list.Conversations[0].LastMessage.Author != "bot" {
			t.Fatalf("queued list %+v", list)
		}
		// Ana comes online: the queued conversation is hers; the next goes to bob, then ana.
		e.online("ana@acme.com")
		if c := e.conversation(first); c.Status != "assigned" || c.Assignee != "ana@acme.com" || c.Handoff.Status != "queued" {
			t.Fatalf("after ana came online: %+v", c)
		}
		e.online("bob@acme.com")
		second := e.customer("u-2", "m-2", "human please")
		third := e.customer("u-3", "m-3", "a human!")
		if a, b := e.conversation(second).Assignee, e.conversation(third).Assignee; a != "bob@acme.com" || b != "ana@acme.com" {
			t.Errorf("round robin gave %s and %s, want bob then ana", a, b)
		}
		e.as("ana@acme.com", request{method: "GET", path: "/api/v1/inbox/conversations?agent=me"}).mustStatus(t, http.StatusOK).json(t, &list)
		var mine []string
		for _, c := range list.Conversations {
			mine = append(mine, c.ID)
		}
		if want := []string{third, first}; !slices.Equal(mine, want) {
			t.Errorf("ana's conversations %q, want %q", mine, want)
		}

		// Bob may not write in ana's conversation; ana's message connects and reaches the customer.
		e.as("bob@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + first + "/messages", body: map[string]string{"text": "Bob here"}}).
			mustStatus(t, http.StatusForbidden)
		var c conversationJSON
		e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + first + "/messages", body: map[string]string{"text": "Hi, I am Ana."}}).
			mustStatus(t, http.StatusAccepted).json(t, &c)
		if c.ID != first || c.Contact == nil {
			t.Errorf("the message's answer is not the conversation: %+v", c)
		}
		e.drain()
		if c := e.conversation(first); c.Handoff.Status != "connected" || c.Handoff.Agent != "ana@acme.com" || c.Assignee != "ana@acme.com" {
			t.Errorf("after ana's message: %+v", c)
		}
		e.customer("u-1", "m-1b", "Thanks Ana, my order is late")
		// A note: the agents see it, the customer never does.
		var n noteJSON
		e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + first + "/notes", body: map[string]string{"text": "VIP customer, be nice"}}).
			mustStatus(t, http.StatusCreated).json(t, &n)
		if n.Author != "ana@acme.com" || n.Text != "VIP customer, be nice" || n.ConversationID != first {
			t.Errorf("note %+v", n)
		}
		var notes struct {
			Notes []noteJSON `json:"notes"`
		}
		e.as("bob@acme.com", request{method: "GET", path: "/api/v1/inbox/conversations/" + first + "/notes"}).mustStatus(t, http.StatusOK).json(t, &notes)
		if len(notes.Notes) != 1 || notes.Notes[0].ID != n.ID {
			t.Errorf("notes %+v", notes)
		}
		// Ana closes: the customer is told, and the bot takes over again.
		e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + first + "/close"}).mustStatus(t, http.StatusAccepted)
		e.drain()
		if c := e.conversation(first); c.Status != "bot" || c.Handoff.Status != "closed" || c.Handoff.ClosedBy != "agent" || c.Bot != "active" {
			t.Errorf("after close: %+v", c)
		}
		e.customer("u-1", "m-1c", "one more question")
		got := texts(e.messages(first, "").Messages)
		want := []string{
			"contact: I want a human",
			"bot: Connecting you with an agent. Please wait a moment.",
			"bot: An agent has joined the conversation.",
			"agent: Hi, I am Ana.",
			"contact: Thanks Ana, my order is late",
			"bot: The agent ended the conversation. Thank you for contacting us!",
			"bot: The bot is back.",
			"contact: one more question",
			"bot: You said: one more question",
			"bot: What is your e-mail?",
		}
		if !slices.Equal(got, want) {
			t.Errorf("the customer's conversation:\n got %q\nwant %q", got, want)
		}
		for _, m := range got {
			if strings.Contains(m, "VIP") {
				t.Errorf("a note reached the customer's messages: %q", m)
			}
		}
		// The conversation left the inbox; closing it again is a conflict only once it is closed.
		e.as("ana@acme.com", request{method: "GET", path: "/api/v1/inbox/conversations"}).mustStatus(t, http.StatusOK).json(t, &list)
		for _, c := range list.Conversations {
			if c.ID == first {
				t.Error("a conversation back with the bot is still in the inbox")
			}
		}
		e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/nope/messages", body: map[string]string{"text": "x"}}).mustStatus(t, http.StatusNotFound)
		e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + first + "/messages", body: map[string]string{"text": " "}}).mustStatus(t, http.StatusBadRequest)
	})
}

// An admin writing in a conversation the bot handles takes it over: the bot pauses and never
// answers again until resume-bot. An agent of role agent does not see conversations the bot
// handles, so cannot take them.
func TestInboxTakeOverFromBot(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newInboxEnv(t, db)
		dee := e.addAdmin()
		id := e.customer("u-1", "m-1", "hello")
		if c := e.conversation(id); c.Status != "bot" || c.Bot != "active" {
			t.Fatalf("before: %+v", c)
		}
		e.as("bob@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/messages", body: map[string]string{"text": "Bob here, I will help you."}}).
			mustStatus(t, http.StatusForbidden)
		e.as(dee, request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/messages", body: map[string]string{"text": "Dee here, I will help you."}}).
			mustStatus(t, http.StatusAccepted)
		e.drain()
		c := e.conversation(id)
		if c.Status != "assigned" || c.Assignee != dee || c.Bot != "paused" || c.ActiveRun != nil {
			t.Fatalf("after dee's message: %+v", c)
		}
		before := len(e.messages(id, "").Messages)
		e.customer("u-1", "m-2", "ana@example.com")
		e.customer("u-1", "m-3", "hello?")
		e.clock.Advance(48 * time.Hour)
		e.drain()
		e.login("ana@acme.com", dee) // their logins expired
		got := texts(e.messages(id, "").Messages)
		for _, m := range got[before:] {
			if strings.HasPrefix(m, "bot:") {
				t.Errorf("the paused bot answered: %q", got[before:])
			}
		}
		// Ana may not give dee's conversation back to the bot (it has no team: every agent sees
		// it, only its assignee acts); dee may.
		e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/resume-bot"}).mustStatus(t, http.StatusForbidden)
		e.as(dee, request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/resume-bot"}).mustStatus(t, http.StatusAccepted)
		e.drain()
		if c := e.conversation(id); c.Status != "bot" || c.Bot != "active" {
			t.Errorf("after resume-bot: %+v", c)
		}
		e.as(dee, request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/resume-bot"}).mustStatus(t, http.StatusConflict)
		e.customer("u-1", "m-4", "back again")
		got = texts(e.messages(id, "").Messages)
		if last := got[len(got)-2:]; !slices.Equal(last, []string{"bot: You said: back again", "bot: What is your e-mail?"}) {
			t.Errorf("after resume-bot the bot says %q", last)
		}
		// Taking a bot conversation with assign also pauses the bot.
		other := e.customer("u-2", "m-5", "hi")
		e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + other + "/assign", body: map[string]string{"agent": "me"}}).mustStatus(t, http.StatusForbidden)
		e.as(dee, request{method: "POST", path: "/api/v1/inbox/conversations/" + other + "/assign", body: map[string]string{"agent": "ana@acme.com"}}).mustStatus(t, http.StatusOK)
		e.drain()
		if c := e.conversation(other); c.Bot != "paused" || c.Assignee != "ana@acme.com" {
			t.Errorf("after taking: %+v", c)
		}
		// Closing a conversation without a handoff closes it.
		e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + other + "/close"}).mustStatus(t, http.StatusAccepted)
		e.drain()
		if c := e.conversation(other); c.Status != "closed" {
			t.Errorf("after close: %+v", c)
		}
		e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + other + "/close"}).mustStatus(t, http.StatusConflict)
	})
}

// Two agents racing to take one conversation: exactly one wins, every time.
func TestInboxTakeRace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newInboxEnv(t, db)
		const n = 20
		var ids []string
		for i := range n {
			ids = append(ids, e.customer(fmt.Sprintf("u-%d", i), fmt.Sprintf("m-%d", i), "I need a human"))
		}
		var mu sync.Mutex
		winners := map[string][]string{}
		statuses := map[int]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, id := range ids {
			for _, agent := range []string{"ana@acme.com", "bob@acme.com"} {
				wg.Go(func() {
					<-start
					r := e.as(agent, request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/assign", body: map[string]string{"agent": "me"}})
					mu.Lock()
					defer mu.Unlock()
					statuses[r.status]++
					if r.status == http.StatusOK {
						winners[id] = append(winners[id], agent)
					}
				})
			}
		}
		close(start)
		wg.Wait()
		if statuses[http.StatusOK] != n || statuses[http.StatusConflict] != n || len(statuses) != 2 {
			t.Errorf("statuses %v, want %d × 200 and %d × 409", statuses, n, n)
		}
		for _, id := range ids {
			w := winners[id]
			if len(w) != 1 {
				t.Errorf("conversation %s: winners %q, want exactly one", id, w)
				continue
			}
			if c := e.conversation(id); c.Assignee != w[0] || c.Status != "assigned" {
				t.Errorf("conversation %s is %s %q, want assigned to the winner %s", id, c.Status, c.Assignee, w[0])
			}
		}
		// The loser is told who won.
		r := e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + ids[0] + "/assign", body: map[string]string{"agent": "me"}})
		if w := winners[ids[0]]; len(w) == 1 && w[0] == "bob@acme.com" {
			r.mustStatus(t, http.StatusConflict)
			if _, msg := r.err(t); !strings.Contains(msg, "bob@acme.com") {
				t.Errorf("conflict %q does not name the winner", msg)
			}
		} else {
			r.mustStatus(t, http.StatusOK)
		}
	})
}

// Manual assignment and transfer, with who may do what.
func TestInboxAssignRules(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	id := e.customer("u-1", "m-1", "human please")
	assign := func(as string, body map[string]string, want int) conversationJSON {
		t.Helper()
		req := request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/assign", body: body}
		var r *response
		if as == "" {
			r = e.do(req)
		} else {
			r = e.as(as, req)
		}
		r.mustStatus(t, want)
		var c conversationJSON
		if want == http.StatusOK {
			r.json(t, &c)
		}
		return c
	}
	// An agent gives an unassigned conversation to a colleague; then it is not hers to move.
	if c := assign("ana@acme.com", map[string]string{"agent": "bob@acme.com"}, http.StatusOK); c.Assignee != "bob@acme.com" || c.Status != "assigned" {
		t.Errorf("given to bob: %+v", c)
	}
	assign("ana@acme.com", map[string]string{"agent": "ana@acme.com"}, http.StatusConflict)
	assign("ana@acme.com", map[string]string{"agent": "cid@acme.com"}, http.StatusForbidden)
	assign("ana@acme.com", map[string]string{"team": "sales"}, http.StatusForbidden)
	// Bob hands it to ana; the admin token moves it anywhere.
	if c := assign("bob@acme.com", map[string]string{"agent": "ana@acme.com"}, http.StatusOK); c.Assignee != "ana@acme.com" {
		t.Errorf("handed to ana: %+v", c)
	}
	if c := assign("", map[string]string{"agent": "cid@acme.com"}, http.StatusOK); c.Assignee != "cid@acme.com" {
		t.Errorf("moved by the admin: %+v", c)
	}
	// Transfer to sales: back to its queue, then to cid when he comes online (least busy).
	if c := assign("cid@acme.com", map[string]string{"team": "sales"}, http.StatusOK); c.Status != "queued" || c.Team != "sales" || c.Assignee != "" {
		t.Errorf("transferred: %+v", c)
	}
	e.online("cid@acme.com")
	if c := e.conversation(id); c.Assignee != "cid@acme.com" || c.Team != "sales" {
		t.Errorf("after cid came online: %+v", c)
	}
	if c := assign("", map[string]string{"team": "support", "agent": "bob@acme.com"}, http.StatusOK); c.Team != "support" || c.Assignee != "bob@acme.com" {
		t.Errorf("transferred to bob in support: %+v", c)
	}
	for _, tt := range []struct {
		body    map[string]string
		status  int
		mention string
	}{
		{map[string]string{}, http.StatusBadRequest, "agent"},
		{map[string]string{"agent": "me"}, http.StatusBadRequest, "agent"},
		{map[string]string{"agent": "nobody@acme.com"}, http.StatusNotFound, "nobody@acme.com"},
		{map[string]string{"team": "ops"}, http.StatusNotFound, "ops"},
	} {
		r := e.do(request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/assign", body: tt.body}).mustStatus(t, tt.status)
		if _, msg := r.err(t); !strings.Contains(msg, tt.mention) {
			t.Errorf("%v: %q does not name %s", tt.body, msg, tt.mention)
		}
	}
	e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/nope/assign", body: map[string]string{"agent": "me"}}).mustStatus(t, http.StatusNotFound)
	for _, q := range []string{"?agent=me", "?status=closed", "?limit=0", "?cursor=garbage"} {
		e.do(request{method: "GET", path: "/api/v1/inbox/conversations" + q}).mustStatus(t, http.StatusBadRequest)
	}
}

// streamEvent is one event read from the inbox's event stream.
type streamEvent struct{ id, kind, data string }

// readSSE opens the event stream and reads its events into a channel, closed when the stream
// ends.
func readSSE(t *testing.T, ctx context.Context, url, token string, header map[string]string) (<-chan streamEvent, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan streamEvent, 100)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev streamEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.kind != "" {
					out <- ev
				}
				ev = streamEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out, resp
}

// The event stream reports conversations entering and changing in the inbox and their messages
// (never notes as messages), and resumes from Last-Event-ID.
func TestInboxEvents(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events, resp := readSSE(t, ctx, e.srv.URL+"/api/v1/inbox/events", e.tokens["ana@acme.com"], nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	id := e.customer("u-1", "m-1", "I want a human")
	e.online("ana@acme.com")
	e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/messages", body: map[string]string{"text": "Hello from Ana"}}).mustStatus(t, http.StatusAccepted)
	e.drain()
	e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/notes", body: map[string]string{"text": "secret note"}}).mustStatus(t, http.StatusCreated)
	var got []streamEvent
	// The conversation may be seen queued then assigned, or only assigned when both happened
	// between two looks at the database.
	var sawConversation, sawAssigned, sawAgentMessage, sawNote, sawPresence bool
	for !(sawConversation && sawAssigned && sawAgentMessage && sawNote && sawPresence) {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended; events so far: %+v", got)
			}
			got = append(got, ev)
			switch ev.kind {
			case "conversation":
				sawConversation = sawConversation || strings.Contains(ev.data, `"id":"`+id+`"`)
				sawAssigned = sawAssigned || strings.Contains(ev.data, `"assignee":"ana@acme.com"`) && strings.Contains(ev.data, `"status":"assigned"`)
			case "message":
				if strings.Contains(ev.data, "secret note") {
					t.Errorf("a note came as a message: %s", ev.data)
				}
				sawAgentMessage = sawAgentMessage || strings.Contains(ev.data, "Hello from Ana") && strings.Contains(ev.data, `"author":"agent"`)
			case "note":
				sawNote = sawNote || strings.Contains(ev.data, "secret note")
			case "presence":
				sawPresence = sawPresence || strings.Contains(ev.data, `"status":"online"`)
			}
		case <-ctx.Done():
			t.Fatalf("timed out; events so far: %+v", got)
		}
	}
	// Resume after the first event: what followed comes again; an unknown id gets a reset.
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	replay, _ := readSSE(t, rctx, e.srv.URL+"/api/v1/inbox/events", e.tokens["bob@acme.com"], map[string]string{"Last-Event-ID": got[0].id})
	if ev := <-replay; ev.id != got[1].id || ev.kind != got[1].kind {
		t.Errorf("the replay starts with %+v, want %+v", ev, got[1])
	}
	rcancel()
	reset, _ := readSSE(t, ctx, e.srv.URL+"/api/v1/inbox/events?after=zzz-1", e.token, nil)
	if ev := <-reset; ev.kind != "reset" {
		t.Errorf("an unknown id got %+v, want a reset", ev)
	}
	// The stream ends when the inbox stops (the server shuts down).
	e.ib.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the stream did not end when the inbox stopped")
		}
	}
}

// A stream outlives the server's write timeout (tandem serve sets 90 s): each write moves the
// deadline on.
func TestInboxEventsOutliveTimeouts(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	srv := httptest.NewUnstartedServer(e.api)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events, resp := readSSE(t, ctx, srv.URL+"/api/v1/inbox/events", e.tokens["ana@acme.com"], nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events answered %d", resp.StatusCode)
	}
	time.Sleep(time.Second) // past both timeouts: the stream must still be open
	e.online("ana@acme.com")
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended at the server's timeouts")
			}
			if ev.kind == "presence" && strings.Contains(ev.data, "ana@acme.com") {
				return
			}
		case <-ctx.Done():
			t.Fatal("timed out waiting for ana's presence")
		}
	}
}

// Failed logins are throttled; successful ones never count. Per e-mail and address: 10
// failures, then 429 naming the e-mail, even for the right password — but the agent logs in
// from another address; per address: 30 failures, then 429 naming the address.
func TestInboxLoginThrottled(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	login := func(from, email, password string) *response {
		return e.fromAddr(from, request{method: "POST", path: "/api/v1/inbox/login", noAuth: true, body: map[string]string{"email": email, "password": password}})
	}
	// Logging in again and again is no attack (it counted before: the 11th was refused).
	for range 40 {
		login("127.0.0.1", "bob@acme.com", bobPassword).mustStatus(t, http.StatusOK)
	}
	for i := range 10 {
		login("127.0.0.1", "ana@acme.com", fmt.Sprintf("guess %d", i)).mustStatus(t, http.StatusUnauthorized)
	}
	r := login("127.0.0.1", "Ana@Acme.com ", anaPassword).mustStatus(t, http.StatusTooManyRequests)
	if code, msg := r.err(t); code != "rate_limited" || !strings.Contains(msg, "e-mail") {
		t.Errorf("the right password once throttled: %s %q, want rate_limited naming the e-mail", code, msg)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 6 {
		t.Errorf("Retry-After %q, want 1 to 6 seconds", r.header.Get("Retry-After"))
	}
	// The guesser did not lock ana out: from her own address she logs in.
	login("127.0.0.2", "ana@acme.com", anaPassword).mustStatus(t, http.StatusOK)
	// Other e-mails are still answered, until the address has failed 30 times.
	for i := 10; i < 30; i++ {
		login("127.0.0.1", fmt.Sprintf("user%d@acme.com", i), "guess").mustStatus(t, http.StatusUnauthorized)
	}
	r = login("127.0.0.1", "cid@acme.com", cidPassword).mustStatus(t, http.StatusTooManyRequests)
	if _, msg := r.err(t); !strings.Contains(msg, "address") {
		t.Errorf("after 30 failures from one address: %q, want it to name the address", msg)
	}
	login("127.0.0.3", "cid@acme.com", cidPassword).mustStatus(t, http.StatusOK)
	// Six seconds later the guesser may try ana once more, and only once.
	e.clock.Advance(6 * time.Second)
	login("127.0.0.1", "ana@acme.com", "guess again").mustStatus(t, http.StatusUnauthorized)
	login("127.0.0.1", "ana@acme.com", "and again").mustStatus(t, http.StatusTooManyRequests)
}

// fromAddr sends a request from a local address of the loopback range (127.0.0.2, ...), as
// another client would.
func (e *inboxEnv) fromAddr(addr string, req request) *response {
	e.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	defer client.CloseIdleConnections()
	return e.doWith(client, req)
}

// The inbox's list shows a conversation's last message with its delivery: a reply WhatsApp or
// Telegram reported undelivered comes with status failed and why, as in the messages' list.
func TestInboxListLastMessageFailed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newInboxEnv(t, db)
		id := e.customer("u-1", "m-1", "I want a human")
		e.online("ana@acme.com")
		e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/messages", body: map[string]string{"text": "Hi, I am Ana."}}).
			mustStatus(t, http.StatusAccepted)
		e.drain()
		msgs := e.messages(id, "").Messages
		reply := msgs[len(msgs)-1]
		if reply.Text != "Hi, I am Ana." {
			t.Fatalf("last message %+v, want Ana's reply", reply)
		}
		if _, err := db.Delivery(context.Background(), store.DeliveryParams{ChannelID: "api", ConversationID: id, MessageID: reply.ID, Status: "failed",
			Code: "131047", Error: "Re-engagement message", Now: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		var list struct {
			Conversations []inboxConversationJSON `json:"conversations"`
		}
		e.as("ana@acme.com", request{method: "GET", path: "/api/v1/inbox/conversations"}).mustStatus(t, http.StatusOK).json(t, &list)
		if len(list.Conversations) != 1 || list.Conversations[0].LastMessage == nil {
			t.Fatalf("inbox list %+v, want conversation %s with its last message", list, id)
		}
		m := list.Conversations[0].LastMessage
		if want := (tandem.MessageError{Code: "131047", Message: "Re-engagement message"}); m.ID != reply.ID || m.Status != "failed" || m.Error == nil || *m.Error != want {
			t.Errorf("last message %s: status %q, error %+v; want %s failed with %+v", m.ID, m.Status, m.Error, reply.ID, want)
		}
	})
}
