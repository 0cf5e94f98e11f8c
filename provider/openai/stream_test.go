package openai

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/provider"
	pt "github.com/tandemchat/tandem/provider/providertest"
)

func TestStreamSpecExample(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, func(w http.ResponseWriter, _ pt.Request) {
		pt.WriteEvents(w, append(pt.ChatStreamFrames(t), pt.Data("[DONE]")))
	})
	p := asOpenAI(mustNew(t, provider.Config{APIKey: "sk-test-stream", BaseURL: srv.URL, Model: "VAR_chat_model_id"}))
	var deltas []string
	res, err := p.Stream(pt.Context(t, 10*time.Second), &tandem.AIRequest{Op: tandem.AIComplete, System: "You are a helpful assistant.",
		Messages: []tandem.ChatMessage{{Role: "user", Content: "Hello!"}}}, func(s string) { deltas = append(deltas, s) })
	if err != nil {
		t.Fatal(err)
	}
	want := &tandem.AIResult{Text: "Hello", Model: "gpt-4o-mini", FinishReason: "stop", Usage: tandem.Usage{Calls: 1}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("result\n got %+v\nwant %+v", res, want)
	}
	if !reflect.DeepEqual(deltas, []string{"Hello"}) {
		t.Errorf("deltas %q", deltas)
	}
	r := rec.Requests()[0]
	pt.AssertJSONSubset(t, "request", r.Body, pt.Fixture(t, "openai/chat_completions_request_stream.json"))
	pt.AssertJSONSubset(t, "request", r.Body, []byte(`{"stream_options":{"include_usage":true}}`))
	if got := r.Header.Get("Accept"); got != "text/event-stream" {
		t.Errorf("Accept %q", got)
	}
}

func TestStreamToolCallsAndUsage(t *testing.T) {
	t.Parallel()
	frames := []string{
		": OPENROUTER PROCESSING\r\n\r\n",
		"data: {\"id\":\"c\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"search_knowledge\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\r\n\r\n",
		pt.Data(`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"query\":"}}]},"finish_reason":null}]}`),
		pt.Data(`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"handoff","arguments":"{}"}}]},"finish_reason":null}]}`),
		pt.Data(`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":" \"refunds\"}"}}]},"finish_reason":null}]}`),
		// One event's data on two lines.
		"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\n" + "data: \"finish_reason\":\"tool_calls\"}]}\n\n",
		pt.Data(`{"id":"c","choices":[],"usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99}}`),
		pt.Data("[DONE]"),
	}
	srv, _ := fake(t, func(w http.ResponseWriter, _ pt.Request) { pt.WriteEvents(w, frames) })
	res, err := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "m"}).Stream(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIComplete), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []tandem.ToolCall{
		{ID: "call_1", Name: "search_knowledge", Arguments: tandem.JSON(`{"query": "refunds"}`)},
		{ID: "call_2", Name: "handoff", Arguments: tandem.JSON(`{}`)},
	}
	if !reflect.DeepEqual(res.ToolCalls, want) {
		t.Errorf("tool calls\n got %s\nwant %s", pt.MustJSON(t, res.ToolCalls), pt.MustJSON(t, want))
	}
	if res.FinishReason != "tool_calls" || res.Usage != (tandem.Usage{Calls: 1, InputTokens: 82, OutputTokens: 17}) {
		t.Errorf("result %+v", res)
	}
}

func TestStreamFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		serve     func(t *testing.T, w http.ResponseWriter, r pt.Request)
		idle      time.Duration
		status    int
		temporary bool
		text      string // in the message
	}{
		{name: "ended in the middle", temporary: true, text: "ended before the answer was complete",
			serve: func(t *testing.T, w http.ResponseWriter, r pt.Request) { pt.WriteEvents(w, pt.ChatStreamFrames(t)[:2]) }},
		{name: "connection dropped in the middle", temporary: true, text: "broke off",
			serve: func(t *testing.T, w http.ResponseWriter, r pt.Request) {
				pt.WriteEvents(w, pt.ChatStreamFrames(t)[:2])
				pt.HangUp(t, w)
			}},
		{name: "silent in the middle", idle: 150 * time.Millisecond, temporary: true, text: "sent nothing for 150ms",
			serve: func(t *testing.T, w http.ResponseWriter, r pt.Request) {
				pt.WriteEvents(w, pt.ChatStreamFrames(t)[:2])
				<-r.Context.Done() // the client hangs up after the idle limit
			}},
		{name: "error event", status: 500, temporary: true, text: "overloaded",
			serve: func(t *testing.T, w http.ResponseWriter, r pt.Request) {
				pt.WriteEvents(w, []string{pt.ChatStreamFrames(t)[0], pt.Data(`{"error":{"message":"The engine is currently overloaded","type":"server_error","code":null}}`)})
			}},
		{name: "OpenRouter error event", status: 502, temporary: true, text: "provider returned error",
			serve: func(t *testing.T, w http.ResponseWriter, r pt.Request) {
				pt.WriteEvents(w, []string{pt.Data(`{"id":"c","object":"chat.completion.chunk","error":{"code":502,"message":"Provider returned error"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}`)})
			}},
		{name: "event that is not JSON", status: 502, temporary: true, text: "not a chat completion chunk",
			serve: func(t *testing.T, w http.ResponseWriter, r pt.Request) { pt.WriteEvents(w, []string{pt.Data("{oops")}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := fake(t, func(w http.ResponseWriter, r pt.Request) { tt.serve(t, w, r) })
			p := mustNew(t, provider.Config{APIKey: "sk-test-cut", BaseURL: srv.URL, Model: "m"})
			if tt.idle > 0 {
				p.c.Idle = tt.idle
			}
			res, err := p.Stream(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIComplete), nil)
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

func TestStreamEndingAfterFinishWithoutDone(t *testing.T) {
	t.Parallel()
	srv, _ := fake(t, func(w http.ResponseWriter, _ pt.Request) { pt.WriteEvents(w, pt.ChatStreamFrames(t)) })
	res, err := mustNew(t, provider.Config{BaseURL: srv.URL, Model: "m"}).Stream(pt.Context(t, 10*time.Second), pt.NewRequest(tandem.AIComplete), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "Hello" || res.FinishReason != "stop" {
		t.Errorf("result %+v", res)
	}
}
