package webhook_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk/webhook"
)

// A callback passes with the secret as Bearer (GPTBots' way) or as a signature, either one;
// anything else fails, and an empty secret accepts nothing. A signature with X-Tandem-Timestamp
// (signed with the body) is accepted only within five minutes of it, so a captured one cannot be
// replayed later. The contract's signature of the body alone passes at any date, as the contract
// says a correct signature alone does (its example bodies are dated 2025): a replay of it is a
// repeat, which changes nothing (TestCallbackReplayIsARepeat). Bearer has no date either.
func TestAuthenticate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bodyAt := func(at time.Time) []byte {
		return []byte(fmt.Sprintf(`{"conversation_id":"hf_cv1_abcdefghij","timestamp":%d,"body":"hi"}`, at.UnixMilli()))
	}
	body := bodyAt(now.Add(-time.Minute))
	old := bodyAt(now.Add(-6 * time.Minute))
	stamped := func(at time.Time, b []byte) map[string]string {
		ts, sig := webhook.SignAt(testSecret, at, b)
		return map[string]string{webhook.TimestampHeader: ts, webhook.SignatureHeader: sig}
	}
	tests := []struct {
		name   string
		secret string
		body   []byte
		header map[string]string
		want   string // "" when accepted
	}{
		{"bearer", testSecret, body, map[string]string{"Authorization": "Bearer " + testSecret}, ""},
		{"bearer, any case", testSecret, body, map[string]string{"Authorization": "bearer " + testSecret}, ""},
		{"bearer, an old body", testSecret, old, map[string]string{"Authorization": "Bearer " + testSecret}, ""},
		{"signature of the body", testSecret, body, map[string]string{webhook.SignatureHeader: webhook.Sign(testSecret, body)}, ""},
		{"signature of the body, uppercase", testSecret, body, map[string]string{webhook.SignatureHeader: strings.ToUpper(webhook.Sign(testSecret, body))}, ""},
		{"signature with a timestamp", testSecret, old, stamped(now.Add(-4*time.Minute), old), ""},
		{"signature with a timestamp slightly ahead", testSecret, body, stamped(now.Add(4*time.Minute), body), ""},
		{"wrong bearer, good signature", testSecret, body, map[string]string{"Authorization": "Bearer nope", webhook.SignatureHeader: webhook.Sign(testSecret, body)}, ""},
		{"no timestamp in a signed body: left to the body check", testSecret, []byte(`{"body":"hi"}`), map[string]string{webhook.SignatureHeader: webhook.Sign(testSecret, []byte(`{"body":"hi"}`))}, ""},
		{"nothing", testSecret, body, nil, "invalid credentials"},
		{"wrong bearer", testSecret, body, map[string]string{"Authorization": "Bearer " + testSecret + "x"}, "invalid credentials"},
		{"basic", testSecret, body, map[string]string{"Authorization": "Basic " + testSecret}, "invalid credentials"},
		{"bad signature", testSecret, body, map[string]string{webhook.SignatureHeader: webhook.Sign("another-secret-0123456789", body)}, "invalid credentials"},
		{"signature of another body", testSecret, body, map[string]string{webhook.SignatureHeader: webhook.Sign(testSecret, append(body, ' '))}, "invalid credentials"},
		{"signature of a body written 6 minutes ago", testSecret, old, map[string]string{webhook.SignatureHeader: webhook.Sign(testSecret, old)}, ""},
		{"signature of a body dated a year ago", testSecret, bodyAt(now.AddDate(-1, 0, 0)), map[string]string{webhook.SignatureHeader: webhook.Sign(testSecret, bodyAt(now.AddDate(-1, 0, 0)))}, ""},
		{"replayed: X-Tandem-Timestamp 6 minutes old", testSecret, body, stamped(now.Add(-6*time.Minute), body), "invalid credentials: the signed timestamp"},
		{"a timestamp 6 minutes ahead", testSecret, body, stamped(now.Add(6*time.Minute), body), "invalid credentials: the signed timestamp"},
		{"a timestamp changed after signing", testSecret, body, map[string]string{webhook.TimestampHeader: strconv.FormatInt(now.Unix(), 10), webhook.SignatureHeader: stamped(now.Add(-10*time.Minute), body)[webhook.SignatureHeader]}, "invalid credentials"},
		{"a timestamp header with the body's signature", testSecret, body, map[string]string{webhook.TimestampHeader: strconv.FormatInt(now.Unix(), 10), webhook.SignatureHeader: webhook.Sign(testSecret, body)}, "invalid credentials"},
		{"a timestamp that is not a number", testSecret, body, map[string]string{webhook.TimestampHeader: "soon", webhook.SignatureHeader: webhook.Sign(testSecret, append([]byte("soon."), body...))}, "invalid credentials"},
		{"empty secret", "", body, map[string]string{"Authorization": "Bearer "}, "invalid credentials"},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		err := webhook.Authenticate(tt.secret, h, tt.body, now)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
			t.Errorf("%s: Authenticate = %v, want %q", tt.name, err, tt.want)
		case err != nil && strings.Contains(err.Error(), testSecret):
			t.Errorf("%s: the error shows the secret: %v", tt.name, err)
		}
	}
}

// A bad callback body is refused with the first bad field named.
func TestParseMessageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{``, "request: the body is empty; send a JSON object"},
		{`{"conversation_id":`, "request: the body is not valid JSON"},
		{`[1]`, "request: the body must be a JSON object"},
		{`{"timestamp":1,"body":"hi"}`, "conversation_id: required"},
		{`{"conversation_id":"","timestamp":1,"body":"hi"}`, "conversation_id: must not be empty"},
		{`{"conversation_id":7,"timestamp":1,"body":"hi"}`, "conversation_id: must be a string"},
		{`{"conversation_id":"hf","body":"hi"}`, "timestamp: required"},
		{`{"conversation_id":"hf","timestamp":"1742265090895","body":"hi"}`, "timestamp: must be an integer (milliseconds since the epoch)"},
		{`{"conversation_id":"hf","timestamp":1.5,"body":"hi"}`, "timestamp: must be an integer (milliseconds since the epoch)"},
		{`{"conversation_id":"hf","timestamp":1}`, "body: required"},
		{`{"conversation_id":"hf","timestamp":1,"body":""}`, "body: must not be empty (unless there are attachments)"},
		{`{"conversation_id":"hf","timestamp":1,"body":["hi"]}`, "body: must be a string"},
		{`{"conversation_id":"hf","timestamp":1,"body":"hi","message_id":5}`, "message_id: must be a string"},
		{`{"conversation_id":"hf","timestamp":1,"body":"hi","agent":"Ana"}`, "agent: must be an object"},
		{`{"conversation_id":"hf","timestamp":1,"body":"","attachments":[{"type":"file"}]}`, "attachments[0].url: must be an http(s) URL"},
		{`{"conversation_id":"hf","timestamp":1,"body":"","attachments":[{"type":"pdf","url":"https://d/x.pdf"}]}`, "attachments[0].type: must be image, audio, video or file"},
	}
	for _, tt := range tests {
		_, err := webhook.ParseMessage([]byte(tt.body))
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseMessage(%s) = %v, want %q", tt.body, err, tt.want)
		}
	}
	if _, err := webhook.ParseClose([]byte(`{"conversation_id":"hf"}`)); err == nil || err.Error() != "timestamp: required" {
		t.Errorf("ParseClose without timestamp: %v", err)
	}
}

// The contract's B1 example parses; unknown fields are ignored; it becomes the text with the
// first attachment, then one message per other attachment, from the agent.
func TestParseMessage(t *testing.T) {
	t.Parallel()
	body := `{"conversation_id":"hf_01JD3Q8K6V2N","timestamp":1764000902000,"body":"Hi Bob, this is Ana. I can help with the refund.",
		"message_id":"desk-msg-9917","agent":{"id":42,"name":"Ana","avatar_url":"https://desk.acme.com/a/42.png"},
		"attachments":[{"type":"file","url":"https://desk.acme.com/f/refund-form.pdf","mime":"application/pdf","name":"refund-form.pdf"},
		{"url":"https://desk.acme.com/f/p.png","mime":"image/png"}],"unknown":{"x":1}}`
	m, err := webhook.ParseMessage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if m.ConversationID != "hf_01JD3Q8K6V2N" || m.Timestamp != 1764000902000 || m.MessageID != "desk-msg-9917" || m.Agent.ID != "42" || m.AgentName() != "Ana" {
		t.Errorf("parsed %+v", m)
	}
	at := time.Unix(0, 0)
	ms := m.Messages(at)
	if len(ms) != 2 {
		t.Fatalf("%d messages, want 2", len(ms))
	}
	if ms[0].Text != m.Body || ms[0].Type != tandem.MessageFile || ms[0].Media.URL != "https://desk.acme.com/f/refund-form.pdf" || ms[0].Author != tandem.AuthorAgent || ms[0].AgentID != "Ana" {
		t.Errorf("first message %+v", ms[0])
	}
	if ms[1].Text != "" || ms[1].Type != tandem.MessageImage || ms[1].Media.Mime != "image/png" {
		t.Errorf("second message %+v", ms[1])
	}
	if m.Key() != "msg:hf_01JD3Q8K6V2N:desk-msg-9917" {
		t.Errorf("key %q", m.Key())
	}
	// Without a message id, the key is a hash of the callback: the same again, another for
	// another timestamp.
	a, _ := webhook.ParseMessage([]byte(`{"conversation_id":"hf","timestamp":1,"body":"hi"}`))
	b, _ := webhook.ParseMessage([]byte(`{"timestamp":1,"body":"hi","conversation_id":"hf"}`))
	c, _ := webhook.ParseMessage([]byte(`{"conversation_id":"hf","timestamp":2,"body":"hi"}`))
	if a.Key() != b.Key() || a.Key() == c.Key() {
		t.Errorf("keys %q %q %q", a.Key(), b.Key(), c.Key())
	}
	cl, err := webhook.ParseClose([]byte(`{"conversation_id":"hf_01JD3Q8K6V2N","timestamp":1764001100000,"reason":"resolved"}`))
	if err != nil || cl.Reason != "resolved" || cl.Key() != webhook.CloseKey("hf_01JD3Q8K6V2N") {
		t.Errorf("ParseClose = %+v, %v", cl, err)
	}
}

// A handoff id carries its conversation; other strings do not parse.
func TestConversationOf(t *testing.T) {
	t.Parallel()
	for _, conv := range []string{"cv1", "01JD3Q7ZQ1", "a_b_c", "0123456789abcdef0123456789abcdef"} {
		id := webhook.HandoffID(conv, "q:m1")
		if got, ok := webhook.ConversationOf(id); !ok || got != conv {
			t.Errorf("ConversationOf(%q) = %q, %v; want %q", id, got, ok, conv)
		}
	}
	for _, bad := range []string{"", "cv1", "hf_", "hf_cv1", "hf_cv1_short", "hf__abcdefghij", "67d8db020fa31d1ef64f53dg"} {
		if got, ok := webhook.ConversationOf(bad); ok {
			t.Errorf("ConversationOf(%q) = %q, want no", bad, got)
		}
	}
}

// Any body either parses into a usable agent message or is refused with a FieldError.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(`{"conversation_id":"hf_cv1_abcdefghij","timestamp":1,"body":"hi","attachments":[{"url":"https://x/y"}]}`))
	f.Add([]byte(`{"conversation_id":"x","timestamp":-1,"body":"","agent":{"id":1.5}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := webhook.ParseMessage(b)
		if err != nil {
			if _, ok := err.(*webhook.FieldError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if m.ConversationID == "" || (m.Body == "" && len(m.Attachments) == 0) {
			t.Fatalf("accepted %s", b)
		}
		if len(m.Messages(time.Unix(0, 0))) == 0 {
			t.Fatal("no message")
		}
	})
}
