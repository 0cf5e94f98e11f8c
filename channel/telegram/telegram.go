// Package telegram is the Telegram Bot API channel: updates posted to
// /hooks/telegram/{channel_id} (checked with the secret token header), sends through
// https://api.telegram.org/bot<token>/<method>.
package telegram

import (
	"context"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// Kind is the channel kind.
const Kind = "telegram"

func init() {
	channel.Register(Kind, channel.Kind{Name: "Telegram", New: New})
}

// Channel is one Telegram bot.
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

// Caps implements tandem.Channel: inline keyboards (buttons several to a row, lists one to a
// row), texts of 4096 characters, media.
func (c *Channel) Caps() tandem.Caps {
	return tandem.Caps{Buttons: 100, ButtonTitle: 64, List: 100, MaxText: 4096, Media: true}
}

// Send implements tandem.Channel.
func (c *Channel) Send(ctx context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	return tandem.SendResult{}, tandem.Permanent(tandem.Errorf(tandem.EUNAVAILABLE, "Sending on Telegram is not available in this build yet."))
}

// Health implements channel.Channel.
func (c *Channel) Health(ctx context.Context) channel.Health {
	h, ok := channel.Missing(map[string]string{"bot_token": c.cfg.BotToken})
	if !ok {
		return h
	}
	return channel.Health{Status: channel.Unavailable, Detail: "Telegram is not available in this build yet."}
}
