// Package workspace builds what a configuration describes: the engine's environment, the AI
// providers, the knowledge bases. `tandem serve`, `tandem chat` and `tandem test` share it.
package workspace

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/knowledge"
	"github.com/tandemchat/tandem/provider"
	"github.com/tandemchat/tandem/store"

	// Provider kinds available in this build.
	_ "github.com/tandemchat/tandem/provider/assistants"
	_ "github.com/tandemchat/tandem/provider/chatbase"
	_ "github.com/tandemchat/tandem/provider/dify"
	_ "github.com/tandemchat/tandem/provider/local"
	_ "github.com/tandemchat/tandem/provider/openai"
	_ "github.com/tandemchat/tandem/provider/responses"
	_ "github.com/tandemchat/tandem/provider/webhook"

	// Desk kinds available in this build.
	_ "github.com/tandemchat/tandem/desk/chatwoot"
	_ "github.com/tandemchat/tandem/desk/intercom"
	_ "github.com/tandemchat/tandem/desk/livechat"
	_ "github.com/tandemchat/tandem/desk/webhook"

	// Channel kinds available in this build.
	_ "github.com/tandemchat/tandem/channel/api"
	_ "github.com/tandemchat/tandem/channel/telegram"
	_ "github.com/tandemchat/tandem/channel/web"
	_ "github.com/tandemchat/tandem/channel/whatsapp"
)

// Env returns the engine environment of a configuration.
func Env(cfg *config.Config) (*engine.Env, error) {
	schedules, err := cfg.BuildSchedules()
	if err != nil {
		return nil, err
	}
	desks := map[string]engine.DeskInfo{"inbox": {}}
	for _, d := range cfg.Desks {
		desks[d.ID] = engine.DeskInfo{NeedsEmail: desk.NeedsEmail(d.Kind)}
	}
	return &engine.Env{
		Schedules: schedules, Location: cfg.Location(), Language: cfg.Workspace.Language,
		Secrets: cfg.Secrets, DefaultProvider: cfg.DefaultProvider, Desks: desks,
		HandoffWait: cfg.Handoff.WaitTimeout.D(), HandoffSession: cfg.Handoff.SessionTimeout.D(), TransferRounds: cfg.Handoff.TransferRounds,
	}, nil
}

// Knowledge returns the knowledge index of a configuration's knowledge bases, ingested. A base
// with embeddings ranks hybrid with emb's embedder of its id (see Embedders); a base without
// one in emb (nil: offline, as in conversation tests) ranks by full text only. An embedding
// failure never fails the ingest: the base ranks by full text until the next one.
func Knowledge(ctx context.Context, cfg *config.Config, db *store.DB, emb map[string]tandem.Embedder, clock tandem.Clock, log *slog.Logger) (*knowledge.Index, error) {
	var bases []knowledge.Base
	for _, k := range cfg.Knowledge {
		b := knowledge.Base{ID: k.ID, Sources: k.Sources, Dir: cfg.Dir}
		if e, ok := emb[k.ID]; ok && e != nil && k.Embeddings != nil {
			b.Embedder = e
			b.EmbedderID = embedderID(cfg, k.Embeddings)
		}
		bases = append(bases, b)
	}
	x := knowledge.New(db, bases, clock, log)
	if err := x.IngestAll(ctx); err != nil {
		return nil, err
	}
	return x, nil
}

// embedderID names the vectors an embeddings configuration makes: its model (vectors of one
// model are comparable whichever server made them), or the kind's default.
func embedderID(cfg *config.Config, e *config.Embeddings) string {
	if e.Model != "" {
		return "model " + e.Model
	}
	kind := ""
	if p, ok := cfg.Provider(e.Provider); ok {
		kind = p.Kind
	}
	return "default model of kind " + kind
}

// Embedders builds the embedder of each knowledge base that has embeddings, by knowledge base
// id: a provider built from the one the base names (its own instance, with the base's embedding
// model), calling through client. A base whose provider an unset ${VAR} left empty gets none.
// The embedders are built before the knowledge index, which the providers need in turn.
func Embedders(cfg *config.Config, client *http.Client) (map[string]tandem.Embedder, error) {
	out := map[string]tandem.Embedder{}
	for _, k := range cfg.Knowledge {
		if k.Embeddings == nil || k.Embeddings.Provider == "" {
			continue
		}
		p, ok := cfg.Provider(k.Embeddings.Provider)
		if !ok {
			return nil, fmt.Errorf("knowledge %q: embeddings provider %q is not configured", k.ID, k.Embeddings.Provider)
		}
		pc := providerConfig(*p)
		pc.EmbeddingModel = k.Embeddings.Model
		pv, err := provider.New(pc, provider.Deps{HTTP: client})
		if err != nil {
			return nil, fmt.Errorf("%w (knowledge: %s, embeddings)", err, k.ID)
		}
		e, ok := pv.(tandem.Embedder)
		if !ok {
			return nil, fmt.Errorf("knowledge %q: provider %q (kind %s) offers no embeddings", k.ID, p.ID, p.Kind)
		}
		out[k.ID] = e
	}
	return out, nil
}

// providerConfig is the registry's configuration of a configured provider.
func providerConfig(p config.Provider) provider.Config {
	pc := provider.Config{ID: p.ID, Kind: p.Kind, APIKey: p.APIKey, BaseURL: p.BaseURL, Model: p.Model,
		AssistantID: p.AssistantID, ChatbotID: p.ChatbotID, URL: p.URL, Secret: p.Secret, Instructions: p.Instructions,
		APIVersion: p.APIVersion, Organization: p.Organization, Project: p.Project, Headers: p.Headers,
		Timeout: time.Duration(p.Timeout), MaxTokens: p.MaxTokens, Temperature: p.Temperature, ResponseMode: p.ResponseMode}
	if p.Prompt != nil {
		pc.PromptID, pc.PromptVer = p.Prompt.ID, p.Prompt.Version
	}
	if len(p.Inputs) > 0 {
		pc.Inputs = map[string]any{}
		for k, v := range p.Inputs {
			pc.Inputs[k] = v
		}
	}
	return pc
}

// Providers builds the configured AI providers (and `local`, always available).
func Providers(cfg *config.Config, client *http.Client, kn tandem.Knowledge) (map[string]tandem.Provider, error) {
	deps := provider.Deps{HTTP: client, Knowledge: kn}
	if len(cfg.Knowledge) > 0 {
		deps.DefaultKnowledge = cfg.Knowledge[0].ID
	}
	out := map[string]tandem.Provider{}
	local, err := provider.New(provider.Config{ID: "local", Kind: "local"}, deps)
	if err != nil {
		return nil, err
	}
	out["local"] = local
	for _, p := range cfg.Providers {
		pv, err := provider.New(providerConfig(p), deps)
		if err != nil {
			return nil, fmt.Errorf("%w (providers: %s)", err, p.ID)
		}
		out[p.ID] = pv
	}
	return out, nil
}

// Desks builds the configured external desks whose kind this build has, by id, with deps
// (its HTTP client is the one they call through; a *store.Secrets in deps.Secrets is given to
// each desk in the scope "desk:<id>"). The built-in inbox is not among them (its
// package builds it with what it needs); a desk of a kind not available is left out, so a
// handoff to it takes on_unavailable.
func Desks(cfg *config.Config, deps desk.Deps) (map[string]tandem.Desk, error) {
	available := map[string]bool{}
	for _, k := range desk.Kinds() {
		available[k] = true
	}
	out := map[string]tandem.Desk{}
	for _, d := range cfg.Desks {
		if d.Kind == config.InboxDesk || !available[d.Kind] {
			continue
		}
		dd := deps
		if s, ok := deps.Secrets.(*store.Secrets); ok && s != nil {
			// Each desk keeps its credentials in a scope of its own.
			scoped := *s
			scoped.Scope = "desk:" + d.ID
			dd.Secrets = &scoped
		}
		dk, err := desk.New(d.Config(), dd)
		if err != nil {
			return nil, fmt.Errorf("%w (desks: %s)", err, d.ID)
		}
		out[d.ID] = dk
	}
	return out, nil
}

// Channels builds the configured channels whose kind this build has, by id, and lists the ids
// of those left out because their kind is not available. d.Channels is set to look them up.
func Channels(cfg *config.Config, d channel.Deps) (built map[string]channel.Channel, unavailable []string, err error) {
	available := map[string]bool{}
	for _, k := range channel.Kinds() {
		available[k] = true
	}
	built = map[string]channel.Channel{}
	d.Channels = func(kind string) map[string]channel.Channel {
		out := map[string]channel.Channel{}
		for id, ch := range built {
			if ch.Kind() == kind {
				out[id] = ch
			}
		}
		return out
	}
	for _, c := range cfg.Channels {
		if !available[c.Kind] {
			unavailable = append(unavailable, c.ID)
			continue
		}
		ch, err := channel.New(c.Config(), d)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (channels: %s)", err, c.ID)
		}
		built[c.ID] = ch
	}
	return built, unavailable, nil
}
