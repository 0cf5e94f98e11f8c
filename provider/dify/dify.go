// Package dify is the AI provider of kind `dify`: it asks a Dify app (Chatbot, Agent, Chatflow)
// for the answer to the customer's message through the Service API's POST /chat-messages.
// Dify keeps the conversation: the provider sends only the new message and the conversation_id
// that Dify returned on the first turn (kept as the provider memory of the Tandem conversation).
// It answers `assistant` and `llm` steps; it does not classify, call Tandem tools or run
// Workflow apps (POST /workflows/run).
package dify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/aihttp"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/provider"
)

// Kind is the provider kind.
const Kind = "dify"

// Response modes.
const (
	Blocking  = "blocking"
	Streaming = "streaming"
)

// DefaultBaseURL is Dify Cloud's Service API.
const DefaultBaseURL = "https://api.dify.ai/v1"

// Default time limits. Dify Cloud's edge cuts blocking requests after about 100 s; a streaming
// answer pings every 10 s, so 30 s without any line means the stream stalled.
const (
	DefaultBlockingTimeout  = 110 * time.Second
	DefaultStreamingTimeout = 120 * time.Second
	DefaultIdleTimeout      = 30 * time.Second
)

// maxBody caps a blocking answer or an error body; maxStream caps a whole event stream.
const (
	maxBody   = safehttp.MaxBody
	maxStream = 16 << 20
)

func init() {
	provider.Register(Kind, func(c provider.Config, d provider.Deps) (tandem.Provider, error) {
		return New(c, d)
	})
}

// Provider calls one Dify app. Build it with New; the zero value of the optional fields means
// their default.
type Provider struct {
	ID           string            // the configured provider id, named in error messages
	APIKey       string            // the app's API key (secret)
	BaseURL      string            // the Service API root, such as https://api.dify.ai/v1
	Inputs       map[string]any    // the app's input variables, sent on every call
	ResponseMode string            // blocking (default) or streaming
	Headers      map[string]string // extra headers sent with every request
	Timeout      time.Duration     // the whole call; 0: 110 s blocking, 120 s streaming
	IdleTimeout  time.Duration     // streaming: longest wait for the next line; 0: 30 s
	Client       *http.Client
	Now          func() time.Time // reads Retry-After dates
}

// New builds a Dify provider from its configuration. A missing api_key is reported when the
// provider is called (the configuration only warns about an unset ${VAR}).
func New(c provider.Config, d provider.Deps) (*Provider, error) {
	mode := strings.ToLower(strings.TrimSpace(c.ResponseMode))
	if mode != "" && mode != Blocking && mode != Streaming {
		return nil, fmt.Errorf("provider %q: response_mode %q is not one of blocking, streaming", c.ID, c.ResponseMode)
	}
	client := d.HTTP
	if client == nil {
		client = safehttp.NewClient(safehttp.Options{AllowPrivate: true})
	}
	return &Provider{ID: c.ID, APIKey: c.APIKey, BaseURL: c.BaseURL, Inputs: c.Inputs, ResponseMode: mode,
		Headers: c.Headers, Timeout: c.Timeout, Client: client, Now: time.Now}, nil
}

// ChatRequest is the body of POST /chat-messages.
type ChatRequest struct {
	Inputs         map[string]any `json:"inputs"`
	Query          string         `json:"query"`
	ResponseMode   string         `json:"response_mode"`
	ConversationID string         `json:"conversation_id"`
	User           string         `json:"user"`
	Files          []File         `json:"files,omitempty"`
}

// File is an image given to the app by URL.
type File struct {
	Type           string `json:"type"`
	TransferMethod string `json:"transfer_method"`
	URL            string `json:"url"`
}

// Call implements tandem.Provider: it sends the customer's text to the app and returns the
// answer, with the Dify conversation id as the new memory. A stored conversation that Dify no
// longer knows (404 "Conversation Not Exists.", 400 conversation_completed) is dropped and the
// turn sent once more as a new conversation.
func (p *Provider) Call(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	if req.Op == tandem.AIClassify {
		return nil, &tandem.AIError{Message: p.name() + " cannot classify intents (a Dify app answers with its own prompt); use an openai or local provider for classify steps"}
	}
	if req.Op == tandem.AISummarize {
		return nil, &tandem.AIError{Status: 400, Message: p.name() + " writes no handoff summaries (a Dify app answers with its own prompt); name an openai provider in the handoff step's transfer.provider"}
	}
	if p.APIKey == "" {
		return nil, &tandem.AIError{Message: p.name() + " has no api_key; set it in the providers configuration"}
	}
	body := p.request(req)
	if body.Query == "" && len(body.Files) == 0 {
		return nil, &tandem.AIError{Message: p.name() + ": there is no customer text to send"}
	}
	if !isUUID(body.ConversationID) {
		// Dify accepts only UUIDs ("conversation_id must be a valid UUID"); anything else is
		// a memory from another kind of provider that had this id before: start afresh.
		body.ConversationID = ""
	}
	res, gone, err := p.chat(ctx, req, body)
	if gone && body.ConversationID != "" {
		body.ConversationID = ""
		res, _, err = p.chat(ctx, req, body)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// request builds the body of one call.
func (p *Provider) request(req *tandem.AIRequest) ChatRequest {
	mode := p.ResponseMode
	if mode == "" {
		mode = Blocking
	}
	query := req.Input
	var last *tandem.ChatMessage
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			last = &req.Messages[i]
			break
		}
	}
	if query == "" && last != nil {
		query = last.Content
	}
	var files []File
	if last != nil {
		for _, u := range last.Images {
			if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
				files = append(files, File{Type: "image", TransferMethod: "remote_url", URL: u})
			}
		}
	}
	return ChatRequest{Inputs: renderInputs(p.Inputs, req), Query: query, ResponseMode: mode,
		ConversationID: req.Memory, User: User(req), Files: files}
}

// User is the Dify end-user id of a request's contact: stable for the contact, so that its
// conversations stay visible to the calls of the next turns.
func User(req *tandem.AIRequest) string {
	if req.Contact != nil && req.Contact.ID != "" {
		return "tandem-" + req.Contact.ID
	}
	return "tandem-conversation-" + req.ConversationID
}

var placeholder = regexp.MustCompile(`\{\{\s*([a-z_.]+)\s*\}\}`)

// renderInputs copies the configured inputs, filling in the placeholders {{contact.id}},
// {{contact.name}}, {{contact.first_name}}, {{contact.last_name}}, {{contact.phone}},
// {{contact.email}}, {{contact.external_id}}, {{contact.language}} and {{conversation.id}} of
// string values; other text is sent as written. Dify requires the key even when empty.
func renderInputs(in map[string]any, req *tandem.AIRequest) map[string]any {
	out := make(map[string]any, len(in))
	c := req.Contact
	if c == nil {
		c = &tandem.Contact{}
	}
	vals := map[string]string{"contact.id": c.ID, "contact.name": c.Name, "contact.first_name": c.FirstName,
		"contact.last_name": c.LastName, "contact.phone": c.Phone, "contact.email": c.Email,
		"contact.external_id": c.ExternalID, "contact.language": c.Language, "conversation.id": req.ConversationID}
	for k, v := range in {
		if s, ok := v.(string); ok {
			v = placeholder.ReplaceAllStringFunc(s, func(m string) string {
				if r, ok := vals[placeholder.FindStringSubmatch(m)[1]]; ok {
					return r
				}
				return m
			})
		}
		out[k] = v
	}
	return out
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isUUID(s string) bool { return uuidRE.MatchString(s) }

// name is how error messages call this provider.
func (p *Provider) name() string {
	if p.ID != "" && p.ID != Kind {
		return fmt.Sprintf("Dify (provider %q)", p.ID)
	}
	return "Dify"
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Provider) baseURL() string {
	u := strings.TrimRight(strings.TrimSpace(p.BaseURL), "/")
	if u == "" {
		return DefaultBaseURL
	}
	return u
}

// chat makes one POST /chat-messages. gone reports that Dify does not know the conversation.
func (p *Provider) chat(ctx context.Context, req *tandem.AIRequest, body ChatRequest) (*tandem.AIResult, bool, error) {
	streaming := body.ResponseMode == Streaming
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultBlockingTimeout
		if streaming {
			timeout = DefaultStreamingTimeout
		}
	}
	ctx, cancel := safehttp.WithTimeout(ctx, timeout)
	defer cancel()
	// The stream's idle timer cancels the request with its own cause.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	b, err := json.Marshal(body)
	if err != nil {
		return nil, false, &tandem.AIError{Message: p.name() + ": the request cannot be encoded: " + err.Error()}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.baseURL()+"/chat-messages", bytes.NewReader(b))
	if err != nil {
		return nil, false, &tandem.AIError{Message: p.name() + ": base_url is not usable: " + p.redact(err.Error())}
	}
	p.setHeaders(hr)
	if streaming {
		hr.Header.Set("Accept", "text/event-stream")
	} else {
		hr.Header.Set("Accept", "application/json")
	}
	resp, err := p.Client.Do(hr)
	if err != nil {
		return nil, false, p.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		env := readEnvelope(resp.Body)
		ae := p.apiError(resp.StatusCode, env, safehttp.RetryAfter(resp.Header, p.now()))
		ae.Temporary = aihttp.ShouldRetry(resp.Header, ae.Temporary)
		return nil, isGone(resp.StatusCode, env.Code), ae
	}
	var st *state
	if strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), "text/event-stream") {
		st, err = p.readStream(ctx, stop, resp.Body)
		if err != nil && st.taskID != "" && context.Cause(ctx) != nil {
			p.stopTask(ctx, st.taskID, body.User)
		}
	} else {
		st, err = p.readBlocking(ctx, resp.Body)
	}
	if err != nil {
		return nil, st != nil && st.gone, err
	}
	return p.result(req, body, st)
}

func (p *Provider) setHeaders(hr *http.Request) {
	for k, v := range p.Headers {
		hr.Header.Set(k, v)
	}
	hr.Header.Set("Authorization", "Bearer "+p.APIKey)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "Tandem")
}

// stopTask asks Dify to stop a run whose stream Tandem gave up on (best effort, a few seconds).
func (p *Provider) stopTask(ctx context.Context, taskID, user string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	b, _ := json.Marshal(map[string]string{"user": user})
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.baseURL()+"/chat-messages/"+url.PathEscape(taskID)+"/stop", bytes.NewReader(b))
	if err != nil {
		return
	}
	p.setHeaders(hr)
	if resp, err := p.Client.Do(hr); err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
	}
}

// result turns what Dify answered into the step's result.
func (p *Provider) result(req *tandem.AIRequest, body ChatRequest, st *state) (*tandem.AIResult, bool, error) {
	text := strings.TrimSpace(st.text)
	if len(st.files) > 0 {
		// Tandem results carry text only: files the app made are given as links after the text.
		text = strings.TrimSpace(text + "\n" + strings.Join(st.files, "\n"))
	}
	if text == "" {
		return nil, false, &tandem.AIError{Message: p.name() + " returned an empty answer"}
	}
	memory := st.conversationID
	if memory == "" {
		memory = body.ConversationID
	}
	u := st.meta.Usage
	return &tandem.AIResult{Provider: req.Provider, Text: text, Memory: memory, FinishReason: "stop",
		Usage:     tandem.Usage{Calls: 1, InputTokens: int(u.PromptTokens), OutputTokens: int(u.CompletionTokens)},
		Citations: st.meta.citations()}, false, nil
}

// Metadata is the metadata of a blocking answer or of message_end.
type Metadata struct {
	Usage              Usage      `json:"usage"`
	RetrieverResources []Resource `json:"retriever_resources"`
}

// Usage is the token count of an answer; any key may be missing.
type Usage struct {
	PromptTokens     float64 `json:"prompt_tokens"`
	CompletionTokens float64 `json:"completion_tokens"`
	TotalTokens      float64 `json:"total_tokens"`
}

// Resource is a knowledge citation.
type Resource struct {
	DocumentName string  `json:"document_name"`
	DatasetName  string  `json:"dataset_name"`
	Content      string  `json:"content"`
	Score        float64 `json:"score"`
}

func (m Metadata) citations() []tandem.Citation {
	var out []tandem.Citation
	for _, r := range m.RetrieverResources {
		src := r.DocumentName
		if src == "" {
			src = r.DatasetName
		}
		out = append(out, tandem.Citation{Source: src, Text: r.Content, Score: r.Score})
	}
	return out
}

// blockingAnswer is a blocking answer. Data is set on Chatflow run shapes (a paused run).
type blockingAnswer struct {
	Event          string   `json:"event"`
	TaskID         string   `json:"task_id"`
	MessageID      string   `json:"message_id"`
	ConversationID string   `json:"conversation_id"`
	Answer         *string  `json:"answer"`
	Metadata       Metadata `json:"metadata"`
	Data           *struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"data"`
}

func (p *Provider) readBlocking(ctx context.Context, r io.Reader) (*state, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		if context.Cause(ctx) != nil {
			return nil, p.transportError(ctx, err)
		}
		return nil, p.cutError()
	}
	if len(b) > maxBody {
		return nil, &tandem.AIError{Message: fmt.Sprintf("%s: the answer is larger than %d MB", p.name(), maxBody>>20)}
	}
	var a blockingAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, p.malformed("answered", b, err)
	}
	st := &state{conversationID: a.ConversationID, taskID: a.TaskID, meta: a.Metadata}
	switch {
	case a.Event == "human_input_required" || a.Event == "workflow_paused" || (a.Data != nil && a.Data.Status == "paused"):
		return st, p.pauseError()
	case a.Data != nil && (a.Data.Status == "failed" || a.Data.Status == "stopped"):
		return st, &tandem.AIError{Message: fmt.Sprintf("%s: the Chatflow run %s: %s", p.name(), a.Data.Status, aihttp.OneLine(a.Data.Error))}
	case a.Answer == nil:
		return st, &tandem.AIError{Message: p.name() + " answered JSON without an answer"}
	}
	st.text = *a.Answer
	return st, nil
}

// malformed reports an answer that cannot be read: not JSON at all (from something between
// Tandem and Dify: a temporary 502), or JSON of another shape (permanent).
func (p *Provider) malformed(what string, b []byte, err error) *tandem.AIError {
	if !json.Valid(b) {
		return &tandem.AIError{Status: aihttp.MalformedStatus, Message: p.name() + " " + what + " with malformed JSON (" + aihttp.Clip(aihttp.OneLine(err.Error()), 120) + ")", Temporary: true}
	}
	return &tandem.AIError{Message: p.name() + " " + what + " with JSON of an unexpected shape (" + aihttp.Clip(aihttp.OneLine(err.Error()), 120) + ")"}
}

func (p *Provider) pauseError() *tandem.AIError {
	return &tandem.AIError{Message: p.name() + ": the Chatflow paused for a human-input form, which Tandem does not fill in; remove the Human Input node from the Chatflow, or hand the conversation to a person"}
}

// readEnvelope reads Dify's error envelope {code, message, status}; a body that is not one
// gives its first line of text as the message.
func readEnvelope(r io.Reader) envelope {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	var e envelope
	if json.Unmarshal(b, &e) != nil || (e.Code == "" && e.Message == "") {
		e = envelope{Message: aihttp.Clip(aihttp.OneLine(string(b)), 200)}
	}
	return e
}

type envelope struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// isGone reports an answer meaning that the stored conversation cannot be continued.
func isGone(status int, code string) bool {
	return (status == http.StatusNotFound && code == "not_found") || code == "conversation_completed"
}

// apiError turns one of Dify's errors into an AIError with one clear sentence. Retrying helps
// only with 429 too_many_requests and 5xx (the runner retries those when the step says so).
func (p *Provider) apiError(status int, e envelope, wait time.Duration) *tandem.AIError {
	msg := aihttp.OneLine(e.Message)
	detail := ""
	if msg != "" {
		detail = ": " + strings.TrimRight(msg, ". ")
	}
	var s string
	temporary := false
	switch {
	case status == http.StatusUnauthorized || e.Code == "unauthorized":
		s = "refused the API key (401 unauthorized); check the provider's api_key"
	case e.Code == "app_unavailable":
		s = "says the app is unavailable; check the app's configuration in Dify (app_unavailable)"
	case e.Code == "not_chat_app":
		s = "says the app is not a chat app; use a Chatbot, Agent or Chatflow app (not_chat_app)"
	case e.Code == "agent_not_published":
		s = "says the agent is not published; publish it in Dify (agent_not_published)"
	case e.Code == "provider_not_initialize":
		s = "has no valid model provider credentials for the app; set them in Dify under Settings → Model Provider (provider_not_initialize)"
	case e.Code == "provider_quota_exceeded":
		s = "says the app's model provider quota is exhausted; add your own provider credentials in Dify (provider_quota_exceeded)"
	case e.Code == "model_currently_not_support":
		s = "cannot use the app's model" + detail + " (model_currently_not_support)"
	case e.Code == "completion_request_error":
		s = "could not get an answer from the app's model" + detail + " (completion_request_error)"
	case e.Code == "conversation_completed":
		s = "says the conversation has ended (conversation_completed)"
	case e.Code == "bad_request" && strings.Contains(strings.ToLower(msg), "streaming"):
		s = "says this app answers only in streaming mode; set response_mode: streaming on the provider (bad_request)"
	case e.Code == "invalid_param" || e.Code == "bad_request":
		s = "rejected the request as invalid" + detail + " (" + e.Code + ")"
	case status == http.StatusForbidden:
		s = "refused the call (403)" + detail
	case status == http.StatusNotFound:
		s = "does not know the conversation or app (404)" + detail
	case e.Code == "rate_limit_error":
		s = "says the plan's quota is used up until it resets (429 rate_limit_error)"
	case status == http.StatusTooManyRequests && aihttp.QuotaExhausted(e.Code+" "+msg):
		s = "says a quota is used up (429)"
	case status == http.StatusTooManyRequests:
		s, temporary = "is busy: too many requests for this app (429)", true
	case status >= 500:
		s, temporary = fmt.Sprintf("had an internal error (status %d)", status), true
	case status == 0:
		s = "reported an error" + detail + codeNote(e.Code)
	default:
		s = fmt.Sprintf("answered status %d%s%s", status, detail, codeNote(e.Code))
	}
	return &tandem.AIError{Status: status, Message: p.redact(p.name() + " " + s), RetryAfter: wait, Temporary: temporary}
}

func codeNote(code string) string {
	if code == "" {
		return ""
	}
	return " (" + code + ")"
}

// transportError reports a call that got no HTTP answer: a timeout, a stalled stream or a
// network error; all but a blocked address are worth retrying.
func (p *Provider) transportError(ctx context.Context, err error) *tandem.AIError {
	if cause := context.Cause(ctx); cause != nil {
		switch {
		case errors.Is(cause, errIdle):
			return &tandem.AIError{Message: fmt.Sprintf("%s stopped sending its answer (nothing for %s)", p.name(), p.idle()), Temporary: true}
		case errors.Is(cause, context.DeadlineExceeded):
			return &tandem.AIError{Message: p.name() + " did not answer in time (timeout)", Temporary: true}
		default:
			return &tandem.AIError{Message: p.name() + ": the call was canceled", Temporary: true}
		}
	}
	if safehttp.IsBlocked(err) {
		return &tandem.AIError{Message: p.name() + ": base_url is a private address, which outbound HTTP may not reach"}
	}
	return &tandem.AIError{Message: p.redact(p.name() + " cannot be reached: " + aihttp.OneLine(unwrapURL(err).Error())), Temporary: true}
}

// unwrapURL drops net/http's "Post <url>:" prefix: the URL is in the configuration already.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// redact removes the API key from a message, in case a server or a proxy echoed it.
func (p *Provider) redact(s string) string {
	if len(p.APIKey) >= 4 {
		s = strings.ReplaceAll(s, p.APIKey, "[redacted]")
	}
	return s
}
