// Package chatwoottest is a fake Chatwoot for tests: the Application API calls of an API inbox
// desk (profile, inbox, contacts and their search, contact-inboxes, conversations, messages,
// toggle_status, teams) kept in memory, with the answers' shapes of the fixtures in testdata/
// (copied from Chatwoot's source and docs), and helpers that act as an agent in Chatwoot — a
// reply, an attachment, a resolve, a deletion — and post the webhook Chatwoot would post,
// signed like Chatwoot signs. Failures are scripted per route (desktest.Fake).
package chatwoottest

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem/desk/chatwoot"
	"github.com/tandemchat/tandem/desk/desktest"
)

//go:embed testdata
var testdata embed.FS

var fixtures = desktest.Fixtures{FS: testdata}

// Fixture returns a fixture file of testdata/.
func Fixture(tb testing.TB, name string) []byte { return fixtures.Bytes(tb, name) }

// FixtureMap returns a JSON object fixture of testdata/, decoded.
func FixtureMap(tb testing.TB, name string) map[string]any { return fixtures.Map(tb, name) }

// Contact is a contact in the fake.
type Contact struct {
	ID                        int
	Name, Email, Phone, Ident string
	SourceIDs                 map[int]string // inbox id → source id
}

// Message is a message in the fake.
type Message struct {
	ID          int
	Content     string
	Type        int // 0 incoming, 1 outgoing, 2 activity, 3 template
	Private     bool
	SenderType  string // User, Contact, AgentBot, ""
	SenderName  string
	Attachments []string // data URLs
}

// Conversation is a conversation in the fake.
type Conversation struct {
	ID, ContactID, InboxID, TeamID int
	SourceID                       string
	Status                         string
	Attributes                     map[string]any
	Messages                       []*Message
}

// Chatwoot is the fake.
type Chatwoot struct {
	*desktest.Fake
	tb      testing.TB
	Account int
	Inbox   int
	Token   string
	// Secret signs webhooks (X-Chatwoot-Signature); empty: unsigned, as before v4.13.
	Secret string
	// Hook is where webhooks go: Tandem's /hooks/chatwoot/{desk_id}, with ?token= when used.
	Hook       string
	HookClient *http.Client
	// Now dates signatures (default: the wall clock).
	Now func() time.Time
	// NotAPIInbox makes the inbox a website inbox (incoming messages refused).
	NotAPIInbox bool

	mu       sync.Mutex
	contacts []*Contact
	convs    map[int]*Conversation
	nextID   int
	teams    []map[string]any
	pending  []pendingHook
	answers  []int
}

type pendingHook struct {
	body []byte
}

// New starts a fake Chatwoot for account 1, inbox 7, team "support" (id 2), with token.
func New(tb testing.TB, token string) *Chatwoot {
	tb.Helper()
	c := &Chatwoot{tb: tb, Account: 1, Inbox: 7, Token: token, convs: map[int]*Conversation{}, nextID: 100, Now: time.Now,
		teams: []map[string]any{{"id": 2, "name": "support", "description": "Support team", "allow_auto_assign": true, "account_id": 1, "is_member": false}}}
	c.Fake = desktest.NewFake(tb, c.serve)
	return c
}

func (c *Chatwoot) id() int {
	c.nextID++
	return c.nextID
}

func (c *Chatwoot) errorBody(name string) []byte {
	m := FixtureMap(c.tb, "error_bodies_source.json")
	b, _ := json.Marshal(m[name])
	return b
}

var (
	accountPath = regexp.MustCompile(`^/api/v1/accounts/(\d+)(/.*)$`)
	e164        = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)
)

func (c *Chatwoot) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Header.Get("Api_access_token") != c.Token {
		desktest.WriteJSON(w, 401, c.errorBody("invalid_token_401"))
		return
	}
	if r.URL.Path == "/api/v1/profile" && r.Method == "GET" {
		desktest.WriteJSON(w, 200, map[string]any{"id": 9, "name": "Tandem", "email": "tandem@acme.com", "role": "administrator"})
		return
	}
	m := accountPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		desktest.WriteJSON(w, 404, c.errorBody("not_found_404"))
		return
	}
	if m[1] != strconv.Itoa(c.Account) {
		desktest.WriteJSON(w, 401, c.errorBody("not_authorized_401"))
		return
	}
	var in map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			desktest.WriteJSON(w, 400, map[string]any{"error": "the body is not JSON"})
			return
		}
	}
	c.mu.Lock()
	status, out := c.route(r.Method, m[2], r.URL.Query(), in)
	c.mu.Unlock()
	desktest.WriteJSON(w, status, out)
}

var (
	reInbox        = regexp.MustCompile(`^/inboxes/(\d+)$`)
	reContact      = regexp.MustCompile(`^/contacts/(\d+)$`)
	reContactInbox = regexp.MustCompile(`^/contacts/(\d+)/contact_inboxes$`)
	reContactConvs = regexp.MustCompile(`^/contacts/(\d+)/conversations$`)
	reConv         = regexp.MustCompile(`^/conversations/(\d+)$`)
	reMessages     = regexp.MustCompile(`^/conversations/(\d+)/messages$`)
	reToggle       = regexp.MustCompile(`^/conversations/(\d+)/toggle_status$`)
)

func num(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return 0
}

func str(v any) string { s, _ := v.(string); return s }

// route answers one API call; c.mu is held.
func (c *Chatwoot) route(method, p string, q url.Values, in map[string]any) (int, any) {
	notFound := c.errorBody("not_found_404")
	switch {
	case method == "GET" && reInbox.MatchString(p):
		id, _ := strconv.Atoi(reInbox.FindStringSubmatch(p)[1])
		if id != c.Inbox {
			return 404, notFound
		}
		ct := "Channel::Api"
		if c.NotAPIInbox {
			ct = "Channel::WebWidget"
		}
		return 200, map[string]any{"id": id, "name": "Tandem", "channel_type": ct}
	case method == "GET" && p == "/teams":
		return 200, c.teams
	case method == "GET" && p == "/contacts/search":
		term := strings.ToLower(q.Get("q"))
		var list []any
		for _, k := range c.contacts {
			if term != "" && (strings.Contains(strings.ToLower(k.Ident), term) || strings.Contains(strings.ToLower(k.Email), term) ||
				strings.Contains(k.Phone, term) || strings.Contains(strings.ToLower(k.Name), term)) {
				list = append(list, c.contactJSON(k))
			}
		}
		return 200, map[string]any{"meta": map[string]any{"count": len(list), "current_page": "1"}, "payload": list}
	case method == "POST" && p == "/contacts":
		return c.createContact(in)
	case method == "PUT" && reContact.MatchString(p):
		k := c.contact(reContact.FindStringSubmatch(p)[1])
		if k == nil {
			return 404, notFound
		}
		if v := str(in["identifier"]); v != "" {
			k.Ident = v
		}
		return 200, map[string]any{"payload": c.contactJSON(k)}
	case method == "POST" && reContactInbox.MatchString(p):
		k := c.contact(reContactInbox.FindStringSubmatch(p)[1])
		if k == nil {
			return 404, notFound
		}
		inbox := num(in["inbox_id"])
		sid := str(in["source_id"])
		if sid == "" {
			sid = fmt.Sprintf("src-%d-%d", k.ID, inbox)
		}
		k.SourceIDs[inbox] = sid
		return 200, map[string]any{"source_id": sid, "inbox": map[string]any{"id": inbox, "channel_type": "Channel::Api"}}
	case method == "GET" && reContactConvs.MatchString(p):
		id, _ := strconv.Atoi(reContactConvs.FindStringSubmatch(p)[1])
		var list []any
		for _, cv := range c.sortedConvs() {
			if cv.ContactID == id {
				list = append(list, c.convJSON(cv))
			}
		}
		return 200, map[string]any{"payload": list}
	case method == "POST" && p == "/conversations":
		return c.createConversation(in)
	case method == "GET" && reConv.MatchString(p):
		cv := c.conv(reConv.FindStringSubmatch(p)[1])
		if cv == nil {
			return 404, notFound
		}
		return 200, c.convJSON(cv)
	case method == "GET" && reMessages.MatchString(p):
		cv := c.conv(reMessages.FindStringSubmatch(p)[1])
		if cv == nil {
			return 404, notFound
		}
		after, _ := strconv.Atoi(q.Get("after"))
		var list []any
		ms := cv.Messages
		if after == 0 && len(ms) > 20 {
			ms = ms[len(ms)-20:]
		}
		for _, m := range ms {
			if m.ID > after && len(list) < 100 {
				list = append(list, c.messageJSON(cv, m))
			}
		}
		return 200, map[string]any{"meta": map[string]any{}, "payload": list}
	case method == "POST" && reMessages.MatchString(p):
		cv := c.conv(reMessages.FindStringSubmatch(p)[1])
		if cv == nil {
			return 404, notFound
		}
		return c.createMessage(cv, in)
	case method == "POST" && reToggle.MatchString(p):
		cv := c.conv(reToggle.FindStringSubmatch(p)[1])
		if cv == nil {
			return 404, notFound
		}
		cv.Status = str(in["status"])
		c.queueStatusHook(cv)
		out := FixtureMap(c.tb, "toggle_status_response_source.json")
		pl := out["payload"].(map[string]any)
		pl["conversation_id"], pl["current_status"] = cv.ID, cv.Status
		return 200, out
	}
	return 404, notFound
}

func (c *Chatwoot) contact(id string) *Contact {
	n, _ := strconv.Atoi(id)
	for _, k := range c.contacts {
		if k.ID == n {
			return k
		}
	}
	return nil
}

func (c *Chatwoot) conv(id string) *Conversation {
	n, _ := strconv.Atoi(id)
	return c.convs[n]
}

func (c *Chatwoot) sortedConvs() []*Conversation {
	var out []*Conversation
	for _, cv := range c.convs {
		out = append(out, cv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *Chatwoot) createContact(in map[string]any) (int, any) {
	email, ph, ident := strings.ToLower(str(in["email"])), str(in["phone_number"]), str(in["identifier"])
	if ph != "" && !e164.MatchString(ph) {
		return 422, map[string]any{"message": "Phone number should be in e164 format", "attributes": []string{"phone_number"}}
	}
	for _, k := range c.contacts {
		switch {
		case email != "" && strings.ToLower(k.Email) == email:
			return 422, c.errorBody("record_invalid_422")
		case ph != "" && k.Phone == ph:
			return 422, map[string]any{"message": "Phone number has already been taken", "attributes": []string{"phone_number"}}
		case ident != "" && k.Ident == ident:
			return 422, map[string]any{"message": "Identifier has already been taken", "attributes": []string{"identifier"}}
		}
	}
	k := &Contact{ID: c.id(), Name: str(in["name"]), Email: str(in["email"]), Phone: ph, Ident: ident, SourceIDs: map[int]string{}}
	inbox := num(in["inbox_id"])
	if inbox != 0 {
		k.SourceIDs[inbox] = fmt.Sprintf("src-%d-%d", k.ID, inbox)
	}
	c.contacts = append(c.contacts, k)
	out := FixtureMap(c.tb, "create_contact_response_source.json")
	pl := out["payload"].(map[string]any)
	pl["contact"] = c.contactJSON(k)
	ci := pl["contact_inbox"].(map[string]any)
	ci["source_id"] = k.SourceIDs[inbox]
	ci["inbox"].(map[string]any)["id"] = inbox
	return 200, out
}

func (c *Chatwoot) contactJSON(k *Contact) map[string]any {
	var cis []any
	for inbox, sid := range k.SourceIDs {
		cis = append(cis, map[string]any{"source_id": sid, "inbox": map[string]any{"id": inbox, "name": "Tandem", "channel_type": "Channel::Api"}})
	}
	return map[string]any{"id": k.ID, "name": k.Name, "email": k.Email, "phone_number": k.Phone, "identifier": k.Ident, "blocked": false,
		"thumbnail": "", "additional_attributes": map[string]any{}, "custom_attributes": map[string]any{}, "availability_status": "offline",
		"created_at": 1795515159, "contact_inboxes": cis}
}

func (c *Chatwoot) createConversation(in map[string]any) (int, any) {
	contact := c.contact(strconv.Itoa(num(in["contact_id"])))
	if contact == nil {
		return 404, c.errorBody("not_found_404")
	}
	if str(in["source_id"]) == "" {
		return 422, map[string]any{"error": "source_id: required"}
	}
	attrs, _ := in["additional_attributes"].(map[string]any)
	cv := &Conversation{ID: c.id(), ContactID: contact.ID, InboxID: num(in["inbox_id"]), TeamID: num(in["team_id"]), SourceID: str(in["source_id"]),
		Status: "open", Attributes: attrs}
	if s := str(in["status"]); s != "" {
		cv.Status = s
	}
	c.convs[cv.ID] = cv
	return 200, c.convJSON(cv)
}

func (c *Chatwoot) convJSON(cv *Conversation) map[string]any {
	out := FixtureMap(c.tb, "create_conversation_response_source.json")
	out["id"], out["inbox_id"], out["status"], out["additional_attributes"] = cv.ID, cv.InboxID, cv.Status, cv.Attributes
	meta := out["meta"].(map[string]any)
	if k := c.contact(strconv.Itoa(cv.ContactID)); k != nil {
		meta["sender"] = c.contactJSON(k)
	}
	if cv.TeamID == 0 {
		meta["team"] = nil
	}
	return out
}

func (c *Chatwoot) createMessage(cv *Conversation, in map[string]any) (int, any) {
	typ := 1
	switch str(in["message_type"]) {
	case "incoming":
		if c.NotAPIInbox {
			return 422, c.errorBody("could_not_create_422")
		}
		typ = 0
	case "outgoing", "":
	default:
		return 422, map[string]any{"error": "message_type is not valid"}
	}
	m := &Message{ID: c.id(), Content: str(in["content"]), Type: typ, Private: in["private"] == true, SenderType: "User", SenderName: "Tandem"}
	if typ == 0 {
		m.SenderType, m.SenderName = "Contact", "Bob"
	}
	cv.Messages = append(cv.Messages, m)
	c.queueMessageHook(cv, m)
	out := FixtureMap(c.tb, "create_message_response_docs.json")
	out["id"], out["content"], out["inbox_id"], out["conversation_id"], out["message_type"], out["private"] = m.ID, m.Content, cv.InboxID, cv.ID, typ, m.Private
	out["created_at"] = c.Now().Unix()
	return 200, out
}

func (c *Chatwoot) messageJSON(cv *Conversation, m *Message) map[string]any {
	sender := map[string]any{"id": 3, "name": m.SenderName, "available_name": m.SenderName, "type": strings.ToLower(m.SenderType)}
	if m.SenderType == "AgentBot" {
		sender["type"] = "agent_bot"
	}
	out := map[string]any{"id": m.ID, "content": m.Content, "account_id": c.Account, "inbox_id": cv.InboxID, "conversation_id": cv.ID,
		"message_type": m.Type, "private": m.Private, "status": "sent", "content_type": "text", "content_attributes": map[string]any{},
		"sender_type": m.SenderType, "created_at": c.Now().Unix(), "sender": sender}
	if m.SenderType == "" {
		out["sender_type"] = nil
		delete(out, "sender")
	}
	if len(m.Attachments) > 0 {
		var atts []any
		for i, u := range m.Attachments {
			atts = append(atts, map[string]any{"id": 500 + i, "message_id": m.ID, "file_type": "image", "account_id": c.Account, "data_url": u, "thumb_url": u})
		}
		out["attachments"] = atts
	}
	return out
}

// ---- webhooks ----

var messageTypes = map[int]string{0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}

// messageHook is the message_created webhook of m (the fixture's shape).
func (c *Chatwoot) messageHook(cv *Conversation, m *Message) []byte {
	h := FixtureMap(c.tb, "webhook_message_created_agent_reply_source.json")
	h["id"], h["content"], h["message_type"], h["private"] = m.ID, m.Content, messageTypes[m.Type], m.Private
	h["created_at"] = c.Now().UTC().Format(time.RFC3339Nano)
	h["inbox"] = map[string]any{"id": cv.InboxID, "name": "Tandem"}
	h["sender"] = map[string]any{"id": 3, "name": m.SenderName, "email": "ana@acme.com", "type": strings.ToLower(m.SenderType)}
	if m.SenderType == "AgentBot" {
		h["sender"].(map[string]any)["type"] = "agent_bot"
	}
	conv := h["conversation"].(map[string]any)
	conv["id"], conv["inbox_id"], conv["status"], conv["additional_attributes"] = cv.ID, cv.InboxID, cv.Status, cv.Attributes
	conv["messages"] = []any{c.messageJSON(cv, m)}
	if len(m.Attachments) > 0 {
		h["attachments"] = c.messageJSON(cv, m)["attachments"]
	}
	b, _ := json.Marshal(h)
	return b
}

// statusHook is the conversation_status_changed webhook of cv (the fixture's shape).
func (c *Chatwoot) statusHook(cv *Conversation) []byte {
	h := FixtureMap(c.tb, "webhook_conversation_status_changed_resolved_source.json")
	h["id"], h["inbox_id"], h["status"], h["additional_attributes"] = cv.ID, cv.InboxID, cv.Status, cv.Attributes
	b, _ := json.Marshal(h)
	return b
}

func (c *Chatwoot) queueMessageHook(cv *Conversation, m *Message) {
	c.pending = append(c.pending, pendingHook{body: c.messageHook(cv, m)})
}

func (c *Chatwoot) queueStatusHook(cv *Conversation) {
	c.pending = append(c.pending, pendingHook{body: c.statusHook(cv)})
}

// Deliver posts a webhook body to Hook as Chatwoot does (signed when Secret is set) and
// returns Tandem's status.
func (c *Chatwoot) Deliver(tb testing.TB, body []byte) int {
	tb.Helper()
	status, _ := desktest.Post(tb, c.client(), c.Hook, c.SignedHeader(body), body)
	c.mu.Lock()
	c.answers = append(c.answers, status)
	c.mu.Unlock()
	return status
}

// SignedHeader is the header Chatwoot sends with a body: the signature headers when Secret is
// set, dated Now, and a delivery id.
func (c *Chatwoot) SignedHeader(body []byte) http.Header {
	h := http.Header{"Content-Type": {"application/json"}, chatwoot.HeaderDelivery: {fmt.Sprintf("dlv-%d", time.Now().UnixNano())}}
	if c.Secret != "" {
		ts := strconv.FormatInt(c.Now().Unix(), 10)
		h.Set(chatwoot.HeaderTimestamp, ts)
		h.Set(chatwoot.HeaderSignature, chatwoot.Sign(c.Secret, ts, body))
	}
	return h
}

func (c *Chatwoot) client() *http.Client {
	if c.HookClient != nil {
		return c.HookClient
	}
	return &http.Client{Timeout: 5 * time.Second}
}

// Flush posts the webhooks of what Tandem did (its notes, its incoming messages, its resolves)
// and returns Tandem's answers.
func (c *Chatwoot) Flush(tb testing.TB) []int {
	tb.Helper()
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	var out []int
	for _, p := range pending {
		out = append(out, c.Deliver(tb, p.body))
	}
	return out
}

// Drop forgets the queued webhooks (Chatwoot never retries a lost one).
func (c *Chatwoot) Drop() {
	c.mu.Lock()
	c.pending = nil
	c.mu.Unlock()
}

// AgentReply stores an agent's reply (with attachment URLs) in the conversation and returns
// its id and the webhook body Chatwoot would post; deliver it with Deliver (or lose it).
func (c *Chatwoot) AgentReply(conv int, text string, attachments ...string) (int, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cv := c.convs[conv]
	if cv == nil {
		c.tb.Fatalf("fake chatwoot: no conversation %d", conv)
	}
	m := &Message{ID: c.id(), Content: text, Type: 1, SenderType: "User", SenderName: "Ana Souza", Attachments: attachments}
	cv.Messages = append(cv.Messages, m)
	return m.ID, c.messageHook(cv, m)
}

// Add stores a message of any kind (a bot's, a template, a note) and returns its webhook body.
func (c *Chatwoot) Add(conv int, m Message) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	cv := c.convs[conv]
	m.ID = c.id()
	cv.Messages = append(cv.Messages, &m)
	return c.messageHook(cv, &m)
}

// Resolve resolves the conversation as an agent and returns the webhook body.
func (c *Chatwoot) Resolve(conv int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	cv := c.convs[conv]
	cv.Status = "resolved"
	return c.statusHook(cv)
}

// Delete deletes the conversation.
func (c *Chatwoot) Delete(conv int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.convs, conv)
}

// Conversations returns the conversations, oldest first (copies).
func (c *Chatwoot) Conversations() []Conversation {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Conversation
	for _, cv := range c.sortedConvs() {
		cp := *cv
		cp.Messages = nil
		for _, m := range cv.Messages {
			mc := *m
			cp.Messages = append(cp.Messages, &mc)
		}
		out = append(out, cp)
	}
	return out
}

// Contacts returns the contacts (copies).
func (c *Chatwoot) Contacts() []Contact {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Contact
	for _, k := range c.contacts {
		out = append(out, *k)
	}
	return out
}

// AddContact stores a contact as if created in Chatwoot beforehand.
func (c *Chatwoot) AddContact(k Contact) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	k.ID = c.id()
	if k.SourceIDs == nil {
		k.SourceIDs = map[int]string{}
	}
	c.contacts = append(c.contacts, &k)
	return k.ID
}

// Answers returns Tandem's answers to the webhooks delivered so far.
func (c *Chatwoot) Answers() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.answers...)
}
