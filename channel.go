package tandem

import (
	"context"
	"errors"
)

// Caps says what a channel can render. The engine adapts messages to it: buttons beyond what
// the channel takes become a list or a numbered text, long texts are split at sentences.
type Caps struct {
	// Buttons is the most quick-reply buttons one message may carry (0: none).
	Buttons int `json:"buttons"`
	// ButtonTitle is the longest button title in characters (0: no limit).
	ButtonTitle int `json:"button_title"`
	// List is the most rows of a list message (0: no lists).
	List int `json:"list"`
	// ListTitle is the longest list row title (0: no limit).
	ListTitle int `json:"list_title"`
	// MaxText is the longest text of one message in characters (0: no limit).
	MaxText int `json:"max_text"`
	// Media reports whether the channel carries attachments.
	Media bool `json:"media"`
}

// Channel delivers messages to customers on one messaging service. Receiving is done by the
// channel's webhook handler, which normalises provider payloads into Messages.
type Channel interface {
	// Kind is the channel kind: api, web, whatsapp, telegram, ...
	Kind() string
	// Caps says what the channel can render.
	Caps() Caps
	// Send delivers one message. The key is stable across retries of the same message.
	// An error wrapped with Permanent is not retried.
	Send(ctx context.Context, out Outbound) (SendResult, error)
}

// Outbound is a message to deliver with what a channel needs to address it.
type Outbound struct {
	Conversation   *Conversation `json:"conversation"`
	Contact        *Contact      `json:"contact"`
	Message        *Message      `json:"message"`
	IdempotencyKey string        `json:"idempotency_key"`
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (a 4xx answer, an invalid recipient).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
