package tandem

import (
	"context"
	"errors"
	"io"
	"time"
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
	// Statuses reports whether the channel reports delivery (delivered, read, failed) after a
	// send was accepted: a message step with on_failed then waits for the report.
	Statuses bool `json:"statuses,omitempty"`
	// Window is how long after the customer's last message the channel accepts free-form
	// messages (WhatsApp: 24h; 0: always). Outside it only templates can be sent.
	Window time.Duration `json:"-"`
}

// Channel delivers messages to customers on one messaging service. Receiving is done by the
// channel's routes (package channel), which normalise provider payloads into Messages.
type Channel interface {
	// Kind is the channel kind: api, web, whatsapp, telegram, ...
	Kind() string
	// Caps says what the channel can render.
	Caps() Caps
	// Send delivers one message. The key is stable across retries of the same message.
	// An error wrapped with Permanent is not retried; RetryAfter sets the earliest retry;
	// ContactStopped stops sends to the contact.
	Send(ctx context.Context, out Outbound) (SendResult, error)
}

// Outbound is a message to deliver with what a channel needs to address it.
type Outbound struct {
	Conversation   *Conversation `json:"conversation"`
	Contact        *Contact      `json:"contact"`
	Message        *Message      `json:"message"`
	IdempotencyKey string        `json:"idempotency_key"`
	// LastInboundAt is when the contact last wrote on this channel (zero: never).
	LastInboundAt time.Time `json:"last_inbound_at,omitzero"`
	// UseTemplate asks the channel to send Message.Template instead of the message: the
	// channel's window (Caps.Window) is closed.
	UseTemplate bool `json:"use_template,omitempty"`
}

// InlineSender is implemented by a channel whose sends make no call of their own: its messages
// are read where they are stored (the API channel without an outbound_url, the web widget's
// streams). When SendsInline reports true, a message of such a channel is sent once committed:
// the turn's commit completes the send, with no outbox row and no delivery to carry out.
type InlineSender interface {
	SendsInline() bool
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

type retryError struct {
	err   error
	after time.Duration
}

func (e retryError) Error() string { return e.err.Error() }
func (e retryError) Unwrap() error { return e.err }

// RetryAfter marks err as worth retrying no sooner than after (a 429 or 503 with Retry-After).
func RetryAfter(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return retryError{err, after}
}

// RetryDelay returns the delay of a RetryAfter error in err's chain.
func RetryDelay(err error) (time.Duration, bool) {
	var r retryError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

type stoppedError struct{ err error }

func (e stoppedError) Error() string { return e.err.Error() }
func (e stoppedError) Unwrap() error { return e.err }

// ContactStopped marks err as the customer having blocked the business (Telegram's "bot was
// blocked by the user"): the send fails for good and no further send to the contact is tried
// until the contact writes again. It is also Permanent.
func ContactStopped(err error) error {
	if err == nil {
		return nil
	}
	return Permanent(stoppedError{err})
}

// IsContactStopped reports whether err was marked with ContactStopped.
func IsContactStopped(err error) bool {
	var s stoppedError
	return errors.As(err, &s)
}

// PlatformError is implemented by a channel's send error that carries the platform's own error
// code and text (WhatsApp's Graph API error, a Telegram Bot API error).
type PlatformError interface {
	error
	Platform() (code, message string)
}

// MessageErrorOf says why a send failed with err, for the message: the platform's code and text
// when a PlatformError is in err's chain, else err's text with no code.
func MessageErrorOf(err error) *MessageError {
	if err == nil {
		return nil
	}
	var pe PlatformError
	if errors.As(err, &pe) {
		if code, msg := pe.Platform(); msg != "" {
			return &MessageError{Code: code, Message: msg}
		}
	}
	return &MessageError{Message: err.Error()}
}

// MediaFile describes a stored file and whose it is.
type MediaFile struct {
	ID        string `json:"id"`
	ChannelID string `json:"channel_id,omitempty"`
	// SessionID and ContactID are the widget session that uploaded the file and its contact
	// then ("" for a file downloaded from a platform).
	SessionID string `json:"session_id,omitempty"`
	ContactID string `json:"contact_id,omitempty"`
	// ConversationID is the conversation of the first message that carries the file, set when
	// that message is stored ("" until then): agents who see the conversation may read it.
	ConversationID string    `json:"conversation_id,omitempty"`
	Mime           string    `json:"mime,omitempty"`
	Name           string    `json:"name,omitempty"`
	Size           int64     `json:"size"`
	SHA256         string    `json:"sha256,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// MediaStore keeps files customers send (downloaded from WhatsApp and Telegram, uploaded to the
// widget) where every replica can read them: the database by default; an S3-compatible bucket
// can implement it too.
type MediaStore interface {
	// MediaPut stores data (at most max bytes: more is an ETOOLARGE error and nothing is
	// kept) and returns the file with its ID, Size and SHA256 set.
	MediaPut(ctx context.Context, f MediaFile, data io.Reader, max int64) (MediaFile, error)
	// MediaGet returns a stored file and its content; the caller closes it. An unknown id is
	// an ENOTFOUND error.
	MediaGet(ctx context.Context, id string) (MediaFile, io.ReadCloser, error)
	// MediaStat returns a stored file's description without reading its content (to check
	// that it exists and whose it is); an unknown id is an ENOTFOUND error.
	MediaStat(ctx context.Context, id string) (MediaFile, error)
}
