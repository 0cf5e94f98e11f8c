package assistants

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	pt "github.com/tandemchat/tandem/provider/providertest"
)

// server is a fake Assistants v2 server that keeps threads and runs, answering with the
// fixtures' shapes. A new run goes through Script (after the queued of its creation), one
// status per read; completing adds Answer to the thread. A run submitted tool outputs goes
// through AfterTools.
type server struct {
	t          *testing.T
	rec        pt.Recorder
	mu         sync.Mutex
	Script     []string
	AfterTools []string
	Answer     string
	LastError  map[string]any // of a failed run
	threads    map[string][]map[string]any
	runs       map[string]*fakeRun
	nThread    int
	nRun       int
	// seen is the text the last run was given: its instructions, then the thread's messages.
	seen []string
}

type fakeRun struct {
	id, thread, status string
	script             []string
	body               map[string]any
}

func newServer(t *testing.T, answer string, script ...string) *server {
	if len(script) == 0 {
		script = []string{"in_progress", "completed"}
	}
	return &server{t: t, Script: script, AfterTools: []string{"in_progress", "completed"}, Answer: answer,
		threads: map[string][]map[string]any{}, runs: map[string]*fakeRun{}}
}

func (s *server) start() *httptest.Server {
	srv := httptest.NewServer(s)
	s.t.Cleanup(srv.Close)
	return srv
}

// id is the fixtures' id for the first object, then numbered ones.
func id(prefix string, n int) string {
	if n == 1 {
		return prefix + "_abc123"
	}
	return fmt.Sprintf("%s_%d", prefix, n)
}

func notFound(w http.ResponseWriter, what, id string) {
	pt.WriteJSON(w, 404, fmt.Sprintf(`{"error":{"message":"No %s found with id '%s'.","type":"invalid_request_error","param":null,"code":null}}`, what, id))
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := s.rec.Record(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	var body map[string]any
	if len(req.Body) > 0 {
		if err := json.Unmarshal(req.Body, &body); err != nil {
			s.t.Errorf("%s %s: body %v", r.Method, r.URL.Path, err)
		}
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == "GET" && len(parts) == 2 && parts[0] == "assistants":
		a := pt.FixtureMap(s.t, "openai/assistants_v2_create_assistant_response.json")
		a["id"] = parts[1]
		pt.WriteJSON(w, 200, a)
	case r.Method == "POST" && len(parts) == 1 && parts[0] == "threads":
		s.nThread++
		tid := id("thread", s.nThread)
		var msgs []map[string]any
		if list, ok := body["messages"].([]any); ok {
			for _, m := range list {
				msgs = append(msgs, m.(map[string]any))
			}
		}
		s.threads[tid] = msgs
		t := pt.FixtureMap(s.t, "openai/assistants_v2_create_thread_response.json")
		t["id"] = tid
		pt.WriteJSON(w, 200, t)
	case len(parts) >= 3 && parts[0] == "threads":
		if _, ok := s.threads[parts[1]]; !ok {
			notFound(w, "thread", parts[1])
			return
		}
		s.thread(w, r, parts, body)
	default:
		s.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

// thread serves /threads/{id}/...
func (s *server) thread(w http.ResponseWriter, r *http.Request, parts []string, body map[string]any) {
	tid := parts[1]
	switch {
	case r.Method == "POST" && len(parts) == 3 && parts[2] == "messages":
		s.threads[tid] = append(s.threads[tid], body)
		m := pt.FixtureMap(s.t, "openai/assistants_v2_create_message_response.json")
		m["thread_id"] = tid
		pt.WriteJSON(w, 200, m)
	case r.Method == "GET" && len(parts) == 3 && parts[2] == "messages":
		run := r.URL.Query().Get("run_id")
		list := pt.FixtureMap(s.t, "openai/assistants_v2_list_messages_response.json")
		var data []any
		for i, m := range s.threads[tid] {
			if run != "" && m["run_id"] != run {
				continue
			}
			data = append(data, map[string]any{"id": fmt.Sprintf("msg_%d", i), "object": "thread.message", "thread_id": tid, "role": m["role"],
				"run_id": m["run_id"], "content": []any{map[string]any{"type": "text", "text": map[string]any{"value": m["content"], "annotations": []any{}}}}})
		}
		if r.URL.Query().Get("order") != "asc" {
			s.t.Errorf("messages listed in %q order; the answer needs asc", r.URL.Query().Get("order"))
		}
		list["data"] = data
		pt.WriteJSON(w, 200, list)
	case r.Method == "POST" && len(parts) == 3 && parts[2] == "runs":
		s.nRun++
		run := &fakeRun{id: id("run", s.nRun), thread: tid, status: "queued", script: append([]string(nil), s.Script...), body: body}
		s.runs[run.id] = run
		s.seen = nil
		for _, k := range []string{"instructions", "additional_instructions"} {
			if v, ok := body[k].(string); ok && v != "" {
				s.seen = append(s.seen, v)
			}
		}
		for _, m := range s.threads[tid] {
			s.seen = append(s.seen, fmt.Sprint(m["content"]))
		}
		s.writeRun(w, run, "openai/assistants_v2_create_run_response.json")
	case len(parts) >= 4 && parts[2] == "runs":
		run := s.runs[parts[3]]
		if run == nil || run.thread != tid {
			notFound(w, "run", parts[3])
			return
		}
		switch {
		case r.Method == "GET" && len(parts) == 4:
			if len(run.script) > 0 {
				run.status, run.script = run.script[0], run.script[1:]
			}
			if run.status == "completed" || run.status == "incomplete" {
				s.threads[tid] = append(s.threads[tid], map[string]any{"role": "assistant", "content": s.Answer, "run_id": run.id})
			}
			s.writeRun(w, run, "openai/assistants_v2_get_run_response.json")
		case r.Method == "POST" && len(parts) == 5 && parts[4] == "submit_tool_outputs":
			if run.status != "requires_action" {
				pt.WriteJSON(w, 400, `{"error":{"message":"Runs in status \"`+run.status+`\" do not accept tool outputs.","type":"invalid_request_error","param":null,"code":null}}`)
				return
			}
			run.status, run.script = "queued", append([]string(nil), s.AfterTools...)
			s.writeRun(w, run, "openai/assistants_v2_submit_tool_outputs_response.json")
		case r.Method == "POST" && len(parts) == 5 && parts[4] == "cancel":
			run.status, run.script = "cancelling", []string{"cancelled"}
			s.writeRun(w, run, "openai/assistants_v2_get_run_response.json")
		default:
			s.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
		}
	default:
		s.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

// writeRun answers with a run fixture showing the run's state.
func (s *server) writeRun(w http.ResponseWriter, run *fakeRun, fixture string) {
	o := pt.FixtureMap(s.t, fixture)
	o["id"], o["thread_id"], o["status"], o["assistant_id"] = run.id, run.thread, run.status, "asst_abc123"
	if run.status != "completed" && run.status != "incomplete" {
		o["usage"] = nil
	}
	switch run.status {
	case "requires_action":
		o["required_action"] = map[string]any{"type": "submit_tool_outputs", "submit_tool_outputs": map[string]any{"tool_calls": []any{
			map[string]any{"id": "call_001", "type": "function", "function": map[string]any{"name": "get_current_weather", "arguments": `{"location":"Boston, MA"}`}},
		}}}
	case "failed":
		o["last_error"] = s.LastError
	}
	pt.WriteJSON(w, 200, o)
}

func (s *server) transcript() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}
