// Package channel is the plug-in interface of channels (api, web, whatsapp, telegram, ...) and
// the registry of their kinds. A channel connects customers on one messaging service to
// Tandem in both directions:
//
//   - in: the kind's HTTP routes (Kind.Routes) receive the platform's webhooks or a client's
//     requests, check who sent them (a signature, a secret header, a session), normalise the
//     payload into a Batch (customer messages, edits, reactions, delivery statuses) and hand it
//     to the Inbox, which stores it durably before the route answers;
//   - out: Send (tandem.Channel) delivers one normalised message, shaped by what the channel
//     declares it can render (Caps), which is the only source of capabilities the engine uses;
//   - Health says whether the channel is configured and reachable, with the webhook URLs an
//     operator pastes into the platform's console.
//
// Each kind lives in its own sub-package (channel/api, channel/whatsapp, channel/telegram,
// ...), registers itself from init with Register, and imports only the root package, this
// package and internal/: never another channel, the store, the runner or the api package.
// Adding a channel is adding its package and one blank import in package workspace.
package channel

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/clientaddr"
	"github.com/tandemchat/tandem/internal/registry"
)

// Channel is one configured channel: a tandem.Channel (Kind, Caps, Send) that also reports its
// health. Implementations are safe for concurrent use: routes and sends run in parallel.
//
// Send (from tandem.Channel) gets one message at a time, in order per conversation, with the
// effect's id as idempotency key (the same on every retry). It returns the platform's id of the
// message (SendResult.ChannelMessageID: later delivery statuses name it). Errors say what the
// runner does next:
//   - tandem.Permanent(err): the send fails for good (a 4xx, an invalid recipient, a template
//     the platform refuses); the message step takes on_failed. Put the platform's code and
//     message in err's text (see PlatformError).
//   - tandem.RetryAfter(err, d): retry no sooner than d (a 429 with Retry-After).
//   - tandem.ContactStopped(err): the customer blocked the bot; no send to this contact is
//     tried again until the contact writes again (Batch messages clear it).
//   - any other error: retried with backoff, with the same idempotency key, until the runner
//     gives the send up (a day by default).
type Channel interface {
	tandem.Channel
	// Health reports whether the channel can work. It may call the platform (bounded by ctx);
	// it never returns secrets.
	Health(ctx context.Context) Health
}

// Starter is implemented by channels with work to do when the server starts (Telegram
// registers its webhook). Start must be idempotent: every replica calls it at every start. An
// error is logged and shown by Health, never fatal.
type Starter interface {
	Start(ctx context.Context) error
}

// MediaFetcher is a channel that can download again a file a customer sent whose download
// failed when the message arrived (the channel then set Media.Fetch and Media.Error). It
// fills dst with the kept file; an error marked tandem.Permanent will not pass on a retry.
type MediaFetcher interface {
	FetchMedia(ctx context.Context, f *tandem.MediaFetch, dst *tandem.Media) error
}

// MediaTries bounds the downloads of a customer's file: the one when the message arrives, then
// the outbox's retries.
const MediaTries = 6

// Parser is implemented by channels whose inbound payloads are self-contained documents
// (webhooks). Parse normalises one already authenticated body without storing anything; the
// channel's routes use it, and fuzz tests call it directly.
type Parser interface {
	Parse(ctx context.Context, header http.Header, body []byte) (*Batch, error)
}

// Health states.
const (
	// NotConfigured: credentials the channel needs are missing (named in Health.Detail).
	NotConfigured = "not_configured"
	// Available: configured, and the platform answered the last check.
	Available = "available"
	// Unavailable: configured, but the platform refused the credentials or did not answer.
	Unavailable = "unavailable"
)

// Health is a channel's state as the admin screens show it.
type Health struct {
	// Status is NotConfigured, Available or Unavailable.
	Status string `json:"status"`
	// Detail is one sentence: what is missing, what failed, or what the channel talks to.
	Detail string `json:"detail,omitempty"`
	// Webhooks are the URLs (and non-secret values) to paste in the platform's console.
	Webhooks []Webhook `json:"webhooks,omitempty"`
	// CheckedAt is when the platform was last asked (zero: no call was made).
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// Webhook is one URL an operator configures on the platform's side.
type Webhook struct {
	// Name says where to paste it ("Callback URL").
	Name string `json:"name"`
	// URL is absolute when the server's public URL is known (Deps.PublicURL), else a path
	// starting with "/" that the screen completes with the origin it is served from.
	URL string `json:"url"`
	// Note adds what else to set there ("Verify token: the verify_token of tandem.yaml").
	Note string `json:"note,omitempty"`
}

// Config is one configured channel, as tandem.yaml's `channels:` entry gives it. Which fields
// apply depends on the kind; secrets are never logged (String masks them).
type Config struct {
	ID   string
	Kind string
	// api.
	OutboundURL string
	Secret      string
	// web.
	AllowedOrigins         []string
	IdentitySecret         string
	IdentitySecretPrevious string
	IdentityRequired       bool
	// SessionTTL is how long an unused widget session lasts (0: the kind's default).
	SessionTTL     time.Duration
	MaxUploadBytes int64
	// RateLimit is how many messages a widget session may send in 10 seconds (0: default).
	RateLimit int
	// MaxText caps a customer message's text in characters (web, api; 0: 4,096).
	MaxText int
	// The widget's look: header title, accent colour, side of the page, launcher text.
	Title, Color, Position, LauncherText string
	// whatsapp.
	PhoneNumberID string
	AccessToken   string
	AppSecret     string
	VerifyToken   string
	APIVersion    string
	// BaseURL replaces the platform's API address (tests, regional or self-hosted servers).
	BaseURL string
	// telegram.
	BotToken    string
	SecretToken string
	// PublicURL is this server's public base URL as the platform must call it (Telegram's
	// setWebhook); "" uses Deps.PublicURL.
	PublicURL string
	// Timeout bounds each call to the platform (0: the kind's default).
	Timeout time.Duration
	// Options holds every key the entry sets, by its name in tandem.yaml, as text (durations
	// as Go durations, booleans as true/false, lists joined with commas): the keys of a kind
	// that no field above holds are read from here.
	Options map[string]string
}

// Option returns the key of the entry, trimmed ("" when unset).
func (c Config) Option(key string) string { return strings.TrimSpace(c.Options[key]) }

// String names the channel without its secrets.
func (c Config) String() string { return fmt.Sprintf("channel %s (kind %s)", c.ID, c.Kind) }

// LogValue keeps secrets out of structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("kind", c.Kind))
}

// Deps are what a channel uses besides its configuration. Every field may be zero in tests and
// in `tandem test` (where a channel is built only for its Caps); a channel must not fail to
// build because of it.
type Deps struct {
	// HTTP makes calls to the platform. It has timeouts; a channel still bounds each call with
	// its own context deadline.
	HTTP *http.Client
	// Clock gives the time (24-hour windows, signatures with timestamps).
	Clock tandem.Clock
	// Logger receives the channel's logs; never log a secret or a URL carrying one.
	Logger *slog.Logger
	// Inbox stores what the channel receives.
	Inbox Inbox
	// Media keeps downloaded files (WhatsApp, Telegram) and serves them back.
	Media tandem.MediaStore
	// MaxMedia caps one downloaded file in bytes (0: DefaultMaxMedia).
	MaxMedia int64
	// PublicURL is the server's public base URL ("https://bot.acme.com"), "" when unknown.
	PublicURL string
	// Channels returns the configured channels of a kind by id, for kinds whose webhook serves
	// several channels (one Meta app posts every phone number's messages to one URL).
	Channels func(kind string) map[string]Channel
	// Addr returns the address of the client a request comes from (behind the trusted
	// proxies); nil: the connection's peer.
	Addr func(*http.Request) string
}

// ClientAddr returns the address of the client r comes from.
func (d Deps) ClientAddr(r *http.Request) string {
	if d.Addr != nil {
		return d.Addr(r)
	}
	return clientaddr.Resolver{}.Addr(r)
}

// DefaultMaxMedia is the default cap on one downloaded file.
const DefaultMaxMedia = 20 << 20

// MediaPath is where the API serves a kept file: MediaPath + id.
const MediaPath = "/api/v1/media/"

// MediaURL is the URL messages show for a kept file.
func MediaURL(id string) string { return MediaPath + id }

// Log returns the logger, or one that discards.
func (d Deps) Log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Now returns the time of the clock, or the wall clock's.
func (d Deps) Now() time.Time {
	if d.Clock == nil {
		return time.Now()
	}
	return d.Clock.Now()
}

// Client returns the HTTP client, or a default one with a timeout.
func (d Deps) Client() *http.Client {
	if d.HTTP == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	return d.HTTP
}

// MediaCap returns the cap on one downloaded file.
func (d Deps) MediaCap() int64 {
	if d.MaxMedia <= 0 {
		return DefaultMaxMedia
	}
	return d.MaxMedia
}

// Inbox is where channels hand what they receive. Receive returns after the batch is durably
// stored, so a route may acknowledge the platform once it returns nil; an error means nothing
// of the batch may be acknowledged (answer 5xx and let the platform retry).
type Inbox interface {
	Receive(ctx context.Context, channelID string, b *Batch) (*Receipt, error)
}

// InboxFunc is a function that is an Inbox.
type InboxFunc func(ctx context.Context, channelID string, b *Batch) (*Receipt, error)

// Receive implements Inbox.
func (f InboxFunc) Receive(ctx context.Context, channelID string, b *Batch) (*Receipt, error) {
	return f(ctx, channelID, b)
}

// Batch is what one request brought, normalised.
type Batch struct {
	// Messages are what customers sent, in order: messages, button and list replies, media,
	// locations, contact cards, and also edits and reactions (message types edit and reaction),
	// which are stored and shown but start no turn.
	Messages []Inbound
	// Statuses are delivery reports on messages the channel sent.
	Statuses []Status
	// Contacts report customers who blocked or unblocked the business (Telegram's
	// my_chat_member).
	Contacts []ContactState
}

// ContactState says that a customer blocked the business (Stopped: nothing is sent to them
// until they write again) or unblocked it.
type ContactState struct {
	ExternalID string
	Stopped    bool
}

// Empty reports whether the batch holds nothing to store.
func (b *Batch) Empty() bool {
	return b == nil || len(b.Messages) == 0 && len(b.Statuses) == 0 && len(b.Contacts) == 0
}

// Inbound is one customer message.
type Inbound struct {
	// Contact identifies the customer: ExternalID is required (the platform's stable id of the
	// user: a WhatsApp wa_id, a Telegram user id, the business's own id); other fields fill the
	// contact's empty ones.
	Contact tandem.Contact
	// Message is the normalised message. Message.ChannelMessageID is the platform's id of it:
	// a second Receive of the same id stores nothing (the platform retried). Message.CreatedAt
	// is the platform's time of the message, zero for now.
	Message tandem.Message
	// ClientID says that Message.ChannelMessageID was chosen by the client that sent it (the
	// API channel's message.id) rather than by a platform: a repeat of the id with another
	// contact or message is refused (409 idempotency_conflict), not taken for a retry.
	ClientID bool
	// Variables, when the message opens a new conversation, are that conversation's variables
	// (tandem.Conversation.Variables): var.<name> of every run started in it (the web widget's
	// tandemSettings.variables). An open conversation keeps its own.
	Variables map[string]any
}

// Delivery statuses, in the order a message goes through them. Played (a voice message was
// played) comes after read; failed is final.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusPlayed    = "played"
	StatusFailed    = "failed"
)

// Status is a platform's report on a message the channel sent. It names the message with
// Tandem's ids, which the send must have given the platform to echo back (WhatsApp's
// biz_opaque_callback_data; see Ref and ParseRef): a report without them is logged and dropped.
type Status struct {
	// ChannelMessageID is the platform's id of the message (SendResult.ChannelMessageID).
	ChannelMessageID string
	// ConversationID and MessageID are Tandem's ids of the message (tandem.Outbound's
	// Conversation.ID and Message.ID).
	ConversationID string
	MessageID      string
	// Status is one of the Status* constants.
	Status string
	// Code and Error are the platform's error code and message, for failed.
	Code  string
	Error string
	// At is when the platform says it happened (zero: now).
	At time.Time
}

// Ref returns the reference of an outbound message a channel gives the platform to echo in its
// delivery reports; ParseRef reads it back.
func Ref(out tandem.Outbound) string {
	if out.Conversation == nil || out.Message == nil {
		return ""
	}
	return out.Conversation.ID + "/" + out.Message.ID
}

// ParseRef reads a reference made by Ref; ok is false for anything else.
func ParseRef(ref string) (conversationID, messageID string, ok bool) {
	c, m, ok := strings.Cut(ref, "/")
	if !ok || c == "" || m == "" || strings.Contains(m, "/") {
		return "", "", false
	}
	return c, m, true
}

// Receipt says where a batch's messages went, in the order of Batch.Messages.
type Receipt struct {
	Messages []Received
}

// Received is where one inbound message went.
type Received struct {
	ConversationID string
	MessageID      string
	// Duplicate is set when the platform's id was seen before: nothing was stored again.
	Duplicate bool
}

// Auth says who may call a route.
type Auth int

const (
	// AuthChannel routes are open to anyone at the HTTP layer: the handler itself checks the
	// caller (a webhook signature, a secret header, a widget session) and answers 401 when the
	// check fails, before storing anything.
	AuthChannel Auth = iota
	// AuthSession routes are called with a session the channel itself issued (the web
	// widget's visitors): the handler checks the bearer token and answers 401 when it is
	// unknown or expired.
	AuthSession
	// AuthPublic routes are open to anyone (the widget's script and page, opening a session).
	AuthPublic
	// AuthAPI routes need an API token (or an admin's), checked by the API server before the
	// handler runs, like every /api/v1 route.
	AuthAPI
)

// Route is one HTTP endpoint of a kind. The API server mounts every registered kind's routes
// once, whatever the number of channels, so its route table and OpenAPI document do not depend
// on the configuration.
type Route struct {
	// Method and Pattern are a net/http ServeMux pattern's parts: "POST",
	// "/hooks/whatsapp/{channel_id}". A pattern with {channel_id} reaches the configured
	// channel of that id; a request naming no channel of this kind is answered 404 before
	// Handle runs.
	Method  string
	Pattern string
	// ChannelQuery, for a pattern without {channel_id}, names the query parameter that names
	// the channel (the widget's frame: /widget/v1/frame?channel=web); a request naming no
	// channel of this kind is answered 404 before Handle runs.
	ChannelQuery string
	Auth         Auth
	// MaxBody caps the request body (0: the API server's limit, 1 MiB by default); a longer
	// body is answered 413. OwnBodyLimit: Handle caps it itself (a limit each channel sets).
	MaxBody int64
	// Handle serves the request for ch (nil when the pattern has no {channel_id}, for assets
	// shared by every channel of the kind, such as the widget's loader.js). It returns an
	// error instead of writing one: a *tandem.Error is answered with its code's status and
	// {"error": {"code", "message"}}; anything else is logged and answered 500. A handler that
	// answers itself returns nil.
	Handle func(ch Channel, w http.ResponseWriter, r *http.Request) error
}

// OwnBodyLimit is the MaxBody of a route whose handler caps the request body itself.
const OwnBodyLimit = -1

// Kind is what a channel kind registers.
type Kind struct {
	// Name is how people call the kind ("WhatsApp"); "" uses the kind.
	Name string
	// New builds one configured channel. Missing credentials are not an error here (Health
	// reports them, and the routes refuse to work without them): `tandem test` builds channels
	// from a bare Config{ID, Kind} only to read their Caps.
	New func(c Config, d Deps) (Channel, error)
	// Routes are the kind's HTTP endpoints.
	Routes []Route
	// Keys are the keys the kind reads in a channel's entry of tandem.yaml, besides id and kind:
	// the configuration is validated against them (a missing required key, a key the kind does
	// not read). A key no Config field holds reaches New in Config.Options.
	Keys []Key
	// Check, when set, finds what is wrong in the values of an entry of the kind (a key the
	// kind needs with another, a value it refuses), after the keys are checked.
	Check func(c Config) []KeyProblem
}

// Key is one key of tandem.yaml a kind reads in its entry.
type Key = registry.Key

// KeyProblem is what Kind.Check finds wrong with one key.
type KeyProblem = registry.KeyProblem

var kinds = registry.New[Kind]("channel")

// Register makes a channel kind available; adapters call it from init.
func Register(kind string, k Kind) { kinds.Register(kind, k) }

// Kinds lists the registered kinds, sorted.
func Kinds() []string { return kinds.Kinds() }

// Lookup returns a registered kind.
func Lookup(kind string) (Kind, bool) {
	k, err := kinds.Get("", kind)
	return k, err == nil
}

// New builds a channel of a registered kind.
func New(c Config, d Deps) (Channel, error) {
	k, err := kinds.Get(c.ID, c.Kind)
	if err != nil {
		return nil, err
	}
	return k.New(c, d)
}

// Name returns how people call a kind ("WhatsApp"), or the kind itself.
func Name(kind string) string {
	if k, err := kinds.Get("", kind); err == nil && k.Name != "" {
		return k.Name
	}
	return kind
}

// Routes returns the routes of a registered kind (nil for an unknown kind).
func Routes(kind string) []Route {
	k, err := kinds.Get("", kind)
	if err != nil {
		return nil
	}
	return k.Routes
}

// DefaultCaps is what the engine assumes of a channel it cannot build (an unknown kind):
// structured messages handed to code that renders them, like the API channel.
var DefaultCaps = tandem.Caps{Buttons: 100, List: 100, Media: true}

// CapsOf returns what a channel of the configuration renders, building it without
// dependencies; DefaultCaps when its kind is not available.
func CapsOf(c Config) tandem.Caps {
	ch, err := New(c, Deps{})
	if err != nil {
		return DefaultCaps
	}
	return ch.Caps()
}

// Missing returns the Health of a channel that lacks the named settings, or ok when none is
// missing: a helper for Health implementations.
func Missing(settings map[string]string) (Health, bool) {
	var missing []string
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if strings.TrimSpace(settings[k]) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return Health{}, true
	}
	return Health{Status: NotConfigured, Detail: "Set " + strings.Join(missing, ", ") + " in the channel's entry of tandem.yaml."}, false
}

// URL returns the absolute URL of a path on the server when its public URL is known, else the
// path.
func URL(public, path string) string {
	if public == "" {
		return path
	}
	return strings.TrimRight(public, "/") + path
}

// Equal compares a presented secret (a verify token, a secret header) with the configured one
// in constant time, whatever their lengths; an empty configured value matches nothing.
func Equal(presented, configured string) bool {
	if configured == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(configured))
	return hmac.Equal(a[:], b[:])
}

// ErrUnauthorized is the error of a request whose signature or secret does not check out: 401,
// and nothing stored.
var ErrUnauthorized = tandem.Errorf(tandem.EUNAUTHORIZED, "The request's signature or secret is missing or wrong.")
