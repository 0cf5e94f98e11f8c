package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
)

// Callback paths under /hooks/desk/{desk_id}: the contract's, and the aliases that keep
// GPTBots' /v1/human/... so that a desk written for GPTBots changes only its base URL.
const (
	CallbackMessage      = "/message/receive"
	CallbackClose        = "/close"
	CallbackMessageAlias = "/v1/human/message/receive"
	CallbackCloseAlias   = "/v1/human/close"
)

// MaxCallbackBody caps a callback's body (§6.4).
const MaxCallbackBody = 1 << 20

// Answer codes of callbacks (§6.4): GPTBots' published ones and Tandem's own.
const (
	CodeOK             = 0
	CodeInvalid        = 40000 // bad parameters (GPTBots)
	CodeUnauthorized   = 40127 // developer authentication failed (GPTBots)
	CodeNoConversation = 40356 // conversation does not exist (GPTBots)
	CodeUnknownDesk    = 40400
	CodeClosed         = 40900
	CodeTooLarge       = 41300
	CodeInternal       = 50000
)

// TimestampHeader (extension) carries when a callback was signed, in Unix seconds. With it,
// X-Tandem-Signature is the HMAC of "<timestamp>.<raw body>", so that a captured callback cannot
// be replayed once the timestamp is more than MaxSkew away.
const TimestampHeader = "X-Tandem-Timestamp"

// MaxSkew is how far a signed callback's timestamp may be from Tandem's clock, either way.
const MaxSkew = 5 * time.Minute

// SignAt returns the X-Tandem-Timestamp and X-Tandem-Signature values of a body signed at t.
func SignAt(secret string, t time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(t.Unix(), 10)
	return timestamp, Sign(secret, append([]byte(timestamp+"."), body...))
}

// errCredentials is the answer to a callback without the desk's secret.
var errCredentials = errors.New("invalid credentials")

// Authenticate checks that a callback carries the desk's secret (§6.1), at now:
//   - `Authorization: Bearer <secret>` (GPTBots' way);
//   - or X-Tandem-Signature with X-Tandem-Timestamp: the HMAC of "<timestamp>.<raw body>",
//     the timestamp within MaxSkew of now;
//   - or X-Tandem-Signature alone (the contract's form): the HMAC of the raw body, at any date;
//     a replay of it is a repeat, which changes nothing.
//
// Either credential suffices; secrets and signatures are compared in constant time. An empty
// secret accepts nothing. The error is the answer's message: "invalid credentials", with the
// reason when the signature is right but too old.
func Authenticate(secret string, h http.Header, body []byte, now time.Time) error {
	if secret == "" {
		return errCredentials
	}
	if scheme, token, found := strings.Cut(strings.TrimSpace(h.Get("Authorization")), " "); found && strings.EqualFold(scheme, "Bearer") {
		// Comparing digests keeps the time independent of the token's length too.
		a, b := sha256.Sum256([]byte(strings.TrimSpace(token))), sha256.Sum256([]byte(secret))
		if hmac.Equal(a[:], b[:]) {
			return nil
		}
	}
	sig := strings.ToLower(strings.TrimSpace(h.Get(SignatureHeader)))
	if sig == "" {
		return errCredentials
	}
	var signed time.Time
	if ts := strings.TrimSpace(h.Get(TimestampHeader)); ts != "" {
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || !hmac.Equal([]byte(Sign(secret, append([]byte(ts+"."), body...))), []byte(sig)) {
			return errCredentials
		}
		signed = time.Unix(sec, 0)
	} else {
		// The contract's own form: a correct signature of the body passes whatever the body's
		// timestamp (a desk may send a message it wrote earlier). A replay of it is a repeat,
		// answered 200 with nothing changed (the message_id, or the hash of timestamp and body).
		if !hmac.Equal([]byte(Sign(secret, body)), []byte(sig)) {
			return errCredentials
		}
		return nil
	}
	if d := now.Sub(signed); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("%w: the signed timestamp %s is more than %s from the server's time %s; sign each delivery with a fresh %s",
			errCredentials, signed.UTC().Format(time.RFC3339), tandem.FormatDuration(MaxSkew), now.UTC().Format(time.RFC3339), TimestampHeader)
	}
	return nil
}

// FieldError is a callback body that breaks the contract; its message names the field:
// "<field>: <problem>".
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// AgentMessage is B1: an agent's reply.
type AgentMessage struct {
	ConversationID string // the handoff id
	Timestamp      int64  // milliseconds
	Body           string
	MessageID      string // optional: the desk's id, for dedupe
	Agent          Agent
	Attachments    []Attachment
}

// Agent is who wrote an agent message (extension).
type Agent struct {
	ID        string
	Name      string
	AvatarURL string
}

// CloseRequest is B2: the desk ends the handoff.
type CloseRequest struct {
	ConversationID string
	Timestamp      int64
	Reason         string
}

// ParseMessage reads and checks a B1 body: a JSON object with conversation_id, timestamp and
// body (empty only with attachments); unknown fields are ignored.
func ParseMessage(b []byte) (*AgentMessage, error) {
	o, err := object(b)
	if err != nil {
		return nil, err
	}
	m := &AgentMessage{}
	if m.ConversationID, m.Timestamp, err = common(o); err != nil {
		return nil, err
	}
	raw, ok := o["body"]
	if !ok || isNull(raw) {
		return nil, &FieldError{"body", "required"}
	}
	if json.Unmarshal(raw, &m.Body) != nil {
		return nil, &FieldError{"body", "must be a string"}
	}
	if m.MessageID, err = optString(o, "message_id"); err != nil {
		return nil, err
	}
	if raw, ok := o["agent"]; ok && !isNull(raw) {
		var a map[string]json.RawMessage
		if json.Unmarshal(raw, &a) != nil {
			return nil, &FieldError{"agent", "must be an object"}
		}
		if m.Agent.ID, err = optID(a, "agent.id"); err != nil {
			return nil, err
		}
		if m.Agent.Name, err = optString(a, "name"); err != nil {
			return nil, &FieldError{"agent.name", "must be a string"}
		}
		if m.Agent.AvatarURL, err = optString(a, "avatar_url"); err != nil {
			return nil, &FieldError{"agent.avatar_url", "must be a string"}
		}
	}
	if raw, ok := o["attachments"]; ok && !isNull(raw) {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil, &FieldError{"attachments", "must be a list"}
		}
		for i, item := range list {
			a, err := attachment(item, fmt.Sprintf("attachments[%d]", i))
			if err != nil {
				return nil, err
			}
			m.Attachments = append(m.Attachments, a)
		}
	}
	if strings.TrimSpace(m.Body) == "" && len(m.Attachments) == 0 {
		return nil, &FieldError{"body", "must not be empty (unless there are attachments)"}
	}
	return m, nil
}

// ParseClose reads and checks a B2 body.
func ParseClose(b []byte) (*CloseRequest, error) {
	o, err := object(b)
	if err != nil {
		return nil, err
	}
	c := &CloseRequest{}
	if c.ConversationID, c.Timestamp, err = common(o); err != nil {
		return nil, err
	}
	if c.Reason, err = optString(o, "reason"); err != nil {
		return nil, err
	}
	return c, nil
}

// Key is what makes a B1 a repeat (§6.4 check 6): the desk's message id within the handoff, or
// without one the SHA-256 of conversation_id, timestamp, body and the attachment URLs.
func (m *AgentMessage) Key() string {
	if m.MessageID != "" {
		return "msg:" + m.ConversationID + ":" + m.MessageID
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s", m.ConversationID, m.Timestamp, m.Body)
	for _, a := range m.Attachments {
		fmt.Fprintf(h, "\x00%s", a.URL)
	}
	return "sum:" + m.ConversationID + ":" + hex.EncodeToString(h.Sum(nil))[:32]
}

// Key is what makes a B2 a repeat: one close per handoff.
func (c *CloseRequest) Key() string { return CloseKey(c.ConversationID) }

// CloseKey is the dedupe key of the close of a handoff.
func CloseKey(handoffID string) string { return "close:" + handoffID }

// AgentName is how the agent is shown and recorded: the name, else the id.
func (m *AgentMessage) AgentName() string {
	if m.Agent.Name != "" {
		return m.Agent.Name
	}
	return m.Agent.ID
}

// Messages are the messages an agent message becomes for the customer: the text with the first
// attachment, then one message per other attachment.
func (m *AgentMessage) Messages(at time.Time) []tandem.Message {
	var out []tandem.Message
	for _, ev := range m.Events(at) {
		out = append(out, *ev.Agent.Message)
	}
	return out
}

// Events are the agent events of the message (desk.AgentMessage).
func (m *AgentMessage) Events(at time.Time) []tandem.Event {
	var files []desk.File
	for _, a := range m.Attachments {
		files = append(files, desk.File{Type: a.Type, URL: a.URL, Mime: a.Mime, Name: a.Name})
	}
	return desk.AgentMessage(m.AgentName(), m.Body, files, at)
}

func object(b []byte) (map[string]json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, &FieldError{"request", "the body is empty; send a JSON object"}
	}
	var o map[string]json.RawMessage
	if err := json.Unmarshal(b, &o); err != nil || o == nil {
		if !json.Valid(b) {
			return nil, &FieldError{"request", "the body is not valid JSON"}
		}
		return nil, &FieldError{"request", "the body must be a JSON object"}
	}
	return o, nil
}

// common reads the two fields of every callback.
func common(o map[string]json.RawMessage) (conversationID string, timestamp int64, err error) {
	raw, ok := o["conversation_id"]
	if !ok || isNull(raw) {
		return "", 0, &FieldError{"conversation_id", "required"}
	}
	if json.Unmarshal(raw, &conversationID) != nil {
		return "", 0, &FieldError{"conversation_id", "must be a string"}
	}
	if strings.TrimSpace(conversationID) == "" {
		return "", 0, &FieldError{"conversation_id", "must not be empty"}
	}
	raw, ok = o["timestamp"]
	if !ok || isNull(raw) {
		return "", 0, &FieldError{"timestamp", "required"}
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil || bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) {
		return "", 0, &FieldError{"timestamp", "must be an integer (milliseconds since the epoch)"}
	}
	if timestamp, err = strconv.ParseInt(n.String(), 10, 64); err != nil {
		return "", 0, &FieldError{"timestamp", "must be an integer (milliseconds since the epoch)"}
	}
	return conversationID, timestamp, nil
}

func optString(o map[string]json.RawMessage, field string) (string, error) {
	raw, ok := o[field]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", &FieldError{field, "must be a string"}
	}
	return s, nil
}

// optID reads an id that desks send as a string or a number.
func optID(o map[string]json.RawMessage, path string) (string, error) {
	raw, ok := o["id"]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	return "", &FieldError{path, "must be a string"}
}

func attachment(raw json.RawMessage, path string) (Attachment, error) {
	var o map[string]json.RawMessage
	if json.Unmarshal(raw, &o) != nil || o == nil {
		return Attachment{}, &FieldError{path, "must be an object"}
	}
	var a Attachment
	var err error
	if a.URL, err = optString(o, "url"); err != nil {
		return a, &FieldError{path + ".url", "must be a string"}
	}
	if u, perr := url.Parse(a.URL); a.URL == "" || perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return a, &FieldError{path + ".url", "must be an http(s) URL"}
	}
	if a.Type, err = optString(o, "type"); err != nil {
		return a, &FieldError{path + ".type", "must be a string"}
	}
	if a.Mime, err = optString(o, "mime"); err != nil {
		return a, &FieldError{path + ".mime", "must be a string"}
	}
	if a.Name, err = optString(o, "name"); err != nil {
		return a, &FieldError{path + ".name", "must be a string"}
	}
	switch a.Type {
	case "image", "audio", "video", "file":
	case "":
		a.Type = attachmentType("", &tandem.Media{Mime: a.Mime})
	default:
		return a, &FieldError{path + ".type", "must be image, audio, video or file"}
	}
	return a, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }
