package intercom_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/desk/desktest"
	"github.com/tandemchat/tandem/desk/intercom"
	"github.com/tandemchat/tandem/desk/intercom/intercomtest"
)

const (
	accessToken  = "ic-access-token-do-not-leak-0123"
	clientSecret = "client-secret-123"
)

type harness struct {
	*desktest.Env
	ic *intercomtest.Intercom
}

func newHarness(t *testing.T, extra string) *harness {
	t.Helper()
	ic := intercomtest.New(t, accessToken, clientSecret)
	entry := `- {id: desk, kind: intercom, base_url: "` + ic.URL + `", access_token: "${IC_TOKEN}", client_secret: "${IC_SECRET}", team_id: "5017691", timeout: 2s` + extra + `}`
	e := desktest.NewEnv(t, desktest.Options{Desks: []string{entry}, HTTP: ic.Client(), Vars: map[string]string{"IC_TOKEN": accessToken, "IC_SECRET": clientSecret}})
	ic.Now = e.Clock.Now
	ic.Hook = e.URL("/hooks/intercom/desk")
	return &harness{Env: e, ic: ic}
}

// handoff brings user's conversation to an open handoff and returns it with its Intercom id.
func (h *harness) handoff(user, email string) (string, string) {
	h.T.Helper()
	conv := h.Customer(user, email, user+"-1", desktest.Question1)
	h.Customer(user, email, user+"-2", desktest.Question2)
	cvs := h.ic.Conversations()
	if len(cvs) == 0 {
		h.T.Fatalf("no Intercom conversation; the customer got %q", h.View(conv))
	}
	return conv, cvs[len(cvs)-1].ID
}

func TestHandoff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	conv, id := h.handoff("bob", "bob@example.com")
	ks := h.ic.Contacts()
	if len(ks) != 1 || ks[0].Role != "user" || ks[0].Email != "bob@example.com" || ks[0].ExternalID != "u-bob" || ks[0].Name != "bob" {
		t.Errorf("contacts %+v", ks)
	}
	cv := h.ic.Conversations()[0]
	if cv.ContactID != ks[0].ID || !cv.Open || len(cv.Parts) != 3 {
		t.Fatalf("conversation %+v", cv)
	}
	first, note, assign := cv.Parts[0], cv.Parts[1], cv.Parts[2]
	if first.Body != desktest.Question2 || first.AuthorType != "user" {
		t.Errorf("the conversation opens with %+v, want the customer's latest question", first)
	}
	if note.Type != "note" || note.AuthorID != "991267459" || !strings.Contains(note.Body, "<b>Customer:</b> "+desktest.Question1) ||
		!strings.Contains(note.Body, "<b>Bot:</b> "+desktest.TextReply) {
		t.Errorf("transcript note %+v", note)
	}
	if assign.Type != "assignment" || assign.AssigneeID != "5017691" || assign.AssigneeType != "team" {
		t.Errorf("assignment %+v", assign)
	}
	for _, r := range h.ic.Requests("") {
		if r.Header.Get("Intercom-Version") != "2.16" || r.Header.Get("Authorization") != "Bearer "+accessToken {
			t.Errorf("%s without the version or the token", r.Route())
		}
	}
	// The customer's messages go in as the contact's replies, in order.
	for i, text := range []string{"order 123", "it is late"} {
		h.Customer("bob", "bob@example.com", "bob-m"+strconv.Itoa(i), text)
	}
	var replies []string
	for _, p := range h.ic.Conversations()[0].Parts {
		if p.AuthorType == "user" && p.Type == "comment" {
			replies = append(replies, p.Body)
		}
	}
	if want := []string{desktest.Question2, "order 123", "it is late"}; !slices.Equal(replies, want) {
		t.Errorf("replies %q, want %q", replies, want)
	}
	// An admin replies (HTML); the customer gets the text, after the connected text.
	if s := h.ic.Deliver(t, h.ic.AdminReply(id, `<p class="no-margin">Hi Bob,<br><br><b>Ana</b> here &amp; <a href="https://acme.com/r">the form</a></p>`)); s != 200 {
		t.Fatalf("reply: %d", s)
	}
	h.Drain()
	got := h.View(conv)
	if want := []string{"bot: An agent has joined the conversation.", "agent: Hi Bob,\n\nAna here & the form (https://acme.com/r)"}; !slices.Equal(got[len(got)-2:], want) {
		t.Errorf("customer got %q, want it to end with %q", got, want)
	}
	if c := h.Conversation(conv); c["assignee"] != "Ana" {
		t.Errorf("assignee %v, want Ana", c["assignee"])
	}
	// The customer ends: a note with the reason, then the conversation closed; the close's
	// echo changes nothing.
	h.Customer("bob", "bob@example.com", "bob-end", "/end")
	cv = h.ic.Conversations()[0]
	last := cv.Parts[len(cv.Parts)-1]
	if cv.Open || last.Type != "close" || !strings.Contains(cv.Parts[len(cv.Parts)-2].Body, "USER_CLOSED") {
		t.Errorf("after /end: open %v, last parts %+v %+v", cv.Open, cv.Parts[len(cv.Parts)-2], last)
	}
	echo := h.ic.Add(id, "conversation.admin.closed", *last)
	if s := h.ic.Deliver(t, echo); s != 200 {
		t.Errorf("echo of Tandem's close: %d", s)
	}
	h.Drain()
	if got := h.View(conv); got[len(got)-1] != "bot: "+desktest.TextBye {
		t.Errorf("customer got %q", got)
	}
}

// Webhooks: only admins' replies and closes reach the customer, once; the signature is over
// the raw bytes; what Tandem does not use is answered 200.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	conv, id := h.handoff("bob", "bob@example.com")
	post := func(body []byte, hdr http.Header) int {
		s, _ := desktest.Post(t, h.Server.Client(), h.ic.Hook, hdr, body)
		return s
	}
	// HEAD at setup, ping.
	req, _ := http.NewRequest(http.MethodHead, h.ic.Hook, nil)
	if resp, err := h.Server.Client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("HEAD: %v %v", resp, err)
	}
	if s := h.ic.Deliver(t, h.ic.Ping()); s != 200 {
		t.Errorf("ping: %d", s)
	}
	reply := h.ic.AdminReply(id, "Plain text from Ana") // API version 2.15+ sends plain text
	// Bad signatures: none, wrong key, over a re-serialised body.
	var m map[string]any
	json.Unmarshal(reply, &m)
	reserialised, _ := json.MarshalIndent(m, "", " ")
	for name, c := range map[string]struct {
		body []byte
		hdr  http.Header
	}{
		"no signature":  {reply, http.Header{}},
		"wrong key":     {reply, http.Header{intercom.HeaderSignature: {intercom.Sign("another-secret", reply)}}},
		"re-serialised": {reserialised, http.Header{intercom.HeaderSignature: {intercom.Sign(clientSecret, reply)}}},
	} {
		if s := post(c.body, c.hdr); s != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, s)
		}
	}
	h.Drain()
	if got := h.View(conv); slices.Contains(got, "agent: Plain text from Ana") {
		t.Fatalf("a refused webhook reached the customer: %q", got)
	}
	if s := post([]byte("{not json"), h.ic.Header([]byte("{not json"))); s != http.StatusBadRequest {
		t.Errorf("malformed: %d, want 400", s)
	}
	if s := post([]byte(`{"type":"list"}`), h.ic.Header([]byte(`{"type":"list"}`))); s != http.StatusBadRequest {
		t.Errorf("not a notification: %d, want 400", s)
	}
	for range 2 {
		if s := h.ic.Deliver(t, reply); s != 200 {
			t.Errorf("reply: %d", s)
		}
	}
	ignored := [][]byte{
		h.ic.Add(id, "conversation.admin.replied", intercomtest.Part{Type: "comment", Body: "<p>I am Fin</p>", AuthorType: "bot", AuthorID: "278", AuthorName: "Fin"}),
		h.ic.Add(id, "conversation.admin.replied", intercomtest.Part{Type: "comment", Body: "<p>AI answer</p>", AuthorType: "admin", AuthorID: "278", AuthorName: "Fin", FromAIAgent: true}),
		h.ic.Add(id, "conversation.admin.noted", intercomtest.Part{Type: "note", Body: "<p>internal</p>", AuthorType: "admin", AuthorID: "814860", AuthorName: "Ana"}),
		h.ic.Add(id, "conversation.admin.snoozed", intercomtest.Part{Type: "snoozed", AuthorType: "admin", AuthorID: "814860", AuthorName: "Ana"}),
	}
	for _, b := range ignored {
		if s := h.ic.Deliver(t, b); s != 200 {
			t.Errorf("ignored part: %d", s)
		}
	}
	// Another workspace, and a conversation that is not a handoff.
	other := []byte(strings.Replace(string(reply), `"app_id":"lkqcyt9t"`, `"app_id":"another"`, 1))
	unknown := []byte(strings.Replace(string(reply), `"id":"`+id+`"`, `"id":"999999"`, 1))
	for _, b := range [][]byte{other, unknown} {
		if s := h.ic.Deliver(t, b); s != 200 {
			t.Errorf("ignored notification: %d", s)
		}
	}
	// An assignment names the agent; a close with a message delivers it, then closes.
	h.ic.Deliver(t, h.ic.Add(id, "conversation.admin.assigned", intercomtest.Part{Type: "assignment", AuthorType: "admin", AuthorID: "3330619",
		AuthorName: "Andy", AssigneeID: "3330619", AssigneeType: "admin"}))
	h.ic.Deliver(t, h.ic.AdminClose(id, "<p>Bye Bob</p>"))
	h.Drain()
	got := h.View(conv)
	var agent []string
	for _, s := range got {
		if strings.HasPrefix(s, "agent: ") {
			agent = append(agent, s)
		}
	}
	if want := []string{"agent: Plain text from Ana", "agent: Bye Bob"}; !slices.Equal(agent, want) {
		t.Errorf("agent messages %q, want %q", agent, want)
	}
	if got[len(got)-1] != "bot: "+desktest.TextBack {
		t.Errorf("after the close the customer got %q", got)
	}
	// No close goes back to Intercom after an admin closed.
	if n := len(h.ic.Requests("POST /conversations/*/parts")); n != 1 {
		t.Errorf("%d parts posted, want only the assignment", n)
	}
	if s, b := desktest.Post(t, h.Server.Client(), h.URL("/hooks/intercom/nope"), h.ic.Header(reply), reply); s != 404 {
		t.Errorf("unknown desk: %d %s", s, b)
	}
}

func TestHTMLText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`<p class="no-margin">Reusable Workflow #2:<br><br><b>First message</b></p>`: "Reusable Workflow #2:\n\nFirst message",
		`<p>one</p><p>two</p>`:                              "one\n\ntwo",
		`see <a href="https://x.io/a?b=1&amp;c=2">docs</a>`: "see docs (https://x.io/a?b=1&c=2)",
		`<img src="https://x.io/i.png"> look`:               "https://x.io/i.png\n look",
		`<ul><li>a</li><li>b</li></ul>`:                     "a\n\nb",
		`plain &amp; simple`:                                "plain & simple",
		`5 &lt; 6 &#39;ok&#39;&nbsp;x`:                      "5 < 6 'ok' x",
		"no html at all":                                    "no html at all",
	} {
		if got := intercom.HTMLText(in); got != want {
			t.Errorf("HTMLText(%q) = %q, want %q", in, got, want)
		}
	}
}

// Contacts are found by external id, by e-mail (a user first), or created; a conflict (409),
// an archived contact and a merged one lead to the right id.
func TestContacts(t *testing.T) {
	t.Parallel()
	t.Run("by external id", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "")
		id := h.ic.AddContact(intercomtest.Contact{ExternalID: "u-bob", Email: "old@example.com"})
		h.handoff("bob", "bob@example.com")
		if cv := h.ic.Conversations()[0]; cv.ContactID != id || len(h.ic.Contacts()) != 1 {
			t.Errorf("conversation of %s, want %s", cv.ContactID, id)
		}
	})
	t.Run("by e-mail, the user first", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "")
		h.ic.AddContact(intercomtest.Contact{Role: "lead", Email: "bob@example.com"})
		user := h.ic.AddContact(intercomtest.Contact{Role: "user", Email: "bob@example.com"})
		h.handoff("bob", "bob@example.com")
		if cv := h.ic.Conversations()[0]; cv.ContactID != user {
			t.Errorf("conversation of %s, want the user %s", cv.ContactID, user)
		}
	})
	t.Run("conflict while search lags", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "")
		id := h.ic.AddContact(intercomtest.Contact{Email: "bob@example.com", Archived: true})
		h.handoff("eve", "bob@example.com")
		if cv := h.ic.Conversations()[0]; cv.ContactID != id {
			t.Errorf("conversation of %s, want %s (the 409's id)", cv.ContactID, id)
		}
		if n := len(h.ic.Requests("POST /contacts/*/unarchive")); n != 1 {
			t.Errorf("unarchived %d times, want 1", n)
		}
	})
	t.Run("a remembered contact deleted in Intercom", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "")
		h.Desks["desk"] = h.Desks["desk"] // the store remembers the contact between handoffs
		conv, id := h.handoff("bob", "bob@example.com")
		h.ic.Deliver(t, h.ic.AdminClose(id, ""))
		h.Drain()
		_ = conv
		if err := h.DB.DeskContactPut(h.Ctx, "desk", h.contactOf(conv), []byte(`{"id":"667d60000000000000000bad","role":"user"}`), h.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		h.Customer("bob", "bob@example.com", "bob-3", "again please")
		h.Customer("bob", "bob@example.com", "bob-4", "a human")
		cvs := h.ic.Conversations()
		if len(cvs) != 2 || cvs[1].ContactID != h.ic.Contacts()[0].ID {
			t.Errorf("conversations %+v", cvs)
		}
	})
}

// contactOf returns the Tandem contact id of a conversation.
func (h *harness) contactOf(conv string) string {
	h.T.Helper()
	c := h.Conversation(conv)
	ct, _ := c["contact"].(map[string]any)
	id, _ := ct["id"].(string)
	if id == "" {
		h.T.Fatalf("conversation %v has no contact id", c)
	}
	return id
}

// A 429 waits for X-RateLimit-Reset; a lost answer to the creation of the conversation does
// not create a second one; a 401 makes the desk Unavailable.
func TestFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	reset := strconv.FormatInt(h.Clock.Now().Add(5*time.Second).Unix(), 10)
	h.ic.Script("POST /conversations", desktest.Reply{Status: 429, Body: string(intercomtest.Fixture(t, "rest_error_429_rate_limit_exceeded_2.16_openapi.json")),
		Header: map[string]string{"X-RateLimit-Limit": "10000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}},
		desktest.Reply{Hangup: true, Handled: true})
	h.handoff("bob", "bob@example.com")
	if n := len(h.ic.Conversations()); n != 1 {
		t.Errorf("%d conversations, want 1", n)
	}
	if s := h.Sleeps(); len(s) < 2 || s[0] < 4*time.Second || s[0] > 6*time.Second {
		t.Errorf("waits %v, want the first until X-RateLimit-Reset (5 s)", s)
	}
	h.ic.Token = "revoked"
	h.Clock.Advance(time.Minute)
	other := h.Customer("eve", "eve@example.com", "e1", desktest.Question1)
	h.Customer("eve", "eve@example.com", "e2", desktest.Question2)
	if got := h.View(other); got[len(got)-1] != "bot: "+desktest.TextSorry {
		t.Errorf("with a revoked token the customer got %q", got)
	}
	if st := h.Desks["desk"].(desk.Statuser).Status(); st != desk.StatusUnavailable {
		t.Errorf("status %s", st)
	}
	if strings.Contains(h.Logs.String(), accessToken) || strings.Contains(h.Logs.String(), clientSecret) {
		t.Error("a credential was logged")
	}
}

// close_on_end: false leaves the conversation open with a note; a deleted conversation closes
// the handoff.
func TestCloseOnEndAndDeleted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, ", close_on_end: false")
	_, id := h.handoff("bob", "bob@example.com")
	h.Customer("bob", "bob@example.com", "bob-end", "/end")
	if cv := h.ic.Conversations()[0]; !cv.Open {
		t.Error("close_on_end: false closed the conversation")
	}
	_ = id
	conv, id2 := h.handoff("eve", "eve@example.com")
	del := []byte(strings.Replace(string(h.ic.AdminReply(id2, "x")), `"topic":"conversation.admin.replied"`, `"topic":"conversation.deleted"`, 1))
	if s := h.ic.Deliver(t, del); s != 200 {
		t.Fatalf("deleted: %d", s)
	}
	h.Drain()
	if got := h.View(conv); got[len(got)-1] != "bot: "+desktest.TextBack {
		t.Errorf("after a deletion the customer got %q", got)
	}
}

// Intercom's ids are strings of digits (conversations, parts, admins), numbers in older
// payloads, and hex strings for contacts: a notification about a contact, or with a part the
// customer wrote, is answered 200 and ignored (it was refused 400: the hex id did not read as a
// number, and Intercom pauses a topic that keeps failing); an admin's reply reads the same with
// its ids as numbers or as strings, and counts once.
func TestWebhookIDs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	conv, id := h.handoff("bob", "bob@example.com")
	post := func(body string) int {
		t.Helper()
		s, b := desktest.Post(t, h.Server.Client(), h.ic.Hook, h.ic.Header([]byte(body)), []byte(body))
		if s != http.StatusOK {
			t.Errorf("%d %s for %s", s, b, body)
		}
		return s
	}
	notification := func(topic, item, parts string) string {
		return `{"type":"notification_event","app_id":"lkqcyt9t","id":"notif_` + topic + `","topic":"` + topic + `","created_at":1765000000,` +
			`"data":{"type":"notification_event_data","item":` + strings.Replace(item, "PARTS", parts, 1) + `}}`
	}
	conversation := func(idJSON string) string {
		return `{"type":"conversation","id":` + idJSON + `,"state":"open","conversation_parts":{"type":"conversation_part.list","conversation_parts":[PARTS],"total_count":1}}`
	}
	post(notification("contact.user.created", `{"type":"contact","id":"6657a1b2c3d4e5f6a7b8c9ff","role":"user","email":"zed@example.com"}`, ""))
	post(notification("conversation.user.replied", conversation(strconv.Quote(id)),
		`{"type":"conversation_part","id":"70001","part_type":"comment","body":"<p>hello</p>","created_at":1765000001,`+
			`"author":{"type":"user","id":"6657a1b2c3d4e5f6a7b8c9d0","name":"bob","email":"bob@example.com"},"attachments":[]}`))
	reply := func(idJSON, partJSON, authorJSON string) string {
		return notification("conversation.admin.replied", conversation(idJSON),
			`{"type":"conversation_part","id":`+partJSON+`,"part_type":"comment","body":"<p>Ids as numbers or strings</p>","created_at":1765000002,`+
				`"author":{"type":"admin","id":`+authorJSON+`,"name":"Ana"},"attachments":[]}`)
	}
	post(reply(id, "9007199254740993", "814860"))
	post(reply(strconv.Quote(id), `"9007199254740993"`, `"814860"`)) // the same part
	h.Drain()
	got := h.View(conv)
	n := 0
	for _, s := range got {
		if s == "agent: Ids as numbers or strings" {
			n++
		}
	}
	if n != 1 || slices.Contains(got, "agent: hello") {
		t.Errorf("the customer got %q, want the admin's reply once and nothing of the contact's", got)
	}
}
