// Package livechattest is a fake LiveChat for tests: the accounts server (the refresh-token and
// code grants, customer tokens by the agent-token and cookie grants), the Customer Chat API
// actions a livechat desk calls (update_customer, start_chat, resume_chat, send_event,
// deactivate_chat, list_chats, get_chat, list_group_statuses) with one chat per customer, an
// agents' group that can go offline, tokens that can expire, and the Configuration API's
// list_groups; answered with the shapes of the fixtures in testdata/ (copied from LiveChat's
// documentation and lc-sdk-go). Helpers act as agents, the router and the customer and build
// the webhook LiveChat would post, with its secret_key. Failures are scripted per route.
package livechattest

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem/desk/desktest"
)

//go:embed testdata
var testdata embed.FS

var fixtures = desktest.Fixtures{FS: testdata}

// Fixture returns a fixture file of testdata/.
func Fixture(tb testing.TB, name string) []byte { return fixtures.Bytes(tb, name) }

// FixtureMap returns a JSON object fixture of testdata/, decoded.
func FixtureMap(tb testing.TB, name string) map[string]any { return fixtures.Map(tb, name) }

// Event is an event of a chat thread.
type Event struct {
	ID, Type, Text, CustomID, AuthorID, Visibility string
}

// Thread is a thread of a chat.
type Thread struct {
	ID     string
	Events []Event
	Group  int
}

// Chat is a customer's chat.
type Chat struct {
	ID       string
	Customer string // entity id
	Active   bool
	Threads  []*Thread
	// IgnoreBots is the last thread's routing.ignore_bots property.
	IgnoreBots bool
}

// Customer is a customer identity.
type Customer struct {
	ID, Name, Email string
	SessionFields   []map[string]string
}

// LiveChat is the fake.
type LiveChat struct {
	*desktest.Fake
	tb             testing.TB
	OrganizationID string
	ClientID       string
	ClientSecret   string
	RefreshToken   string // the one the grant accepts
	Code           string // the authorization code the code grant accepts
	SecretKey      string // webhooks carry it
	PATAccount     string
	PAT            string
	// Hook is Tandem's /hooks/livechat/{desk_id}.
	Hook string
	// GroupStatus is each group's routing status (default online).
	GroupStatus map[int]string

	mu        sync.Mutex
	next      int
	agentToks map[string]bool
	custToks  map[string]string // token → entity
	customers map[string]*Customer
	chats     map[string]*Chat
	cookies   map[string]string // __lc_cid → entity
}

// New starts a fake LiveChat.
func New(tb testing.TB) *LiveChat {
	tb.Helper()
	lc := &LiveChat{tb: tb, OrganizationID: "390e44e6-f1e6-0368c-z6ddb-74g14508c2ex", ClientID: "9cbf3a968289727cb3cdfe83ab1d9836",
		ClientSecret: "lc-client-secret-0123456789", RefreshToken: "lc-refresh-token-0123456789", Code: "lc-auth-code-0123",
		SecretKey: "laudla991lamda0pnoaa0", PATAccount: "b7eff798-f8df-4364-8059-649c35c9ed0c", PAT: "lc-pat-0123456789",
		GroupStatus: map[int]string{0: "online"}, agentToks: map[string]bool{}, custToks: map[string]string{},
		customers: map[string]*Customer{}, chats: map[string]*Chat{}, cookies: map[string]string{}}
	lc.Fake = desktest.NewFake(tb, lc.serve)
	return lc
}

func (lc *LiveChat) id(prefix string) string {
	lc.next++
	return fmt.Sprintf("%s%08d", prefix, lc.next)
}

func (lc *LiveChat) lcError(typ, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"type": typ, "message": msg}}
}

var reAction = regexp.MustCompile(`^/v3\.6/(customer|configuration|agent)/action/([a-z_]+)$`)

func (lc *LiveChat) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	switch {
	case r.URL.Path == "/v2/token":
		lc.token(w, body)
	case r.URL.Path == "/v2/customer/token":
		lc.customerToken(w, r, body)
	case reAction.MatchString(r.URL.Path):
		m := reAction.FindStringSubmatch(r.URL.Path)
		var in map[string]any
		if len(body) > 0 && json.Unmarshal(body, &in) != nil {
			desktest.WriteJSON(w, 400, lc.lcError("validation", "Wrong format of request"))
			return
		}
		if m[1] == "configuration" {
			lc.configuration(w, r, m[2])
			return
		}
		if m[1] != "customer" {
			desktest.WriteJSON(w, 404, lc.lcError("not_found", "Not found"))
			return
		}
		entity, ok := lc.custToks[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok {
			desktest.WriteJSON(w, 401, lc.lcError("authentication", "Invalid access token"))
			return
		}
		if r.URL.Query().Get("organization_id") != lc.OrganizationID {
			desktest.WriteJSON(w, 400, lc.lcError("validation", "`organization_id` is required"))
			return
		}
		status, out := lc.customerAction(m[2], entity, in)
		desktest.WriteJSON(w, status, out)
	default:
		desktest.WriteJSON(w, 404, lc.lcError("not_found", "Not found"))
	}
}

func (lc *LiveChat) oauthError(w http.ResponseWriter) {
	desktest.WriteJSON(w, 401, Fixture(lc.tb, "accounts_error_401_customer-accounts-openapi-v2.json"))
}

// token is the accounts server's POST /v2/token (form-encoded).
func (lc *LiveChat) token(w http.ResponseWriter, body []byte) {
	f, err := url.ParseQuery(string(body))
	if err != nil || f.Get("client_id") != lc.ClientID || f.Get("client_secret") != lc.ClientSecret {
		lc.oauthError(w)
		return
	}
	switch f.Get("grant_type") {
	case "refresh_token":
		if f.Get("refresh_token") != lc.RefreshToken {
			lc.oauthError(w)
			return
		}
	case "authorization_code":
		if f.Get("code") != lc.Code || f.Get("redirect_uri") == "" {
			lc.oauthError(w)
			return
		}
		lc.Code = "" // once
	default:
		lc.oauthError(w)
		return
	}
	tok := "dal:" + lc.id("agent-")
	lc.agentToks[tok] = true
	out := FixtureMap(lc.tb, "accounts_oauth_token_code_exchange_response_docs.json")
	out["access_token"], out["refresh_token"], out["organization_id"] = tok, lc.RefreshToken, lc.OrganizationID
	desktest.WriteJSON(w, 200, out)
}

// customerToken is POST /v2/customer/token: the agent-token grant (Bearer agent token) or the
// cookie grant (cookies).
func (lc *LiveChat) customerToken(w http.ResponseWriter, r *http.Request, body []byte) {
	var in map[string]any
	if json.Unmarshal(body, &in) != nil || in["client_id"] != lc.ClientID || in["response_type"] != "token" {
		lc.oauthError(w)
		return
	}
	entity := ""
	var set []*http.Cookie
	switch in["grant_type"] {
	case "agent_token":
		if !lc.agentToks[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] {
			lc.oauthError(w)
			return
		}
		entity, _ = in["entity_id"].(string)
	case "cookie":
		if in["organization_id"] != lc.OrganizationID || in["redirect_uri"] == "" {
			lc.oauthError(w)
			return
		}
		if c, err := r.Cookie("__lc_cid"); err == nil {
			entity = lc.cookies[c.Value]
		}
		if entity == "" {
			entity = lc.newCustomer()
			cid := lc.id("cid-")
			lc.cookies[cid] = entity
			set = append(set, &http.Cookie{Name: "__lc_cid", Value: cid, MaxAge: 63072000}, &http.Cookie{Name: "__lc_cst", Value: lc.id("cst-"), MaxAge: 63072000})
		}
	default:
		lc.oauthError(w)
		return
	}
	if entity == "" {
		entity = lc.newCustomer()
	} else if lc.customers[entity] == nil {
		lc.oauthError(w)
		return
	}
	tok := "dal:" + lc.id("cust-")
	lc.custToks[tok] = entity
	out := FixtureMap(lc.tb, "customer_token_agent_grant_response.json")
	out["access_token"], out["entity_id"], out["organization_id"] = tok, entity, lc.OrganizationID
	if in["grant_type"] == "agent_token" {
		out["client_id"] = lc.ClientID
	}
	for _, c := range set {
		http.SetCookie(w, c)
	}
	desktest.WriteJSON(w, 200, out)
}

func (lc *LiveChat) newCustomer() string {
	lc.next++
	id := fmt.Sprintf("bf18d1a8-1afe-4a3e-4cc0-%012d", lc.next)
	lc.customers[id] = &Customer{ID: id}
	return id
}

func (lc *LiveChat) configuration(w http.ResponseWriter, r *http.Request, action string) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != lc.PATAccount || pass != lc.PAT {
		desktest.WriteJSON(w, 401, lc.lcError("authentication", "Invalid access token"))
		return
	}
	switch action {
	case "list_groups":
		var groups []map[string]any
		json.Unmarshal(Fixture(lc.tb, "config_list_groups_response_v3.6_docs.json"), &groups)
		for _, g := range groups {
			n := int(g["id"].(float64))
			g["routing_status"] = "accepting_chats"
			if !lc.groupOnline(n) {
				g["routing_status"] = "offline"
			}
		}
		desktest.WriteJSON(w, 200, groups)
	default:
		desktest.WriteJSON(w, 200, map[string]any{})
	}
}

func (lc *LiveChat) groupOnline(g int) bool {
	s, ok := lc.GroupStatus[g]
	return !ok || s != "offline"
}

func group(chat map[string]any) int {
	acc, _ := chat["access"].(map[string]any)
	ids, _ := acc["group_ids"].([]any)
	if len(ids) > 0 {
		n, _ := ids[0].(float64)
		return int(n)
	}
	return 0
}

// thread builds a thread from a request's chat.thread, events authored by the customer.
func (lc *LiveChat) thread(chat map[string]any, entity string) (*Thread, bool) {
	t := &Thread{ID: lc.id("T"), Group: group(chat)}
	th, _ := chat["thread"].(map[string]any)
	evs, _ := th["events"].([]any)
	for _, e := range evs {
		em, _ := e.(map[string]any)
		t.Events = append(t.Events, Event{ID: t.ID + "_" + fmt.Sprint(len(t.Events)+1), Type: fmt.Sprint(em["type"]), Text: fmt.Sprint(em["text"]),
			CustomID: fmt.Sprint(em["custom_id"]), AuthorID: entity, Visibility: "all"})
	}
	props, _ := th["properties"].(map[string]any)
	routing, _ := props["routing"].(map[string]any)
	return t, routing["ignore_bots"] == true
}

// customerAction answers one Customer Chat API action as the customer entity; lc.mu is held.
func (lc *LiveChat) customerAction(action, entity string, in map[string]any) (int, any) {
	cust := lc.customers[entity]
	var chat *Chat
	for _, c := range lc.chats {
		if c.Customer == entity {
			chat = c
		}
	}
	switch action {
	case "update_customer":
		if n, ok := in["name"].(string); ok {
			cust.Name = n
		}
		if e, ok := in["email"].(string); ok {
			cust.Email = e
		}
		if fs, ok := in["session_fields"].([]any); ok {
			cust.SessionFields = nil
			for _, f := range fs {
				m := map[string]string{}
				for k, v := range f.(map[string]any) {
					m[k] = fmt.Sprint(v)
				}
				cust.SessionFields = append(cust.SessionFields, m)
			}
		}
		return 200, map[string]any{}
	case "start_chat":
		if chat != nil {
			return 400, lc.lcError("validation", "Customer already has a chat")
		}
		c, _ := in["chat"].(map[string]any)
		if !lc.groupOnline(group(c)) && in["continuous"] != true {
			return 400, lc.lcError("groups_offline", "Groups offline")
		}
		t, ib := lc.thread(c, entity)
		chat = &Chat{ID: lc.id("PJ"), Customer: entity, Active: true, Threads: []*Thread{t}, IgnoreBots: ib}
		lc.chats[chat.ID] = chat
		out := map[string]any{"chat_id": chat.ID, "thread_id": t.ID}
		var ids []string
		for _, e := range t.Events {
			ids = append(ids, e.ID)
		}
		if ids != nil {
			out["event_ids"] = ids
		}
		return 200, out
	case "resume_chat":
		c, _ := in["chat"].(map[string]any)
		if chat == nil || chat.ID != c["id"] {
			return 404, lc.lcError("not_found", "Chat not found")
		}
		if chat.Active {
			return 400, lc.lcError("chat_active", "Chat is already active")
		}
		if !lc.groupOnline(group(c)) && in["continuous"] != true {
			return 400, lc.lcError("groups_offline", "Groups offline")
		}
		t, ib := lc.thread(c, entity)
		chat.Threads, chat.Active, chat.IgnoreBots = append(chat.Threads, t), true, ib
		return 200, map[string]any{"thread_id": t.ID}
	case "send_event":
		if chat == nil || chat.ID != in["chat_id"] {
			return 404, lc.lcError("not_found", "Chat not found")
		}
		if !chat.Active {
			return 400, lc.lcError("chat_inactive", "Chat is inactive")
		}
		em, _ := in["event"].(map[string]any)
		t := chat.Threads[len(chat.Threads)-1]
		e := Event{ID: t.ID + "_" + fmt.Sprint(len(t.Events)+1), Type: fmt.Sprint(em["type"]), Text: fmt.Sprint(em["text"]), CustomID: fmt.Sprint(em["custom_id"]),
			AuthorID: entity, Visibility: "all"}
		t.Events = append(t.Events, e)
		return 200, map[string]any{"event_id": e.ID}
	case "deactivate_chat":
		if chat == nil || chat.ID != in["id"] {
			return 404, lc.lcError("not_found", "Chat not found")
		}
		if !chat.Active {
			return 400, lc.lcError("chat_inactive", "Chat is inactive")
		}
		chat.Active = false
		return 200, map[string]any{}
	case "list_chats":
		out := FixtureMap(lc.tb, "customer_list_chats_response_v3.6_docs.json")
		var list []any
		if chat != nil {
			s := out["chats_summary"].([]any)[0].(map[string]any)
			s["id"], s["active"], s["last_thread_id"] = chat.ID, chat.Active, chat.Threads[len(chat.Threads)-1].ID
			s["last_thread_created_at"] = time.Now().UTC().Format(time.RFC3339Nano)
			list = append(list, s)
		}
		out["chats_summary"], out["total_chats"] = list, len(list)
		if list == nil {
			out["chats_summary"] = []any{}
		}
		delete(out, "next_page_id")
		return 200, out
	case "get_chat":
		if chat == nil || chat.ID != in["chat_id"] {
			return 404, lc.lcError("not_found", "Chat not found")
		}
		out := FixtureMap(lc.tb, "customer_get_chat_response_v3.6_docs.json")
		out["id"] = chat.ID
		out["users"] = []any{map[string]any{"id": entity, "type": "customer", "present": true},
			map[string]any{"id": "smith@example.com", "name": "Agent Smith", "type": "agent", "present": true}}
		return 200, out
	case "list_group_statuses":
		st := map[string]any{}
		ids, _ := in["group_ids"].([]any)
		for _, g := range ids {
			n := int(g.(float64))
			s := lc.GroupStatus[n]
			if s == "" {
				s = "online"
			}
			st[fmt.Sprint(n)] = s
		}
		return 200, map[string]any{"groups_status": st}
	}
	return 404, lc.lcError("not_found", "Unknown action")
}

// ---- agents, the router and webhooks ----

// webhook is the envelope LiveChat posts (v3.6).
func (lc *LiveChat) webhook(action string, payload map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"webhook_id": "wh-" + action, "secret_key": lc.SecretKey, "action": action,
		"organization_id": lc.OrganizationID, "payload": payload, "additional_data": map[string]any{}})
	return b
}

func (lc *LiveChat) chat(id string) *Chat {
	c := lc.chats[id]
	if c == nil {
		lc.tb.Fatalf("fake livechat: no chat %s", id)
	}
	return c
}

// AgentEvent adds an event of agent (an id) to the chat's current thread and returns its
// incoming_event webhook.
func (lc *LiveChat) AgentEvent(chatID, agent string, e Event) []byte {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	c := lc.chat(chatID)
	t := c.Threads[len(c.Threads)-1]
	e.ID = t.ID + "_" + fmt.Sprint(len(t.Events)+1)
	if e.AuthorID == "" && e.Type != "system_message" {
		e.AuthorID = agent
	}
	if e.Visibility == "" {
		e.Visibility = "all"
	}
	if e.Type == "" {
		e.Type = "message"
	}
	t.Events = append(t.Events, e)
	ev := map[string]any{"id": e.ID, "type": e.Type, "text": e.Text, "visibility": e.Visibility, "created_at": time.Now().UTC().Format(time.RFC3339Nano)}
	if e.AuthorID != "" {
		ev["author_id"] = e.AuthorID
	}
	if e.CustomID != "" {
		ev["custom_id"] = e.CustomID
	}
	if e.Type == "file" {
		f := FixtureMap(lc.tb, "event_file_agent_api_v3.6_docs.json")
		f["id"], f["author_id"] = e.ID, e.AuthorID
		ev = f
	}
	return lc.webhook("incoming_event", map[string]any{"chat_id": c.ID, "thread_id": t.ID, "event": ev})
}

// AgentMessage is an agent's message and its webhook.
func (lc *LiveChat) AgentMessage(chatID, text string) []byte {
	return lc.AgentEvent(chatID, "smith@example.com", Event{Type: "message", Text: text})
}

// AgentAdded is the user_added_to_chat webhook of an agent joining the chat.
func (lc *LiveChat) AgentAdded(chatID, agentID, name string) []byte {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	c := lc.chat(chatID)
	u := FixtureMap(lc.tb, "user_agent_agent_api_v3.6_docs.json")
	u["id"], u["name"], u["type"] = agentID, name, "agent"
	return lc.webhook("user_added_to_chat", map[string]any{"chat_id": c.ID, "thread_id": c.Threads[len(c.Threads)-1].ID, "user": u,
		"user_type": "agent", "reason": "manual", "requester_id": agentID})
}

// Transferred is the chat_transferred webhook of the chat given to an agent.
func (lc *LiveChat) Transferred(chatID, agentID string) []byte {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	c := lc.chat(chatID)
	p := FixtureMap(lc.tb, "webhook_chat_transferred_v3.6_docs.json")["payload"].(map[string]any)
	p["chat_id"], p["thread_id"] = c.ID, c.Threads[len(c.Threads)-1].ID
	p["transferred_to"] = map[string]any{"group_ids": []int{0}, "agent_ids": []string{agentID}}
	return lc.webhook("chat_transferred", p)
}

// Deactivated ends the chat (by user: an agent's id, the customer's entity id, or "" for the
// router) and returns the chat_deactivated webhook.
func (lc *LiveChat) Deactivated(chatID, by string) []byte {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	c := lc.chat(chatID)
	c.Active = false
	p := map[string]any{"chat_id": c.ID, "thread_id": c.Threads[len(c.Threads)-1].ID}
	if by != "" {
		p["user_id"] = by
	}
	return lc.webhook("chat_deactivated", p)
}

// Deliver posts a webhook to Hook and returns Tandem's status.
func (lc *LiveChat) Deliver(tb testing.TB, body []byte) int {
	tb.Helper()
	s, _ := desktest.Post(tb, &http.Client{Timeout: 5 * time.Second}, lc.Hook, nil, body)
	return s
}

// ExpireTokens makes every customer token invalid (an authentication error on next use).
func (lc *LiveChat) ExpireTokens() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.custToks = map[string]string{}
}

// Chats returns the chats (copies).
func (lc *LiveChat) Chats() []Chat {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	var out []Chat
	for _, c := range lc.chats {
		cp := *c
		cp.Threads = nil
		for _, t := range c.Threads {
			tc := *t
			tc.Events = append([]Event(nil), t.Events...)
			cp.Threads = append(cp.Threads, &tc)
		}
		out = append(out, cp)
	}
	return out
}

// Customers returns the customers (copies).
func (lc *LiveChat) Customers() []Customer {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	var out []Customer
	for _, c := range lc.customers {
		out = append(out, *c)
	}
	return out
}

// SetGroup sets a group's routing status (online, offline, online_for_queue).
func (lc *LiveChat) SetGroup(g int, status string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.GroupStatus[g] = status
}
