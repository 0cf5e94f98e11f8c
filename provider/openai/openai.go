// Package openai is the `openai` AI provider kind: Chat Completions on OpenAI and on every
// OpenAI-compatible server (Ollama, vLLM, LM Studio, OpenRouter, Groq, Azure OpenAI), with
// tools, JSON and JSON Schema output, images, streaming and usage; it also embeds texts for
// hybrid knowledge ranking. It keeps no state: the history comes with each request, so the
// assistant step's memory is the conversation's own transcript.
package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/openaiwire"
	"github.com/tandemchat/tandem/provider"
)

// Kind is the provider kind.
const Kind = "openai"

// DefaultBaseURL is used when the configuration has no base_url.
const DefaultBaseURL = "https://api.openai.com/v1"

// DefaultEmbeddingModel is the embedding model used on api.openai.com.
const DefaultEmbeddingModel = "text-embedding-3-small"

// maxEmbedBatch is the most inputs one embeddings request may carry.
const maxEmbedBatch = 2048

func init() {
	provider.Register(Kind, func(c provider.Config, d provider.Deps) (tandem.Provider, error) { return New(c, d) })
}

// Provider is the openai provider. New fills it from the configuration and the server's
// profile (OpenAI's API reference); the fields may be changed before the first call.
type Provider struct {
	ID          string
	Model       string
	MaxTokens   int
	Temperature *float64
	// Timeout bounds a call within the caller's deadline (0: the caller's only).
	Timeout time.Duration
	// MaxTokensField is the field that bounds the answer: max_completion_tokens on OpenAI and
	// Azure, max_tokens on compatible servers (Ollama ignores the newer field).
	MaxTokensField string
	// SystemRole carries system text: developer on api.openai.com, system elsewhere (compatible
	// servers may not know developer).
	SystemRole string
	// Streaming makes Call stream the answer (server-sent events) instead of waiting for it.
	Streaming bool
	// EmbeddingModel is the model Embed uses: the configuration's, else text-embedding-3-small
	// on api.openai.com and none elsewhere (Embed then fails and knowledge ranks by full text).
	EmbeddingModel string

	c *openaiwire.Client
	// Azure classic: requests go to {root}/openai/deployments/{deployment}/...; deployment is
	// fixed when the base_url names it, else the model names it.
	deployments bool
	deployment  string
	needsKey    bool
	floatFormat bool // send encoding_format: float (OpenAI, Azure)
}

// New builds an openai provider from its configuration.
func New(c provider.Config, d provider.Deps) (*Provider, error) {
	cl, err := openaiwire.NewClient(c, d, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	p := &Provider{ID: c.ID, Model: c.Model, MaxTokens: c.MaxTokens, Temperature: c.Temperature, Timeout: c.Timeout,
		MaxTokensField: "max_tokens", SystemRole: "system", c: cl}
	switch {
	case cl.OpenAI:
		p.MaxTokensField, p.SystemRole, p.EmbeddingModel, p.needsKey, p.floatFormat = "max_completion_tokens", "developer", DefaultEmbeddingModel, true, true
	case cl.Azure:
		p.MaxTokensField, p.floatFormat = "max_completion_tokens", true
	}
	if c.EmbeddingModel != "" {
		p.EmbeddingModel = c.EmbeddingModel
	}
	if cl.Azure && !strings.Contains(cl.Base, "/openai/v1") {
		if c.APIVersion == "" {
			return nil, fmt.Errorf("provider %q: an Azure deployment URL needs api_version (such as 2024-10-21), or use the v1 base_url https://<resource>.openai.azure.com/openai/v1", c.ID)
		}
		p.deployments = true
		if i := strings.Index(cl.Base, "/openai/deployments/"); i >= 0 {
			p.deployment = strings.Trim(cl.Base[i+len("/openai/deployments/"):], "/")
			cl.Base = cl.Base[:i]
		} else {
			cl.Base = strings.TrimSuffix(cl.Base, "/openai")
		}
	}
	return p, nil
}

// path is the address of an endpoint ("/chat/completions", "/embeddings") for a model.
func (p *Provider) path(endpoint, model string) string {
	if !p.deployments {
		return endpoint
	}
	dep := p.deployment
	if dep == "" || endpoint == "/embeddings" {
		dep = model
	}
	return "/openai/deployments/" + url.PathEscape(dep) + endpoint
}

func (p *Provider) model(req *tandem.AIRequest) string {
	return openaiwire.FirstOf(req.Model, p.Model)
}

// Call implements tandem.Provider: complete, classify and assist are one chat completion of
// the system text and the messages (history included by the runner).
func (p *Provider) Call(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	if p.Streaming {
		return p.Stream(ctx, req, nil)
	}
	ctx, cancel, start := p.begin(ctx)
	defer cancel()
	body, err := p.request(req)
	if err != nil {
		return nil, err
	}
	var resp chatResponse
	if _, err := p.c.Call(ctx, http.MethodPost, p.path("/chat/completions", body.Model), body, &resp); err != nil {
		return nil, p.c.Final(ctx, start, err)
	}
	if len(resp.Choices) == 0 {
		if len(resp.Error) > 0 && string(resp.Error) != "null" {
			return nil, p.c.EventFailure(resp.Raw()).AI
		}
		return nil, p.c.Malformed("answered without choices", "").AI
	}
	ch := resp.Choices[0]
	res := p.result(req, openaiwire.FirstOf(resp.Model, body.Model), ch.FinishReason, deref(ch.Message.Content), deref(ch.Message.Refusal), ch.Message.ToolCalls)
	if resp.Usage != nil {
		res.Usage.InputTokens, res.Usage.OutputTokens = resp.Usage.PromptTokens, resp.Usage.CompletionTokens
	}
	return res, nil
}

// begin applies the configured timeout and notes the start of a call.
func (p *Provider) begin(ctx context.Context) (context.Context, context.CancelFunc, time.Time) {
	start := p.c.Now()
	if p.Timeout > 0 {
		ctx, cancel := context.WithTimeout(ctx, p.Timeout)
		return ctx, cancel, start
	}
	return ctx, func() {}, start
}

// result builds the answer from what the model said.
func (p *Provider) result(req *tandem.AIRequest, model, finish, text, refusal string, calls []toolCall) *tandem.AIResult {
	res := &tandem.AIResult{Provider: req.Provider, Model: model, FinishReason: finish, Text: text, Usage: tandem.Usage{Calls: 1}}
	if refusal != "" && text == "" {
		res.Text, res.FinishReason = refusal, "refusal"
	}
	for _, tc := range calls {
		res.ToolCalls = append(res.ToolCalls, tandem.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: openaiwire.Arguments(tc.Function.Arguments)})
	}
	if req.Output == "json" {
		var v any
		if json.Unmarshal([]byte(strings.TrimSpace(res.Text)), &v) == nil {
			res.JSON = v
		}
	}
	return res
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ---- the wire format (OpenAI's API reference) ----

type chatRequest struct {
	Model               string          `json:"model,omitempty"`
	Messages            []chatMessage   `json:"messages"`
	MaxCompletionTokens int             `json:"max_completion_tokens,omitempty"`
	MaxTokens           int             `json:"max_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	Tools               []chatTool      `json:"tools,omitempty"`
	ToolChoice          string          `json:"tool_choice,omitempty"`
	ResponseFormat      *responseFormat `json:"response_format,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *streamOptions  `json:"stream_options,omitempty"`
}

type chatMessage struct {
	Role       string     `json:"role"`
	Content    any        `json:"content"` // a string, content parts, or null beside tool calls
	ToolCalls  []toolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

type contentPart struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *imageURL `json:"image_url,omitempty"`
}

type imageURL struct {
	URL string `json:"url"`
}

type toolCall struct {
	Index    *int         `json:"index,omitempty"` // streams only
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function functionCall `json:"function"`
}

type functionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type chatTool struct {
	Type     string       `json:"type"`
	Function toolFunction `json:"function"`
}

type toolFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

type responseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *jsonSchema `json:"json_schema,omitempty"`
}

type jsonSchema struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
	Strict bool            `json:"strict"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

type chatResponse struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content   *string    `json:"content"`
			Refusal   *string    `json:"refusal"`
			ToolCalls []toolCall `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// Raw is the answer's error as an error document.
func (r *chatResponse) Raw() []byte {
	b, _ := json.Marshal(map[string]json.RawMessage{"error": r.Error})
	return b
}

// request builds the Chat Completions request of an AI request.
func (p *Provider) request(req *tandem.AIRequest) (*chatRequest, error) {
	body := &chatRequest{Model: p.model(req), Temperature: req.Temperature}
	if body.Model == "" && p.deployment == "" {
		return nil, &tandem.AIError{Status: 400, Message: fmt.Sprintf("%s: no model is set; give the provider a model, or the step one", p.c.Who)}
	}
	if p.needsKey && p.c.Header.Get("Authorization") == "" {
		return nil, &tandem.AIError{Status: 401, Message: fmt.Sprintf("%s: no api_key is configured for %s", p.c.Who, p.c.Base)}
	}
	if body.Temperature == nil {
		body.Temperature = p.Temperature
	}
	if n := firstInt(req.MaxTokens, p.MaxTokens); n > 0 {
		if p.MaxTokensField == "max_completion_tokens" {
			body.MaxCompletionTokens = n
		} else {
			body.MaxTokens = n
		}
	}
	system := req.System
	if req.Output == "json" {
		if len(req.Schema) > 0 {
			body.ResponseFormat = &responseFormat{Type: "json_schema", JSONSchema: &jsonSchema{Name: "answer", Schema: json.RawMessage(req.Schema), Strict: openaiwire.Strictable(req.Schema)}}
		} else {
			body.ResponseFormat = &responseFormat{Type: "json_object"}
			// JSON mode is refused unless the messages ask for JSON (OpenAI's API reference).
			if !mentionsJSON(req) {
				system = strings.TrimSpace(system + "\n\nAnswer with a JSON object.")
			}
		}
	}
	if system != "" {
		body.Messages = append(body.Messages, chatMessage{Role: p.SystemRole, Content: system})
	}
	for _, m := range req.Messages {
		body.Messages = append(body.Messages, p.message(m))
	}
	if len(req.Messages) == 0 && req.Input != "" {
		body.Messages = append(body.Messages, chatMessage{Role: "user", Content: req.Input})
	}
	if len(body.Messages) == 0 {
		return nil, &tandem.AIError{Status: 400, Message: p.c.Who + ": the request has no messages"}
	}
	for _, t := range req.Tools {
		params := json.RawMessage(t.Parameters)
		if len(params) == 0 {
			params = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		body.Tools = append(body.Tools, chatTool{Type: "function", Function: toolFunction{Name: t.Name, Description: t.Description, Parameters: params}})
	}
	if len(body.Tools) > 0 {
		body.ToolChoice = openaiwire.FirstOf(req.ToolChoice, "auto")
	}
	return body, nil
}

// message turns a model message into a Chat Completions message.
func (p *Provider) message(m tandem.ChatMessage) chatMessage {
	switch m.Role {
	case "system", "developer":
		return chatMessage{Role: p.SystemRole, Content: m.Content}
	case "assistant":
		cm := chatMessage{Role: "assistant", Content: m.Content}
		for _, tc := range m.ToolCalls {
			args := string(tc.Arguments)
			if args == "" {
				args = "{}"
			}
			cm.ToolCalls = append(cm.ToolCalls, toolCall{ID: tc.ID, Type: "function", Function: functionCall{Name: tc.Name, Arguments: args}})
		}
		if len(cm.ToolCalls) > 0 && m.Content == "" {
			cm.Content = nil
		}
		return cm
	case "tool":
		return chatMessage{Role: "tool", ToolCallID: m.ToolCallID, Content: m.Content}
	}
	if len(m.Images) == 0 {
		return chatMessage{Role: "user", Content: m.Content}
	}
	var parts []contentPart
	if m.Content != "" {
		parts = append(parts, contentPart{Type: "text", Text: m.Content})
	}
	for _, u := range m.Images {
		parts = append(parts, contentPart{Type: "image_url", ImageURL: &imageURL{URL: u}})
	}
	return chatMessage{Role: "user", Content: parts}
}

func mentionsJSON(req *tandem.AIRequest) bool {
	if strings.Contains(strings.ToLower(req.System), "json") {
		return true
	}
	for _, m := range req.Messages {
		if strings.Contains(strings.ToLower(m.Content), "json") {
			return true
		}
	}
	return false
}

func firstInt(ns ...int) int {
	for _, n := range ns {
		if n > 0 {
			return n
		}
	}
	return 0
}
