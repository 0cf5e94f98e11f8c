package convtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
)

// call is one request a mock received.
type call struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// world holds what the mocks saw and what the bot sent.
type world struct {
	mu        sync.Mutex
	t         *Test
	httpCalls []call
	llmCalls  map[string]int // by step
	llmTotal  int
	bot       []tandem.Message // messages delivered to the customer, not yet consumed
	desk      []deskRecord
	closes    []string
	starts    []tandem.DeskStart // handoffs given to a desk (the inbox's too), oldest first
	problems  []string           // unmocked calls and the like: the test fails at the end
	available bool
	external  tandem.Provider // the local provider, used when no mock matches a local provider
	localIDs  map[string]bool
}

type deskRecord struct {
	Text string
	Kind string // transcript | message
}

func (w *world) problem(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	for _, p := range w.problems {
		if p == msg {
			return
		}
	}
	w.problems = append(w.problems, msg)
}

// ---- HTTP ----

type httpMock struct{ w *world }

// Do answers a request from the first matching mock with uses left.
func (h httpMock) Do(req *http.Request) (*http.Response, error) {
	w := h.w
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
	}
	w.mu.Lock()
	w.httpCalls = append(w.httpCalls, call{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone(), Body: body})
	var m *HTTPMock
	for _, c := range w.t.Mocks.HTTP {
		if c.Times > 0 && c.used >= c.Times {
			continue
		}
		if httpMatches(c, req, body) {
			m = c
			break
		}
	}
	if m != nil {
		m.used++
	}
	w.mu.Unlock()
	if m == nil {
		w.problem("unmocked HTTP call: %s %s", req.Method, req.URL.String())
		return nil, fmt.Errorf("no mock answers %s %s", req.Method, req.URL.String())
	}
	switch m.Error {
	case "timeout":
		return nil, context.DeadlineExceeded
	case "":
	default:
		return nil, errors.New("connection refused (mocked network error)")
	}
	status := m.Status
	if status == 0 {
		status = 200
	}
	header := http.Header{}
	for k, v := range m.Headers {
		header.Set(k, v)
	}
	b := m.body
	if b == nil {
		switch {
		case m.JSON != nil:
			b, _ = json.Marshal(jsonable(m.JSON))
			if header.Get("Content-Type") == "" {
				header.Set("Content-Type", "application/json")
			}
		case m.Text != "":
			b = []byte(m.Text)
		}
	} else if header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/json")
	}
	return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), Header: header,
		Body: io.NopCloser(bytes.NewReader(b)), Request: req}, nil
}

func httpMatches(m *HTTPMock, req *http.Request, body []byte) bool {
	if m.Match.Method != "" && !strings.EqualFold(m.Match.Method, req.Method) {
		return false
	}
	u := req.URL.String()
	if m.Match.URL != "" {
		want := m.Match.URL
		got := u
		if !strings.Contains(want, "?") {
			got, _, _ = strings.Cut(u, "?")
		}
		if strings.TrimSuffix(got, "/") != strings.TrimSuffix(want, "/") {
			return false
		}
	}
	if m.Match.URLMatches != "" {
		re, err := regexp.Compile(m.Match.URLMatches)
		if err != nil || !re.MatchString(u) {
			return false
		}
	}
	if m.Match.BodyContains != "" && !strings.Contains(string(body), m.Match.BodyContains) {
		return false
	}
	if m.Match.JSON != nil {
		var got any
		if json.Unmarshal(body, &got) != nil || !subset(jsonable(m.Match.JSON), got) {
			return false
		}
	}
	return true
}

// loadFiles reads json_file bodies relative to the test file.
func (t *Test) loadFiles() error {
	for _, m := range t.Mocks.HTTP {
		if m.JSONFile == "" {
			continue
		}
		p := m.JSONFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(t.Dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("mocks.http json_file %s cannot be read: %w", m.JSONFile, err)
		}
		if !json.Valid(b) {
			return fmt.Errorf("mocks.http json_file %s is not valid JSON", m.JSONFile)
		}
		m.body = b
	}
	return nil
}

// jsonable converts YAML-decoded values (map[string]interface{} with any keys) to JSON values.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case time.Time:
		return x.Format(time.RFC3339)
	}
	return v
}

// subset reports whether want is contained in got: maps by key (recursively), lists element
// by element, scalars by equal text.
func subset(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !subset(v, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) < len(w) {
			return false
		}
		for i := range w {
			if !subset(w[i], g[i]) {
				return false
			}
		}
		return true
	case nil:
		return got == nil
	}
	return text(want) == text(got)
}

// ---- LLM ----

type llmMock struct {
	w  *world
	id string
}

// Call answers from the first matching LLM mock with uses left.
func (p llmMock) Call(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	w := p.w
	prompt := requestText(req)
	w.mu.Lock()
	if w.llmCalls == nil {
		w.llmCalls = map[string]int{}
	}
	w.llmCalls[req.Step]++
	w.llmTotal++
	var m *LLMMock
	for _, c := range w.t.Mocks.LLM {
		if c.Times > 0 && c.used >= c.Times {
			continue
		}
		if c.Match.Step != "" && c.Match.Step != req.Step {
			continue
		}
		if c.Match.Provider != "" && c.Match.Provider != p.id {
			continue
		}
		if c.Match.PromptContains != "" && !strings.Contains(strings.ToLower(prompt), strings.ToLower(c.Match.PromptContains)) {
			continue
		}
		m = c
		break
	}
	if m != nil {
		m.used++
	}
	ext := w.external
	local := w.localIDs[p.id]
	w.mu.Unlock()
	if m == nil {
		if ext != nil && local {
			return ext.Call(ctx, req)
		}
		w.problem("unmocked LLM call: step %q, provider %q", req.Step, p.id)
		return nil, &tandem.AIError{Status: 500, Message: fmt.Sprintf("no LLM mock answers step %q", req.Step)}
	}
	if m.Error != nil {
		msg := m.Error.Message
		if msg == "" {
			msg = fmt.Sprintf("the provider answered %d", m.Error.Status)
		}
		ae := &tandem.AIError{Status: m.Error.Status, Message: msg, Temporary: m.Error.Status == 429 || m.Error.Status >= 500}
		if m.Error.RetryAfter != "" {
			ae.RetryAfter, _ = tandem.ParseDuration(m.Error.RetryAfter)
		}
		return nil, ae
	}
	res := &tandem.AIResult{Provider: p.id, Text: m.Reply, Model: firstNonEmpty(req.Model, "mock"), FinishReason: "stop",
		Intent: m.Intent, Confidence: m.Confidence, Memory: firstNonEmpty(req.Memory, "mock-thread-"+req.ConversationID)}
	if m.JSON != nil {
		res.JSON = jsonable(m.JSON)
		if res.Text == "" {
			b, _ := json.Marshal(res.JSON)
			res.Text = string(b)
		}
	}
	if m.ToolCall != nil {
		args, _ := json.Marshal(jsonable(m.ToolCall.Arguments))
		if m.ToolCall.Arguments == nil {
			args = []byte("{}")
		}
		res.ToolCalls = []tandem.ToolCall{{ID: fmt.Sprintf("call_%d", m.used), Name: m.ToolCall.Name, Arguments: args}}
		res.FinishReason = "tool_calls"
	}
	res.Usage = tandem.Usage{Calls: 1, InputTokens: len(prompt) / 4, OutputTokens: len(res.Text) / 4}
	return res, nil
}

// requestText is everything a model would read: instructions, history and input.
func requestText(req *tandem.AIRequest) string {
	var b strings.Builder
	b.WriteString(req.System)
	for _, m := range req.Messages {
		b.WriteString("\n" + m.Content)
	}
	b.WriteString("\n" + req.Input)
	for _, it := range req.Intents {
		b.WriteString("\n" + it.ID + ": " + it.Description)
	}
	return b.String()
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// ---- desk ----

type deskMock struct {
	w          *world
	needsEmail bool
}

func (d deskMock) NeedsEmail() bool { return d.needsEmail }

func (d deskMock) Health(context.Context) error {
	if !d.w.available {
		return errors.New("the desk is unavailable (mocked)")
	}
	return nil
}

func (d deskMock) Start(_ context.Context, s tandem.DeskStart) (string, error) {
	if !d.w.available {
		return "", errors.New("the desk is unavailable (mocked)")
	}
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	d.w.starts = append(d.w.starts, s)
	for _, m := range s.Transcript {
		d.w.desk = append(d.w.desk, deskRecord{Text: m.Text, Kind: "transcript"})
	}
	return "desk-session-" + s.Conversation.ID, nil
}

func (d deskMock) Send(_ context.Context, _ string, m *tandem.Message) error {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	d.w.desk = append(d.w.desk, deskRecord{Text: m.Text, Kind: "message"})
	return nil
}

func (d deskMock) Close(_ context.Context, _ string, reason string) error {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	d.w.closes = append(d.w.closes, reason)
	return nil
}

// ---- channel ----

// botChannel records what the customer receives.
type botChannel struct {
	w    *world
	kind string
	caps tandem.Caps
}

func (c botChannel) Kind() string      { return c.kind }
func (c botChannel) Caps() tandem.Caps { return c.caps }

func (c botChannel) Send(_ context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	c.w.bot = append(c.w.bot, *out.Message)
	return tandem.SendResult{ChannelMessageID: "out-" + out.IdempotencyKey}, nil
}

// inboxDesk is the built-in inbox in tests: always there; agents act through agent turns.
type inboxDesk struct{ w *world }

func (inboxDesk) NeedsEmail() bool                                    { return false }
func (inboxDesk) Health(context.Context) error                        { return nil }
func (inboxDesk) Send(context.Context, string, *tandem.Message) error { return nil }
func (inboxDesk) Close(context.Context, string, string) error         { return nil }
func (d inboxDesk) Start(_ context.Context, s tandem.DeskStart) (string, error) {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	d.w.starts = append(d.w.starts, s)
	return "inbox-" + s.Conversation.ID, nil
}
