package assistants

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/provider"
	pt "github.com/tandemchat/tandem/provider/providertest"
)

func mustNew(t *testing.T, base, key string) *Provider {
	t.Helper()
	p, err := New(provider.Config{ID: "legacy", Kind: Kind, APIKey: key, BaseURL: base, AssistantID: "asst_abc123"}, provider.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	p.PollInterval, p.MaxPollInterval = time.Millisecond, 5*time.Millisecond
	return p
}

func TestBehaviour(t *testing.T) {
	t.Parallel()
	for _, op := range []string{tandem.AIAssist, tandem.AIComplete} {
		t.Run(op, func(t *testing.T) {
			pt.Run(t, pt.Kind{Op: op,
				New: func(base, key string) tandem.Provider { return mustNew(t, base, key) },
				Serve: func(t *testing.T, answer string) (http.Handler, func() []string) {
					s := newServer(t, answer)
					return s, s.transcript
				},
				Auth: func(r *http.Request, key string) bool {
					return r.Header.Get("Authorization") == "Bearer "+key && r.Header.Get("OpenAI-Beta") == "assistants=v2"
				}})
		})
	}
}

var fixtureMessages = []tandem.ChatMessage{
	{Role: "user", Content: "Hello, what is AI?"},
	{Role: "user", Content: "How does AI work? Explain it in simple terms."},
}

func TestThreadCreatedOnceAndReused(t *testing.T) {
	t.Parallel()
	s := newServer(t, "AI finds patterns in data.")
	srv := s.start()
	p := mustNew(t, srv.URL, "sk-test-a")
	ctx := pt.Context(t, 10*time.Second)

	res, err := p.Call(ctx, &tandem.AIRequest{Op: tandem.AIAssist, Messages: fixtureMessages})
	if err != nil {
		t.Fatal(err)
	}
	want := &tandem.AIResult{Text: "AI finds patterns in data.", Model: "gpt-4o", FinishReason: "stop", Memory: "thread_abc123",
		Usage: tandem.Usage{Calls: 1, InputTokens: 123, OutputTokens: 456}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("turn 1\n got %+v\nwant %+v", res, want)
	}
	reqs := s.rec.Requests()
	if got, want := s.rec.Routes(), []string{"POST /threads", "POST /threads/thread_abc123/runs",
		"GET /threads/thread_abc123/runs/run_abc123", "GET /threads/thread_abc123/runs/run_abc123", "GET /threads/thread_abc123/messages"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("routes\n got %q\nwant %q", got, want)
	}
	pt.AssertJSON(t, "create thread", reqs[0].Body, pt.Fixture(t, "openai/assistants_v2_create_thread_request.json"))
	pt.AssertJSON(t, "create run", reqs[1].Body, pt.Fixture(t, "openai/assistants_v2_create_run_request.json"))
	if got := reqs[4].RawQuery; got != "limit=100&order=asc&run_id=run_abc123" {
		t.Errorf("messages query %q", got)
	}
	for _, r := range reqs {
		if r.Header.Get("OpenAI-Beta") != "assistants=v2" || r.Header.Get("Authorization") != "Bearer sk-test-a" {
			t.Errorf("%s %s: headers %v", r.Method, r.Path, r.Header)
		}
	}

	res, err = p.Call(ctx, &tandem.AIRequest{Op: tandem.AIAssist, Memory: res.Memory, Messages: fixtureMessages[1:]})
	if err != nil {
		t.Fatal(err)
	}
	if res.Memory != "thread_abc123" || res.Text != "AI finds patterns in data." {
		t.Errorf("turn 2: %+v", res)
	}
	reqs = s.rec.Requests()[5:]
	if got := reqs[0].Method + " " + reqs[0].Path; got != "POST /threads/thread_abc123/messages" {
		t.Fatalf("turn 2 starts with %s; want the message added to the kept thread", got)
	}
	pt.AssertJSON(t, "add message", reqs[0].Body, pt.Fixture(t, "openai/assistants_v2_create_message_request.json"))
	for _, r := range reqs {
		if r.Method == "POST" && r.Path == "/threads" {
			t.Error("turn 2 created a thread")
		}
	}
}

func TestToolCallsRoundTrip(t *testing.T) {
	t.Parallel()
	s := newServer(t, "It is 70 degrees and sunny in Boston.", "in_progress", "requires_action")
	srv := s.start()
	p := mustNew(t, srv.URL, "sk-test-t")
	ctx := pt.Context(t, 10*time.Second)
	weather := tandem.Tool{Name: "get_current_weather", Description: "Get the current weather in a given location",
		Parameters: tandem.JSON(`{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}`)}
	msgs := []tandem.ChatMessage{{Role: "user", Content: "What is the weather like in Boston today?"}}
	res, err := p.Call(ctx, &tandem.AIRequest{Op: tandem.AIComplete, Tools: []tandem.Tool{weather}, Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := []tandem.ToolCall{{ID: "call_001", Name: "get_current_weather", Arguments: tandem.JSON(`{"location":"Boston, MA"}`)}}
	if !reflect.DeepEqual(res.ToolCalls, wantCalls) || res.FinishReason != "tool_calls" || res.Memory != "thread_abc123/run_abc123" {
		t.Fatalf("result %+v", res)
	}
	var run []byte
	for _, r := range s.rec.Requests() {
		if r.Path == "/threads/thread_abc123/runs" {
			run = r.Body
		}
	}
	fx := pt.FixtureMap(t, "openai/assistants_v2_create_run_stream_functions_request.json")
	tools := append([]any{map[string]any{"type": "code_interpreter"}}, fx["tools"].([]any)...)
	pt.AssertJSON(t, "run with the step's tools and the assistant's own", run, pt.MustJSON(t, map[string]any{"assistant_id": "asst_abc123", "tools": tools}))

	msgs = append(msgs,
		tandem.ChatMessage{Role: "assistant", ToolCalls: res.ToolCalls},
		tandem.ChatMessage{Role: "tool", ToolCallID: "call_001", Content: "70 degrees and sunny."})
	n := len(s.rec.Requests())
	res, err = p.Call(ctx, &tandem.AIRequest{Op: tandem.AIComplete, Tools: []tandem.Tool{weather}, Memory: res.Memory, Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "It is 70 degrees and sunny in Boston." || res.Memory != "thread_abc123" || len(res.ToolCalls) != 0 {
		t.Errorf("result %+v", res)
	}
	reqs := s.rec.Requests()[n:]
	if got := reqs[0].Method + " " + reqs[0].Path; got != "POST /threads/thread_abc123/runs/run_abc123/submit_tool_outputs" {
		t.Fatalf("first request %s; want the tool outputs submitted", got)
	}
	pt.AssertJSON(t, "submit tool outputs", reqs[0].Body, pt.Fixture(t, "openai/assistants_v2_submit_tool_outputs_request.json"))
	if got := s.rec.Routes(); strings.Count(strings.Join(got, " "), "GET /assistants/asst_abc123") != 1 {
		t.Errorf("the assistant was read more than once: %q", got)
	}
}

func TestPendingRunIsCancelledBeforeTheNextTurn(t *testing.T) {
	t.Parallel()
	s := newServer(t, "Sure.", "requires_action")
	srv := s.start()
	p := mustNew(t, srv.URL, "sk-test-p")
	ctx := pt.Context(t, 10*time.Second)
	res, err := p.Call(ctx, &tandem.AIRequest{Op: tandem.AIComplete, Tools: []tandem.Tool{{Name: "handoff"}}, Messages: []tandem.ChatMessage{{Role: "user", Content: "A human, please"}}})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.Script = []string{"completed"}
	s.mu.Unlock()
	n := len(s.rec.Requests())
	res, err = p.Call(ctx, &tandem.AIRequest{Op: tandem.AIAssist, Memory: res.Memory, Messages: []tandem.ChatMessage{{Role: "user", Content: "Never mind"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "Sure." || res.Memory != "thread_abc123" {
		t.Errorf("result %+v", res)
	}
	got := s.rec.Routes()[n:]
	want := []string{"POST /threads/thread_abc123/runs/run_abc123/cancel", "GET /threads/thread_abc123/runs/run_abc123",
		"POST /threads/thread_abc123/messages", "POST /threads/thread_abc123/runs", "GET /threads/thread_abc123/runs/run_2", "GET /threads/thread_abc123/messages"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes\n got %q\nwant %q", got, want)
	}
}

func TestToolResultsWithoutAWaitingRun(t *testing.T) {
	t.Parallel()
	p := mustNew(t, "http://127.0.0.1:1", "")
	_, err := p.Call(pt.Context(t, 10*time.Second), &tandem.AIRequest{Op: tandem.AIComplete, Memory: "thread_1", Messages: []tandem.ChatMessage{
		{Role: "assistant", ToolCalls: []tandem.ToolCall{{ID: "call_1", Name: "x"}}}, {Role: "tool", ToolCallID: "call_1", Content: "r"}}})
	if ae := pt.MustAIError(t, err, ""); ae.Status != 400 || ae.Temporary {
		t.Errorf("%+v", ae)
	}
}

func TestRunOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		script    []string
		lastError map[string]any
		status    int
		temporary bool
		text      string
		finish    string
	}{
		{name: "failed, server error", script: []string{"in_progress", "failed"}, lastError: map[string]any{"code": "server_error", "message": "Something went wrong."},
			status: 500, temporary: true, text: "run run_abc123 failed"},
		{name: "failed, rate limited", script: []string{"failed"}, lastError: map[string]any{"code": "rate_limit_exceeded", "message": "Slow down."},
			status: 429, temporary: true, text: "rate_limit_exceeded"},
		{name: "failed, invalid prompt", script: []string{"failed"}, lastError: map[string]any{"code": "invalid_prompt", "message": "Flagged."},
			status: 400, text: "invalid_prompt"},
		{name: "expired", script: []string{"expired"}, temporary: true, text: "expired"},
		{name: "cancelled", script: []string{"cancelled"}, text: "cancelled"},
		{name: "incomplete", script: []string{"incomplete"}, finish: "length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, "Partial answer", tt.script...)
			s.LastError = tt.lastError
			srv := s.start()
			res, err := mustNew(t, srv.URL, "sk-test-o").Call(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIAssist))
			if tt.finish != "" {
				if err != nil || res.FinishReason != tt.finish || res.Text != "Partial answer" {
					t.Fatalf("%+v, %v", res, err)
				}
				return
			}
			ae := pt.MustAIError(t, err, "sk-test-o")
			if ae.Status != tt.status || ae.Temporary != tt.temporary || !strings.Contains(ae.Message, tt.text) {
				t.Errorf("got Status %d, Temporary %v, %q; want %d, %v, with %q", ae.Status, ae.Temporary, ae.Message, tt.status, tt.temporary, tt.text)
			}
		})
	}
}

func TestRunTimeoutCancelsTheRun(t *testing.T) {
	t.Parallel()
	script := make([]string, 100000)
	for i := range script {
		script[i] = "in_progress"
	}
	s := newServer(t, "never", script...)
	srv := s.start()
	p := mustNew(t, srv.URL, "sk-test-w")
	p.RunTimeout = 100 * time.Millisecond
	_, err := p.Call(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIAssist))
	if ae := pt.MustAIError(t, err, "sk-test-w"); !ae.Temporary || !strings.Contains(ae.Message, "timeout") {
		t.Errorf("%+v; want a temporary timeout", ae)
	}
	if routes := strings.Join(s.rec.Routes(), " "); !strings.Contains(routes, "POST /threads/thread_abc123/runs/run_abc123/cancel") {
		t.Errorf("the run was not cancelled: %s", routes)
	}
}

func TestClassifyUsesAThrowawayThread(t *testing.T) {
	t.Parallel()
	s := newServer(t, "#meeting")
	srv := s.start()
	p := mustNew(t, srv.URL, "sk-test-c")
	res, err := p.Call(pt.Context(t, 10*time.Second), &tandem.AIRequest{Op: tandem.AIClassify, System: "Classify the intent.", Memory: "thread_kept",
		Messages: []tandem.ChatMessage{{Role: "user", Content: "Can we meet?"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "#meeting" || res.Memory != "" {
		t.Errorf("result %+v; want the answer and no memory", res)
	}
	reqs := s.rec.Requests()
	if reqs[0].Path != "/threads" {
		t.Errorf("first request %s %s; want a new thread", reqs[0].Method, reqs[0].Path)
	}
	pt.AssertJSON(t, "run", reqs[1].Body, []byte(`{"assistant_id":"asst_abc123","instructions":"Classify the intent."}`))
}

func TestLostThreadIsReplaced(t *testing.T) {
	t.Parallel()
	s := newServer(t, "Hello again!")
	srv := s.start()
	res, err := mustNew(t, srv.URL, "sk-test-l").Call(pt.Context(t, 10*time.Second), &tandem.AIRequest{Op: tandem.AIAssist, Memory: "thread_gone", Messages: pt.Messages})
	if err != nil {
		t.Fatal(err)
	}
	if res.Memory != "thread_abc123" || res.Text != "Hello again!" {
		t.Errorf("result %+v", res)
	}
	reqs := s.rec.Requests()
	if got := s.rec.Routes()[:3]; !reflect.DeepEqual(got, []string{"POST /threads/thread_gone/messages", "POST /threads", "POST /threads/thread_abc123/runs"}) {
		t.Errorf("routes %q", got)
	}
	pt.AssertJSON(t, "new thread with the history", reqs[1].Body, []byte(`{"messages":[
		{"role":"user","content":"Hi, I am Ana."},{"role":"assistant","content":"Hello Ana! How can I help?"},{"role":"user","content":"Where is my order?"}]}`))
}

func TestRunOptions(t *testing.T) {
	t.Parallel()
	s := newServer(t, `{"intent":"meeting"}`)
	srv := s.start()
	temp := 0.3
	p := mustNew(t, srv.URL, "sk-test-r")
	p.Instructions, p.Model, p.MaxTokens, p.Temperature = "You are ACME's assistant.", "gpt-4o", 400, &temp
	res, err := p.Call(pt.Context(t, 10*time.Second), &tandem.AIRequest{Op: tandem.AIAssist, System: "Be brief.", Output: "json",
		Messages: []tandem.ChatMessage{{Role: "user", Content: "Look", Images: []string{"https://example.com/a.png"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.JSON, map[string]any{"intent": "meeting"}) {
		t.Errorf("JSON %#v", res.JSON)
	}
	reqs := s.rec.Requests()
	pt.AssertJSON(t, "thread", reqs[0].Body, []byte(`{"messages":[{"role":"user","content":[{"type":"text","text":"Look"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}`))
	pt.AssertJSON(t, "run", reqs[1].Body, []byte(`{"assistant_id":"asst_abc123","model":"gpt-4o","instructions":"You are ACME's assistant.",
		"additional_instructions":"Be brief.\n\nAnswer with a JSON object.","temperature":0.3,"max_completion_tokens":400,"response_format":{"type":"json_object"}}`))
}

func TestSunsetAndSeedFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		openAI bool
		status int
		body   string
		want   string // the whole message, or a part of it
		whole  bool
	}{
		{name: "OpenAI: invalid URL", openAI: true, status: 404, whole: true,
			body: `{"error":{"message":"Invalid URL (POST /v1/threads)","type":"invalid_request_error","param":null,"code":null}}`,
			want: `AI provider "legacy": ` + fmt.Sprintf(Sunset, 404)},
		{name: "OpenAI: says it is gone", openAI: true, status: 400, whole: true,
			body: `{"error":{"message":"The Assistants API has been shut down. Please migrate to the Responses API.","type":"invalid_request_error","param":null,"code":null}}`,
			want: `AI provider "legacy": ` + fmt.Sprintf(Sunset, 400)},
		{name: "any server: 410 Gone", status: 410, whole: true, body: `{"error":{"message":"gone"}}`,
			want: `AI provider "legacy": ` + fmt.Sprintf(Sunset, 410)},
		{name: "compatible server: 404 is not the sunset", status: 404, body: `{"error":{"message":"Invalid URL (POST /v1/threads)"}}`,
			want: "not found"},
		{name: "invalid assistant id", openAI: true, status: 404,
			body: `{"error":{"message":"No assistant found with id 'asst_abc123'.","type":"invalid_request_error","param":null,"code":null}}`,
			want: "the assistant asst_abc123 does not exist for this API key; check assistant_id"},
		{name: "invalid API key", openAI: true, status: 401,
			body: `{"error":{"message":"Incorrect API key provided: sk-test-****1234.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			want: "the API key was refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The error answers every request; an unknown assistant shows when the run starts.
			s := newServer(t, "unused")
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/runs") || !strings.Contains(tt.body, "No assistant") {
					pt.WriteJSON(w, tt.status, tt.body)
					return
				}
				s.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			p := mustNew(t, srv.URL, "sk-test-s")
			p.c.OpenAI = tt.openAI
			_, err := p.Call(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIAssist))
			ae := pt.MustAIError(t, err, "sk-test-s")
			if ae.Status != tt.status || ae.Temporary {
				t.Errorf("Status %d, Temporary %v; want %d, permanent", ae.Status, ae.Temporary, tt.status)
			}
			if (tt.whole && ae.Message != tt.want) || !strings.Contains(ae.Message, tt.want) {
				t.Errorf("message\n %q\nwant\n %q", ae.Message, tt.want)
			}
		})
	}
	if strings.Count(Sunset, ". ") != 0 || !strings.HasSuffix(Sunset, ".") || !strings.Contains(Sunset, "openai-responses") || !strings.Contains(Sunset, "prompt") {
		t.Errorf("the sunset text is not one sentence naming openai-responses and a prompt id: %q", Sunset)
	}
}

func TestNeedsAnAssistantID(t *testing.T) {
	t.Parallel()
	if _, err := New(provider.Config{ID: "legacy", Kind: Kind}, provider.Deps{}); err == nil || !strings.Contains(err.Error(), "assistant_id") {
		t.Errorf("%v; want an error naming assistant_id", err)
	}
}

func TestPollAfter(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	if got := pollAfter(h, 2*time.Second); got != 2*time.Second {
		t.Errorf("no hint: %s", got)
	}
	h.Set("openai-poll-after-ms", "250")
	if got := pollAfter(h, 2*time.Second); got != 250*time.Millisecond {
		t.Errorf("hint: %s", got)
	}
}
