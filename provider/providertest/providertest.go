// Package providertest is the behaviour suite every HTTP AI provider kind runs against a fake
// server (Run): it answers, gives the model the system text and the messages in order, and
// turns every failure — 401, 404, 429 with Retry-After, 5xx, malformed answers, a passed
// deadline, an unreachable server — into a *tandem.AIError with the right Status, RetryAfter
// and Temporary, with the API key in no error text. It also holds the OpenAI fixtures
// (testdata/: the vendors' documented payloads) and helpers for fakes: request capture, JSON
// comparison, event streams. Only tests import it.
package providertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
)

//go:embed testdata
var fixtures embed.FS

// Fixture returns a fixture file, such as "openai/chat_completions_response_basic.json".
func Fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// FixtureMap returns a JSON object fixture decoded, to change before serving it.
func FixtureMap(tb testing.TB, name string) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(Fixture(tb, name), &m); err != nil {
		tb.Fatalf("fixture %s: %v", name, err)
	}
	return m
}

// MustJSON encodes v.
func MustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// AssertJSON fails unless got and want are the same JSON value (key order and spacing aside).
func AssertJSON(tb testing.TB, what string, got, want []byte) {
	tb.Helper()
	g, w := decode(tb, got), decode(tb, want)
	if !reflect.DeepEqual(g, w) {
		tb.Errorf("%s:\n got %s\nwant %s", what, canonical(g), canonical(w))
	}
}

// AssertJSONSubset fails unless every key of want is in got with the same value: objects are
// compared key by key and arrays (of the same length) item by item, recursively.
func AssertJSONSubset(tb testing.TB, what string, got, want []byte) {
	tb.Helper()
	g, w := decode(tb, got), decode(tb, want)
	if path, ok := subset(g, w, "$"); !ok {
		tb.Errorf("%s: differs at %s:\n got %s\nwant ⊇ %s", what, path, canonical(g), canonical(w))
	}
}

func subset(got, want any, path string) (string, bool) {
	if wa, ok := want.([]any); ok {
		ga, ok := got.([]any)
		if !ok || len(ga) != len(wa) {
			return path, false
		}
		for i := range wa {
			if p, ok := subset(ga[i], wa[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	}
	wm, ok := want.(map[string]any)
	if !ok {
		return path, reflect.DeepEqual(got, want)
	}
	gm, ok := got.(map[string]any)
	if !ok {
		return path, false
	}
	for k, wv := range wm {
		gv, ok := gm[k]
		if !ok {
			return path + "." + k, false
		}
		if p, ok := subset(gv, wv, path+"."+k); !ok {
			return p, false
		}
	}
	return "", true
}

func decode(tb testing.TB, b []byte) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("not JSON (%v): %s", err, b)
	}
	return v
}

func canonical(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Request is one request a fake server received.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
	// Context ends when the client goes away.
	Context context.Context
}

// Recorder keeps the requests a fake server received, safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	reqs []Request
}

// Record reads r's body and keeps the request.
func (rc *Recorder) Record(r *http.Request) Request {
	b, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: b, Context: r.Context()}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, req)
	rc.mu.Unlock()
	return req
}

// Requests returns the requests received so far.
func (rc *Recorder) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Request(nil), rc.reqs...)
}

// Call is one request a JSONFake received, its JSON body decoded (nil when it is not JSON).
type Call struct {
	Method, Path string
	Header       http.Header
	Body         map[string]any
}

// JSONFake is a fake JSON API on httptest: Handle answers each request, Calls returns what it
// received.
type JSONFake struct {
	Handle func(w http.ResponseWriter, r *http.Request, body map[string]any)

	mu    sync.Mutex
	calls []Call
}

func (f *JSONFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	f.mu.Lock()
	f.calls = append(f.calls, Call{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	f.mu.Unlock()
	f.Handle(w, r, body)
}

// Calls returns the requests received so far.
func (f *JSONFake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Routes lists "METHOD /path" of every request received, in order.
func (rc *Recorder) Routes() []string {
	var out []string
	for _, r := range rc.Requests() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// WriteJSON answers with a status and a JSON body (bytes are written as they are).
func WriteJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	switch b := body.(type) {
	case []byte:
		_, _ = w.Write(b)
	case string:
		_, _ = io.WriteString(w, b)
	default:
		_ = json.NewEncoder(w).Encode(b)
	}
}

// WriteEvents answers with a server-sent event stream of the frames, flushing each.
func WriteEvents(w http.ResponseWriter, frames []string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for _, f := range frames {
		_, _ = io.WriteString(w, f)
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
	}
}

// HangUp drops the connection without ending the answer, as a network failure in the middle of
// a stream does (the client reads an unexpected EOF).
func HangUp(tb testing.TB, w http.ResponseWriter) {
	tb.Helper()
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		tb.Fatalf("hang up: %v", err)
	}
	_ = conn.Close()
}

// Data is a server-sent event frame with only data.
func Data(data string) string { return "data: " + data + "\n\n" }

// Event is a server-sent event frame with a name and data.
func Event(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }

// ChatStreamFrames are the Chat Completions stream chunks of the spec's example as wire frames
// (the fixture has bare JSON lines and an elision), without the closing [DONE].
func ChatStreamFrames(tb testing.TB) []string {
	tb.Helper()
	var out []string
	for _, line := range strings.Split(string(Fixture(tb, "openai/chat_completions_stream_chunks_spec_example.txt")), "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "{") {
			out = append(out, Data(line))
		}
	}
	return out
}

// ResponsesStreamFrames are the Responses stream events of the docs' example as wire frames.
func ResponsesStreamFrames(tb testing.TB) []string {
	tb.Helper()
	var doc struct {
		Frames []struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		} `json:"frames"`
	}
	if err := json.Unmarshal(Fixture(tb, "openai/responses_stream_events_docs.json"), &doc); err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, f := range doc.Frames {
		var compact bytes.Buffer
		_ = json.Compact(&compact, f.Data)
		out = append(out, Event(f.Event, compact.String()))
	}
	return out
}

// NewKey returns a fresh fake API key.
func NewKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "sk-test-" + hex.EncodeToString(b)
}

// System and Messages make the exchange the suite sends; Transcript is what the model must be
// given, in order.
var (
	System   = "You are ACME's support assistant."
	Messages = []tandem.ChatMessage{
		{Role: "user", Content: "Hi, I am Ana."},
		{Role: "assistant", Content: "Hello Ana! How can I help?"},
		{Role: "user", Content: "Where is my order?"},
	}
	Transcript = []string{System, "Hi, I am Ana.", "Hello Ana! How can I help?", "Where is my order?"}
)

// NewRequest is the suite's request for an operation.
func NewRequest(op string) *tandem.AIRequest {
	return &tandem.AIRequest{Provider: "p", Op: op, Step: "answer", ConversationID: "conv-1", System: System,
		Messages: append([]tandem.ChatMessage(nil), Messages...), Input: Messages[len(Messages)-1].Content}
}

// Kind describes a provider kind to the suite.
type Kind struct {
	// New builds the provider under test for a fake server's base URL and an API key.
	New func(baseURL, apiKey string) tandem.Provider
	// Op is the operation the suite asks for (tandem.AIComplete, tandem.AIAssist).
	Op string
	// Serve returns a fake server that answers every request of a successful call with answer
	// as the model's text, and a function returning what the model was given so far: the
	// system text, then each message's text, in order.
	Serve func(t *testing.T, answer string) (http.Handler, func() []string)
	// Auth reports whether a request carries the key (default: Authorization: Bearer <key>).
	Auth func(r *http.Request, apiKey string) bool
}

func (k *Kind) server(t *testing.T, key string, h http.Handler) *httptest.Server {
	t.Helper()
	auth := k.Auth
	if auth == nil {
		auth = func(r *http.Request, key string) bool { return r.Header.Get("Authorization") == "Bearer "+key }
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !auth(r, key) {
			t.Errorf("%s %s: the request does not carry the API key as the kind must (headers %v)", r.Method, r.URL.Path, r.Header)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Failure is an error answer and the *tandem.AIError it must become.
type Failure struct {
	Name       string
	Status     int
	Header     map[string]string
	Body       string // the key's place is written {key}
	WantStatus int
	Temporary  bool
	RetryAfter time.Duration
	// RetryAfterAbout accepts RetryAfter within a second of it (HTTP dates).
	RetryAfterAbout bool
}

// Failures are the error answers every kind must map.
func Failures() []Failure {
	return []Failure{
		{Name: "invalid key", Status: 401, WantStatus: 401,
			Body: `{"error":{"message":"Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`},
		{Name: "masked key echoed", Status: 401, WantStatus: 401,
			Body: `{"error":{"message":"Incorrect API key provided: sk-test-****************************abcd.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`},
		{Name: "not found", Status: 404, WantStatus: 404,
			Body: `{"error":{"message":"The model ` + "`gpt-nope`" + ` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}`},
		{Name: "bad request, flat vLLM error", Status: 400, WantStatus: 400,
			Body: `{"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}`},
		{Name: "rate limited, Retry-After seconds", Status: 429, WantStatus: 429, Temporary: true, RetryAfter: 7 * time.Second,
			Header: map[string]string{"Retry-After": "7"},
			Body:   `{"error":{"message":"Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`},
		{Name: "rate limited, retry-after-ms", Status: 429, WantStatus: 429, Temporary: true, RetryAfter: 1500 * time.Millisecond,
			Header: map[string]string{"retry-after-ms": "1500", "Retry-After": "2"},
			Body:   `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`},
		{Name: "rate limited, Retry-After date", Status: 429, WantStatus: 429, Temporary: true, RetryAfter: 10 * time.Second, RetryAfterAbout: true,
			Header: map[string]string{"Retry-After": "{date+10s}"},
			Body:   `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`},
		{Name: "rate limited, OpenRouter numeric code", Status: 429, WantStatus: 429, Temporary: true,
			Body: `{"error":{"code":429,"message":"Rate limit exceeded: free-models-per-min."}}`},
		{Name: "no quota", Status: 429, WantStatus: 429,
			Body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`},
		{Name: "server error", Status: 500, WantStatus: 500, Temporary: true,
			Body: `{"error":{"message":"The server had an error while processing your request. Key {key} is fine.","type":"server_error","param":null,"code":null}}`},
		{Name: "overloaded, HTML", Status: 503, WantStatus: 503, Temporary: true, Body: `<html><body>503 Service Unavailable</body></html>`},
		{Name: "server says do not retry", Status: 500, WantStatus: 500, Header: map[string]string{"x-should-retry": "false"},
			Body: `{"error":{"message":"no","type":"server_error","param":null,"code":null}}`},
		{Name: "malformed JSON", Status: 200, WantStatus: 502, Temporary: true, Body: `{"id": "x", "choices": [`},
		{Name: "HTML instead of JSON", Status: 200, WantStatus: 502, Temporary: true, Body: `<html>Bad gateway</html>`},
	}
}

// Run runs the behaviour suite for a kind.
func Run(t *testing.T, k Kind) {
	t.Run("answers", func(t *testing.T) {
		t.Parallel()
		key := NewKey()
		h, _ := k.Serve(t, "Your order ships tomorrow.")
		srv := k.server(t, key, h)
		res, err := k.New(srv.URL, key).Call(ctxFor(t, 10*time.Second), NewRequest(k.Op))
		if err != nil {
			t.Fatalf("Call: %v", err)
		}
		if got, want := res.Text, "Your order ships tomorrow."; got != want {
			t.Errorf("Text = %q, want %q", got, want)
		}
		if got, want := res.Usage.Calls, 1; got != want {
			t.Errorf("Usage.Calls = %d, want %d", got, want)
		}
		if got, want := res.FinishReason, "stop"; got != want {
			t.Errorf("FinishReason = %q, want %q", got, want)
		}
	})

	t.Run("gives the model the system text and the messages in order", func(t *testing.T) {
		t.Parallel()
		key := NewKey()
		h, seen := k.Serve(t, "ok")
		srv := k.server(t, key, h)
		if _, err := k.New(srv.URL, key).Call(ctxFor(t, 10*time.Second), NewRequest(k.Op)); err != nil {
			t.Fatalf("Call: %v", err)
		}
		if got, want := seen(), Transcript; !reflect.DeepEqual(got, want) {
			t.Errorf("the model was given\n %q\nwant\n %q", got, want)
		}
	})

	RunFailures(t, k)
}

// RunFailures runs the failure part of the suite alone (every error answer of Failures, a
// deadline, an unreachable server), for kinds whose request the whole suite does not fit;
// Serve is not used.
func RunFailures(t *testing.T, k Kind) {
	for _, f := range Failures() {
		t.Run("failure: "+f.Name, func(t *testing.T) {
			t.Parallel()
			key := NewKey()
			srv := k.server(t, key, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				for name, v := range f.Header {
					if v == "{date+10s}" {
						v = time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
					}
					w.Header().Set(name, v)
				}
				w.Header().Set("x-request-id", "req_123")
				WriteJSON(w, f.Status, strings.ReplaceAll(f.Body, "{key}", key))
			}))
			_, err := k.New(srv.URL, key).Call(ctxFor(t, 10*time.Second), NewRequest(k.Op))
			ae := MustAIError(t, err, key)
			if ae.Status != f.WantStatus {
				t.Errorf("Status = %d, want %d (%s)", ae.Status, f.WantStatus, ae.Message)
			}
			if ae.Temporary != f.Temporary {
				t.Errorf("Temporary = %v, want %v (%s)", ae.Temporary, f.Temporary, ae.Message)
			}
			switch {
			case f.RetryAfterAbout:
				if d := ae.RetryAfter - f.RetryAfter; d < -2*time.Second || d > time.Second {
					t.Errorf("RetryAfter = %s, want about %s", ae.RetryAfter, f.RetryAfter)
				}
			case f.RetryAfter != 0 && ae.RetryAfter != f.RetryAfter:
				t.Errorf("RetryAfter = %s, want %s", ae.RetryAfter, f.RetryAfter)
			}
		})
	}

	t.Run("failure: deadline", func(t *testing.T) {
		t.Parallel()
		key := NewKey()
		release := make(chan struct{})
		srv := k.server(t, key, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(func() { close(release) }) // runs before srv.Close
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := k.New(srv.URL, key).Call(ctx, NewRequest(k.Op))
		ae := MustAIError(t, err, key)
		if !ae.Temporary || ae.Status != 0 || !strings.Contains(ae.Message, "timeout") {
			t.Errorf("got Status %d, Temporary %v, %q; want a temporary timeout without status", ae.Status, ae.Temporary, ae.Message)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the call took %s after its deadline of 200ms", d)
		}
	})

	t.Run("failure: unreachable", func(t *testing.T) {
		t.Parallel()
		key := NewKey()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		_, err := k.New(url, key).Call(ctxFor(t, 10*time.Second), NewRequest(k.Op))
		ae := MustAIError(t, err, key)
		if !ae.Temporary || ae.Status != 0 {
			t.Errorf("got Status %d, Temporary %v (%s); want a temporary network error", ae.Status, ae.Temporary, ae.Message)
		}
	})
}

// MustAIError fails unless err is a *tandem.AIError whose text is safe: non-empty and without
// the key.
func MustAIError(tb testing.TB, err error, key string) *tandem.AIError {
	tb.Helper()
	if err == nil {
		tb.Fatal("Call succeeded; want an error")
	}
	var ae *tandem.AIError
	if !errors.As(err, &ae) {
		tb.Fatalf("error %T %v is not a *tandem.AIError", err, err)
	}
	text := fmt.Sprintf("%v %+v %#v", err, ae, ae)
	if key != "" && strings.Contains(text, key) {
		tb.Errorf("the error contains the API key: %s", text)
	}
	if strings.Contains(text, "****abcd") {
		tb.Errorf("the error contains the end of a masked API key: %s", text)
	}
	if strings.TrimSpace(ae.Message) == "" {
		tb.Error("the error has no message")
	}
	return ae
}

// ctxFor is a context that ends with the test or after d.
func ctxFor(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// Context is a context that ends with the test or after d.
func Context(tb testing.TB, d time.Duration) context.Context { return ctxFor(tb, d) }
