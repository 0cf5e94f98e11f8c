package openai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/openaiwire"
	"github.com/tandemchat/tandem/provider"
	pt "github.com/tandemchat/tandem/provider/providertest"
)

// mustNew builds a provider or fails the test.
func mustNew(t *testing.T, c provider.Config) *Provider {
	t.Helper()
	if c.ID == "" {
		c.ID = "openai"
	}
	c.Kind = Kind
	p, err := New(c, provider.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// asOpenAI gives a provider pointed at a fake server the api.openai.com profile.
func asOpenAI(p *Provider) *Provider {
	p.SystemRole, p.MaxTokensField, p.floatFormat = "developer", "max_completion_tokens", true
	return p
}

// content reads a message's content as text: a string, or its text parts.
func content(v any) string {
	switch c := v.(type) {
	case string:
		return c
	case []any:
		var b strings.Builder
		for _, p := range c {
			if m, ok := p.(map[string]any); ok && m["type"] == "text" {
				b.WriteString(fmt.Sprint(m["text"]))
			}
		}
		return b.String()
	}
	return ""
}

// answerFrames streams answer as a chat completion, with a usage chunk and [DONE].
func answerFrames(answer string) []string {
	half := len(answer) / 2
	delta := func(s string) string {
		b, _ := json.Marshal(s)
		return pt.Data(`{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":` + string(b) + `},"finish_reason":null}],"usage":null}`)
	}
	return []string{
		pt.Data(`{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}`),
		delta(answer[:half]), delta(answer[half:]),
		pt.Data(`{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}`),
		pt.Data(`{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29}}`),
		pt.Data("[DONE]"),
	}
}

// serveChat is a Chat Completions fake for the behaviour suite: it answers with the basic
// response fixture (or a stream when asked) carrying answer.
func serveChat(t *testing.T, answer string) (http.Handler, func() []string) {
	var mu sync.Mutex
	var seen []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		var body struct {
			Stream   bool `json:"stream"`
			Messages []struct {
				Content any `json:"content"`
			} `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("request body: %v", err)
		}
		mu.Lock()
		seen = nil
		for _, m := range body.Messages {
			seen = append(seen, content(m.Content))
		}
		mu.Unlock()
		if body.Stream {
			pt.WriteEvents(w, answerFrames(answer))
			return
		}
		resp := pt.FixtureMap(t, "openai/chat_completions_response_basic.json")
		resp["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"] = answer
		pt.WriteJSON(w, 200, resp)
	})
	return h, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func TestBehaviour(t *testing.T) {
	t.Parallel()
	t.Run("chat", func(t *testing.T) {
		pt.Run(t, pt.Kind{Op: tandem.AIComplete, Serve: serveChat, New: func(base, key string) tandem.Provider {
			return mustNew(t, provider.Config{APIKey: key, BaseURL: base, Model: "gpt-4o-mini"})
		}})
	})
	t.Run("chat streamed", func(t *testing.T) {
		pt.Run(t, pt.Kind{Op: tandem.AIComplete, Serve: serveChat, New: func(base, key string) tandem.Provider {
			p := mustNew(t, provider.Config{APIKey: key, BaseURL: base, Model: "gpt-4o-mini"})
			p.Streaming = true
			return p
		}})
	})
	t.Run("assist is a completion", func(t *testing.T) {
		pt.Run(t, pt.Kind{Op: tandem.AIAssist, Serve: serveChat, New: func(base, key string) tandem.Provider {
			return mustNew(t, provider.Config{APIKey: key, BaseURL: base, Model: "gpt-4o-mini"})
		}})
	})
	t.Run("Azure", func(t *testing.T) {
		pt.Run(t, pt.Kind{Op: tandem.AIComplete, Serve: serveChat,
			Auth: func(r *http.Request, key string) bool {
				return r.Header.Get("api-key") == key && r.Header.Get("Authorization") == "" && r.URL.Query().Get("api-version") == "2024-10-21"
			},
			New: func(base, key string) tandem.Provider {
				return mustNew(t, provider.Config{APIKey: key, BaseURL: base + "/openai/deployments/prod", APIVersion: "2024-10-21"})
			}})
	})
}

// fake is a one-route fake that records requests and answers with a handler.
func fake(t *testing.T, answer func(w http.ResponseWriter, r pt.Request)) (*httptest.Server, *pt.Recorder) {
	t.Helper()
	rec := &pt.Recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, rec.Record(r))
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func fixtureAnswer(t *testing.T, name string) func(http.ResponseWriter, pt.Request) {
	return func(w http.ResponseWriter, _ pt.Request) { pt.WriteJSON(w, 200, pt.Fixture(t, name)) }
}

func TestRequestsMatchTheFixtures(t *testing.T) {
	t.Parallel()
	weather := tandem.Tool{Name: "get_current_weather", Description: "Get the current weather in a given location",
		Parameters: tandem.JSON(`{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}`)}
	tests := []struct {
		name    string
		openAI  bool // the api.openai.com profile
		key     string
		baseDir string
		model   string
		req     tandem.AIRequest
		want    string // request fixture
		answer  string // response fixture
		check   func(t *testing.T, res *tandem.AIResult)
	}{
		{name: "basic on OpenAI", openAI: true, key: "sk-test-basic", model: "VAR_chat_model_id",
			req:  tandem.AIRequest{Op: tandem.AIComplete, System: "You are a helpful assistant.", Messages: []tandem.ChatMessage{{Role: "user", Content: "Hello!"}}},
			want: "openai/chat_completions_request_basic.json", answer: "openai/chat_completions_response_basic.json",
			check: func(t *testing.T, res *tandem.AIResult) {
				want := &tandem.AIResult{Text: "Hello! How can I assist you today?", Model: "gpt-5.4", FinishReason: "stop", Usage: tandem.Usage{Calls: 1, InputTokens: 19, OutputTokens: 10}}
				if !reflect.DeepEqual(res, want) {
					t.Errorf("result\n got %+v\nwant %+v", res, want)
				}
			}},
		{name: "Ollama, no key", baseDir: "/v1", model: "llama3.2",
			req:  tandem.AIRequest{Op: tandem.AIClassify, System: "You are a helpful assistant.", Messages: []tandem.ChatMessage{{Role: "user", Content: "Hello!"}}},
			want: "ollama/chat_completions_request_docs.json", answer: "openai/chat_completions_response_basic.json"},
		{name: "tools", key: "sk-test-tools", model: "gpt-5.4",
			req:  tandem.AIRequest{Op: tandem.AIComplete, Messages: []tandem.ChatMessage{{Role: "user", Content: "What is the weather like in Boston today?"}}, Tools: []tandem.Tool{weather}},
			want: "openai/chat_completions_request_tools.json", answer: "openai/chat_completions_response_tool_calls.json",
			check: func(t *testing.T, res *tandem.AIResult) {
				if res.FinishReason != "tool_calls" || res.Text != "" || len(res.ToolCalls) != 1 {
					t.Fatalf("result %+v; want one tool call", res)
				}
				tc := res.ToolCalls[0]
				if tc.ID != "call_abc123" || tc.Name != "get_current_weather" {
					t.Errorf("tool call %+v", tc)
				}
				pt.AssertJSON(t, "arguments", tc.Arguments, []byte(`{"location":"Boston, MA"}`))
				if res.Usage != (tandem.Usage{Calls: 1, InputTokens: 82, OutputTokens: 17}) {
					t.Errorf("usage %+v", res.Usage)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := fake(t, fixtureAnswer(t, tt.answer))
			p := mustNew(t, provider.Config{APIKey: tt.key, BaseURL: srv.URL + tt.baseDir, Model: tt.model})
			if tt.openAI {
				asOpenAI(p)
			}
			res, err := p.Call(pt.Context(t, 10*time.Second), &tt.req)
			if err != nil {
				t.Fatal(err)
			}
			reqs := rec.Requests()
			if len(reqs) != 1 {
				t.Fatalf("requests %v", rec.Routes())
			}
			r := reqs[0]
			if got, want := r.Method+" "+r.Path, "POST "+tt.baseDir+"/chat/completions"; got != want {
				t.Errorf("route %q, want %q", got, want)
			}
			wantAuth := ""
			if tt.key != "" {
				wantAuth = "Bearer " + tt.key
			}
			if got := r.Header.Get("Authorization"); got != wantAuth {
				t.Errorf("Authorization %q, want %q", got, wantAuth)
			}
			if got := r.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			pt.AssertJSON(t, "request body", r.Body, pt.Fixture(t, tt.want))
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func TestToolRoundTrip(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, fixtureAnswer(t, "openai/chat_completions_response_basic.json"))
	p := mustNew(t, provider.Config{APIKey: "k-1234", BaseURL: srv.URL, Model: "gpt-4o-mini"})
	req := &tandem.AIRequest{Op: tandem.AIComplete, System: "Use tools.", ToolChoice: "none",
		Tools: []tandem.Tool{{Name: "get_current_weather", Description: "weather"}},
		Messages: []tandem.ChatMessage{
			{Role: "user", Content: "What is the weather like in Boston today?"},
			{Role: "assistant", ToolCalls: []tandem.ToolCall{{ID: "call_abc123", Name: "get_current_weather", Arguments: tandem.JSON(`{"location":"Boston, MA"}`)}}},
			{Role: "tool", ToolCallID: "call_abc123", Content: `{"temperature":22,"unit":"celsius"}`},
		}}
	res, err := p.Call(pt.Context(t, 10*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "Hello! How can I assist you today?" {
		t.Errorf("text %q", res.Text)
	}
	want := `{"model":"gpt-4o-mini","messages":[
		{"role":"system","content":"Use tools."},
		{"role":"user","content":"What is the weather like in Boston today?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"get_current_weather","arguments":"{\"location\":\"Boston, MA\"}"}}]},
		{"role":"tool","tool_call_id":"call_abc123","content":"{\"temperature\":22,\"unit\":\"celsius\"}"}],
		"tools":[{"type":"function","function":{"name":"get_current_weather","description":"weather","parameters":{"type":"object","properties":{}}}}],
		"tool_choice":"none"}`
	pt.AssertJSON(t, "request", rec.Requests()[0].Body, []byte(want))
}

func TestInvalidToolArgumentsStayJSON(t *testing.T) {
	t.Parallel()
	srv, _ := fake(t, func(w http.ResponseWriter, _ pt.Request) {
		resp := pt.FixtureMap(t, "openai/chat_completions_response_tool_calls.json")
		resp["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["tool_calls"].([]any)[0].(map[string]any)["function"].(map[string]any)["arguments"] = `{"location": "Bos`
		pt.WriteJSON(w, 200, resp)
	})
	res, err := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "m"}).Call(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIComplete))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.ToolCalls[0].Arguments); got != `"{\"location\": \"Bos"` {
		t.Errorf("arguments %s; want the invalid text as a JSON string", got)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("the result cannot be encoded: %v", err)
	}
}

func TestOutputJSON(t *testing.T) {
	t.Parallel()
	strict := `{"type":"object","properties":{"intent":{"type":"string","enum":["meeting","other"]}},"required":["intent"],"additionalProperties":false}`
	loose := `{"type":"object","properties":{"intent":{"type":"string"}}}`
	tests := []struct {
		name   string
		system string
		schema string
		want   string // response_format
		hint   bool   // the system text asks for JSON
	}{
		{name: "strict schema", schema: strict, want: `{"type":"json_schema","json_schema":{"name":"answer","schema":` + strict + `,"strict":true}}`},
		{name: "loose schema", schema: loose, want: `{"type":"json_schema","json_schema":{"name":"answer","schema":` + loose + `,"strict":false}}`},
		{name: "no schema", system: "Classify.", want: `{"type":"json_object"}`, hint: true},
		{name: "no schema, JSON asked", system: "Answer in JSON.", want: `{"type":"json_object"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := fake(t, func(w http.ResponseWriter, _ pt.Request) {
				resp := pt.FixtureMap(t, "openai/chat_completions_response_basic.json")
				resp["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"] = `{"intent":"meeting"}`
				pt.WriteJSON(w, 200, resp)
			})
			req := &tandem.AIRequest{Op: tandem.AIComplete, System: tt.system, Output: "json", Messages: []tandem.ChatMessage{{Role: "user", Content: "Can we talk on Monday?"}}}
			if tt.schema != "" {
				req.Schema = tandem.JSON(tt.schema)
			}
			res, err := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "m"}).Call(pt.Context(t, 10*time.Second), req)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.JSON, map[string]any{"intent": "meeting"}) {
				t.Errorf("JSON %#v", res.JSON)
			}
			var body struct {
				ResponseFormat json.RawMessage `json:"response_format"`
				Messages       []struct {
					Role    string `json:"role"`
					Content string `json:"content"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(rec.Requests()[0].Body, &body); err != nil {
				t.Fatal(err)
			}
			pt.AssertJSON(t, "response_format", body.ResponseFormat, []byte(tt.want))
			if got := body.Messages[0].Role == "system" && strings.Contains(body.Messages[0].Content, "JSON object"); got != tt.hint {
				t.Errorf("asks for a JSON object: %v, want %v (%+v)", got, tt.hint, body.Messages)
			}
		})
	}
}

func TestStrictable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		schema string
		want   bool
	}{
		{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`, true},
		{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, false},
		{`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["a"],"additionalProperties":false}`, false},
		{`{"type":"object","properties":{"a":{"type":"object","properties":{"x":{"type":"number"}}}},"required":["a"],"additionalProperties":false}`, false},
		{`{"type":"object","properties":{"a":{"type":"array","items":{"type":"object","properties":{"x":{"type":"number"}},"required":["x"],"additionalProperties":false}}},"required":["a"],"additionalProperties":false}`, true},
		{`{"type":"array","items":{"type":"string"}}`, false},
		{`not json`, false},
	}
	for _, tt := range tests {
		if got := openaiwire.Strictable([]byte(tt.schema)); got != tt.want {
			t.Errorf("openaiwire.Strictable(%s) = %v, want %v", tt.schema, got, tt.want)
		}
	}
}

func TestImagesModelTokensTemperature(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, fixtureAnswer(t, "openai/chat_completions_response_basic.json"))
	temp, low := 0.7, 0.1
	p := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "config-model", MaxTokens: 500, Temperature: &temp})
	req := &tandem.AIRequest{Op: tandem.AIComplete, Model: "step-model", MaxTokens: 20, Temperature: &low,
		Messages: []tandem.ChatMessage{{Role: "user", Content: "What is this?", Images: []string{"https://example.com/a.png"}}}}
	if _, err := p.Call(pt.Context(t, 10*time.Second), req); err != nil {
		t.Fatal(err)
	}
	pt.AssertJSON(t, "step overrides", rec.Requests()[0].Body, []byte(`{"model":"step-model","max_tokens":20,"temperature":0.1,"messages":[
		{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}`))
	asOpenAI(p)
	if _, err := p.Call(pt.Context(t, 10*time.Second), &tandem.AIRequest{Op: tandem.AIComplete, Messages: []tandem.ChatMessage{{Role: "user", Content: "Hi"}}}); err != nil {
		t.Fatal(err)
	}
	pt.AssertJSON(t, "configuration defaults, OpenAI's max tokens field", rec.Requests()[1].Body,
		[]byte(`{"model":"config-model","max_completion_tokens":500,"temperature":0.7,"messages":[{"role":"user","content":"Hi"}]}`))
}

func TestRefusal(t *testing.T) {
	t.Parallel()
	srv, _ := fake(t, func(w http.ResponseWriter, _ pt.Request) {
		pt.WriteJSON(w, 200, `{"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}`)
	})
	res, err := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "m"}).Call(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIComplete))
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "I can't help with that." || res.FinishReason != "refusal" {
		t.Errorf("result %+v", res)
	}
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, apiVersion           string
		role, field, embed, header string
	}{
		{"", "", "developer", "max_completion_tokens", DefaultEmbeddingModel, "Authorization"},
		{"https://api.openai.com/v1/", "", "developer", "max_completion_tokens", DefaultEmbeddingModel, "Authorization"},
		{"http://127.0.0.1:11434/v1", "", "system", "max_tokens", "", "Authorization"},
		{"https://openrouter.ai/api/v1", "", "system", "max_tokens", "", "Authorization"},
		{"https://api.groq.com/openai/v1", "", "system", "max_tokens", "", "Authorization"},
		{"https://acme.openai.azure.com/openai/v1", "", "system", "max_completion_tokens", "", "Api-Key"},
		{"https://acme.openai.azure.com/openai/deployments/gpt4o", "2024-10-21", "system", "max_completion_tokens", "", "Api-Key"},
	}
	for _, tt := range tests {
		p := mustNew(t, provider.Config{BaseURL: tt.base, APIVersion: tt.apiVersion, APIKey: "k-123456"})
		got := []string{p.SystemRole, p.MaxTokensField, p.EmbeddingModel}
		if want := []string{tt.role, tt.field, tt.embed}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: role, max tokens field, embedding model = %q, want %q", tt.base, got, want)
		}
		if p.c.Header.Get(tt.header) == "" {
			t.Errorf("%s: no %s header", tt.base, tt.header)
		}
	}
	if _, err := New(provider.Config{ID: "az", BaseURL: "https://acme.openai.azure.com/openai/deployments/gpt4o"}, provider.Deps{}); err == nil || !strings.Contains(err.Error(), "api_version") {
		t.Errorf("an Azure deployment URL without api_version: %v; want an error naming api_version", err)
	}
}

func TestAzureRoutes(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, func(w http.ResponseWriter, r pt.Request) {
		if strings.HasSuffix(r.Path, "/embeddings") {
			pt.WriteJSON(w, 200, pt.Fixture(t, "openai/embeddings_response_docs.json"))
			return
		}
		pt.WriteJSON(w, 200, pt.Fixture(t, "openai/chat_completions_response_basic.json"))
	})
	ctx := pt.Context(t, 10*time.Second)
	// The resource's root: the model names the deployment.
	p := mustNew(t, provider.Config{BaseURL: srv.URL + "/openai", APIVersion: "2024-10-21", APIKey: "azure-key-1", Model: "gpt4o-prod"})
	p.EmbeddingModel = "embed-prod"
	if _, err := p.Call(ctx, pt.NewRequest(tandem.AIComplete)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Embed(ctx, []string{"hello"}); err != nil {
		t.Fatal(err)
	}
	// A deployment URL.
	p = mustNew(t, provider.Config{BaseURL: srv.URL + "/openai/deployments/fixed", APIVersion: "2025-01-01-preview", Headers: map[string]string{"Authorization": "Bearer entra-token-123"}})
	if _, err := p.Call(ctx, pt.NewRequest(tandem.AIComplete)); err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests()
	want := []string{
		"/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21 api-key=azure-key-1",
		"/openai/deployments/embed-prod/embeddings?api-version=2024-10-21 api-key=azure-key-1",
		"/openai/deployments/fixed/chat/completions?api-version=2025-01-01-preview Authorization=Bearer entra-token-123",
	}
	for i, r := range reqs {
		auth := "api-key=" + r.Header.Get("api-key")
		if r.Header.Get("api-key") == "" {
			auth = "Authorization=" + r.Header.Get("Authorization")
		}
		if got := r.Path + "?" + r.RawQuery + " " + auth; i >= len(want) || got != want[i] {
			t.Errorf("request %d: %s, want %s", i, got, want[min(i, len(want)-1)])
		}
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, fixtureAnswer(t, "openai/chat_completions_response_basic.json"))
	p := mustNew(t, provider.Config{BaseURL: srv.URL, APIKey: "sk-test-h", Model: "m", Organization: "org-1", Project: "proj_1",
		Headers: map[string]string{"HTTP-Referer": "https://acme.com", "X-Title": "ACME"}})
	if _, err := p.Call(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIComplete)); err != nil {
		t.Fatal(err)
	}
	h := rec.Requests()[0].Header
	for k, want := range map[string]string{"Authorization": "Bearer sk-test-h", "OpenAI-Organization": "org-1", "OpenAI-Project": "proj_1",
		"HTTP-Referer": "https://acme.com", "X-Title": "ACME", "User-Agent": "Tandem"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, fixtureAnswer(t, "openai/chat_completions_response_basic.json"))
	noModel := mustNew(t, provider.Config{BaseURL: srv.URL})
	noKey := asOpenAI(mustNew(t, provider.Config{BaseURL: srv.URL, Model: "m"}))
	noKey.needsKey = true
	for name, p := range map[string]*Provider{"no model": noModel, "no key for OpenAI": noKey} {
		_, err := p.Call(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIComplete))
		if ae := pt.MustAIError(t, err, ""); ae.Temporary || ae.Status == 0 {
			t.Errorf("%s: %+v; want a permanent error with a status", name, ae)
		}
	}
	if n := len(rec.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestRegistered(t *testing.T) {
	t.Parallel()
	p, err := provider.New(provider.Config{ID: "openai", Kind: Kind, APIKey: "sk-x", Model: "gpt-4o-mini"}, provider.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(tandem.Embedder); !ok {
		t.Errorf("%T does not implement tandem.Embedder", p)
	}
}
