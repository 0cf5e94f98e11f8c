package tandem

import "time"

// Event kinds: everything that happens to a conversation is one of these.
const (
	EventMessage   = "message"    // a customer message
	EventTimer     = "timer"      // a timer fired
	EventResult    = "result"     // an effect finished (HTTP call, AI call, send, desk call)
	EventStart     = "start"      // start a flow (API, conversation start)
	EventAgent     = "agent"      // a human agent acted: message, close, take
	EventUserClose = "user_close" // the customer ended a handoff
	EventResumeBot = "resume_bot" // an agent gave the conversation back to the bot
	EventDelivery  = "delivery"   // a channel reported a delivery status
)

// Event is one thing that happened to a conversation. Events of one conversation are processed
// one at a time in Seq order.
type Event struct {
	Seq            int64     `json:"seq,omitempty"`
	ConversationID string    `json:"conversation_id"`
	Kind           string    `json:"kind"`
	At             time.Time `json:"at"`

	Message  *Message      `json:"message,omitempty"`
	Timer    *TimerFired   `json:"timer,omitempty"`
	Result   *EffectResult `json:"result,omitempty"`
	Start    *StartRun     `json:"start,omitempty"`
	Agent    *AgentAction  `json:"agent,omitempty"`
	Delivery *Delivery     `json:"delivery,omitempty"`
}

// TimerFired says which timer fired.
type TimerFired struct {
	ID  string    `json:"id"`
	Key string    `json:"key"`
	Due time.Time `json:"due"`
}

// StartRun asks to start a flow for the conversation.
type StartRun struct {
	FlowID    string         `json:"flow_id"`
	Variables map[string]any `json:"variables,omitempty"`
	// Source is "api" or "conversation_start".
	Source string `json:"source,omitempty"`
	// RunID, when set, is the id the new run gets (so the API can answer with it at once).
	RunID string `json:"run_id,omitempty"`
}

// Agent actions.
const (
	AgentMessage = "message"
	AgentClose   = "close"
	AgentTake    = "take"
	AgentNote    = "note"
)

// AgentAction is something a human agent did in the inbox or an external desk.
type AgentAction struct {
	Action  string   `json:"action"`
	Agent   string   `json:"agent,omitempty"`
	Desk    string   `json:"desk,omitempty"`
	Message *Message `json:"message,omitempty"`
}

// Delivery statuses a channel reports; failed is final.
const (
	DeliverySent      = "sent"
	DeliveryDelivered = "delivered"
	DeliveryRead      = "read"
	DeliveryPlayed    = "played"
	DeliveryFailed    = "failed"
)

// Delivery is a channel's report on an outbound message.
type Delivery struct {
	MessageID string `json:"message_id"`
	Status    string `json:"status"` // sent | delivered | read | played | failed
	Error     string `json:"error,omitempty"`
}

// EffectResult is the outcome of an effect, fed back to the conversation that asked for it.
type EffectResult struct {
	EffectID string      `json:"effect_id"`
	Kind     string      `json:"kind"`
	HTTP     *HTTPResult `json:"http,omitempty"`
	AI       *AIResult   `json:"ai,omitempty"`
	Send     *SendResult `json:"send,omitempty"`
	Desk     *DeskResult `json:"desk,omitempty"`
	// Error is set when the effect failed for good (after its retries).
	Error string `json:"error,omitempty"`
}
