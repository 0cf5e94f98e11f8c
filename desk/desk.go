// Package desk is the registry of human desk kinds: the built-in inbox and external help desks
// (webhook, intercom, livechat, chatwoot), each in its own sub-package, built by id from the
// workspace configuration.
package desk

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
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

var (
	mu    sync.RWMutex
	kinds = map[string]Constructor{}
)

// Register makes a desk kind available; adapters call it from init.
func Register(kind string, fn Constructor) {
	mu.Lock()
	defer mu.Unlock()
	kinds[kind] = fn
}

// Kinds lists the registered kinds.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// New builds a desk of a registered kind.
func New(c Config, d Deps) (tandem.Desk, error) {
	mu.RLock()
	fn, ok := kinds[c.Kind]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("desk %q: kind %q is not available in this build", c.ID, c.Kind)
	}
	return fn(c, d)
}
