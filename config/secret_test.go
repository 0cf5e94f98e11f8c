package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tandemchat/tandem/config"
)

// No secret of the example appears wherever a config is printed, logged or marshalled.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("tandem.yaml", mustRead(t, "full.yaml"), lookupIn(fullEnv))
	if err != nil {
		t.Fatal(err)
	}
	c.Providers[0].Headers = config.SecretMap{"Authorization": "Bearer leak-header"}
	c.Desks[1].PAT = &config.LiveChatPAT{AccountID: "acc", Token: "leak-pat"}
	c.Channels[0].IdentitySecretPrevious = "leak-previous"
	secrets := []string{"Bearer leak-header", "leak-pat", "leak-previous"}
	for _, v := range fullEnv {
		secrets = append(secrets, v)
	}

	var text, js bytes.Buffer
	textLog := slog.New(slog.NewTextHandler(&text, nil))
	jsonLog := slog.New(slog.NewJSONHandler(&js, nil))
	for _, l := range []*slog.Logger{textLog, jsonLog} {
		l.Info("loaded", "config", c, "provider", c.Providers[0], "channel", c.Channels[2], "desk", c.Desks[1],
			"desks", c.Desks, "secrets", c.Secrets, "headers", c.Providers[0].Headers, "agent", c.Agents[0])
	}
	marshalled, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	secretsJSON, _ := json.Marshal(c.Secrets)
	outputs := map[string]string{
		"Sprint(cfg)":          fmt.Sprint(c),
		"Sprint(*cfg)":         fmt.Sprint(*c),
		"%+v":                  fmt.Sprintf("%+v", c),
		"%#v":                  fmt.Sprintf("%#v", c),
		"%#v *cfg":             fmt.Sprintf("%#v", *c),
		"%v providers":         fmt.Sprintf("%v", c.Providers),
		"%#v providers":        fmt.Sprintf("%#v", c.Providers),
		"%+v channels":         fmt.Sprintf("%+v", c.Channels),
		"%#v desks":            fmt.Sprintf("%#v", c.Desks),
		"%v desk pointer":      fmt.Sprint(&c.Desks[2]),
		"%v secrets":           fmt.Sprint(c.Secrets),
		"%#v secrets":          fmt.Sprintf("%#v", c.Secrets),
		"%v pat":               fmt.Sprint(c.Desks[1].PAT),
		"json.Marshal(cfg)":    string(marshalled),
		"json.Marshal(secret)": string(secretsJSON),
		"slog text":            text.String(),
		"slog json":            js.String(),
	}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows the secret %q:\n%s", name, s, out)
			}
		}
		if strings.Contains(out, `password_hash="..."`) || strings.Contains(out, "password_hash=...") {
			t.Errorf("%s shows the password hash:\n%s", name, out)
		}
	}
	if out := fmt.Sprint(c.Providers[0]); !strings.Contains(out, "api_key=***") || !strings.Contains(out, "model=gpt-4o-mini") {
		t.Errorf("provider prints as %s, want masked secrets and clear settings", out)
	}

	// SecretValues lists every one of them, for masking.
	values := map[string]bool{}
	for _, v := range c.SecretValues() {
		values[v] = true
	}
	for _, s := range secrets {
		if !values[s] {
			t.Errorf("SecretValues misses %q", s)
		}
	}
	vals := c.SecretValues()
	for key, want := range map[string]string{
		"secrets.OPENAI_API_KEY":                 "sk-leak-openai",
		"providers.openai.api_key":               "sk-leak-openai",
		"providers.openai.headers.Authorization": "Bearer leak-header",
		"channels.wa.app_secret":                 "leak-wa-app",
		"desks.desk.password":                    "leak-desk-pass",
		"desks.livechat.pat.token":               "leak-pat",
	} {
		if vals[key] != want {
			t.Errorf("SecretValues()[%q] = %q, want %q", key, vals[key], want)
		}
	}
	if _, ok := vals["providers.local-llm.api_key"]; ok {
		t.Error("SecretValues lists an empty api_key")
	}
}
