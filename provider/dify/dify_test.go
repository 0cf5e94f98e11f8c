package dify_test

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
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/provider"
	"github.com/tandemchat/tandem/provider/dify"
	"github.com/tandemchat/tandem/provider/providertest"
)

const (
	key     = "app-s3cr3t-dify-key"
	convA   = "45701982-8118-4bc5-8e9b-64562b4555f2"
	convB   = "9b2f4a10-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
	query   = "What are the specs of the iPhone 13 Pro Max?"
	contact = "c1"
)

// call is one request the fake Dify received.
// call is one request the fake received; fake is the API on httptest.
type (
	call = providertest.Call
	fake = providertest.JSONFake
)

// setup starts a fake Dify and a provider pointed at it (base URL …/v1, blocking).
func setup(t *testing.T, mode string, handle func(w http.ResponseWriter, r *http.Request, body map[string]any)) (*dify.Provider, *fake) {
	t.Helper()
	f := &fake{Handle: func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		if strings.HasSuffix(r.URL.Path, "/stop") { // a stop request always succeeds
			io.WriteString(w, `{"result":"success"}`)
			return
		}
		handle(w, r, body)
	}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := dify.New(provider.Config{ID: "support", Kind: dify.Kind, APIKey: key, BaseURL: srv.URL + "/v1/", ResponseMode: mode},
		provider.Deps{HTTP: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return p, f
}

func request(memory string) *tandem.AIRequest {
	return &tandem.AIRequest{Provider: "support", Op: tandem.AIAssist, Step: "answer", ConversationID: "conv-1",
		Contact: &tandem.Contact{ID: contact, Name: "Ana"}, Input: query, Memory: memory,
		Messages: []tandem.ChatMessage{{Role: "user", Content: query}}}
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustJSON(tb testing.TB, name string) map[string]any {
	tb.Helper()
	var v map[string]any
	if err := json.Unmarshal(mustRead(tb, name), &v); err != nil {
		tb.Fatal(err)
	}
	return v
}

// events returns the events of a stream fixture, one JSON text each.
func events(tb testing.TB, name string) []string {
	tb.Helper()
	var v struct{ Events []json.RawMessage }
	if err := json.Unmarshal(mustRead(tb, name), &v); err != nil {
		tb.Fatal(err)
	}
	out := make([]string, len(v.Events))
	for i, e := range v.Events {
		out[i] = string(e)
	}
	return out
}

// compact re-encodes JSON on one line, as Dify writes each data line.
func compact(tb testing.TB, s string) string {
	tb.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		tb.Fatalf("bad JSON %q: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// writeSSE answers with an event stream of the events, a ping line before each.
func writeSSE(tb testing.TB, w http.ResponseWriter, evs []string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	for _, e := range evs {
		fmt.Fprintf(w, "event: ping\n\ndata: %s\n\n", compact(tb, e))
		w.(http.Flusher).Flush()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	switch v := v.(type) {
	case []byte:
		w.Write(v)
	case string:
		io.WriteString(w, v)
	default:
		json.NewEncoder(w).Encode(v)
	}
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

// The blocking call sends the contract's request (fixture) and reads the contract's answer.
func TestBlocking(t *testing.T) {
	t.Parallel()
	p, f := setup(t, "", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		writeJSON(w, 200, mustRead(t, "chat_messages_response_blocking_docs.json"))
	})
	res, err := p.Call(context.Background(), request(convA))
	if err != nil {
		t.Fatal(err)
	}
	calls := f.Calls()
	if len(calls) != 1 {
		t.Fatalf("got %d calls, want 1", len(calls))
	}
	c := calls[0]
	if got, want := c.Method+" "+c.Path, "POST /v1/chat-messages"; got != want {
		t.Errorf("request line %q, want %q", got, want)
	}
	for h, want := range map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json", "Accept": "application/json"} {
		if got := c.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	want := mustJSON(t, "chat_messages_request_blocking_docs.json")
	want["user"] = "tandem-" + contact
	if !reflect.DeepEqual(c.Body, want) {
		t.Errorf("body\n got %v\nwant %v", c.Body, want)
	}
	wantRes := &tandem.AIResult{Provider: "support", Text: "iPhone 13 Pro Max specs are listed here:...", Memory: convA, FinishReason: "stop",
		Usage: tandem.Usage{Calls: 1, InputTokens: 1033, OutputTokens: 128}}
	if len(res.Citations) != 1 || res.Citations[0].Source != "iPhone List" || !strings.HasPrefix(res.Citations[0].Text, `"Model"`) || res.Citations[0].Score == 0 {
		t.Errorf("citations %+v, want the one retriever resource", res.Citations)
	}
	res.Citations = nil
	if !reflect.DeepEqual(res, wantRes) {
		t.Errorf("result\n got %+v\nwant %+v", res, wantRes)
	}
}

// The streaming call sends the contract's streaming request, an image of the message as a file.
func TestStreamingRequest(t *testing.T) {
	t.Parallel()
	p, f := setup(t, dify.Streaming, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		writeSSE(t, w, events(t, "chat_messages_stream_chatbot_docs.json"))
	})
	p.Inputs = map[string]any{"city": "San Francisco"}
	req := request("")
	req.Messages = []tandem.ChatMessage{{Role: "assistant", Content: "Hi!"}, {Role: "user", Content: query,
		Images: []string{"https://cloud.dify.ai/logo/logo-site.png", "/media/local.png"}}}
	if _, err := p.Call(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	c := f.Calls()[0]
	want := mustJSON(t, "chat_messages_request_streaming_docs.json")
	want["user"] = "tandem-" + contact
	if !reflect.DeepEqual(c.Body, want) {
		t.Errorf("body\n got %v\nwant %v", c.Body, want)
	}
	if got := c.Header.Get("Accept"); got != "text/event-stream" {
		t.Errorf("Accept = %q, want text/event-stream", got)
	}
}

// Inputs fill in contact and conversation placeholders; a memory that is not a UUID (left by
// another kind of provider) starts a new conversation.
func TestInputsAndForeignMemory(t *testing.T) {
	t.Parallel()
	p, f := setup(t, "", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		writeJSON(w, 200, mustRead(t, "chat_messages_response_blocking_docs.json"))
	})
	p.Inputs = map[string]any{"name": "{{ contact.name }}", "conv": "{{conversation.id}}", "n": 3.0, "other": "{{var.x}}"}
	if _, err := p.Call(context.Background(), request("thread_abc123")); err != nil {
		t.Fatal(err)
	}
	c := f.Calls()[0]
	want := map[string]any{"name": "Ana", "conv": "conv-1", "n": 3.0, "other": "{{var.x}}"}
	if got := c.Body["inputs"]; !reflect.DeepEqual(got, want) {
		t.Errorf("inputs %v, want %v", got, want)
	}
	if got := c.Body["conversation_id"]; got != "" {
		t.Errorf("conversation_id %q, want empty", got)
	}
}

// The conversation id Dify returns is the memory, sent on the next turn with the same user.
func TestConversationKeptBetweenTurns(t *testing.T) {
	t.Parallel()
	p, f := setup(t, "", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		ans := mustJSON(t, "chat_messages_response_blocking_docs.json")
		ans["conversation_id"] = convB
		if body["conversation_id"] != "" {
			ans["conversation_id"] = body["conversation_id"]
		}
		writeJSON(w, 200, ans)
	})
	first, err := p.Call(context.Background(), request(""))
	if err != nil {
		t.Fatal(err)
	}
	if first.Memory != convB {
		t.Fatalf("memory %q, want %q", first.Memory, convB)
	}
	if _, err := p.Call(context.Background(), request(first.Memory)); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls()
	if got := []any{calls[0].Body["conversation_id"], calls[1].Body["conversation_id"]}; !reflect.DeepEqual(got, []any{"", convB}) {
		t.Errorf("conversation ids sent %v, want [\"\" %s]", got, convB)
	}
	if calls[0].Body["user"] != calls[1].Body["user"] {
		t.Errorf("users differ between turns: %v, %v", calls[0].Body["user"], calls[1].Body["user"])
	}
}

// A stored conversation Dify no longer knows is dropped and the turn sent once as a new one.
func TestConversationGone(t *testing.T) {
	t.Parallel()
	errs := mustJSON(t, "chat_messages_errors_docs.json")["examples"].(map[string]any)
	for _, tc := range []struct {
		name, mode, example string
		memory              string
		always              bool // the error comes back on the retry too
		wantCalls           int
		wantErr             string
	}{
		{name: "404 blocking", example: "conversation_not_exists", memory: convA, wantCalls: 2},
		{name: "404 streaming", mode: dify.Streaming, example: "conversation_not_exists", memory: convA, wantCalls: 2},
		{name: "conversation completed", example: "conversation_completed", memory: convA, wantCalls: 2},
		{name: "404 without memory is an error", example: "conversation_not_exists", memory: "", always: true, wantCalls: 1, wantErr: "does not know the conversation"},
		{name: "retried once only", example: "conversation_not_exists", memory: convA, always: true, wantCalls: 2, wantErr: "404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ex := errs[tc.example].(map[string]any)
			p, f := setup(t, tc.mode, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
				if body["conversation_id"] == tc.memory || tc.always {
					writeJSON(w, int(ex["http_status"].(float64)), ex["body"])
					return
				}
				if tc.mode == dify.Streaming {
					evs := events(t, "chat_messages_stream_chatbot_docs.json")
					for i := range evs {
						evs[i] = strings.ReplaceAll(evs[i], convA, convB)
					}
					writeSSE(t, w, evs)
					return
				}
				ans := mustJSON(t, "chat_messages_response_blocking_docs.json")
				ans["conversation_id"] = convB
				writeJSON(w, 200, ans)
			})
			res, err := p.Call(context.Background(), request(tc.memory))
			if got := len(f.Calls()); got != tc.wantCalls {
				t.Errorf("%d calls, want %d", got, tc.wantCalls)
			}
			if tc.wantErr != "" {
				if ae := aiError(t, err); !strings.Contains(ae.Message, tc.wantErr) {
					t.Errorf("error %q, want it to mention %q", ae.Message, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Memory != convB {
				t.Errorf("memory %q, want the new conversation %q", res.Memory, convB)
			}
			if got := f.Calls()[1].Body["conversation_id"]; got != "" {
				t.Errorf("retry sent conversation_id %q, want empty", got)
			}
		})
	}
}

// Every documented error becomes an AIError with one clear sentence and the right retry hint.
func TestErrors(t *testing.T) {
	t.Parallel()
	errs := mustJSON(t, "chat_messages_errors_docs.json")["examples"].(map[string]any)
	for _, tc := range []struct {
		example   string
		temporary bool
		want      string
	}{
		{"app_unavailable", false, "app is unavailable"},
		{"not_chat_app", false, "not a chat app"},
		{"provider_not_initialize", false, "Settings → Model Provider"},
		{"provider_quota_exceeded", false, "quota is exhausted"},
		{"model_currently_not_support", false, "cannot use the app's model: Dify Hosted OpenAI trial currently not support the GPT-4 model (model_currently_not_support)"},
		{"completion_request_error", false, "could not get an answer from the app's model: Completion request failed (completion_request_error)"},
		{"new_agent_streaming_only", false, "set response_mode: streaming"},
		{"new_agent_not_bound", false, "rejected the request as invalid: Agent App has no bound Agent (invalid_param)"},
		{"new_agent_not_published", false, "agent is not published"},
		{"workflow_version_execution_not_allowed", false, "refused the call (403)"},
		{"too_many_requests", true, "too many requests"},
		{"rate_limit_error", false, "quota is used up"},
		{"internal_server_error", true, "internal error (status 500)"},
	} {
		t.Run(tc.example, func(t *testing.T) {
			t.Parallel()
			ex := errs[tc.example].(map[string]any)
			status := int(ex["http_status"].(float64))
			p, _ := setup(t, "", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
				writeJSON(w, status, ex["body"])
			})
			_, err := p.Call(context.Background(), request(""))
			ae := aiError(t, err)
			if ae.Status != status || ae.Temporary != tc.temporary {
				t.Errorf("status %d temporary %v, want %d %v", ae.Status, ae.Temporary, status, tc.temporary)
			}
			if !strings.HasPrefix(ae.Message, `Dify (provider "support") `) || !strings.Contains(ae.Message, tc.want) {
				t.Errorf("message %q, want it to say %q", ae.Message, tc.want)
			}
		})
	}
}

// 401 says to check the key without showing it, even when the server echoes it.
func TestUnauthorized(t *testing.T) {
	t.Parallel()
	p, _ := setup(t, "", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		writeJSON(w, 401, map[string]any{"code": "unauthorized", "message": "Invalid token " + r.Header.Get("Authorization"), "status": 401})
	})
	_, err := p.Call(context.Background(), request(""))
	ae := aiError(t, err)
	if ae.Status != 401 || ae.Temporary || !strings.Contains(ae.Message, "api_key") {
		t.Errorf("got %+v, want a permanent 401 that names api_key", ae)
	}
}

// 429 carries the server's Retry-After, in seconds or as an HTTP date.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"7", 7 * time.Second},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{"", 0},
		{"soon", 0},
	} {
		t.Run(tc.header, func(t *testing.T) {
			t.Parallel()
			p, _ := setup(t, "", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				writeJSON(w, 429, `{"status":429,"code":"too_many_requests","message":"Too many requests. Please try again later."}`)
			})
			p.Now = func() time.Time { return now }
			ae := aiError(t, callErr(p, request("")))
			if ae.Status != 429 || !ae.Temporary || ae.RetryAfter != tc.want {
				t.Errorf("got status %d temporary %v retry after %s, want 429 true %s", ae.Status, ae.Temporary, ae.RetryAfter, tc.want)
			}
		})
	}
}

func callErr(p *dify.Provider, req *tandem.AIRequest) error {
	_, err := p.Call(context.Background(), req)
	return err
}

// Answers that are not what the contract says are errors, not panics or empty texts: a body
// that is not JSON at all came from something in between and is a temporary 502; JSON without
// an answer is permanent.
func TestMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ctype, body, want string
		status                  int
		temporary               bool
	}{
		{"not JSON", "application/json", "<html>oops</html>", "malformed JSON", 502, true},
		{"no answer", "application/json", `{"event":"message","conversation_id":"` + convA + `"}`, "without an answer", 0, false},
		{"empty answer", "application/json", `{"event":"message","answer":"  ","conversation_id":"` + convA + `"}`, "empty answer", 0, false},
		{"paused Chatflow", "application/json", `{"event":"workflow_paused","data":{"status":"paused"}}`, "human-input form", 0, false},
		{"event not JSON", "text/event-stream", "data: {\"event\":\"message\",\"answer\":\"a\"}\n\ndata: nope\n\n", "malformed JSON", 502, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _ := setup(t, "", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
				w.Header().Set("Content-Type", tc.ctype)
				io.WriteString(w, tc.body)
			})
			ae := aiError(t, callErr(p, request("")))
			if ae.Status != tc.status || ae.Temporary != tc.temporary || !strings.Contains(ae.Message, tc.want) {
				t.Errorf("got %+v, want status %d temporary %v saying %q", ae, tc.status, tc.temporary, tc.want)
			}
		})
	}
}

// A call that outlives its context, or cannot connect, is a temporary error.
func TestTimeoutAndNetwork(t *testing.T) {
	t.Parallel()
	t.Run("context deadline", func(t *testing.T) {
		t.Parallel()
		p, _ := setup(t, "", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
			<-r.Context().Done()
		})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := p.Call(ctx, request(""))
		if ae := aiError(t, err); !ae.Temporary || !strings.Contains(ae.Message, "timeout") {
			t.Errorf("got %+v, want a temporary timeout", ae)
		}
	})
	t.Run("configured timeout", func(t *testing.T) {
		t.Parallel()
		p, _ := setup(t, dify.Streaming, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
			<-r.Context().Done()
		})
		p.Timeout = 50 * time.Millisecond
		if ae := aiError(t, callErr(p, request(""))); !ae.Temporary || !strings.Contains(ae.Message, "timeout") {
			t.Errorf("got %+v, want a temporary timeout", ae)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		p, err := dify.New(provider.Config{ID: "support", APIKey: key, BaseURL: srv.URL}, provider.Deps{HTTP: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		ae := aiError(t, callErr(p, request("")))
		if !ae.Temporary || !strings.Contains(ae.Message, "cannot be reached") || strings.Contains(ae.Message, srv.URL) {
			t.Errorf("got %+v, want a temporary network error without the URL", ae)
		}
	})
}

// What the provider refuses before calling Dify.
func TestRefusedLocally(t *testing.T) {
	t.Parallel()
	p, f := setup(t, "", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		t.Error("Dify was called")
	})
	classify := request("")
	classify.Op = tandem.AIClassify
	empty := request("")
	empty.Input, empty.Messages = "", nil
	noKey := *p
	noKey.APIKey = ""
	for name, tc := range map[string]struct {
		p    *dify.Provider
		req  *tandem.AIRequest
		want string
	}{
		"classify":  {p, classify, "cannot classify"},
		"no text":   {p, empty, "no customer text"},
		"no apikey": {&noKey, request(""), "has no api_key"},
	} {
		if ae := aiError(t, callErr(tc.p, tc.req)); ae.Temporary || !strings.Contains(ae.Message, tc.want) {
			t.Errorf("%s: got %+v, want %q", name, ae, tc.want)
		}
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("%d calls, want none", n)
	}
}

// The kind is registered and checks its response mode.
func TestRegistry(t *testing.T) {
	t.Parallel()
	p, err := provider.New(provider.Config{ID: "d", Kind: "dify", APIKey: "k"}, provider.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := p.(*dify.Provider); !ok || d.Client == nil || d.Now == nil {
		t.Errorf("got %#v, want a *dify.Provider with a client and a clock", p)
	}
	if _, err := provider.New(provider.Config{ID: "d", Kind: "dify", ResponseMode: "fast"}, provider.Deps{}); err == nil || !strings.Contains(err.Error(), "response_mode") {
		t.Errorf("response_mode fast: error %v, want one naming response_mode", err)
	}
}
