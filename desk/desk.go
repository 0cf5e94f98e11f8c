// Package desk is the registry of human desk kinds: external help desks (webhook, intercom,
// livechat, chatwoot), each in its own sub-package, built by id from the workspace
// configuration. A kind registers what it is (its constructor, whether it needs the
// customer's e-mail, the webhooks it serves under /hooks/) and the server mounts and wires it;
// adding a kind is adding its package and one import line. The built-in inbox is built by its
// own package.
//
// What a desk needs from the rest of Tandem comes in its Deps: a Store for what it must
// remember (the link between a handoff and the desk's conversation, the desk's id of a
// contact), Secrets for the credentials it obtains, and a Sink that takes what its agents do
// (messages, closes) into the conversation, once, in order.
package desk

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/registry"
)

// Config is one configured desk, as tandem.yaml's `desks:` entry gives it.
type Config struct {
	ID   string
	Kind string
	// The webhook desk's keys.
	URL      string
	Username string
	Password string
	Secret   string
	// HealthURL overrides the URL probed by health checks.
	HealthURL string
	// Timeout bounds one attempt of one call (0: the kind's default).
	Timeout time.Duration
	// Options holds every key the entry sets, by its name in tandem.yaml (access_token,
	// account_id, pat.token...), as text: durations as Go durations, booleans as true/false.
	Options map[string]string
}

// String returns the option key, trimmed ("" when unset).
func (c Config) String(key string) string { return strings.TrimSpace(c.Options[key]) }

// Int returns the option key as a whole number, def when unset or not a number (the
// configuration is validated before desks are built).
func (c Config) Int(key string, def int) int {
	if n, err := strconv.Atoi(c.String(key)); err == nil {
		return n
	}
	return def
}

// Bool returns the option key, def when unset.
func (c Config) Bool(key string, def bool) bool {
	if b, err := strconv.ParseBool(c.String(key)); err == nil {
		return b
	}
	return def
}

// Duration returns the option key, def when unset.
func (c Config) Duration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(c.String(key)); err == nil {
		return d
	}
	return def
}

// Deps are what desks use besides their configuration.
type Deps struct {
	// HTTP makes the desk's calls (each desk bounds every call with its own timeout).
	HTTP *http.Client
	// Store keeps what the desk must remember across restarts; kinds that need it refuse to be
	// built without one.
	Store Store
	// Secrets keeps the desk's run-time credentials (nil: none can be kept).
	Secrets Secrets
	// Sink takes what the desk's agents do into conversations.
	Sink Sink
	// Logger logs; never a credential. nil: nothing is logged.
	Logger *slog.Logger
	// Clock tells the time (nil: the wall clock); Sleep waits between attempts (nil: a timer).
	Clock tandem.Clock
	Sleep func(ctx context.Context, d time.Duration) error
	// PublicURL is the server's public base URL ("https://bot.acme.com"), "" when unknown: the
	// webhook URLs Health shows, and OAuth redirects.
	PublicURL string
}

// Store is what desks remember across restarts; *store.DB implements it. Get methods return
// a tandem.Error with code ENOTFOUND when there is nothing.
type Store interface {
	// DeskLinkPut creates or replaces the link of a handoff (desk, session).
	DeskLinkPut(ctx context.Context, l tandem.DeskLink) error
	// DeskLinkGet returns the link of a handoff.
	DeskLinkGet(ctx context.Context, desk, session string) (*tandem.DeskLink, error)
	// DeskLinkByRef returns the latest link of the desk with the desk's own id ref.
	DeskLinkByRef(ctx context.Context, desk, ref string) (*tandem.DeskLink, error)
	// DeskLinksOpen returns up to limit open links of the desk, least recently updated first.
	DeskLinksOpen(ctx context.Context, desk string, limit int) ([]tandem.DeskLink, error)
	// DeskContactGet and DeskContactPut keep what the desk knows of a contact (its id there).
	DeskContactGet(ctx context.Context, desk, contactID string) (tandem.JSON, error)
	DeskContactPut(ctx context.Context, desk, contactID string, data tandem.JSON, now time.Time) error
}

// Secrets keeps the credentials a desk obtains at run time (a LiveChat refresh token), sealed
// at rest, in a scope of the desk's own. Get of a name never put is an ENOTFOUND error;
// without a key every call is an EUNAVAILABLE error.
type Secrets interface {
	Get(ctx context.Context, name string) (string, error)
	Put(ctx context.Context, name, value string) error
	Delete(ctx context.Context, name string) error
}

// Delivery is one thing a desk's agents did in one handoff, found in a webhook or a poll.
type Delivery struct {
	Desk string
	// Session is the handoff id when the desk sends it back (the webhook desk); otherwise Ref,
	// the desk's own id of the handoff's conversation, names it through its DeskLink.
	Session string
	Ref     string
	// Key makes a repeat a repeat: the desk's id of the message (unique within the desk). A
	// close needs none: a handoff closes once.
	Key string
	// Close reports that the desk closed the handoff.
	Close bool
	// Events are queued for the conversation (agent messages, a close, an assignment).
	Events []tandem.Event
}

// Outcome is what became of a Delivery.
type Outcome int

// Outcomes of a Delivery.
const (
	// Stored: durably recorded; the conversation will process its events.
	Stored Outcome = iota + 1
	// Repeat: recorded before; nothing changed.
	Repeat
	// Unknown: no handoff of this desk has this session or ref.
	Unknown
	// Closed: the handoff is over; nothing was recorded.
	Closed
)

func (o Outcome) String() string {
	switch o {
	case Stored:
		return "stored"
	case Repeat:
		return "repeat"
	case Unknown:
		return "unknown"
	case Closed:
		return "closed"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Sink takes deliveries into conversations; the runner implements it.
type Sink interface {
	DeskDeliver(ctx context.Context, d Delivery) (Outcome, error)
}

// CloseKey is the dedupe key of a handoff's close by its desk.
func CloseKey(session string) string { return "close:" + session }

// Health states of a desk (the three service states of a help desk).
const (
	// StatusNotConfigured: settings the desk needs are missing (named in Health.Detail).
	StatusNotConfigured = "not_configured"
	// StatusAvailable: configured, and the desk's service answered.
	StatusAvailable = "available"
	// StatusUnavailable: configured, but the service refused the credentials, did not answer,
	// or has no agent to take a chat.
	StatusUnavailable = "unavailable"
)

// Health is a desk's state as the admin screens show it.
type Health struct {
	// Status is StatusNotConfigured, StatusAvailable or StatusUnavailable.
	Status string `json:"status"`
	// Detail is one sentence: what is missing, what failed.
	Detail string `json:"detail,omitempty"`
	// Webhooks are the URLs to paste in the desk's settings.
	Webhooks []Webhook `json:"webhooks,omitempty"`
	// CheckedAt is when the service was last asked (zero: never).
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// Webhook is one URL an operator configures on the desk's side.
type Webhook struct {
	// Name says where to paste it ("Webhook endpoint URL").
	Name string `json:"name"`
	// URL is absolute when the server's public URL is known (Deps.PublicURL), else a path.
	URL string `json:"url"`
	// Note adds what else to set there.
	Note string `json:"note,omitempty"`
}

// Reporter is a desk that reports its Health (checking its service within ctx when its last
// check is old).
type Reporter interface {
	Report(ctx context.Context) Health
}

// Statuser is a desk that tells its service state without calling anything.
type Statuser interface {
	Status() string
}

// URL returns the absolute URL of a path on the server when its public URL is known, else the
// path.
func URL(public, path string) string {
	if public == "" {
		return path
	}
	return strings.TrimRight(public, "/") + path
}

// Poller is a desk that fetches what its webhooks may have missed: the server calls Poll every
// PollInterval (never when it is 0).
type Poller interface {
	PollInterval() time.Duration
	Poll(ctx context.Context) error
}

// Route is one HTTP endpoint of a desk kind: its service's webhooks, and its OAuth redirect.
// The API server mounts every registered kind's routes once, whatever the number of desks. A
// route is public at the HTTP layer: Handle checks the caller itself (a signature, a shared
// secret, an OAuth state) and answers 401 before storing anything.
type Route struct {
	// Method and Pattern are a net/http ServeMux pattern's parts: "POST",
	// "/hooks/intercom/{desk_id}".
	Method  string
	Pattern string
	// Handle serves the request for d, the configured desk of this kind that {desk_id} names,
	// or nil when there is none (the kind answers 404 in its service's format). It returns an
	// error instead of writing one: a *tandem.Error is answered with its code's status and
	// {"error": {"code", "message"}}; anything else is logged and answered 500. A handler that
	// answers itself returns nil.
	Handle func(d tandem.Desk, w http.ResponseWriter, r *http.Request) error
}

// Constructor builds a desk from its configuration.
type Constructor func(c Config, d Deps) (tandem.Desk, error)

// Kind is what a desk kind registers.
type Kind struct {
	New Constructor
	// NeedsEmail reports whether the desk needs the contact's e-mail to open a conversation
	// (a handoff step with require_email: auto asks the customer for one).
	NeedsEmail bool
	// Routes are the kind's HTTP endpoints.
	Routes []Route
	// Keys are the keys the kind reads in a desk's entry of tandem.yaml, besides id and kind:
	// the configuration is validated against them (a missing required key, a key the kind does
	// not read). Every key set reaches New in Config.Options.
	Keys []Key
	// Check, when set, finds what is wrong in the values of an entry of the kind, after the
	// keys are checked.
	Check func(c Config) []KeyProblem
}

// Key is one key of tandem.yaml a kind reads in its entry.
type Key = registry.Key

// KeyProblem is what Kind.Check finds wrong with one key.
type KeyProblem = registry.KeyProblem

var kinds = registry.New[Kind]("desk")

// Register makes a desk kind available; adapters call it from init.
func Register(name string, k Kind) { kinds.Register(name, k) }

// Kinds lists the registered kinds.
func Kinds() []string { return kinds.Kinds() }

// OneOf returns a problem for each key of values that the entry sets to none of its values.
func OneOf(c Config, values map[string][]string) []KeyProblem {
	var out []KeyProblem
	for _, key := range slices.Sorted(maps.Keys(values)) {
		if v := c.String(key); v != "" && !slices.Contains(values[key], v) {
			out = append(out, KeyProblem{Key: key, Message: fmt.Sprintf("%q is not one of %s", v, strings.Join(values[key], ", "))})
		}
	}
	return out
}

// Lookup returns a registered kind.
func Lookup(name string) (Kind, bool) {
	k, err := kinds.Get("", name)
	return k, err == nil
}

// New builds a desk of a registered kind.
func New(c Config, d Deps) (tandem.Desk, error) {
	k, err := kinds.Get(c.ID, c.Kind)
	if err != nil {
		return nil, err
	}
	return k.New(c, d)
}

// NeedsEmail reports whether desks of the kind need the contact's e-mail; the built-in inbox
// and unknown kinds do not.
func NeedsEmail(kind string) bool {
	k, ok := Lookup(kind)
	return ok && k.NeedsEmail
}

// Connector is a desk that needs an administrator's one-time authorization on the desk's side
// (LiveChat): Connect returns the address the administrator opens; the desk's service then
// sends the browser back to the server (publicURL), whose route stores the credential.
// `tandem desk connect KIND DESK_ID` calls it.
type Connector interface {
	Connect(ctx context.Context, publicURL string) (authorizeURL string, err error)
	// Connected reports whether the desk holds its authorization.
	Connected(ctx context.Context) bool
}
