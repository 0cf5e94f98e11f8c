package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/convtest"
	"github.com/tandemchat/tandem/flow"
)

// What conversation tests cannot see — notifications, the Idempotency-Key header, the stored
// trace, canceled runs — is checked here on a convtest.Sandbox (the real engine, runner and
// store, a virtual clock).

// sandbox is a convtest.Sandbox with a recording HTTP double.
type sandbox struct {
	*convtest.Sandbox
	t    *testing.T
	http *recordingHTTP
}

// newSandbox publishes flows (YAML documents, or files under testdata/ when they end in .yaml)
// in a sandbox configured by a tandem.yaml document.
func newSandbox(t *testing.T, configYAML string, answer func(*http.Request) (*http.Response, error), flows ...string) *sandbox {
	return newAISandbox(t, configYAML, answer, nil, flows...)
}

// newAISandbox is newSandbox with AI providers.
func newAISandbox(t *testing.T, configYAML string, answer func(*http.Request) (*http.Response, error),
	provider func(id string) (tandem.Provider, bool), flows ...string) *sandbox {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Parse("tandem.yaml", []byte(configYAML), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingHTTP{answer: answer}
	sb, err := convtest.NewSandbox(ctx, convtest.SandboxOptions{Config: cfg, HTTP: rec, Contact: tandem.Contact{Name: "Ana Souza"}, Provider: provider})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	var parsed []*flow.Flow
	for i, doc := range flows {
		name := fmt.Sprintf("flow%d.yaml", i)
		src := []byte(doc)
		if strings.HasSuffix(doc, ".yaml") && !strings.Contains(doc, "\n") {
			name = doc
			if src, err = os.ReadFile(filepath.Join("testdata", doc)); err != nil {
				t.Fatal(err)
			}
		}
		f, findings := flow.Parse(name, src)
		if f == nil {
			t.Fatalf("%s: %v", name, findings)
		}
		parsed = append(parsed, f)
	}
	if err := sb.Publish(ctx, parsed, true); err != nil {
		t.Fatal(err)
	}
	return &sandbox{Sandbox: sb, t: t, http: rec}
}

func (s *sandbox) say(text string) {
	s.t.Helper()
	if err := s.Say(context.Background(), tandem.Message{Type: tandem.MessageText, Text: text}); err != nil {
		s.t.Fatal(err)
	}
}

// runs returns the conversation's runs, oldest first.
func (s *sandbox) runs() []tandem.Run {
	s.t.Helper()
	runs, err := s.DB.Runs(context.Background(), s.ConversationID())
	if err != nil {
		s.t.Fatal(err)
	}
	return runs
}

// traces returns every stored trace entry of the conversation's runs, as JSON.
func (s *sandbox) traces() string {
	s.t.Helper()
	var all []tandem.StepTrace
	for _, r := range s.runs() {
		steps, err := s.DB.RunTrace(context.Background(), s.ConversationID(), r.ID)
		if err != nil {
			s.t.Fatal(err)
		}
		all = append(all, steps...)
	}
	if len(all) == 0 {
		s.t.Fatal("no trace was stored")
	}
	b, err := json.Marshal(all)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// recordingHTTP records requests and answers them with a function (200 {} by default).
type recordingHTTP struct {
	mu     sync.Mutex
	reqs   []*recorded
	answer func(*http.Request) (*http.Response, error)
}

func (h *recordingHTTP) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
	}
	h.mu.Lock()
	h.reqs = append(h.reqs, &recorded{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone(), Body: string(body)})
	h.mu.Unlock()
	if h.answer != nil {
		return h.answer(req)
	}
	return jsonResponse(req, 200, `{}`), nil
}

func (h *recordingHTTP) requests() []*recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*recorded(nil), h.reqs...)
}

func jsonResponse(req *http.Request, status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}
}

const secretConfig = `
workspace: {name: Secrets, timezone: UTC}
secrets:
  API_KEY: "sk-test-4f9a8b7c6d5e"
  TOKEN: "tok/9zT+Lw==q&x"
`

// TestSecretsNeverInTraces: a flow sends {{secret.API_KEY}} in a header and a JSON body; the
// request carries the value, the stored trace and the run never show it.
func TestSecretsNeverInTraces(t *testing.T) {
	t.Parallel()
	const key = "sk-test-4f9a8b7c6d5e"
	s := newSandbox(t, secretConfig, func(req *http.Request) (*http.Response, error) {
		// The API echoes what it got, as some do in their errors.
		return jsonResponse(req, 401, `{"error": "key `+key+` is revoked"}`), nil
	}, `
format: 1
id: secret
trigger: {on: message, match: any}
steps:
  - id: call
    type: http
    method: POST
    url: "https://api.example.com/v1/things"
    headers: {Authorization: "Bearer {{secret.API_KEY}}", X-Api-Key: "{{secret.API_KEY}}"}
    body: {json: {key: "{{secret.API_KEY}}", text: "{{message.text}}"}}
  - {id: never, type: message, text: "never sent"}
`)
	s.say("hello")

	reqs := s.http.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	if got := reqs[0].Header.Get("Authorization"); got != "Bearer "+key {
		t.Errorf("the request's Authorization header is %q, want the secret", got)
	}
	if got := reqs[0].Header.Get("X-Api-Key"); got != key {
		t.Errorf("the request's X-Api-Key header is %q, want the secret", got)
	}
	if !strings.Contains(reqs[0].Body, key) {
		t.Errorf("the request's body %s does not carry the secret", reqs[0].Body)
	}

	trace := s.traces()
	if strings.Contains(trace, key) {
		t.Errorf("the stored trace shows the secret:\n%s", trace)
	}
	if !strings.Contains(trace, "Bearer ***") {
		t.Errorf("the stored trace does not show the masked header:\n%s", trace)
	}
	runs := s.runs()
	if len(runs) != 1 || runs[0].Status != tandem.RunFailed || runs[0].Reason != tandem.ReasonError {
		t.Fatalf("runs = %+v, want one failed with reason error", runs)
	}
	if strings.Contains(runs[0].Error, key) {
		t.Errorf("the run's error shows the secret: %s", runs[0].Error)
	}
}

// TestSecretsEncodedNeverInTraces: a secret with characters that URL or JSON encoding changes
// (a base64 token) is not shown in the trace in its encoded form either.
func TestSecretsEncodedNeverInTraces(t *testing.T) {
	t.Parallel()
	const token = "tok/9zT+Lw==q&x"
	s := newSandbox(t, secretConfig, nil, `
format: 1
id: secret
trigger: {on: message, match: any}
steps:
  - id: query
    type: http
    url: "https://api.example.com/v1/search"
    query: {token: "{{secret.TOKEN}}"}
  - id: form
    type: http
    method: POST
    url: "https://api.example.com/v1/token"
    body: {form: {token: "{{secret.TOKEN}}"}}
  - id: json
    type: http
    method: POST
    url: "https://api.example.com/v1/login"
    body: {json: {token: "{{secret.TOKEN}}"}}
`)
	s.say("hello")
	reqs := s.http.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	u, _ := url.Parse(reqs[0].URL)
	if got := u.Query().Get("token"); got != token {
		t.Errorf("the query carried token %q, want the secret", got)
	}
	var texts []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			texts = append(texts, x)
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	var steps []any
	if err := json.Unmarshal([]byte(s.traces()), &steps); err != nil {
		t.Fatal(err)
	}
	walk(steps)
	jsonEscaped, _ := json.Marshal(token)
	for _, form := range []string{token, url.QueryEscape(token), url.PathEscape(token), strings.Trim(string(jsonEscaped), `"`)} {
		for _, text := range texts {
			if strings.Contains(text, form) {
				t.Errorf("the stored trace shows the secret as %q in %q", form, text)
			}
		}
	}
}

// TestNotify: notify steps record notifications for a team, a user, or the conversation's team.
func TestNotify(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, mustRead(t, "testdata/tandem.yaml"), nil, "steps/flows/notify.yaml")
	s.say("my card was charged twice")
	got, err := s.DB.Notifications(context.Background(), s.ConversationID())
	if err != nil {
		t.Fatal(err)
	}
	want := []tandem.Notification{
		{Text: "Ana Souza needs help: my card was charged twice", Team: "support"},
		{Text: "Please call Ana", Agent: "carla@acme.com"},
		{Text: "no team or user: the conversation's team", Team: "sales"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("notifications = %+v\nwant %+v", got, want)
	}
}

// TestHTTPIdempotencyKey: every http step call carries an Idempotency-Key header, the same on
// each retry of one call and different from one call to the next; a key the flow sets is kept.
func TestHTTPIdempotencyKey(t *testing.T) {
	t.Parallel()
	calls := 0
	s := newSandbox(t, secretConfig, func(req *http.Request) (*http.Response, error) {
		calls++
		if calls == 1 {
			return nil, errors.New("connection reset")
		}
		return jsonResponse(req, 200, `{}`), nil
	}, `
format: 1
id: idem
trigger: {on: message, match: any}
steps:
  - {id: first, type: http, method: POST, url: "https://api.example.com/a", retry: {attempts: 2, on: [network]}}
  - {id: second, type: http, method: POST, url: "https://api.example.com/b"}
  - {id: own, type: http, method: POST, url: "https://api.example.com/c", headers: {idempotency-key: "order-{{contact.name | urlencode}}"}}
`)
	s.say("hello")
	reqs := s.http.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4 (one retried)", len(reqs))
	}
	keys := make([]string, len(reqs))
	for i, r := range reqs {
		keys[i] = r.Header.Get("Idempotency-Key")
		if keys[i] == "" {
			t.Errorf("request %d (%s %s) has no Idempotency-Key header", i+1, r.Method, r.URL)
		}
	}
	if keys[0] != keys[1] {
		t.Errorf("a retry changed the Idempotency-Key: %q then %q", keys[0], keys[1])
	}
	if keys[1] == keys[2] {
		t.Errorf("two calls share the Idempotency-Key %q", keys[1])
	}
	if keys[3] != "order-Ana+Souza" {
		t.Errorf("the flow's own Idempotency-Key became %q", keys[3])
	}
	if n := len(reqs[3].Header.Values("Idempotency-Key")); n != 1 {
		t.Errorf("the flow's own key was sent with %d Idempotency-Key headers", n)
	}
}

// TestCanceledRuns: a preempted run and a run an agent takes over are recorded as canceled with
// their reason.
func TestCanceledRuns(t *testing.T) {
	t.Parallel()
	t.Run("preempted", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t, mustRead(t, "testdata/tandem.yaml"), nil, "flows/t-ask.yaml", "flows/t-menu.yaml")
		s.say("ask")
		s.say("menu")
		assertRuns(t, s.runs(), []tandem.Run{
			{FlowID: "t-ask", Status: tandem.RunCanceled, Reason: tandem.ReasonPreempted},
			{FlowID: "t-menu", Status: tandem.RunCompleted},
		})
	})
	t.Run("agent takes over", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t, mustRead(t, "testdata/tandem.yaml"), nil, "flows/agent-ask.yaml")
		s.say("hello")
		err := s.Event(context.Background(), tandem.Event{Kind: tandem.EventAgent, Agent: &tandem.AgentAction{
			Action: tandem.AgentMessage, Agent: "bob@acme.com", Message: &tandem.Message{Type: tandem.MessageText, Text: "Hi, Bob here"}}})
		if err != nil {
			t.Fatal(err)
		}
		assertRuns(t, s.runs(), []tandem.Run{{FlowID: "agent-ask", Status: tandem.RunCanceled, Reason: tandem.ReasonBotPaused}})
	})
	t.Run("agent closes", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t, mustRead(t, "testdata/tandem.yaml"), nil, "flows/agent-ask.yaml")
		s.say("hello")
		err := s.Event(context.Background(), tandem.Event{Kind: tandem.EventAgent, Agent: &tandem.AgentAction{Action: tandem.AgentClose, Agent: "bob@acme.com"}})
		if err != nil {
			t.Fatal(err)
		}
		assertRuns(t, s.runs(), []tandem.Run{{FlowID: "agent-ask", Status: tandem.RunCanceled, Reason: tandem.ReasonAgentClosed}})
	})
}

func assertRuns(t *testing.T, got, want []tandem.Run) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d runs %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.FlowID != w.FlowID || g.Status != w.Status || g.Reason != w.Reason {
			t.Errorf("run %d = %s %s (reason %q), want %s %s (reason %q)", i+1, g.FlowID, g.Status, g.Reason, w.FlowID, w.Status, w.Reason)
		}
		if tandem.Terminal(g.Status) && g.EndedAt == nil {
			t.Errorf("run %d is %s without an end time", i+1, g.Status)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAssistantMemory: the provider's thread id is kept per conversation and given back on the
// next turn ("The provider's thread / conversation id is kept per conversation and reused").
func TestAssistantMemory(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var memories []string
	provider := func(id string) (tandem.Provider, bool) {
		return providerFunc(func(_ context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
			mu.Lock()
			defer mu.Unlock()
			memories = append(memories, req.Memory)
			return &tandem.AIResult{Provider: id, Text: fmt.Sprintf("answer %d", len(memories)), Memory: "thread-1", Usage: tandem.Usage{Calls: 1}}, nil
		}), true
	}
	s := newAISandbox(t, mustRead(t, "testdata/tandem.yaml"), nil, provider, "steps/flows/assistant.yaml")
	s.say("first question")
	s.say("second question")
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"", "thread-1"}; !slices.Equal(memories, want) {
		t.Errorf("the assistant was called with memories %q, want %q", memories, want)
	}
}

// TestSecretsEchoedNeverKept: a server that echoes the key it was sent (in its error, in its
// answer) does not put the secret in the run's state: the step's outputs, and the variables
// and messages that read them, show *** instead.
func TestSecretsEchoedNeverKept(t *testing.T) {
	t.Parallel()
	const key = "sk-test-4f9a8b7c6d5e"
	s := newSandbox(t, secretConfig, func(req *http.Request) (*http.Response, error) {
		return jsonResponse(req, 200, `{"echo": "you sent `+key+`", "nested": [{"k": "`+key+`"}]}`), nil
	}, `
format: 1
id: secret
trigger: {on: message, match: any}
steps:
  - id: call
    type: http
    method: POST
    url: "https://api.example.com/v1/things"
    headers: {Authorization: "Bearer {{secret.API_KEY}}"}
    save: [{target: var.echo, from: response.echo}]
  - {id: said, type: message, text: "{{var.echo}} / {{step.call.response.nested[0].k}}"}
  - {id: wait, type: question, text: "more?", answer: text}
`)
	s.say("hello")
	ctx := context.Background()
	info, _, st, err := s.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(info.State), key) {
		t.Errorf("the run's stored state holds the secret:\n%s", info.State)
	}
	if st.Run == nil || st.Run.Vars["echo"] != "you sent ***" {
		t.Errorf("var.echo = %v, want the secret masked", st.Run.Vars["echo"])
	}
	msgs, err := s.DB.MessagesBefore(ctx, s.ConversationID(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var said string
	for _, m := range msgs {
		if m.Direction == tandem.DirectionOut {
			said += m.Text + "\n"
		}
	}
	if strings.Contains(said, key) || !strings.Contains(said, "you sent *** / ***") {
		t.Errorf("the bot said %q; want the echoed secret masked", said)
	}
}
