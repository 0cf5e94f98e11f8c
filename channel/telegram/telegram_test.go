package telegram_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/channel/channeltest"
	"github.com/tandemchat/tandem/channel/telegram"
)

const (
	botToken = "123456:ABC-test-bot-token-do-not-leak"
	secret   = "tg-secret-do-not-leak"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fileContent is what the fake Bot API serves for a file id.
func fileContent(id string) []byte { return bytes.Repeat([]byte(id+";"), 50) }

func botError(status int, description string, retryAfter int) channeltest.Response {
	b := map[string]any{"ok": false, "error_code": status, "description": description}
	if retryAfter > 0 {
		b["parameters"] = map[string]any{"retry_after": retryAfter}
	}
	data, _ := json.Marshal(b)
	return channeltest.Response{Status: status, Body: data}
}

func ok(result string) channeltest.Response {
	return channeltest.Response{Body: []byte(`{"ok": true, "result": ` + result + `}`)}
}

// bot fakes the Bot API's methods other than sends, and file downloads.
func bot(p *channeltest.Platform, w http.ResponseWriter, r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/file/bot"+botToken+"/") {
		id := strings.TrimPrefix(r.URL.Path, "/file/bot"+botToken+"/files/")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(fileContent(id))
		return true
	}
	method, found := strings.CutPrefix(r.URL.Path, "/bot"+botToken+"/")
	if !found {
		channeltest.Write(w, botError(404, "Not Found", 0))
		return true
	}
	switch method {
	case "getFile":
		var req struct {
			FileID string `json:"file_id"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if req.FileID == "gone" {
			channeltest.Write(w, botError(400, "Bad Request: invalid file_id", 0))
			return true
		}
		res, _ := json.Marshal(map[string]any{"file_id": req.FileID, "file_unique_id": "u", "file_size": len(fileContent(req.FileID)), "file_path": "files/" + req.FileID})
		channeltest.Write(w, ok(string(res)))
	case "getMe":
		channeltest.Write(w, ok(`{"id": 999, "is_bot": true, "first_name": "ACME Bot", "username": "acme_bot"}`))
	case "getWebhookInfo":
		channeltest.Write(w, ok(`{"url": "https://bot.acme.com/hooks/telegram/tg", "has_custom_certificate": false, "pending_update_count": 2}`))
	case "setWebhook", "answerCallbackQuery":
		channeltest.Write(w, ok("true"))
	default:
		return false
	}
	return true
}

func suite(t *testing.T) *channeltest.Suite {
	nic := func(w channeltest.Want) channeltest.Want { w.ExternalID, w.Name = "3527065", "Nic Pottier"; return w }
	test := func(w channeltest.Want) channeltest.Want {
		w.ExternalID, w.Name = "1111111", "Test Firstname Test Lastname"
		return w
	}
	size := func(id string) int64 { return int64(len(fileContent(id))) }
	return &channeltest.Suite{
		Config:  channel.Config{ID: "tg", Kind: telegram.Kind, BotToken: botToken, SecretToken: secret},
		Secrets: []string{botToken, secret},
		Hook:    "/hooks/telegram/tg",
		Sign:    func(r *http.Request, _ []byte) { r.Header.Set(telegram.SecretHeader, secret) },
		Forgeries: map[string]func(r *http.Request){
			"no secret":       func(r *http.Request) { r.Header.Del(telegram.SecretHeader) },
			"another secret":  func(r *http.Request) { r.Header.Set(telegram.SecretHeader, "tg-secret-do-not-leaK") },
			"the bot token":   func(r *http.Request) { r.Header.Set(telegram.SecretHeader, botToken) },
			"an empty secret": func(r *http.Request) { r.Header.Set(telegram.SecretHeader, "") },
		},
		Incoming: []channeltest.Incoming{
			{Name: "text", Body: fixture(t, "update_message_text_courier.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "text", Text: "Hello World"})}},
			{Name: "start", Body: fixture(t, "update_message_text_official_docs.json"), Want: []channeltest.Want{test(channeltest.Want{Type: "text", Text: "/start"})}},
			{Name: "start with a payload", Body: fixture(t, "update_message_start_payload_tandem.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "text", Text: "/start order-10234"})}},
			{Name: "photo", Body: fixture(t, "update_message_photo_courier.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "image", Text: "Photo Caption",
				MediaMime: "image/jpeg", MediaSize: size("AgADAQADtKcxG4LRUUQSQVUjfJIiiF8G6C8ABA9NJzFdXskaincBAAEC")})}},
			{Name: "document", Body: fixture(t, "update_message_document_official_docs.json"), Want: []channeltest.Want{test(channeltest.Want{Type: "file",
				MediaMime: "application/pdf", MediaSize: size("AwADBAADbXXXXXXXXXXXGBdhD2l6_XX")})}},
			{Name: "voice", Body: fixture(t, "update_message_voice_tandem.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "audio", MediaMime: "audio/ogg", MediaSize: size("voice-file-1")})}},
			{Name: "sticker", Body: fixture(t, "update_message_sticker_tandem.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "sticker", MediaMime: "image/webp", MediaSize: size("sticker-file-1")})}},
			{Name: "file too large", Body: fixture(t, "update_message_too_large_tandem.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "file", Text: "our catalog", MediaError: true})}},
			{Name: "location", Body: fixture(t, "update_message_location_tandem.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "location", Location: &tandem.Location{Lat: -23.5489, Lng: -46.6388}})}},
			{Name: "venue", Body: fixture(t, "update_message_venue_tandem.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "location",
				Location: &tandem.Location{Lat: 37.4847, Lng: -122.1473, Name: "Philz Coffee", Address: "101 Forest Ave, Palo Alto"}})}},
			{Name: "contact card", Body: fixture(t, "update_message_contact_other_tandem.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "contact", Text: "Ana +14155550123",
				Contacts: []tandem.SharedContact{{Name: "Ana", Phones: []string{"+14155550123"}}}})}},
			{Name: "button tap", Body: fixture(t, "update_callback_query_option_tandem.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "option", Option: "sales", Text: "Sales", RefersTo: "3527065:133"})}},
			{Name: "inline button tap", Body: fixture(t, "update_callback_query_official_docs.json"), Want: []channeltest.Want{test(channeltest.Want{Type: "option",
				Option: "Data from button callback"})}},
			{Name: "edit", Body: fixture(t, "update_edited_message_tandem.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "edit", Text: "Hello World, edited", RefersTo: "3527065:41"})}},
			{Name: "poll", Body: fixture(t, "update_message_poll_tandem.json"), Want: []channeltest.Want{nic(channeltest.Want{Type: "unsupported", Data: map[string]any{"type": "poll"}})}},
			{Name: "group message", Body: fixture(t, "update_message_group_tandem.json")},
			{Name: "channel post", Body: fixture(t, "update_channel_post_tandem.json")},
			{Name: "bot blocked", Body: fixture(t, "update_my_chat_member_kicked_tandem.json")},
		},
		Outgoing: outgoing(),
		Platform: bot,
		IsSend: func(r *http.Request, _ []byte) bool {
			return strings.HasPrefix(r.URL.Path, "/bot"+botToken+"/send")
		},
		SendOK:        channeltest.Response{Body: fixture(t, "sendmessage_response_minimal_courier.json")},
		Throttled:     botError(429, "Too Many Requests: retry after 35", 35),
		ThrottleDelay: 35 * time.Second,
		ServerError:   botError(502, "Bad Gateway", 0),
		Rejected:      botError(400, "Bad Request: chat not found", 0),
		RejectedText:  []string{"400", "chat not found"},
		RejectedError: tandem.MessageError{Code: "400", Message: "Bad Request: chat not found"},
	}
}

func outgoing() []channeltest.Outgoing {
	nic := tandem.Contact{ID: "c1", ExternalID: "3527065", Name: "Nic"}
	return []channeltest.Outgoing{
		{Name: "text", Contact: nic, Golden: "text.json", Message: tandem.Message{Type: "text", Text: "Simple Message <b>not HTML</b> & *not markdown*"}},
		{Name: "buttons", Contact: nic, Golden: "buttons.json", Message: tandem.Message{Type: "text", Text: "How can I help?", Render: "buttons",
			Buttons: []tandem.Button{{ID: "sales", Title: "Sales"}, {ID: "support", Title: "Support"}, {ID: "billing", Title: "Billing"}, {ID: "other", Title: "Something else"}}}},
		{Name: "list", Contact: nic, Golden: "list.json", Message: tandem.Message{Type: "text", Text: "Pick a plan", Render: "list",
			Buttons: []tandem.Button{{ID: "basic", Title: "Basic"}, {ID: "standard", Title: "Standard"}, {ID: strings.Repeat("premium", 10), Title: "Premium"}}}},
		{Name: "photo by link", Contact: nic, Golden: "photo.json", Message: tandem.Message{Type: "image", Text: "Our menu",
			Media: &tandem.Media{Type: "image", URL: "https://cdn.example.com/menu.jpg"}}},
		{Name: "photo with a long text and buttons", Contact: nic, Golden: "photo_long_text.json", Message: tandem.Message{Type: "image", Text: strings.Repeat("A long caption. ", 80),
			Media: &tandem.Media{Type: "image", URL: "https://cdn.example.com/menu.jpg"}, Render: "buttons", Buttons: []tandem.Button{{ID: "yes", Title: "Yes"}}}},
		{Name: "kept document by upload", Contact: nic,
			Setup: func(e *channeltest.Env) {
				if _, err := e.DB.MediaPut(context.Background(), tandem.MediaFile{ID: "kept-1", Mime: "application/pdf", Name: "invoice.pdf"}, strings.NewReader("%PDF-1.4 ..."), 1<<20); err != nil {
					e.T.Fatal(err)
				}
			},
			Message: tandem.Message{Type: "file", Text: "Your invoice", Media: &tandem.Media{Type: "file", ID: "kept-1", URL: channel.MediaURL("kept-1"), Name: "invoice.pdf"}}},
	}
}

func TestSuite(t *testing.T) {
	t.Parallel()
	channeltest.Run(t, suite(t))
}

// A kept file goes up as multipart with its name and type, its caption and the chat.
func TestUpload(t *testing.T) {
	t.Parallel()
	e := channeltest.NewEnv(t, suite(t))
	if _, err := e.DB.MediaPut(context.Background(), tandem.MediaFile{ID: "kept-1", Mime: "application/pdf", Name: "invoice.pdf"}, strings.NewReader("%PDF-1.4 ..."), 1<<20); err != nil {
		t.Fatal(err)
	}
	_, err := e.Channel.Send(context.Background(), tandem.Outbound{Conversation: &tandem.Conversation{ID: "c"}, Contact: &tandem.Contact{ExternalID: "3527065"},
		Message: &tandem.Message{ID: "m", Type: "file", Text: "Your invoice", Media: &tandem.Media{Type: "file", URL: channel.MediaURL("kept-1")}}})
	if err != nil {
		t.Fatal(err)
	}
	sends := e.Platform.Sends()
	if len(sends) != 1 || !strings.HasSuffix(sends[0].Path, "/sendDocument") {
		t.Fatalf("sends %+v, want one sendDocument", sends)
	}
	_, params, _ := mime.ParseMediaType(sends[0].Header.Get("Content-Type"))
	mr := multipart.NewReader(bytes.NewReader(sends[0].Body), params["boundary"])
	got := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		got[p.FormName()] = string(b)
		if p.FormName() == "document" {
			got["filename"], got["type"] = p.FileName(), p.Header.Get("Content-Type")
		}
	}
	want := map[string]string{"chat_id": "3527065", "caption": "Your invoice", "document": "%PDF-1.4 ...", "filename": "invoice.pdf", "type": "application/pdf"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// "/start <payload>" reaches the flow as the message's text and as var.start_payload.
func TestStartPayload(t *testing.T) {
	t.Parallel()
	e := channeltest.NewEnv(t, suite(t))
	e.Publish(`format: 1
id: start
trigger: {on: message, match: {regex: "^/start"}, priority: 5}
variables: {start_payload: ""}
steps:
  - {id: hi, type: message, text: "text={{message.text}} payload={{var.start_payload}}"}
`)
	if st := e.Post(fixture(t, "update_message_start_payload_tandem.json"), true, nil); st != 200 {
		t.Fatal(st)
	}
	e.Drain()
	got := e.Outbound(t, e.Conversations()[0].ID)
	if want := "text=/start order-10234 payload=order-10234"; got[len(got)-1] != want {
		t.Errorf("the bot said %q, want %q", got, want)
	}
}

// A button tap is answered with answerCallbackQuery (the spinner stops) after it is stored.
func TestCallbackAnswered(t *testing.T) {
	t.Parallel()
	e := channeltest.NewEnv(t, suite(t))
	if st := e.Post(fixture(t, "update_callback_query_option_tandem.json"), true, nil); st != 200 {
		t.Fatal(st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, r := range e.Platform.Requests() {
			if strings.HasSuffix(r.Path, "/answerCallbackQuery") {
				if !bytes.Contains(r.Body, []byte(`"callback_query_id":"4382bfdwdsb323b2d9"`)) {
					t.Errorf("answerCallbackQuery %s", r.Body)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the tap was not answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A customer who blocked the bot (403 on a send, or my_chat_member kicked) gets nothing more
// until they write again; the failed reply takes on_failed with Telegram's reason.
func TestBlockedByTheUser(t *testing.T) {
	t.Parallel()
	blocked := botError(403, "Forbidden: bot was blocked by the user", 0)
	t.Run("403 on a send", func(t *testing.T) {
		t.Parallel()
		e := channeltest.NewEnv(t, suite(t))
		e.Platform.Queue(blocked)
		conv, _ := e.Open(t)
		if n := len(e.Platform.Sends()); n != 1 {
			t.Fatalf("%d sends, want 1", n)
		}
		e.Start(conv, "track")
		e.Advance(time.Hour)
		if n := len(e.Platform.Sends()); n != 1 {
			t.Errorf("%d sends after the customer blocked the bot, want none more", n-1)
		}
		got := e.Outbound(t, conv)
		if last := got[len(got)-1]; !strings.Contains(last, "blocked") {
			t.Errorf("the tracked message's failure %q does not say the customer blocked the bot", last)
		}
		// They write again: the bot answers.
		if st := e.Post(fixture(t, "update_message_start_payload_tandem.json"), true, nil); st != 200 {
			t.Fatal(st)
		}
		e.Drain()
		if n := len(e.Platform.Sends()); n != 2 {
			t.Errorf("%d sends after the customer wrote again, want 2", n)
		}
	})
	t.Run("my_chat_member kicked", func(t *testing.T) {
		t.Parallel()
		e := channeltest.NewEnv(t, suite(t))
		conv, _ := e.Open(t)
		if st := e.Post(fixture(t, "update_my_chat_member_kicked_tandem.json"), true, nil); st != 200 {
			t.Fatal(st)
		}
		e.Start(conv, "track")
		if n := len(e.Platform.Sends()); n != 1 {
			t.Errorf("%d sends, want only the first reply", n)
		}
	})
}

// Start registers the webhook with its secret token and the update kinds Tandem handles.
func TestSetWebhookAtStart(t *testing.T) {
	t.Parallel()
	e := channeltest.NewEnv(t, suite(t))
	ch, _ := telegram.New(channel.Config{ID: "tg", Kind: telegram.Kind, BotToken: botToken, SecretToken: secret, BaseURL: e.Platform.URL, PublicURL: "https://bot.acme.com/"},
		channel.Deps{HTTP: e.Platform.Client()})
	if err := ch.(channel.Starter).Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	for _, r := range e.Platform.Requests() {
		if strings.HasSuffix(r.Path, "/setWebhook") {
			json.Unmarshal(r.Body, &got)
		}
	}
	if got["url"] != "https://bot.acme.com/hooks/telegram/tg" || got["secret_token"] != secret || len(got["allowed_updates"].([]any)) != 4 {
		t.Errorf("setWebhook %v", got)
	}
	// Without a secret_token one is derived from the bot token: the webhook is never open.
	derived, _ := telegram.New(channel.Config{ID: "tg", Kind: telegram.Kind, BotToken: botToken}, channel.Deps{})
	if s := derived.(*telegram.Channel).SecretToken(); len(s) < 32 || strings.Contains(s, botToken) {
		t.Errorf("derived secret %q", s)
	}
}

// Health names the bot and its webhook; a refused token is unavailable; no token is not
// configured.
func TestHealth(t *testing.T) {
	t.Parallel()
	e := channeltest.NewEnv(t, suite(t))
	h := e.Channel.Health(context.Background())
	if h.Status != channel.Available || !strings.Contains(h.Detail, "@acme_bot") || !strings.Contains(h.Detail, "2 updates waiting") || strings.Contains(h.Detail, botToken) {
		t.Errorf("health %+v", h)
	}
	bad, _ := telegram.New(channel.Config{ID: "tg", Kind: telegram.Kind, BotToken: "1:wrong", BaseURL: e.Platform.URL}, channel.Deps{HTTP: e.Platform.Client()})
	if h := bad.Health(context.Background()); h.Status != channel.Unavailable || strings.Contains(h.Detail, "1:wrong") {
		t.Errorf("health with a wrong token %+v", h)
	}
	empty, _ := telegram.New(channel.Config{ID: "tg", Kind: telegram.Kind}, channel.Deps{})
	if h := empty.Health(context.Background()); h.Status != channel.NotConfigured || !strings.Contains(h.Detail, "bot_token") {
		t.Errorf("health without a token %+v", h)
	}
}

// A network failure names neither the URL nor the token.
func TestErrorsHideTheToken(t *testing.T) {
	t.Parallel()
	ch, _ := telegram.New(channel.Config{ID: "tg", Kind: telegram.Kind, BotToken: botToken, BaseURL: "http://127.0.0.1:1"}, channel.Deps{})
	_, err := ch.Send(context.Background(), tandem.Outbound{Conversation: &tandem.Conversation{ID: "c"}, Contact: &tandem.Contact{ExternalID: "1"},
		Message: &tandem.Message{ID: "m", Type: "text", Text: "hi"}})
	if err == nil || strings.Contains(err.Error(), botToken) || tandem.IsPermanent(err) {
		t.Errorf("err = %v; want a retryable error without the token", err)
	}
}

// A live location moves by edits of its message: the edit carries the new position, so the
// conversation shows where the customer is now, not only that something changed.
func TestEditedLiveLocation(t *testing.T) {
	t.Parallel()
	ch, err := telegram.New(channel.Config{ID: "tg", Kind: telegram.Kind, BotToken: botToken}, channel.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"update_id": 5001, "edited_message": {"message_id": 9, "from": {"id": 7002, "first_name": "Kai"},
		"chat": {"id": 7002, "type": "private"}, "date": 1765000000, "edit_date": 1765000030,
		"location": {"latitude": -22.9519, "longitude": -43.2105, "live_period": 900}}}`)
	b, err := ch.(channel.Parser).Parse(context.Background(), nil, body)
	if err != nil || len(b.Messages) != 1 {
		t.Fatalf("Parse: %v, %+v", err, b)
	}
	m := b.Messages[0].Message
	if m.Type != tandem.MessageEdit || m.RefersTo != "7002:9" {
		t.Errorf("type %q refers_to %q, want an edit of 7002:9", m.Type, m.RefersTo)
	}
	if m.Location == nil || m.Location.Lat != -22.9519 || m.Location.Lng != -43.2105 {
		t.Errorf("location %+v, want the new position", m.Location)
	}
}
