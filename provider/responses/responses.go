// Package responses is the `openai-responses` AI provider kind: OpenAI's Responses API, the
// successor of the Assistants API (OpenAI's API reference). The assistant step (op assist)
// keeps the conversation on the server — each answer's id is the next turn's
// previous_response_id, or, with Conversations, one Conversations API conversation — and the
// id comes back as AIResult.Memory; the other ops send the whole exchange and store nothing.
// Every call carries the instructions and, when configured, a dashboard-managed prompt
// {id, version}: that is how an Assistants user brings an assistant over.
package responses

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/openaiwire"
	"github.com/tandemchat/tandem/provider"
)

// Kind is the provider kind.
const Kind = "openai-responses"

// DefaultBaseURL is used when the configuration has no base_url.
const DefaultBaseURL = "https://api.openai.com/v1"

// minOutputTokens is the smallest max_output_tokens the API accepts.
const minOutputTokens = 16

func init() {
	provider.Register(Kind, func(c provider.Config, d provider.Deps) (tandem.Provider, error) { return New(c, d) })
}

// Provider is the openai-responses provider.
type Provider struct {
	ID    string
	Model string
	// Instructions are sent when the step gives none (the step's system text wins).
	Instructions string
	// PromptID and PromptVersion name a prompt managed in OpenAI's dashboard, sent with every call.
	PromptID, PromptVersion string
	MaxTokens               int
	Temperature             *float64
	// Timeout bounds a call within the caller's deadline (0: the caller's only).
	Timeout time.Duration
	// Conversations keeps an assistant's memory in a Conversations API conversation (conv_…)
	// instead of chaining previous_response_id (resp_…). Either memory is read back as given.
	Conversations bool
	// Streaming makes Call stream the answer (server-sent events) instead of waiting for it.
	Streaming bool

	c *openaiwire.Client
}

// New builds an openai-responses provider from its configuration.
func New(c provider.Config, d provider.Deps) (*Provider, error) {
	cl, err := openaiwire.NewClient(c, d, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	return &Provider{ID: c.ID, Model: c.Model, Instructions: c.Instructions, PromptID: c.PromptID, PromptVersion: c.PromptVer,
		MaxTokens: c.MaxTokens, Temperature: c.Temperature, Timeout: c.Timeout, c: cl}, nil
}

// Call implements tandem.Provider.
func (p *Provider) Call(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	return p.call(ctx, req, p.Streaming, nil)
}

// Stream answers like Call but streams the answer, handing each piece of text to onText (when
// not nil) as it arrives; the result is the whole answer. A stream that stops before the
// response is complete is a temporary *tandem.AIError, never a partial answer.
func (p *Provider) Stream(ctx context.Context, req *tandem.AIRequest, onText func(string)) (*tandem.AIResult, error) {
	return p.call(ctx, req, true, onText)
}

func (p *Provider) call(ctx context.Context, req *tandem.AIRequest, stream bool, onText func(string)) (*tandem.AIResult, error) {
	start := p.c.Now()
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}
	body, err := p.request(req)
	if err != nil {
		return nil, err
	}
	stateful := req.Op == tandem.AIAssist
	memory := req.Memory
	if strings.HasPrefix(memory, "thread_") {
		memory = "" // an Assistants thread, left by the kind this provider replaced: start afresh
	}
	switch {
	case !stateful:
		memory = ""
		body.Store = new(bool) // one-off answers are not kept on the server
		body.Input = input(req.Messages, req.Input)
	case memory != "":
		body.Input = input(unseen(req.Messages), req.Input)
		body.continueFrom(memory)
	default:
		body.Input = input(req.Messages, req.Input)
		if p.Conversations {
			if memory, err = p.conversation(ctx, req); err != nil {
				return nil, p.c.Final(ctx, start, err)
			}
			body.continueFrom(memory)
		}
	}
	resp, err := p.send(ctx, body, stream, onText)
	if err != nil && memory != "" && lost(err, memory) {
		// The stored state expired or was deleted: start again from this turn's messages.
		body.PreviousResponseID, body.Conversation, memory = "", "", ""
		body.Input = input(req.Messages, req.Input)
		if strings.HasPrefix(req.Memory, "conv_") || p.Conversations {
			if memory, err = p.conversation(ctx, req); err != nil {
				return nil, p.c.Final(ctx, start, err)
			}
			body.continueFrom(memory)
		}
		resp, err = p.send(ctx, body, stream, onText)
	}
	if err != nil {
		return nil, p.c.Final(ctx, start, err)
	}
	res, err := p.result(req, resp, body.Model)
	if err != nil {
		return nil, err
	}
	if stateful {
		res.Memory = resp.ID
		if strings.HasPrefix(memory, "conv_") {
			res.Memory = memory
		}
	}
	return res, nil
}

// lost reports whether a failure says the stored state named memory is gone.
func lost(err error, memory string) bool {
	var f *openaiwire.Failure
	if !errors.As(err, &f) || (f.Status != 400 && f.Status != 404) {
		return false
	}
	return strings.Contains(f.Detail, memory) || strings.Contains(f.Code, "previous_response") || strings.Contains(f.Code, "conversation")
}

// conversation starts a Conversations API conversation for a Tandem conversation.
func (p *Provider) conversation(ctx context.Context, req *tandem.AIRequest) (string, error) {
	in := map[string]any{}
	if req.ConversationID != "" {
		in["metadata"] = map[string]string{"tandem_conversation": req.ConversationID}
	}
	var out struct {
		ID string `json:"id"`
	}
	if _, err := p.c.Call(ctx, http.MethodPost, "/conversations", in, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", p.c.Malformed("answered a new conversation without its id", "")
	}
	return out.ID, nil
}

// send creates a response, streamed or not.
func (p *Provider) send(ctx context.Context, body *request, stream bool, onText func(string)) (*response, error) {
	if !stream {
		var resp response
		if _, err := p.c.Call(ctx, http.MethodPost, "/responses", body, &resp); err != nil {
			return nil, err
		}
		return &resp, nil
	}
	sb := *body
	sb.Stream = true
	var final *response
	err := p.c.Stream(ctx, "/responses", &sb, func(ev openaiwire.Event) (bool, error) {
		data := strings.TrimSpace(ev.Data)
		if data == "[DONE]" {
			return true, nil
		}
		var e streamEvent
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return false, p.c.Malformed("sent an event that is not a Responses event", data).AI
		}
		switch openaiwire.FirstOf(e.Type, ev.Name) {
		case "response.output_text.delta":
			if onText != nil && e.Delta != "" {
				onText(e.Delta)
			}
		case "response.completed", "response.incomplete", "response.failed":
			if e.Response == nil {
				return false, p.c.Malformed("ended the stream without the response", data).AI
			}
			final = e.Response
			return true, nil
		case "error":
			return false, p.c.EventFailure([]byte(data)).AI
		}
		return false, nil
	})
	if err == nil && final == nil {
		err = openaiwire.ErrEnded
	}
	if err != nil {
		return nil, err
	}
	return final, nil
}

// result reads a response (OpenAI's API reference).
func (p *Provider) result(req *tandem.AIRequest, resp *response, model string) (*tandem.AIResult, error) {
	switch resp.Status {
	case "failed":
		code, msg := "", "the response failed"
		if resp.Error != nil {
			code, msg = resp.Error.Code, openaiwire.FirstOf(resp.Error.Message, msg)
		}
		return nil, p.c.Fail(openaiwire.CodeStatus(code), code, msg, "").AI
	case "cancelled":
		return nil, &tandem.AIError{Message: fmt.Sprintf("%s: the response %s was cancelled", p.c.Who, resp.ID)}
	case "queued", "in_progress":
		return nil, &tandem.AIError{Message: fmt.Sprintf("%s: the response %s is still %s", p.c.Who, resp.ID, resp.Status), Temporary: true}
	}
	res := &tandem.AIResult{Provider: req.Provider, Model: openaiwire.FirstOf(resp.Model, model), FinishReason: "stop", Usage: tandem.Usage{Calls: 1}}
	if resp.Usage != nil {
		res.Usage.InputTokens, res.Usage.OutputTokens = resp.Usage.InputTokens, resp.Usage.OutputTokens
	}
	var text, refusal strings.Builder
	for _, it := range resp.Output {
		switch it.Type {
		case "message":
			for _, c := range it.Content {
				switch c.Type {
				case "output_text":
					text.WriteString(c.Text)
				case "refusal":
					refusal.WriteString(c.Refusal)
				}
			}
		case "function_call":
			res.ToolCalls = append(res.ToolCalls, tandem.ToolCall{ID: openaiwire.FirstOf(it.CallID, it.ID), Name: it.Name, Arguments: openaiwire.Arguments(it.Arguments)})
		}
	}
	res.Text = text.String()
	switch {
	case resp.Status == "incomplete":
		res.FinishReason = "length"
		if resp.IncompleteDetails != nil && resp.IncompleteDetails.Reason == "content_filter" {
			res.FinishReason = "content_filter"
		}
	case len(res.ToolCalls) > 0:
		res.FinishReason = "tool_calls"
	case res.Text == "" && refusal.Len() > 0:
		res.Text, res.FinishReason = refusal.String(), "refusal"
	}
	if req.Output == "json" {
		var v any
		if json.Unmarshal([]byte(strings.TrimSpace(res.Text)), &v) == nil {
			res.JSON = v
		}
	}
	return res, nil
}

// ---- the wire format ----

type request struct {
	Model              string   `json:"model,omitempty"`
	Input              any      `json:"input"`
	Instructions       string   `json:"instructions,omitempty"`
	Prompt             *prompt  `json:"prompt,omitempty"`
	PreviousResponseID string   `json:"previous_response_id,omitempty"`
	Conversation       string   `json:"conversation,omitempty"`
	Store              *bool    `json:"store,omitempty"`
	MaxOutputTokens    int      `json:"max_output_tokens,omitempty"`
	Temperature        *float64 `json:"temperature,omitempty"`
	Tools              []tool   `json:"tools,omitempty"`
	ToolChoice         string   `json:"tool_choice,omitempty"`
	Text               *text    `json:"text,omitempty"`
	Stream             bool     `json:"stream,omitempty"`
}

// continueFrom continues a stored exchange: a conversation, or a previous response.
func (r *request) continueFrom(memory string) {
	if strings.HasPrefix(memory, "conv_") {
		r.Conversation = memory
	} else {
		r.PreviousResponseID = memory
	}
}

type prompt struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
}

type tool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      bool            `json:"strict"`
}

type text struct {
	Format format `json:"format"`
}

type format struct {
	Type   string          `json:"type"`
	Name   string          `json:"name,omitempty"`
	Schema json.RawMessage `json:"schema,omitempty"`
	Strict *bool           `json:"strict,omitempty"`
}

// item is one input item (OpenAI's API reference): a message, a function call or its output.
type item struct {
	Type      string  `json:"type,omitempty"`
	Role      string  `json:"role,omitempty"`
	Content   any     `json:"content,omitempty"`
	CallID    string  `json:"call_id,omitempty"`
	Name      string  `json:"name,omitempty"`
	Arguments string  `json:"arguments,omitempty"`
	Output    *string `json:"output,omitempty"`
}

type part struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
}

type response struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Model  string `json:"model"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
	Output []struct {
		Type    string `json:"type"`
		ID      string `json:"id"`
		Content []struct {
			Type    string `json:"type"`
			Text    string `json:"text"`
			Refusal string `json:"refusal"`
		} `json:"content"`
		CallID    string `json:"call_id"`
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"output"`
	Usage *struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
}

type streamEvent struct {
	Type     string    `json:"type"`
	Delta    string    `json:"delta"`
	Response *response `json:"response"`
}

// request builds what every call sends besides its input and state.
func (p *Provider) request(req *tandem.AIRequest) (*request, error) {
	body := &request{Model: openaiwire.FirstOf(req.Model, p.Model), Instructions: openaiwire.FirstOf(req.System, p.Instructions), Temperature: req.Temperature}
	if p.PromptID != "" {
		body.Prompt = &prompt{ID: p.PromptID, Version: p.PromptVersion}
	}
	if body.Model == "" && body.Prompt == nil {
		return nil, &tandem.AIError{Status: 400, Message: fmt.Sprintf("%s: no model and no prompt are set; give the provider a prompt id or a model", p.c.Who)}
	}
	if body.Temperature == nil {
		body.Temperature = p.Temperature
	}
	for _, n := range []int{req.MaxTokens, p.MaxTokens} {
		if n > 0 {
			body.MaxOutputTokens = max(n, minOutputTokens)
			break
		}
	}
	if req.Output == "json" {
		if len(req.Schema) > 0 {
			strict := openaiwire.Strictable(req.Schema)
			body.Text = &text{Format: format{Type: "json_schema", Name: "answer", Schema: json.RawMessage(req.Schema), Strict: &strict}}
		} else {
			body.Text = &text{Format: format{Type: "json_object"}}
			// JSON mode is refused unless the input asks for JSON.
			if !mentionsJSON(body.Instructions, req.Messages) {
				body.Instructions = strings.TrimSpace(body.Instructions + "\n\nAnswer with a JSON object.")
			}
		}
	}
	for _, t := range req.Tools {
		params := json.RawMessage(t.Parameters)
		if len(params) == 0 {
			params = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		// strict is sent as false unless the schema fits it: function tools default to strict.
		body.Tools = append(body.Tools, tool{Type: "function", Name: t.Name, Description: t.Description, Parameters: params, Strict: openaiwire.Strictable(params)})
	}
	if len(body.Tools) > 0 {
		body.ToolChoice = openaiwire.FirstOf(req.ToolChoice, "auto")
	}
	return body, nil
}

func mentionsJSON(instructions string, msgs []tandem.ChatMessage) bool {
	if strings.Contains(strings.ToLower(instructions), "json") {
		return true
	}
	for _, m := range msgs {
		if strings.Contains(strings.ToLower(m.Content), "json") {
			return true
		}
	}
	return false
}

// unseen are the messages a stored exchange does not have yet: those after the model's last
// turn (the new customer message, or the results of the tools the model called).
func unseen(msgs []tandem.ChatMessage) []tandem.ChatMessage {
	last := -1
	for i, m := range msgs {
		if m.Role == "assistant" {
			last = i
		}
	}
	if last == len(msgs)-1 && last >= 0 {
		return msgs[last:]
	}
	return msgs[last+1:]
}

// input is the input of messages: one user text as a plain string (the common case), else
// items; fallback is the text sent when there are no messages.
func input(msgs []tandem.ChatMessage, fallback string) any {
	if len(msgs) == 1 && msgs[0].Role == "user" && len(msgs[0].Images) == 0 {
		return msgs[0].Content
	}
	if len(msgs) == 0 {
		return fallback
	}
	var items []item
	for _, m := range msgs {
		switch m.Role {
		case "system", "developer":
			if m.Content != "" {
				items = append(items, item{Role: "system", Content: m.Content})
			}
		case "assistant":
			if m.Content != "" {
				items = append(items, item{Role: "assistant", Content: m.Content})
			}
			for _, tc := range m.ToolCalls {
				args := string(tc.Arguments)
				if args == "" {
					args = "{}"
				}
				items = append(items, item{Type: "function_call", CallID: tc.ID, Name: tc.Name, Arguments: args})
			}
		case "tool":
			out := m.Content
			items = append(items, item{Type: "function_call_output", CallID: m.ToolCallID, Output: &out})
		default:
			if len(m.Images) == 0 {
				if m.Content != "" {
					items = append(items, item{Role: "user", Content: m.Content})
				}
				continue
			}
			var parts []part
			if m.Content != "" {
				parts = append(parts, part{Type: "input_text", Text: m.Content})
			}
			for _, u := range m.Images {
				parts = append(parts, part{Type: "input_image", ImageURL: u})
			}
			items = append(items, item{Role: "user", Content: parts})
		}
	}
	return items
}
