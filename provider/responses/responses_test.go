package responses

import (
	"bytes"
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
	"github.com/tandemchat/tandem/provider"
	pt "github.com/tandemchat/tandem/provider/providertest"
)

func mustNew(t *testing.T, c provider.Config) *Provider {
	t.Helper()
	if c.ID == "" {
		c.ID = "support"
	}
	c.Kind = Kind
	p, err := New(c, provider.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// answer is the text response fixture carrying text, with an id.
func answer(t *testing.T, id, text string) map[string]any {
	resp := pt.FixtureMap(t, "openai/responses_text_response.json")
	resp["id"] = id
	resp["output"].([]any)[0].(map[string]any)["content"].([]any)[0].(map[string]any)["text"] = text
	return resp
}

// answerFrames streams a response carrying text.
func answerFrames(t *testing.T, id, text string) []string {
	done := pt.MustJSON(t, map[string]any{"type": "response.completed", "response": answer(t, id, text)})
	delta := pt.MustJSON(t, map[string]any{"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": text})
	return []string{
		pt.Event("response.created", `{"type":"response.created","response":{"id":"`+id+`","object":"response","status":"in_progress","output":[]}}`),
		pt.Event("response.output_text.delta", string(delta)),
		pt.Event("response.completed", string(done)),
	}
}

// texts reads what the model is given: the instructions, then the input's texts.
func texts(body []byte) []string {
	var b struct {
		Instructions string          `json:"instructions"`
		Input        json.RawMessage `json:"input"`
	}
	_ = json.Unmarshal(body, &b)
	var out []string
	if b.Instructions != "" {
		out = append(out, b.Instructions)
	}
	var s string
	if json.Unmarshal(b.Input, &s) == nil {
		return append(out, s)
	}
	var items []struct {
		Content any `json:"content"`
	}
	_ = json.Unmarshal(b.Input, &items)
	for _, it := range items {
		switch c := it.Content.(type) {
		case string:
			out = append(out, c)
		case []any:
			for _, p := range c {
				if m, ok := p.(map[string]any); ok && m["type"] == "input_text" {
					out = append(out, fmt.Sprint(m["text"]))
				}
			}
		}
	}
	return out
}

func serveResponses(t *testing.T, text string) (http.Handler, func() []string) {
	var mu sync.Mutex
	var seen []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := (&pt.Recorder{}).Record(r)
		if r.Method == http.MethodPost && r.URL.Path == "/conversations" {
			pt.WriteJSON(w, 200, `{"id":"conv_1","object":"conversation","created_at":1741900000,"metadata":{}}`)
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/responses" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		seen = texts(rec.Body)
		mu.Unlock()
		if bytes.Contains(rec.Body, []byte(`"stream":true`)) {
			pt.WriteEvents(w, answerFrames(t, "resp_1", text))
			return
		}
		pt.WriteJSON(w, 200, answer(t, "resp_1", text))
	})
	return h, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func TestBehaviour(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		op            string
		streaming     bool
		conversations bool
	}{
		{"assist", tandem.AIAssist, false, false},
		{"assist streamed", tandem.AIAssist, true, false},
		{"assist in a conversation", tandem.AIAssist, false, true},
		{"complete", tandem.AIComplete, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pt.Run(t, pt.Kind{Op: tt.op, Serve: serveResponses, New: func(base, key string) tandem.Provider {
				p := mustNew(t, provider.Config{APIKey: key, BaseURL: base, Model: "gpt-5.4"})
				p.Streaming, p.Conversations = tt.streaming, tt.conversations
				return p
			}})
		})
	}
}

func fake(t *testing.T, answer func(w http.ResponseWriter, r pt.Request)) (*httptest.Server, *pt.Recorder) {
	t.Helper()
	rec := &pt.Recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answer(w, rec.Record(r)) }))
	t.Cleanup(srv.Close)
	return srv, rec
}

func TestTextMatchesTheFixtures(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, func(w http.ResponseWriter, _ pt.Request) {
		pt.WriteJSON(w, 200, pt.Fixture(t, "openai/responses_text_response.json"))
	})
	p := mustNew(t, provider.Config{APIKey: "sk-test-r", BaseURL: srv.URL, Model: "gpt-5.4"})
	res, err := p.Call(pt.Context(t, 10*time.Second), &tandem.AIRequest{Op: tandem.AIAssist,
		Messages: []tandem.ChatMessage{{Role: "user", Content: "Tell me a three sentence bedtime story about a unicorn."}}})
	if err != nil {
		t.Fatal(err)
	}
	r := rec.Requests()[0]
	if r.Path != "/responses" || r.Header.Get("Authorization") != "Bearer sk-test-r" {
		t.Errorf("request %s %v", r.Path, r.Header)
	}
	pt.AssertJSON(t, "request", r.Body, pt.Fixture(t, "openai/responses_text_request.json"))
	if !strings.HasPrefix(res.Text, "In a peaceful grove beneath a silver moon") || res.FinishReason != "stop" || res.Model != "gpt-5.4" {
		t.Errorf("result %+v", res)
	}
	if res.Usage != (tandem.Usage{Calls: 1, InputTokens: 36, OutputTokens: 87}) {
		t.Errorf("usage %+v", res.Usage)
	}
	if got, want := res.Memory, "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"; got != want {
		t.Errorf("Memory %q, want %q", got, want)
	}
}

func TestStreamMatchesTheFixtures(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, func(w http.ResponseWriter, _ pt.Request) { pt.WriteEvents(w, pt.ResponsesStreamFrames(t)) })
	p := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "gpt-5.4"})
	var deltas []string
	res, err := p.Stream(pt.Context(t, 10*time.Second), &tandem.AIRequest{Op: tandem.AIAssist, System: "You are a helpful assistant.",
		Messages: []tandem.ChatMessage{{Role: "user", Content: "Hello!"}}}, func(s string) { deltas = append(deltas, s) })
	if err != nil {
		t.Fatal(err)
	}
	pt.AssertJSON(t, "request", rec.Requests()[0].Body, pt.Fixture(t, "openai/responses_stream_request.json"))
	want := &tandem.AIResult{Text: "Hi there! How can I assist you today?", Model: "gpt-5.4", FinishReason: "stop",
		Usage: tandem.Usage{Calls: 1, InputTokens: 37, OutputTokens: 11}, Memory: "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654"}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("result\n got %+v\nwant %+v", res, want)
	}
	if !reflect.DeepEqual(deltas, []string{"Hi"}) {
		t.Errorf("deltas %q", deltas)
	}
}

func TestFunctionsMatchTheFixtures(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, func(w http.ResponseWriter, _ pt.Request) {
		pt.WriteJSON(w, 200, pt.Fixture(t, "openai/responses_functions_response.json"))
	})
	params := `{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location","unit"]}`
	res, err := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "gpt-5.4"}).Call(pt.Context(t, 10*time.Second), &tandem.AIRequest{Op: tandem.AIAssist,
		Messages: []tandem.ChatMessage{{Role: "user", Content: "What is the weather like in Boston today?"}},
		Tools:    []tandem.Tool{{Name: "get_current_weather", Description: "Get the current weather in a given location", Parameters: tandem.JSON(params)}}})
	if err != nil {
		t.Fatal(err)
	}
	body := rec.Requests()[0].Body
	pt.AssertJSONSubset(t, "request", body, pt.Fixture(t, "openai/responses_functions_request.json"))
	pt.AssertJSONSubset(t, "request", body, []byte(`{"tools":[{"type":"function","name":"get_current_weather","description":"Get the current weather in a given location","parameters":`+params+`,"strict":false}]}`))
	want := []tandem.ToolCall{{ID: "call_unLAR8MvFNptuiZK6K6HCy5k", Name: "get_current_weather", Arguments: tandem.JSON(`{"location":"Boston, MA","unit":"celsius"}`)}}
	if !reflect.DeepEqual(res.ToolCalls, want) || res.FinishReason != "tool_calls" || res.Text != "" {
		t.Errorf("result %+v", res)
	}
	if res.Usage != (tandem.Usage{Calls: 1, InputTokens: 291, OutputTokens: 23}) {
		t.Errorf("usage %+v", res.Usage)
	}
}

// chain is a fake that numbers its responses resp_1, resp_2, … and answers "answer N".
func chain(t *testing.T) (*httptest.Server, *pt.Recorder) {
	var mu sync.Mutex
	n := 0
	return fake(t, func(w http.ResponseWriter, r pt.Request) {
		if r.Path == "/conversations" {
			pt.WriteJSON(w, 200, `{"id":"conv_abc","object":"conversation","created_at":1741900000,"metadata":{}}`)
			return
		}
		mu.Lock()
		n++
		id := fmt.Sprintf("resp_%d", n)
		mu.Unlock()
		pt.WriteJSON(w, 200, answer(t, id, "answer "+id))
	})
}

func TestMemoryCarriesPreviousResponseID(t *testing.T) {
	t.Parallel()
	srv, rec := chain(t)
	p := mustNew(t, provider.Config{BaseURL: srv.URL, PromptID: "pmpt_123", PromptVer: "2", Instructions: "Be kind."})
	ctx := pt.Context(t, 10*time.Second)
	turn := func(memory string, msgs ...tandem.ChatMessage) *tandem.AIResult {
		t.Helper()
		res, err := p.Call(ctx, &tandem.AIRequest{Op: tandem.AIAssist, ConversationID: "c1", Memory: memory, Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	r1 := turn("", tandem.ChatMessage{Role: "user", Content: "Hi"})
	r2 := turn(r1.Memory, tandem.ChatMessage{Role: "user", Content: "Where is my order?"})
	r3 := turn(r2.Memory,
		tandem.ChatMessage{Role: "user", Content: "Where is my order?"},
		tandem.ChatMessage{Role: "assistant", ToolCalls: []tandem.ToolCall{{ID: "call_1", Name: "order_status", Arguments: tandem.JSON(`{"id":"42"}`)}}},
		tandem.ChatMessage{Role: "tool", ToolCallID: "call_1", Content: "HTTP 200\n{\"status\":\"shipped\"}"})
	if got := []string{r1.Memory, r2.Memory, r3.Memory}; !reflect.DeepEqual(got, []string{"resp_1", "resp_2", "resp_3"}) {
		t.Errorf("memories %q", got)
	}
	if r3.Text != "answer resp_3" {
		t.Errorf("text %q", r3.Text)
	}
	reqs := rec.Requests()
	wants := []string{
		`{"input":"Hi","instructions":"Be kind.","prompt":{"id":"pmpt_123","version":"2"}}`,
		`{"input":"Where is my order?","instructions":"Be kind.","prompt":{"id":"pmpt_123","version":"2"},"previous_response_id":"resp_1"}`,
		`{"input":[{"type":"function_call_output","call_id":"call_1","output":"HTTP 200\n{\"status\":\"shipped\"}"}],"instructions":"Be kind.","prompt":{"id":"pmpt_123","version":"2"},"previous_response_id":"resp_2"}`,
	}
	for i, want := range wants {
		pt.AssertJSON(t, fmt.Sprintf("request %d", i+1), reqs[i].Body, []byte(want))
	}
}

func TestLostMemoryStartsAgain(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, func(w http.ResponseWriter, r pt.Request) {
		if bytes.Contains(r.Body, []byte("resp_old")) {
			pt.WriteJSON(w, 400, `{"error":{"message":"Previous response with id 'resp_old' not found.","type":"invalid_request_error","param":"previous_response_id","code":"previous_response_not_found"}}`)
			return
		}
		pt.WriteJSON(w, 200, answer(t, "resp_new", "Welcome back!"))
	})
	res, err := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "m"}).Call(pt.Context(t, 10*time.Second),
		&tandem.AIRequest{Op: tandem.AIAssist, Memory: "resp_old", Messages: []tandem.ChatMessage{{Role: "user", Content: "Hello again"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Memory != "resp_new" || res.Text != "Welcome back!" {
		t.Errorf("result %+v", res)
	}
	reqs := rec.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests %v", rec.Routes())
	}
	pt.AssertJSON(t, "second request", reqs[1].Body, []byte(`{"model":"m","input":"Hello again"}`))
}

func TestConversations(t *testing.T) {
	t.Parallel()
	srv, rec := chain(t)
	p := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "m"})
	p.Conversations = true
	ctx := pt.Context(t, 10*time.Second)
	r1, err := p.Call(ctx, &tandem.AIRequest{Op: tandem.AIAssist, ConversationID: "c1", Messages: []tandem.ChatMessage{{Role: "user", Content: "Hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := p.Call(ctx, &tandem.AIRequest{Op: tandem.AIAssist, ConversationID: "c1", Memory: r1.Memory, Messages: []tandem.ChatMessage{{Role: "user", Content: "Again"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Memory != "conv_abc" || r2.Memory != "conv_abc" {
		t.Errorf("memories %q, %q", r1.Memory, r2.Memory)
	}
	if got, want := rec.Routes(), []string{"POST /conversations", "POST /responses", "POST /responses"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("routes %q, want %q", got, want)
	}
	reqs := rec.Requests()
	pt.AssertJSON(t, "conversation", reqs[0].Body, []byte(`{"metadata":{"tandem_conversation":"c1"}}`))
	pt.AssertJSON(t, "turn 1", reqs[1].Body, []byte(`{"model":"m","input":"Hi","conversation":"conv_abc"}`))
	pt.AssertJSON(t, "turn 2", reqs[2].Body, []byte(`{"model":"m","input":"Again","conversation":"conv_abc"}`))
}

func TestCompleteIsStateless(t *testing.T) {
	t.Parallel()
	srv, rec := chain(t)
	p := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "m", Instructions: "Be kind."})
	res, err := p.Call(pt.Context(t, 10*time.Second), &tandem.AIRequest{Op: tandem.AIComplete, System: "Answer briefly.", Memory: "resp_9", ToolChoice: "none",
		Tools: []tandem.Tool{{Name: "handoff", Parameters: tandem.JSON(`{"type":"object","properties":{"reason":{"type":"string"}}}`)}},
		Messages: []tandem.ChatMessage{
			{Role: "user", Content: "Look at this", Images: []string{"https://example.com/a.png"}},
			{Role: "assistant", Content: "Let me check.", ToolCalls: []tandem.ToolCall{{ID: "call_1", Name: "handoff"}}},
			{Role: "tool", ToolCallID: "call_1", Content: ""},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Memory != "" {
		t.Errorf("Memory %q; a one-off answer keeps none", res.Memory)
	}
	pt.AssertJSON(t, "request", rec.Requests()[0].Body, []byte(`{"model":"m","instructions":"Answer briefly.","store":false,
		"tools":[{"type":"function","name":"handoff","parameters":{"type":"object","properties":{"reason":{"type":"string"}}},"strict":false}],"tool_choice":"none",
		"input":[
			{"role":"user","content":[{"type":"input_text","text":"Look at this"},{"type":"input_image","image_url":"https://example.com/a.png"}]},
			{"role":"assistant","content":"Let me check."},
			{"type":"function_call","call_id":"call_1","name":"handoff","arguments":"{}"},
			{"type":"function_call_output","call_id":"call_1","output":""}]}`))
}

func TestOutputJSONAndLimits(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, func(w http.ResponseWriter, _ pt.Request) {
		pt.WriteJSON(w, 200, answer(t, "resp_1", `{"intent":"meeting"}`))
	})
	temp := 0.2
	p := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "m", MaxTokens: 300})
	ctx := pt.Context(t, 10*time.Second)
	schema := `{"type":"object","properties":{"intent":{"type":"string"}},"required":["intent"],"additionalProperties":false}`
	res, err := p.Call(ctx, &tandem.AIRequest{Op: tandem.AIComplete, Output: "json", Schema: tandem.JSON(schema), MaxTokens: 5, Temperature: &temp, Model: "step-model",
		Messages: []tandem.ChatMessage{{Role: "user", Content: "Monday?"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.JSON, map[string]any{"intent": "meeting"}) {
		t.Errorf("JSON %#v", res.JSON)
	}
	pt.AssertJSON(t, "schema request", rec.Requests()[0].Body, []byte(`{"model":"step-model","input":"Monday?","store":false,"max_output_tokens":16,"temperature":0.2,
		"text":{"format":{"type":"json_schema","name":"answer","schema":`+schema+`,"strict":true}}}`))
	if _, err := p.Call(ctx, &tandem.AIRequest{Op: tandem.AIComplete, Output: "json", Messages: []tandem.ChatMessage{{Role: "user", Content: "Monday?"}}}); err != nil {
		t.Fatal(err)
	}
	pt.AssertJSON(t, "JSON mode request", rec.Requests()[1].Body, []byte(`{"model":"m","input":"Monday?","store":false,"max_output_tokens":300,
		"instructions":"Answer with a JSON object.","text":{"format":{"type":"json_object"}}}`))
}

func TestResponseStates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		change    func(resp map[string]any)
		text      string
		finish    string
		status    int
		temporary bool
		fails     bool
	}{
		{name: "failed, server error", fails: true, status: 500, temporary: true, change: func(r map[string]any) {
			r["status"], r["error"] = "failed", map[string]any{"code": "server_error", "message": "The model failed."}
		}},
		{name: "failed, invalid prompt", fails: true, status: 400, change: func(r map[string]any) {
			r["status"], r["error"] = "failed", map[string]any{"code": "invalid_prompt", "message": "Flagged."}
		}},
		{name: "incomplete", text: "In a peaceful grove", finish: "length", change: func(r map[string]any) {
			r["status"], r["incomplete_details"] = "incomplete", map[string]any{"reason": "max_output_tokens"}
		}},
		{name: "refusal", text: "I can't help with that.", finish: "refusal", change: func(r map[string]any) {
			r["output"] = []any{map[string]any{"type": "message", "role": "assistant", "content": []any{map[string]any{"type": "refusal", "refusal": "I can't help with that."}}}}
		}},
		{name: "unknown output items are skipped", text: "In a peaceful grove", finish: "stop", change: func(r map[string]any) {
			r["output"] = append([]any{map[string]any{"type": "reasoning", "id": "rs_1", "summary": []any{}}}, r["output"].([]any)...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := fake(t, func(w http.ResponseWriter, _ pt.Request) {
				resp := pt.FixtureMap(t, "openai/responses_text_response.json")
				tt.change(resp)
				pt.WriteJSON(w, 200, resp)
			})
			res, err := mustNew(t, provider.Config{APIKey: "sk-test-s", BaseURL: srv.URL, Model: "m"}).Call(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIAssist))
			if tt.fails {
				if ae := pt.MustAIError(t, err, "sk-test-s"); ae.Status != tt.status || ae.Temporary != tt.temporary {
					t.Errorf("%+v; want status %d, temporary %v", ae, tt.status, tt.temporary)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(res.Text, tt.text) || res.FinishReason != tt.finish {
				t.Errorf("text %q, finish %q; want %q…, %q", res.Text, res.FinishReason, tt.text, tt.finish)
			}
		})
	}
}

func TestStreamFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		serve     func(t *testing.T, w http.ResponseWriter)
		status    int
		temporary bool
		text      string
	}{
		{name: "ended in the middle", temporary: true, text: "ended before the answer was complete",
			serve: func(t *testing.T, w http.ResponseWriter) { pt.WriteEvents(w, pt.ResponsesStreamFrames(t)[:5]) }},
		{name: "connection dropped in the middle", temporary: true, text: "broke off",
			serve: func(t *testing.T, w http.ResponseWriter) {
				pt.WriteEvents(w, pt.ResponsesStreamFrames(t)[:5])
				pt.HangUp(t, w)
			}},
		{name: "[DONE] before the response", temporary: true, text: "ended",
			serve: func(t *testing.T, w http.ResponseWriter) {
				pt.WriteEvents(w, append(pt.ResponsesStreamFrames(t)[:5], pt.Data("[DONE]")))
			}},
		{name: "error event", status: 429, temporary: true, text: "slow down",
			serve: func(t *testing.T, w http.ResponseWriter) {
				pt.WriteEvents(w, []string{pt.ResponsesStreamFrames(t)[0], pt.Event("error", `{"type":"error","code":"rate_limit_exceeded","message":"Slow down","param":null,"sequence_number":1}`)})
			}},
		{name: "response failed", status: 500, temporary: true, text: "the model failed",
			serve: func(t *testing.T, w http.ResponseWriter) {
				pt.WriteEvents(w, []string{pt.ResponsesStreamFrames(t)[0], pt.Event("response.failed", `{"type":"response.failed","response":{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"The model failed"},"output":[]}}`)})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := fake(t, func(w http.ResponseWriter, _ pt.Request) { tt.serve(t, w) })
			res, err := mustNew(t, provider.Config{APIKey: "sk-test-cut", BaseURL: srv.URL, Model: "m"}).Stream(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIAssist), nil)
			if res != nil {
				t.Errorf("a partial answer was returned: %+v", res)
			}
			ae := pt.MustAIError(t, err, "sk-test-cut")
			if ae.Status != tt.status || ae.Temporary != tt.temporary || !strings.Contains(strings.ToLower(ae.Message), strings.ToLower(tt.text)) {
				t.Errorf("got Status %d, Temporary %v, %q; want %d, %v, with %q", ae.Status, ae.Temporary, ae.Message, tt.status, tt.temporary, tt.text)
			}
		})
	}
}

func TestNeedsAModelOrAPrompt(t *testing.T) {
	t.Parallel()
	_, err := mustNew(t, provider.Config{BaseURL: "http://127.0.0.1:1"}).Call(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIAssist))
	if ae := pt.MustAIError(t, err, ""); ae.Status != 400 || ae.Temporary {
		t.Errorf("%+v", ae)
	}
}

func TestAssistantsThreadMemoryStartsAfresh(t *testing.T) {
	t.Parallel()
	srv, rec := chain(t)
	p := mustNew(t, provider.Config{BaseURL: srv.URL, PromptID: "pmpt_123"})
	res, err := p.Call(pt.Context(t, 10*time.Second), &tandem.AIRequest{Op: tandem.AIAssist, Memory: "thread_abc123",
		Messages: []tandem.ChatMessage{{Role: "user", Content: "Hi again"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Memory != "resp_1" || len(rec.Requests()) != 1 {
		t.Errorf("memory %q after %v", res.Memory, rec.Routes())
	}
	pt.AssertJSON(t, "request", rec.Requests()[0].Body, []byte(`{"input":"Hi again","prompt":{"id":"pmpt_123"}}`))
}
