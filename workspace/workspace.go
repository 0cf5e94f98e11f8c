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
	_ "github.com/tandemchat/tandem/desk/webhook"
)

// Env returns the engine environment of a configuration.
func Env(cfg *config.Config) (*engine.Env, error) {
	schedules, err := cfg.BuildSchedules()
	if err != nil {
		return nil, err
	}
	desks := map[string]engine.DeskInfo{"inbox": {}}
	for _, d := range cfg.Desks {
		desks[d.ID] = engine.DeskInfo{NeedsEmail: d.Kind == "webhook" || d.Kind == "intercom" || d.Kind == "livechat"}
	}
	return &engine.Env{
		Schedules: schedules, Location: cfg.Location(), Language: cfg.Workspace.Language,
		Secrets: cfg.Secrets, DefaultProvider: cfg.DefaultProvider, Desks: desks, Caps: channel.Caps,
		HandoffWait: cfg.Handoff.WaitTimeout.D(), HandoffSession: cfg.Handoff.SessionTimeout.D(), TransferRounds: cfg.Handoff.TransferRounds,
	}, nil
}

// Knowledge returns the knowledge index of a configuration's knowledge bases, ingested.
func Knowledge(ctx context.Context, cfg *config.Config, db *store.DB, clock tandem.Clock, log *slog.Logger) (*knowledge.Index, error) {
	var bases []knowledge.Base
	for _, k := range cfg.Knowledge {
		bases = append(bases, knowledge.Base{ID: k.ID, Sources: k.Sources, Dir: cfg.Dir})
	}
	x := knowledge.New(db, bases, clock, log)
	if err := x.IngestAll(ctx); err != nil {
		return nil, err
	}
	return x, nil
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
		pv, err := provider.New(pc, deps)
		if err != nil {
			return nil, fmt.Errorf("%w (providers: %s)", err, p.ID)
		}
		out[p.ID] = pv
	}
	return out, nil
}

// Desks builds the configured external desks whose kind this build has, by id. The built-in
// inbox is not among them (its package builds it with what it needs); a desk of a kind not
// available is left out, so a handoff to it takes on_unavailable.
func Desks(cfg *config.Config, client *http.Client) (map[string]tandem.Desk, error) {
	available := map[string]bool{}
	for _, k := range desk.Kinds() {
		available[k] = true
	}
	out := map[string]tandem.Desk{}
	for _, d := range cfg.Desks {
		if d.Kind == config.InboxDesk || !available[d.Kind] {
			continue
		}
		dk, err := desk.New(desk.Config{ID: d.ID, Kind: d.Kind, URL: d.URL, Username: d.Username, Password: d.Password,
			Secret: d.Secret, HealthURL: d.HealthURL, Timeout: d.Timeout.D()}, desk.Deps{HTTP: client})
		if err != nil {
			return nil, fmt.Errorf("%w (desks: %s)", err, d.ID)
		}
		out[d.ID] = dk
	}
	return out, nil
}
