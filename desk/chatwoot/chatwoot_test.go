package chatwoot_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/desk/chatwoot"
	"github.com/tandemchat/tandem/desk/chatwoot/chatwoottest"
	"github.com/tandemchat/tandem/desk/desktest"
)

const (
	apiToken     = "cw-api-token-do-not-leak-0123"
	hookSecret   = "Uq8vT3nR6yJ2pK9wZ4cX7mB1"
	hookToken    = "cw-hook-token-0123456789-abcdefgh"
	agentReplyQ1 = "Hi Bob, this is Ana from Acme."
)

// harness is a Tandem whose desk "desk" is a fake Chatwoot.
type harness struct {
	*desktest.Env
	cw *chatwoottest.Chatwoot
}

// newHarness configures the desk with the signing secret (signed) or the URL token.
func newHarness(t *testing.T, signed bool, extra string) *harness {
	t.Helper()
	cw := chatwoottest.New(t, apiToken)
	entry := `{id: desk, kind: chatwoot, base_url: "` + cw.URL + `", account_id: 1, inbox_id: 7, api_token: "${CW_TOKEN}", timeout: 2s`
	if signed {
		entry += `, webhook_secret: "${CW_SECRET}"`
	} else {
		entry += `, webhook_token: "${CW_HOOK}"`
	}
	entry += extra + "}"
	e := desktest.NewEnv(t, desktest.Options{Desks: []string{"- " + entry}, HTTP: cw.Client(),
		Vars: map[string]string{"CW_TOKEN": apiToken, "CW_SECRET": hookSecret, "CW_HOOK": hookToken}})
	cw.Now = e.Clock.Now
	cw.Hook = e.URL("/hooks/chatwoot/desk")
	if signed {
		cw.Secret = hookSecret
	} else {
		cw.Hook += "?token=" + hookToken
	}
	return &harness{Env: e, cw: cw}
}

// handoff brings bob's conversation to an open handoff and returns it with its Chatwoot id.
func (h *harness) handoff(user string) (string, int) {
	h.T.Helper()
	conv := h.Customer(user, "", user+"-1", desktest.Question1)
	h.Customer(user, "", user+"-2", desktest.Question2)
	convs := h.cw.Conversations()
	if len(convs) == 0 {
		h.T.Fatalf("no Chatwoot conversation; the customer got %q", h.View(conv))
	}
	return conv, convs[len(convs)-1].ID
}

func TestHandoffOpensAConversationWithTheTranscript(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	conv, id := h.handoff("bob")
	cvs := h.cw.Conversations()
	if len(cvs) != 1 {
		t.Fatalf("%d conversations, want 1", len(cvs))
	}
	cv := cvs[0]
	if cv.Status != "open" || cv.InboxID != 7 || cv.TeamID != 2 || cv.Attributes["tandem_handoff_id"] != h.HandoffSession(conv) {
		t.Errorf("conversation %+v", cv)
	}
	if len(cv.Messages) != 2 {
		t.Fatalf("messages %d, want the note and the question", len(cv.Messages))
	}
	note, q := cv.Messages[0], cv.Messages[1]
	if !note.Private || note.Type != 1 || !strings.Contains(note.Content, "Customer: "+desktest.Question1) ||
		!strings.Contains(note.Content, "Bot: "+desktest.TextReply) || !strings.Contains(note.Content, "Customer: "+desktest.Question2) {
		t.Errorf("transcript note %+v", note)
	}
	if q.Private || q.Type != 0 || q.Content != desktest.Question2 {
		t.Errorf("question %+v", q)
	}
	ks := h.cw.Contacts()
	if len(ks) != 1 || ks[0].Ident == "" || ks[0].Name != "bob" {
		t.Errorf("contacts %+v", ks)
	}
	// Tandem's own messages come back on the inbox webhook: each answered 200 (never failed).
	for _, s := range h.cw.Flush(t) {
		if s != http.StatusOK {
			t.Errorf("Tandem answered %d to the echo of its own message", s)
		}
	}
	h.Drain()
	if got := h.View(conv); slices.Contains(got, "agent: "+desktest.Question2) {
		t.Errorf("an echo reached the customer: %q", got)
	}

	// A second handoff of the same contact reuses the contact and opens another conversation.
	_, s := h.cw.AgentReply(id, agentReplyQ1)
	if got := h.cw.Deliver(t, s); got != http.StatusOK {
		t.Fatalf("reply: %d", got)
	}
	if got := h.cw.Deliver(t, h.cw.Resolve(id)); got != http.StatusOK {
		t.Fatalf("resolve: %d", got)
	}
	h.Drain()
	h.Customer("bob", "", "bob-3", "hello again")
	h.Customer("bob", "", "bob-4", "human again please")
	if got := len(h.cw.Contacts()); got != 1 {
		t.Errorf("%d contacts after a second handoff, want 1", got)
	}
	if got := len(h.cw.Conversations()); got != 2 {
		t.Errorf("%d conversations after a second handoff, want 2", got)
	}
	if n := len(h.cw.Requests("GET /api/v1/accounts/1/contacts/search")); n != 1 {
		t.Errorf("contacts searched %d times, want once (then remembered)", n)
	}
}

// Agent replies (with attachments) reach the customer once though delivered by two webhooks
// and the poll; notes, templates, bots and echoes never do; a resolve closes the handoff.
func TestAgentRepliesWebhookAndPoll(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	conv, id := h.handoff("bob")
	h.cw.Drop()
	_, body := h.cw.AgentReply(id, agentReplyQ1)
	for range 2 {
		if got := h.cw.Deliver(t, body); got != http.StatusOK {
			t.Fatalf("agent reply: %d", got)
		}
	}
	h.cw.Add(id, chatwoottest.Message{Content: "internal note", Type: 1, Private: true, SenderType: "User", SenderName: "Ana"})
	h.cw.Add(id, chatwoottest.Message{Content: "Rate us!", Type: 3, SenderType: "", SenderName: ""})
	bot := h.cw.Add(id, chatwoottest.Message{Content: "I am a bot", Type: 1, SenderType: "AgentBot", SenderName: "Captain"})
	if got := h.cw.Deliver(t, bot); got != http.StatusOK {
		t.Errorf("bot message: %d, want 200 (ignored)", got)
	}
	// A reply whose webhook is lost is found by the poll, with its attachment.
	h.cw.AgentReply(id, "Please fill in this form.", "https://chat.acme.com/f/form.png")
	if err := h.Desks["desk"].(desk.Poller).Poll(h.Ctx); err != nil {
		t.Fatal(err)
	}
	h.Drain()
	got := h.View(conv)
	want := []string{"bot: An agent has joined the conversation.", "agent: " + agentReplyQ1, "agent: Please fill in this form. [https://chat.acme.com/f/form.png]"}
	i := slices.Index(got, want[0])
	if i < 0 || len(got) < i+3 || !slices.Equal(got[i:i+3], want) {
		t.Errorf("customer got %q, want them to end with %q", got, want)
	}
	for _, s := range got {
		if strings.Contains(s, "internal note") || strings.Contains(s, "Rate us") || strings.Contains(s, "I am a bot") {
			t.Errorf("customer got %q", s)
		}
	}
	if c := h.Conversation(conv); c["assignee"] != "Ana Souza" {
		t.Errorf("assignee %v", c["assignee"])
	}
	// The resolve's webhook is lost too: the poll finds it.
	h.cw.Resolve(id)
	if err := h.Desks["desk"].(desk.Poller).Poll(h.Ctx); err != nil {
		t.Fatal(err)
	}
	h.Drain()
	if got := h.View(conv); got[len(got)-1] != "bot: "+desktest.TextBack {
		t.Errorf("after the resolve the customer got %q", got)
	}
	// A late reply on the closed handoff is refused (Chatwoot marks it failed).
	_, late := h.cw.AgentReply(id, "one more thing")
	if got := h.cw.Deliver(t, late); got != http.StatusConflict {
		t.Errorf("a reply after the resolve: %d, want 409", got)
	}
	// The poll no longer reads the closed handoff.
	before := len(h.cw.Requests(""))
	h.Desks["desk"].(desk.Poller).Poll(h.Ctx)
	if after := len(h.cw.Requests("")); after != before {
		t.Errorf("the poll read a closed handoff (%d requests)", after-before)
	}
}

// The customer's messages go in as incoming messages; /end leaves a note and resolves, and the
// echo of that resolve changes nothing.
func TestCustomerMessagesAndEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	conv, id := h.handoff("bob")
	for i, text := range []string{"order 123", "it is late", "thanks"} {
		h.Customer("bob", "", "bob-m"+string(rune('a'+i)), text)
	}
	var in []string
	for _, m := range h.cw.Conversations()[0].Messages {
		if m.Type == 0 {
			in = append(in, m.Content)
		}
	}
	if want := []string{desktest.Question2, "order 123", "it is late", "thanks"}; !slices.Equal(in, want) {
		t.Errorf("incoming %q, want %q", in, want)
	}
	h.Customer("bob", "", "bob-end", "/end")
	cv := h.cw.Conversations()[0]
	if cv.Status != "resolved" {
		t.Errorf("status %q, want resolved", cv.Status)
	}
	last := cv.Messages[len(cv.Messages)-1]
	if !last.Private || !strings.Contains(last.Content, "USER_CLOSED") {
		t.Errorf("closing note %+v", last)
	}
	for _, s := range h.cw.Flush(t) {
		if s != http.StatusOK {
			t.Errorf("echo answered %d", s)
		}
	}
	h.Drain()
	if got := h.View(conv); got[len(got)-1] != "bot: "+desktest.TextBye {
		t.Errorf("customer got %q", got)
	}
	_ = id
}

// Webhook authentication: the signature of "<timestamp>.<body>" within 5 minutes, else 401
// and nothing stored; the fixture's vector verifies and its body-only digest does not.
func TestWebhookSignature(t *testing.T) {
	t.Parallel()
	vec := chatwoottest.FixtureMap(t, "webhook_signature_vector_source.json")
	headers := vec["headers"].(map[string]any)
	if got := chatwoot.Sign(vec["secret"].(string), headers["X-Chatwoot-Timestamp"].(string), []byte(vec["raw_body"].(string))); got != headers["X-Chatwoot-Signature"] {
		t.Errorf("Sign = %s, want the fixture's %s", got, headers["X-Chatwoot-Signature"])
	}
	if got := chatwoot.Sign(vec["secret"].(string), headers["X-Chatwoot-Timestamp"].(string), []byte(vec["raw_body"].(string))); got == vec["signature_of_body_only_must_not_match"] {
		t.Error("the body-only digest matched")
	}
	h := newHarness(t, true, "")
	conv, id := h.handoff("bob")
	before := h.View(conv)
	_, body := h.cw.AgentReply(id, agentReplyQ1)
	post := func(hdr http.Header, b []byte) int {
		s, _ := desktest.Post(t, h.Server.Client(), h.cw.Hook, hdr, b)
		return s
	}
	good := h.cw.SignedHeader(body)
	stale := h.cw.SignedHeader(body)
	old := "1700000000"
	stale.Set(chatwoot.HeaderTimestamp, old)
	stale.Set(chatwoot.HeaderSignature, chatwoot.Sign(hookSecret, old, body))
	wrong := h.cw.SignedHeader(body)
	wrong.Set(chatwoot.HeaderSignature, chatwoot.Sign("another-secret-0123456789", wrong.Get(chatwoot.HeaderTimestamp), body))
	bodyOnly := h.cw.SignedHeader(body)
	bodyOnly.Del(chatwoot.HeaderTimestamp)
	for name, hdr := range map[string]http.Header{"stale timestamp": stale, "wrong secret": wrong, "no timestamp": bodyOnly, "none": {}} {
		if got := post(hdr, body); got != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, got)
		}
	}
	tampered := []byte(strings.Replace(string(body), "Ana from Acme", "Eve from Evil", 1))
	if got := post(good, tampered); got != http.StatusUnauthorized {
		t.Errorf("a tampered body: %d, want 401", got)
	}
	h.Drain()
	if got := h.View(conv); !slices.Equal(got, before) {
		t.Errorf("refused webhooks changed the conversation: %q", got)
	}
	if got := post(h.cw.SignedHeader([]byte("{not json")), []byte("{not json")); got != http.StatusBadRequest {
		t.Errorf("malformed: %d, want 400", got)
	}
	if got := post(h.cw.SignedHeader([]byte(`{"id":1}`)), []byte(`{"id":1}`)); got != http.StatusBadRequest {
		t.Errorf("no event: %d, want 400", got)
	}
	if got := post(good, body); got != http.StatusOK {
		t.Errorf("good: %d, want 200", got)
	}
}

// Chatwoot's webhooks are answered in the shape and with the texts of the contract's table:
// {"error": "<text>"} for a refusal, {"ok": true} otherwise (real payloads from Chatwoot's
// source).
func TestWebhookAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	conv, id := h.handoff("bob")
	// The fixture is an agent's reply in Chatwoot conversation 118 of inbox 7: not a handoff.
	reply := chatwoottest.Fixture(t, "webhook_message_created_agent_reply_source.json")
	resolved := chatwoottest.Fixture(t, "webhook_conversation_status_changed_resolved_source.json")
	_, late := h.cw.AgentReply(id, "one more thing")
	big := []byte(`{"event":"message_created","content":"` + strings.Repeat("a", desk.MaxHookBody) + `"}`)
	hook := h.cw.Hook
	cases := []struct {
		name   string
		url    string
		header http.Header
		body   []byte
		status int
		want   string
	}{
		{"no signature", hook, http.Header{}, reply, http.StatusUnauthorized, `{"error":"unauthorized"}`},
		{"not JSON", hook, h.cw.SignedHeader([]byte("{not json")), []byte("{not json"), http.StatusBadRequest, `{"error":"event: required"}`},
		{"no event", hook, h.cw.SignedHeader([]byte(`{"id":1}`)), []byte(`{"id":1}`), http.StatusBadRequest, `{"error":"event: required"}`},
		{"unknown desk", h.URL("/hooks/chatwoot/nope"), h.cw.SignedHeader(reply), reply, http.StatusNotFound, `{"error":"unknown desk"}`},
		{"too large", hook, h.cw.SignedHeader(big), big, http.StatusRequestEntityTooLarge, `{"error":"too large"}`},
		{"a reply in a conversation Tandem does not know", hook, h.cw.SignedHeader(reply), reply, http.StatusNotFound, `{"error":"unknown conversation"}`},
		{"an ignored event", hook, h.cw.SignedHeader(resolved), resolved, http.StatusOK, `{"ok":true}`},
	}
	for _, c := range cases {
		s, b := desktest.Post(t, h.Server.Client(), c.url, c.header, c.body)
		if got := strings.TrimSpace(string(b)); s != c.status || got != c.want {
			t.Errorf("%s: %d %s, want %d %s", c.name, s, got, c.status, c.want)
		}
	}
	if got := h.cw.Deliver(t, h.cw.Resolve(id)); got != http.StatusOK {
		t.Fatalf("resolve: %d", got)
	}
	h.Drain()
	s, b := desktest.Post(t, h.Server.Client(), hook, h.cw.SignedHeader(late), late)
	if got := strings.TrimSpace(string(b)); s != http.StatusConflict || got != `{"error":"handoff is closed"}` {
		t.Errorf("a reply after the resolve: %d %s, want 409 {\"error\":\"handoff is closed\"} (conversation %s)", s, got, conv)
	}
}

func TestWebhookToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	conv, id := h.handoff("bob")
	_, body := h.cw.AgentReply(id, agentReplyQ1)
	for _, q := range []string{"", "?token=wrong", "?token=" + hookToken[:10]} {
		if s, _ := desktest.Post(t, h.Server.Client(), h.URL("/hooks/chatwoot/desk"+q), nil, body); s != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", q, s)
		}
	}
	if got := h.cw.Deliver(t, body); got != http.StatusOK {
		t.Errorf("good token: %d", got)
	}
	h.Drain()
	if got := h.View(conv); !slices.Contains(got, "agent: "+agentReplyQ1) {
		t.Errorf("customer got %q", got)
	}
	if strings.Contains(h.Logs.String(), hookToken) || strings.Contains(h.Logs.String(), apiToken) {
		t.Error("a credential was logged")
	}
}

// A duplicate e-mail (422) leads to the existing contact; a lost answer to the creation of a
// message does not duplicate it; a 401 makes the desk Unavailable, so the next handoff takes
// on_unavailable.
func TestContactReuseLostAnswersAndUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	existing := h.cw.AddContact(chatwoottest.Contact{Name: "Robert", Email: "bob@example.com"})
	conv := h.Customer("bob", "bob@example.com", "b1", desktest.Question1)
	h.cw.Script("POST /api/v1/accounts/1/conversations/*/messages", desktest.Reply{}, desktest.Reply{Hangup: true, Handled: true})
	h.Customer("bob", "bob@example.com", "b2", desktest.Question2)
	cvs := h.cw.Conversations()
	if len(cvs) != 1 || cvs[0].ContactID != existing {
		t.Fatalf("conversations %+v, want one of contact %d", cvs, existing)
	}
	if got := h.cw.Contacts(); len(got) != 1 || got[0].Ident == "" {
		t.Errorf("contacts %+v: want the existing one, given Tandem's identifier", got)
	}
	n := 0
	for _, m := range cvs[0].Messages {
		if m.Type == 0 && m.Content == desktest.Question2 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the question is in Chatwoot %d times, want 1", n)
	}
	_ = conv

	h.cw.Token = "revoked"
	d := h.Desks["desk"].(*chatwoot.Desk)
	h.Clock.Advance(2 * chatwoot.HealthMaxAge)
	other := h.Customer("eve", "", "e1", desktest.Question1)
	h.Customer("eve", "", "e2", desktest.Question2)
	if got := h.View(other); got[len(got)-1] != "bot: "+desktest.TextSorry {
		t.Errorf("with a revoked token the customer got %q", got)
	}
	if d.Status() != desk.StatusUnavailable {
		t.Errorf("status %s", d.Status())
	}
	if strings.Contains(h.Logs.String(), apiToken) || strings.Contains(h.Logs.String(), "revoked\"") {
		t.Error("a token was logged")
	}
}

// Chatwoot's 429 and 5xx are retried, honouring Retry-After.
func TestRetries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	h.cw.Script("POST /api/v1/accounts/1/conversations", desktest.Reply{Status: 429, Header: map[string]string{"Retry-After": "4"}}, desktest.Reply{Status: 502})
	h.handoff("bob")
	if n := len(h.cw.Requests("POST /api/v1/accounts/1/conversations")); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if s := h.Sleeps(); len(s) < 2 || s[0] < 4*time.Second {
		t.Errorf("waits %v, want the first to honour Retry-After: 4", s)
	}
}

func TestNotConfigured(t *testing.T) {
	t.Parallel()
	d, err := chatwoot.New(desk.Config{ID: "cw", Kind: "chatwoot"}, desk.Deps{Store: desktest.NewEnv(t, desktest.Options{Flows: []string{}}).DB})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status() != desk.StatusNotConfigured || d.Health(t.Context()) == nil {
		t.Errorf("status %s", d.Status())
	}
}

// Chatwoot's search may miss a contact another process just created: the 422 of the creation
// leads to it.
func TestContactCreateConflict(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	existing := h.cw.AddContact(chatwoottest.Contact{Name: "Robert", Email: "bob@example.com", SourceIDs: map[int]string{7: "src-x"}})
	empty := desktest.Reply{Status: 200, Body: `{"meta":{"count":0},"payload":[]}`}
	h.cw.Script("GET /api/v1/accounts/1/contacts/search", empty, empty)
	h.Customer("bob", "bob@example.com", "b1", desktest.Question1)
	h.Customer("bob", "bob@example.com", "b2", desktest.Question2)
	if n := len(h.cw.Requests("POST /api/v1/accounts/1/contacts")); n != 1 {
		t.Errorf("%d creations, want 1 (answered 422)", n)
	}
	if cvs := h.cw.Conversations(); len(cvs) != 1 || cvs[0].ContactID != existing || cvs[0].SourceID != "src-x" {
		t.Errorf("conversations %+v, want one of contact %d", cvs, existing)
	}
}

// Chatwoot's ids are numbers; a webhook that writes them as strings of digits reads the same
// (it was answered 400 "the body is not a JSON object"), and ids above 2^31 keep their value.
func TestWebhookIDsAsStrings(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	conv, id := h.handoff("bob")
	post := func(body string) {
		t.Helper()
		if s, b := desktest.Post(t, h.Server.Client(), h.cw.Hook, nil, []byte(body)); s != http.StatusOK {
			t.Errorf("%d %s for %s", s, b, body)
		}
	}
	cid := strconv.Itoa(id)
	post(`{"event":"message_created","id":"3000000001","content":"Ids as strings","message_type":"outgoing","private":false,` +
		`"sender":{"id":"3","name":"Ana","type":"user"},"conversation":{"id":"` + cid + `","inbox_id":"7"},"inbox":{"id":"7","name":"Tandem"},"attachments":[]}`)
	post(`{"event":"message_created","id":3000000001,"content":"Ids as strings","message_type":"outgoing","private":false,` +
		`"sender":{"id":3,"name":"Ana","type":"user"},"conversation":{"id":` + cid + `,"inbox_id":7},"inbox":{"id":7,"name":"Tandem"},"attachments":[]}`)
	post(`{"event":"conversation_status_changed","id":"` + cid + `","inbox_id":"7","status":"resolved"}`)
	h.Drain()
	got := h.View(conv)
	n := 0
	for _, s := range got {
		if s == "agent: Ids as strings" {
			n++
		}
	}
	if n != 1 || got[len(got)-1] != "bot: "+desktest.TextBack {
		t.Errorf("the customer got %q, want the reply once, then the resolve", got)
	}
}
