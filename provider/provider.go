// Package provider is the registry of AI provider kinds: each kind (openai, openai-responses,
// openai-assistants, dify, chatbase, webhook, local) lives in its own sub-package, registers a
// constructor here, and is built from the workspace configuration by id.
package provider

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
)

// Config is one configured provider, as tandem.yaml's `providers:` entry gives it.
type Config struct {
	ID           string
	Kind         string
	APIKey       string
	BaseURL      string
	Model        string
	AssistantID  string
	ChatbotID    string
	URL          string
	Secret       string
	Instructions string
	APIVersion   string
	Organization string
	Project      string
	PromptID     string
	PromptVer    string
	Headers      map[string]string
	Timeout      time.Duration
	MaxTokens    int
	Temperature  *float64
	// Inputs and ResponseMode are Dify's.
	Inputs       map[string]any
	ResponseMode string
	// EmbeddingModel is the model of a kind that offers embeddings (tandem.Embedder); "": the
	// kind's default, if it has one.
	EmbeddingModel string
}

// Deps are what providers may use besides their configuration.
type Deps struct {
	// HTTP is the client for provider calls (timeouts and body caps included).
	HTTP *http.Client
	// Knowledge answers retrieval for the local provider.
	Knowledge tandem.Knowledge
	// DefaultKnowledge is the knowledge base the local provider answers from when a step names
	// none (the first configured one).
	DefaultKnowledge string
}

// Constructor builds a provider from its configuration.
type Constructor func(c Config, d Deps) (tandem.Provider, error)

var (
	mu    sync.RWMutex
	kinds = map[string]Constructor{}
)

// Register makes a provider kind available; adapters call it from init.
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

// New builds a provider of a registered kind.
func New(c Config, d Deps) (tandem.Provider, error) {
	mu.RLock()
	fn, ok := kinds[c.Kind]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("provider %q: kind %q is not available in this build", c.ID, c.Kind)
	}
	return fn(c, d)
}
