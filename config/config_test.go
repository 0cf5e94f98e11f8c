package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/schedule"
)

// fullEnv sets every variable of testdata/full.yaml (the example of docs/configuration.md) to a value
// that is easy to spot if it leaks.
var fullEnv = map[string]string{
	"OPENAI_API_KEY":     "sk-leak-openai",
	"KEY":                "sk-leak-legacy",
	"DIFY_KEY":           "app-leak-dify",
	"CHATBASE_KEY":       "leak-chatbase",
	"WIDGET_SECRET":      "leak-widget",
	"API_CHANNEL_SECRET": "leak-api-channel",
	"WA_TOKEN":           "leak-wa-token",
	"WA_APP_SECRET":      "leak-wa-app",
	"WA_VERIFY":          "leak-wa-verify",
	"TG_TOKEN":           "123:leak-tg",
	"TG_SECRET":          "leak-tg-secret",
	"INTERCOM_TOKEN":     "leak-intercom-token",
	"INTERCOM_SECRET":    "leak-intercom-secret",
	"LC_SECRET":          "leak-livechat",
	"DESK_PASS":          "leak-desk-pass",
	"DESK_SECRET":        "leak-desk-secret",
	"CW_TOKEN":           "leak-chatwoot",
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// mustParse parses src as tandem.yaml and fails the test on error.
func mustParse(tb testing.TB, src string, env map[string]string) *config.Config {
	tb.Helper()
	c, err := config.Parse("tandem.yaml", []byte(src), lookupIn(env))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return c
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestFullExample(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("testdata/full.yaml", mustRead(t, "full.yaml"), lookupIn(fullEnv))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", c.Warnings)
	}
	abs, _ := filepath.Abs("testdata")
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("Workspace", c.Workspace, config.Workspace{Name: "ACME", Timezone: "America/Sao_Paulo", Language: "pt"})
	check("Location", c.Location().String(), "America/Sao_Paulo")
	check("Path", c.Path, "testdata/full.yaml")
	check("Dir", c.Dir, abs)
	check("Flows", c.Flows, "./flows")
	check("FlowsDir", c.FlowsDir, filepath.Join(abs, "flows"))
	check("DefaultProvider", c.DefaultProvider, "openai")

	wantProviders := []config.Provider{
		{ID: "openai", Kind: "openai", APIKey: "sk-leak-openai", BaseURL: "https://api.openai.com/v1", Model: "gpt-4o-mini", Line: 4},
		{ID: "local-llm", Kind: "openai", BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.2", Line: 5},
		{ID: "support-assistant", Kind: "openai-responses", APIKey: "sk-leak-openai", Prompt: &config.Prompt{ID: "pmpt_123", Version: "2"}, Line: 6},
		{ID: "legacy-assistant", Kind: "openai-assistants", APIKey: "sk-leak-legacy", BaseURL: "https://compatible.example/v1", AssistantID: "asst_123", Line: 7},
		{ID: "dify", Kind: "dify", APIKey: "app-leak-dify", BaseURL: "https://api.dify.ai/v1", Line: 8},
		{ID: "chatbase", Kind: "chatbase", APIKey: "leak-chatbase", ChatbotID: "abc", Line: 9},
		{ID: "hook", Kind: "webhook", URL: "https://example.com/answer", Line: 10},
		{ID: "local", Kind: "local", Line: 11},
	}
	check("Providers", c.Providers, wantProviders)
	check("Secrets", map[string]string(c.Secrets), map[string]string{"OPENAI_API_KEY": "sk-leak-openai"})
	check("Knowledge", c.Knowledge, []config.Knowledge{{ID: "faq", Sources: []string{"./kb/*.md", "./kb/faq.csv"}, Line: 16}})
	check("Channels", c.Channels, []config.Channel{
		{ID: "web", Kind: "web", AllowedOrigins: []string{"https://acme.com"}, IdentitySecret: "leak-widget", Line: 18},
		{ID: "api", Kind: "api", OutboundURL: "https://acme.com/bot-out", Secret: "leak-api-channel", Line: 19},
		{ID: "wa", Kind: "whatsapp", PhoneNumberID: "123", AccessToken: "leak-wa-token", AppSecret: "leak-wa-app", VerifyToken: "leak-wa-verify", Line: 20},
		{ID: "tg", Kind: "telegram", BotToken: "123:leak-tg", SecretToken: "leak-tg-secret", Line: 21},
	})
	check("Schedules", c.Schedules, []schedule.Config{{
		ID:       "office",
		Timezone: "America/Sao_Paulo",
		Weekly: []schedule.Weekly{
			{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "18:00"},
			{Days: []string{"sat"}, From: "09:00", To: "12:00"},
		},
		Dates:  []schedule.Date{{Date: "2026-12-24", From: "09:00", To: "12:00"}},
		Closed: []string{"2026-12-25"},
	}})
	check("Teams", c.Teams, []config.Team{{ID: "support", Name: "Support", Strategy: "round_robin", Members: []string{"ana@acme.com", "bob@acme.com"}, ReassignAfter: config.Duration(5 * time.Minute), Line: 29}})
	check("Agents", c.Agents, []config.Agent{{Email: "ana@acme.com", Name: "Ana", PasswordHash: "...", Role: "agent", Line: 31}})
	check("Desks", c.Desks, []config.Desk{
		{ID: "intercom", Kind: "intercom", AccessToken: "leak-intercom-token", ClientSecret: "leak-intercom-secret", AdminID: "123", Line: 33},
		{ID: "livechat", Kind: "livechat", OrganizationID: "...", ClientID: "...", SecretKey: "leak-livechat", Line: 34},
		{ID: "desk", Kind: "webhook", URL: "https://desk.acme.com", Username: "u", Password: "leak-desk-pass", Secret: "leak-desk-secret", Line: 35},
		{ID: "chatwoot", Kind: "chatwoot", BaseURL: "https://chat.acme.com", AccountID: 1, InboxID: 2, APIToken: "leak-chatwoot", Line: 36},
	})
	check("Handoff", c.Handoff, config.Handoff{WaitTimeout: config.Duration(60 * time.Second), SessionTimeout: config.Duration(180 * time.Second), TransferRounds: 10})
	check("HTTP", c.HTTP, config.HTTP{})

	if err := c.Validate(); err != nil {
		t.Errorf("Validate after Parse: %v", err)
	}
	p, ok := c.Provider("support-assistant")
	if !ok || p.Prompt.Version != "2" {
		t.Errorf(`Provider("support-assistant") = %v, %v`, p, ok)
	}
	if d, ok := c.Desk("chatwoot"); !ok || d.InboxID != 2 {
		t.Errorf(`Desk("chatwoot") = %v, %v`, d, ok)
	}
	if ch, ok := c.Channel("tg"); !ok || ch.Kind != "telegram" {
		t.Errorf(`Channel("tg") = %v, %v`, ch, ok)
	}
	if tm, ok := c.Team("support"); !ok || tm.Name != "Support" {
		t.Errorf(`Team("support") = %v, %v`, tm, ok)
	}
	if _, ok := c.Channel("nope"); ok {
		t.Error(`Channel("nope") found`)
	}
}

// The example without its environment loads, with one warning per unset variable.
func TestFullExampleWithoutEnvironment(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("tandem.yaml", mustRead(t, "full.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, want := len(c.Warnings), 19
	if got != want {
		t.Errorf("%d warnings, want %d: %q", got, want, c.Warnings)
	}
	if got, want := c.Warnings[0], "tandem.yaml:4: ${OPENAI_API_KEY} is not set; providers[0].api_key is empty"; got != want {
		t.Errorf("Warnings[0] = %q, want %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "tandem.yaml")
	if err := os.WriteFile(path, []byte("flows: flows\nknowledge: [{id: faq, sources: [kb/*.md]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.FlowsDir, filepath.Join(dir, "flows"); got != want {
		t.Errorf("FlowsDir = %q, want %q", got, want)
	}
	if got, want := c.Abs(c.Knowledge[0].Sources[0]), filepath.Join(dir, "kb", "*.md"); got != want {
		t.Errorf("Abs(source) = %q, want %q", got, want)
	}
	if _, err := config.Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("workspace:\n  timezone: Nowhere\nflows: [x]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = config.Load(bad)
	if err == nil || !strings.HasPrefix(err.Error(), bad+":2: workspace.timezone: ") {
		t.Errorf("Load(bad) = %v, want the first problem first", err)
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Parallel()
	env := map[string]string{"A": "x", "EMPTY": "", "B": "y"}
	tests := []struct {
		value   string
		want    string
		warning string
	}{
		{`"${A}"`, "x", ""},
		{`"pre-${A}-post"`, "pre-x-post", ""},
		{`"${A}${B}"`, "xy", ""},
		{`"${MISSING:-fallback}"`, "fallback", ""},
		{`"${EMPTY:-fallback}"`, "fallback", ""},
		{`"${B:-fallback}"`, "y", ""},
		{`"${MISSING:-}"`, "", ""},
		{`"${EMPTY}"`, "", ""},
		{`"$${A}"`, "${A}", ""},
		{`"$A and $"`, "$A and $", ""},
		{`"${MISSING}"`, "", "tandem.yaml:1: ${MISSING} is not set; secrets.S is empty"},
		{`"k-${MISSING}"`, "k-", "tandem.yaml:1: ${MISSING} is not set; secrets.S uses an empty value for it"},
		{`"${M1}${M2}"`, "", "tandem.yaml:1: ${M1}, ${M2} are not set; secrets.S is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, "secrets: {S: "+tt.value+"}\n", env)
			if got := c.Secrets["S"]; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			var want []string
			if tt.warning != "" {
				want = []string{tt.warning}
			}
			if !reflect.DeepEqual(c.Warnings, want) {
				t.Errorf("Warnings = %q, want %q", c.Warnings, want)
			}
		})
	}
}

// Keys are not expanded, numbers and durations are read after expansion.
func TestEnvExpansionTypes(t *testing.T) {
	t.Parallel()
	src := `
desks:
  - {id: cw, kind: chatwoot, base_url: "${CW_URL}", account_id: "${CW_ACCOUNT}", inbox_id: "${CW_INBOX:-7}", api_token: t}
providers:
  - {id: h, kind: webhook, url: "https://h.example", headers: {"${NOT_EXPANDED}": v}}
handoff: {wait_timeout: "${WAIT}", transfer_rounds: "${ROUNDS}"}
`
	c := mustParse(t, src, map[string]string{"CW_URL": "https://cw.example", "CW_ACCOUNT": "12", "WAIT": "2m", "ROUNDS": "3", "NOT_EXPANDED": "x"})
	d := c.Desks[0]
	if d.BaseURL != "https://cw.example" || d.AccountID != 12 || d.InboxID != 7 {
		t.Errorf("desk = %v", d)
	}
	if c.Handoff.WaitTimeout.D() != 2*time.Minute || c.Handoff.TransferRounds != 3 {
		t.Errorf("handoff = %+v", c.Handoff)
	}
	if _, ok := c.Providers[0].Headers["${NOT_EXPANDED}"]; !ok {
		t.Errorf("header names = %v, want the key as written", c.Providers[0].Headers)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	allProviderKinds := "openai, openai-responses, openai-assistants, dify, chatbase, webhook, local"
	tests := []struct {
		name string
		src  string
		want []string // every problem, in order
	}{
		{
			name: "unknown provider kind",
			src: `providers:
  - {id: a, kind: openai}
  - {id: b, kind: gpt}
`,
			want: []string{`tandem.yaml:3: providers[1].kind: "gpt" is not a provider kind; use one of ` + allProviderKinds},
		},
		{
			name: "misspelt kind",
			src:  "providers: [{id: a, kind: opnai}]\n",
			want: []string{`tandem.yaml:1: providers[0].kind: "opnai" is not a provider kind (did you mean openai?); use one of ` + allProviderKinds},
		},
		{
			name: "missing kind",
			src:  "channels:\n  - id: a\n",
			want: []string{`tandem.yaml:2: channels[0].kind: required; use one of api, telegram, web, whatsapp`},
		},
		{
			name: "unknown desk kind",
			src:  "desks:\n  - {id: z, kind: zendesk}\n",
			want: []string{`tandem.yaml:2: desks[0].kind: "zendesk" is not a desk kind; use one of inbox, chatwoot, intercom, livechat, webhook`},
		},
		{
			name: "unknown key with a suggestion",
			src: `providers:
  - id: a
    kind: openai
    apikey: x
`,
			want: []string{`tandem.yaml:4: providers[0].apikey: unknown key; did you mean api_key?`},
		},
		{
			name: "unknown top-level key",
			src:  "workspace: {name: A}\ncolour: red\n",
			want: []string{`tandem.yaml:2: colour: unknown key; known keys are agents, auth, channels, default_provider, desks, flows, handoff, http, knowledge, limits, media, providers, schedules, secrets, teams, workspace`},
		},
		{
			name: "unknown nested key",
			src:  "schedules:\n  - id: office\n    weekly:\n      - {day: [mon], from: \"09:00\", to: \"10:00\"}\n",
			want: []string{
				`tandem.yaml:4: schedules[0].weekly[0].day: unknown key; did you mean days?`,
				`tandem.yaml:4: schedules[0].weekly[0].days: empty (list days such as [mon, tue])`,
			},
		},
		{
			name: "schedule window",
			src: `schedules:
  - id: office
    weekly:
      - {days: [mon], from: "09:00", to: "12:00"}
      - {days: [tue], from: "25:00", to: "18:00"}
    closed: [2026-13-01]
`,
			want: []string{
				`tandem.yaml:5: schedules[0].weekly[1].from: "25:00" is not a time (use HH:MM)`,
				`tandem.yaml:6: schedules[0].closed[0]: "2026-13-01" is not a date (use YYYY-MM-DD)`,
			},
		},
		{
			name: "schedule zone and id",
			src:  "schedules:\n  - timezone: Mars/Base\n",
			want: []string{
				`tandem.yaml:2: schedules[0].id: required`,
				`tandem.yaml:2: schedules[0].timezone: "Mars/Base": unknown time zone`,
			},
		},
		{
			name: "duplicate ids",
			src: `channels:
  - {id: web, kind: web}
  - {id: api, kind: api}
  - {id: web, kind: web}
schedules: [{id: s}, {id: s}]
teams: [{id: t}, {id: t}]
agents: [{email: ana@acme.com}, {email: Ana@Acme.com}]
`,
			want: []string{
				`tandem.yaml:4: channels[2].id: "web" is used twice (first as channels[0])`,
				`tandem.yaml:5: schedules[1].id: "s" is used twice (first as schedules[0])`,
				`tandem.yaml:6: teams[1].id: "t" is used twice (first as teams[0])`,
				`tandem.yaml:7: agents[1].email: "Ana@Acme.com" is used twice (first as agents[0])`,
			},
		},
		{
			name: "bad id",
			src:  "providers:\n  - {id: my provider, kind: local}\n",
			want: []string{`tandem.yaml:2: providers[0].id: "my provider" is not an id (use letters, digits, - and _, at most 64)`},
		},
		{
			name: "time zone",
			src:  "workspace:\n  name: ACME\n  timezone: Mars/Base\n  language: \"portuguese!\"\n",
			want: []string{
				`tandem.yaml:3: workspace.timezone: "Mars/Base" is not a time zone (use an IANA name such as America/Sao_Paulo)`,
				`tandem.yaml:4: workspace.language: "portuguese!" is not a language tag (use one such as en, pt or pt-BR)`,
			},
		},
		{
			name: "default provider",
			src:  "providers: [{id: a, kind: local}]\ndefault_provider: gpt\n",
			want: []string{`tandem.yaml:2: default_provider: "gpt" names no provider (defined: a, local)`},
		},
		{
			name: "team",
			src:  "teams:\n  - {id: s, strategy: fastest, schedule: office, members: [nobody@acme.com]}\n",
			want: []string{
				`tandem.yaml:2: teams[0].strategy: "fastest" is not a strategy; use round_robin or least_busy`,
				`tandem.yaml:2: teams[0].schedule: "office" names no schedule`,
			},
		},
		{
			name: "agent",
			src:  "teams: [{id: support}]\nagents:\n  - {email: ana, role: boss, teams: [support, sales]}\n",
			want: []string{
				`tandem.yaml:3: agents[0].email: "ana" is not an email address`,
				`tandem.yaml:3: agents[0].role: "boss" is not a role; use agent or admin`,
				`tandem.yaml:3: agents[0].teams[1]: "sales" names no team (defined: support)`,
			},
		},
		{
			name: "required by kind",
			src: `providers:
  - {id: a, kind: openai-assistants}
  - {id: b, kind: chatbase, api_key: k}
  - {id: c, kind: webhook}
  - {id: d, kind: openai-responses}
channels:
  - {id: w, kind: whatsapp, phone_number_id: "1", access_token: t, app_secret: s}
  - {id: t, kind: telegram, bot_token: ""}
  - {id: a, kind: api, outbound_url: "https://acme.com/out"}
  - {id: p, kind: api}
desks:
  - {id: cw, kind: chatwoot, base_url: "https://c.example"}
  - {id: ic, kind: intercom}
  - {id: d, kind: webhook, secret: s-0123456789abcdef}
  - {id: lc, kind: livechat}
`,
			want: []string{
				`tandem.yaml:2: providers[0].assistant_id: required by kind openai-assistants`,
				`tandem.yaml:3: providers[1].chatbot_id: required by kind chatbase`,
				`tandem.yaml:4: providers[2].url: required by kind webhook`,
				`tandem.yaml:5: providers[3]: kind openai-responses needs a prompt (prompt: {id: pmpt_..., version: "2"}) or a model`,
				`tandem.yaml:7: channels[0].verify_token: required by kind whatsapp`,
				`tandem.yaml:8: channels[1].bot_token: required by kind telegram`,
				`tandem.yaml:9: channels[2].secret: required with outbound_url (it signs the messages POSTed there)`,
				`tandem.yaml:12: desks[0].account_id: required by kind chatwoot`,
				`tandem.yaml:12: desks[0].inbox_id: required by kind chatwoot`,
				`tandem.yaml:12: desks[0].api_token: required by kind chatwoot`,
				`tandem.yaml:13: desks[1].access_token: required by kind intercom`,
				`tandem.yaml:14: desks[2].url: required by kind webhook`,
				`tandem.yaml:15: desks[3].organization_id: required by kind livechat`,
				`tandem.yaml:15: desks[3].client_id: required by kind livechat`,
			},
		},
		{
			name: "values of the wrong type",
			src: `desks:
  - id: cw
    kind: chatwoot
    base_url: "https://c.example"
    account_id: one
    inbox_id: 2
    api_token: t
teams:
  - {id: s, members: ana@acme.com, reassign_after: soon}
workspace: [ACME]
`,
			want: []string{
				`tandem.yaml:5: desks[0].account_id: "one" is not a whole number`,
				`tandem.yaml:9: teams[0].members: expected a list, found "ana@acme.com"`,
				`tandem.yaml:9: teams[0].reassign_after: "soon" is not a duration (use 20s, 5m, 2h, 1h30m, 2d or a number of seconds)`,
				`tandem.yaml:10: workspace: expected a mapping of keys, found a list`,
			},
		},
		{
			name: "urls and origins",
			src: `providers: [{id: a, kind: openai, base_url: api.openai.com}]
channels: [{id: w, kind: web, allowed_origins: ["https://acme.com", "*", "acme.com", "https://acme.com/page"]}]
knowledge: [{id: faq}, {id: kb, sources: ["kb/[a.md"]}]
`,
			want: []string{
				`tandem.yaml:1: providers[0].base_url: "api.openai.com" is not an http(s) URL (use one such as https://example.com/path)`,
				`tandem.yaml:2: channels[0].allowed_origins[2]: "acme.com" is not an origin (use one such as https://acme.com, or *)`,
				`tandem.yaml:2: channels[0].allowed_origins[3]: "https://acme.com/page" is not an origin (use one such as https://acme.com, or *)`,
				`tandem.yaml:3: knowledge[0].sources: required (list files such as ./kb/*.md)`,
				`tandem.yaml:3: knowledge[1].sources[0]: "kb/[a.md" is not a file pattern (syntax error in pattern)`,
			},
		},
		{
			name: "knowledge embeddings",
			src: `providers:
  - {id: openai, kind: openai, api_key: k}
  - {id: ollama, kind: openai, base_url: "http://127.0.0.1:11434/v1"}
  - {id: dify, kind: dify, api_key: k}
knowledge:
  - {id: a, sources: [a.md], embeddings: {provider: dify}}
  - {id: b, sources: [b.md], embeddings: {provider: local}}
  - {id: c, sources: [c.md], embeddings: {provider: gpt}}
  - {id: d, sources: [d.md], embeddings: {model: text-embedding-3-small}}
  - id: e
    sources: [e.md]
    embeddings:
      provider: ollama
  - {id: f, sources: [f.md], embeddings: {provider: openai, modle: text-embedding-3-large}}
  - {id: g, sources: [g.md], embeddings: text-embedding-3-small}
`,
			want: []string{
				`tandem.yaml:6: knowledge[0].embeddings.provider: provider "dify" is of kind dify, which offers no embeddings; use a provider of kind openai`,
				`tandem.yaml:7: knowledge[1].embeddings.provider: provider "local" is of kind local, which offers no embeddings; use a provider of kind openai`,
				`tandem.yaml:8: knowledge[2].embeddings.provider: "gpt" names no provider (defined: dify, ollama, openai)`,
				`tandem.yaml:9: knowledge[3].embeddings.provider: required (the id of a provider of kind openai)`,
				`tandem.yaml:12: knowledge[4].embeddings.model: required with provider "ollama": only api.openai.com has a default embedding model; name the server's (on Ollama, nomic-embed-text for example; on Azure, the deployment)`,
				`tandem.yaml:14: knowledge[5].embeddings.modle: unknown key; did you mean model?`,
				`tandem.yaml:15: knowledge[6].embeddings: expected a mapping of keys, found "text-embedding-3-small"`,
			},
		},
		{
			name: "handoff, http and limits",
			src: `providers: [{id: a, kind: openai, timeout: 5m, max_tokens: -1, temperature: 3}]
handoff:
  wait_timeout: 0
  transfer_rounds: -2
http: {allow: [10.0.0.0/8, 192.168.1.10, intranet]}
`,
			want: []string{
				`tandem.yaml:1: providers[0].timeout: 5m is more than 2m`,
				`tandem.yaml:1: providers[0].max_tokens: must not be negative`,
				`tandem.yaml:1: providers[0].temperature: 3 is not between 0 and 2`,
				`tandem.yaml:3: handoff.wait_timeout: must be more than 0s`,
				`tandem.yaml:4: handoff.transfer_rounds: must not be negative`,
				`tandem.yaml:5: http.allow[2]: "intranet" is not an IP address or a CIDR prefix (use one such as 10.0.0.0/8)`,
			},
		},
		{
			name: "web uploads",
			src:  "channels:\n  - {id: w, kind: web, max_upload_bytes: 268435457}\n  - {id: v, kind: web, max_upload_bytes: -1}\n",
			want: []string{
				`tandem.yaml:2: channels[0].max_upload_bytes: 268435457 is more than 268435456 (256 MiB), the largest file the database keeps`,
				`tandem.yaml:3: channels[1].max_upload_bytes: must not be negative`,
			},
		},
		{
			name: "enumerations",
			src:  "desks: [{id: i, kind: intercom, access_token: t, region: mars}]\nproviders: [{id: d, kind: dify, api_key: k, response_mode: fast}]\n",
			want: []string{
				`tandem.yaml:1: desks[0].region: "mars" is not one of us, eu, au`,
				`tandem.yaml:2: providers[0].response_mode: "fast" is not one of streaming, blocking`,
			},
		},
		{
			name: "chatwoot webhook auth",
			src:  "desks:\n  - {id: c, kind: chatwoot, base_url: \"https://c.example\", account_id: 1, inbox_id: 2, api_token: t, webhook_token: short, poll_interval: -1s}\n",
			want: []string{
				`tandem.yaml:2: desks[0].poll_interval: "-1s" is not a duration (use 20s, 5m, 2h, 1h30m, 2d or a number of seconds)`,
				`tandem.yaml:2: desks[0].webhook_token: must be at least 24 characters (it is what authenticates Chatwoot's webhooks)`,
			},
		},
		{
			name: "webhook desk secret",
			src:  "desks:\n  - {id: d, kind: webhook, url: \"https://d.example\", secret: too-short}\n",
			want: []string{
				`tandem.yaml:2: desks[0].secret: must be at least 16 characters (it is what authenticates the desk's callbacks)`,
			},
		},
		{
			name: "secret names",
			src:  "secrets:\n  api-key: x\n",
			want: []string{`tandem.yaml:2: secrets.api-key: "api-key" is not a secret name (use letters, digits and _, as in {{secret.API_KEY}})`},
		},
		{
			name: "key written twice",
			src:  "flows: a\nflows: b\n",
			want: []string{`tandem.yaml:2: flows: written twice (first at line 1)`},
		},
		{
			name: "bad variable",
			src:  "secrets:\n  A: \"${OOPS\"\n  B: \"${1X}\"\n",
			want: []string{
				`tandem.yaml:2: secrets.A: unclosed ${ (write ${NAME} or ${NAME:-default}, or $${ for a literal ${)`,
				`tandem.yaml:3: secrets.B: ${1X} does not name a variable (write ${NAME} or ${NAME:-default}, or $${ for a literal ${)`,
			},
		},
		{
			name: "syntax",
			src:  "providers:\n  - {id: a, kind: openai\n",
			want: []string{`tandem.yaml:2: YAML syntax: the { opened on this line is never closed; close it, or put the text that holds it in quotes`},
		},
		{
			name: "tab indentation",
			src:  "workspace:\n\tname: A\n",
			want: []string{`tandem.yaml:2: YAML syntax: a tab indents this line; YAML indents with spaces only: replace the tab with spaces, aligned with the lines it belongs with`},
		},
		{
			name: "a tab below the first lines is reported on its own line",
			src:  "workspace:\n  name: A\nhandoff:\n  wait_timeout: 60s\n\tsession_timeout: 3m\n",
			want: []string{`tandem.yaml:5: YAML syntax: a tab indents this line; YAML indents with spaces only: replace the tab with spaces, aligned with the lines it belongs with`},
		},
		{
			name: "a key indented unlike its siblings",
			src:  "providers:\n  - id: a\n    kind: openai\n   model: gpt-4o-mini\n",
			want: []string{`tandem.yaml:4: YAML syntax: this line starts in column 4, which matches no line above it; indent it like the lines it belongs with (column 1, 3 or 5)`},
		},
		{
			name: "an unquoted colon in a value",
			src:  "workspace:\n  name: ACME: the shop\n",
			want: []string{`tandem.yaml:2: YAML syntax: the text "ACME: the shop" holds a colon followed by a space, which YAML reads as a new key; put the text in double quotes`},
		},
		{
			name: "not a mapping",
			src:  "- a\n- b\n",
			want: []string{`tandem.yaml:1: the configuration must be a mapping of keys such as workspace, providers and channels, not a list`},
		},
		{
			name: "two documents",
			src:  "flows: a\n---\nflows: b\n",
			want: []string{`tandem.yaml:2: the file holds several YAML documents; keep one`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Parse("tandem.yaml", []byte(tt.src), nil)
			if err == nil {
				t.Fatalf("no error; config %v", c)
			}
			if c != nil {
				t.Errorf("config %v returned with an error", c)
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			var p *config.Problem
			if !errors.As(err, &p) || p.File != "tandem.yaml" || p.Line == 0 {
				t.Errorf("errors.As(*Problem) = %+v", p)
			}
		})
	}
}

// A knowledge base's embeddings name a provider that offers them and, off api.openai.com, the
// model; without the key a base ranks by full text only.
func TestKnowledgeEmbeddings(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `providers:
  - {id: openai, kind: openai, api_key: "${OPENAI_API_KEY}"}
  - {id: ollama, kind: openai, base_url: "http://127.0.0.1:11434/v1", model: llama3.2}
  - {id: azure, kind: openai, base_url: "https://acme.openai.azure.com/openai/v1"}
knowledge:
  - {id: faq, sources: [kb/*.md], embeddings: {provider: openai}}
  - id: manual
    sources: [manual/*.md]
    embeddings: {provider: ollama, model: nomic-embed-text}
  - {id: azure, sources: [kb/*.md], embeddings: {provider: azure, model: embeddings-deployment}}
  - {id: plain, sources: [kb/*.md]}
  - {id: off, sources: [kb/*.md], embeddings: null}
`, map[string]string{"OPENAI_API_KEY": "sk-leak-openai"})
	got := map[string]*config.Embeddings{}
	for _, k := range c.Knowledge {
		got[k.ID] = k.Embeddings
	}
	want := map[string]*config.Embeddings{
		"faq":    {Provider: "openai"},
		"manual": {Provider: "ollama", Model: "nomic-embed-text"},
		"azure":  {Provider: "azure", Model: "embeddings-deployment"},
		"plain":  nil,
		"off":    nil,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("embeddings %v, want %v", got, want)
	}
	if len(c.Warnings) > 0 {
		t.Errorf("warnings %v", c.Warnings)
	}
	b, err := json.Marshal(c.Knowledge)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `"embeddings":{"provider":"ollama","model":"nomic-embed-text"}`; !strings.Contains(got, want) {
		t.Errorf("JSON %s lacks %s", got, want)
	}
	if strings.Contains(string(b), `"plain","sources":["kb/*.md"],"embeddings"`) {
		t.Errorf("JSON %s shows embeddings for a base without them", b)
	}

	// An unset ${VAR} as the provider is a warning, like other values: the base ranks by full
	// text.
	c, err = config.Parse("tandem.yaml", []byte("providers: [{id: openai, kind: openai}]\nknowledge: [{id: faq, sources: [a.md], embeddings: {provider: \"${EMBEDDINGS}\"}}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Warnings, []string{`tandem.yaml:2: ${EMBEDDINGS} is not set; knowledge[0].embeddings.provider is empty`}; !reflect.DeepEqual(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "unset required secret",
			src:  "channels:\n  - {id: tg, kind: telegram, bot_token: \"${TG_TOKEN}\"}\n",
			want: []string{`tandem.yaml:2: ${TG_TOKEN} is not set; channels[0].bot_token is empty`},
		},
		{
			name: "unset required secret of an api channel with outbound_url",
			src:  "channels:\n  - {id: a, kind: api, outbound_url: \"https://acme.com/out\", secret: \"${S}\"}\n",
			want: []string{`tandem.yaml:2: ${S} is not set; channels[0].secret is empty`},
		},
		{
			name: "key not used by the kind",
			src:  "providers:\n  - {id: h, kind: webhook, url: \"https://x.example\", model: m, api_key: k}\n",
			want: []string{
				`tandem.yaml:2: providers[0].api_key: not used by kind webhook`,
				`tandem.yaml:2: providers[0].model: not used by kind webhook`,
			},
		},
		{
			name: "team members that are not agents",
			src:  "teams: [{id: s, members: [later@acme.com]}]\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, tt.src, nil)
			if !reflect.DeepEqual(c.Warnings, tt.want) {
				t.Errorf("Warnings:\n%s\nwant:\n%s", strings.Join(c.Warnings, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	d := config.Default()
	if err := d.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	want := config.Workspace{Name: "Tandem", Timezone: "UTC", Language: "en"}
	if d.Workspace != want {
		t.Errorf("Workspace = %+v, want %+v", d.Workspace, want)
	}
	if d.Handoff != (config.Handoff{WaitTimeout: config.Duration(60 * time.Second), SessionTimeout: config.Duration(180 * time.Second), TransferRounds: 10}) {
		t.Errorf("Handoff = %+v", d.Handoff)
	}
	if d.DefaultProvider != "local" || d.Location() != time.UTC || d.Path != "" || d.FlowsDir != "" {
		t.Errorf("Default() = %v", d)
	}
	if p, ok := d.Provider("local"); !ok || !reflect.DeepEqual(*p, config.Provider{ID: "local", Kind: "local"}) {
		t.Errorf(`Provider("local") = %v, %v`, p, ok)
	}
	if desk, ok := d.Desk("inbox"); !ok || desk.Kind != "inbox" {
		t.Errorf(`Desk("inbox") = %v, %v`, desk, ok)
	}
	for _, src := range []string{"", "# nothing\n", "{}", "null\n"} {
		c := mustParse(t, src, nil)
		if c.Workspace != d.Workspace || c.Handoff != d.Handoff || c.DefaultProvider != "local" {
			t.Errorf("Parse(%q) = %v, want the defaults", src, c)
		}
	}

	c := mustParse(t, `
providers: [{id: first, kind: local}, {id: second, kind: local}]
teams: [{id: sales}]
agents: [{email: bo@acme.com, teams: [sales]}]
handoff: {session_timeout: 300, transfer_rounds: 0}
`, nil)
	if c.DefaultProvider != "first" {
		t.Errorf("DefaultProvider = %q, want the first provider", c.DefaultProvider)
	}
	if tm := c.Teams[0]; tm.Name != "sales" || tm.Strategy != "round_robin" {
		t.Errorf("team = %v", tm)
	}
	if a := c.Agents[0]; a.Role != "agent" {
		t.Errorf("agent = %v", a)
	}
	if got, want := c.Handoff, (config.Handoff{WaitTimeout: config.Duration(time.Minute), SessionTimeout: config.Duration(5 * time.Minute), TransferRounds: 0}); got != want {
		t.Errorf("Handoff = %+v, want %+v (written zero kept)", got, want)
	}
	if p, _ := c.Provider("local"); p.ID != "local" {
		t.Errorf(`Provider("local") = %v`, p)
	}
}

// JSON is YAML; tab-indented JSON is accepted too, with lines.
func TestJSON(t *testing.T) {
	t.Parallel()
	src := "{\n\t\"workspace\": {\"name\": \"ACME\"},\n\t\"providers\": [\n\t\t{\"id\": \"a\", \"kind\": \"openai\", \"model\": \"m\"},\n\t\t{\"id\": \"b\", \"kind\": \"gpt\"}\n\t]\n}\n"
	_, err := config.Parse("tandem.json", []byte(src), nil)
	if err == nil || !strings.HasPrefix(err.Error(), `tandem.json:5: providers[1].kind: "gpt"`) {
		t.Fatalf("err = %v", err)
	}
	c := mustParse(t, strings.Replace(src, `"gpt"`, `"local"`, 1), nil)
	if c.Workspace.Name != "ACME" || c.Providers[0].Model != "m" || c.Providers[1].Line != 5 {
		t.Errorf("config = %v", c)
	}
}

// Anchors, aliases and merge keys work; top-level x- keys hold them.
func TestAnchors(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
x-openai: &openai {kind: openai, base_url: "https://api.openai.com/v1", model: gpt-4o-mini}
providers:
  - {<<: *openai, id: fast}
  - {<<: *openai, id: smart, model: gpt-4o}
`, nil)
	if got := c.Providers[1]; got.Kind != "openai" || got.Model != "gpt-4o" || got.BaseURL != "https://api.openai.com/v1" {
		t.Errorf("providers[1] = %v", got)
	}
	if got := c.Providers[0].Model; got != "gpt-4o-mini" {
		t.Errorf("providers[0].model = %q", got)
	}
	// Merge keys that expand exponentially stop with an error instead of exhausting the machine.
	var b strings.Builder
	b.WriteString("x-m0: &m0 {kind: local}\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "x-m%d: &m%d {<<: [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*m%d", i-1)
		}
		b.WriteString("]}\n")
	}
	b.WriteString("providers: [{<<: *m9, id: p}]\n")
	if _, err := config.Parse("tandem.yaml", []byte(b.String()), nil); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("merge bomb: err = %v", err)
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"20s", 20 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"2d", 48 * time.Hour, true},
		{"30", 30 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"-5s", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
	}
	for _, tt := range tests {
		got, err := config.ParseDuration(tt.in)
		if (err == nil) != tt.ok || got.D() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	var d config.Duration
	if err := d.UnmarshalJSON([]byte(`"2d"`)); err != nil || d.D() != 48*time.Hour {
		t.Errorf("UnmarshalJSON = %v, %v", d, err)
	}
	if err := d.UnmarshalJSON([]byte(`90`)); err != nil || d.D() != 90*time.Second {
		t.Errorf("UnmarshalJSON(90) = %v, %v", d, err)
	}
	if b, _ := config.Duration(90 * time.Minute).MarshalJSON(); string(b) != `"1h30m"` {
		t.Errorf("MarshalJSON = %s", b)
	}
}

func TestBuildSchedules(t *testing.T) {
	t.Parallel()
	// The seed's overlapping windows of one day merge into the widest ones.
	c := mustParse(t, `
workspace: {timezone: America/Sao_Paulo}
schedules:
  - id: support
    weekly:
      - {days: [mon], from: "09:00", to: "12:00"}
      - {days: [mon], from: "10:00", to: "12:00"}
      - {days: [mon], from: "13:00", to: "18:00"}
      - {days: [mon], from: "15:00", to: "17:00"}
  - id: night
    timezone: UTC
    weekly: [{days: [mon], from: "22:00", to: "02:00"}]
`, nil)
	all, err := c.BuildSchedules()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("BuildSchedules = %v", all)
	}
	s := all["support"]
	if got := s.Location().String(); got != "America/Sao_Paulo" {
		t.Errorf("support zone = %s, want the workspace's", got)
	}
	if got := all["night"].Location().String(); got != "UTC" {
		t.Errorf("night zone = %s, want its own", got)
	}
	var got []string
	for _, iv := range s.Windows(2026, time.November, 30) { // a Monday
		got = append(got, iv.From.Format("15:04")+"-"+iv.To.Format("15:04"))
	}
	if want := []string{"09:00-12:00", "13:00-18:00"}; !reflect.DeepEqual(got, want) {
		t.Errorf("windows = %v, want %v", got, want)
	}
	loc := c.Location()
	if !s.Open(time.Date(2026, time.November, 30, 11, 0, 0, 0, loc)) || s.Open(time.Date(2026, time.November, 30, 12, 30, 0, 0, loc)) {
		t.Error("Open disagrees with the merged windows")
	}

	// A config built in code reports schedule problems by key path.
	bad := config.Default()
	bad.Schedules = []schedule.Config{{ID: "x", Weekly: []schedule.Weekly{{Days: []string{"mon"}, From: "9", To: "10:00"}}}}
	_, err = bad.BuildSchedules()
	if want := `schedules[0].weekly[0].from: "9" is not a time (use HH:MM)`; err == nil || err.Error() != want {
		t.Errorf("BuildSchedules = %v, want %q", err, want)
	}
	if err := bad.Validate(); err == nil || err.Error() != `schedules[0].weekly[0].from: "9" is not a time (use HH:MM)` {
		t.Errorf("Validate = %v", err)
	}
}

func TestFlowEnv(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
providers: [{id: openai, kind: openai}]
schedules: [{id: office}]
teams: [{id: support}]
desks: [{id: desk, kind: webhook, url: "https://desk.example", secret: s-0123456789abcdef}]
knowledge: [{id: faq, sources: [kb/*.md]}]
`, nil)
	env := c.FlowEnv()
	set := func(ids ...string) map[string]bool {
		m := map[string]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	check := func(name string, got, want map[string]bool) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("Providers", env.Providers, set("openai", "local"))
	check("Schedules", env.Schedules, set("office"))
	check("Teams", env.Teams, set("support"))
	check("Desks", env.Desks, set("desk", "inbox"))
	check("Knowledge", env.Knowledge, set("faq"))
	if env.Flows != nil {
		t.Errorf("Flows = %v, want nil", env.Flows)
	}
	empty := config.Default().FlowEnv()
	check("empty Providers", empty.Providers, set("local"))
	check("empty Schedules", empty.Schedules, set())
}

// Every kind's keys exist on its struct, and every secret-looking key is masked and hidden.
func TestFieldTags(t *testing.T) {
	t.Parallel()
	secretName := func(name string) bool {
		return strings.Contains(name, "secret") || strings.Contains(name, "password") ||
			strings.HasSuffix(name, "_key") || strings.HasSuffix(name, "_token") || strings.HasSuffix(name, "_hash") ||
			name == "token" || name == "headers"
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[config.Config](), reflect.TypeFor[config.Provider](), reflect.TypeFor[config.Channel](),
		reflect.TypeFor[config.Desk](), reflect.TypeFor[config.Agent](), reflect.TypeFor[config.LiveChatPAT](),
	} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if secretName(name) && (f.Tag.Get("secret") != "true" || f.Tag.Get("json") != "-") {
				t.Errorf("%s.%s (%s) holds a secret: tag it secret:\"true\" json:\"-\"", typ.Name(), f.Name, name)
			}
			if f.Tag.Get("secret") == "true" && f.Tag.Get("json") != "-" {
				t.Errorf("%s.%s is secret but shown in JSON", typ.Name(), f.Name)
			}
		}
	}
}

// TestWebhookDeskWithoutSecret: a webhook desk configured as GPTBots describes it (a URL, an
// optional username and password) loads; without a secret its callbacks are refused (the desk
// warns when built), which a conversation test, whose desk is mocked, never needs.
func TestWebhookDeskWithoutSecret(t *testing.T) {
	t.Parallel()
	src := "desks:\n  - {id: desk, kind: webhook, url: \"https://desk.example.com\", username: u, password: p}\n"
	c, err := config.Parse("tandem.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Desks) != 1 || c.Desks[0].URL != "https://desk.example.com" {
		t.Errorf("desks = %+v", c.Desks)
	}
}
