// Package chatbase is the AI provider of kind `chatbase`: it asks a Chatbase chatbot (an "AI
// agent") for the answer to the customer's message. With api_version v1 (the default, POST
// /api/v1/chat) Chatbase keeps no context between calls, so every call resends the recent
// transcript of the Tandem conversation; with v2 (POST /api/v2/agents/{id}/chat) Chatbase keeps
// the conversation and its id is the provider memory. It answers `assistant` and `llm` steps;
// it does not classify or call Tandem tools.
package chatbase

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/aihttp"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/provider"
)

// Kind is the provider kind.
const Kind = "chatbase"

// API versions.
const (
	V1 = "v1"
	V2 = "v2"
)

// DefaultBaseURL is Chatbase's host; the API paths (/api/v1/chat, /api/v2/agents/…) are added.
const DefaultBaseURL = "https://www.chatbase.co"

// DefaultTimeout bounds a call when the configuration sets none.
const DefaultTimeout = 60 * time.Second

// Transcript limits (v1): the messages sent, and the characters of each.
const (
	MaxMessages = 40
	MaxContent  = 4000
)

const maxBody = safehttp.MaxBody

func init() {
	provider.Register(Kind, func(c provider.Config, d provider.Deps) (tandem.Provider, error) {
		return New(c, d)
	})
}

// Provider calls one Chatbase chatbot. Build it with New.
type Provider struct {
	ID          string // the configured provider id, named in error messages
	APIKey      string // the workspace API key (secret)
	ChatbotID   string // the chatbot (v2: agent) id
	BaseURL     string // https://www.chatbase.co; a trailing /api/v1 or /api/v2 is ignored
	Version     string // v1 (default) or v2
	Model       string // optional: overrides the chatbot's model (v1)
	Temperature *float64
	Headers     map[string]string // extra headers sent with every request
	Timeout     time.Duration     // the whole call; 0: 60 s
	Client      *http.Client
	Now         func() time.Time // reads Retry-After dates and x-ratelimit-reset
}

// New builds a Chatbase provider from its configuration. A missing api_key is reported when
// the provider is called (the configuration only warns about an unset ${VAR}).
func New(c provider.Config, d provider.Deps) (*Provider, error) {
	v := strings.ToLower(strings.TrimSpace(c.APIVersion))
	if v == "" {
		v = V1
	}
	if v != V1 && v != V2 {
		return nil, fmt.Errorf("provider %q: api_version %q is not v1 or v2", c.ID, c.APIVersion)
	}
	client := d.HTTP
	if client == nil {
		client = safehttp.NewClient(safehttp.Options{AllowPrivate: true})
	}
	return &Provider{ID: c.ID, APIKey: c.APIKey, ChatbotID: c.ChatbotID, BaseURL: c.BaseURL, Version: v, Model: c.Model,
		Temperature: c.Temperature, Headers: c.Headers, Timeout: c.Timeout, Client: client, Now: time.Now}, nil
}

// Message is one message of a v1 transcript.
type Message struct {
	Role    string `json:"role"` // user | assistant
	Content string `json:"content"`
}

// V1Request is the body of POST /api/v1/chat.
type V1Request struct {
	ChatbotID      string    `json:"chatbotId"`
	Messages       []Message `json:"messages"`
	ConversationID string    `json:"conversationId,omitempty"`
	ContactID      string    `json:"contactId,omitempty"`
	Model          string    `json:"model,omitempty"`
	Temperature    *float64  `json:"temperature,omitempty"`
	Stream         bool      `json:"stream"`
}

// V2Request is the body of POST /api/v2/agents/{agentId}/chat.
type V2Request struct {
	Message        string `json:"message"`
	ConversationID string `json:"conversationId,omitempty"`
	UserID         string `json:"userId,omitempty"`
	Stream         bool   `json:"stream"`
}

// Call implements tandem.Provider.
func (p *Provider) Call(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	switch {
	case req.Op == tandem.AIClassify:
		return nil, &tandem.AIError{Message: p.name() + " cannot classify intents (a chatbot answers with its own instructions); use an openai or local provider for classify steps"}
	case req.Op == tandem.AISummarize:
		return nil, &tandem.AIError{Status: 400, Message: p.name() + " writes no handoff summaries (a chatbot answers with its own instructions); name an openai provider in the handoff step's transfer.provider"}
	case p.APIKey == "":
		return nil, &tandem.AIError{Message: p.name() + " has no api_key; set it in the providers configuration"}
	case p.ChatbotID == "":
		return nil, &tandem.AIError{Message: p.name() + " has no chatbot_id; set it in the providers configuration"}
	}
	if p.Version == V2 {
		return p.callV2(ctx, req)
	}
	return p.callV1(ctx, req)
}

// callV1 sends the recent transcript, the Tandem conversation id (so that the Chatbase
// dashboard groups the messages) and the contact; Chatbase answers {"text": …}.
func (p *Provider) callV1(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	msgs := Transcript(req)
	if len(msgs) == 0 {
		return nil, &tandem.AIError{Message: p.name() + ": there is no customer text to send"}
	}
	model := req.Model
	if model == "" {
		model = p.Model
	}
	temp := req.Temperature
	if temp == nil {
		temp = p.Temperature
	}
	body := V1Request{ChatbotID: p.ChatbotID, Messages: msgs, ConversationID: req.ConversationID, ContactID: userID(req),
		Model: model, Temperature: temp}
	b, ctype, err := p.post(ctx, "/api/v1/chat", body)
	if err != nil {
		return nil, err
	}
	text, err := p.v1Text(b, ctype)
	if err != nil {
		return nil, err
	}
	return &tandem.AIResult{Provider: req.Provider, Text: text, FinishReason: "stop", Usage: tandem.Usage{Calls: 1}}, nil
}

// Transcript is the v1 messages of a request: its user and assistant messages (the history the
// runner put first, then the customer's message), oldest first, at most MaxMessages, each
// clipped to MaxContent characters, ending with the customer's text.
func Transcript(req *tandem.AIRequest) []Message {
	var out []Message
	for _, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			continue // Chatbase documents no system or tool messages
		}
		content := m.Content
		for _, img := range m.Images {
			content += " [image: " + img + "]"
		}
		if content = aihttp.Clip(strings.TrimSpace(content), MaxContent); content != "" {
			out = append(out, Message{Role: m.Role, Content: content})
		}
	}
	if in := aihttp.Clip(strings.TrimSpace(req.Input), MaxContent); in != "" && (len(out) == 0 || out[len(out)-1].Role != "user") {
		out = append(out, Message{Role: "user", Content: in})
	}
	if len(out) > MaxMessages {
		out = out[len(out)-MaxMessages:]
	}
	return out
}

// v1Text reads a v1 answer: JSON {"text": …}, or, should Chatbase stream anyway, the text of a
// `data:` event stream (ended by [DONE]) or plain text chunks.
func (p *Provider) v1Text(b []byte, ctype string) (string, error) {
	trimmed := bytes.TrimSpace(b)
	isJSON := strings.Contains(ctype, "json") || bytes.HasPrefix(trimmed, []byte("{"))
	var text string
	switch {
	case isJSON:
		var a struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(trimmed, &a); err != nil {
			return "", p.malformed(trimmed, err)
		}
		if a.Text == nil {
			return "", &tandem.AIError{Message: p.name() + " answered JSON without a text"}
		}
		text = *a.Text
	case bytes.HasPrefix(trimmed, []byte("data:")):
		var sb strings.Builder
		for line := range strings.SplitSeq(string(trimmed), "\n") {
			payload, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "data:")
			if !ok {
				continue
			}
			payload = strings.TrimPrefix(payload, " ")
			if strings.TrimSpace(payload) == "[DONE]" {
				break
			}
			var chunk struct {
				Text string `json:"text"`
			}
			if json.Unmarshal([]byte(payload), &chunk) == nil && chunk.Text != "" {
				payload = chunk.Text
			}
			sb.WriteString(payload)
		}
		text = sb.String()
	default:
		text = string(b)
	}
	if text = strings.TrimSpace(text); text == "" {
		return "", &tandem.AIError{Message: p.name() + " returned an empty answer"}
	}
	return text, nil
}

// callV2 sends the customer's text to the Chatbase conversation kept in the memory (a new one
// the first time, or when Chatbase says it has ended or belongs to someone else).
func (p *Provider) callV2(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	input := req.Input
	for i := len(req.Messages) - 1; i >= 0 && input == ""; i-- {
		if req.Messages[i].Role == "user" {
			input = req.Messages[i].Content
		}
	}
	if strings.TrimSpace(input) == "" {
		return nil, &tandem.AIError{Message: p.name() + ": there is no customer text to send"}
	}
	res, err := p.chatV2(ctx, req, input, req.Memory)
	var ge *goneError
	if errors.As(err, &ge) && req.Memory != "" {
		res, err = p.chatV2(ctx, req, input, "")
	}
	if errors.As(err, &ge) {
		return nil, ge.AIError
	}
	return res, err
}

// goneError is an error meaning that the stored conversation cannot be continued.
type goneError struct{ *tandem.AIError }

func (p *Provider) chatV2(ctx context.Context, req *tandem.AIRequest, input, conversation string) (*tandem.AIResult, error) {
	body := V2Request{Message: input, ConversationID: conversation}
	if conversation == "" {
		body.UserID = userID(req) // fixed when the conversation is created
	}
	b, _, err := p.post(ctx, "/api/v2/agents/"+url.PathEscape(p.ChatbotID)+"/chat", body)
	if err != nil {
		return nil, err
	}
	var a struct {
		Data *struct {
			Parts []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"parts"`
			Metadata struct {
				ConversationID string `json:"conversationId"`
			} `json:"metadata"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, p.malformed(b, err)
	}
	if a.Data == nil {
		return nil, &tandem.AIError{Message: p.name() + " answered JSON without data"}
	}
	var texts []string
	for _, part := range a.Data.Parts {
		if part.Type == "text" && strings.TrimSpace(part.Text) != "" {
			texts = append(texts, strings.TrimSpace(part.Text))
		}
	}
	text := strings.Join(texts, "\n")
	if text == "" {
		return nil, &tandem.AIError{Message: p.name() + " returned an empty answer"}
	}
	memory := a.Data.Metadata.ConversationID
	if memory == "" {
		memory = conversation
	}
	return &tandem.AIResult{Provider: req.Provider, Text: text, Memory: memory, FinishReason: "stop", Usage: tandem.Usage{Calls: 1}}, nil
}

var userIDRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,128}$`)

// userID is the Chatbase id of the request's contact (v1 contactId, v2 userId): "tandem-"
// and the contact id, hashed when it does not fit v2's [a-zA-Z0-9._-]{1,128}.
func userID(req *tandem.AIRequest) string {
	if req.Contact == nil || req.Contact.ID == "" {
		return ""
	}
	id := "tandem-" + req.Contact.ID
	if !userIDRE.MatchString(id) {
		id = "tandem-" + hash(req.Contact.ID)
	}
	return id
}

// post sends one JSON request and returns the body of a 2xx answer and its content type.
func (p *Provider) post(ctx context.Context, path string, body any) ([]byte, string, error) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := safehttp.WithTimeout(ctx, timeout)
	defer cancel()
	b, err := json.Marshal(body)
	if err != nil {
		return nil, "", &tandem.AIError{Message: p.name() + ": the request cannot be encoded: " + err.Error()}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.root()+path, bytes.NewReader(b))
	if err != nil {
		return nil, "", &tandem.AIError{Message: p.name() + ": base_url is not usable: " + p.redact(aihttp.OneLine(err.Error()))}
	}
	for k, v := range p.Headers {
		hr.Header.Set(k, v)
	}
	hr.Header.Set("Authorization", "Bearer "+p.APIKey)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "Tandem")
	resp, err := p.Client.Do(hr)
	if err != nil {
		return nil, "", p.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		code, msg := readError(resp.Body)
		ae := p.apiError(resp.StatusCode, code, msg, p.wait(resp.Header))
		ae.Temporary = aihttp.ShouldRetry(resp.Header, ae.Temporary)
		if code == "CHAT_CONVERSATION_NOT_ONGOING" || code == "CHAT_CONVERSATION_MISMATCH" {
			return nil, "", &goneError{ae}
		}
		return nil, "", ae
	}
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, "", p.transportError(ctx, err)
	}
	if len(out) > maxBody {
		return nil, "", &tandem.AIError{Message: fmt.Sprintf("%s: the answer is larger than %d MB", p.name(), maxBody>>20)}
	}
	return out, strings.ToLower(resp.Header.Get("Content-Type")), nil
}

// wait is how long Chatbase asks to wait: Retry-After, or x-ratelimit-reset (epoch ms, v2).
func (p *Provider) wait(h http.Header) time.Duration {
	if d := safehttp.RetryAfter(h, p.now()); d > 0 {
		return d
	}
	if ms, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Ratelimit-Reset")), 10, 64); err == nil {
		if d := time.UnixMilli(ms).Sub(p.now()); d > 0 {
			return d
		}
	}
	return 0
}

// readError reads an error body: v2's {"error": {"code", "message"}}, or {"message"},
// {"error": "…"}, or the first line of text.
func readError(r io.Reader) (code, msg string) {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	var e struct {
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil {
		var s string
		var obj struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			return "", aihttp.Clip(aihttp.OneLine(s), 300)
		case json.Unmarshal(e.Error, &obj) == nil && (obj.Code != "" || obj.Message != ""):
			return obj.Code, aihttp.Clip(aihttp.OneLine(obj.Message), 300)
		case e.Message != "":
			return "", aihttp.Clip(aihttp.OneLine(e.Message), 300)
		}
	}
	return "", aihttp.Clip(aihttp.OneLine(string(b)), 200)
}

// apiError turns a Chatbase error into an AIError with one clear sentence. 429 (without a
// credits code) and 5xx are temporary.
func (p *Provider) apiError(status int, code, msg string, wait time.Duration) *tandem.AIError {
	detail := ""
	if msg != "" {
		detail = ": " + strings.TrimRight(msg, ". ")
	}
	note := ""
	if code != "" {
		note = " (" + code + ")"
	}
	var s string
	temporary := false
	switch {
	case strings.HasPrefix(code, "AUTH_") || status == http.StatusUnauthorized:
		s = fmt.Sprintf("refused the API key (status %d)%s; check the provider's api_key", status, note)
	case code == "SUBSCRIPTION_API_RESTRICTED_PLAN":
		s = "says the plan has no API access" + note
	case code == "CHAT_CREDITS_EXHAUSTED" || code == "CHAT_AGENT_CREDITS_EXHAUSTED" || (status == http.StatusTooManyRequests && aihttp.QuotaExhausted(code+" "+msg)):
		s = "says the message credits or quota are used up" + detail + note
	case code == "CHAT_CONVERSATION_NOT_ONGOING" || code == "CHAT_CONVERSATION_MISMATCH":
		s = "says the conversation has ended, was taken over or belongs to someone else" + note
	case code == "CHAT_MODEL_NOT_ALLOWED":
		s = "does not allow the model" + detail + note
	case status == http.StatusForbidden:
		s = "refused the call (403): the API key cannot use this chatbot, or the plan has no API access" + detail
	case code == "RESOURCE_NOT_FOUND" || status == http.StatusNotFound:
		s = fmt.Sprintf("does not know chatbot %q (status %d)%s", p.ChatbotID, status, detail)
	case strings.HasPrefix(code, "VALIDATION_") || status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		s = fmt.Sprintf("rejected the request as invalid (status %d)%s%s", status, detail, note)
	case status == http.StatusTooManyRequests:
		s, temporary = "is limiting requests, or the message credits are used up (429)"+detail, true
	case status >= 500:
		s, temporary = fmt.Sprintf("had an internal error (status %d)", status), true
	default:
		s = fmt.Sprintf("answered status %d%s%s", status, detail, note)
	}
	return &tandem.AIError{Status: status, Message: p.redact(p.name() + " " + s), RetryAfter: wait, Temporary: temporary}
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
		return &tandem.AIError{Message: p.name() + ": base_url is a private address, which outbound HTTP may not reach"}
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err // the URL is in the configuration already
	}
	return &tandem.AIError{Message: p.redact(p.name() + " cannot be reached: " + aihttp.OneLine(err.Error())), Temporary: true}
}

// malformed reports an answer that cannot be read: not JSON at all (from something between
// Tandem and Chatbase: a temporary 502), or JSON of another shape (permanent).
func (p *Provider) malformed(b []byte, err error) *tandem.AIError {
	if !json.Valid(b) {
		return &tandem.AIError{Status: aihttp.MalformedStatus, Message: p.name() + " answered with malformed JSON (" + aihttp.Clip(aihttp.OneLine(err.Error()), 120) + ")", Temporary: true}
	}
	return &tandem.AIError{Message: p.name() + " answered JSON of an unexpected shape (" + aihttp.Clip(aihttp.OneLine(err.Error()), 120) + ")"}
}

// root is the base URL without a trailing slash or API version path.
func (p *Provider) root() string {
	u := strings.TrimRight(strings.TrimSpace(p.BaseURL), "/")
	if u == "" {
		return DefaultBaseURL
	}
	for _, suffix := range []string{"/api/v1", "/api/v2"} {
		u = strings.TrimSuffix(u, suffix)
	}
	return u
}

// name is how error messages call this provider.
func (p *Provider) name() string {
	if p.ID != "" && p.ID != Kind {
		return fmt.Sprintf("Chatbase (provider %q)", p.ID)
	}
	return "Chatbase"
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// redact removes the API key from a message, in case a server or a proxy echoed it.
func (p *Provider) redact(s string) string {
	if len(p.APIKey) >= 4 {
		s = strings.ReplaceAll(s, p.APIKey, "[redacted]")
	}
	return s
}

// hash is an opaque, stable stand-in for an id.
func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// HistoryTurns implements tandem.HistoryWanter: v1 keeps no conversation, so each call resends
// the recent transcript; v2 keeps it at Chatbase.
func (p *Provider) HistoryTurns() int {
	if p.Version == "v2" {
		return 0
	}
	return 10
}
