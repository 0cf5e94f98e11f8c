// Package whatsapp is the WhatsApp Cloud API channel (Meta's Graph API).
//
// In: Meta calls /hooks/whatsapp/{channel_id} — GET for the verify handshake (hub.verify_token
// against verify_token), POST for webhooks signed with X-Hub-Signature-256 (HMAC-SHA256 of the
// raw body keyed with app_secret). One Meta app posts every phone number's webhooks to the URL
// it was given, so a batch is routed by metadata.phone_number_id to the channel of that number.
// Messages of every kind are normalised (text, button and list replies, template quick replies,
// media downloaded through the Graph API into the media store, locations, contact cards,
// reactions, WhatsApp Flows forms, unsupported ones); statuses become delivery reports.
//
// Out: POST /{version}/{phone_number_id}/messages — texts, reply buttons (at most 3), lists
// (at most 10 rows), media by link or by upload, templates when the customer's 24-hour window is
// closed. Graph errors are classified by code: throttling is retried after Retry-After (or a
// wait fit for the code), temporary errors with backoff, everything else fails the send with
// WhatsApp's code and message.
package whatsapp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// Kind is the channel kind.
const Kind = "whatsapp"

// Defaults of the configuration.
const (
	DefaultBaseURL    = "https://graph.facebook.com"
	DefaultAPIVersion = "v25.0"
	DefaultTimeout    = 20 * time.Second
	// MaxWebhookBody caps a webhook's body: Meta's batches reach 3 MB.
	MaxWebhookBody = 4 << 20
	// MaxText is the longest text body WhatsApp takes.
	MaxText = 4096
	// MaxCaption is the longest caption of an image, video or document.
	MaxCaption = 1024
	// MaxInteractiveBody is the longest body of a button or list message.
	MaxInteractiveBody = 1024
)

func init() {
	channel.Register(Kind, channel.Kind{
		Name: "WhatsApp",
		New:  New,
		Routes: []channel.Route{
			{Method: "GET", Pattern: "/hooks/whatsapp/{channel_id}", Auth: channel.AuthChannel, Handle: verify},
			{Method: "POST", Pattern: "/hooks/whatsapp/{channel_id}", Auth: channel.AuthChannel, Handle: webhook, MaxBody: MaxWebhookBody},
		},
		Keys: []channel.Key{{Name: "phone_number_id", Required: true}, {Name: "access_token", Required: true, Secret: true},
			{Name: "app_secret", Required: true, Secret: true}, {Name: "verify_token", Required: true, Secret: true},
			{Name: "api_version"}, {Name: "base_url"}, {Name: "public_url"}},
	})
}

// Channel is one WhatsApp Business phone number.
type Channel struct {
	id      string
	cfg     channel.Config
	deps    channel.Deps
	base    string // https://graph.facebook.com/v25.0
	timeout time.Duration

	mu sync.Mutex
	// lastError and lastErrorAt are the last error Meta reported in a webhook (value.errors:
	// the app, the account or the number), which Health shows for a day.
	lastError   string
	lastErrorAt time.Time
}

// reportedFor is how long Health shows an error Meta reported in a webhook.
const reportedFor = 24 * time.Hour

// report keeps an error Meta reported in a webhook, for Health.
func (c *Channel) report(e graphIssue) {
	text := fmt.Sprintf("error %d: %s", e.Code, firstNonEmpty(e.Title, e.Message))
	if d := e.ErrorData.Details; d != "" && d != e.Title {
		text += " (" + d + ")"
	}
	c.mu.Lock()
	c.lastError, c.lastErrorAt = text, c.deps.Now()
	c.mu.Unlock()
}

// New builds a channel; missing credentials are reported by Health.
func New(c channel.Config, d channel.Deps) (channel.Channel, error) {
	base := strings.TrimRight(c.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	version := c.APIVersion
	if version == "" {
		version = DefaultAPIVersion
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Channel{id: c.ID, cfg: c, deps: d, base: base + "/" + version, timeout: timeout}, nil
}

// Kind implements tandem.Channel.
func (c *Channel) Kind() string { return Kind }

// PhoneNumberID is the Cloud API id of the channel's number.
func (c *Channel) PhoneNumberID() string { return c.cfg.PhoneNumberID }

// Caps implements tandem.Channel: 3 reply buttons of 20 characters, lists of 10 rows of 24,
// texts of 4096 characters, media, delivery statuses, and the 24-hour customer service window.
func (c *Channel) Caps() tandem.Caps {
	return tandem.Caps{Buttons: 3, ButtonTitle: 20, List: 10, ListTitle: 24, MaxText: MaxText, Media: true, Statuses: true, Window: 24 * time.Hour}
}

// missing returns the Health of a channel without the settings it needs, or ok.
func (c *Channel) missing() (channel.Health, bool) {
	return channel.Missing(map[string]string{"phone_number_id": c.cfg.PhoneNumberID, "access_token": c.cfg.AccessToken,
		"app_secret": c.cfg.AppSecret, "verify_token": c.cfg.VerifyToken})
}

// Health implements channel.Channel: the settings, then the phone number as the Graph API
// reports it.
func (c *Channel) Health(ctx context.Context) channel.Health {
	h, ok := c.missing()
	if ok {
		var num struct {
			DisplayPhoneNumber string `json:"display_phone_number"`
			VerifiedName       string `json:"verified_name"`
			QualityRating      string `json:"quality_rating"`
		}
		err := c.call(ctx, http.MethodGet, "/"+c.cfg.PhoneNumberID+"?fields=display_phone_number,verified_name,quality_rating", nil, &num)
		h = channel.Health{Status: channel.Available, CheckedAt: c.deps.Now()}
		if err != nil {
			h.Status, h.Detail = channel.Unavailable, "The Graph API refused the phone number: "+err.Error()
		} else {
			h.Detail = fmt.Sprintf("WhatsApp number %s (%s), quality %s.", num.DisplayPhoneNumber, num.VerifiedName, strings.ToLower(num.QualityRating))
		}
	}
	c.mu.Lock()
	if c.lastError != "" && c.deps.Now().Sub(c.lastErrorAt) < reportedFor {
		h.Detail = strings.TrimSpace(h.Detail + " Meta reported " + c.lastError + " at " + c.lastErrorAt.UTC().Format("2006-01-02 15:04") + " UTC.")
	}
	c.mu.Unlock()
	h.Webhooks = []channel.Webhook{{Name: "Callback URL", URL: channel.URL(firstNonEmpty(c.cfg.PublicURL, c.deps.PublicURL), "/hooks/whatsapp/"+c.id),
		Note: "Verify token: this channel's verify_token. Subscribe the messages field."}}
	return h
}

// Sign returns the X-Hub-Signature-256 value of a body: sha256=<hex HMAC-SHA256 keyed with the
// app secret>.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return fmt.Sprintf("sha256=%x", m.Sum(nil))
}

// validSignature checks a webhook's X-Hub-Signature-256 against the raw body.
func validSignature(appSecret string, body []byte, header string) bool {
	if appSecret == "" || !strings.HasPrefix(header, "sha256=") {
		return false
	}
	return hmac.Equal([]byte(Sign(appSecret, body)), []byte(strings.ToLower(header)))
}
