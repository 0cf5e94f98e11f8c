package tandem

import (
	"context"
	"time"
)

// Handoff states of a conversation.
const (
	HandoffNone      = "none"
	HandoffQueued    = "queued"
	HandoffConnected = "connected"
	HandoffClosed    = "closed"
)

// Reasons a handoff closed, as told to desks.
const (
	CloseTimeout    = "TIMEOUT"
	CloseUserClosed = "USER_CLOSED"
	CloseAgent      = "AGENT_CLOSED"
)

// DeskStart is what a desk gets when a conversation is handed to it.
type DeskStart struct {
	// Session is the handoff's id, chosen by the engine before the desk is called, so that
	// messages and closes sent while the desk answers already name it.
	Session      string        `json:"session,omitempty"`
	Conversation *Conversation `json:"conversation"`
	Contact      *Contact      `json:"contact"`
	Team         string        `json:"team,omitempty"`
	Transcript   []Message     `json:"transcript"`
	// Flow is the flow whose handoff step handed the conversation over.
	Flow *FlowRef `json:"flow,omitempty"`
	// Reason is why the conversation is handed over (the step's reason, or the reason the agent
	// step gave its handoff tool); "" when none was given.
	Reason string `json:"reason,omitempty"`
	// Summary is the AI summary of the conversation asked for by transfer.summary; "" when none
	// was asked for or it could not be made.
	Summary string `json:"summary,omitempty"`
}

// FlowRef names a published version of a flow.
type FlowRef struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// Desk is where humans take over a conversation: the built-in inbox or an external help desk.
// Agent messages and closes come back through the desk's webhook as EventAgent events.
type Desk interface {
	// NeedsEmail reports whether the desk needs the contact's e-mail to open a conversation.
	NeedsEmail() bool
	// Health checks that the desk is configured and reachable.
	Health(ctx context.Context) error
	// Start hands the conversation over with its transcript and returns the desk's session id.
	Start(ctx context.Context, s DeskStart) (session string, err error)
	// Send forwards a customer message to the desk.
	Send(ctx context.Context, session string, m *Message) error
	// Close tells the desk the handoff ended and why (TIMEOUT, USER_CLOSED).
	Close(ctx context.Context, session string, reason string) error
}

// DeskLink ties a handoff to the desk's own record of it (an Intercom conversation, a LiveChat
// chat, a Chatwoot conversation): later calls find the desk's record by the handoff's session,
// the desk's webhooks find the handoff by Ref. Data is the desk's own bookkeeping.
type DeskLink struct {
	Desk           string    `json:"desk"`
	Session        string    `json:"session"`
	ConversationID string    `json:"conversation_id"`
	Ref            string    `json:"ref"`
	Data           JSON      `json:"data,omitempty"`
	Open           bool      `json:"open"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}
