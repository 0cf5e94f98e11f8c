package flow

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tandemchat/tandem/expr"
)

func refs(pairs ...string) []Ref {
	var out []Ref
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			out = append(out, Ref{Field: pairs[i], Step: pairs[i+1]})
		}
	}
	return out
}

// MediaSpec is an attachment of a message.
type MediaSpec struct {
	Type    string        `json:"type"` // image | video | audio | document | sticker
	URL     expr.Template `json:"url"`
	Mime    string        `json:"mime,omitempty"`
	Name    expr.Template `json:"name,omitempty"`
	Caption expr.Template `json:"caption,omitempty"`
}

// ButtonSpec is a quick reply of a message step.
type ButtonSpec struct {
	ID    string        `json:"id"`
	Title expr.Template `json:"title"`
}

// MessageStep sends a message to the customer.
type MessageStep struct {
	Text     expr.Template `json:"text"`
	Media    *MediaSpec    `json:"media,omitempty"`
	Buttons  []ButtonSpec  `json:"buttons,omitempty"`
	Channels []string      `json:"channels,omitempty"`
	// Template is sent instead when the channel's window is closed (WhatsApp's 24 hours).
	Template *TemplateSpec `json:"template,omitempty"`
	OnFailed string        `json:"on_failed,omitempty"`
	// DeliveryTimeout bounds how long a step with on_failed waits for the channel's delivery
	// report (channels that report delivery); nil: DefaultDeliveryTimeout.
	DeliveryTimeout *Duration `json:"delivery_timeout,omitempty"`
}

// DefaultDeliveryTimeout is how long a message step with on_failed waits for a delivery
// report before it goes on as sent.
const DefaultDeliveryTimeout = time.Minute

// TemplateSpec is a message template approved by the platform (WhatsApp), sent when the
// customer's window is closed.
type TemplateSpec struct {
	Name     expr.Template `json:"name"`
	Language expr.Template `json:"language"`
	// Components fill the template's parameters in the platform's format; their strings are
	// templates.
	Components *expr.Value `json:"components,omitempty"`
}

// Refs implements Body.
func (s *MessageStep) Refs() []Ref { return refs("on_failed", s.OnFailed) }

// Option is one choice of a question.
type Option struct {
	ID       string        `json:"id"`
	Title    expr.Template `json:"title,omitempty"`
	Synonyms []string      `json:"synonyms,omitempty"`
	Next     string        `json:"next,omitempty"`
}

// QuestionStep sends a question and waits for a valid answer.
type QuestionStep struct {
	Text        expr.Template `json:"text"`
	Media       *MediaSpec    `json:"media,omitempty"`
	Answer      string        `json:"answer,omitempty"`
	Options     []Option      `json:"options,omitempty"`
	Render      string        `json:"render,omitempty"`
	Save        string        `json:"save,omitempty"`
	Retries     *int          `json:"retries,omitempty"`
	InvalidText expr.Template `json:"invalid_text,omitempty"`
	OnInvalid   string        `json:"on_invalid,omitempty"`
	Timeout     *Duration     `json:"timeout,omitempty"`
	OnTimeout   string        `json:"on_timeout,omitempty"`
}

// DefaultRetries is how many times an invalid answer is asked again when `retries` is absent.
const DefaultRetries = 2

// Refs implements Body.
func (s *QuestionStep) Refs() []Ref {
	out := refs("on_invalid", s.OnInvalid, "on_timeout", s.OnTimeout)
	for i, o := range s.Options {
		out = append(out, refs(fmt.Sprintf("options[%d].next", i), o.Next)...)
	}
	return out
}

// Kind returns the answer type with its default.
func (s *QuestionStep) Kind() string {
	if s.Answer == "" {
		if len(s.Options) > 0 {
			return "option"
		}
		return "text"
	}
	return s.Answer
}

// MaxRetries returns how many invalid answers are asked again before on_invalid.
func (s *QuestionStep) MaxRetries() int {
	if s.Retries == nil {
		return DefaultRetries
	}
	return *s.Retries
}

// Assignment writes one target of a set step.
type Assignment struct {
	Target    string      `json:"target"`
	Value     *expr.Value `json:"value,omitempty"`
	Mode      string      `json:"mode,omitempty"` // set | append | clear | increment
	Separator *string     `json:"separator,omitempty"`
}

// SetStep writes variables, contact fields and conversation attributes.
type SetStep struct {
	Assign []Assignment `json:"assign"`
}

// Refs implements Body.
func (s *SetStep) Refs() []Ref { return nil }

// Branch is one branch of a condition step.
type Branch struct {
	Name string          `json:"name,omitempty"`
	When *expr.Condition `json:"when"`
	Next string          `json:"next"`
}

// ConditionStep takes the first branch whose condition holds.
type ConditionStep struct {
	Branches []Branch `json:"branches"`
	Else     string   `json:"else,omitempty"`
}

// Refs implements Body.
func (s *ConditionStep) Refs() []Ref {
	var out []Ref
	for i, b := range s.Branches {
		out = append(out, refs(fmt.Sprintf("branches[%d].next", i), b.Next)...)
	}
	return append(out, refs("else", s.Else)...)
}

// WaitStep waits for a delay, a moment, or a message, whichever comes first.
type WaitStep struct {
	For            *Duration     `json:"for,omitempty"`
	Until          expr.Template `json:"until,omitempty"`
	OrMessage      bool          `json:"or_message,omitempty"`
	Accumulate     string        `json:"accumulate,omitempty"`
	WithinSchedule string        `json:"within_schedule,omitempty"`
	OnMessage      string        `json:"on_message,omitempty"`
}

// Refs implements Body.
func (s *WaitStep) Refs() []Ref { return refs("on_message", s.OnMessage) }

// RetryOn lists retry conditions; numbers (429) and texts (5xx, network) are both accepted.
type RetryOn []string

// UnmarshalJSON reads a list of texts or numbers.
func (r *RetryOn) UnmarshalJSON(b []byte) error {
	var raw []any
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("on: expected a list such as [network, 429, 5xx]")
	}
	out := make(RetryOn, 0, len(raw))
	for _, v := range raw {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case float64:
			out = append(out, strconv.Itoa(int(x)))
		default:
			return fmt.Errorf("on: %v is not a retry condition", v)
		}
	}
	*r = out
	return nil
}

// Retry is a step's retry policy.
type Retry struct {
	Attempts int      `json:"attempts"`
	Backoff  Duration `json:"backoff,omitempty"`
	On       RetryOn  `json:"on,omitempty"`
}

// DefaultRetryOn lists the conditions retried when `on` is absent.
var DefaultRetryOn = []string{"network", "timeout", "429", "5xx"}

// HTTPBody is the body of an http step: JSON (a value, or JSON text with placeholders), a form
// or raw text.
type HTTPBody struct {
	JSON     *expr.Value
	JSONText *expr.JSONTemplate
	Form     map[string]expr.Template
	Text     *expr.Template
	raw      any
}

// UnmarshalJSON reads {json: any} | {form: map} | {text: string} | "none".
func (h *HTTPBody) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	h.raw = raw
	if s, ok := raw.(string); ok && s == "none" || raw == nil {
		return nil
	}
	m, ok := raw.(map[string]any)
	if !ok || len(m) != 1 {
		return fmt.Errorf("body: expected one of {json: ...}, {form: {...}}, {text: \"...\"} or none")
	}
	var err error
	switch {
	case m["json"] != nil || hasKey(m, "json"):
		if s, ok := m["json"].(string); ok {
			h.JSONText, err = expr.ParseJSON(s)
		} else {
			h.JSON, err = expr.NewValue(m["json"])
		}
	case m["form"] != nil:
		fm, ok := m["form"].(map[string]any)
		if !ok {
			return fmt.Errorf("body.form: expected a map of fields")
		}
		h.Form = map[string]expr.Template{}
		for k, v := range fm {
			t, perr := expr.Parse(expr.String(v))
			if perr != nil {
				return fmt.Errorf("body.form.%s: %w", k, perr)
			}
			h.Form[k] = *t
		}
	case m["text"] != nil:
		h.Text, err = expr.Parse(expr.String(m["text"]))
	default:
		return fmt.Errorf("body: expected one of {json: ...}, {form: {...}}, {text: \"...\"} or none")
	}
	return err
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

// MarshalJSON writes the body as written.
func (h HTTPBody) MarshalJSON() ([]byte, error) { return json.Marshal(h.raw) }

// Save copies an output of a step into a variable or contact field.
type Save struct {
	Target string `json:"target"`
	From   string `json:"from"`
}

// HTTPStep calls an API.
type HTTPStep struct {
	Method  string                   `json:"method,omitempty"`
	URL     expr.Template            `json:"url"`
	Headers map[string]expr.Template `json:"headers,omitempty"`
	Query   map[string]expr.Template `json:"query,omitempty"`
	Body    *HTTPBody                `json:"body,omitempty"`
	Timeout *Duration                `json:"timeout,omitempty"`
	Retry   *Retry                   `json:"retry,omitempty"`
	Save    []Save                   `json:"save,omitempty"`
	OnError string                   `json:"on_error,omitempty"`
}

// HTTP timeouts.
const (
	DefaultHTTPTimeout = 10 * time.Second
	MaxHTTPTimeout     = 120 * time.Second
)

// Refs implements Body.
func (s *HTTPStep) Refs() []Ref { return refs("on_error", s.OnError) }

// Fallback names the provider (and model) tried once after the retries.
type Fallback struct {
	Provider string `json:"provider"`
	Model    string `json:"model,omitempty"`
}

// AICall holds what every AI step has: the provider, the model and its sampling overrides,
// the timeout, retries, fallback and failure branch.
type AICall struct {
	Provider    string    `json:"provider,omitempty"`
	Model       string    `json:"model,omitempty"`
	MaxTokens   int       `json:"max_tokens,omitempty"`
	Temperature *float64  `json:"temperature,omitempty"`
	Timeout     *Duration `json:"timeout,omitempty"`
	Retry       *Retry    `json:"retry,omitempty"`
	Fallback    *Fallback `json:"fallback,omitempty"`
	OnError     string    `json:"on_error,omitempty"`
}

// LLMStep makes one model call.
type LLMStep struct {
	AICall
	System  expr.Template `json:"system,omitempty"`
	Prompt  expr.Template `json:"prompt,omitempty"`
	History int           `json:"history,omitempty"`
	Output  string        `json:"output,omitempty"` // text | json
	Schema  any           `json:"schema,omitempty"`
	Send    bool          `json:"send,omitempty"`

	once       sync.Once
	compiled   *jsonschema.Schema
	compileErr error
}

// Refs implements Body.
func (s *LLMStep) Refs() []Ref { return refs("on_error", s.OnError) }

// ValidateOutput checks a JSON answer against the step's schema (when it has one).
func (s *LLMStep) ValidateOutput(v any) error {
	if s.Schema == nil {
		return nil
	}
	s.once.Do(func() { s.compiled, s.compileErr = compileOutputSchema(s.Schema) })
	if s.compileErr != nil {
		return fmt.Errorf("the step's schema is not a valid JSON Schema: %w", s.compileErr)
	}
	return s.compiled.Validate(v)
}

// IntentSpec is one intent of a classify step.
type IntentSpec struct {
	ID          string   `json:"id"`
	Description string   `json:"description,omitempty"`
	Examples    []string `json:"examples,omitempty"`
	Next        string   `json:"next,omitempty"`
}

// ClassifyStep picks one of its intents for the customer's text.
type ClassifyStep struct {
	AICall
	Input        *expr.Template `json:"input,omitempty"`
	Instructions expr.Template  `json:"instructions,omitempty"`
	Intents      []IntentSpec   `json:"intents"`
	Other        string         `json:"other,omitempty"`
}

// Refs implements Body.
func (s *ClassifyStep) Refs() []Ref {
	var out []Ref
	for i, it := range s.Intents {
		out = append(out, refs(fmt.Sprintf("intents[%d].next", i), it.Next)...)
	}
	return append(out, refs("other", s.Other, "on_error", s.OnError)...)
}

// AssistantStep asks an assistant that keeps its own memory of the conversation.
type AssistantStep struct {
	AICall
	Input        *expr.Template `json:"input,omitempty"`
	Instructions expr.Template  `json:"instructions,omitempty"`
	Send         bool           `json:"send,omitempty"`
	// History is the turns of the conversation sent along (-1 for none). By default, providers
	// that keep the conversation themselves get none, and those that do not (Chatbase v1, the
	// webhook) get the turns they ask for (tandem.HistoryWanter).
	History int `json:"history,omitempty"`
}

// Refs implements Body.
func (s *AssistantStep) Refs() []Ref { return refs("on_error", s.OnError) }

// HandoffTool lets an agent hand the conversation to humans.
type HandoffTool struct {
	Description string `json:"description,omitempty"`
}

// HTTPTool lets an agent call an API with JSON-Schema arguments ({{args.x}} in templates).
type HTTPTool struct {
	Name        string                   `json:"name"`
	Description string                   `json:"description,omitempty"`
	Method      string                   `json:"method,omitempty"`
	URL         expr.Template            `json:"url"`
	Headers     map[string]expr.Template `json:"headers,omitempty"`
	Query       map[string]expr.Template `json:"query,omitempty"`
	Body        *HTTPBody                `json:"body,omitempty"`
	Timeout     *Duration                `json:"timeout,omitempty"`
	Parameters  any                      `json:"parameters,omitempty"`
}

// ToolSpec is one tool of an agent step.
type ToolSpec struct {
	Handoff *HandoffTool `json:"handoff,omitempty"`
	HTTP    *HTTPTool    `json:"http,omitempty"`
}

// AgentStep converses with tools until it hands off or reaches its limit.
type AgentStep struct {
	AICall
	Instructions expr.Template `json:"instructions,omitempty"`
	Knowledge    string        `json:"knowledge,omitempty"`
	Tools        []ToolSpec    `json:"tools,omitempty"`
	MaxTurns     int           `json:"max_turns,omitempty"`
	MaxToolCalls int           `json:"max_tool_calls,omitempty"`
	History      int           `json:"history,omitempty"`
	OnHandoff    string        `json:"on_handoff,omitempty"`
	OnLimit      string        `json:"on_limit,omitempty"`
}

// Refs implements Body.
func (s *AgentStep) Refs() []Ref {
	return refs("on_handoff", s.OnHandoff, "on_limit", s.OnLimit, "on_error", s.OnError)
}

// Transfer says how much history a handoff gives the agent.
type Transfer struct {
	Rounds  *int `json:"rounds,omitempty"`
	Summary bool `json:"summary,omitempty"`
	// Provider and Model make the summary (extensions): default the workspace's default
	// provider and the provider's model.
	Provider string `json:"provider,omitempty"`
	Model    string `json:"model,omitempty"`
}

// HandoffStep gives the conversation to humans.
type HandoffStep struct {
	Desk     string    `json:"desk,omitempty"`
	Team     string    `json:"team,omitempty"`
	Schedule string    `json:"schedule,omitempty"`
	Transfer *Transfer `json:"transfer,omitempty"`
	// Reason tells the desk why (an extension); default: the reason the agent step that led
	// here gave its handoff tool.
	Reason         expr.Template            `json:"reason,omitempty"`
	RequireEmail   string                   `json:"require_email,omitempty"` // auto | always | never
	WaitTimeout    *Duration                `json:"wait_timeout,omitempty"`
	SessionTimeout *Duration                `json:"session_timeout,omitempty"`
	Texts          map[string]expr.Template `json:"texts,omitempty"`
	OnOutsideHours string                   `json:"on_outside_hours,omitempty"`
	OnUnavailable  string                   `json:"on_unavailable,omitempty"`
	OnUserClosed   string                   `json:"on_user_closed,omitempty"`
	OnTimeout      string                   `json:"on_timeout,omitempty"`
}

// HandoffTexts lists the built-in texts a handoff step may override.
var HandoffTexts = []string{"ask_email", "invalid_email", "connecting", "waiting_prompt", "connected",
	"user_closed", "agent_closed", "session_timeout", "out_of_hours", "unavailable"}

// Refs implements Body.
func (s *HandoffStep) Refs() []Ref {
	return refs("on_outside_hours", s.OnOutsideHours, "on_unavailable", s.OnUnavailable,
		"on_user_closed", s.OnUserClosed, "on_timeout", s.OnTimeout)
}

// TagStep adds and removes tags on the contact or the conversation.
type TagStep struct {
	Add    []expr.Template `json:"add,omitempty"`
	Remove []expr.Template `json:"remove,omitempty"`
	On     string          `json:"on,omitempty"` // contact (default) | conversation
}

// Refs implements Body.
func (s *TagStep) Refs() []Ref { return nil }

// NoteStep writes an internal note.
type NoteStep struct {
	Text expr.Template `json:"text"`
}

// Refs implements Body.
func (s *NoteStep) Refs() []Ref { return nil }

// NotifyStep sends an internal message to agents.
type NotifyStep struct {
	Text expr.Template `json:"text"`
	Team expr.Template `json:"team,omitempty"`
	User expr.Template `json:"user,omitempty"`
}

// Refs implements Body.
func (s *NotifyStep) Refs() []Ref { return nil }

// AssignStep sets the conversation's team and assignee; the bot keeps going. A field set to ""
// clears it; an absent field is left alone.
type AssignStep struct {
	Team *expr.Template `json:"team,omitempty"`
	User *expr.Template `json:"user,omitempty"`
}

// Refs implements Body.
func (s *AssignStep) Refs() []Ref { return nil }

// GotoStep jumps to another step.
type GotoStep struct {
	To string `json:"to"`
}

// Refs implements Body.
func (s *GotoStep) Refs() []Ref { return refs("to", s.To) }

// SplitPath is one path of an A/B split.
type SplitPath struct {
	Weight float64 `json:"weight"`
	Next   string  `json:"next"`
}

// SplitStep picks a path at random by weight.
type SplitStep struct {
	Paths []SplitPath `json:"paths"`
}

// Refs implements Body.
func (s *SplitStep) Refs() []Ref {
	var out []Ref
	for i, p := range s.Paths {
		out = append(out, refs(fmt.Sprintf("paths[%d].next", i), p.Next)...)
	}
	return out
}

// FlowStep calls another flow and comes back, or hands over to it.
type FlowStep struct {
	Start     string                 `json:"start"`
	Mode      string                 `json:"mode,omitempty"` // call (default) | replace
	Variables map[string]*expr.Value `json:"variables,omitempty"`
}

// Refs implements Body.
func (s *FlowStep) Refs() []Ref { return nil }

// StopStep ends the run.
type StopStep struct {
	PauseBot  bool   `json:"pause_bot,omitempty"`
	ThenStart string `json:"then_start,omitempty"`
}

// Refs implements Body.
func (s *StopStep) Refs() []Ref { return nil }

// compileOutputSchema compiles a JSON Schema written in a flow (an llm step's output schema).
func compileOutputSchema(doc any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	if err := c.AddResource("output.json", normaliseNumbers(doc)); err != nil {
		return nil, err
	}
	return c.Compile("output.json")
}

// normaliseNumbers converts ints to float64 recursively, as decoded JSON has them.
func normaliseNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normaliseNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normaliseNumbers(e)
		}
		return out
	case int:
		return float64(x)
	}
	return v
}
