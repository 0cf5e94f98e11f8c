package whatsapp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/channel/channeltest"
	"github.com/tandemchat/tandem/channel/whatsapp"
)

const (
	phoneID     = "1234567890"
	accessToken = "EAAG-test-access-token-do-not-leak"
	appSecret   = "app-secret-do-not-leak"
	verifyToken = "verify-token-do-not-leak"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mediaContent is what the fake Graph API serves for a media id.
func mediaContent(id string) []byte { return bytes.Repeat([]byte(id+";"), 100) }

// metaImageSHA is the sha256 of the Meta example image, as its webhook carries it.
const metaImageSHA = "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI="

func graphError(status, code int, message string, header http.Header) channeltest.Response {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"message": message, "type": "OAuthException", "code": code,
		"error_data": map[string]any{"messaging_product": "whatsapp", "details": message}, "fbtrace_id": "Az8or2yhqkZfEZ"}})
	return channeltest.Response{Status: status, Header: header, Body: body}
}

func suite(t *testing.T) *channeltest.Suite {
	sign := func(r *http.Request, body []byte) {
		r.Header.Set("X-Hub-Signature-256", whatsapp.Sign(appSecret, body))
	}
	kerry := func(w channeltest.Want) channeltest.Want { w.ExternalID, w.Name = "5678", "Kerry Fisher"; return w }
	sheena := func(w channeltest.Want) channeltest.Want {
		w.ExternalID, w.Name = "16505551234", "Sheena Nelson"
		return w
	}
	size := func(id string) int64 { return int64(len(mediaContent(id))) }
	return &channeltest.Suite{
		Config:  channel.Config{ID: "wa", Kind: whatsapp.Kind, PhoneNumberID: phoneID, AccessToken: accessToken, AppSecret: appSecret, VerifyToken: verifyToken},
		Secrets: []string{accessToken, appSecret, verifyToken},
		Hook:    "/hooks/whatsapp/wa",
		Sign:    sign,
		Forgeries: map[string]func(r *http.Request){
			"no signature": func(r *http.Request) { r.Header.Del("X-Hub-Signature-256") },
			"another app secret": func(r *http.Request) {
				r.Header.Set("X-Hub-Signature-256", whatsapp.Sign("another-secret", []byte("{}")))
			},
			"no sha256= prefix": func(r *http.Request) {
				r.Header.Set("X-Hub-Signature-256", strings.TrimPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256="))
			},
			"signature of a body": func(r *http.Request) {
				r.Header.Set("X-Hub-Signature-256", whatsapp.Sign(appSecret, []byte(`{"object":"whatsapp_business_account"}`)))
			},
		},
		Rewrite: func(body []byte, platform string) []byte {
			body = bytes.ReplaceAll(body, []byte("106540352242922"), []byte(phoneID))
			body = bytes.ReplaceAll(body, []byte("https://lookaside.fbsbx.com/"), []byte(platform+"/lookaside/"))
			sum := sha256.Sum256(mediaContent("lookaside"))
			return bytes.ReplaceAll(body, []byte(metaImageSHA), []byte(base64.StdEncoding.EncodeToString(sum[:])))
		},
		Incoming: []channeltest.Incoming{
			{Name: "text", Body: fixture(t, "webhook_inbound_text_courier.json"), Want: []channeltest.Want{kerry(channeltest.Want{Type: "text", Text: "Hello World"})}},
			{Name: "image", Body: fixture(t, "webhook_inbound_image_courier.json"), Want: []channeltest.Want{
				kerry(channeltest.Want{Type: "image", Text: "Check out my new phone!", MediaMime: "image/jpeg", MediaSize: size("id_image")})}},
			{Name: "image with its URL", Body: fixture(t, "webhook_inbound_image_meta_docs.json"), Want: []channeltest.Want{
				sheena(channeltest.Want{Type: "image", Text: "Taj Mahal", MediaMime: "image/jpeg", MediaSize: size("lookaside")})}},
			{Name: "document", Body: fixture(t, "webhook_inbound_document_courier.json"), Want: []channeltest.Want{
				kerry(channeltest.Want{Type: "file", Text: "80skaraokesonglistartist", MediaMime: "application/pdf", MediaSize: size("id_document")})}},
			{Name: "voice note", Body: fixture(t, "webhook_inbound_voice_tandem.json"), Want: []channeltest.Want{
				sheena(channeltest.Want{Type: "audio", MediaMime: "audio/ogg; codecs=opus", MediaSize: size("id_voice")})}},
			{Name: "file too large", Body: fixture(t, "webhook_inbound_too_large_tandem.json"), Want: []channeltest.Want{
				sheena(channeltest.Want{Type: "file", Text: "our catalog", MediaError: true})}},
			{Name: "file while WhatsApp is down", Body: fixture(t, "webhook_inbound_media_unavailable_tandem.json"), Want: []channeltest.Want{
				sheena(channeltest.Want{Type: "image", Text: "my receipt", MediaError: true})}},
			{Name: "button reply", Body: fixture(t, "webhook_inbound_interactive_button_reply_courier.json"), Want: []channeltest.Want{
				kerry(channeltest.Want{Type: "option", Option: "id_button_reply", Text: "Yes"})}},
			{Name: "list reply", Body: fixture(t, "webhook_inbound_interactive_list_reply_courier.json"), Want: []channeltest.Want{
				kerry(channeltest.Want{Type: "option", Option: "id_list_reply", Text: "Yes"})}},
			{Name: "list reply with context", Body: fixture(t, "webhook_inbound_list_reply_meta_docs.json"), Want: []channeltest.Want{
				sheena(channeltest.Want{Type: "option", Option: "priority_express", Text: "Priority Mail Express",
					RefersTo: "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="})}},
			{Name: "template quick reply", Body: fixture(t, "webhook_inbound_template_quick_reply_button_courier.json"), Want: []channeltest.Want{
				kerry(channeltest.Want{Type: "option", Option: "No-Button-Payload", Text: "No", RefersTo: "gBGGFmkiWVVPAgkgQkwi7IORac0"})}},
			{Name: "form", Body: fixture(t, "webhook_inbound_nfm_reply_tandem.json"), Want: []channeltest.Want{
				sheena(channeltest.Want{Type: "form", Text: "Sent", Data: map[string]any{"appointment_date": "2026-03-10", "party_size": 4.0, "flow_name": "flow"}})}},
			{Name: "location", Body: fixture(t, "webhook_inbound_location_tandem.json"), Want: []channeltest.Want{
				sheena(channeltest.Want{Type: "location", Location: &tandem.Location{Lat: 37.4847, Lng: -122.1473, Name: "Philz Coffee", Address: "101 Forest Ave, Palo Alto, CA 94301"}})}},
			{Name: "contact card", Body: fixture(t, "webhook_inbound_contacts_tandem.json"), Want: []channeltest.Want{
				sheena(channeltest.Want{Type: "contact", Text: "Barbara J. Johnson +1 (940) 555-1234", Contacts: []tandem.SharedContact{
					{Name: "Barbara J. Johnson", Phones: []string{"+1 (940) 555-1234"}, Emails: []string{"bjohnson@example.com"}, Org: "Lucky Shrub"}}})}},
			{Name: "reaction", Body: fixture(t, "webhook_inbound_reaction_meta_docs.json"), Want: []channeltest.Want{
				sheena(channeltest.Want{Type: "reaction", Reaction: "👍", RefersTo: "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="})}},
			{Name: "unsupported", Body: fixture(t, "webhook_inbound_unsupported_meta_docs.json"), Want: []channeltest.Want{
				sheena(channeltest.Want{Type: "unsupported", Data: map[string]any{"type": "edit", "code": 131051.0}})}},
			{Name: "username without a number", Body: fixture(t, "webhook_inbound_username_tandem.json"), Want: []channeltest.Want{
				{ExternalID: "US.13491208655302741918", Name: "Pablo", Type: "text", Text: "hi from a username"}}},
			{Name: "batch of two customers", Body: fixture(t, "webhook_inbound_batch_tandem.json"), Want: []channeltest.Want{
				sheena(channeltest.Want{Type: "text", Text: "first"}),
				sheena(channeltest.Want{Type: "sticker", MediaMime: "image/webp", MediaSize: size("id_sticker")}),
				sheena(channeltest.Want{Type: "video", Text: "the delivery", MediaMime: "video/mp4", MediaSize: size("id_video")}),
				sheena(channeltest.Want{Type: "unsupported", Data: map[string]any{"type": "order"}}),
				{ExternalID: "447700900123", Name: "Harry Ng", Type: "text", Text: "someone else"}}},
			{Name: "status sent", Body: fixture(t, "webhook_status_sent_courier.json")},
			{Name: "status failed", Body: fixture(t, "webhook_status_failed_with_errors_courier.json")},
			{Name: "status failed 131049", Body: fixture(t, "webhook_status_failed_131049_meta_docs.json")},
		},
		StatusBody: func(st channel.Status, customer string) []byte {
			s := map[string]any{"id": st.ChannelMessageID, "status": st.Status, "timestamp": "1751142888", "recipient_id": customer,
				"biz_opaque_callback_data": st.ConversationID + "/" + st.MessageID}
			if st.Code != "" {
				var code int
				fmt.Sscan(st.Code, &code)
				s["errors"] = []any{map[string]any{"code": code, "title": st.Error, "message": st.Error}}
			}
			b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "1", "changes": []any{
				map[string]any{"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
					"metadata": map[string]any{"phone_number_id": phoneID}, "statuses": []any{s}}}}}}})
			return b
		},
		Outgoing: outgoing(),
		Platform: graph,
		IsSend: func(r *http.Request, body []byte) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") && !bytes.Contains(body, []byte(`"status":"read"`))
		},
		SendOK:        channeltest.Response{Body: fixture(t, "send_message_response_meta_docs.json")},
		Throttled:     channeltest.Response{Status: 429, Header: http.Header{"Retry-After": {"7"}}, Body: fixture(t, "graph_error_rate_limit_429_courier.json")},
		ThrottleDelay: 7 * time.Second,
		ServerError:   graphError(503, 2, "Service temporarily unavailable", nil),
		Rejected:      graphError(400, 131026, "Message Undeliverable.", nil),
		RejectedText:  []string{"131026", "Message Undeliverable."},
		RejectedError: tandem.MessageError{Code: "131026", Message: "Message Undeliverable."},
	}
}

// graph fakes the Graph API's other endpoints: the phone number (health), media lookups and
// downloads (the token is required), uploads.
func graph(p *channeltest.Platform, w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != "Bearer "+accessToken {
		channeltest.Write(w, graphError(401, 190, "Invalid OAuth access token.", nil))
		return true
	}
	path := strings.TrimPrefix(r.URL.Path, "/"+whatsapp.DefaultAPIVersion)
	switch {
	case r.Method == http.MethodGet && path == "/"+phoneID:
		channeltest.Write(w, channeltest.Response{Body: []byte(`{"display_phone_number": "+1 555-078-3881", "verified_name": "ACME", "quality_rating": "GREEN", "id": "` + phoneID + `"}`)})
	case r.Method == http.MethodPost && path == "/"+phoneID+"/media":
		channeltest.Write(w, channeltest.Response{Body: []byte(`{"id": "uploaded-media-1"}`)})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/files/"):
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(mediaContent(strings.TrimPrefix(r.URL.Path, "/files/")))
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/lookaside/"):
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(mediaContent("lookaside"))
	case r.Method == http.MethodGet && path == "/id_unavailable":
		channeltest.Write(w, graphError(503, 2, "Service temporarily unavailable", nil))
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/id_"):
		id := strings.TrimPrefix(path, "/")
		n := len(mediaContent(id))
		if id == "id_too_large" {
			n = 50 << 20
		}
		body, _ := json.Marshal(map[string]any{"messaging_product": "whatsapp", "url": p.URL + "/files/" + id, "mime_type": "application/octet-stream",
			"sha256": "", "file_size": fmt.Sprint(n), "id": id})
		channeltest.Write(w, channeltest.Response{Body: body})
	default:
		return false
	}
	return true
}

func outgoing() []channeltest.Outgoing {
	ana := tandem.Contact{ID: "c1", ExternalID: "16505551234", Name: "Ana"}
	long := strings.Repeat("A caption that goes on. ", 50)
	return []channeltest.Outgoing{
		{Name: "text", Contact: ana, Golden: "text.json", Message: tandem.Message{Type: "text", Text: "Simple Message"}},
		{Name: "text with a link", Contact: ana, Golden: "text_link.json", Message: tandem.Message{Type: "text",
			Text: "As requested, here's the link to our latest product: https://www.meta.com/quest/quest-3/"}},
		{Name: "buttons", Contact: ana, Golden: "buttons.json", Message: tandem.Message{Type: "text", Text: "Interactive Button Msg", Render: "buttons",
			Buttons: []tandem.Button{{ID: "0", Title: "ROW1"}, {ID: "1", Title: "ROW2"}, {ID: "2", Title: "ROW3"}}}},
		{Name: "buttons with an image", Contact: ana, Golden: "buttons_image.json", Message: tandem.Message{Type: "image", Text: "Interactive Button Msg", Render: "buttons",
			Buttons: []tandem.Button{{ID: "0", Title: "BUTTON1"}}, Media: &tandem.Media{Type: "image", URL: "https://foo.bar/image.jpg"}}},
		{Name: "list", Contact: ana, Golden: "list.json", Message: tandem.Message{Type: "text", Text: "Interactive List Msg", Render: "list",
			Buttons: []tandem.Button{{ID: "0", Title: "ROW1"}, {ID: "1", Title: "ROW2"}, {ID: "2", Title: "ROW3"}, {ID: "3", Title: "ROW4"}}}},
		{Name: "image by link", Contact: ana, Golden: "image.json", Message: tandem.Message{Type: "image", Text: "image caption",
			Media: &tandem.Media{Type: "image", URL: "https://foo.bar/image.jpg"}}},
		{Name: "image with a long text", Contact: ana, Golden: "image_long_text.json", Message: tandem.Message{Type: "image", Text: strings.TrimSpace(long),
			Media: &tandem.Media{Type: "image", URL: "https://foo.bar/image.jpg"}}},
		{Name: "kept document by upload", Contact: ana, Golden: "document_upload.json",
			Setup: func(e *channeltest.Env) {
				if _, err := e.DB.MediaPut(context.Background(), tandem.MediaFile{ID: "kept-1", Mime: "application/pdf", Name: "invoice.pdf"}, strings.NewReader("%PDF-1.4 ..."), 1<<20); err != nil {
					e.T.Fatal(err)
				}
			},
			Message: tandem.Message{Type: "file", Text: "Your invoice", Media: &tandem.Media{Type: "file", ID: "kept-1", URL: channel.MediaURL("kept-1"), Mime: "application/pdf", Name: "invoice.pdf"}}},
		{Name: "audio and a text", Contact: ana, Golden: "audio_text.json", Message: tandem.Message{Type: "audio", Text: "Listen to this",
			Media: &tandem.Media{Type: "audio", URL: "https://foo.bar/note.ogg"}}},
		{Name: "template", Contact: ana, Golden: "template.json", UseTemplate: true, Message: tandem.Message{Type: "text", Text: "Hi Chef, see you tomorrow",
			Template: &tandem.Template{Name: "revive_issue", Language: "en_US", Components: []any{
				map[string]any{"type": "body", "parameters": []any{map[string]any{"type": "text", "text": "Chef"}, map[string]any{"type": "text", "text": "tomorrow"}}}}}}},
		{Name: "username", Contact: tandem.Contact{ExternalID: "US.13491208655302741918"}, Golden: "username.json", Message: tandem.Message{Type: "text", Text: "Hi Pablo"}},
	}
}

func TestSuite(t *testing.T) {
	t.Parallel()
	channeltest.Run(t, suite(t))
}

// Our requests have the shape of the documented ones: every field of Meta's and courier's
// examples is in ours with the same value (the recipient aside: ours always has the +).
func TestRequestsMatchTheDocumentedOnes(t *testing.T) {
	t.Parallel()
	for golden, doc := range map[string]string{
		"text.json":          "send_text_request_courier.json",
		"text_link.json":     "send_text_request_meta_docs.json",
		"buttons.json":       "send_interactive_buttons_request_courier.json",
		"buttons_image.json": "send_interactive_button_image_header_request_courier.json",
		"image.json":         "send_image_request_courier.json",
		"template.json":      "send_template_body_params_request_courier.json",
	} {
		var got, want map[string]any
		if err := json.Unmarshal(fixture(t, filepath.Join("golden", golden)), &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(fixture(t, doc), &want); err != nil {
			t.Fatal(err)
		}
		delete(want, "to")
		if err := channeltest.Contains(got, want); err != nil {
			t.Errorf("%s against %s: %v", golden, doc, err)
		}
	}
	// The list differs on purpose: one section, always titled (a missing title is refused).
	var list map[string]any
	json.Unmarshal(fixture(t, filepath.Join("golden", "list.json")), &list)
	sections := list["interactive"].(map[string]any)["action"].(map[string]any)["sections"].([]any)
	if len(sections) != 1 || sections[0].(map[string]any)["title"] == "" {
		t.Errorf("list sections %v, want one with a title", sections)
	}
}

// The verify handshake echoes the challenge for the right token only.
func TestVerify(t *testing.T) {
	t.Parallel()
	e := channeltest.NewEnv(t, suite(t))
	for _, tc := range []struct {
		query  string
		status int
		body   string
	}{
		{"hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + verifyToken, 200, "1158201444"},
		{"hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong", 403, "verify token does not match"},
		// The right token with another mode: the answer names the mode, not the token.
		{"hub.mode=unsubscribe&hub.challenge=1158201444&hub.verify_token=" + verifyToken, 403, "hub.mode"},
		{"hub.mode=subscribe&hub.challenge=1158201444", 403, "verify token does not match"},
	} {
		resp, err := http.Get(e.API.URL + "/hooks/whatsapp/wa?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.status == 200 && b.String() != tc.body) || !strings.Contains(b.String(), tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.query, resp.StatusCode, b.String(), tc.status, tc.body)
		}
	}
	resp, _ := http.Get(e.API.URL + "/hooks/whatsapp/nope?hub.mode=subscribe&hub.challenge=1&hub.verify_token=" + verifyToken)
	if resp.StatusCode != 404 {
		t.Errorf("an unknown channel: %d, want 404", resp.StatusCode)
	}
	resp.Body.Close()
}

// One Meta app posts every number's webhooks to one URL: each change goes to the channel of its
// phone number; a number of another app (another secret) or of no channel is ignored.
func TestRoutingByPhoneNumber(t *testing.T) {
	t.Parallel()
	type got struct {
		channel string
		batch   *channel.Batch
	}
	var received []got
	inbox := channel.InboxFunc(func(ctx context.Context, id string, b *channel.Batch) (*channel.Receipt, error) {
		received = append(received, got{id, b})
		return &channel.Receipt{}, nil
	})
	chans := map[string]channel.Channel{}
	deps := channel.Deps{Inbox: inbox, Channels: func(string) map[string]channel.Channel { return chans }}
	for _, c := range []channel.Config{
		{ID: "wa1", Kind: whatsapp.Kind, PhoneNumberID: "1234567890", AccessToken: "t1", AppSecret: appSecret, VerifyToken: "v"},
		{ID: "wa2", Kind: whatsapp.Kind, PhoneNumberID: "106540352242922", AccessToken: "t2", AppSecret: appSecret, VerifyToken: "v"},
		{ID: "other", Kind: whatsapp.Kind, PhoneNumberID: "999", AccessToken: "t3", AppSecret: "another app", VerifyToken: "v"},
	} {
		ch, err := whatsapp.New(c, deps)
		if err != nil {
			t.Fatal(err)
		}
		chans[c.ID] = ch
	}
	var text, image, other map[string]any
	json.Unmarshal(fixture(t, "webhook_inbound_text_courier.json"), &text)
	json.Unmarshal(fixture(t, "webhook_inbound_reaction_meta_docs.json"), &image)
	json.Unmarshal(bytes.ReplaceAll(fixture(t, "webhook_inbound_text_courier.json"), []byte("1234567890"), []byte("999")), &other)
	batch := map[string]any{"object": "whatsapp_business_account", "entry": []any{text["entry"].([]any)[0], image["entry"].([]any)[0], other["entry"].([]any)[0]}}
	body, _ := json.Marshal(batch)
	var post channel.Route
	for _, rt := range channel.Routes(whatsapp.Kind) {
		if rt.Method == http.MethodPost {
			post = rt
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/hooks/whatsapp/wa1", bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", whatsapp.Sign(appSecret, body))
	w := httptest.NewRecorder()
	if err := post.Handle(chans["wa1"], w, req); err != nil || w.Code != 200 {
		t.Fatalf("answer %d, %v", w.Code, err)
	}
	if len(received) != 2 || received[0].channel != "wa1" || received[1].channel != "wa2" {
		t.Fatalf("received %+v, want wa1's text then wa2's reaction", received)
	}
	if m := received[1].batch.Messages[0].Message; m.Type != tandem.MessageReaction {
		t.Errorf("wa2 got %+v", m)
	}
}

// The Graph API's codes decide what a failed send does next.
func TestGraphErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		res       channeltest.Response
		permanent bool
		delay     time.Duration
		text      string
	}{
		{"throughput, no Retry-After", channeltest.Response{Status: 400, Body: fixture(t, "graph_error_130429_meta_docs.json")}, false, 5 * time.Second, "130429"},
		{"pair rate limit", graphError(400, 131056, "(#131056) Pair rate limit hit", nil), false, 6 * time.Second, "131056"},
		{"temporary", graphError(500, 131000, "Something went wrong", nil), false, 0, "131000"},
		{"re-engagement", graphError(400, whatsapp.CodeReengagement, "Re-engagement message", nil), true, 0, "131047"},
		{"invalid number", graphError(400, 131026, "Message undeliverable", nil), true, 0, "131026"},
		{"token expired", graphError(401, 190, "Error validating access token", nil), true, 0, "190"},
		{"unknown code", graphError(400, 999999, "Something new", nil), true, 0, "999999"},
		{"not JSON", channeltest.Response{Status: 502, Body: []byte("<html>bad gateway</html>")}, false, 0, "502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := channeltest.NewEnv(t, suite(t))
			e.Platform.Queue(tc.res)
			_, err := e.Channel.Send(context.Background(), tandem.Outbound{Conversation: &tandem.Conversation{ID: "c"}, Contact: &tandem.Contact{ExternalID: "16505551234"},
				Message: &tandem.Message{ID: "m", Type: "text", Text: "hi"}})
			if err == nil || tandem.IsPermanent(err) != tc.permanent || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v (permanent %v), want permanent=%v mentioning %s", err, tandem.IsPermanent(err), tc.permanent, tc.text)
			}
			if d, _ := tandem.RetryDelay(err); d != tc.delay {
				t.Errorf("delay %v, want %v", d, tc.delay)
			}
		})
	}
}

// Health names the number when the Graph API knows it, and the webhook to paste.
func TestHealth(t *testing.T) {
	t.Parallel()
	e := channeltest.NewEnv(t, suite(t))
	h := e.Channel.Health(context.Background())
	if h.Status != channel.Available || !strings.Contains(h.Detail, "+1 555-078-3881") || len(h.Webhooks) != 1 || h.Webhooks[0].URL != "/hooks/whatsapp/wa" {
		t.Errorf("health %+v", h)
	}
	bad, _ := whatsapp.New(channel.Config{ID: "wa", Kind: whatsapp.Kind, PhoneNumberID: phoneID, AccessToken: "expired", AppSecret: "s", VerifyToken: "v", BaseURL: e.Platform.URL},
		channel.Deps{HTTP: e.Platform.Client()})
	if h := bad.Health(context.Background()); h.Status != channel.Unavailable || !strings.Contains(h.Detail, "190") {
		t.Errorf("health with an expired token %+v", h)
	}
	empty, _ := whatsapp.New(channel.Config{ID: "wa", Kind: whatsapp.Kind, PhoneNumberID: phoneID}, channel.Deps{})
	if h := empty.Health(context.Background()); h.Status != channel.NotConfigured || !strings.Contains(h.Detail, "access_token") {
		t.Errorf("health without credentials %+v", h)
	}
}

// A status that does not carry biz_opaque_callback_data finds its message by the wamid the send
// answered, and a failure reaches on_failed with WhatsApp's code and title.
func TestStatusByWamid(t *testing.T) {
	t.Parallel()
	e := channeltest.NewEnv(t, suite(t))
	conv, _ := e.Open(t)
	e.Platform.Queue(channeltest.Response{Body: []byte(`{"messaging_product": "whatsapp", "messages": [{"id": "wamid.tracked-1"}]}`)})
	e.Start(conv, "track")
	body := bytes.ReplaceAll(fixture(t, "webhook_status_failed_131049_meta_docs.json"),
		[]byte("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA"), []byte("wamid.tracked-1"))
	if st := e.Post(body, true, nil); st != 200 {
		t.Fatalf("status %d", st)
	}
	e.Drain()
	got := e.Outbound(t, conv)
	if want := "failed: 131049: This message was not delivered to maintain healthy ecosystem engagement."; !strings.HasPrefix(got[len(got)-1], want) {
		t.Errorf("the bot sent %q, want %q last", got, want)
	}
	// The API's message says why, in WhatsApp's words; the other messages have no error.
	var l struct {
		Messages []map[string]any `json:"messages"`
	}
	e.Get("/api/v1/conversations/"+conv+"/messages", &l)
	want := map[string]any{"code": "131049", "message": "This message was not delivered to maintain healthy ecosystem engagement." +
		" (In order to maintain a healthy ecosystem engagement, the message failed to be delivered.)"}
	failed := 0
	for _, m := range l.Messages {
		if m["status"] != "failed" {
			if m["error"] != nil {
				t.Errorf("message %q (status %v) has an error: %v", m["text"], m["status"], m["error"])
			}
			continue
		}
		failed++
		if m["text"] != "Your code is 1234" || !reflect.DeepEqual(m["error"], want) {
			t.Errorf("failed message %q has error %v, want %v", m["text"], m["error"], want)
		}
	}
	if failed != 1 {
		t.Errorf("%d failed messages, want 1", failed)
	}
}

// Past the 24-hour window a message without a template is not sent (its step takes
// on_failed with the reason); one with a template is sent as the template.
func TestWindow(t *testing.T) {
	t.Parallel()
	e := channeltest.NewEnv(t, suite(t))
	e.Publish(`format: 1
id: remind
trigger: {on: api}
steps:
  - id: remind
    type: message
    text: "Your order shipped, {{contact.first_name}}."
    template: {name: order_update, language: en_US, components: [{type: body, parameters: [{type: text, text: "{{contact.first_name}}"}]}]}
    on_failed: failed
  - {id: done, type: message, text: "sent: {{step.remind.status}}", next: end}
  - {id: failed, type: message, text: "failed: {{step.remind.error}}"}
`)
	conv, _ := e.Open(t)
	e.Advance(25 * time.Hour)
	e.Platform.Reset()
	e.Start(conv, "track")
	got := e.Outbound(t, conv)
	if last := got[len(got)-1]; !strings.Contains(last, "24-hour window") || !strings.Contains(last, "template") {
		t.Errorf("without a template the bot sent %q; want the closed window named", last)
	}
	if n := len(e.Platform.Sends()); n != 0 {
		t.Errorf("%d requests went to WhatsApp outside the window", n)
	}
	e.Start(conv, "remind")
	sends := e.Platform.Sends()
	if len(sends) == 0 || !bytes.Contains(sends[0].Body, []byte(`"type":"template"`)) || !bytes.Contains(sends[0].Body, []byte(`"text":"Kerry"`)) {
		t.Fatalf("sends %d, first %s; want the template with the name filled in", len(sends), sends[0].Body)
	}
}

// A text longer than 4,096 characters goes out as several messages cut at sentence ends.
func TestLongTextSplit(t *testing.T) {
	t.Parallel()
	e := channeltest.NewEnv(t, suite(t))
	sentence := "This sentence is part of a long answer. "
	e.Publish(`format: 1
id: long
trigger: {on: api}
steps:
  - {id: long, type: message, text: "` + strings.Repeat(sentence, 150) + `"}
`)
	conv, _ := e.Open(t)
	e.Platform.Reset()
	e.Start(conv, "long")
	sends := e.Platform.Sends()
	if len(sends) != 2 {
		t.Fatalf("%d sends, want 2", len(sends))
	}
	for i, s := range sends {
		var b struct {
			Text struct {
				Body string `json:"body"`
			} `json:"text"`
		}
		json.Unmarshal(s.Body, &b)
		if n := len([]rune(b.Text.Body)); n > whatsapp.MaxText || !strings.HasSuffix(b.Text.Body, ".") {
			t.Errorf("part %d: %d characters ending %q", i, n, b.Text.Body[len(b.Text.Body)-10:])
		}
	}
}

// A shared contact card is named by its formatted_name, else by the parts of its name:
// WhatsApp clients send cards with only first_name and last_name set.
func TestContactCardName(t *testing.T) {
	t.Parallel()
	m := parseMessage(t, `{"from": "5571900002222", "id": "wamid.card", "timestamp": "1765000000", "type": "contacts", "contacts": [
		{"name": {"first_name": "Ana", "middle_name": "Maria", "last_name": "Souza"}, "phones": [{"phone": "+1 555 0100"}]},
		{"name": {"formatted_name": "Bob Brown", "first_name": "Robert"}, "emails": [{"email": "b@x.io"}]},
		{"name": {"last_name": "Lima"}, "phones": [{"phone": "+55 11 5555-0000"}]}]}`)
	var names []string
	for _, c := range m.Contacts {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, "|"); got != "Ana Maria Souza|Bob Brown|Lima" {
		t.Errorf("card names %q, want Ana Maria Souza|Bob Brown|Lima", got)
	}
	if want := "Ana Maria Souza +1 555 0100\nBob Brown\nLima +55 11 5555-0000"; m.Text != want {
		t.Errorf("text %q, want %q", m.Text, want)
	}
}

// A message that comes from a click-to-WhatsApp ad keeps the ad (message.data.referral), so
// that a flow can answer what the ad offered.
func TestReferral(t *testing.T) {
	t.Parallel()
	m := parseMessage(t, `{"from": "5571900002222", "id": "wamid.ad", "timestamp": "1765000000", "type": "text", "text": {"body": "Vim do anúncio"},
		"referral": {"source_url": "https://fb.me/3cr4Wqqkk", "source_id": "120212345", "source_type": "ad",
			"headline": "Promo de verão", "body": "50% off", "media_type": "image", "ctwa_clid": "ARAkLkA8"}}`)
	ref, _ := m.Data["referral"].(map[string]any)
	if m.Type != tandem.MessageText || m.Text != "Vim do anúncio" || ref["source_id"] != "120212345" || ref["headline"] != "Promo de verão" || ref["ctwa_clid"] != "ARAkLkA8" {
		t.Errorf("message %+v, want the text with the ad in data.referral", m)
	}
}

// An error Meta reports in a webhook (value.errors: the app, the account or the number) shows
// in the channel's health for a day, on the channel of its number: an operator who opens the
// channels screen learns why nothing arrives.
func TestReportedErrorInHealth(t *testing.T) {
	t.Parallel()
	e := channeltest.NewEnv(t, suite(t))
	if h := e.Channel.Health(context.Background()); strings.Contains(h.Detail, "Meta reported") {
		t.Fatalf("health before any report: %+v", h)
	}
	body := []byte(`{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
		"messaging_product": "whatsapp", "metadata": {"phone_number_id": "` + phoneID + `"},
		"errors": [{"code": 0, "title": "We were unable to authenticate the app user", "message": "We were unable to authenticate the app user",
			"error_data": {"details": "Invalid token"}, "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]}}]}]}`)
	if st := e.Post(body, true, nil); st != 200 {
		t.Fatalf("status %d", st)
	}
	h := e.Channel.Health(context.Background())
	if want := "Meta reported error 0: We were unable to authenticate the app user (Invalid token) at 2026-03-02 10:00 UTC."; h.Status != channel.Available || !strings.Contains(h.Detail, want) {
		t.Errorf("health %+v, want the detail to say %q", h, want)
	}
	e.Clock.Advance(25 * time.Hour)
	if h := e.Channel.Health(context.Background()); strings.Contains(h.Detail, "Meta reported") {
		t.Errorf("a report of yesterday still shows: %+v", h)
	}
}

// parseMessage parses a webhook carrying one message (JSON) of the customer Lia and returns the
// message it normalises to.
func parseMessage(t *testing.T, message string) tandem.Message {
	t.Helper()
	ch, err := whatsapp.New(channel.Config{ID: "wa", Kind: whatsapp.Kind, PhoneNumberID: phoneID}, channel.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
		"messaging_product": "whatsapp", "metadata": {"phone_number_id": "` + phoneID + `"},
		"contacts": [{"profile": {"name": "Lia"}, "wa_id": "5571900002222"}], "messages": [` + message + `]}}]}]}`)
	b, err := ch.(channel.Parser).Parse(context.Background(), nil, body)
	if err != nil || len(b.Messages) != 1 {
		t.Fatalf("Parse: %v, %+v", err, b)
	}
	return b.Messages[0].Message
}
