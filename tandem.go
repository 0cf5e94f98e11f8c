// Package tandem holds Tandem's vocabulary: conversations, contacts, messages, the events that
// happen to a conversation and the effects the engine asks for, and the boundary interfaces
// (Channel, Provider, Desk, Clock) that adapters implement. It imports only the standard library.
package tandem

import (
	"encoding/json"
	"strings"
	"time"
)

// Message directions and authors.
const (
	DirectionIn  = "in"
	DirectionOut = "out"

	AuthorContact = "contact"
	AuthorBot     = "bot"
	AuthorAgent   = "agent"
	AuthorSystem  = "system"
)

// Message types. Media types share the Media field.
const (
	MessageText     = "text"
	MessageImage    = "image"
	MessageVideo    = "video"
	MessageAudio    = "audio"
	MessageFile     = "file"
	MessageSticker  = "sticker"
	MessageLocation = "location"
	MessageOption   = "option"
	// MessageContact is a shared contact card (Contacts).
	MessageContact = "contact"
	// MessageForm is a completed form (WhatsApp Flows): Text is its summary, Data its answers.
	MessageForm = "form"
	// MessageUnsupported is a message the channel cannot show (a poll, a view-once photo):
	// Text says what it was; flows usually ask the customer to send it another way.
	MessageUnsupported = "unsupported"
	// MessageReaction is an emoji (Reaction; "" when removed) on the message RefersTo names.
	MessageReaction = "reaction"
	// MessageEdit is the new Text of the customer's message RefersTo names.
	MessageEdit = "edit"
)

// Quiet reports whether messages of a type are only recorded (shown in the conversation and
// the inbox) and start no turn: reactions and edits.
func Quiet(messageType string) bool {
	return messageType == MessageReaction || messageType == MessageEdit
}

// Message is a normalised chat message in either direction.
type Message struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversation_id,omitempty"`
	// Seq numbers the conversation's messages 1, 2, 3… without gaps, in the order they were
	// stored (0 until the message is stored).
	Seq       int64    `json:"seq,omitempty"`
	Direction string   `json:"direction"`
	Author    string   `json:"author"`
	Type      string   `json:"type"`
	Text      string   `json:"text,omitempty"`
	Buttons   []Button `json:"buttons,omitempty"`
	// Render says how buttons are shown: "buttons" (quick replies) or "list".
	Render   string    `json:"render,omitempty"`
	Media    *Media    `json:"media,omitempty"`
	Location *Location `json:"location,omitempty"`
	// Option is the id of the button or list row the customer picked (type "option").
	Option string `json:"option,omitempty"`
	// Contacts are the cards of a contact message.
	Contacts []SharedContact `json:"contacts,omitempty"`
	// Reaction is the emoji of a reaction ("" when the customer removed it).
	Reaction string `json:"reaction,omitempty"`
	// RefersTo is the platform's id of the message this one reacts to, edits or quotes.
	RefersTo string `json:"refers_to,omitempty"`
	// Data is structured content a platform attaches (a WhatsApp Flows form's answers).
	Data map[string]any `json:"data,omitempty"`
	// Variables become run variables (var.<name>) of the run that handles the message (a
	// Telegram /start payload). Variables of the whole conversation are Conversation.Variables.
	Variables map[string]any `json:"variables,omitempty"`
	// Template is what an outbound message is sent as when the channel's window is closed.
	Template *Template `json:"template,omitempty"`
	// Continues marks the parts after the first of a text split for the channel.
	Continues bool `json:"continues,omitempty"`
	// Status is the delivery status of an outbound message: sent, delivered, read, played or
	// failed ("" while it waits in the outbox).
	Status string `json:"status,omitempty"`
	// Error says why a failed outbound message was not delivered (nil otherwise).
	Error *MessageError `json:"error,omitempty"`
	// ChannelMessageID is the provider's id of the message, used to recognise retries.
	ChannelMessageID string    `json:"channel_message_id,omitempty"`
	AgentID          string    `json:"agent,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
}

// MessageError is why an outbound message failed: the platform's error code and text (WhatsApp
// 131047 "Re-engagement message"), or, for a send Tandem itself refused or gave up on, no code
// and Tandem's reason.
type MessageError struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// SharedContact is a contact card a customer shared.
type SharedContact struct {
	Name   string   `json:"name"`
	Phones []string `json:"phones,omitempty"`
	Emails []string `json:"emails,omitempty"`
	Org    string   `json:"org,omitempty"`
}

// Template is a message pre-approved by the platform (a WhatsApp message template), the only
// kind a channel with a window (Caps.Window) may send once the window is closed.
type Template struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	// Components fill the template's parameters, in the platform's own format (WhatsApp:
	// [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]).
	Components any `json:"components,omitempty"`
}

// Button is a quick reply or list row offered to the customer.
type Button struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Media is an attachment: image, video, audio, file (document) or sticker.
type Media struct {
	Type string `json:"type,omitempty"`
	// URL is where the file is: a public link, or /api/v1/media/{ID} for a stored file.
	URL string `json:"url"`
	// ID is the media store's id of a stored file ("" for a link).
	ID      string `json:"id,omitempty"`
	Size    int64  `json:"size,omitempty"`
	Mime    string `json:"mime,omitempty"`
	Name    string `json:"name,omitempty"`
	Caption string `json:"caption,omitempty"`
	// Error says why a file the customer sent is not kept (too large, expired), or not kept
	// yet while Tandem tries its download again.
	Error string `json:"error,omitempty"`
	// Fetch, set by a channel on a download that may succeed later, is what downloads it
	// again (not stored with the message).
	Fetch *MediaFetch `json:"-"`
}

// Location is a point the customer shared.
type Location struct {
	Lat     float64 `json:"lat"`
	Lng     float64 `json:"lng"`
	Name    string  `json:"name,omitempty"`
	Address string  `json:"address,omitempty"`
}

// Contact is a customer. Built-in fields are typed; anything else is an attribute.
type Contact struct {
	ID         string         `json:"id"`
	ChannelID  string         `json:"channel_id,omitempty"`
	ExternalID string         `json:"external_id,omitempty"`
	Name       string         `json:"name,omitempty"`
	FirstName  string         `json:"first_name,omitempty"`
	LastName   string         `json:"last_name,omitempty"`
	Phone      string         `json:"phone,omitempty"`
	Email      string         `json:"email,omitempty"`
	Language   string         `json:"language,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Tags       []string       `json:"tags,omitempty"`
	// StoppedAt is when the customer blocked the business on its channel (zero: never, or
	// they wrote since): nothing is sent to them until they write again.
	StoppedAt time.Time `json:"stopped_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// First returns the contact's first name: FirstName when set, else the first word of Name.
func (c *Contact) First() string {
	if c.FirstName != "" {
		return c.FirstName
	}
	f, _, _ := strings.Cut(strings.TrimSpace(c.Name), " ")
	return f
}

// Last returns the contact's last name: LastName when set, else Name after its first word.
func (c *Contact) Last() string {
	if c.LastName != "" {
		return c.LastName
	}
	_, l, _ := strings.Cut(strings.TrimSpace(c.Name), " ")
	return strings.TrimSpace(l)
}

// Conversation statuses as the API reports them.
const (
	ConversationBot      = "bot"
	ConversationQueued   = "queued"
	ConversationAssigned = "assigned"
	ConversationClosed   = "closed"
)

// Conversation is one thread between a contact and the business on one channel.
type Conversation struct {
	ID          string         `json:"id"`
	ContactID   string         `json:"contact_id"`
	ChannelID   string         `json:"channel_id"`
	ChannelKind string         `json:"channel_kind"`
	Status      string         `json:"status"`
	Team        string         `json:"team,omitempty"`
	Assignee    string         `json:"assignee,omitempty"`
	BotPaused   bool           `json:"bot_paused,omitempty"`
	Attributes  map[string]any `json:"attributes,omitempty"`
	Tags        []string       `json:"tags,omitempty"`
	// Variables are the initial run variables (var.<name>) of every run started in the
	// conversation, whatever starts it (a message, a preempting flow, the API, a flow step):
	// a web widget's tandemSettings.variables. They override a flow's own `variables:`
	// defaults; the variables a run is started with override them.
	Variables map[string]any `json:"variables,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// Run statuses.
const (
	RunRunning   = "running"
	RunWaiting   = "waiting"
	RunCompleted = "completed"
	RunExpired   = "expired"
	RunCanceled  = "canceled"
	RunFailed    = "failed"
)

// Reasons a run stopped abnormally.
const (
	ReasonError       = "error"
	ReasonLoopLimit   = "loop_limit"
	ReasonInvalidFlow = "invalid_flow"
	ReasonPreempted   = "preempted"
	ReasonBotPaused   = "bot_paused"
	ReasonAgentClosed = "agent_closed"
	ReasonTimeout     = "timeout"
	ReasonReplaced    = "replaced"
	ReasonStopped     = "stopped"
	// ReasonInternalError: handling an event crashed (a bug in Tandem); the server log has
	// the details, and the conversation goes on.
	ReasonInternalError = "internal_error"
)

// Terminal reports whether a run status is final.
func Terminal(status string) bool {
	switch status {
	case RunCompleted, RunExpired, RunCanceled, RunFailed:
		return true
	}
	return false
}

// Run is one execution of one published flow version for one conversation.
type Run struct {
	ID             string     `json:"id"`
	ConversationID string     `json:"conversation_id"`
	ContactID      string     `json:"contact_id,omitempty"`
	FlowID         string     `json:"flow_id"`
	FlowVersion    int        `json:"flow_version"`
	Status         string     `json:"status"`
	Reason         string     `json:"reason,omitempty"`
	Error          string     `json:"error,omitempty"`
	Step           string     `json:"step,omitempty"`
	StartedAt      time.Time  `json:"started_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	EndedAt        *time.Time `json:"ended_at,omitempty"`
	Usage          Usage      `json:"usage"`
	// Path lists the steps of the run's own flow it entered, each once, in the order first
	// entered (steps of flows it called are not in it); At is the step of its own flow where it
	// is or ended (Step may name a step of a called flow). Flow analytics read them.
	Path []string `json:"-"`
	At   string   `json:"-"`
}

// StepTrace records one executed step: what went in, what came out, how long it took.
// Secrets are masked before a trace is stored.
type StepTrace struct {
	Seq        int            `json:"seq"`
	RunID      string         `json:"run_id"`
	FlowID     string         `json:"flow_id"`
	Step       string         `json:"step"`
	Type       string         `json:"type"`
	Input      map[string]any `json:"input,omitempty"`
	Output     map[string]any `json:"output,omitempty"`
	Next       string         `json:"next,omitempty"`
	Error      string         `json:"error,omitempty"`
	StartedAt  time.Time      `json:"started_at"`
	DurationUS int64          `json:"duration_us"`
}

// Usage counts AI calls and tokens.
type Usage struct {
	Calls        int `json:"calls"`
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

// AICall is one call to an AI provider: one attempt of a step's call (a retried call is
// several, a fallback's is under its own provider), as flow analytics count them.
type AICall struct {
	Provider   string    `json:"provider"`
	Model      string    `json:"model,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	// Error is set when the call failed; Status is the provider's HTTP status when it said one.
	Error  bool  `json:"error,omitempty"`
	Status int   `json:"status,omitempty"`
	Usage  Usage `json:"usage"`
	// RunID and Step are the run and step that made the call (set by the engine).
	RunID string `json:"run_id,omitempty"`
	Step  string `json:"step,omitempty"`
}

// HandoffRecord is a handoff as flow analytics see it: the run that queued it, when, and when
// an agent first wrote and when it ended (zero until then).
type HandoffRecord struct {
	// ID is the handoff's session id.
	ID    string `json:"id"`
	RunID string `json:"run_id"`
	Desk  string `json:"desk"`
	Team  string `json:"team,omitempty"`
	// Status is queued, connected, closed, or refused (the desk did not take it).
	Status       string    `json:"status"`
	QueuedAt     time.Time `json:"queued_at"`
	FirstReplyAt time.Time `json:"first_reply_at,omitzero"`
	EndedAt      time.Time `json:"ended_at,omitzero"`
	ClosedBy     string    `json:"closed_by,omitempty"`
}

// Add returns the sum of two usages.
func (u Usage) Add(v Usage) Usage {
	return Usage{Calls: u.Calls + v.Calls, InputTokens: u.InputTokens + v.InputTokens, OutputTokens: u.OutputTokens + v.OutputTokens}
}

// Note is an internal note on a conversation, visible to agents only.
type Note struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	Author         string    `json:"author"`
	Text           string    `json:"text"`
	CreatedAt      time.Time `json:"created_at"`
}

// Clock tells the time. Production uses the wall clock; tests and `tandem test` a virtual one.
type Clock interface {
	Now() time.Time
}

// JSON is a raw JSON document carried through events and effects.
type JSON = json.RawMessage
