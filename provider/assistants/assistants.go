// Package assistants is the `openai-assistants` AI provider kind: the Assistants API v2
// (threads, messages, runs; OpenAI's API reference). OpenAI shut it down on api.openai.com on
// 2026-08-26; the kind stays for servers that still speak it, and says so in one sentence, naming
// the replacement, when OpenAI answers that it is gone.
//
// A conversation gets one thread, created on its first call (seeded with the history the request
// carries) and kept in AIResult.Memory; each later turn adds the customer's message, runs the
// assistant, waits for the run — polling with backoff, bounded by the call's deadline — and reads
// the run's messages. A run that needs tools ends the call with AIResult.ToolCalls and the run
// kept in Memory ("thread_…/run_…"); the next request's tool results are submitted to it.
// Classification runs on a throwaway thread, so it never enters the conversation's.
package assistants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/aihttp"
	"github.com/tandemchat/tandem/internal/openaiwire"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/provider"
)

// Kind is the provider kind.
const Kind = "openai-assistants"

// DefaultBaseURL is used when the configuration has no base_url.
const DefaultBaseURL = "https://api.openai.com/v1"

// Sunset is what a call says when OpenAI answers that the Assistants API is gone.
const Sunset = "OpenAI shut down the Assistants API on 2026-08-26 (status %d); use a provider of kind openai-responses with the assistant's prompt id (prompt: {id: pmpt_…}) instead."

// Defaults of the run polling (OpenAI's API reference).
const (
	DefaultPollInterval    = time.Second
	DefaultMaxPollInterval = 5 * time.Second
	DefaultRunTimeout      = 120 * time.Second
)

func init() {
	provider.Register(Kind, func(c provider.Config, d provider.Deps) (tandem.Provider, error) { return New(c, d) })
}

// Provider is the openai-assistants provider.
type Provider struct {
	ID          string
	AssistantID string
	// Model overrides the assistant's model when set (the step's model wins).
	Model string
	// Instructions replace the assistant's instructions when set; a step's own instructions are
	// added to them (additional_instructions).
	Instructions string
	MaxTokens    int
	Temperature  *float64
	// Timeout bounds a call within the caller's deadline (0: the caller's only).
	Timeout time.Duration
	// PollInterval is the first wait between two reads of a run, doubled up to MaxPollInterval;
	// a server's openai-poll-after-ms header wins.
	PollInterval, MaxPollInterval time.Duration
	// RunTimeout bounds the wait for a run; a run still going then is cancelled.
	RunTimeout time.Duration

	c *openaiwire.Client
	// The assistant's own tools other than functions (file_search, code_interpreter), read once
	// when a step brings tools: a run's tools replace the assistant's, so they are sent along.
	mu       sync.Mutex
	builtins []json.RawMessage
	read     bool
}

// New builds an openai-assistants provider from its configuration.
func New(c provider.Config, d provider.Deps) (*Provider, error) {
	if c.AssistantID == "" {
		return nil, fmt.Errorf("provider %q: kind %s needs assistant_id", c.ID, Kind)
	}
	cl, err := openaiwire.NewClient(c, d, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	cl.Header.Set("OpenAI-Beta", "assistants=v2")
	return &Provider{ID: c.ID, AssistantID: c.AssistantID, Model: c.Model, Instructions: c.Instructions, MaxTokens: c.MaxTokens,
		Temperature: c.Temperature, Timeout: c.Timeout, PollInterval: DefaultPollInterval, MaxPollInterval: DefaultMaxPollInterval,
		RunTimeout: DefaultRunTimeout, c: cl}, nil
}

// Call implements tandem.Provider.
func (p *Provider) Call(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	start := p.c.Now()
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}
	res, err := p.call(ctx, req)
	if err != nil {
		return nil, p.explain(ctx, start, err)
	}
	return res, nil
}

func (p *Provider) call(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	thread, run, _ := strings.Cut(req.Memory, "/")
	oneOff := req.Op == tandem.AIClassify || req.Op == tandem.AISummarize
	if oneOff {
		thread, run = "", ""
	}
	outputs := toolOutputs(req.Messages)
	var (
		r   *runObject
		h   http.Header
		err error
	)
	switch {
	case len(outputs) > 0 && run == "":
		return nil, &tandem.AIError{Status: 400, Message: p.c.Who + ": the request carries tool results, but no run of the assistant is waiting for them"}
	case len(outputs) > 0:
		r, h, err = p.submit(ctx, thread, run, outputs)
	default:
		if run != "" {
			// The step never sent the results of the tools the run asked for: free the thread.
			p.cancel(ctx, thread, run)
		}
		if thread, err = p.addTurn(ctx, thread, req.Messages); err != nil {
			return nil, err
		}
		r, h, err = p.startRun(ctx, thread, req, oneOff)
	}
	if err != nil {
		return nil, err
	}
	if r, err = p.wait(ctx, thread, r, h); err != nil {
		return nil, err
	}
	res, err := p.finish(ctx, req, thread, r)
	if err != nil {
		return nil, err
	}
	if oneOff {
		res.Memory = ""
	}
	return res, nil
}

// explain turns a failure into what the step shows: the shutdown of the API, a wrong assistant
// id, or the common failure.
func (p *Provider) explain(ctx context.Context, start time.Time, err error) *tandem.AIError {
	var f *openaiwire.Failure
	if errors.As(err, &f) {
		switch {
		case p.gone(f):
			return &tandem.AIError{Status: f.Status, Message: p.c.Who + ": " + fmt.Sprintf(Sunset, f.Status)}
		case (f.Status == 404 || f.Status == 400) && missingAssistant.MatchString(f.Detail):
			return &tandem.AIError{Status: f.Status, Message: fmt.Sprintf("%s: the assistant %s does not exist for this API key; check assistant_id (status %d): %s", p.c.Who, p.AssistantID, f.Status, f.Detail)}
		}
	}
	return p.c.Final(ctx, start, err)
}

var (
	missingObject    = regexp.MustCompile(`(?i)no (assistant|thread|run|message|file|vector store) found`)
	missingAssistant = regexp.MustCompile(`(?i)no assistant found|invalid .?assistant`)
	missingThread    = regexp.MustCompile(`(?i)no thread found`)
)

// gone reports whether a failure says the Assistants API no longer exists: 410, words to that
// effect, or, on api.openai.com, a 404 that is not about a missing object.
func (p *Provider) gone(f *openaiwire.Failure) bool {
	d := strings.ToLower(f.Detail)
	said := strings.Contains(d, "sunset") || strings.Contains(d, "shut down") || strings.Contains(d, "no longer available") ||
		strings.Contains(d, "no longer supported") || (strings.Contains(d, "deprecated") && strings.Contains(d, "assistant"))
	switch {
	case f.Status == http.StatusGone:
		return true
	case said && f.Status >= 400 && f.Status < 500:
		return true
	}
	return p.c.OpenAI && f.Status == http.StatusNotFound && !missingObject.MatchString(f.Detail)
}

// addTurn puts the turn's messages on the thread: a new thread gets every message the request
// carries (the history too); a kept one gets the customer's latest message. A kept thread the
// server no longer has is replaced.
func (p *Provider) addTurn(ctx context.Context, thread string, msgs []tandem.ChatMessage) (string, error) {
	if thread != "" {
		last := len(msgs) - 1
		if last < 0 || msgs[last].Role != "user" {
			return thread, nil
		}
		m, ok := threadMessage(msgs[last])
		if !ok {
			return thread, nil
		}
		_, err := p.c.Call(ctx, http.MethodPost, "/threads/"+url.PathEscape(thread)+"/messages", m, nil)
		var f *openaiwire.Failure
		if !errors.As(err, &f) || f.Status != 404 || !missingThread.MatchString(f.Detail) {
			return thread, err
		}
	}
	body := map[string]any{}
	var seed []message
	for _, m := range msgs {
		if tm, ok := threadMessage(m); ok {
			seed = append(seed, tm)
		}
	}
	if len(seed) > 0 {
		body["messages"] = seed
	}
	var out struct {
		ID string `json:"id"`
	}
	if _, err := p.c.Call(ctx, http.MethodPost, "/threads", body, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", p.c.Malformed("answered a new thread without its id", "")
	}
	return out.ID, nil
}

// startRun runs the assistant on the thread.
func (p *Provider) startRun(ctx context.Context, thread string, req *tandem.AIRequest, oneOff bool) (*runObject, http.Header, error) {
	body := runRequest{AssistantID: p.AssistantID, Model: openaiwire.FirstOf(req.Model, p.Model), Temperature: req.Temperature}
	if oneOff {
		body.Instructions = req.System // a classification replaces the assistant's instructions
	} else {
		body.Instructions, body.AdditionalInstructions = p.Instructions, req.System
	}
	if body.Temperature == nil {
		body.Temperature = p.Temperature
	}
	for _, n := range []int{req.MaxTokens, p.MaxTokens} {
		if n > 0 {
			body.MaxCompletionTokens = n
			break
		}
	}
	if req.Output == "json" {
		if len(req.Schema) > 0 {
			body.ResponseFormat = map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "answer", "schema": json.RawMessage(req.Schema), "strict": openaiwire.Strictable(req.Schema)}}
		} else {
			body.ResponseFormat = map[string]any{"type": "json_object"}
			if !strings.Contains(strings.ToLower(body.Instructions+body.AdditionalInstructions), "json") {
				body.AdditionalInstructions = strings.TrimSpace(body.AdditionalInstructions + "\n\nAnswer with a JSON object.")
			}
		}
	}
	if len(req.Tools) > 0 {
		builtins, err := p.assistantTools(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, b := range builtins {
			body.Tools = append(body.Tools, b)
		}
		for _, t := range req.Tools {
			params := json.RawMessage(t.Parameters)
			if len(params) == 0 {
				params = json.RawMessage(`{"type":"object","properties":{}}`)
			}
			body.Tools = append(body.Tools, functionTool{Type: "function", Function: function{Name: t.Name, Description: t.Description, Parameters: params}})
		}
		if req.ToolChoice == "none" {
			body.ToolChoice = "none"
		}
	}
	var r runObject
	h, err := p.c.Call(ctx, http.MethodPost, "/threads/"+url.PathEscape(thread)+"/runs", body, &r)
	if err != nil {
		return nil, nil, err
	}
	return p.checkRun(&r, h)
}

func (p *Provider) checkRun(r *runObject, h http.Header) (*runObject, http.Header, error) {
	if r.ID == "" || r.Status == "" {
		return nil, nil, p.c.Malformed("answered with a run without its id or status", "")
	}
	return r, h, nil
}

// assistantTools reads the assistant's own tools other than functions, once.
func (p *Provider) assistantTools(ctx context.Context) ([]json.RawMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.read {
		return p.builtins, nil
	}
	var a struct {
		Tools []json.RawMessage `json:"tools"`
	}
	if _, err := p.c.Call(ctx, http.MethodGet, "/assistants/"+url.PathEscape(p.AssistantID), nil, &a); err != nil {
		return nil, err
	}
	for _, t := range a.Tools {
		var kind struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(t, &kind) == nil && kind.Type != "function" {
			p.builtins = append(p.builtins, t)
		}
	}
	p.read = true
	return p.builtins, nil
}

// submit hands the tool results to the run waiting for them.
func (p *Provider) submit(ctx context.Context, thread, run string, outputs []toolOutput) (*runObject, http.Header, error) {
	var r runObject
	path := "/threads/" + url.PathEscape(thread) + "/runs/" + url.PathEscape(run) + "/submit_tool_outputs"
	h, err := p.c.Call(ctx, http.MethodPost, path, map[string]any{"tool_outputs": outputs}, &r)
	if err != nil {
		return nil, nil, err
	}
	return p.checkRun(&r, h)
}

// cancel asks for a run to stop and waits until it has, so the thread takes messages again;
// failures are ignored (the run may have ended meanwhile). It has a few seconds of its own,
// since it also runs after the call's deadline has passed.
func (p *Provider) cancel(ctx context.Context, thread, run string) {
	ctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer stop()
	base := "/threads/" + url.PathEscape(thread) + "/runs/" + url.PathEscape(run)
	var r runObject
	h, err := p.c.Call(ctx, http.MethodPost, base+"/cancel", map[string]any{}, &r)
	if err != nil {
		return
	}
	interval := p.PollInterval
	for r.Status == "cancelling" || r.Status == "queued" || r.Status == "in_progress" {
		if safehttp.Sleep(ctx, pollAfter(h, interval)) != nil {
			return
		}
		if h, err = p.c.Call(ctx, http.MethodGet, base, nil, &r); err != nil {
			return
		}
		interval = min(2*interval, p.MaxPollInterval)
	}
}

// wait reads the run until it ends or needs tools; a run still going at the deadline (the
// call's, or RunTimeout) is cancelled.
func (p *Provider) wait(ctx context.Context, thread string, r *runObject, h http.Header) (*runObject, error) {
	outer := ctx
	if p.RunTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.RunTimeout)
		defer cancel()
	}
	interval := p.PollInterval
	for r.Status == "queued" || r.Status == "in_progress" || r.Status == "cancelling" {
		err := safehttp.Sleep(ctx, pollAfter(h, interval))
		if err == nil {
			var next runObject
			h, err = p.c.Call(ctx, http.MethodGet, "/threads/"+url.PathEscape(thread)+"/runs/"+url.PathEscape(r.ID), nil, &next)
			if err == nil {
				_, _, err = p.checkRun(&next, h)
				r = &next
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				p.cancel(outer, thread, r.ID)
				if errors.Is(outer.Err(), context.Canceled) {
					return nil, context.Canceled
				}
				return nil, context.DeadlineExceeded
			}
			return nil, err
		}
		interval = min(2*interval, p.MaxPollInterval)
	}
	return r, nil
}

// pollAfter is the server's poll hint (openai-poll-after-ms), else d.
func pollAfter(h http.Header, d time.Duration) time.Duration {
	if ms, err := strconv.Atoi(strings.TrimSpace(h.Get("Openai-Poll-After-Ms"))); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return max(d, time.Millisecond)
}

// finish reads a run that is over or needs tools.
func (p *Provider) finish(ctx context.Context, req *tandem.AIRequest, thread string, r *runObject) (*tandem.AIResult, error) {
	res := &tandem.AIResult{Provider: req.Provider, Model: openaiwire.FirstOf(r.Model, req.Model, p.Model), Usage: tandem.Usage{Calls: 1}, Memory: thread}
	if r.Usage != nil {
		res.Usage.InputTokens, res.Usage.OutputTokens = r.Usage.PromptTokens, r.Usage.CompletionTokens
	}
	switch r.Status {
	case "requires_action":
		if r.RequiredAction == nil {
			return nil, p.c.Malformed("answered with a run that requires an action it does not name", "")
		}
		for _, tc := range r.RequiredAction.SubmitToolOutputs.ToolCalls {
			res.ToolCalls = append(res.ToolCalls, tandem.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: openaiwire.Arguments(tc.Function.Arguments)})
		}
		res.FinishReason, res.Memory = "tool_calls", thread+"/"+r.ID
		return res, nil
	case "completed", "incomplete":
		text, err := p.answer(ctx, thread, r.ID)
		if err != nil {
			return nil, err
		}
		res.Text, res.FinishReason = text, "stop"
		if r.Status == "incomplete" {
			res.FinishReason = "length"
		}
		if req.Output == "json" {
			var v any
			if json.Unmarshal([]byte(strings.TrimSpace(text)), &v) == nil {
				res.JSON = v
			}
		}
		return res, nil
	case "failed":
		code, msg := "", "no reason given"
		if r.LastError != nil {
			code, msg = r.LastError.Code, openaiwire.FirstOf(r.LastError.Message, msg)
		}
		status := openaiwire.CodeStatus(code)
		return nil, &tandem.AIError{Status: status, Temporary: openaiwire.Retryable(status, code),
			Message: fmt.Sprintf("%s: the assistant's run %s failed (status %d, %s): %s", p.c.Who, r.ID, status, openaiwire.FirstOf(code, "no code"), aihttp.Clip(p.c.Redact(aihttp.OneLine(msg)), 1000))}
	case "expired":
		return nil, &tandem.AIError{Message: fmt.Sprintf("%s: the assistant's run %s expired before it finished", p.c.Who, r.ID), Temporary: true}
	case "cancelled":
		return nil, &tandem.AIError{Message: fmt.Sprintf("%s: the assistant's run %s was cancelled", p.c.Who, r.ID)}
	}
	return nil, p.c.Malformed(fmt.Sprintf("answered with a run in the unknown status %q", r.Status), "")
}

// answer is the text of the assistant's messages of a run, oldest first, without the markers of
// file citations.
func (p *Provider) answer(ctx context.Context, thread, run string) (string, error) {
	var list struct {
		Data []struct {
			Role    string `json:"role"`
			RunID   string `json:"run_id"`
			Content []struct {
				Type string `json:"type"`
				Text struct {
					Value       string `json:"value"`
					Annotations []struct {
						Text string `json:"text"`
					} `json:"annotations"`
				} `json:"text"`
			} `json:"content"`
		} `json:"data"`
	}
	q := url.Values{"run_id": {run}, "order": {"asc"}, "limit": {"100"}}
	if _, err := p.c.Call(ctx, http.MethodGet, "/threads/"+url.PathEscape(thread)+"/messages?"+q.Encode(), nil, &list); err != nil {
		return "", err
	}
	var parts []string
	for _, m := range list.Data {
		if m.Role != "assistant" || (m.RunID != "" && m.RunID != run) {
			continue
		}
		for _, c := range m.Content {
			if c.Type != "text" {
				continue
			}
			v := c.Text.Value
			for _, a := range c.Text.Annotations {
				if a.Text != "" {
					v = strings.ReplaceAll(v, a.Text, "")
				}
			}
			if v = strings.TrimSpace(v); v != "" {
				parts = append(parts, v)
			}
		}
	}
	return strings.Join(parts, "\n\n"), nil
}

// toolOutputs are the results that end the exchange, of the tools the model called last.
func toolOutputs(msgs []tandem.ChatMessage) []toolOutput {
	i := len(msgs)
	for i > 0 && msgs[i-1].Role == "tool" {
		i--
	}
	if i == len(msgs) || i == 0 || msgs[i-1].Role != "assistant" || len(msgs[i-1].ToolCalls) == 0 {
		return nil
	}
	var out []toolOutput
	for _, m := range msgs[i:] {
		out = append(out, toolOutput{ToolCallID: m.ToolCallID, Output: m.Content})
	}
	return out
}

// threadMessage is a message a thread takes: the customer's or the assistant's text (and images).
func threadMessage(m tandem.ChatMessage) (message, bool) {
	switch {
	case m.Role != "user" && m.Role != "assistant":
		return message{}, false
	case len(m.Images) == 0 || m.Role == "assistant":
		return message{Role: m.Role, Content: m.Content}, m.Content != ""
	}
	var parts []part
	if m.Content != "" {
		parts = append(parts, part{Type: "text", Text: m.Content})
	}
	for _, u := range m.Images {
		parts = append(parts, part{Type: "image_url", ImageURL: &imageURL{URL: u}})
	}
	return message{Role: m.Role, Content: parts}, true
}

// ---- the wire format ----

type message struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

type part struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *imageURL `json:"image_url,omitempty"`
}

type imageURL struct {
	URL string `json:"url"`
}

type runRequest struct {
	AssistantID            string   `json:"assistant_id"`
	Model                  string   `json:"model,omitempty"`
	Instructions           string   `json:"instructions,omitempty"`
	AdditionalInstructions string   `json:"additional_instructions,omitempty"`
	Tools                  []any    `json:"tools,omitempty"`
	ToolChoice             string   `json:"tool_choice,omitempty"`
	Temperature            *float64 `json:"temperature,omitempty"`
	MaxCompletionTokens    int      `json:"max_completion_tokens,omitempty"`
	ResponseFormat         any      `json:"response_format,omitempty"`
}

type functionTool struct {
	Type     string   `json:"type"`
	Function function `json:"function"`
}

type function struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

type toolOutput struct {
	ToolCallID string `json:"tool_call_id"`
	Output     string `json:"output"`
}

type runObject struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	Model          string `json:"model"`
	RequiredAction *struct {
		SubmitToolOutputs struct {
			ToolCalls []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"submit_tool_outputs"`
	} `json:"required_action"`
	LastError *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"last_error"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}
