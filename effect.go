package tandem

import "time"

// Effect kinds: what the engine asks the outside world to do.
const (
	EffectSend   = "send"   // deliver a message to the customer through the conversation's channel
	EffectHTTP   = "http"   // call an API
	EffectAI     = "ai"     // call an AI provider
	EffectDesk   = "desk"   // talk to a human desk
	EffectNotify = "notify" // an internal message to agents
	EffectMedia  = "media"  // download again a file a customer sent whose download failed
)

// Effect is one piece of outside work. It is stored in the outbox in the same transaction as the
// conversation state that asked for it and carried out afterwards; when Await is set the result
// comes back as an EventResult. ID is also the idempotency key of the external call.
type Effect struct {
	ID     string        `json:"id"`
	Kind   string        `json:"kind"`
	Await  bool          `json:"await,omitempty"`
	Send   *Message      `json:"send,omitempty"`
	HTTP   *HTTPRequest  `json:"http,omitempty"`
	AI     *AIRequest    `json:"ai,omitempty"`
	Desk   *DeskRequest  `json:"desk,omitempty"`
	Notify *Notification `json:"notify,omitempty"`
	Media  *MediaFetch   `json:"media,omitempty"`
}

// MediaFetch is a file a customer sent that the channel could not download when the message
// arrived, for a reason that may pass (the platform failing, throttling, not answering): the
// outbox downloads it again, a bounded number of times, until Until (after which the platform
// no longer gives it).
type MediaFetch struct {
	ChannelID string `json:"channel_id"`
	MessageID string `json:"message_id"`
	// Ref is the platform's id of the file (WhatsApp's media id, Telegram's file_id).
	Ref    string    `json:"ref"`
	SHA256 string    `json:"sha256,omitempty"`
	Until  time.Time `json:"until"`
	// Media is the message's media as stored, without the file.
	Media Media `json:"media"`
}

// Lane returns the ordering lane of the effect: effects of one conversation in one lane are
// carried out one at a time in order.
func (e *Effect) Lane() string {
	switch e.Kind {
	case EffectSend:
		return "send"
	case EffectDesk:
		return "desk"
	}
	return e.ID // calls are independent of each other
}

// Timer is a durable wake-up for a conversation.
type Timer struct {
	ID  string    `json:"id"`
	Due time.Time `json:"due"`
	Key string    `json:"key"`
}

// RetryPolicy says how a failed call is tried again.
type RetryPolicy struct {
	// Attempts counts tries in all, the first included; 0 or 1 means no retry.
	Attempts int           `json:"attempts,omitempty"`
	Backoff  time.Duration `json:"backoff,omitempty"`
	// On lists the conditions that are retried: network, timeout, 429, 4xx, 5xx or a status code.
	On []string `json:"on,omitempty"`
}

// HTTPRequest is an outbound API call made by an http step or a tool.
type HTTPRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Header  map[string]string `json:"header,omitempty"`
	Body    string            `json:"body,omitempty"`
	Timeout time.Duration     `json:"timeout,omitempty"`
	Retry   RetryPolicy       `json:"retry"`
}

// HTTPResult is the outcome of an HTTPRequest after its retries.
type HTTPResult struct {
	Status     int               `json:"status"`
	Header     map[string]string `json:"header,omitempty"`
	Body       string            `json:"body,omitempty"`
	Error      string            `json:"error,omitempty"`
	ErrorKind  string            `json:"error_kind,omitempty"` // network | timeout | status | blocked
	DurationMS int64             `json:"duration_ms"`
	Attempts   int               `json:"attempts"`
}

// OK reports whether the call succeeded with a 2xx status.
func (r *HTTPResult) OK() bool { return r.Error == "" && r.Status >= 200 && r.Status < 300 }

// SendResult is what a channel answered to a send.
type SendResult struct {
	MessageID        string `json:"message_id"`
	ChannelMessageID string `json:"channel_message_id,omitempty"`
	Failed           bool   `json:"failed,omitempty"`
	Error            string `json:"error,omitempty"`
}

// Notification is an internal message to agents (a team or one agent).
type Notification struct {
	Text  string `json:"text"`
	Team  string `json:"team,omitempty"`
	Agent string `json:"agent,omitempty"`
}

// DeskRequest is a call to a human desk.
type DeskRequest struct {
	Desk string `json:"desk"`
	// Op is start, send, close or health.
	Op      string `json:"op"`
	Session string `json:"session,omitempty"`
	Team    string `json:"team,omitempty"`
	// Reason is why the handoff closed (close: TIMEOUT, USER_CLOSED) or why it starts (start).
	Reason string `json:"reason,omitempty"`
	// Summary and Flow go with a start (DeskStart).
	Summary    string    `json:"summary,omitempty"`
	Flow       *FlowRef  `json:"flow,omitempty"`
	Message    *Message  `json:"message,omitempty"`
	Transcript []Message `json:"transcript,omitempty"`
	Contact    *Contact  `json:"contact,omitempty"`
	// Rounds asks the runner to fill Transcript with the last N rounds of the conversation and
	// the customer's latest message before a start.
	Rounds int `json:"rounds,omitempty"`
}

// DeskResult is a desk's answer.
type DeskResult struct {
	Session string `json:"session,omitempty"`
	Error   string `json:"error,omitempty"`
}
