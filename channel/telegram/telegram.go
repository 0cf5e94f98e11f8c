// Package telegram is the Telegram Bot API channel.
//
// In: Telegram posts each update to /hooks/telegram/{channel_id} with the header
// X-Telegram-Bot-Api-Secret-Token, which must equal the channel's secret token (401 and nothing
// stored otherwise). Messages (text, photos, voice, audio, video, documents, stickers,
// locations, venues, contacts), edits, inline-keyboard taps (answered with
// answerCallbackQuery) and the customer blocking or unblocking the bot are normalised; files
// are downloaded with getFile into the media store. "/start <payload>" stays the message text
// and its payload becomes the run variable start_payload.
//
// Out: https://api.telegram.org/bot<token>/<method> — sendMessage with inline keyboards for
// buttons (several to a row) and lists (one to a row), sendPhoto, sendDocument and the other
// file methods by link or upload. 429 is retried after retry_after; "bot was blocked by the
// user" (403) stops sends to that customer until they write again.
//
// The bot token is in every Bot API URL: no URL of this package is ever logged, stored or put
// in an error.
package telegram

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// Kind is the channel kind.
const Kind = "telegram"

// Defaults and limits.
const (
	DefaultBaseURL = "https://api.telegram.org"
	DefaultTimeout = 20 * time.Second
	// MaxWebhookBody caps an update's body: updates carry no file bytes.
	MaxWebhookBody = 1 << 20
	// MaxText is the longest text of one message; MaxCaption of a file's caption.
	MaxText    = 4096
	MaxCaption = 1024
	// MaxDownload is the largest file the Bot API lets a bot download.
	MaxDownload = 20 << 20
)

// AllowedUpdates are the update kinds the webhook asks for.
var AllowedUpdates = []string{"message", "edited_message", "callback_query", "my_chat_member"}

func init() {
	channel.Register(Kind, channel.Kind{
		Name: "Telegram",
		New:  New,
		Routes: []channel.Route{
			{Method: "POST", Pattern: "/hooks/telegram/{channel_id}", Auth: channel.AuthChannel, Handle: webhook, MaxBody: MaxWebhookBody},
		},
		Keys: []channel.Key{{Name: "bot_token", Required: true, Secret: true}, {Name: "secret_token", Secret: true},
			{Name: "base_url"}, {Name: "public_url"}},
		Check: check,
	})
}

// secretTokenPattern is what Telegram takes as a webhook's secret_token.
var secretTokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// check refuses a secret_token that setWebhook would refuse.
func check(c channel.Config) []channel.KeyProblem {
	if c.SecretToken != "" && !secretTokenPattern.MatchString(c.SecretToken) {
		return []channel.KeyProblem{{Key: "secret_token", Message: "use 1 to 256 letters, digits, _ and - (Telegram refuses other characters)"}}
	}
	return nil
}

// Channel is one Telegram bot.
type Channel struct {
	id      string
	cfg     channel.Config
	deps    channel.Deps
	base    string
	timeout time.Duration
}

// New builds a channel; a missing bot token is reported by Health.
func New(c channel.Config, d channel.Deps) (channel.Channel, error) {
	base := strings.TrimRight(c.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Channel{id: c.ID, cfg: c, deps: d, base: base, timeout: timeout}, nil
}

// Kind implements tandem.Channel.
func (c *Channel) Kind() string { return Kind }

// Caps implements tandem.Channel: inline keyboards (buttons several to a row, lists one to a
// row), texts of 4096 characters, media.
func (c *Channel) Caps() tandem.Caps {
	return tandem.Caps{Buttons: 100, ButtonTitle: 64, List: 100, MaxText: MaxText, Media: true}
}

// SecretToken is what Telegram must send in X-Telegram-Bot-Api-Secret-Token: the configured
// secret_token, or, without one, a value derived from the bot token (so that the webhook is
// never open to anyone who knows its URL).
func (c *Channel) SecretToken() string {
	if c.cfg.SecretToken != "" {
		return c.cfg.SecretToken
	}
	if c.cfg.BotToken == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(c.cfg.BotToken))
	m.Write([]byte("tandem telegram webhook " + c.id))
	return hex.EncodeToString(m.Sum(nil))
}

// WebhookPath is where Telegram posts the channel's updates.
func (c *Channel) WebhookPath() string { return "/hooks/telegram/" + c.id }

// WebhookURL is the URL given to setWebhook ("" without a public URL).
func (c *Channel) WebhookURL() string {
	public := firstNonEmpty(c.cfg.PublicURL, c.deps.PublicURL)
	if public == "" {
		return ""
	}
	return channel.URL(public, c.WebhookPath())
}

// Start implements channel.Starter: with a public URL, the webhook is (re)registered with its
// secret token; without one, nothing is done (see `tandem channel telegram set-webhook`).
func (c *Channel) Start(ctx context.Context) error {
	if c.cfg.BotToken == "" {
		return nil
	}
	url := c.WebhookURL()
	if url == "" {
		c.deps.Log().Info("telegram: public_url is not set, so the webhook is not registered at start; run `tandem channel telegram set-webhook --url https://...`", "channel", c.id)
		return nil
	}
	return c.SetWebhook(ctx, url, false)
}

// SetWebhook registers url as the bot's webhook with the channel's secret token and the update
// kinds Tandem handles. dropPending discards the updates Telegram still holds.
func (c *Channel) SetWebhook(ctx context.Context, url string, dropPending bool) error {
	if c.cfg.BotToken == "" {
		return fmt.Errorf("Telegram channel %s has no bot_token", c.id)
	}
	params := map[string]any{"url": url, "secret_token": c.SecretToken(), "allowed_updates": AllowedUpdates}
	if dropPending {
		params["drop_pending_updates"] = true
	}
	var ok bool
	if err := c.call(ctx, "setWebhook", params, &ok); err != nil {
		return fmt.Errorf("telegram: setWebhook: %w", err)
	}
	c.deps.Log().Info("telegram: webhook registered", "channel", c.id, "url", url)
	return nil
}

// Health implements channel.Channel: the bot as getMe knows it and its webhook as
// getWebhookInfo reports it (the URL Telegram calls, updates waiting, its last error).
func (c *Channel) Health(ctx context.Context) channel.Health {
	h, ok := channel.Missing(map[string]string{"bot_token": c.cfg.BotToken})
	webhook := channel.Webhook{Name: "Webhook URL", URL: channel.URL(firstNonEmpty(c.cfg.PublicURL, c.deps.PublicURL), c.WebhookPath()),
		Note: "Registered by Tandem at start when public_url is set, or with `tandem channel telegram set-webhook`."}
	if !ok {
		h.Webhooks = []channel.Webhook{webhook}
		return h
	}
	h = channel.Health{Status: channel.Available, CheckedAt: c.deps.Now(), Webhooks: []channel.Webhook{webhook}}
	var me struct {
		Username string `json:"username"`
	}
	if err := c.call(ctx, "getMe", map[string]any{}, &me); err != nil {
		h.Status, h.Detail = channel.Unavailable, "Telegram refused the bot token: "+err.Error()
		return h
	}
	var info struct {
		URL                string `json:"url"`
		PendingUpdateCount int    `json:"pending_update_count"`
		LastErrorDate      int64  `json:"last_error_date"`
		LastErrorMessage   string `json:"last_error_message"`
	}
	if err := c.call(ctx, "getWebhookInfo", map[string]any{}, &info); err != nil {
		h.Status, h.Detail = channel.Unavailable, "getWebhookInfo failed: "+err.Error()
		return h
	}
	switch {
	case info.URL == "":
		h.Status = channel.Unavailable
		h.Detail = fmt.Sprintf("Bot @%s has no webhook: set public_url and restart, or run `tandem channel telegram set-webhook`.", me.Username)
	case !strings.HasSuffix(info.URL, c.WebhookPath()):
		h.Status = channel.Unavailable
		h.Detail = fmt.Sprintf("Bot @%s's webhook is %s, not this channel's %s.", me.Username, info.URL, c.WebhookPath())
	case info.LastErrorMessage != "" && c.deps.Now().Sub(time.Unix(info.LastErrorDate, 0)) < 10*time.Minute:
		h.Status = channel.Unavailable
		h.Detail = fmt.Sprintf("Bot @%s: Telegram cannot deliver to %s: %s (%d updates waiting).", me.Username, info.URL, info.LastErrorMessage, info.PendingUpdateCount)
	default:
		h.Detail = fmt.Sprintf("Bot @%s; webhook %s (%d updates waiting).", me.Username, info.URL, info.PendingUpdateCount)
	}
	return h
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
