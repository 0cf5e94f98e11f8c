// Package api is the API channel: a business's own app or backend sends customer messages to
// POST /api/v1/channels/{id}/messages (with an API token) and receives the bot's and agents'
// messages as signed POSTs to its outbound_url (and can also read them with the messages
// long-poll of the API server).
package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/internal/fields"
	"github.com/tandemchat/tandem/internal/jsonhttp"
	"github.com/tandemchat/tandem/internal/safehttp"
)

func init() {
	channel.Register(Kind, channel.Kind{Name: "API",
		New: func(c channel.Config, d channel.Deps) (channel.Channel, error) {
			return &Channel{ID: c.ID, OutboundURL: c.OutboundURL, Secret: c.Secret, MaxText: c.MaxText, Client: d.Client(), Inbox: d.Inbox}, nil
		},
		Routes: []channel.Route{
			{Method: "POST", Pattern: "/api/v1/channels/{channel_id}/messages", Auth: channel.AuthAPI, Handle: inbound},
		},
		Keys:  []channel.Key{{Name: "outbound_url"}, {Name: "secret", Secret: true}, {Name: "max_text"}},
		Check: check,
	})
}

// check refuses an outbound_url without the secret that signs what is POSTed there.
func check(c channel.Config) []channel.KeyProblem {
	if c.OutboundURL != "" && c.Secret == "" {
		return []channel.KeyProblem{{Key: "secret", Message: "required with outbound_url (it signs the messages POSTed there)"}}
	}
	return nil
}

// Kind is the channel kind.
const Kind = "api"

// SignatureHeader carries the HMAC-SHA256 of the body with the channel secret.
const SignatureHeader = "X-Tandem-Signature"

// Channel takes customer messages from a business's code and delivers outbound messages to its
// endpoint.
type Channel struct {
	ID          string
	OutboundURL string
	Secret      string
	// MaxText caps a customer message's text in characters (0: fields.MaxText, 4,096).
	MaxText int
	Client  *http.Client
	// Inbox stores inbound messages (nil: the channel only sends).
	Inbox channel.Inbox
}

// Kind implements tandem.Channel.
func (c *Channel) Kind() string { return Kind }

// Caps implements tandem.Channel: the business's code renders whatever it likes.
func (c *Channel) Caps() tandem.Caps { return tandem.Caps{Buttons: 100, List: 100, Media: true} }

// Health implements channel.Channel: the channel needs nothing but the server itself.
func (c *Channel) Health(ctx context.Context) channel.Health {
	detail := "Messages are read with GET /api/v1/conversations/{id}/messages."
	if c.OutboundURL != "" {
		detail = "Messages are POSTed to " + safehttp.Redact(c.OutboundURL) + "."
	}
	return channel.Health{Status: channel.Available, Detail: detail}
}

// inboundBody is a customer message sent by a business's app or backend.
type inboundBody struct {
	Contact struct {
		ExternalID string         `json:"external_id"`
		Name       string         `json:"name"`
		Email      string         `json:"email"`
		Phone      string         `json:"phone"`
		Language   string         `json:"language"`
		Attributes map[string]any `json:"attributes"`
	} `json:"contact"`
	Message struct {
		ID       string           `json:"id"`
		Type     string           `json:"type"`
		Text     string           `json:"text"`
		Media    *tandem.Media    `json:"media"`
		Location *tandem.Location `json:"location"`
		Option   string           `json:"option"`
	} `json:"message"`
}

// inbound is POST /api/v1/channels/{channel_id}/messages: a customer message in, answered
// 202 {"conversation_id", "message_id"}, or 200 with the first answer for a repeated
// message.id.
func inbound(ch channel.Channel, w http.ResponseWriter, r *http.Request) error {
	c := ch.(*Channel)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonhttp.DecodeError(err)
	}
	b, err := c.Parse(r.Context(), r.Header, body)
	if err != nil {
		return err
	}
	if c.Inbox == nil {
		return tandem.Errorf(tandem.EUNAVAILABLE, "Channel %q takes no messages on this server.", c.ID)
	}
	rc, err := c.Inbox.Receive(r.Context(), c.ID, b)
	if err != nil {
		return err
	}
	got := rc.Messages[0]
	status := http.StatusAccepted
	if got.Duplicate {
		status = http.StatusOK
	}
	return jsonhttp.Write(w, status, map[string]string{"conversation_id": got.ConversationID, "message_id": got.MessageID})
}

// Parse implements channel.Parser: one customer message, checked field by field.
func (c *Channel) Parse(ctx context.Context, header http.Header, data []byte) (*channel.Batch, error) {
	var body inboundBody
	if err := jsonhttp.DecodeBytes(data, &body); err != nil {
		return nil, err
	}
	ct, m := body.Contact, body.Message
	if strings.TrimSpace(ct.ExternalID) == "" {
		return nil, jsonhttp.Invalid("contact.external_id", "required: your id for the customer.")
	}
	msg := tandem.Message{ChannelMessageID: m.ID, Text: m.Text, Media: m.Media, Location: m.Location, Option: m.Option, Type: m.Type}
	switch {
	case msg.Type != "":
	case m.Option != "":
		msg.Type = tandem.MessageOption
	case m.Location != nil:
		msg.Type = tandem.MessageLocation
	case m.Media != nil:
		msg.Type = m.Media.Type
		if msg.Type == "" {
			msg.Type = tandem.MessageFile
			if strings.HasPrefix(m.Media.Mime, "image/") {
				msg.Type = tandem.MessageImage
			}
		}
	default:
		msg.Type = tandem.MessageText
	}
	switch msg.Type {
	case tandem.MessageText:
		if strings.TrimSpace(m.Text) == "" {
			return nil, jsonhttp.Invalid("message.text", "required for a text message.")
		}
	case tandem.MessageImage, tandem.MessageVideo, tandem.MessageAudio, tandem.MessageFile, tandem.MessageSticker:
		if m.Media == nil || m.Media.URL == "" {
			return nil, jsonhttp.Invalid("message.media.url", "required for a %s message.", msg.Type)
		}
		m.Media.Type = msg.Type
	case tandem.MessageLocation:
		if m.Location == nil {
			return nil, jsonhttp.Invalid("message.location", "required for a location message.")
		}
	case tandem.MessageOption:
		if m.Option == "" {
			return nil, jsonhttp.Invalid("message.option", "required for an option message: the id of the button the customer picked.")
		}
	default:
		return nil, jsonhttp.Invalid("message.type", "%q is not a message type (text, image, video, audio, file, sticker, location, option).", msg.Type)
	}
	contact := tandem.Contact{ExternalID: ct.ExternalID, Name: ct.Name, Email: ct.Email, Phone: ct.Phone, Language: ct.Language, Attributes: ct.Attributes}
	if err := fields.Contact("contact", &contact); err != nil {
		return nil, err
	}
	if err := fields.Message("message", &msg, c.MaxText); err != nil {
		return nil, err
	}
	return &channel.Batch{Messages: []channel.Inbound{{
		Contact:  contact,
		Message:  msg,
		ClientID: true,
	}}}, nil
}

// Outbound is the JSON POSTed to outbound_url for every bot or agent message.
type Outbound struct {
	ChannelID      string          `json:"channel_id"`
	ConversationID string          `json:"conversation_id"`
	Contact        OutboundContact `json:"contact"`
	Message        OutboundMessage `json:"message"`
}

// OutboundContact identifies the customer with the business's own id.
type OutboundContact struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	Name       string `json:"name,omitempty"`
}

// OutboundMessage is the message, as the messages API shows it.
type OutboundMessage struct {
	ID        string          `json:"id"`
	Author    string          `json:"author"`
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Buttons   []tandem.Button `json:"buttons,omitempty"`
	Render    string          `json:"render,omitempty"`
	Media     *tandem.Media   `json:"media,omitempty"`
	Agent     string          `json:"agent,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// Sign returns the signature header value of a body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether a signature header value matches the body.
func Verify(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// SendsInline implements tandem.InlineSender: without an outbound_url there is nothing to
// deliver, messages are read with the messages API.
func (c *Channel) SendsInline() bool { return c.OutboundURL == "" }

// Send implements tandem.Channel. Without an outbound_url, messages are only read with the
// messages API, so there is nothing to deliver. A non-2xx answer is an error: the outbox
// retries it with backoff, with the same Idempotency-Key, in order per conversation.
func (c *Channel) Send(ctx context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	if c.OutboundURL == "" {
		return tandem.SendResult{}, nil
	}
	m := out.Message
	body, err := json.Marshal(Outbound{
		ChannelID: c.ID, ConversationID: out.Conversation.ID,
		Contact: OutboundContact{ID: out.Contact.ID, ExternalID: out.Contact.ExternalID, Name: out.Contact.Name},
		Message: OutboundMessage{ID: m.ID, Author: m.Author, Type: m.Type, Text: m.Text, Buttons: m.Buttons, Render: m.Render,
			Media: m.Media, Agent: m.AgentID, CreatedAt: m.CreatedAt},
	})
	if err != nil {
		return tandem.SendResult{}, tandem.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.OutboundURL, bytes.NewReader(body))
	if err != nil {
		return tandem.SendResult{}, tandem.Permanent(fmt.Errorf("outbound_url %s is not a URL; fix it in tandem.yaml", safehttp.Redact(c.OutboundURL)))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", out.IdempotencyKey)
	req.Header.Set("User-Agent", "Tandem")
	if c.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(c.Secret, body))
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, credentials included
		}
		return tandem.SendResult{}, fmt.Errorf("outbound_url %s: %w", safehttp.Redact(c.OutboundURL), err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := fmt.Errorf("outbound_url %s answered %d", safehttp.Redact(c.OutboundURL), resp.StatusCode)
		if d := safehttp.RetryAfter(resp.Header, time.Now()); d > 0 {
			return tandem.SendResult{}, tandem.RetryAfter(err, d) // still retried until a 2xx, not sooner than asked
		}
		return tandem.SendResult{}, err
	}
	return tandem.SendResult{ChannelMessageID: m.ID}, nil
}
