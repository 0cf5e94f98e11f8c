// Package api is the API channel: a business's own app or backend sends customer messages to
// POST /api/v1/channels/{id}/messages and receives the bot's and agents' messages as signed
// POSTs to its outbound_url (and can also read them with the messages long-poll).
package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tandemchat/tandem"
)

// Kind is the channel kind.
const Kind = "api"

// SignatureHeader carries the HMAC-SHA256 of the body with the channel secret.
const SignatureHeader = "X-Tandem-Signature"

// Channel delivers outbound messages to a business's endpoint.
type Channel struct {
	ID          string
	OutboundURL string
	Secret      string
	Client      *http.Client
}

// Kind implements tandem.Channel.
func (c *Channel) Kind() string { return Kind }

// Caps implements tandem.Channel: the business's code renders whatever it likes.
func (c *Channel) Caps() tandem.Caps { return tandem.Caps{Buttons: 100, List: 100, Media: true} }

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
		return tandem.SendResult{}, tandem.Permanent(fmt.Errorf("outbound_url %q: %w", c.OutboundURL, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", out.IdempotencyKey)
	req.Header.Set("User-Agent", "Tandem")
	if c.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(c.Secret, body))
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return tandem.SendResult{}, fmt.Errorf("outbound_url %s: %w", c.OutboundURL, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return tandem.SendResult{}, fmt.Errorf("outbound_url %s answered %d", c.OutboundURL, resp.StatusCode)
	}
	return tandem.SendResult{ChannelMessageID: m.ID}, nil
}
