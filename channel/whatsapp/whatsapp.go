// Package whatsapp is the WhatsApp Cloud API channel (Meta's Graph API): webhooks at
// /hooks/whatsapp/{channel_id} (the verify handshake and signed POSTs), sends through
// POST /{version}/{phone_number_id}/messages.
package whatsapp

import (
	"context"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// Kind is the channel kind.
const Kind = "whatsapp"

func init() {
	channel.Register(Kind, channel.Kind{Name: "WhatsApp", New: New})
}

// Channel is one WhatsApp Business phone number.
type Channel struct {
	cfg  channel.Config
	deps channel.Deps
}

// New builds a channel; missing credentials are reported by Health.
func New(c channel.Config, d channel.Deps) (channel.Channel, error) {
	return &Channel{cfg: c, deps: d}, nil
}

// Kind implements tandem.Channel.
func (c *Channel) Kind() string { return Kind }

// Caps implements tandem.Channel: 3 reply buttons of 20 characters, lists of 10 rows of 24,
// texts of 4096 characters, media, delivery statuses, and the 24-hour customer service window.
func (c *Channel) Caps() tandem.Caps {
	return tandem.Caps{Buttons: 3, ButtonTitle: 20, List: 10, ListTitle: 24, MaxText: 4096, Media: true, Statuses: true, Window: 24 * time.Hour}
}

// Send implements tandem.Channel.
func (c *Channel) Send(ctx context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	return tandem.SendResult{}, tandem.Permanent(tandem.Errorf(tandem.EUNAVAILABLE, "Sending on WhatsApp is not available in this build yet."))
}

// Health implements channel.Channel.
func (c *Channel) Health(ctx context.Context) channel.Health {
	h, ok := channel.Missing(map[string]string{"phone_number_id": c.cfg.PhoneNumberID, "access_token": c.cfg.AccessToken,
		"app_secret": c.cfg.AppSecret, "verify_token": c.cfg.VerifyToken})
	if !ok {
		return h
	}
	return channel.Health{Status: channel.Unavailable, Detail: "WhatsApp is not available in this build yet."}
}
