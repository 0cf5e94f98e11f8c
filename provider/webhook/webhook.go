// Package webhook is the AI provider of kind `webhook`, a generic "assistant webhook": for each
// AI call it POSTs the conversation, the contact, the customer's message and the recent history
// to a URL the business runs, signed with HMAC-SHA256 like the API channel's outbound calls,
// and reads {"text", "memory", "intent", "tool_calls"} back. The business's code decides how to
// answer (its own model, rules, a person); the memory it returns comes back on the next turn.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/aihttp"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/provider"
)

// Kind is the provider kind.
const Kind = "webhook"

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body with the secret (the
// API channel's scheme).
const SignatureHeader = "X-Tandem-Signature"

// DefaultTimeout bounds a call when the configuration sets none.
const DefaultTimeout = 30 * time.Second

const maxBody = 1 << 20

func init() {
	provider.Register(Kind, func(c provider.Config, d provider.Deps) (tandem.Provider, error) {
		return New(c, d)
	})
}

// Provider calls one assistant webhook. Build it with New.
type Provider struct {
	ID      string            // the configured provider id, named in error messages
	URL     string            // the endpoint
	Secret  string            // signs the body; without it requests are not signed
	Headers map[string]string // extra headers sent with every request
	Timeout time.Duration     // the whole call; 0: 30 s
	Client  *http.Client
	Now     func() time.Time // reads Retry-After dates
}

// New builds a webhook provider from its configuration.
func New(c provider.Config, d provider.Deps) (*Provider, error) {
	if u := strings.TrimSpace(c.URL); u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("provider %q: url %q is not an http(s) URL", c.ID, u)
		}
	}
	client := d.HTTP
	if client == nil {
		client = safehttp.NewClient(safehttp.Options{AllowPrivate: true})
	}
	return &Provider{ID: c.ID, URL: strings.TrimSpace(c.URL), Secret: c.Secret, Headers: c.Headers, Timeout: c.Timeout,
		Client: client, Now: time.Now}, nil
}

// Request is the JSON POSTed to the webhook.
type Request struct {
	ConversationID string          `json:"conversation_id"`
	Contact        Contact         `json:"contact"`
	Message        string          `json:"message"`          // the customer's text (the step's input)
	Images         []string        `json:"images,omitempty"` // images of the customer's message
	History        []Turn          `json:"history"`          // earlier messages, oldest first
	Step           string          `json:"step"`
	Op             string          `json:"op"` // assist | complete | classify
	System         string          `json:"system,omitempty"`
	Intents        []tandem.Intent `json:"intents,omitempty"` // classify: answer one id in "intent"
	Tools          []tandem.Tool   `json:"tools,omitempty"`   // tools the answer may call
	Memory         string          `json:"memory"`            // what the webhook returned last time
}

// Contact is who the conversation is with.
type Contact struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	Phone      string `json:"phone,omitempty"`
	Email      string `json:"email,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
}

// Turn is one earlier message.
type Turn struct {
	Role    string `json:"role"` // user | assistant | system | tool
	Content string `json:"content"`
}

// Response is the JSON the webhook answers with; at least one of text, intent and tool_calls.
type Response struct {
	Text       string     `json:"text"`
	Memory     *string    `json:"memory"` // absent: the memory is kept
	Intent     string     `json:"intent"`
	Confidence float64    `json:"confidence"`
	ToolCalls  []ToolCall `json:"tool_calls"`
}

// ToolCall is a tool the webhook asks Tandem to call; arguments may be an object or a string
// holding one.
type ToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// Body is the request sent for an AI request.
func Body(req *tandem.AIRequest) Request {
	r := Request{ConversationID: req.ConversationID, Message: req.Input, Step: req.Step, Op: req.Op, System: req.System,
		Tools: req.Tools, Memory: req.Memory, History: []Turn{}}
	if req.Op == tandem.AIClassify {
		r.Intents = req.Intents
	}
	if c := req.Contact; c != nil {
		name := c.Name
		if name == "" {
			name = strings.TrimSpace(c.FirstName + " " + c.LastName)
		}
		r.Contact = Contact{ID: c.ID, Name: name, Phone: c.Phone, Email: c.Email, ExternalID: c.ExternalID}
	}
	msgs := req.Messages
	// The step's own message (the customer's text, last) is "message", not history.
	if n := len(msgs); n > 0 && msgs[n-1].Role == "user" && (msgs[n-1].Content == req.Input || req.Input == "") {
		if r.Message == "" {
			r.Message = msgs[n-1].Content
		}
		r.Images = msgs[n-1].Images
		msgs = msgs[:n-1]
	}
	for _, m := range msgs {
		if strings.TrimSpace(m.Content) != "" {
			r.History = append(r.History, Turn{Role: m.Role, Content: m.Content})
		}
	}
	return r
}

// Sign returns the signature header value of a body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// IdempotencyKey is the same for the same step, conversation and body, so a retried call can
// be recognised by the webhook.
func IdempotencyKey(req *tandem.AIRequest, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", req.Step, req.ConversationID)
	h.Write(body)
	return "tandem-ai-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Call implements tandem.Provider.
func (p *Provider) Call(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	if p.URL == "" {
		return nil, &tandem.AIError{Message: p.name() + " has no url; set it in the providers configuration"}
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := safehttp.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := json.Marshal(Body(req))
	if err != nil {
		return nil, &tandem.AIError{Message: p.name() + ": the request cannot be encoded: " + err.Error()}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return nil, &tandem.AIError{Message: p.name() + ": url is not usable"}
	}
	for k, v := range p.Headers {
		hr.Header.Set(k, v)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "Tandem")
	hr.Header.Set("Idempotency-Key", IdempotencyKey(req, body))
	if p.Secret != "" {
		hr.Header.Set(SignatureHeader, Sign(p.Secret, body))
	}
	resp, err := p.Client.Do(hr)
	if err != nil {
		return nil, p.transportError(ctx, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, p.transportError(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := p.statusError(resp.StatusCode, b, safehttp.RetryAfter(resp.Header, p.now()))
		ae.Temporary = aihttp.ShouldRetry(resp.Header, ae.Temporary)
		return nil, ae
	}
	if len(b) > maxBody {
		return nil, &tandem.AIError{Message: fmt.Sprintf("%s: the answer is larger than %d MB", p.name(), maxBody>>20)}
	}
	var a Response
	if err := json.Unmarshal(b, &a); err != nil {
		if !json.Valid(b) {
			// Not JSON at all: something in between (a proxy, a login page) answered.
			return nil, &tandem.AIError{Status: aihttp.MalformedStatus, Message: p.name() + ` answered with malformed JSON; it must answer {"text": "..."} (` + aihttp.Clip(aihttp.OneLine(err.Error()), 120) + ")", Temporary: true}
		}
		return nil, &tandem.AIError{Message: p.name() + ` answered JSON of an unexpected shape; it must answer {"text": "..."} (` + aihttp.Clip(aihttp.OneLine(err.Error()), 120) + ")"}
	}
	return p.result(req, &a)
}

func (p *Provider) result(req *tandem.AIRequest, a *Response) (*tandem.AIResult, error) {
	res := &tandem.AIResult{Provider: req.Provider, Text: strings.TrimSpace(a.Text), Intent: strings.TrimSpace(a.Intent),
		Confidence: a.Confidence, Memory: req.Memory, FinishReason: "stop", Usage: tandem.Usage{Calls: 1}}
	if a.Memory != nil {
		res.Memory = *a.Memory
	}
	for i, tc := range a.ToolCalls {
		if tc.Name == "" {
			return nil, &tandem.AIError{Message: fmt.Sprintf("%s answered tool_calls[%d] without a name", p.name(), i)}
		}
		args := tc.Arguments
		var s string
		if json.Unmarshal(args, &s) == nil {
			args = json.RawMessage(s) // arguments given as a JSON string
		}
		if len(args) > 0 && !json.Valid(args) {
			return nil, &tandem.AIError{Message: fmt.Sprintf("%s answered tool_calls[%d] with arguments that are not JSON", p.name(), i)}
		}
		id := tc.ID
		if id == "" {
			id = fmt.Sprintf("webhook-%d", i+1)
		}
		res.ToolCalls = append(res.ToolCalls, tandem.ToolCall{ID: id, Name: tc.Name, Arguments: args})
	}
	if len(res.ToolCalls) > 0 {
		res.FinishReason = "tool_calls"
	}
	if res.Text == "" && res.Intent == "" && len(res.ToolCalls) == 0 {
		return nil, &tandem.AIError{Message: p.name() + ` answered without text, intent or tool_calls; it must answer {"text": "..."}`}
	}
	return res, nil
}

// statusError reports a non-2xx answer, with the webhook's own error message when it gave one.
func (p *Provider) statusError(status int, body []byte, wait time.Duration) *tandem.AIError {
	detail := ""
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil {
		var s string
		var obj struct {
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			detail = s
		case json.Unmarshal(e.Error, &obj) == nil && obj.Message != "":
			detail = obj.Message
		default:
			detail = e.Message
		}
	} else {
		detail = string(body)
	}
	msg := fmt.Sprintf("%s answered status %d", p.name(), status)
	detail = aihttp.Clip(aihttp.OneLine(detail), 200)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		// What an endpoint says about refused credentials may echo them: not repeated.
		msg += "; check the provider's secret and headers"
	case detail != "":
		msg += ": " + detail
	}
	temporary := status == http.StatusTooManyRequests || status >= 500 || status == http.StatusRequestTimeout
	if status == http.StatusTooManyRequests && aihttp.QuotaExhausted(detail) {
		temporary = false
	}
	return &tandem.AIError{Status: status, Message: p.redact(msg), RetryAfter: wait, Temporary: temporary}
}

// transportError reports a call that got no HTTP answer: a timeout or a network error; all but
// a blocked address are worth retrying.
func (p *Provider) transportError(ctx context.Context, err error) *tandem.AIError {
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, context.DeadlineExceeded) {
			return &tandem.AIError{Message: p.name() + " did not answer in time (timeout)", Temporary: true}
		}
		return &tandem.AIError{Message: p.name() + ": the call was canceled", Temporary: true}
	}
	if safehttp.IsBlocked(err) {
		return &tandem.AIError{Message: p.name() + ": url is a private address, which outbound HTTP may not reach"}
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err // the URL may carry a token: it is not repeated
	}
	return &tandem.AIError{Message: p.redact(p.name() + " cannot be reached: " + aihttp.OneLine(err.Error())), Temporary: true}
}

// name is how error messages call this provider: by id and host, never the whole URL (its
// query may carry a token).
func (p *Provider) name() string {
	host := ""
	if u, err := url.Parse(p.URL); err == nil {
		host = u.Host
	}
	switch {
	case p.ID != "" && host != "":
		return fmt.Sprintf("the assistant webhook (provider %q, %s)", p.ID, host)
	case p.ID != "":
		return fmt.Sprintf("the assistant webhook (provider %q)", p.ID)
	}
	return "the assistant webhook"
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// redact removes the secret and the URL's query from a message.
func (p *Provider) redact(s string) string {
	if len(p.Secret) >= 4 {
		s = strings.ReplaceAll(s, p.Secret, "[redacted]")
	}
	if u, err := url.Parse(p.URL); err == nil && u.RawQuery != "" {
		s = strings.ReplaceAll(s, u.RawQuery, "[redacted]")
	}
	return s
}

// HistoryTurns implements tandem.HistoryWanter: the webhook gets the recent history with each
// message.
func (p *Provider) HistoryTurns() int { return 10 }
