package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/desk/webhook"
	"github.com/tandemchat/tandem/desk/webhook/webhooktest"
)

const (
	testSecret   = "whsec-0123456789-abcdef"
	testPassword = "p4ss-never-in-logs"
)

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// fakeClock is a clock the test moves; sleeps are recorded, not slept.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// setup returns a webhook desk pointed at a fake desk, on a fake clock.
func setup(t *testing.T, mod func(*desk.Config)) (*webhook.Desk, *webhooktest.Desk, *fakeClock) {
	t.Helper()
	fd := webhooktest.New(t)
	c := desk.Config{ID: "desk", Kind: webhook.Kind, URL: fd.URL + "/", Username: "u", Password: testPassword, Secret: testSecret, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&c)
	}
	dk, err := desk.New(c, desk.Deps{HTTP: fd.Client()})
	if err != nil {
		t.Fatal(err)
	}
	d := dk.(*webhook.Desk)
	clk := &fakeClock{now: t0}
	d.Now, d.Sleep = clk.Now, clk.Sleep
	return d, fd, clk
}

func msg(id, dir, text string) tandem.Message {
	m := tandem.Message{ID: id, ConversationID: "cv1", Direction: dir, Author: tandem.AuthorContact, Type: tandem.MessageText, Text: text, CreatedAt: t0}
	if dir == tandem.DirectionOut {
		m.Author = tandem.AuthorBot
	}
	return m
}

func start(transcript ...tandem.Message) tandem.DeskStart {
	return tandem.DeskStart{
		Conversation: &tandem.Conversation{ID: "cv1", ContactID: "ct1", ChannelID: "api", ChannelKind: "api", UpdatedAt: t0},
		Contact:      &tandem.Contact{ID: "ct1", ExternalID: "crm-8812", Name: "Bob", Email: "bob@example.com", Phone: "+15551234567"},
		Team:         "support",
		Transcript:   transcript,
	}
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// checkHeaders checks what every call carries: JSON, the User-Agent, the signature of the body
// and Basic auth exactly when a username is set.
func checkHeaders(t *testing.T, r webhooktest.Request, username string) {
	t.Helper()
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("%s: Content-Type %q", r.Path, got)
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "tandem/") {
		t.Errorf("%s: User-Agent %q, want tandem/<version>", r.Path, ua)
	}
	if got, want := r.Header.Get(webhook.SignatureHeader), webhook.Sign(testSecret, r.Body); got != want {
		t.Errorf("%s: %s %q, want %q", r.Path, webhook.SignatureHeader, got, want)
	}
	if r.Header.Get("Idempotency-Key") == "" {
		t.Errorf("%s: no Idempotency-Key", r.Path)
	}
	auth := r.Header.Get("Authorization")
	if username == "" {
		if auth != "" {
			t.Errorf("%s: Authorization %q without a username", r.Path, auth)
		}
		return
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(username+":"+testPassword))
	if auth != want {
		t.Errorf("%s: Authorization %q, want %q", r.Path, auth, want)
	}
}

// The establish carries every field of GPTBots' example with the same types, timestamps in
// milliseconds, and Basic auth exactly when a username is set; Start returns the handoff id.
func TestEstablishMatchesGPTBotsFixture(t *testing.T) {
	t.Parallel()
	for _, username := range []string{"u", ""} {
		t.Run("username="+username, func(t *testing.T) {
			t.Parallel()
			d, fd, _ := setup(t, func(c *desk.Config) { c.Username = username })
			want := fixture(t, "human_webhook_establish_request.json")
			s := start(msg("m1", tandem.DirectionIn, "human service"))
			s.Conversation.UpdatedAt = time.UnixMilli(int64(want["timestamp"].(float64)))
			s.Contact = &tandem.Contact{ID: "652face5184b30540a6ea7fe", ExternalID: "KDslas", Email: "bob@gmail.com"}
			hid, err := d.Start(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			reqs := fd.Requests(webhook.PathEstablish)
			if len(reqs) != 1 {
				t.Fatalf("%d establish requests, want 1", len(reqs))
			}
			checkHeaders(t, reqs[0], username)
			got := reqs[0].JSON(t)
			if got["conversation_id"] != hid || !strings.HasPrefix(hid, "hf_cv1_") {
				t.Errorf("conversation_id %v, Start returned %q; want the same handoff id hf_cv1_…", got["conversation_id"], hid)
			}
			if conv, ok := webhook.ConversationOf(hid); !ok || conv != "cv1" {
				t.Errorf("ConversationOf(%q) = %q, %v", hid, conv, ok)
			}
			for k, v := range want {
				g, ok := got[k]
				if !ok {
					t.Errorf("field %q is missing", k)
					continue
				}
				if reflect.TypeOf(g) != reflect.TypeOf(v) {
					t.Errorf("field %q is a %T, GPTBots' is a %T", k, g, v)
				}
				switch k {
				case "conversation_id", "bot_id": // ours: the handoff id, the flow id
				default:
					if !reflect.DeepEqual(g, v) {
						t.Errorf("field %q = %v, want %v", k, g, v)
					}
				}
			}
			if _, ok := got["tandem"].(map[string]any); !ok {
				t.Errorf("no tandem extension object: %s", reqs[0].Body)
			}
		})
	}
}

// GPTBots' Chinese example ends with a non-empty ANSWER: that is what a transcript ending with
// a bot message gives (the runner's transcripts end with the latest question instead).
func TestRoundsChineseFixture(t *testing.T) {
	t.Parallel()
	want, _ := json.Marshal(fixture(t, "human_webhook_establish_request_zh_docs.json")["body"])
	b, _ := json.Marshal(webhook.Rounds([]tandem.Message{msg("m1", tandem.DirectionIn, "human service"), msg("m2", tandem.DirectionOut, "content")}))
	var v any
	json.Unmarshal(b, &v)
	got, _ := json.Marshal(v)
	if string(got) != string(want) {
		t.Errorf("Rounds:\n got %s\nwant %s", got, want)
	}
}

// The transcript alternates QUESTION and ANSWER: consecutive messages of one side are joined,
// bot messages before the first question are left out, media are written as their URL, and the
// latest question ends it with an empty ANSWER.
func TestEstablishTranscript(t *testing.T) {
	t.Parallel()
	d, fd, _ := setup(t, nil)
	photo := msg("m4", tandem.DirectionIn, "")
	photo.Type, photo.Media = tandem.MessageImage, &tandem.Media{URL: "https://tandem.example/media/p.jpg", Mime: "image/jpeg"}
	s := start(
		msg("m0", tandem.DirectionOut, "Welcome!"),
		msg("m1", tandem.DirectionIn, "How long does a refund take?"),
		msg("m2", tandem.DirectionOut, "Refunds take 5 business days."),
		msg("m3", tandem.DirectionOut, "Anything else?"),
		photo,
		msg("m5", tandem.DirectionIn, "I want a human please"),
	)
	if _, err := d.Start(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	got := fd.Requests(webhook.PathEstablish)[0].JSON(t)
	body, _ := json.Marshal(got["body"])
	want := `[{"message_type":"QUESTION","text":"How long does a refund take?"},` +
		`{"message_type":"ANSWER","text":"Refunds take 5 business days.\nAnything else?"},` +
		`{"message_type":"QUESTION","text":"https://tandem.example/media/p.jpg\nI want a human please"},` +
		`{"message_type":"ANSWER","text":""}]`
	if string(body) != want {
		t.Errorf("body:\n got %s\nwant %s", body, want)
	}
	ui, _ := json.Marshal(got["user_info"])
	if want := `{"anonymous_id":"ct1","email":"bob@example.com","phone":"+15551234567","user_id":"crm-8812"}`; string(ui) != want {
		t.Errorf("user_info %s, want %s", ui, want)
	}
	if got["email"] != "bob@example.com" || got["timestamp"] != float64(t0.UnixMilli()) {
		t.Errorf("email %v, timestamp %v", got["email"], got["timestamp"])
	}
	ext := got["tandem"].(map[string]any)
	if ext["conversation_id"] != "cv1" || ext["channel"] != "api" || ext["team"] != "support" {
		t.Errorf("tandem extension %v", ext)
	}
}

// Without e-mail, phone or a business user id, user_info holds nulls and email is "".
func TestEstablishNulls(t *testing.T) {
	t.Parallel()
	d, fd, _ := setup(t, nil)
	s := start(msg("m1", tandem.DirectionIn, "hi"))
	s.Conversation.ChannelKind = "whatsapp"
	s.Contact = &tandem.Contact{ID: "ct1", ExternalID: "5511999"}
	if _, err := d.Start(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	got := fd.Requests(webhook.PathEstablish)[0].JSON(t)
	ui, _ := json.Marshal(got["user_info"])
	if want := `{"anonymous_id":"ct1","email":null,"phone":null,"user_id":null}`; string(ui) != want {
		t.Errorf("user_info %s, want %s", ui, want)
	}
	if got["email"] != "" {
		t.Errorf("email %v, want \"\"", got["email"])
	}
	ext, _ := json.Marshal(got["tandem"].(map[string]any)["summary"])
	if string(ext) != "null" {
		t.Errorf("tandem.summary %s without a summary, want null", ext)
	}
}

// The tandem object names the flow (also GPTBots' bot_id), the reason and the summary, as the
// contract's example shapes them.
func TestEstablishFlowReasonSummary(t *testing.T) {
	t.Parallel()
	d, fd, _ := setup(t, nil)
	s := start(msg("m1", tandem.DirectionIn, "I want a human please"))
	s.Flow, s.Reason, s.Summary = &tandem.FlowRef{ID: "refund-bot", Version: 3}, "asks for a human", "Bob wants a refund."
	if _, err := d.Start(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	got := fd.Requests(webhook.PathEstablish)[0].JSON(t)
	if got["bot_id"] != "refund-bot" {
		t.Errorf("bot_id %v, want the flow id", got["bot_id"])
	}
	ext := got["tandem"].(map[string]any)
	b, _ := json.Marshal(map[string]any{"flow": ext["flow"], "reason": ext["reason"], "summary": ext["summary"]})
	if want := `{"flow":{"id":"refund-bot","version":3},"reason":"asks for a human","summary":"Bob wants a refund."}`; string(b) != want {
		t.Errorf("tandem object %s, want %s", b, want)
	}
}

// The same establish (a retry after a crash) gets the same handoff id, body and key; another
// handoff of the conversation gets another id.
func TestHandoffIDStable(t *testing.T) {
	t.Parallel()
	d, fd, _ := setup(t, nil)
	s := start(msg("m1", tandem.DirectionIn, "help"))
	a, _ := d.Start(context.Background(), s)
	b, _ := d.Start(context.Background(), s)
	c, _ := d.Start(context.Background(), start(msg("m1", tandem.DirectionIn, "help"), msg("m2", tandem.DirectionOut, "ok"), msg("m3", tandem.DirectionIn, "human again")))
	if a != b || a == c {
		t.Errorf("handoff ids %q, %q (same establish), %q (another handoff)", a, b, c)
	}
	reqs := fd.Requests(webhook.PathEstablish)
	if string(reqs[0].Body) != string(reqs[1].Body) || reqs[0].Header.Get("Idempotency-Key") != reqs[1].Header.Get("Idempotency-Key") {
		t.Error("a repeated establish changed its body or Idempotency-Key")
	}
}

// 500, 503 (Retry-After), 429, a timeout and a dropped connection are retried 3 times with the
// same body and Idempotency-Key, after 1 s, 2 s, 4 s ±20 % (or Retry-After); 400 and 401 are
// never retried and are permanent. A failed establish makes the desk Unavailable.
func TestEstablishRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		reply    webhooktest.Reply
		attempts int
	}{
		{"500", webhooktest.Reply{Status: 500}, 4},
		{"503 Retry-After", webhooktest.Reply{Status: 503, RetryAfter: "3"}, 4},
		{"429", webhooktest.Reply{Status: 429}, 4},
		{"timeout", webhooktest.Reply{Stall: 15 * time.Second}, 4},
		{"hangup", webhooktest.Reply{Hangup: true}, 4},
		{"400", webhooktest.Reply{Status: 400}, 1},
		{"401", webhooktest.Reply{Status: 401}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, fd, clk := setup(t, func(c *desk.Config) { c.Timeout = 100 * time.Millisecond })
			fd.Script(webhook.PathEstablish, tt.reply, tt.reply, tt.reply, tt.reply)
			_, err := d.Start(context.Background(), start(msg("m1", tandem.DirectionIn, "help")))
			if err == nil {
				t.Fatal("Start succeeded")
			}
			if got, want := tandem.IsPermanent(err), tt.attempts == 1; got != want {
				t.Errorf("permanent %v, want %v: %v", got, want, err)
			}
			reqs := fd.Requests(webhook.PathEstablish)
			if len(reqs) != tt.attempts {
				t.Fatalf("%d attempts, want %d", len(reqs), tt.attempts)
			}
			for _, r := range reqs[1:] {
				if string(r.Body) != string(reqs[0].Body) || r.Header.Get("Idempotency-Key") != reqs[0].Header.Get("Idempotency-Key") {
					t.Error("a retry changed the body or the Idempotency-Key")
				}
			}
			sleeps := clk.Sleeps()
			if len(sleeps) != tt.attempts-1 {
				t.Fatalf("slept %v, want %d waits", sleeps, tt.attempts-1)
			}
			for i, s := range sleeps {
				base := time.Second << i
				lo, hi := base*8/10, base*12/10
				if tt.reply.RetryAfter == "3" && i < 2 {
					lo, hi = 3*time.Second, 3*time.Second
				}
				if s < lo || s > hi {
					t.Errorf("wait %d = %s, want within [%s, %s]", i+1, s, lo, hi)
				}
			}
			if err := d.Health(context.Background()); err == nil {
				t.Error("Health is fine right after a failed establish")
			}
			if strings.Contains(err.Error(), testPassword) || strings.Contains(err.Error(), testSecret) {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

// A 503 then a 200: the establish succeeds on its second attempt.
func TestEstablishRecovers(t *testing.T) {
	t.Parallel()
	d, fd, _ := setup(t, nil)
	fd.Script(webhook.PathEstablish, webhooktest.Reply{Status: 503})
	hid, err := d.Start(context.Background(), start(msg("m1", tandem.DirectionIn, "help")))
	if err != nil || hid == "" {
		t.Fatalf("Start = %q, %v", hid, err)
	}
	if n := len(fd.Requests(webhook.PathEstablish)); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

// chat: one attempt per call, for the outbox to retry: a 5xx is retryable with the same body
// and key, the 4th failure is permanent, a 400 is permanent at once.
func TestChat(t *testing.T) {
	t.Parallel()
	d, fd, _ := setup(t, nil)
	ctx := context.Background()
	hid, err := d.Start(ctx, start(msg("m1", tandem.DirectionIn, "help")))
	if err != nil {
		t.Fatal(err)
	}
	m := msg("m7", tandem.DirectionIn, "My order is 123. Photo attached:")
	m.Type, m.Media = tandem.MessageImage, &tandem.Media{URL: "https://tandem.example/media/m7.jpg", Mime: "image/jpeg", Name: "photo.jpg"}
	m.CreatedAt = t0.Add(1250 * time.Millisecond)
	if err := d.Send(ctx, hid, &m); err != nil {
		t.Fatal(err)
	}
	r := fd.Requests(webhook.PathChat)[0]
	checkHeaders(t, r, "u")
	want := `{"conversation_id":"` + hid + `","timestamp":` + strconv.FormatInt(m.CreatedAt.UnixMilli(), 10) + `,"body":"My order is 123. Photo attached:\nhttps://tandem.example/media/m7.jpg",` +
		`"message_id":"m7","attachments":[{"type":"image","url":"https://tandem.example/media/m7.jpg","mime":"image/jpeg","name":"photo.jpg"}]}`
	if string(r.Body) != want {
		t.Errorf("chat body:\n got %s\nwant %s", r.Body, want)
	}

	// Retries: the outbox calls Send again; the 4th failure gives up.
	fd.Script(webhook.PathChat, webhooktest.Reply{Status: 500}, webhooktest.Reply{Status: 502}, webhooktest.Reply{Status: 503}, webhooktest.Reply{Status: 500})
	m2 := msg("m8", tandem.DirectionIn, "hello?")
	for i := 1; i <= 4; i++ {
		err := d.Send(ctx, hid, &m2)
		if err == nil {
			t.Fatalf("attempt %d succeeded", i)
		}
		if got, want := tandem.IsPermanent(err), i == 4; got != want {
			t.Errorf("attempt %d: permanent %v, want %v (%v)", i, got, want, err)
		}
	}
	reqs := fd.Requests(webhook.PathChat)[1:]
	for _, r := range reqs[1:] {
		if string(r.Body) != string(reqs[0].Body) || r.Header.Get("Idempotency-Key") != reqs[0].Header.Get("Idempotency-Key") {
			t.Error("a retried chat changed its body or Idempotency-Key")
		}
	}
	fd.Script(webhook.PathChat, webhooktest.Reply{Status: 400})
	if err := d.Send(ctx, hid, &m2); !tandem.IsPermanent(err) {
		t.Errorf("a 400 is not permanent: %v", err)
	}
	// A customer message queued before the establish answered has no session: the desk knows it.
	m3 := msg("m9", tandem.DirectionIn, "are you there?")
	if err := d.Send(ctx, "", &m3); err != nil {
		t.Fatal(err)
	}
	if got := fd.Requests(webhook.PathChat); got[len(got)-1].JSON(t)["conversation_id"] != hid {
		t.Errorf("chat without a session went to %v, want %s", got[len(got)-1].JSON(t)["conversation_id"], hid)
	}
}

// A chat that stalls past the timeout is a retryable error, quickly.
func TestChatTimeout(t *testing.T) {
	t.Parallel()
	d, fd, _ := setup(t, func(c *desk.Config) { c.Timeout = 100 * time.Millisecond })
	fd.Script(webhook.PathChat, webhooktest.Reply{Stall: 15 * time.Second})
	m := msg("m1", tandem.DirectionIn, "hi")
	start := time.Now()
	err := d.Send(context.Background(), "hf_cv1_abcdefghij", &m)
	if err == nil || tandem.IsPermanent(err) || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("err %v, want a retryable timeout", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s", el)
	}
}

// close: TIMEOUT or USER_CLOSED, with a reason, the same timestamp on every attempt.
func TestClose(t *testing.T) {
	t.Parallel()
	d, fd, clk := setup(t, nil)
	ctx := context.Background()
	fd.Script(webhook.PathClose, webhooktest.Reply{Status: 500})
	if err := d.Close(ctx, "hf_cv1_abcdefghij", tandem.CloseTimeout); err == nil || tandem.IsPermanent(err) {
		t.Fatalf("first attempt: %v, want a retryable error", err)
	}
	clk.Advance(2 * time.Second)
	if err := d.Close(ctx, "hf_cv1_abcdefghij", tandem.CloseTimeout); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(ctx, "hf_cv2_abcdefghij", tandem.CloseUserClosed); err != nil {
		t.Fatal(err)
	}
	reqs := fd.Requests(webhook.PathClose)
	if string(reqs[0].Body) != string(reqs[1].Body) {
		t.Errorf("the retried close changed: %s then %s", reqs[0].Body, reqs[1].Body)
	}
	checkHeaders(t, reqs[0], "u")
	got, other := reqs[0].JSON(t), reqs[2].JSON(t)
	if got["type"] != "TIMEOUT" || got["timestamp"] != float64(t0.UnixMilli()) || got["conversation_id"] != "hf_cv1_abcdefghij" || got["reason"] == "" {
		t.Errorf("close %s", reqs[0].Body)
	}
	if other["type"] != "USER_CLOSED" {
		t.Errorf("close %s, want USER_CLOSED", reqs[2].Body)
	}
}

// Health: not configured without a url; without health_url nothing is probed; a failed establish
// holds Unavailable for 60 s; health_url is checked at most every 30 s, and a good check or
// establish clears Unavailable at once.
func TestHealth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("not configured", func(t *testing.T) {
		t.Parallel()
		d, _, _ := setup(t, func(c *desk.Config) { c.URL = "" })
		if err := d.Health(ctx); err == nil || d.Status() != desk.StatusNotConfigured {
			t.Errorf("Health %v, Status %s", err, d.Status())
		}
	})
	t.Run("no health_url", func(t *testing.T) {
		t.Parallel()
		d, fd, clk := setup(t, nil)
		if err := d.Health(ctx); err != nil || len(fd.Requests("")) != 0 {
			t.Fatalf("Health %v after %d requests, want nil and none", err, len(fd.Requests("")))
		}
		fd.Script(webhook.PathEstablish, webhooktest.Reply{Status: 400})
		d.Start(ctx, start(msg("m1", tandem.DirectionIn, "help")))
		if d.Health(ctx) == nil || d.Status() != desk.StatusUnavailable {
			t.Error("available after a failed establish")
		}
		clk.Advance(61 * time.Second)
		if err := d.Health(ctx); err != nil || d.Status() != desk.StatusAvailable {
			t.Errorf("60 s after a failed establish: %v", err)
		}
	})
	t.Run("health_url", func(t *testing.T) {
		t.Parallel()
		fd := webhooktest.New(t)
		dk, err := desk.New(desk.Config{ID: "desk", Kind: webhook.Kind, URL: fd.URL, Username: "u", Password: testPassword, Secret: testSecret,
			HealthURL: fd.URL + "/health"}, desk.Deps{HTTP: fd.Client()})
		if err != nil {
			t.Fatal(err)
		}
		d := dk.(*webhook.Desk)
		clk := &fakeClock{now: t0}
		d.Now, d.Sleep = clk.Now, clk.Sleep
		fd.SetHealth(503)
		if err := d.Health(ctx); err == nil {
			t.Fatal("Health fine with /health answering 503")
		}
		fd.SetHealth(200)
		if err := d.Health(ctx); err == nil {
			t.Error("checked again within 30 s")
		}
		if n := len(fd.Requests("/health")); n != 1 {
			t.Errorf("%d checks, want 1", n)
		}
		checkHeaders := fd.Requests("/health")[0].Header
		if checkHeaders.Get("Authorization") == "" || !strings.HasPrefix(checkHeaders.Get("User-Agent"), "tandem/") {
			t.Errorf("health check headers %v", checkHeaders)
		}
		// A good establish clears it at once.
		if _, err := d.Start(ctx, start(msg("m1", tandem.DirectionIn, "help"))); err != nil {
			t.Fatal(err)
		}
		if err := d.Health(ctx); err != nil {
			t.Errorf("after a good establish: %v", err)
		}
		fd.SetHealth(500)
		clk.Advance(31 * time.Second)
		if err := d.Health(ctx); err == nil {
			t.Error("fine after /health answered 500")
		}
		fd.SetHealth(204)
		clk.Advance(31 * time.Second)
		if err := d.Health(ctx); err != nil {
			t.Errorf("after a good check: %v", err)
		}
	})
}

// The desk refuses a configuration it cannot work with, naming the key, never the secret.
func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []desk.Config{
		{ID: "d", URL: "ftp://desk.example", Secret: testSecret},
		{ID: "d", URL: "https://desk.example", Secret: testSecret, HealthURL: "nope"},
	} {
		_, err := webhook.New(c, desk.Deps{})
		if err == nil {
			t.Errorf("New(%+v) succeeded", c)
			continue
		}
		if strings.Contains(err.Error(), c.Secret) && c.Secret != "" {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	if !slices.Contains(desk.Kinds(), webhook.Kind) {
		t.Errorf("kind %q is not registered: %v", webhook.Kind, desk.Kinds())
	}
	d, _ := webhook.New(desk.Config{ID: "d", URL: "https://desk.example", Secret: testSecret}, desk.Deps{})
	if !d.NeedsEmail() {
		t.Error("a webhook desk needs an e-mail")
	}
}

// Errors never show the password, even when it is in the URL.
func TestErrorsHideCredentials(t *testing.T) {
	t.Parallel()
	d, fd, _ := setup(t, nil)
	d.URL = strings.Replace(fd.URL, "http://", "http://u:"+testPassword+"@", 1)
	fd.Script(webhook.PathChat, webhooktest.Reply{Status: 500})
	m := msg("m1", tandem.DirectionIn, "hi")
	err := d.Send(context.Background(), "hf_cv1_abcdefghij", &m)
	if err == nil || strings.Contains(err.Error(), testPassword) {
		t.Errorf("err %v", err)
	}
}
