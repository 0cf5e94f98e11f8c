package engine_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/convtest"
	"github.com/tandemchat/tandem/flow"
)

var update = flag.Bool("update", false, "rewrite testdata/steps/*.golden from the engine's traces")

// TestGolden runs every conversation test under testdata/ (the spec of each step type, triggers,
// debounce, limits, templates, agent takeover) with the same runner as `tandem test`, and
// compares the step trace of the first test of each step-type file with
// testdata/steps/<type>.golden (regenerate with `go test ./engine -run TestGolden -update`).
func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := convtest.Find([]string{"testdata"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no *.test.yaml under testdata")
	}
	for _, file := range files {
		tests, err := convtest.ParseFile(file)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(file), "testdata/"), ".test.yaml")
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			for _, tc := range tests {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					if tc.Skip != "" {
						t.Skip(tc.Skip)
					}
					res := convtest.RunTest(context.Background(), tc, true)
					if !res.Passed {
						t.Errorf("%s:%d: %s\n   turns played:\n%s", tc.File, res.Line, res.Failure, strings.Join(res.Log, "\n"))
					}
				})
			}
			if filepath.Dir(file) != filepath.Join("testdata", "steps") {
				return
			}
			t.Run("trace", func(t *testing.T) {
				t.Parallel()
				got := traceOf(t, tests[0])
				golden := strings.TrimSuffix(file, ".test.yaml") + ".golden"
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./engine -run TestGolden -update to write it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("the trace of %q differs from %s (go test ./engine -run TestGolden -update rewrites it after a deliberate change):\n%s",
						tests[0].Name, golden, lineDiff(string(want), string(got)))
				}
			})
		})
	}
}

// goldenRun is one run of a golden trace.
type goldenRun struct {
	Flow   string       `json:"flow"`
	Status string       `json:"status"`
	Reason string       `json:"reason,omitempty"`
	Steps  []goldenStep `json:"steps"`
}

// goldenStep is a tandem.StepTrace without ids and times.
type goldenStep struct {
	Type   string         `json:"type"`
	Step   string         `json:"step,omitempty"`
	Input  map[string]any `json:"input,omitempty"`
	Output map[string]any `json:"output,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// ulid matches the generated ids (runs, messages, effects) that differ from one run to the next.
var ulid = regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{26}\b`)

// traceOf plays a conversation test's customer turns in a sandbox and returns the traces its
// runs stored, as indented JSON with the ids replaced by <id>.
func traceOf(t *testing.T, tc *convtest.Test) []byte {
	t.Helper()
	ctx := context.Background()
	p := newPlayer(t, tc)
	defer p.sb.Close()
	for i := range tc.Turns {
		p.turn(&tc.Turns[i])
	}
	conv := p.sb.ConversationID()
	if conv == "" {
		t.Fatal("the test started no conversation")
	}
	runs, err := p.sb.DB.Runs(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	out := []goldenRun{}
	for _, r := range runs {
		steps, err := p.sb.DB.RunTrace(ctx, conv, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		gr := goldenRun{Flow: r.FlowID, Status: r.Status, Reason: r.Reason, Steps: []goldenStep{}}
		for _, s := range steps {
			gr.Steps = append(gr.Steps, goldenStep{Type: s.Type, Step: s.Step, Input: s.Input, Output: s.Output, Error: s.Error})
		}
		out = append(out, gr)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	return ulid.ReplaceAll(b.Bytes(), []byte("<id>"))
}

// player drives a convtest.Sandbox through a test's customer-side turns (user, advance, start,
// agent, ...); the checks (bot, expect, ...) are RunTest's business.
type player struct {
	t    *testing.T
	tc   *convtest.Test
	sb   *convtest.Sandbox
	http *mockHTTP
}

func newPlayer(t *testing.T, tc *convtest.Test) *player {
	t.Helper()
	ctx := context.Background()
	path := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(tc.Dir, p)
	}
	cfg := config.Default()
	if tc.Config != "" {
		c, err := config.Load(path(tc.Config))
		if err != nil {
			t.Fatal(err)
		}
		cfg = c
	}
	start := convtest.DefaultClock
	if tc.Clock != "" {
		var err error
		if start, err = parseClock(tc.Clock, cfg.Location()); err != nil {
			t.Fatal(err)
		}
	}
	mocks := &mockHTTP{mocks: tc.Mocks.HTTP, used: map[int]int{}}
	llm := &mockLLM{mocks: tc.Mocks.LLM, used: map[int]int{}}
	desk := mockDesk{available: tc.Mocks.Desk.Available == nil || *tc.Mocks.Desk.Available}
	sb, err := convtest.NewSandbox(ctx, convtest.SandboxOptions{
		Config: cfg, Start: start, Channel: tc.Channel, Contact: contactOf(tc.Contact), HTTP: mocks,
		Provider: func(id string) (tandem.Provider, bool) {
			return providerFunc(func(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) { return llm.call(id, req) }), true
		},
		Desk:           func(id string) (tandem.Desk, bool) { return desk, true },
		DeskNeedsEmail: tc.Mocks.Desk.NeedsEmail,
	})
	if err != nil {
		t.Fatal(err)
	}
	var flows []*flow.Flow
	for _, p := range tc.Flows {
		src, err := os.ReadFile(path(p))
		if err != nil {
			t.Fatal(err)
		}
		f, findings := flow.Parse(p, src)
		if f == nil {
			t.Fatalf("flow %s: %v", p, findings)
		}
		flows = append(flows, f)
	}
	if err := sb.Publish(ctx, flows, tc.Config != ""); err != nil {
		t.Fatal(err)
	}
	return &player{t: t, tc: tc, sb: sb, http: mocks}
}

func (p *player) turn(n *yaml.Node) {
	t := p.t
	t.Helper()
	ctx := context.Background()
	if n.Kind != yaml.MappingNode || len(n.Content) < 2 {
		t.Fatalf("line %d: a turn is a map", n.Line)
	}
	key := n.Content[0].Value
	var v any
	if err := n.Content[1].Decode(&v); err != nil {
		t.Fatalf("line %d: %v", n.Line, err)
	}
	var err error
	switch key {
	case "user":
		err = p.sb.Say(ctx, userMessage(v))
	case "advance":
		var d time.Duration
		if d, err = tandem.ParseDuration(fmt.Sprint(v)); err == nil {
			err = p.sb.Advance(ctx, d)
		}
	case "start":
		ev := tandem.Event{Kind: tandem.EventStart, Start: &tandem.StartRun{Source: "api", Variables: p.tc.Variables}}
		switch x := v.(type) {
		case string:
			ev.Start.FlowID = x
		case map[string]any:
			ev.Start.FlowID = fmt.Sprint(x["flow"])
			if vars, ok := x["variables"].(map[string]any); ok {
				ev.Start.Variables = vars
			}
		}
		err = p.sb.Event(ctx, ev)
	case "agent":
		m := &tandem.Message{Type: tandem.MessageText}
		agent := "agent"
		switch x := v.(type) {
		case string:
			m.Text = x
		case map[string]any:
			m.Text = fmt.Sprint(x["text"])
			if a, ok := x["agent"].(string); ok {
				agent = a
			}
		}
		err = p.sb.Event(ctx, tandem.Event{Kind: tandem.EventAgent, Agent: &tandem.AgentAction{Action: tandem.AgentMessage, Agent: agent, Message: m}})
	case "agent_close":
		err = p.sb.Event(ctx, tandem.Event{Kind: tandem.EventAgent, Agent: &tandem.AgentAction{Action: tandem.AgentClose, Agent: "agent"}})
	case "resume_bot":
		err = p.sb.Event(ctx, tandem.Event{Kind: tandem.EventResumeBot})
	case "user_close":
		err = p.sb.Event(ctx, tandem.Event{Kind: tandem.EventUserClose})
	case "expect":
		err = p.sb.Open(ctx) // RunTest opens the conversation to check it
	}
	if err != nil {
		t.Fatalf("line %d: %s: %v", n.Line, key, err)
	}
}

func userMessage(v any) tandem.Message {
	m := tandem.Message{Type: tandem.MessageText}
	switch x := v.(type) {
	case string:
		m.Text = x
	case map[string]any:
		for k, e := range x {
			s := fmt.Sprint(e)
			switch k {
			case "text", "caption":
				m.Text = s
			case "image", "file", "video", "audio", "sticker":
				m.Type = k
				m.Media = &tandem.Media{Type: k, URL: s}
			case "location":
				m.Type = tandem.MessageLocation
				l := &tandem.Location{}
				if mm, ok := e.(map[string]any); ok {
					l.Lat, _ = mm["lat"].(float64)
					l.Lng, _ = mm["lng"].(float64)
				}
				m.Location = l
			case "option":
				m.Type = tandem.MessageOption
				m.Option = s
			}
		}
	}
	return m
}

func contactOf(fields map[string]any) tandem.Contact {
	c := tandem.Contact{ExternalID: "test-contact"}
	for k, v := range fields {
		s := fmt.Sprint(v)
		switch k {
		case "name":
			c.Name = s
		case "first_name":
			c.FirstName = s
		case "last_name":
			c.LastName = s
		case "phone":
			c.Phone = s
		case "email":
			c.Email = s
		case "language":
			c.Language = s
		case "tags":
			list, _ := v.([]any)
			for _, e := range list {
				c.Tags = append(c.Tags, fmt.Sprint(e))
			}
		default:
			if c.Attributes == nil {
				c.Attributes = map[string]any{}
			}
			c.Attributes[k] = v
		}
	}
	return c
}

func parseClock(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(s), loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("clock %q is not a time", s)
}

// mockHTTP answers from a test's HTTP mocks (method, url, url_matches, times) and records every
// request.
type mockHTTP struct {
	mu    sync.Mutex
	mocks []*convtest.HTTPMock
	used  map[int]int
	reqs  []*recorded
}

type recorded struct {
	Method, URL string
	Header      http.Header
	Body        string
}

func (h *mockHTTP) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reqs = append(h.reqs, &recorded{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone(), Body: string(body)})
	for i, m := range h.mocks {
		if m.Times > 0 && h.used[i] >= m.Times {
			continue
		}
		if m.Match.Method != "" && !strings.EqualFold(m.Match.Method, req.Method) {
			continue
		}
		if m.Match.URL != "" {
			got := req.URL.String()
			if !strings.Contains(m.Match.URL, "?") {
				got, _, _ = strings.Cut(got, "?")
			}
			if got != m.Match.URL {
				continue
			}
		}
		if m.Match.URLMatches != "" && !regexp.MustCompile(m.Match.URLMatches).MatchString(req.URL.String()) {
			continue
		}
		h.used[i]++
		if m.Error != "" {
			return nil, fmt.Errorf("mocked %s error", m.Error)
		}
		status := m.Status
		if status == 0 {
			status = http.StatusOK
		}
		header := http.Header{}
		for k, v := range m.Headers {
			header.Set(k, v)
		}
		b := []byte(m.Text)
		if m.JSON != nil {
			b, _ = json.Marshal(m.JSON)
			if header.Get("Content-Type") == "" {
				header.Set("Content-Type", "application/json")
			}
		}
		return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(b)), Request: req}, nil
	}
	return nil, fmt.Errorf("no mock answers %s %s", req.Method, req.URL)
}

// mockLLM answers from a test's LLM mocks (step, provider, prompt_contains, times).
type mockLLM struct {
	mu    sync.Mutex
	mocks []*convtest.LLMMock
	used  map[int]int
}

type providerFunc func(context.Context, *tandem.AIRequest) (*tandem.AIResult, error)

func (f providerFunc) Call(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	return f(ctx, req)
}

func (l *mockLLM) call(provider string, req *tandem.AIRequest) (*tandem.AIResult, error) {
	var prompt strings.Builder
	prompt.WriteString(req.System)
	for _, m := range req.Messages {
		prompt.WriteString("\n" + m.Content)
	}
	prompt.WriteString("\n" + req.Input)
	for _, it := range req.Intents {
		prompt.WriteString("\n" + it.ID + ": " + it.Description)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, m := range l.mocks {
		switch {
		case m.Times > 0 && l.used[i] >= m.Times,
			m.Match.Step != "" && m.Match.Step != req.Step,
			m.Match.Provider != "" && m.Match.Provider != provider,
			m.Match.PromptContains != "" && !strings.Contains(strings.ToLower(prompt.String()), strings.ToLower(m.Match.PromptContains)):
			continue
		}
		l.used[i]++
		if m.Error != nil {
			return nil, &tandem.AIError{Status: m.Error.Status, Message: cmp.Or(m.Error.Message, fmt.Sprintf("the provider answered %d", m.Error.Status))}
		}
		res := &tandem.AIResult{Provider: provider, Text: m.Reply, Model: cmp.Or(req.Model, "mock"), FinishReason: "stop",
			Intent: m.Intent, Confidence: m.Confidence, Memory: cmp.Or(req.Memory, "mock-thread"), Usage: tandem.Usage{Calls: 1}}
		if m.JSON != nil {
			res.JSON = m.JSON
			if res.Text == "" {
				b, _ := json.Marshal(m.JSON)
				res.Text = string(b)
			}
		}
		if m.ToolCall != nil {
			args, _ := json.Marshal(m.ToolCall.Arguments)
			if m.ToolCall.Arguments == nil {
				args = []byte("{}")
			}
			res.ToolCalls = []tandem.ToolCall{{ID: fmt.Sprintf("call_%d", l.used[i]), Name: m.ToolCall.Name, Arguments: args}}
			res.FinishReason = "tool_calls"
		}
		return res, nil
	}
	return nil, &tandem.AIError{Status: 500, Message: fmt.Sprintf("no LLM mock answers step %q", req.Step)}
}

// mockDesk is an external desk that is available or not.
type mockDesk struct{ available bool }

func (d mockDesk) NeedsEmail() bool { return false }

func (d mockDesk) Health(context.Context) error {
	if !d.available {
		return errors.New("the desk is unavailable (mocked)")
	}
	return nil
}

func (d mockDesk) Start(_ context.Context, s tandem.DeskStart) (string, error) {
	if !d.available {
		return "", errors.New("the desk is unavailable (mocked)")
	}
	return "desk-session", nil
}

func (d mockDesk) Send(context.Context, string, *tandem.Message) error { return nil }
func (d mockDesk) Close(context.Context, string, string) error         { return nil }

func (h *mockHTTP) requests() []*recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*recorded(nil), h.reqs...)
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "   line %d\n     want %s\n     got  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
