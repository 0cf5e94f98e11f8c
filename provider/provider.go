// Package provider is the registry of AI provider kinds: each kind (openai, openai-responses,
// openai-assistants, dify, chatbase, webhook, local) lives in its own sub-package, registers a
// constructor here, and is built from the workspace configuration by id.
package provider

import (
	"net/http"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/registry"
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

var kinds = registry.New[Constructor]("provider")

// Register makes a provider kind available; adapters call it from init.
func Register(kind string, fn Constructor) { kinds.Register(kind, fn) }

// Kinds lists the registered kinds.
func Kinds() []string { return kinds.Kinds() }

// New builds a provider of a registered kind.
func New(c Config, d Deps) (tandem.Provider, error) {
	fn, err := kinds.Get(c.ID, c.Kind)
	if err != nil {
		return nil, err
	}
	return fn(c, d)
}
