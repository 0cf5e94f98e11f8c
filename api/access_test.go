package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// logoutRoute ends the credential that calls it.
const logoutRoute = "POST /api/v1/inbox/logout"

// credentials are the kinds of caller the role walk tries on every route.
var credentials = []string{"none", "unknown", "token", "admin", "agent"}

// The route table's access, walked through the OpenAPI document: every operation, called with
// no credential, an unknown token, an API token, an admin's login and an agent's login, answers
// 401 when it needs a credential and has none that works, 403 when the kind of caller is not in
// its x-roles, and neither when it is. A route added without a role fails here (and New panics).
func TestRolesOnEveryRoute(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	ops := doc.operations(t)
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// The logout ends the credential that calls it: walked last.
	slices.SortStableFunc(keys, func(a, b string) int {
		return strings.Compare(strconv.FormatBool(a == logoutRoute), strconv.FormatBool(b == logoutRoute))
	})
	for _, cred := range credentials {
		t.Run(cred, func(t *testing.T) {
			t.Parallel()
			// Each credential walks its own server: what one call changes (a flow deleted, a
			// conversation closed) does not change what the next credential gets.
			e := newInboxEnv(t, nil)
			fx := e.fixtures()
			for _, key := range keys {
				op := ops[key]
				if len(op.Roles) == 0 {
					t.Errorf("%s: no x-roles: every operation says who may call it", key)
					continue
				}
				method, pattern, _ := strings.Cut(key, " ")
				status, code, msg, hdr := e.call(method, fx.path(pattern), fx.bearer(cred))
				needs := !slices.Contains(op.Roles, "public") && !slices.Contains(op.Roles, "webhook")
				allowed := !needs || slices.Contains(op.Roles, cred)
				switch {
				case needs && (cred == "none" || cred == "unknown"):
					if status != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("%s with %s credential: %d %s, want 401 with WWW-Authenticate", key, cred, status, msg)
					}
				case !allowed:
					if status != http.StatusForbidden || code != "forbidden" || !strings.Contains(msg, "may not call "+key) {
						t.Errorf("%s by %s: %d %q, want 403 naming the route", key, cred, status, msg)
					}
				default:
					roleRefused := status == http.StatusForbidden && strings.Contains(msg, "may not call")
					if (needs && status == http.StatusUnauthorized) || roleRefused {
						t.Errorf("%s by %s (allowed by x-roles %q): %d %s", key, cred, op.Roles, status, msg)
					}
				}
			}
		})
	}
}

// walkFixtures are real ids for the walk's path parameters: a conversation handed to the
// support team (so the agent ana sees it), its run and contact.
type walkFixtures struct {
	conversation, run, contact string
	tokens                     map[string]string
}

func (e *inboxEnv) fixtures() *walkFixtures {
	e.t.Helper()
	e.addAdmin()
	id := e.customer("u-walk", "m-walk", "I need a human")
	c := e.conversation(id)
	if c.Status != "queued" || c.Team != "support" {
		e.t.Fatalf("the walk's conversation is %+v, want queued in support", c)
	}
	run := ""
	if c.ActiveRun != nil {
		run = c.ActiveRun.ID
	}
	return &walkFixtures{conversation: id, run: run, contact: c.ContactID, tokens: map[string]string{
		"none": "", "unknown": "tdm_unknowntoken", "token": e.token, "admin": e.tokens["dee@acme.com"], "agent": e.tokens["ana@acme.com"],
	}}
}

func (f *walkFixtures) bearer(cred string) string { return f.tokens[cred] }

// path fills a pattern's parameters with the fixtures.
func (f *walkFixtures) path(pattern string) string {
	id := f.conversation
	switch {
	case strings.HasPrefix(pattern, "/api/v1/flows/"):
		id = "echo"
	case strings.HasPrefix(pattern, "/api/v1/runs/"):
		id = f.run
	case strings.HasPrefix(pattern, "/api/v1/contacts/"):
		id = f.contact
	}
	return strings.NewReplacer("{id}", id, "{channel_id}", "api", "{email}", "ana@acme.com", "{desk_id}", "nodesk").Replace(pattern)
}

// call sends one request with an empty JSON object as the body of writes, reads the status, the
// error (if any) and the headers; an event stream is closed once its headers are in.
func (e *inboxEnv) call(method, path, bearer string) (status int, code, message string, h http.Header) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var body io.Reader
	if method != "GET" && method != "DELETE" {
		body = strings.NewReader(`{}`)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, "", "", resp.Header
	}
	b, _ := io.ReadAll(resp.Body)
	var eb struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(b, &eb)
	_, pattern := e.api.mux.Handler(req)
	exchanges.add(pattern, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	return resp.StatusCode, eb.Error.Code, eb.Error.Message, resp.Header
}

// The exploit of issue 10: an agent's login could create and publish a flow whose message says
// {{secret.SHOP_KEY}}, and the customer then got the secret. Now every flow route refuses an
// agent's login with 403 and changes nothing.
func TestAgentCannotPublishSecrets(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	const leak = "format: 1\nid: leak\nname: Leak\ntrigger: {on: message, match: any, priority: 100}\nsteps:\n  - {id: say, type: message, text: \"key: {{secret.SHOP_KEY}}\"}\n"
	const echoLeak = "format: 1\nid: echo\nname: Echo\ntrigger: {on: message, match: any}\nsteps:\n  - {id: say, type: message, text: \"key: {{secret.SHOP_KEY}}\"}\n"
	for _, req := range []request{
		{method: "POST", path: "/api/v1/flows", body: leak, header: map[string]string{"Content-Type": "application/yaml"}},
		{method: "PUT", path: "/api/v1/flows/echo", body: echoLeak, header: map[string]string{"Content-Type": "application/yaml"}},
		{method: "POST", path: "/api/v1/flows/echo/publish"},
		{method: "DELETE", path: "/api/v1/flows/echo"},
		{method: "GET", path: "/api/v1/flows/echo"},
	} {
		r := e.as("ana@acme.com", req).mustStatus(t, http.StatusForbidden)
		if code, msg := r.err(t); code != "forbidden" || !strings.Contains(msg, "An agent's login may not call") {
			t.Errorf("%s %s: %s %q", req.method, req.path, code, msg)
		}
	}
	if r := e.do(request{method: "GET", path: "/api/v1/flows/leak"}); r.status != http.StatusNotFound {
		t.Errorf("the agent's flow was stored: %d %s", r.status, r.body)
	}
	id := e.customer("u-1", "m-1", "hello")
	for _, m := range e.messages(id, "").Messages {
		if strings.Contains(m.Text, shopKey) {
			t.Fatalf("the customer got the secret: %q", m.Text)
		}
	}
	// An admin manages flows (and would be trusted with the secrets the flows use).
	dee := e.addAdmin()
	e.as(dee, request{method: "GET", path: "/api/v1/flows/echo"}).mustStatus(t, http.StatusOK)
}

// An agent (role agent) sees the conversations of their inbox — queued or assigned in their
// teams or in none, assigned to them — and those they handled before, with their messages,
// notes, runs and contacts; nothing else. Admins and API tokens see everything.
func TestAgentSeesOnlyTheirInbox(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	dee := e.addAdmin()
	id := e.customer("u-1", "m-1", "I need a human") // queued for support (ana, bob)
	c := e.conversation(id)
	if c.ActiveRun == nil {
		t.Fatalf("no active run: %+v", c)
	}
	reads := []string{
		"/api/v1/conversations/" + id,
		"/api/v1/conversations/" + id + "/messages",
		"/api/v1/conversations/" + id + "/runs",
		"/api/v1/inbox/conversations/" + id + "/notes",
		"/api/v1/runs/" + c.ActiveRun.ID,
		"/api/v1/contacts/" + c.ContactID,
	}
	sees := func(who string, want bool) {
		t.Helper()
		status := http.StatusForbidden
		if want {
			status = http.StatusOK
		}
		for _, p := range reads {
			r := e.as(who, request{method: "GET", path: p})
			if r.status != status {
				t.Errorf("%s GET %s: %d, want %d: %s", who, p, r.status, status, r.body)
			}
		}
		r := e.as(who, request{method: "PATCH", path: "/api/v1/contacts/" + c.ContactID, body: map[string]any{"attributes": map[string]any{"seen_by": who}}})
		if r.status != status {
			t.Errorf("%s PATCH the contact: %d, want %d: %s", who, r.status, status, r.body)
		}
		var list struct {
			Conversations []conversationJSON `json:"conversations"`
		}
		e.as(who, request{method: "GET", path: "/api/v1/inbox/conversations"}).mustStatus(t, http.StatusOK).json(t, &list)
		listed := slices.ContainsFunc(list.Conversations, func(c conversationJSON) bool { return c.ID == id })
		inInbox := e.conversation(id).Status != "closed"
		if listed != (want && inInbox) {
			t.Errorf("%s's inbox lists the conversation: %v, want %v", who, listed, want && inInbox)
		}
	}
	sees("ana@acme.com", true)
	sees("bob@acme.com", true)
	sees("cid@acme.com", false) // sales
	sees(dee, true)
	// What cid may not see, cid may not act on either.
	for p, body := range map[string]any{"assign": map[string]string{"agent": "me"}, "messages": map[string]string{"text": "hi"},
		"notes": map[string]string{"text": "hi"}, "close": nil, "resume-bot": nil} {
		e.as("cid@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/" + p, body: body}).
			mustStatus(t, http.StatusForbidden)
	}
	// The list of every conversation is not the inbox: agents use /inbox/conversations.
	e.as("ana@acme.com", request{method: "GET", path: "/api/v1/conversations"}).mustStatus(t, http.StatusForbidden)

	// Ana takes it and answers, then transfers it to sales: cid sees it now, bob no longer,
	// ana still (she handled it).
	e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/messages", body: map[string]string{"text": "Ana here."}}).mustStatus(t, http.StatusAccepted)
	e.drain()
	e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/assign", body: map[string]string{"team": "sales"}}).mustStatus(t, http.StatusOK)
	sees("cid@acme.com", true)
	sees("bob@acme.com", false)
	sees("ana@acme.com", true)
	// Cid takes it and closes it: a closed conversation stays visible to those who handled it.
	e.as("cid@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/assign", body: map[string]string{"agent": "me"}}).mustStatus(t, http.StatusOK)
	e.as("cid@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/close"}).mustStatus(t, http.StatusAccepted)
	e.drain()
	e.as(dee, request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/close"}).mustStatus(t, http.StatusAccepted)
	e.drain()
	if st := e.conversation(id).Status; st != "closed" {
		t.Fatalf("status %s after closing twice, want closed", st)
	}
	sees("cid@acme.com", true)
	sees("ana@acme.com", true)
	sees("bob@acme.com", false)
}

// An agent's event stream carries only the conversations they see: cid (sales) gets nothing of
// a support conversation that ana's stream reports, note and typing included.
func TestAgentEventStreamIsFiltered(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	anaEvents, _ := readSSE(t, ctx, e.srv.URL+"/api/v1/inbox/events", e.tokens["ana@acme.com"], nil)
	cidEvents, _ := readSSE(t, ctx, e.srv.URL+"/api/v1/inbox/events", e.tokens["cid@acme.com"], nil)
	id := e.customer("u-1", "m-1", "I need a human")
	e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/notes", body: map[string]string{"text": "private note"}}).mustStatus(t, http.StatusCreated)
	// Ana's stream reports the note; cid's reaches cid coming online (a later change) without
	// a word of the conversation.
	for sawNote := false; !sawNote; {
		select {
		case ev := <-anaEvents:
			sawNote = ev.kind == "note" && strings.Contains(ev.data, "private note")
		case <-ctx.Done():
			t.Fatal("ana's stream never reported the note")
		}
	}
	// Ana types: her stream says so; cid's must not (it would name the conversation).
	e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/typing"}).mustStatus(t, http.StatusNoContent)
	for sawTyping := false; !sawTyping; {
		select {
		case ev := <-anaEvents:
			sawTyping = ev.kind == "typing" && strings.Contains(ev.data, id)
		case <-ctx.Done():
			t.Fatal("ana's stream never reported her typing")
		}
	}
	e.online("cid@acme.com")
	for {
		select {
		case ev, ok := <-cidEvents:
			if !ok {
				t.Fatal("cid's stream ended")
			}
			if strings.Contains(ev.data, id) || strings.Contains(ev.data, "private note") {
				t.Fatalf("cid's stream carried the support conversation: %+v", ev)
			}
			if ev.kind == "presence" && strings.Contains(ev.data, "cid@acme.com") && strings.Contains(ev.data, `"status":"online"`) {
				return
			}
		case <-ctx.Done():
			t.Fatal("cid's stream never reported cid online")
		}
	}
}
