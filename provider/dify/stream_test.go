package dify_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/provider/dify"
)

// sse frames events as Dify does: `data: <JSON>` and a blank line each.
func sse(evs ...string) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "data: %s\n\n", e)
	}
	return b.String()
}

// Streams of every app type are read into the answer, the memory and the usage.
func TestStreaming(t *testing.T) {
	t.Parallel()
	chatbot := events(t, "chat_messages_stream_chatbot_docs.json")
	chatflow := events(t, "chat_messages_stream_chatflow_docs.json")
	for _, tc := range []struct {
		name   string
		evs    []string // written with a ping before each, or
		raw    string   // written as is
		text   string
		memory string
		usage  tandem.Usage
	}{
		{name: "chatbot", evs: chatbot, text: "I", memory: convA, usage: tandem.Usage{Calls: 1}},
		{name: "agent with a file", evs: events(t, "chat_messages_stream_agent_docs.json"), text: "Here is the image:\nhttps://example.com/cat.png", memory: "conv123", usage: tandem.Usage{Calls: 1}},
		{name: "chatflow", evs: chatflow, text: "I", memory: "conv123", usage: tandem.Usage{Calls: 1}},
		{name: "chatflow closed after message_end", evs: chatflow[:len(chatflow)-1], text: "I", memory: "conv123", usage: tandem.Usage{Calls: 1}},
		{name: "chunks, usage, CRLF and comments", raw: strings.ReplaceAll(": hello\n"+sse(
			`{"event":"message","conversation_id":"`+convA+`","answer":"Hello"}`,
			`{"event":"message","conversation_id":"`+convA+`","answer":", Ana."}`,
			`{"event":"tts_message","conversation_id":"`+convA+`","audio":"AAAA"}`,
			`{"event":"message_end","conversation_id":"`+convA+`","metadata":{"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"total_price":"0.001"}}}`,
		), "\n", "\r\n"), text: "Hello, Ana.", memory: convA, usage: tandem.Usage{Calls: 1, InputTokens: 12, OutputTokens: 3}},
		{name: "moderation replaces", raw: sse(
			`{"event":"message","conversation_id":"`+convA+`","answer":"bad words"}`,
			`{"event":"message_replace","conversation_id":"`+convA+`","answer":"Sorry, I cannot say that.","reason":"moderation"}`,
			`{"event":"message_end","conversation_id":"`+convA+`"}`,
		), text: "Sorry, I cannot say that.", memory: convA, usage: tandem.Usage{Calls: 1}},
		{name: "new agent closing message is the whole answer", raw: sse(
			`{"event":"agent_message","conversation_id":"`+convA+`","answer":"Hel"}`,
			`{"event":"agent_message","conversation_id":"`+convA+`","answer":"lo"}`,
			`{"event":"message","conversation_id":"`+convA+`","answer":"Hello there."}`,
			`{"event":"message_end","conversation_id":"`+convA+`","metadata":{"usage":{"total_tokens":9}}}`,
		), text: "Hello there.", memory: convA, usage: tandem.Usage{Calls: 1}},
		{name: "last event without its blank line", raw: "data: " + `{"event":"message","conversation_id":"` + convA + `","answer":"Hi"}` + "\n\ndata: " + `{"event":"message_end","conversation_id":"` + convA + `"}`,
			text: "Hi", memory: convA, usage: tandem.Usage{Calls: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _ := setup(t, dify.Streaming, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
				if tc.raw != "" {
					w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
					io.WriteString(w, tc.raw)
					return
				}
				writeSSE(t, w, tc.evs)
			})
			res, err := p.Call(context.Background(), request(""))
			if err != nil {
				t.Fatal(err)
			}
			if res.Text != tc.text || res.Memory != tc.memory || res.Usage != tc.usage {
				t.Errorf("got text %q memory %q usage %+v, want %q %q %+v", res.Text, res.Memory, res.Usage, tc.text, tc.memory, tc.usage)
			}
		})
	}
}

// A file URL relative to Dify's host is made absolute.
func TestStreamRelativeFile(t *testing.T) {
	t.Parallel()
	p, _ := setup(t, dify.Streaming, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, sse(`{"event":"message_file","conversation_id":"c","type":"image","belongs_to":"assistant","url":"/files/tools/cat.png?sign=x"}`,
			`{"event":"message_end","conversation_id":"c"}`))
	})
	res, err := p.Call(context.Background(), request(""))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSuffix(p.BaseURL, "/v1/") + "/files/tools/cat.png?sign=x"; res.Text != want {
		t.Errorf("text %q, want %q", res.Text, want)
	}
}

// A stream that ends before its terminal event is a temporary error, so the runner retries.
func TestStreamCut(t *testing.T) {
	t.Parallel()
	chatbot := events(t, "chat_messages_stream_chatbot_docs.json")
	chatflow := events(t, "chat_messages_stream_chatflow_docs.json")
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, w http.ResponseWriter)
	}{
		{"no message_end", func(t *testing.T, w http.ResponseWriter) { writeSSE(t, w, chatbot[:1]) }},
		{"chatflow before message_end", func(t *testing.T, w http.ResponseWriter) { writeSSE(t, w, chatflow[:5]) }},
		{"in the middle of a line", func(t *testing.T, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, sse(compact(t, chatbot[0]))+`data: {"event":"message_end","conversation_id":"`)
		}},
		{"connection dropped", func(t *testing.T, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			io.WriteString(w, sse(compact(t, chatbot[0])))
			w.(http.Flusher).Flush()
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			buf.Flush()
			conn.Close() // no closing chunk: the client reads an unexpected EOF
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _ := setup(t, dify.Streaming, func(w http.ResponseWriter, r *http.Request, body map[string]any) { tc.write(t, w) })
			ae := aiError(t, callErr(p, request("")))
			if !ae.Temporary || !strings.Contains(ae.Message, "ended before the answer was complete") {
				t.Errorf("got %+v, want a temporary cut-stream error", ae)
			}
		})
	}
}

// Errors reported inside a stream (HTTP 200) are classified like HTTP errors; a Chatflow that
// stops for a human-input form is a clear, permanent error.
func TestStreamFailures(t *testing.T) {
	t.Parallel()
	chatflow := events(t, "chat_messages_stream_chatflow_docs.json")
	start := []string{chatflow[0], chatflow[1]}
	for _, tc := range []struct {
		name      string
		evs       []string
		status    int
		temporary bool
		want      string
	}{
		{name: "error event", evs: []string{`{"event":"error","message_id":"m","conversation_id":"c","status":400,"code":"provider_quota_exceeded","message":"Your quota for Dify Hosted OpenAI has been exhausted."}`},
			status: 400, want: "quota is exhausted"},
		{name: "server error event", evs: []string{chatflow[4], `{"event":"error","conversation_id":"c","status":500,"code":"internal_server_error","message":"boom"}`},
			status: 500, temporary: true, want: "internal error"},
		{name: "chatflow failed then error", evs: append(append([]string{}, start...),
			`{"event":"workflow_finished","conversation_id":"c","data":{"status":"failed","error":"LLM timed out"}}`,
			`{"event":"error","conversation_id":"c","status":400,"code":"completion_request_error","message":"LLM timed out"}`),
			status: 400, want: "could not get an answer from the app's model: LLM timed out"},
		{name: "chatflow failed without error event", evs: append(append([]string{}, start...),
			`{"event":"workflow_finished","conversation_id":"c","data":{"status":"failed","error":"Node LLM run failed"}}`),
			want: "the Chatflow run failed: Node LLM run failed"},
		{name: "human input", evs: append(append([]string{}, start...),
			`{"event":"human_input_required","task_id":"t","conversation_id":"c","data":{"form_token":"ft","form_content":"Approve?","expiration_time":1705395400}}`,
			`{"event":"workflow_paused","task_id":"t","conversation_id":"c","data":{"paused_nodes":["n2"],"reasons":["human_input"]}}`),
			want: "paused for a human-input form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _ := setup(t, dify.Streaming, func(w http.ResponseWriter, r *http.Request, body map[string]any) { writeSSE(t, w, tc.evs) })
			ae := aiError(t, callErr(p, request("")))
			if ae.Status != tc.status || ae.Temporary != tc.temporary || !strings.Contains(ae.Message, tc.want) {
				t.Errorf("got %+v, want status %d temporary %v saying %q", ae, tc.status, tc.temporary, tc.want)
			}
		})
	}
}

// Pings keep a slow stream alive; silence longer than the idle timeout gives up, temporarily,
// and asks Dify to stop the task.
func TestStreamIdle(t *testing.T) {
	t.Parallel()
	chatbot := events(t, "chat_messages_stream_chatbot_docs.json")
	t.Run("pings keep it alive", func(t *testing.T) {
		t.Parallel()
		p, _ := setup(t, dify.Streaming, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
			w.Header().Set("Content-Type", "text/event-stream")
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for range 30 {
				<-tick.C
				io.WriteString(w, "event: ping\n\n")
				w.(http.Flusher).Flush()
			}
			io.WriteString(w, sse(compact(t, chatbot[0]), compact(t, chatbot[1])))
		})
		p.IdleTimeout = 200 * time.Millisecond
		if _, err := p.Call(context.Background(), request("")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("silence", func(t *testing.T) {
		t.Parallel()
		p, f := setup(t, dify.Streaming, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
			writeSSE(t, w, chatbot[:1])
			<-r.Context().Done()
		})
		p.IdleTimeout = 50 * time.Millisecond
		ae := aiError(t, callErr(p, request("")))
		if !ae.Temporary || !strings.Contains(ae.Message, "stopped sending its answer") {
			t.Errorf("got %+v, want a temporary stalled-stream error", ae)
		}
		calls := f.Calls()
		if last := calls[len(calls)-1]; last.Path != "/v1/chat-messages/mock_task_id/stop" || last.Body["user"] != "tandem-"+contact {
			t.Errorf("last call %s %v, want the task stopped for the same user", last.Path, last.Body)
		}
	})
}
