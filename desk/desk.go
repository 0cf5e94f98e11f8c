// Package desk is the registry of human desk kinds: the built-in inbox and external help desks
// (webhook, intercom, livechat, chatwoot), each in its own sub-package, built by id from the
// workspace configuration.
package desk

import (
	"net/http"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/registry"
)

// Config is one configured desk, as tandem.yaml's `desks:` entry gives it.
type Config struct {
	ID       string
	Kind     string
	URL      string
	Username string
	Password string
	Secret   string
	// HealthURL overrides the URL probed by health checks.
	HealthURL string
	Timeout   time.Duration
	// Options holds the other keys of the kind (access_token, account_id, ...).
	Options map[string]string
}

// Events is where a desk reports what its agents do: it queues events for conversations.
type Events interface {
	Enqueue(ev tandem.Event) error
}

// Deps are what desks use besides their configuration.
type Deps struct {
	HTTP *http.Client
}

// Constructor builds a desk from its configuration.
type Constructor func(c Config, d Deps) (tandem.Desk, error)

var kinds = registry.New[Constructor]("desk")

// Register makes a desk kind available; adapters call it from init.
func Register(kind string, fn Constructor) { kinds.Register(kind, fn) }

// Kinds lists the registered kinds.
func Kinds() []string { return kinds.Kinds() }

// New builds a desk of a registered kind.
func New(c Config, d Deps) (tandem.Desk, error) {
	fn, err := kinds.Get(c.ID, c.Kind)
	if err != nil {
		return nil, err
	}
	return fn(c, d)
}
