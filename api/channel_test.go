package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apichannel "github.com/tandemchat/tandem/channel/api"

	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// Bad input on the API channel is a JSON 400 (404 for a channel that is not an API channel)
// naming the field, and changes nothing (invariant 8).
func TestInboundBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	tests := []struct {
		name    string
		channel string
		body    string
		status  int
		mention string // the message names this
	}{
		{"unknown channel", "nope", `{"contact": {"external_id": "u-1"}, "message": {"text": "hi"}}`, 404, "nope"},
		{"not an API channel", "web", `{"contact": {"external_id": "u-1"}, "message": {"text": "hi"}}`, 404, "web"},
		{"no external_id", "api", `{"contact": {"name": "Ana"}, "message": {"text": "hi"}}`, 400, "contact.external_id"},
		{"blank external_id", "api", `{"contact": {"external_id": "  "}, "message": {"text": "hi"}}`, 400, "contact.external_id"},
		{"external_id not a string", "api", `{"contact": {"external_id": 42}, "message": {"text": "hi"}}`, 400, "contact.external_id"},
		{"malformed JSON", "api", `{"contact": {"external_id": "u-1"`, 400, "JSON"},
		{"not JSON", "api", `contact=u-1&text=hi`, 400, "JSON"},
		{"empty body", "api", ``, 400, "empty"},
		{"two JSON values", "api", `{"contact": {"external_id": "u-1"}, "message": {"text": "hi"}} {}`, 400, "after its JSON object"},
		{"unknown top-level field", "api", `{"contact": {"external_id": "u-1"}, "message": {"text": "hi"}, "channel": "x"}`, 400, "channel"},
		{"unknown contact field", "api", `{"contact": {"external_id": "u-1", "nickname": "A"}, "message": {"text": "hi"}}`, 400, "nickname"},
		{"no text", "api", `{"contact": {"external_id": "u-1"}, "message": {"id": "m-1"}}`, 400, "message.text"},
		{"blank text", "api", `{"contact": {"external_id": "u-1"}, "message": {"text": "   "}}`, 400, "message.text"},
		{"image without url", "api", `{"contact": {"external_id": "u-1"}, "message": {"type": "image"}}`, 400, "message.media.url"},
		{"location without location", "api", `{"contact": {"external_id": "u-1"}, "message": {"type": "location"}}`, 400, "message.location"},
		{"option without option", "api", `{"contact": {"external_id": "u-1"}, "message": {"type": "option"}}`, 400, "message.option"},
		{"unknown type", "api", `{"contact": {"external_id": "u-1"}, "message": {"type": "hologram", "text": "hi"}}`, 400, "message.type"},
		{"id too long", "api", `{"contact": {"external_id": "u-1"}, "message": {"id": "` + strings.Repeat("x", 201) + `", "text": "hi"}}`, 400, "message.id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(request{method: "POST", path: "/api/v1/channels/" + tt.channel + "/messages", body: tt.body,
				header: map[string]string{"Content-Type": "application/json"}})
			r.mustStatus(t, tt.status)
			code, msg := r.err(t)
			if want := map[int]string{400: "invalid", 404: "not_found"}[tt.status]; code != want {
				t.Errorf("code %q, want %q", code, want)
			}
			if !strings.Contains(msg, tt.mention) {
				t.Errorf("message %q does not name %q", msg, tt.mention)
			}
		})
	}
	e.drain()
	var list struct {
		Conversations []conversationJSON `json:"conversations"`
	}
	e.do(request{method: "GET", path: "/api/v1/conversations"}).mustStatus(t, http.StatusOK).json(t, &list)
	if len(list.Conversations) != 0 {
		t.Errorf("bad input opened %d conversations", len(list.Conversations))
	}
}

// Text, image, file, location and option messages are accepted (202) and shown as sent.
func TestInboundMessageTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	tests := []struct {
		name    string
		message string
		want    messageJSON
	}{
		{"text", `{"id": "m-1", "text": "hello"}`, messageJSON{Type: "text", Text: "hello"}},
		{"image by mime", `{"id": "m-2", "media": {"url": "https://cdn.example/a.png", "mime": "image/png"}, "text": "look"}`,
			messageJSON{Type: "image", Text: "look", Media: &mediaJSON{URL: "https://cdn.example/a.png", Mime: "image/png"}}},
		{"file", `{"id": "m-3", "media": {"url": "https://cdn.example/a.pdf", "mime": "application/pdf", "name": "a.pdf"}}`,
			messageJSON{Type: "file", Media: &mediaJSON{URL: "https://cdn.example/a.pdf", Mime: "application/pdf", Name: "a.pdf"}}},
		{"image by type", `{"id": "m-4", "type": "image", "media": {"url": "https://cdn.example/b.jpg"}}`,
			messageJSON{Type: "image", Media: &mediaJSON{URL: "https://cdn.example/b.jpg"}}},
		{"location", `{"id": "m-5", "location": {"lat": -23.5, "lng": -46.6, "name": "Office"}}`, messageJSON{Type: "location"}},
		{"option", `{"id": "m-6", "option": "sales", "text": "Sales"}`, messageJSON{Type: "option", Text: "Sales", Option: "sales"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			body := `{"contact": {"external_id": "u-` + tt.name + `"}, "message": ` + tt.message + `}`
			r := e.do(request{method: "POST", path: "/api/v1/channels/api/messages", body: body}).mustStatus(t, http.StatusAccepted)
			var res struct {
				ConversationID string `json:"conversation_id"`
				MessageID      string `json:"message_id"`
			}
			r.json(t, &res)
			l := e.with(t).messages(res.ConversationID, "")
			if len(l.Messages) != 1 {
				t.Fatalf("%d messages, want the 1 sent", len(l.Messages))
			}
			got := l.Messages[0]
			if got.ID != res.MessageID || got.Direction != "in" || got.Author != "contact" || got.Type != tt.want.Type ||
				got.Text != tt.want.Text || got.Option != tt.want.Option {
				t.Errorf("message %+v, want id %s, in, contact, %+v", got, res.MessageID, tt.want)
			}
			if tt.want.Media != nil && (got.Media == nil || *got.Media != *tt.want.Media) {
				t.Errorf("media %+v, want %+v", got.Media, tt.want.Media)
			}
			if tt.want.Type == "location" && (got.Location == nil || got.Location.Lat != -23.5 || got.Location.Name != "Office") {
				t.Errorf("location %+v, want the one sent", got.Location)
			}
		})
	}
}

// The same message.id twice with the same content is accepted once: the second answer is the
// first's with status 200, and nothing is stored or answered twice (invariant 2). The same id
// with other content — another text, another contact — is 409 idempotency_conflict naming the
// id, and changes nothing (Stripe's rule).
func TestInboundDuplicate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, options{db: db})
		first := e.do(request{method: "POST", path: "/api/v1/channels/api/messages", body: inbound("u-1", "m-1", "hello")}).mustStatus(t, http.StatusAccepted).m(t)
		second := e.do(request{method: "POST", path: "/api/v1/channels/api/messages", body: inbound("u-1", "m-1", "hello")}).mustStatus(t, http.StatusOK).m(t)
		if first["conversation_id"] != second["conversation_id"] || first["message_id"] != second["message_id"] {
			t.Errorf("second answer %v, want the first's %v", second, first)
		}
		e.drain()
		// Again after the bot answered: still the first message.
		third := e.do(request{method: "POST", path: "/api/v1/channels/api/messages", body: inbound("u-1", "m-1", "hello")}).mustStatus(t, http.StatusOK).m(t)
		if third["message_id"] != first["message_id"] {
			t.Errorf("third answer %v, want the first's %v", third, first)
		}
		// Another text, another contact, another contact's detail: conflicts.
		otherName := inbound("u-1", "m-1", "hello")
		otherName["contact"].(map[string]any)["name"] = "Bob"
		for _, body := range []map[string]any{inbound("u-1", "m-1", "changed"), inbound("bob", "m-1", "hello"), inbound("bob", "m-1", "bob's text"), otherName} {
			r := e.do(request{method: "POST", path: "/api/v1/channels/api/messages", body: body}).mustStatus(t, http.StatusConflict)
			if code, msg := r.err(t); code != "idempotency_conflict" || !strings.Contains(msg, `"m-1"`) {
				t.Errorf("%v: %s %q, want idempotency_conflict naming m-1", body, code, msg)
			}
		}
		e.drain()
		var list struct {
			Conversations []conversationJSON `json:"conversations"`
		}
		e.do(request{method: "GET", path: "/api/v1/conversations"}).mustStatus(t, http.StatusOK).json(t, &list)
		if len(list.Conversations) != 1 {
			t.Errorf("%d conversations after the conflicts, want only u-1's", len(list.Conversations))
		}
		got := texts(e.messages(first["conversation_id"].(string), "").Messages)
		want := []string{"contact: hello", "bot: You said: hello", "bot: What is your e-mail?"}
		if !slices.Equal(got, want) {
			t.Errorf("messages %q, want %q", got, want)
		}
		// Another id is another message.
		e.say("u-1", "m-2", "a@b.co")
		e.drain()
		got = texts(e.messages(first["conversation_id"].(string), "").Messages)
		want = append(want, "contact: a@b.co", "bot: Thanks, a@b.co.")
		if !slices.Equal(got, want) {
			t.Errorf("messages %q, want %q", got, want)
		}
	})
}

// Messages without an id are never taken for duplicates.
func TestInboundWithoutID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	a, ma := e.say("u-1", "", "hello")
	b, mb := e.say("u-1", "", "hello")
	if a != b || ma == mb {
		t.Errorf("two messages without id: conversations %s %s, messages %s %s; want one conversation, two messages", a, b, ma, mb)
	}
}

// The messages endpoint: oldest first, after a cursor, paged with next_cursor; internal notes
// never appear.
func TestMessagesPaging(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, options{db: db})
		conv, _ := e.say("u-1", "m-1", "hello")
		e.drain()
		e.say("u-1", "m-2", "a@b.co")
		e.drain()
		all := e.messages(conv, "")
		want := []string{"contact: hello", "bot: You said: hello", "bot: What is your e-mail?", "contact: a@b.co", "bot: Thanks, a@b.co."}
		if got := texts(all.Messages); !slices.Equal(got, want) {
			t.Fatalf("messages %q, want %q", got, want)
		}
		if last := all.Messages[len(all.Messages)-1].ID; all.NextCursor != last {
			t.Errorf("next_cursor %q, want the last message's id %q", all.NextCursor, last)
		}
		for _, m := range all.Messages {
			if m.ConversationID != conv || m.CreatedAt.IsZero() || (m.Direction == "out") != (m.Author == "bot") {
				t.Errorf("message %+v: want conversation %s, a time, out for the bot", m, conv)
			}
			if strings.Contains(m.Text, "internal:") {
				t.Errorf("an internal note is in the messages: %q", m.Text)
			}
		}
		// The note was written, for agents.
		notes, err := e.db.Notes(context.Background(), conv)
		if err != nil {
			t.Fatal(err)
		}
		if len(notes) != 1 || !strings.Contains(notes[0].Text, "internal:") {
			t.Errorf("notes %+v, want the flow's note", notes)
		}
		// Page by 2 with next_cursor.
		var paged []string
		cursor := ""
		for range 10 {
			var page messageList
			path := "/api/v1/conversations/" + conv + "/messages?limit=2&after=" + cursor
			e.do(request{method: "GET", path: path}).mustStatus(t, http.StatusOK).json(t, &page)
			if len(page.Messages) > 2 {
				t.Fatalf("limit=2 gave %d messages", len(page.Messages))
			}
			paged = append(paged, texts(page.Messages)...)
			if len(page.Messages) == 0 {
				if page.NextCursor != cursor {
					t.Errorf("an empty page's next_cursor %q, want the cursor it was given %q", page.NextCursor, cursor)
				}
				break
			}
			cursor = page.NextCursor
		}
		if !slices.Equal(paged, want) {
			t.Errorf("paged messages %q, want %q", paged, want)
		}
		// after= a message returns what follows it.
		if got := texts(e.messages(conv, all.Messages[2].ID).Messages); !slices.Equal(got, want[3:]) {
			t.Errorf("after the 3rd message: %q, want %q", got, want[3:])
		}
	})
}

// Bad requests to the messages endpoint.
func TestMessagesBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	conv, _ := e.say("u-1", "m-1", "hello")
	other, _ := e.say("u-2", "m-2", "hello")
	otherMsgs := e.messages(other, "")
	tests := []struct {
		name, query string
		conv        string
		status      int
		mention     string
	}{
		{"unknown conversation", "", "nope", 404, "nope"},
		{"unknown conversation with wait", "?wait=5s", "nope", 404, "nope"},
		{"bad wait", "?wait=soon", conv, 400, "wait"},
		{"negative wait", "?wait=-5", conv, 400, "wait"},
		{"bad limit", "?limit=0", conv, 400, "limit"},
		{"limit too high", "?limit=5000", conv, 400, "limit"},
		{"after unknown", "?after=nope", conv, 400, "after"},
		{"after a message of another conversation", "?after=" + otherMsgs.Messages[0].ID, conv, 400, "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(request{method: "GET", path: "/api/v1/conversations/" + tt.conv + "/messages" + tt.query}).mustStatus(t, tt.status)
			if _, msg := r.err(t); !strings.Contains(msg, tt.mention) {
				t.Errorf("message %q does not name %q", msg, tt.mention)
			}
		})
	}
}

// Long-poll: with messages after the cursor it answers at once; without, it blocks until the
// bot's answer is committed and returns it, well before the wait ends; with nothing coming it
// answers an empty list when the wait is up.
func TestMessagesLongPoll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	conv, in := e.say("u-1", "m-1", "hello")

	start := time.Now()
	var got messageList
	e.do(request{method: "GET", path: "/api/v1/conversations/" + conv + "/messages?wait=20s"}).mustStatus(t, http.StatusOK).json(t, &got)
	if d := time.Since(start); d > 2*time.Second || len(got.Messages) != 1 {
		t.Errorf("with a message already there: %d messages after %s, want 1 at once", len(got.Messages), d)
	}

	// Nothing after the customer's message yet: the poll waits for the bot.
	type result struct {
		list messageList
		d    time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		var l messageList
		r := e.do(request{method: "GET", path: "/api/v1/conversations/" + conv + "/messages?after=" + in + "&wait=20s"})
		if r.status == http.StatusOK {
			r.json(t, &l)
		}
		done <- result{l, time.Since(start)}
	}()
	waitFor(t, "the long-poll to wait on the conversation", 10*time.Second, func() bool {
		return e.hub.lot.Watching(conv) > 0
	})
	select {
	case r := <-done:
		t.Fatalf("the long-poll answered before the bot did: %+v", r.list)
	default:
	}
	e.drain() // the bot answers; the runner notifies the hub
	var r result
	select {
	case r = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the long-poll did not answer after the bot did")
	}
	if got, want := texts(r.list.Messages), []string{"bot: You said: hello", "bot: What is your e-mail?"}; !slices.Equal(got, want) {
		t.Errorf("long-poll answered %q, want %q", got, want)
	}
	if r.d > 10*time.Second {
		t.Errorf("long-poll answered after %s, want well before the 20s wait", r.d)
	}

	// Nothing comes: an empty list when the wait is up, the cursor unchanged.
	last := r.list.NextCursor
	start = time.Now()
	var empty messageList
	e.do(request{method: "GET", path: "/api/v1/conversations/" + conv + "/messages?after=" + last + "&wait=300ms"}).mustStatus(t, http.StatusOK).json(t, &empty)
	if d := time.Since(start); d < 300*time.Millisecond || len(empty.Messages) != 0 || empty.NextCursor != last {
		t.Errorf("wait=300ms with nothing new: %d messages, cursor %q after %s; want none, %q, after ≥ 300ms", len(empty.Messages), empty.NextCursor, d, last)
	}
	if n := e.hub.lot.Watching(conv); n != 0 {
		t.Errorf("%d waiters left on the hub", n)
	}
}

// The same, with the runner's background workers on the wall clock: the production path.
func TestMessagesLongPollWallClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{wall: true})
	conv, in := e.say("u-1", "m-1", "hello")
	var seen []string
	cursor := in
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		var l messageList
		e.do(request{method: "GET", path: "/api/v1/conversations/" + conv + "/messages?after=" + cursor + "&wait=5s"}).mustStatus(t, http.StatusOK).json(t, &l)
		seen = append(seen, texts(l.Messages)...)
		cursor = l.NextCursor
	}
	if want := []string{"bot: You said: hello", "bot: What is your e-mail?"}; !slices.Equal(seen, want) {
		t.Errorf("long-polled %q, want %q", seen, want)
	}
}

// delivery is one POST the outbound receiver got.
type delivery struct {
	body      []byte
	signature string
	key       string
	status    int
	msg       apichannel.Outbound
}

// receiver is a business's outbound_url endpoint; fail decides the status of each attempt.
type receiver struct {
	mu   sync.Mutex
	got  []delivery
	fail func(n int) bool // attempt n (from 0) fails with 500
	srv  *httptest.Server
}

func newReceiver(t *testing.T, fail func(n int) bool) *receiver {
	rc := &receiver{fail: fail}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d := delivery{body: b, signature: r.Header.Get(apichannel.SignatureHeader), key: r.Header.Get("Idempotency-Key"), status: 200}
		json.Unmarshal(b, &d.msg)
		rc.mu.Lock()
		if rc.fail != nil && rc.fail(len(rc.got)) {
			d.status = 500
		}
		rc.got = append(rc.got, d)
		rc.mu.Unlock()
		w.WriteHeader(d.status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func outboundWorkspace(url string) string {
	return `
workspace: {name: Test}
channels:
  - {id: api, kind: api, outbound_url: "` + url + `", secret: "${API_CHANNEL_SECRET}"}
`
}

// Each bot message is POSTed to the channel's outbound_url, signed with the channel secret, in
// order per conversation, once.
func TestOutbound(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	e := newEnv(t, options{workspace: outboundWorkspace(rc.srv.URL)})
	conv, _ := e.say("u-1", "m-1", "hello")
	e.drain()
	e.say("u-1", "m-2", "a@b.co")
	e.drain()
	checkDeliveries(t, e, rc, conv, []string{"You said: hello", "What is your e-mail?", "Thanks, a@b.co."})
}

// A receiver that fails twice (500) then succeeds still gets every message once, in order: the
// outbox retries with backoff, with the same Idempotency-Key, and holds later messages back.
func TestOutboundRetry(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rc := newReceiver(t, func(n int) bool { return n < 2 })
		e := newEnv(t, options{db: db, workspace: outboundWorkspace(rc.srv.URL)})
		conv, _ := e.say("u-1", "m-1", "hello")
		e.drain()
		if n := len(rc.deliveries()); n != 1 {
			t.Fatalf("%d attempts before any retry is due, want 1", n)
		}
		// The retries are due by time: move the virtual clock past the backoff.
		if err := e.run.AdvanceTo(context.Background(), t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		ds := rc.deliveries()
		if len(ds) < 3 || ds[0].status != 500 || ds[1].status != 500 {
			t.Fatalf("attempts %d, want two failures then successes", len(ds))
		}
		if ds[0].key != ds[2].key || ds[0].msg.Message.ID != ds[2].msg.Message.ID {
			t.Errorf("the retry is not the same message: keys %q %q", ds[0].key, ds[2].key)
		}
		checkDeliveries(t, e, rc, conv, []string{"You said: hello", "What is your e-mail?"})
	})
}

// checkDeliveries checks the successful deliveries: signed, for the conversation, each bot
// message once, in the order of the messages API.
func checkDeliveries(t *testing.T, e *env, rc *receiver, conv string, want []string) {
	t.Helper()
	var out []string
	var ids []string
	keys := map[string]bool{}
	for _, d := range rc.deliveries() {
		if !apichannel.Verify("chan-secret-42", d.body, d.signature) {
			t.Errorf("delivery %s: signature %q does not verify", d.body, d.signature)
		}
		if !strings.HasPrefix(d.signature, "sha256=") {
			t.Errorf("signature %q, want sha256=<hex>", d.signature)
		}
		if d.msg.ConversationID != conv || d.msg.ChannelID != "api" || d.msg.Contact.ExternalID != "u-1" {
			t.Errorf("delivery for %s/%s/%s, want api/%s/u-1", d.msg.ChannelID, d.msg.ConversationID, d.msg.Contact.ExternalID, conv)
		}
		if d.key == "" {
			t.Error("delivery without Idempotency-Key")
		}
		if d.status != 200 {
			continue
		}
		if keys[d.key] {
			t.Errorf("message %s delivered twice", d.key)
		}
		keys[d.key] = true
		out = append(out, d.msg.Message.Text)
		ids = append(ids, d.msg.Message.ID)
	}
	if !slices.Equal(out, want) {
		t.Errorf("delivered %q, want %q", out, want)
	}
	var bot []string
	for _, m := range e.messages(conv, "").Messages {
		if m.Author == "bot" {
			bot = append(bot, m.ID)
		}
	}
	if !slices.Equal(ids, bot) {
		t.Errorf("delivered message ids %q, want the bot's messages %q in order", ids, bot)
	}
}

// A client that gives up a long-poll leaves nothing behind: its wait is taken off the hub, and
// the request is recorded as 499 (client closed), not as a server error.
func TestMessagesLongPollClientGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	conv, in := e.say("u-1", "m-1", "hello")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/conversations/"+conv+"/messages?after="+in+"&wait=30s", nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := e.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waiting := func() int {
		return e.hub.lot.Watching(conv)
	}
	waitFor(t, "the long-poll to wait", 10*time.Second, func() bool { return waiting() > 0 })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the canceled request succeeded")
	}
	waitFor(t, "the handler to end", 10*time.Second, func() bool {
		return waiting() == 0 && seen.snapshot()["GET /api/v1/conversations/{id}/messages"][statusClientClosed]
	})
}

// Many deliveries of one message at once are stored once: one 202, the others 200 with the
// same ids (invariant 2 under concurrency).
func TestInboundDuplicateConcurrent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, options{db: db})
		const n = 8
		type answer struct {
			status int
			body   map[string]any
		}
		answers := make(chan answer, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				r := e.do(request{method: "POST", path: "/api/v1/channels/api/messages", body: inbound("u-1", "m-1", "hello")})
				var b map[string]any
				json.Unmarshal(r.body, &b)
				answers <- answer{r.status, b}
			})
		}
		wg.Wait()
		close(answers)
		statuses := map[int]int{}
		ids := map[string]bool{}
		for a := range answers {
			statuses[a.status]++
			ids[fmt.Sprint(a.body["conversation_id"], "/", a.body["message_id"])] = true
		}
		if statuses[http.StatusAccepted] != 1 || statuses[http.StatusOK] != n-1 || len(ids) != 1 {
			t.Errorf("statuses %v, ids %v; want one 202, %d 200, all with the same ids", statuses, ids, n-1)
		}
		e.drain()
		var list struct {
			Conversations []conversationJSON `json:"conversations"`
		}
		e.do(request{method: "GET", path: "/api/v1/conversations"}).mustStatus(t, http.StatusOK).json(t, &list)
		if len(list.Conversations) != 1 {
			t.Fatalf("%d conversations, want 1", len(list.Conversations))
		}
		got := texts(e.messages(list.Conversations[0].ID, "").Messages)
		if want := []string{"contact: hello", "bot: You said: hello", "bot: What is your e-mail?"}; !slices.Equal(got, want) {
			t.Errorf("messages %q, want %q", got, want)
		}
	})
}
