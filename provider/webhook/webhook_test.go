package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel/api"
	"github.com/tandemchat/tandem/provider"
	"github.com/tandemchat/tandem/provider/webhook"
)

const secret = "whsec-s3cr3t-value"

type call struct {
	Header http.Header
	Raw    []byte
}

// fake is a business's assistant webhook on httptest.
type fake struct {
	mu     sync.Mutex
	calls  []call
	handle func(w http.ResponseWriter, r *http.Request, body []byte)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, call{Header: r.Header.Clone(), Raw: b})
	f.mu.Unlock()
	f.handle(w, r, b)
}

func (f *fake) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func setup(t *testing.T, cfg provider.Config, handle func(w http.ResponseWriter, r *http.Request, body []byte)) (*webhook.Provider, *fake) {
	t.Helper()
	f := &fake{handle: handle}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.ID, cfg.Kind, cfg.URL = "hook", webhook.Kind, srv.URL+"/answer?token=t0ps3cret"
	p, err := webhook.New(cfg, provider.Deps{HTTP: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return p, f
}

func answer(status int, body string) func(w http.ResponseWriter, r *http.Request, b []byte) {
	return func(w http.ResponseWriter, r *http.Request, b []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func request() *tandem.AIRequest {
	return &tandem.AIRequest{Provider: "hook", Op: tandem.AIAssist, Step: "answer", ConversationID: "conv-1",
		Contact: &tandem.Contact{ID: "c1", FirstName: "Ana", LastName: "Lima", Phone: "+5511999990000", Email: "ana@example.com", ExternalID: "crm-9"},
		System:  "Be brief.", Input: "Where is my order?", Memory: "m1",
		Messages: []tandem.ChatMessage{
			{Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello! How can I help?"},
			{Role: "user", Content: "Where is my order?", Images: []string{"https://x/receipt.png"}},
		}}
}

func aiError(t *testing.T, err error) *tandem.AIError {
	t.Helper()
	var ae *tandem.AIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T), want a *tandem.AIError", err, err)
	}
	for _, s := range []string{secret, "t0ps3cret"} {
		if strings.Contains(ae.Message, s) {
			t.Errorf("the error message shows a secret: %q", ae.Message)
		}
	}
	return ae
}

func callErr(p *webhook.Provider, req *tandem.AIRequest) error {
	_, err := p.Call(context.Background(), req)
	return err
}

// The request carries (testdata/request_example.json, the documented example) the conversation, the contact, the message, the history, the step and the
// memory, signed with the secret like the API channel's outbound calls.
func TestRequest(t *testing.T) {
	t.Parallel()
	p, f := setup(t, provider.Config{Secret: secret, Headers: map[string]string{"X-Api-Key": "business"}}, answer(200, `{"text":"It ships today."}`))
	if _, err := p.Call(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	c := f.Calls()[0]
	var got any
	if err := json.Unmarshal(c.Raw, &got); err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal(mustRead(t, "request_example.json"), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body\n got %v\nwant %v", got, want)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(c.Raw)
	if sig := c.Header.Get("X-Tandem-Signature"); sig != "sha256="+hex.EncodeToString(mac.Sum(nil)) || !api.Verify(secret, c.Raw, sig) {
		t.Errorf("signature %q does not verify", sig)
	}
	for h, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "Tandem", "X-Api-Key": "business"} {
		if got := c.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if key := c.Header.Get("Idempotency-Key"); !regexp.MustCompile(`^tandem-ai-[0-9a-f]{32}$`).MatchString(key) {
		t.Errorf("Idempotency-Key %q, want tandem-ai-<hex>", key)
	}
}

// A classify call sends the intents; without a secret nothing is signed; a retry of the same
// call has the same Idempotency-Key, another call another one.
func TestClassifyUnsignedAndIdempotency(t *testing.T) {
	t.Parallel()
	p, f := setup(t, provider.Config{}, answer(200, `{"intent":"meeting","confidence":0.8}`))
	req := request()
	req.Op, req.Messages = tandem.AIClassify, []tandem.ChatMessage{{Role: "user", Content: req.Input}}
	req.Intents = []tandem.Intent{{ID: "meeting", Description: "Wants a call"}, {ID: "greeting", Examples: []string{"hi"}}}
	for range 2 {
		res, err := p.Call(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Intent != "meeting" || res.Confidence != 0.8 {
			t.Errorf("intent %q confidence %v, want meeting 0.8", res.Intent, res.Confidence)
		}
	}
	other := *req
	other.Input = "Hi"
	other.Messages = []tandem.ChatMessage{{Role: "user", Content: "Hi"}}
	if _, err := p.Call(context.Background(), &other); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls()
	var body webhook.Request
	if err := json.Unmarshal(calls[0].Raw, &body); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(body.Intents, req.Intents) || body.Op != "classify" || len(body.History) != 0 {
		t.Errorf("body %+v, want the intents, op classify and no history", body)
	}
	if sig := calls[0].Header.Get("X-Tandem-Signature"); sig != "" {
		t.Errorf("signature %q without a secret", sig)
	}
	k0, k1, k2 := calls[0].Header.Get("Idempotency-Key"), calls[1].Header.Get("Idempotency-Key"), calls[2].Header.Get("Idempotency-Key")
	if k0 != k1 || k0 == k2 {
		t.Errorf("keys %q %q %q, want the first two equal and the third different", k0, k1, k2)
	}
}

// The answer gives text, memory, intent and tool calls; a body that is not JSON is a temporary
// 502 (something in between answered), JSON of the wrong shape a permanent error.
func TestAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       *tandem.AIResult
		err        string
		status     int
		temporary  bool
	}{
		{name: "text and memory", body: `{"text":" It ships today. ","memory":"m2"}`,
			want: &tandem.AIResult{Provider: "hook", Text: "It ships today.", Memory: "m2", FinishReason: "stop", Usage: tandem.Usage{Calls: 1}}},
		{name: "memory kept when absent", body: `{"text":"ok","extra":{"any":1}}`,
			want: &tandem.AIResult{Provider: "hook", Text: "ok", Memory: "m1", FinishReason: "stop", Usage: tandem.Usage{Calls: 1}}},
		{name: "tool calls", body: `{"tool_calls":[{"id":"t1","name":"handoff","arguments":{"reason":"angry"}},{"name":"lookup","arguments":"{\"order\":\"42\"}"}]}`,
			want: &tandem.AIResult{Provider: "hook", Memory: "m1", FinishReason: "tool_calls", Usage: tandem.Usage{Calls: 1}, ToolCalls: []tandem.ToolCall{
				{ID: "t1", Name: "handoff", Arguments: json.RawMessage(`{"reason":"angry"}`)},
				{ID: "webhook-2", Name: "lookup", Arguments: json.RawMessage(`{"order":"42"}`)}}}},
		{name: "not JSON", body: `<html>ok</html>`, err: "malformed JSON", status: 502, temporary: true},
		{name: "nothing in it", body: `{"ok":true}`, err: "without text, intent or tool_calls"},
		{name: "text not a string", body: `{"text":42}`, err: "unexpected shape"},
		{name: "tool call without a name", body: `{"tool_calls":[{"id":"t1"}]}`, err: "without a name"},
		{name: "tool arguments not JSON", body: `{"tool_calls":[{"name":"x","arguments":"{oops"}]}`, err: "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _ := setup(t, provider.Config{Secret: secret}, answer(200, tc.body))
			res, err := p.Call(context.Background(), request())
			if tc.err != "" {
				if ae := aiError(t, err); ae.Status != tc.status || ae.Temporary != tc.temporary || !strings.Contains(ae.Message, tc.err) {
					t.Errorf("got %+v, want status %d temporary %v saying %q", ae, tc.status, tc.temporary, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res, tc.want) {
				t.Errorf("result\n got %+v\nwant %+v", res, tc.want)
			}
		})
	}
}

// Non-2xx answers are AIErrors with the status and the webhook's message; 429 and 5xx are
// temporary with the server's Retry-After; secrets and the URL's token are never shown.
func TestStatusErrors(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		status    int
		header    string
		body      string
		temporary bool
		wait      time.Duration
		want      string
	}{
		{name: "400", status: 400, body: `{"error":"unknown conversation"}`, want: "answered status 400: unknown conversation"},
		{name: "401 echoing the secret", status: 401, body: `{"error":{"message":"bad signature for ` + secret + `"}}`, want: "answered status 401; check the provider's secret and headers"},
		{name: "429 quota", status: 429, body: `{"error":"monthly quota exceeded"}`, want: "status 429: monthly quota exceeded"},
		{name: "404 text", status: 404, body: "no such route /answer?token=t0ps3cret", want: "answered status 404: no such route /answer?[redacted]"},
		{name: "429 seconds", status: 429, header: "7", body: `{"message":"slow down"}`, temporary: true, wait: 7 * time.Second, want: "status 429: slow down"},
		{name: "429 date", status: 429, header: now.Add(time.Minute).Format(http.TimeFormat), temporary: true, wait: time.Minute, want: "status 429"},
		{name: "503", status: 503, body: "", temporary: true, want: "answered status 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _ := setup(t, provider.Config{Secret: secret}, func(w http.ResponseWriter, r *http.Request, b []byte) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			p.Now = func() time.Time { return now }
			ae := aiError(t, callErr(p, request()))
			if ae.Status != tc.status || ae.Temporary != tc.temporary || ae.RetryAfter != tc.wait {
				t.Errorf("status %d temporary %v wait %s, want %d %v %s", ae.Status, ae.Temporary, ae.RetryAfter, tc.status, tc.temporary, tc.wait)
			}
			if !strings.Contains(ae.Message, `the assistant webhook (provider "hook", 127.0.0.1:`) || !strings.Contains(ae.Message, tc.want) {
				t.Errorf("message %q, want it to say %q", ae.Message, tc.want)
			}
		})
	}
}

// A webhook slower than the timeout, or unreachable, is a temporary error.
func TestTimeoutAndNetwork(t *testing.T) {
	t.Parallel()
	p, _ := setup(t, provider.Config{Timeout: 50 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request, b []byte) { <-r.Context().Done() })
	if ae := aiError(t, callErr(p, request())); !ae.Temporary || !strings.Contains(ae.Message, "timeout") {
		t.Errorf("got %+v, want a temporary timeout", ae)
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	p2, err := webhook.New(provider.Config{ID: "hook", URL: srv.URL + "/x?token=t0ps3cret"}, provider.Deps{HTTP: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if ae := aiError(t, callErr(p2, request())); !ae.Temporary || !strings.Contains(ae.Message, "cannot be reached") {
		t.Errorf("got %+v, want a temporary network error", ae)
	}
}

// The kind is registered; a URL that is not http(s) is refused when built, a missing one when called.
func TestRegistry(t *testing.T) {
	t.Parallel()
	if _, err := provider.New(provider.Config{ID: "h", Kind: "webhook", URL: "ftp://x"}, provider.Deps{}); err == nil || !strings.Contains(err.Error(), "url") {
		t.Errorf("ftp url: error %v, want one naming url", err)
	}
	p, err := provider.New(provider.Config{ID: "h", Kind: "webhook"}, provider.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Call(context.Background(), request())
	if ae := aiError(t, err); ae.Temporary || !strings.Contains(ae.Message, "has no url") {
		t.Errorf("got %+v, want a permanent missing-url error", ae)
	}
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// The documented example answer (docs/providers-more.md) is read as documented.
func TestDocumentedExample(t *testing.T) {
	t.Parallel()
	p, _ := setup(t, provider.Config{}, answer(200, string(mustRead(t, "answer_example.json"))))
	res, err := p.Call(context.Background(), request())
	if err != nil {
		t.Fatal(err)
	}
	if res.Text == "" || res.Memory != "thread-42" {
		t.Errorf("result %+v, want the example's text and memory", res)
	}
}
