// Package web is the web widget channel (kind "web"): the chat a site embeds with one snippet.
// It serves the widget's assets (loader.js, the frame) and its endpoints under /widget/v1/:
// sessions with opaque tokens, the visitor's messages, uploads, typing, and the event stream
// (Server-Sent Events, with a long-poll fallback) that carries the bot's and agents' messages
// and the conversation's status.
//
// The host page never calls these endpoints: only the frame does, from Tandem's origin. The
// channel's allowed_origins decide which sites may frame it (Content-Security-Policy
// frame-ancestors, and the parent origin the loader reports).
//
// Like every channel it imports only the root package, package channel and internal/. What it
// needs of the database (sessions, conversations, messages) comes in through Backend, which
// the server wires to the store.
package web

import (
	"context"
	"fmt"
	"github.com/tandemchat/tandem/internal/ratelimit"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// Kind is the channel kind.
const Kind = "web"

// Defaults of a web channel's settings.
const (
	DefaultSessionTTL     = 180 * 24 * time.Hour
	DefaultMaxUploadBytes = 10 << 20
	DefaultRateLimit      = 10 // messages per RatePeriod and session
	RatePeriod            = 10 * time.Second
	DefaultMaxText        = 4096
	// DefaultSessionsPerMinute is how many new sessions one client address may open a minute.
	DefaultSessionsPerMinute = 20
)

func init() {
	channel.Register(Kind, channel.Kind{New: func(c channel.Config, d channel.Deps) (channel.Channel, error) { return New(c, d), nil }, Routes: routes,
		Keys: []channel.Key{{Name: "allowed_origins"}, {Name: "identity_secret", Secret: true}, {Name: "identity_secret_previous", Secret: true},
			{Name: "identity_required"}, {Name: "session_ttl"}, {Name: "max_upload_bytes"}, {Name: "rate_limit"}, {Name: "max_text"}, {Name: "sessions_per_minute"},
			{Name: "title"}, {Name: "color"}, {Name: "position"}, {Name: "launcher_text"}},
		Check: check})
}

// colorPattern is a widget colour: #rgb or #rrggbb.
var colorPattern = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// check refuses a look the widget cannot show and origins a page cannot have.
func check(c channel.Config) []channel.KeyProblem {
	var out []channel.KeyProblem
	if c.Position != "" && c.Position != "left" && c.Position != "right" {
		out = append(out, channel.KeyProblem{Key: "position", Message: fmt.Sprintf("%q: use left or right", clip(c.Position, 40))})
	}
	if c.Color != "" && !colorPattern.MatchString(c.Color) {
		out = append(out, channel.KeyProblem{Key: "color", Message: fmt.Sprintf("%q is not a colour such as #1f6feb", clip(c.Color, 40))})
	}
	if v := c.Option("sessions_per_minute"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 1_000_000 {
			out = append(out, channel.KeyProblem{Key: "sessions_per_minute", Message: fmt.Sprintf("%q is not a number of sessions a minute (1 to 1000000)", clip(v, 40))})
		}
	}
	for j, o := range c.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			out = append(out, channel.KeyProblem{Key: fmt.Sprintf("allowed_origins[%d]", j), Message: fmt.Sprintf("%q is not an origin (use one such as https://acme.com, or *)", clip(o, 40))})
		}
	}
	return out
}

// Backend is what the channel needs of the database and the runner; the server implements it
// with the store. Times come in from the caller.
type Backend interface {
	// SessionCreate stores a new session (token hash only) with its own anonymous contact,
	// whose id it sets in s.
	SessionCreate(ctx context.Context, s *tandem.WidgetSession, tokenHash string) error
	// SessionByToken returns the unexpired session of a channel; else EUNAUTHORIZED.
	SessionByToken(ctx context.Context, channelID, tokenHash string, now time.Time) (*tandem.WidgetSession, error)
	// SessionUpdate saves locale, variables and the sliding expiry.
	SessionUpdate(ctx context.Context, s *tandem.WidgetSession) error
	// SessionDelete forgets a session.
	SessionDelete(ctx context.Context, id string) error
	// Identify binds a session to the contact with a verified external id (created when
	// absent) and its verified fields, and moves the anonymous contact's conversations to it.
	Identify(ctx context.Context, sessionID, channelID string, c tandem.Contact, now time.Time) (contactID string, err error)
	// ContactLocale sets a contact's language and its locale attribute (contact.locale).
	ContactLocale(ctx context.Context, contactID, locale string, now time.Time) error
	// ContactAttributes merges attributes into a contact's (nil deletes one).
	ContactAttributes(ctx context.Context, contactID string, attrs map[string]any, now time.Time) error
	// ConversationAttributes merges attributes into a conversation's.
	ConversationAttributes(ctx context.Context, conversationID string, attrs map[string]any, now time.Time) error
	// ConversationVariables merges variables into a conversation's variables: var.<name> of
	// the runs started in it from now on.
	ConversationVariables(ctx context.Context, conversationID string, vars map[string]any, now time.Time) error
	// Conversations lists a contact's conversations on a channel, oldest first.
	Conversations(ctx context.Context, contactID, channelID string) ([]Conversation, error)
	// Events returns up to limit events of a conversation after a seq, oldest first: its
	// messages (with Seq and ChannelMessageID set) and its status changes, numbered by one
	// counter without gaps.
	Events(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]Event, error)
	// MessageSeq returns a stored message's seq.
	MessageSeq(ctx context.Context, conversationID, messageID string) (int64, error)
	// Open returns the open conversation of the contact with the external id on the channel;
	// when there is none it opens one with the variables (var.<name> of every run started in
	// it) and starts its conversation_start flow.
	Open(ctx context.Context, channelID, contactID, externalID string, vars map[string]any, now time.Time) (conversationID string, err error)
	// Agent returns the name (and avatar URL) customers see for an agent id.
	Agent(ctx context.Context, id string) (name, avatarURL string)
	// CustomerTyping tells the agents of a conversation that the customer is typing.
	CustomerTyping(conversationID string)
	// Changed returns the web conversations changed after since, and the time of the last
	// change: how this replica learns what other replicas committed.
	Changed(ctx context.Context, since time.Time, limit int) (ids []string, last time.Time, err error)
}

// Conversation is what the widget follows of a conversation.
type Conversation struct {
	ID       string
	Status   string
	Assignee string
	// MsgSeq is the seq of its last event (a message or a status change).
	MsgSeq int64
}

// Event is one numbered event of a conversation: a message, or (Message nil) a change of its
// status to Status, with the agent Assignee, at At.
type Event struct {
	Seq      int64
	Message  *tandem.Message
	Status   string
	Assignee string
	At       time.Time
}

// Channel is one configured web widget channel.
type Channel struct {
	id      string
	cfg     channel.Config
	deps    channel.Deps
	log     *slog.Logger
	limiter *ratelimit.Limiter
	typing  *ratelimit.Limiter
	// fresh counts the new sessions of each client address.
	fresh   *ratelimit.Limiter
	streams *streams

	mu      sync.RWMutex
	backend Backend
	// poll is how often other replicas' changes are looked for (0: never).
	poll time.Duration
}

// New returns a web channel; it serves requests once SetBackend gave it the database.
func New(c channel.Config, d channel.Deps) *Channel {
	ch := &Channel{id: c.ID, cfg: c, deps: d, log: d.Log().With("channel", c.ID)}
	rate := c.RateLimit
	if rate <= 0 {
		rate = DefaultRateLimit
	}
	ch.limiter = ratelimit.New(float64(rate)/RatePeriod.Seconds(), float64(rate))
	ch.typing = ratelimit.New(1/typingEvery.Seconds(), 1)
	perMinute := DefaultSessionsPerMinute
	if n, err := strconv.Atoi(c.Option("sessions_per_minute")); err == nil && n > 0 {
		perMinute = n
	}
	ch.fresh = ratelimit.New(float64(perMinute)/60, float64(perMinute))
	ch.streams = newStreams(ch)
	if len(c.AllowedOrigins) == 0 {
		ch.log.Warn("web channel: allowed_origins is empty, so any site may embed the widget; list your sites' origins")
	}
	return ch
}

// SetBackend gives the channel its database; poll > 0 also looks every poll for conversations
// other replicas changed (PostgreSQL deployments).
func (c *Channel) SetBackend(b Backend, poll time.Duration) {
	c.mu.Lock()
	c.backend, c.poll = b, poll
	c.mu.Unlock()
	c.streams.start(poll)
}

func (c *Channel) be() (Backend, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.backend == nil {
		return nil, tandem.Errorf(tandem.EUNAVAILABLE, "The web channel %q is starting; try again in a moment.", c.id)
	}
	return c.backend, nil
}

// Close ends the channel's streams and background work.
func (c *Channel) Close() { c.streams.stop() }

// Kind implements tandem.Channel.
func (c *Channel) Kind() string { return Kind }

// Caps implements tandem.Channel: the frame renders quick replies and lists natively, texts of
// max_text characters, and attachments; there is no messaging window.
func (c *Channel) Caps() tandem.Caps {
	return tandem.Caps{Buttons: 20, List: 100, MaxText: c.maxText(), Media: true}
}

func (c *Channel) maxText() int {
	if c.cfg.MaxText > 0 {
		return c.cfg.MaxText
	}
	return DefaultMaxText
}

func (c *Channel) sessionTTL() time.Duration {
	if c.cfg.SessionTTL > 0 {
		return c.cfg.SessionTTL
	}
	return DefaultSessionTTL
}

func (c *Channel) maxUpload() int64 {
	if c.cfg.MaxUploadBytes > 0 {
		return c.cfg.MaxUploadBytes
	}
	return DefaultMaxUploadBytes
}

// SendsInline implements tandem.InlineSender: the widget's streams and polls read messages
// where they are stored, woken by every commit.
func (c *Channel) SendsInline() bool { return true }

// Send implements tandem.Channel. The message is already stored when Send runs: the frame
// reads it from its event stream, so Send only wakes the streams of the conversation.
func (c *Channel) Send(ctx context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	if out.Conversation != nil {
		c.Notify(out.Conversation.ID)
	}
	id := ""
	if out.Message != nil {
		id = out.Message.ID
	}
	return tandem.SendResult{ChannelMessageID: id}, nil
}

// Notify wakes the streams that follow a conversation: something of it changed (a message, its
// status). The server calls it after every commit of a web conversation.
func (c *Channel) Notify(conversationID string) { c.streams.notify(conversationID) }

// Typing shows the customers of a conversation that an agent (by name) is typing.
func (c *Channel) Typing(conversationID, name string) { c.streams.typing(conversationID, name) }

// Health implements channel.Channel.
func (c *Channel) Health(ctx context.Context) channel.Health {
	if _, err := c.be(); err != nil {
		return channel.Health{Status: channel.Unavailable, Detail: tandem.ErrorMessage(err)}
	}
	detail := "Any site may embed the widget: set allowed_origins."
	if len(c.cfg.AllowedOrigins) > 0 {
		detail = "Sites allowed to embed the widget: " + strings.Join(c.cfg.AllowedOrigins, ", ") + "."
	}
	return channel.Health{Status: channel.Available, Detail: detail,
		Webhooks: []channel.Webhook{{Name: "Snippet script", URL: channel.URL(c.deps.PublicURL, "/widget/v1/loader.js"),
			Note: `window.tandemSettings = {channel: "` + c.id + `"}`}}}
}

var routes = []channel.Route{
	{Method: "GET", Pattern: "/widget/v1/loader.js", Auth: channel.AuthPublic, Handle: serveAsset("loader.js")},
	{Method: "GET", Pattern: "/widget/v1/frame.js", Auth: channel.AuthPublic, Handle: serveAsset("frame.js")},
	{Method: "GET", Pattern: "/widget/v1/frame.css", Auth: channel.AuthPublic, Handle: serveAsset("frame.css")},
	{Method: "GET", Pattern: "/widget/v1/frame", ChannelQuery: "channel", Auth: channel.AuthPublic, Handle: handle((*Channel).frame)},
	{Method: "POST", Pattern: "/widget/v1/{channel_id}/sessions", Auth: channel.AuthPublic, MaxBody: maxValuesBody, Handle: handle((*Channel).sessionPost)},
	{Method: "DELETE", Pattern: "/widget/v1/{channel_id}/sessions", Auth: channel.AuthSession, Handle: handle((*Channel).sessionDelete)},
	{Method: "POST", Pattern: "/widget/v1/{channel_id}/conversations", Auth: channel.AuthSession, MaxBody: 64 << 10, Handle: handle((*Channel).conversationPost)},
	{Method: "POST", Pattern: "/widget/v1/{channel_id}/messages", Auth: channel.AuthSession, MaxBody: 64 << 10, Handle: handle((*Channel).messagePost)},
	{Method: "GET", Pattern: "/widget/v1/{channel_id}/messages", Auth: channel.AuthSession, Handle: handle((*Channel).messagesGet)},
	{Method: "GET", Pattern: "/widget/v1/{channel_id}/events", Auth: channel.AuthSession, Handle: handle((*Channel).events)},
	{Method: "POST", Pattern: "/widget/v1/{channel_id}/typing", Auth: channel.AuthSession, MaxBody: 4 << 10, Handle: handle((*Channel).typingPost)},
	{Method: "POST", Pattern: "/widget/v1/{channel_id}/uploads", Auth: channel.AuthSession, MaxBody: channel.OwnBodyLimit, Handle: handle((*Channel).uploadPost)},
	{Method: "GET", Pattern: "/widget/v1/{channel_id}/media/{id}", Auth: channel.AuthSession, Handle: handle((*Channel).mediaGet)},
	{Method: "POST", Pattern: "/widget/v1/{channel_id}/attributes", Auth: channel.AuthSession, MaxBody: 2 * maxValuesBody, Handle: handle((*Channel).attributesPost)},
}

// handle adapts a method of the web channel to a route handler.
func handle(fn func(c *Channel, w http.ResponseWriter, r *http.Request) error) func(channel.Channel, http.ResponseWriter, *http.Request) error {
	return func(ch channel.Channel, w http.ResponseWriter, r *http.Request) error {
		c, ok := ch.(*Channel)
		if !ok {
			return tandem.Errorf(tandem.ENOTFOUND, "Not a web channel.")
		}
		// Answers are for this visitor only.
		w.Header().Set("Cache-Control", "no-store")
		return fn(c, w, r)
	}
}
