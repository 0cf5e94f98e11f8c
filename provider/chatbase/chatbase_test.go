package chatbase_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/provider"
	"github.com/tandemchat/tandem/provider/chatbase"
	"github.com/tandemchat/tandem/provider/providertest"
)

const (
	key     = "cb-s3cr3t-workspace-key"
	chatbot = "ckl123abc456"
)

// call is one request the fake received; fake is the API on httptest.
type (
	call = providertest.Call
	fake = providertest.JSONFake
)

func setup(t *testing.T, cfg provider.Config, handle func(w http.ResponseWriter, r *http.Request, body map[string]any)) (*chatbase.Provider, *fake) {
	t.Helper()
	f := &fake{Handle: handle}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.ID, cfg.Kind, cfg.APIKey, cfg.ChatbotID = "bot", chatbase.Kind, key, chatbot
	if cfg.BaseURL == "" {
		cfg.BaseURL = srv.URL
	} else {
		cfg.BaseURL = srv.URL + cfg.BaseURL
	}
	p, err := chatbase.New(cfg, provider.Deps{HTTP: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return p, f
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func answer(t *testing.T) func(w http.ResponseWriter, r *http.Request, body map[string]any) {
	return func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		writeJSON(w, 200, string(mustRead(t, "chat_response_docs.json")))
	}
}

func request(input string, history ...tandem.ChatMessage) *tandem.AIRequest {
	return &tandem.AIRequest{Provider: "bot", Op: tandem.AIAssist, Step: "answer", ConversationID: "conv_abc123",
		Contact: &tandem.Contact{ID: "user_123"}, Input: input,
		Messages: append(history, tandem.ChatMessage{Role: "user", Content: input})}
}

func aiError(t *testing.T, err error) *tandem.AIError {
	t.Helper()
	var ae *tandem.AIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T), want a *tandem.AIError", err, err)
	}
	if strings.Contains(ae.Message, key) {
		t.Errorf("the error message shows the API key: %q", ae.Message)
	}
	return ae
}

func callErr(p *chatbase.Provider, req *tandem.AIRequest) error {
	_, err := p.Call(context.Background(), req)
	return err
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// v1 sends the contract's request (fixture) and reads the contract's answer.
func TestV1(t *testing.T) {
	t.Parallel()
	temp := 0.7
	p, f := setup(t, provider.Config{Model: "gpt-4o-mini", Temperature: &temp}, answer(t))
	res, err := p.Call(context.Background(), request("Hello, I need help with my order"))
	if err != nil {
		t.Fatal(err)
	}
	want := &tandem.AIResult{Provider: "bot", Text: "Hello! How can I help you today?", FinishReason: "stop", Usage: tandem.Usage{Calls: 1}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("result %+v, want %+v", res, want)
	}
	c := f.Calls()[0]
	if got := c.Method + " " + c.Path; got != "POST /api/v1/chat" {
		t.Errorf("request line %q, want POST /api/v1/chat", got)
	}
	for h, want := range map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"} {
		if got := c.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	var fixture map[string]any
	if err := json.Unmarshal(mustRead(t, "chat_request_docs.json"), &fixture); err != nil {
		t.Fatal(err)
	}
	fixture["contactId"] = "tandem-user_123"
	if !reflect.DeepEqual(c.Body, fixture) {
		t.Errorf("body\n got %v\nwant %v", c.Body, fixture)
	}
}

// v1 keeps no context: every call sends the recent transcript, oldest first, ending with the
// customer's text; only user and assistant messages, clipped.
func TestV1Transcript(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", chatbase.MaxContent+10)
	many := make([]tandem.ChatMessage, 0, 60)
	for i := range 60 {
		role := []string{"user", "assistant"}[i%2]
		many = append(many, tandem.ChatMessage{Role: role, Content: fmt.Sprint("m", i)})
	}
	for _, tc := range []struct {
		name string
		req  *tandem.AIRequest
		want []chatbase.Message
	}{
		{name: "history in order", req: request("It is 1234",
			tandem.ChatMessage{Role: "user", Content: "Hi"},
			tandem.ChatMessage{Role: "assistant", Content: "Hello! How can I help?"},
			tandem.ChatMessage{Role: "system", Content: "be nice"},
			tandem.ChatMessage{Role: "user", Content: "Where is my order?"},
			tandem.ChatMessage{Role: "tool", Content: "{}"},
			tandem.ChatMessage{Role: "assistant", Content: "What is the order number?"}),
			want: []chatbase.Message{{"user", "Hi"}, {"assistant", "Hello! How can I help?"}, {"user", "Where is my order?"},
				{"assistant", "What is the order number?"}, {"user", "It is 1234"}}},
		{name: "image and clipping", req: &tandem.AIRequest{Messages: []tandem.ChatMessage{
			{Role: "user", Content: long}, {Role: "user", Content: "look", Images: []string{"https://x/cat.png"}}}},
			want: []chatbase.Message{{"user", strings.Repeat("é", chatbase.MaxContent-1) + "…"}, {"user", "look [image: https://x/cat.png]"}}},
		{name: "input only", req: &tandem.AIRequest{Input: "hello"}, want: []chatbase.Message{{"user", "hello"}}},
		{name: "input after an assistant message", req: &tandem.AIRequest{Input: "and?", Messages: []tandem.ChatMessage{{Role: "assistant", Content: "Hi"}}},
			want: []chatbase.Message{{"assistant", "Hi"}, {"user", "and?"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := chatbase.Transcript(tc.req); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("transcript\n got %q\nwant %q", got, tc.want)
			}
		})
	}
	t.Run("sent on the wire", func(t *testing.T) {
		t.Parallel()
		p, f := setup(t, provider.Config{}, answer(t))
		if _, err := p.Call(context.Background(), request("last", many...)); err != nil {
			t.Fatal(err)
		}
		msgs := f.Calls()[0].Body["messages"].([]any)
		if len(msgs) != chatbase.MaxMessages {
			t.Fatalf("%d messages, want %d", len(msgs), chatbase.MaxMessages)
		}
		first, last := msgs[0].(map[string]any), msgs[len(msgs)-1].(map[string]any)
		if first["content"] != "m21" || last["content"] != "last" || last["role"] != "user" {
			t.Errorf("first %v last %v, want the most recent messages ending with the customer's", first, last)
		}
		if got := keys(f.Calls()[0].Body); !reflect.DeepEqual(got, []string{"chatbotId", "contactId", "conversationId", "messages", "stream"}) {
			t.Errorf("keys %v: model and temperature are sent only when configured", got)
		}
	})
}

// A v1 answer that arrives as an event stream or plain text is still read; a body that is not
// JSON though said to be is a temporary 502 (something in between answered); JSON of the wrong
// shape and empty answers are permanent errors.
func TestV1Answers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ctype, body, text, err string
		status                       int
		temporary                    bool
	}{
		{name: "event stream", ctype: "text/event-stream", body: "data: Hello\n\ndata:  world\n\ndata: [DONE]\n\ndata: ignored\n\n", text: "Hello world"},
		{name: "plain text", ctype: "text/plain; charset=utf-8", body: "Hello world", text: "Hello world"},
		{name: "unknown keys", ctype: "application/json", body: `{"text":"Hi","sources":[]}`, text: "Hi"},
		{name: "malformed", ctype: "application/json", body: `{"text": "Hi`, err: "malformed JSON", status: 502, temporary: true},
		{name: "HTML said to be JSON", ctype: "application/json", body: `<html>Bad gateway</html>`, err: "malformed JSON", status: 502, temporary: true},
		{name: "wrong shape", ctype: "application/json", body: `{"text": 42}`, err: "unexpected shape"},
		{name: "no text", ctype: "application/json", body: `{"answer":"Hi"}`, err: "without a text"},
		{name: "empty text", ctype: "application/json", body: `{"text":"  "}`, err: "empty answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _ := setup(t, provider.Config{}, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
				w.Header().Set("Content-Type", tc.ctype)
				io.WriteString(w, tc.body)
			})
			res, err := p.Call(context.Background(), request("hi"))
			if tc.err != "" {
				if ae := aiError(t, err); ae.Status != tc.status || ae.Temporary != tc.temporary || !strings.Contains(ae.Message, tc.err) {
					t.Errorf("got %+v, want status %d temporary %v saying %q", ae, tc.status, tc.temporary, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Text != tc.text {
				t.Errorf("text %q, want %q", res.Text, tc.text)
			}
		})
	}
}

// Errors become AIErrors with one clear sentence, the key never shown, 429 and 5xx temporary
// with the server's wait.
func TestErrors(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		version   string
		status    int
		header    map[string]string
		body      string
		temporary bool
		wait      time.Duration
		want      string
	}{
		{name: "401", status: 401, body: `{"message":"Invalid API key ` + key + `"}`, want: "refused the API key (status 401); check the provider's api_key"},
		{name: "403", status: 403, body: `{"error":"Forbidden"}`, want: "refused the call (403)"},
		{name: "404", status: 404, body: `{"message":"Chatbot not found"}`, want: `does not know chatbot "ckl123abc456" (status 404): Chatbot not found`},
		{name: "400", status: 400, body: `{"error":{"message":"model is invalid"}}`, want: "rejected the request as invalid (status 400): model is invalid"},
		{name: "429 with Retry-After", status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"message":"Too many requests"}`, temporary: true, wait: 7 * time.Second, want: "limiting requests"},
		{name: "429 with a date", status: 429, header: map[string]string{"Retry-After": now.Add(20 * time.Second).Format(http.TimeFormat)}, temporary: true, wait: 20 * time.Second, want: "limiting requests"},
		{name: "500", status: 500, body: "<html>Bad gateway</html>", temporary: true, want: "internal error (status 500)"},
		{name: "v2 auth", version: "v2", status: 401, body: `{"error":{"code":"AUTH_INVALID_API_KEY","message":"Invalid API key"}}`, want: "refused the API key (status 401) (AUTH_INVALID_API_KEY)"},
		{name: "v2 plan", version: "v2", status: 403, body: `{"error":{"code":"SUBSCRIPTION_API_RESTRICTED_PLAN","message":"Upgrade"}}`, want: "plan has no API access"},
		{name: "v2 credits", version: "v2", status: 429, body: `{"error":{"code":"CHAT_CREDITS_EXHAUSTED","message":"No credits"}}`, want: "credits or quota are used up: No credits (CHAT_CREDITS_EXHAUSTED)"},
		{name: "v1 quota", status: 429, body: `{"message":"You have exhausted your message credits"}`, want: "credits or quota are used up"},
		{name: "v2 rate limit reset", version: "v2", status: 429, header: map[string]string{"X-Ratelimit-Reset": fmt.Sprint(now.Add(5 * time.Second).UnixMilli())},
			body: `{"error":{"code":"RATE_LIMITED","message":"Slow down"}}`, temporary: true, wait: 5 * time.Second, want: "limiting requests"},
		{name: "v2 validation", version: "v2", status: 400, body: `{"error":{"code":"VALIDATION_INVALID_BODY","message":"message is required","details":{}}}`,
			want: "rejected the request as invalid (status 400): message is required (VALIDATION_INVALID_BODY)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _ := setup(t, provider.Config{APIVersion: tc.version}, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				writeJSON(w, tc.status, tc.body)
			})
			p.Now = func() time.Time { return now }
			ae := aiError(t, callErr(p, request("hi")))
			if ae.Status != tc.status || ae.Temporary != tc.temporary || ae.RetryAfter != tc.wait {
				t.Errorf("status %d temporary %v wait %s, want %d %v %s", ae.Status, ae.Temporary, ae.RetryAfter, tc.status, tc.temporary, tc.wait)
			}
			if !strings.HasPrefix(ae.Message, `Chatbase (provider "bot") `) || !strings.Contains(ae.Message, tc.want) {
				t.Errorf("message %q, want it to say %q", ae.Message, tc.want)
			}
		})
	}
}

// A call that outlives its context or its configured timeout is a temporary error.
func TestTimeout(t *testing.T) {
	t.Parallel()
	hang := func(w http.ResponseWriter, r *http.Request, body map[string]any) { <-r.Context().Done() }
	p, _ := setup(t, provider.Config{}, hang)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Call(ctx, request("hi"))
	if ae := aiError(t, err); !ae.Temporary || !strings.Contains(ae.Message, "timeout") {
		t.Errorf("got %+v, want a temporary timeout", ae)
	}
	p2, _ := setup(t, provider.Config{Timeout: 50 * time.Millisecond}, hang)
	if ae := aiError(t, callErr(p2, request("hi"))); !ae.Temporary || !strings.Contains(ae.Message, "timeout") {
		t.Errorf("got %+v, want a temporary timeout", ae)
	}
}

// v2 keeps the conversation at Chatbase: its id is the memory, the user id is given only when
// the conversation is created, and an ended conversation is replaced once by a new one.
func TestV2(t *testing.T) {
	t.Parallel()
	reply := func(w http.ResponseWriter, conv string) {
		writeJSON(w, 200, `{"data":{"parts":[{"type":"text","text":"Hi "},{"type":"tool-lookup","toolCallId":"t1"},{"type":"text","text":"there"}],"metadata":{"conversationId":"`+conv+`"}}}`)
	}
	p, f := setup(t, provider.Config{APIVersion: "v2", BaseURL: "/api/v1/"}, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		switch body["conversationId"] {
		case nil:
			reply(w, "cb-new")
		case "cb-ended":
			writeJSON(w, 400, `{"error":{"code":"CHAT_CONVERSATION_NOT_ONGOING","message":"The conversation has ended or been taken over"}}`)
		default:
			reply(w, body["conversationId"].(string))
		}
	})
	first, err := p.Call(context.Background(), request("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Text != "Hi\nthere" || first.Memory != "cb-new" {
		t.Errorf("got text %q memory %q, want \"Hi\\nthere\" cb-new", first.Text, first.Memory)
	}
	// Without memory (say, the first result was not stored), a new conversation again.
	if _, err := p.Call(context.Background(), request("more", tandem.ChatMessage{Role: "user", Content: "hello"})); err != nil {
		t.Fatal(err)
	}
	req := request("again")
	req.Memory = first.Memory
	if res, err := p.Call(context.Background(), req); err != nil || res.Memory != "cb-new" {
		t.Fatalf("second turn: %v %+v", err, res)
	}
	req.Memory = "cb-ended"
	res, err := p.Call(context.Background(), req)
	if err != nil || res.Memory != "cb-new" {
		t.Fatalf("ended conversation: %v %+v, want a new conversation", err, res)
	}
	calls := f.Calls()
	want := []map[string]any{
		{"message": "hello", "userId": "tandem-user_123", "stream": false},
		{"message": "more", "userId": "tandem-user_123", "stream": false},
		{"message": "again", "conversationId": "cb-new", "stream": false},
		{"message": "again", "conversationId": "cb-ended", "stream": false},
		{"message": "again", "userId": "tandem-user_123", "stream": false},
	}
	if len(calls) != len(want) {
		t.Fatalf("%d calls, want %d", len(calls), len(want))
	}
	for i, c := range calls {
		if c.Path != "/api/v2/agents/"+chatbot+"/chat" || !reflect.DeepEqual(c.Body, want[i]) {
			t.Errorf("call %d: %s %v, want /api/v2/agents/%s/chat %v", i, c.Path, c.Body, chatbot, want[i])
		}
	}
}

// What the provider refuses before calling Chatbase, and the registry.
func TestRefusedLocally(t *testing.T) {
	t.Parallel()
	p, f := setup(t, provider.Config{}, func(w http.ResponseWriter, r *http.Request, body map[string]any) { t.Error("Chatbase was called") })
	classify := request("hi")
	classify.Op = tandem.AIClassify
	noKey, noBot := *p, *p
	noKey.APIKey, noBot.ChatbotID = "", ""
	for name, tc := range map[string]struct {
		p    *chatbase.Provider
		req  *tandem.AIRequest
		want string
	}{
		"classify":   {p, classify, "cannot classify"},
		"no text":    {p, &tandem.AIRequest{}, "no customer text"},
		"no api_key": {&noKey, request("hi"), "has no api_key"},
		"no chatbot": {&noBot, request("hi"), "has no chatbot_id"},
	} {
		if ae := aiError(t, callErr(tc.p, tc.req)); ae.Temporary || !strings.Contains(ae.Message, tc.want) {
			t.Errorf("%s: got %+v, want %q", name, ae, tc.want)
		}
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("%d calls, want none", n)
	}
	if _, err := provider.New(provider.Config{ID: "c", Kind: "chatbase", APIVersion: "v3"}, provider.Deps{}); err == nil || !strings.Contains(err.Error(), "api_version") {
		t.Errorf("api_version v3: error %v, want one naming api_version", err)
	}
	if got, err := provider.New(provider.Config{ID: "c", Kind: "chatbase", APIKey: "k", ChatbotID: "b"}, provider.Deps{}); err != nil || got.(*chatbase.Provider).Version != chatbase.V1 {
		t.Errorf("default: %v %#v, want a v1 provider", err, got)
	}
}
