package livechat_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/desk/desktest"
	"github.com/tandemchat/tandem/desk/livechat"
	"github.com/tandemchat/tandem/desk/livechat/livechattest"
)

type harness struct {
	*desktest.Env
	lc *livechattest.LiveChat
}

// newHarness configures desk "desk" on a fake LiveChat; extra adds keys to its entry, and
// connected gives it the refresh token in the configuration.
func newHarness(t *testing.T, extra string, connected bool) *harness {
	t.Helper()
	lc := livechattest.New(t)
	entry := `- {id: desk, kind: livechat, organization_id: "` + lc.OrganizationID + `", client_id: "` + lc.ClientID + `", client_secret: "${LC_CLIENT_SECRET}", ` +
		`secret_key: "${LC_SECRET}", base_url: "` + lc.URL + `", accounts_url: "` + lc.URL + `", timeout: 2s`
	if connected {
		entry += `, refresh_token: "${LC_REFRESH}"`
	}
	entry += extra + "}"
	e := desktest.NewEnv(t, desktest.Options{Desks: []string{entry}, HTTP: lc.Client(),
		Vars: map[string]string{"LC_CLIENT_SECRET": lc.ClientSecret, "LC_SECRET": lc.SecretKey, "LC_REFRESH": lc.RefreshToken, "LC_PAT": lc.PAT}})
	lc.Hook = e.URL("/hooks/livechat/desk")
	return &harness{Env: e, lc: lc}
}

func (h *harness) secrets() []string {
	return []string{h.lc.ClientSecret, h.lc.RefreshToken, h.lc.SecretKey, h.lc.PAT}
}

// handoff brings user's conversation to an open handoff and returns it with its chat id.
func (h *harness) handoff(user string) (string, string) {
	h.T.Helper()
	conv := h.Customer(user, user+"@example.com", user+"-1", desktest.Question1)
	h.Customer(user, user+"@example.com", user+"-2", desktest.Question2)
	chats := h.lc.Chats()
	if len(chats) == 0 {
		h.T.Fatalf("no LiveChat chat; the customer got %q", h.View(conv))
	}
	return conv, chats[len(chats)-1].ID
}

// customers returns the customers Tandem made for contacts (not the desk's probe, which checks
// the group's status).
func (h *harness) customers() []livechattest.Customer {
	var out []livechattest.Customer
	for _, c := range h.lc.Customers() {
		if c.Name != "" {
			out = append(out, c)
		}
	}
	return out
}

func texts(t *livechattest.Thread) []string {
	var out []string
	for _, e := range t.Events {
		out = append(out, e.Text)
	}
	return out
}

func TestHandoff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "", true)
	conv, chat := h.handoff("bob")
	chats := h.lc.Chats()
	if len(chats) != 1 || !chats[0].Active || !chats[0].IgnoreBots || len(chats[0].Threads) != 1 {
		t.Fatalf("chats %+v", chats)
	}
	th := chats[0].Threads[0]
	if got := texts(th); len(got) != 2 || !strings.Contains(got[0], "Customer: "+desktest.Question1) || !strings.Contains(got[0], "Bot: "+desktest.TextReply) ||
		!strings.Contains(got[0], "[Channel: api · Flow: helpdesk (version 1)]") || got[1] != desktest.Question2 {
		t.Errorf("first events %q", got)
	}
	cs := h.customers()
	if len(cs) != 1 || cs[0].Name != "bob" || cs[0].Email != "bob@example.com" || len(cs[0].SessionFields) < 2 {
		t.Errorf("customers %+v", cs)
	}
	for _, r := range h.lc.Requests("POST /v3.6/customer/action/*") {
		if r.Query != "organization_id="+url.QueryEscape(h.lc.OrganizationID) || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer dal:cust-") ||
			r.Header.Get("X-Region") != "dal" {
			t.Errorf("%s without the organization, a customer token or the region: %q %v", r.Route(), r.Query, r.Header)
		}
	}
	// The customer's messages are the customer's events, with Tandem's id as custom_id.
	h.Customer("bob", "bob@example.com", "bob-3", "order 123")
	th = h.lc.Chats()[0].Threads[0]
	if last := th.Events[len(th.Events)-1]; last.Text != "order 123" || last.CustomID == "" || last.AuthorID != cs[0].ID {
		t.Errorf("forwarded %+v", last)
	}
	// An agent joins (assigned, not connected), speaks (connected); the webhooks of Tandem's own
	// events, system messages, whispers and greetings are not for the customer.
	for _, b := range [][]byte{
		h.lc.AgentAdded(chat, "smith@example.com", "Agent Smith"),
		h.lc.AgentEvent(chat, "", livechattest.Event{Type: "message", Text: "order 123", AuthorID: cs[0].ID}),
		h.lc.AgentEvent(chat, "", livechattest.Event{Type: "system_message", Text: "Agent Smith joined"}),
		h.lc.AgentEvent(chat, "smith@example.com", livechattest.Event{Type: "message", Text: "whisper", Visibility: "agents"}),
	} {
		if s := h.lc.Deliver(t, b); s != 200 {
			t.Errorf("webhook: %d", s)
		}
	}
	h.Drain()
	if c := h.Conversation(conv); c["assignee"] != "Agent Smith" || c["status"] != "assigned" {
		t.Errorf("after user_added_to_chat: status %v assignee %v", c["status"], c["assignee"])
	}
	msg := h.lc.AgentMessage(chat, "Hi Bob, Smith here")
	for range 2 {
		if s := h.lc.Deliver(t, msg); s != 200 {
			t.Errorf("agent message: %d", s)
		}
	}
	h.Drain()
	got := h.View(conv)
	if want := []string{"bot: An agent has joined the conversation.", "agent: Hi Bob, Smith here"}; !slices.Equal(got[len(got)-2:], want) {
		t.Errorf("customer got %q, want it to end with %q", got, want)
	}
	for _, s := range got {
		if strings.Contains(s, "whisper") || strings.Contains(s, "joined\"") || s == "agent: order 123" {
			t.Errorf("customer got %q", s)
		}
	}
	// The agent ends the chat: the bot takes over; no deactivate_chat goes back.
	h.lc.Deliver(t, h.lc.Deactivated(chat, "smith@example.com"))
	h.Drain()
	if got := h.View(conv); got[len(got)-1] != "bot: "+desktest.TextBack {
		t.Errorf("after the agent's end the customer got %q", got)
	}
	if n := len(h.lc.Requests("POST /v3.6/customer/action/deactivate_chat")); n != 0 {
		t.Errorf("%d deactivate_chat after the agent's end", n)
	}
	// A second handoff resumes the customer's chat in a new thread, as the same customer.
	h.Customer("bob", "bob@example.com", "bob-4", "again")
	h.Customer("bob", "bob@example.com", "bob-5", "human please")
	chats = h.lc.Chats()
	if len(chats) != 1 || len(chats[0].Threads) != 2 || !chats[0].Active || len(h.customers()) != 1 {
		t.Errorf("after a second handoff: chats %+v, %d customers", chats, len(h.customers()))
	}
	// The customer ends: a message, then the chat deactivated; its echo changes nothing.
	h.Customer("bob", "bob@example.com", "bob-end", "/end")
	th = h.lc.Chats()[0].Threads[1]
	if last := th.Events[len(th.Events)-1]; !strings.Contains(last.Text, "ended the chat") || h.lc.Chats()[0].Active {
		t.Errorf("after /end: %+v, active %v", last, h.lc.Chats()[0].Active)
	}
	if s := h.lc.Deliver(t, h.lc.Deactivated(chat, cs[0].ID)); s != 200 {
		t.Errorf("echo: %d", s)
	}
	h.Drain()
	if got := h.View(conv); got[len(got)-1] != "bot: "+desktest.TextBye {
		t.Errorf("customer got %q", got)
	}
	h.NoSecrets(h.secrets(), conv)
}

// Webhooks are checked by the secret_key in their body; what is not Tandem's, or not for the
// customer, is answered 200 and ignored; v3.3 payloads still work.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "", true)
	conv, chat := h.handoff("bob")
	msg := h.lc.AgentMessage(chat, "from the agent")
	var m map[string]any
	json.Unmarshal(msg, &m)
	post := func(v any) int {
		b, _ := json.Marshal(v)
		s, _ := desktest.Post(t, h.Server.Client(), h.lc.Hook, nil, b)
		return s
	}
	wrong := clone(m)
	wrong["secret_key"] = "wrong"
	missing := clone(m)
	delete(missing, "secret_key")
	for name, v := range map[string]any{"wrong key": wrong, "no key": missing} {
		if s := post(v); s != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, s)
		}
	}
	h.Drain()
	if got := h.View(conv); slices.Contains(got, "agent: from the agent") {
		t.Fatalf("a refused webhook reached the customer: %q", got)
	}
	if s, _ := desktest.Post(t, h.Server.Client(), h.lc.Hook, nil, []byte("{not json")); s != http.StatusBadRequest {
		t.Errorf("malformed: %d", s)
	}
	noAction := clone(m)
	delete(noAction, "action")
	if s := post(noAction); s != http.StatusBadRequest {
		t.Errorf("no action: %d", s)
	}
	other := clone(m)
	other["organization_id"] = "another-org"
	unknown := clone(m)
	unknown["payload"].(map[string]any)["chat_id"] = "NOTOURS"
	for name, v := range map[string]any{"other organization": other, "unknown chat": unknown} {
		if s := post(v); s != 200 {
			t.Errorf("%s: %d, want 200", name, s)
		}
	}
	// A v3.3 payload: license_id instead of organization_id, recipients instead of visibility.
	old := livechattest.FixtureMap(t, "webhook_incoming_event_v3.3_lc-sdk-go.json")
	old["secret_key"] = h.lc.SecretKey
	p := old["payload"].(map[string]any)
	p["chat_id"], p["thread_id"] = chat, m["payload"].(map[string]any)["thread_id"]
	p["event"].(map[string]any)["author_id"] = "smith@example.com"
	if s := post(old); s != 200 {
		t.Errorf("v3.3: %d", s)
	}
	h.Drain()
	if got := h.View(conv); !slices.Contains(got, "agent: 14") || slices.Contains(got, "agent: from the agent") {
		t.Errorf("customer got %q, want the v3.3 message only", got)
	}
	// The router ends the chat (no user_id): the handoff closes.
	h.lc.Deliver(t, h.lc.Deactivated(chat, ""))
	h.Drain()
	if got := h.View(conv); got[len(got)-1] != "bot: "+desktest.TextBack {
		t.Errorf("after the router's end the customer got %q", got)
	}
	if s, b := desktest.Post(t, h.Server.Client(), h.URL("/hooks/livechat/nope"), nil, msg); s != 404 {
		t.Errorf("unknown desk: %d %s", s, b)
	}
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// An offline group makes the handoff unavailable (unless continuous); an expired customer
// token is replaced; an agent's end seen first by a send closes the handoff.
func TestOfflineTokensAndInactive(t *testing.T) {
	t.Parallel()
	t.Run("offline", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "", true)
		h.lc.SetGroup(0, "offline")
		conv := h.Customer("bob", "bob@example.com", "b1", desktest.Question1)
		h.Customer("bob", "bob@example.com", "b2", desktest.Question2)
		if got := h.View(conv); got[len(got)-1] != "bot: "+desktest.TextSorry || len(h.lc.Chats()) != 0 {
			t.Errorf("customer got %q; chats %d", got, len(h.lc.Chats()))
		}
		if st := h.Desks["desk"].(desk.Statuser).Status(); st != desk.StatusUnavailable {
			t.Errorf("status %s", st)
		}
	})
	t.Run("continuous", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, ", continuous: true", true)
		h.lc.SetGroup(0, "offline")
		h.handoff("bob")
	})
	t.Run("expired token, then chat_inactive", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "", true)
		conv, chat := h.handoff("bob")
		h.lc.ExpireTokens()
		h.Customer("bob", "bob@example.com", "b3", "still there?")
		th := h.lc.Chats()[0].Threads[0]
		if last := th.Events[len(th.Events)-1]; last.Text != "still there?" {
			t.Errorf("after the token expired the chat ends with %+v", last)
		}
		h.lc.Deactivated(chat, "smith@example.com") // its webhook is late
		h.Customer("bob", "bob@example.com", "b4", "hello?")
		h.Drain()
		if got := h.View(conv); got[len(got)-1] != "bot: "+desktest.TextBack {
			t.Errorf("after chat_inactive the customer got %q", got)
		}
	})
}

// A transcript longer than one event is split, at line ends, each part at most MaxText.
func TestLongTranscript(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "", true)
	long := strings.Repeat("This is a long question. ", 160) // 4,000 characters
	var transcript []tandem.Message
	for range 6 {
		transcript = append(transcript, tandem.Message{Direction: tandem.DirectionIn, Text: long}, tandem.Message{Direction: tandem.DirectionOut, Author: tandem.AuthorBot, Text: "ok"})
	}
	transcript = append(transcript, tandem.Message{ID: "m-last", Direction: tandem.DirectionIn, Text: desktest.Question2})
	d := h.Desks["desk"]
	_, err := d.Start(h.Ctx, tandem.DeskStart{Session: "hf_c1_abcdefghij", Conversation: &tandem.Conversation{ID: "c1", ChannelKind: "api"},
		Contact: &tandem.Contact{ID: "ct1", Name: "Bob"}, Transcript: transcript})
	if err != nil {
		t.Fatal(err)
	}
	th := h.lc.Chats()[0].Threads[0]
	if len(th.Events) != 3 {
		t.Fatalf("%d first events, want the transcript in 2 parts and the question", len(th.Events))
	}
	for _, e := range th.Events {
		if len(e.Text) > livechat.MaxText {
			t.Errorf("an event of %d bytes", len(e.Text))
		}
	}
	if got := th.Events[2]; got.Text != desktest.Question2 || got.CustomID != "m-last" {
		t.Errorf("last first event %+v", got)
	}
	if n := strings.Count(th.Events[0].Text+th.Events[1].Text, strings.TrimSpace(long)); n != 6 {
		t.Errorf("the transcript holds the long question %d times, want 6 (split at line ends)", n)
	}
}

// Without a refresh token the desk is not configured; `tandem desk connect` gives the URL an
// administrator opens, and the redirect stores the refresh token once.
func TestConnect(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "", false)
	d := h.Desks["desk"].(*livechat.Desk)
	if d.Status() != desk.StatusNotConfigured {
		t.Errorf("status %s before connecting", d.Status())
	}
	conv := h.Customer("bob", "bob@example.com", "b1", desktest.Question1)
	h.Customer("bob", "bob@example.com", "b2", desktest.Question2)
	if got := h.View(conv); got[len(got)-1] != "bot: "+desktest.TextSorry {
		t.Errorf("before connecting the customer got %q", got)
	}
	authURL, err := d.Connect(h.Ctx, "https://tandem.example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	if !strings.HasPrefix(authURL, h.lc.URL+"/?") || q.Get("client_id") != h.lc.ClientID || q.Get("response_type") != "code" ||
		q.Get("redirect_uri") != "https://tandem.example.com/hooks/livechat/desk/oauth" || len(q.Get("state")) < 16 {
		t.Fatalf("authorization URL %s", authURL)
	}
	get := func(query string) (int, string) {
		resp, err := h.Server.Client().Get(h.URL("/hooks/livechat/desk/oauth?" + query))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if s, _ := get("code=" + h.lc.Code + "&state=forged"); s != http.StatusUnauthorized {
		t.Errorf("forged state: %d", s)
	}
	if s, b := get("code=" + h.lc.Code + "&state=" + q.Get("state")); s != 200 || !strings.Contains(b, "connected") {
		t.Fatalf("redirect: %d %s", s, b)
	}
	if s, _ := get("code=x&state=" + q.Get("state")); s != http.StatusUnauthorized {
		t.Errorf("the state used twice: %d", s)
	}
	if v, err := h.Secrets["desk"].Get(h.Ctx, livechat.SecretRefreshToken); err != nil || v != h.lc.RefreshToken {
		t.Errorf("stored refresh token %q, %v", v, err)
	}
	if d.Status() == desk.StatusNotConfigured {
		t.Error("still not configured after connecting")
	}
	h.handoff("eve")
	h.NoSecrets(h.secrets(), conv)
}

// With a personal access token the group's status comes from the Configuration API.
func TestHealthWithPAT(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `, pat: {account_id: "b7eff798-f8df-4364-8059-649c35c9ed0c", token: "${LC_PAT}"}`, true)
	d := h.Desks["desk"].(*livechat.Desk)
	if err := d.Health(h.Ctx); err != nil {
		t.Fatalf("health: %v", err)
	}
	if n := len(h.lc.Requests("POST /v3.6/configuration/action/list_groups")); n != 1 {
		t.Errorf("%d list_groups", n)
	}
	h.lc.SetGroup(0, "offline")
	h.Clock.Advance(livechat.HealthMaxAge)
	if err := d.Health(h.Ctx); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Errorf("health with the group offline: %v", err)
	}
}

// The cookie grant keeps the customer's cookies and gets the same customer back.
func TestCookieGrant(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `, customer_grant: cookie, redirect_uri: "https://tandem.example.com/"`, false)
	_, chat := h.handoff("bob")
	h.lc.Deliver(t, h.lc.Deactivated(chat, "smith@example.com"))
	h.Drain()
	h.Customer("bob", "bob@example.com", "b3", "again")
	h.Customer("bob", "bob@example.com", "b4", "human")
	if n := len(h.customers()); n != 1 {
		t.Errorf("%d customers, want 1 (the cookies replayed)", n)
	}
	if chats := h.lc.Chats(); len(chats) != 1 || len(chats[0].Threads) != 2 {
		t.Errorf("chats %+v", chats)
	}
}

// LiveChat's ids are strings, but its group ids are numbers: a webhook that writes an id the
// other way (group ids as strings, an event id as a number) reads the same; it was refused 400
// "payload: must be an object".
func TestWebhookIDsEitherWay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "", true)
	conv, chat := h.handoff("bob")
	var m map[string]any
	json.Unmarshal(h.lc.AgentMessage(chat, "x"), &m)
	thread, _ := m["payload"].(map[string]any)["thread_id"].(string)
	post := func(body string) {
		t.Helper()
		if s, b := desktest.Post(t, h.Server.Client(), h.lc.Hook, nil, []byte(body)); s != http.StatusOK {
			t.Errorf("%d %s for %s", s, b, body)
		}
	}
	head := `{"webhook_id":"w1","secret_key":"` + h.lc.SecretKey + `","organization_id":"` + h.lc.OrganizationID + `",`
	post(head + `"action":"chat_transferred","payload":{"chat_id":"` + chat + `","thread_id":"` + thread + `","requester_id":"smith@example.com",` +
		`"reason":"manual","transferred_to":{"group_ids":["19"],"agent_ids":["jane@example.com"]}}}`)
	post(head + `"action":"incoming_event","payload":{"chat_id":"` + chat + `","thread_id":"` + thread + `",` +
		`"event":{"id":4242,"type":"message","text":"An event id as a number","author_id":"jane@example.com","visibility":"all"}}}`)
	h.Drain()
	if got := h.View(conv); !slices.Contains(got, "agent: An event id as a number") {
		t.Errorf("the customer got %q", got)
	}
	if hf, _ := h.Conversation(conv)["handoff"].(map[string]any); hf["agent"] != "jane@example.com" {
		t.Errorf("handoff %v, want jane@example.com as its agent", hf)
	}
}
