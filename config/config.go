// Package config reads tandem.yaml: everything about a workspace that is not a flow (AI
// providers, channels, desks, schedules, teams, agents, handoff defaults). It owns one Config
// struct, its defaults, Load/Parse and Validate, whose errors name the file, the line and the key
// path. It expands ${ENV} in values, never prints secrets (String, LogValue and JSON mask or hide
// them) and holds no package state. It does not open connections nor read flows. Channel and
// desk kinds are those registered in packages channel and desk: each declares the keys it reads
// and checks its values, so a build validates the kinds it links.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/schedule"
)

// Defaults applied to keys a file leaves out.
const (
	DefaultWorkspaceName  = "Tandem"
	DefaultTimezone       = "UTC"
	DefaultLanguage       = "en"
	DefaultWaitTimeout    = 60 * time.Second
	DefaultSessionTimeout = 180 * time.Second
	DefaultTransferRounds = 10
	// LocalProvider is the built-in offline provider, always available.
	LocalProvider = "local"
	// InboxDesk is the built-in desk (Tandem's own agent inbox), always available.
	InboxDesk = "inbox"
	// StrategyRoundRobin and StrategyLeastBusy are the team assignment strategies.
	StrategyRoundRobin = "round_robin"
	StrategyLeastBusy  = "least_busy"
	// RoleAgent and RoleAdmin are the agent roles.
	RoleAgent = "agent"
	RoleAdmin = "admin"
)

// Config is one tandem.yaml, decoded, completed with defaults and validated.
type Config struct {
	Workspace Workspace `yaml:"workspace" json:"workspace"`
	// Flows is the folder of flow files as written, relative to the config file's folder;
	// FlowsDir is that folder resolved to an absolute path ("" when Flows is empty).
	Flows           string     `yaml:"flows" json:"flows,omitempty"`
	Providers       []Provider `yaml:"providers" json:"providers"`
	DefaultProvider string     `yaml:"default_provider" json:"default_provider"`
	// Secrets are the values of {{secret.NAME}} in flows; never printed nor marshalled.
	Secrets   SecretMap         `yaml:"secrets" json:"-" secret:"true"`
	Knowledge []Knowledge       `yaml:"knowledge" json:"knowledge"`
	Channels  []Channel         `yaml:"channels" json:"channels"`
	Schedules []schedule.Config `yaml:"schedules" json:"schedules"`
	Teams     []Team            `yaml:"teams" json:"teams"`
	Agents    []Agent           `yaml:"agents" json:"agents"`
	Desks     []Desk            `yaml:"desks" json:"desks"`
	Handoff   Handoff           `yaml:"handoff" json:"handoff"`
	// HTTP is an extension: which private addresses http steps and webhooks may reach.
	HTTP HTTP `yaml:"http" json:"http"`
	// Auth is an extension: how long agents' logins last.
	Auth Auth `yaml:"auth" json:"auth"`
	// Media is an extension: the files customers send on WhatsApp and Telegram.
	Media Media `yaml:"media" json:"media"`
	// Limits is an extension: connections, long-polls and request rates clients may use.
	Limits Limits `yaml:"limits" json:"limits"`

	Path     string `yaml:"-" json:"-"` // the file it was loaded from ("" for Default())
	Dir      string `yaml:"-" json:"-"` // the absolute folder of Path ("" for Default())
	FlowsDir string `yaml:"-" json:"-"` // Flows resolved against Dir, absolute
	// Warnings are problems that do not stop loading, such as an unset ${VAR}, each formatted
	// like an error: `tandem.yaml:4: ${OPENAI_API_KEY} is not set; providers[0].api_key is empty`.
	Warnings []string `yaml:"-" json:"warnings,omitempty"`

	pos   map[string]int  // key path → line, from the file
	unset map[string]bool // key paths whose value used an unset ${VAR}
	loc   *time.Location  // the zone of Workspace.Timezone when loaded
}

// Workspace names the workspace and its defaults for time and language.
type Workspace struct {
	Name     string `yaml:"name" json:"name"`
	Timezone string `yaml:"timezone" json:"timezone"` // IANA name, default UTC
	Language string `yaml:"language" json:"language"` // BCP 47 tag, default en
}

// Provider is an AI provider that flows name by id. Which fields apply depends on Kind.
type Provider struct {
	ID   string `yaml:"id" json:"id"`
	Kind string `yaml:"kind" json:"kind"`
	// APIKey is the provider's key: openai*, dify, chatbase.
	APIKey  string `yaml:"api_key" json:"-" secret:"true"`
	BaseURL string `yaml:"base_url" json:"base_url,omitempty"`
	Model   string `yaml:"model" json:"model,omitempty"`
	// Organization, Project (OpenAI headers) and APIVersion (Azure's api-version, Chatbase v1|v2).
	Organization string `yaml:"organization" json:"organization,omitempty"`
	Project      string `yaml:"project" json:"project,omitempty"`
	APIVersion   string `yaml:"api_version" json:"api_version,omitempty"`
	// Prompt and Instructions: openai-responses (instructions also openai-assistants).
	Prompt       *Prompt `yaml:"prompt" json:"prompt,omitempty"`
	Instructions string  `yaml:"instructions" json:"instructions,omitempty"`
	AssistantID  string  `yaml:"assistant_id" json:"assistant_id,omitempty"` // openai-assistants
	ChatbotID    string  `yaml:"chatbot_id" json:"chatbot_id,omitempty"`     // chatbase
	// URL and Secret: the webhook provider's endpoint and the key its requests are signed with.
	URL    string `yaml:"url" json:"url,omitempty"`
	Secret string `yaml:"secret" json:"-" secret:"true"`
	// Inputs (Dify app inputs, values may be templates) and ResponseMode (streaming|blocking).
	Inputs       map[string]string `yaml:"inputs" json:"inputs,omitempty"`
	ResponseMode string            `yaml:"response_mode" json:"response_mode,omitempty"`
	// Headers are sent with every request; values are masked when printed and hidden in JSON.
	Headers     SecretMap `yaml:"headers" json:"-" secret:"true"`
	Timeout     Duration  `yaml:"timeout" json:"timeout,omitempty"` // per call, ≤ 120s; 0: the adapter's default
	MaxTokens   int       `yaml:"max_tokens" json:"max_tokens,omitempty"`
	Temperature *float64  `yaml:"temperature" json:"temperature,omitempty"`
	Line        int       `yaml:"-" json:"-"` // line in the file, 0 when not loaded from one
}

// Prompt is a stored OpenAI prompt (Responses API); Version accepts a number or text.
type Prompt struct {
	ID      string `yaml:"id" json:"id"`
	Version string `yaml:"version" json:"version,omitempty"`
}

// Knowledge is a knowledge base: files (globs relative to the config's folder) or URLs.
type Knowledge struct {
	ID      string   `yaml:"id" json:"id"`
	Sources []string `yaml:"sources" json:"sources"`
	// Embeddings is an extension: hybrid ranking (full text fused with vectors) with the
	// embeddings of a configured provider. nil: full text only, offline.
	Embeddings *Embeddings `yaml:"embeddings" json:"embeddings,omitempty"`
	Line       int         `yaml:"-" json:"-"`
}

// Embeddings names the provider that embeds a knowledge base's passages and the questions
// asked of it, and its embedding model.
type Embeddings struct {
	Provider string `yaml:"provider" json:"provider"` // the id of a provider whose kind offers embeddings
	// Model is the embedding model; "" only on api.openai.com, which defaults to
	// text-embedding-3-small.
	Model string `yaml:"model" json:"model,omitempty"`
}

// Channel is a way in for customers. Which fields apply depends on Kind.
type Channel struct {
	ID   string `yaml:"id" json:"id"`
	Kind string `yaml:"kind" json:"kind"`
	// api: where bot and agent messages are POSTed (optional: else they are only polled), and
	// the key of their X-Tandem-Signature.
	OutboundURL string `yaml:"outbound_url" json:"outbound_url,omitempty"`
	Secret      string `yaml:"secret" json:"-" secret:"true"`
	// web: allowed page origins and identity verification (web-widget.md B4).
	AllowedOrigins         []string `yaml:"allowed_origins" json:"allowed_origins,omitempty"`
	IdentitySecret         string   `yaml:"identity_secret" json:"-" secret:"true"`
	IdentitySecretPrevious string   `yaml:"identity_secret_previous" json:"-" secret:"true"`
	IdentityRequired       bool     `yaml:"identity_required" json:"identity_required,omitempty"`
	// web: how long an unused session lasts (default 180 days), the largest upload (default
	// 10 MiB, at most MaxUploadBytes), messages a session may send per 10 seconds (default 10), the longest text
	// (default 4096; also api), and the widget's look.
	SessionTTL     Duration `yaml:"session_ttl" json:"session_ttl,omitempty"`
	MaxUploadBytes int64    `yaml:"max_upload_bytes" json:"max_upload_bytes,omitempty"`
	RateLimit      int      `yaml:"rate_limit" json:"rate_limit,omitempty"`
	MaxText        int      `yaml:"max_text" json:"max_text,omitempty"`
	Title          string   `yaml:"title" json:"title,omitempty"`
	Color          string   `yaml:"color" json:"color,omitempty"`
	Position       string   `yaml:"position" json:"position,omitempty"`
	LauncherText   string   `yaml:"launcher_text" json:"launcher_text,omitempty"`
	// whatsapp (Cloud API).
	PhoneNumberID string `yaml:"phone_number_id" json:"phone_number_id,omitempty"`
	AccessToken   string `yaml:"access_token" json:"-" secret:"true"`
	AppSecret     string `yaml:"app_secret" json:"-" secret:"true"`
	VerifyToken   string `yaml:"verify_token" json:"-" secret:"true"`
	APIVersion    string `yaml:"api_version" json:"api_version,omitempty"`
	BaseURL       string `yaml:"base_url" json:"base_url,omitempty"` // whatsapp, telegram: another API server
	// telegram.
	BotToken    string `yaml:"bot_token" json:"-" secret:"true"`
	SecretToken string `yaml:"secret_token" json:"-" secret:"true"`
	// PublicURL is this server's public address as the platform reaches it: Telegram's
	// setWebhook, and the webhook URLs the channel's health shows (whatsapp, telegram).
	PublicURL string `yaml:"public_url" json:"public_url,omitempty"`
	// Extra holds the keys of the entry that no field above holds, by name, as written (single
	// values only): keys that only the entry's kind declares (channel.Kind.Keys); a key no
	// kind declares is refused. Its values are never printed.
	Extra SecretMap `yaml:"-" json:"-" extra:"true"`
	Line  int       `yaml:"-" json:"-"`
}

// Media bounds the files kept from customers (downloaded from WhatsApp and Telegram).
type Media struct {
	// MaxBytes is the largest file kept (default 20 MiB, at most 100 MiB); a larger one is
	// recorded with the reason and not downloaded.
	MaxBytes int64 `yaml:"max_bytes" json:"max_bytes,omitempty"`
}

// DefaultMediaMaxBytes and MaxMediaMaxBytes bound media.max_bytes.
const (
	DefaultMediaMaxBytes = 20 << 20
	MaxMediaMaxBytes     = 100 << 20
)

// MaxUploadBytes bounds a web channel's max_upload_bytes: the database keeps each file whole.
const MaxUploadBytes = 256 << 20

// Team is a group of agents that handoffs are queued for.
type Team struct {
	ID       string   `yaml:"id" json:"id"`
	Name     string   `yaml:"name" json:"name"`         // default: ID
	Strategy string   `yaml:"strategy" json:"strategy"` // round_robin (default) | least_busy
	Members  []string `yaml:"members" json:"members,omitempty"`
	// ReassignAfter moves an unanswered assignment to another member; 0: never.
	ReassignAfter Duration `yaml:"reassign_after" json:"reassign_after,omitempty"`
	Schedule      string   `yaml:"schedule" json:"schedule,omitempty"` // a schedule id
	Line          int      `yaml:"-" json:"-"`
}

// Agent is a login of the agent inbox; agents can also be created with the API or the CLI.
type Agent struct {
	Email        string   `yaml:"email" json:"email"`
	Name         string   `yaml:"name" json:"name,omitempty"`
	PasswordHash string   `yaml:"password_hash" json:"-" secret:"true"`
	Role         string   `yaml:"role" json:"role"` // agent (default) | admin
	Teams        []string `yaml:"teams" json:"teams,omitempty"`
	Line         int      `yaml:"-" json:"-"`
}

// Desk is an external human-handoff target. Which fields apply depends on Kind; the keys past
// those of server.md come from the desk contracts (intercom.md, livechat.md, handoff-webhook.md,
// chatwoot.md).
type Desk struct {
	ID   string `yaml:"id" json:"id"`
	Kind string `yaml:"kind" json:"kind"`
	// intercom.
	AccessToken  string `yaml:"access_token" json:"-" secret:"true"`
	ClientSecret string `yaml:"client_secret" json:"-" secret:"true"` // intercom; livechat agent_token grant
	AdminID      string `yaml:"admin_id" json:"admin_id,omitempty"`
	Region       string `yaml:"region" json:"region,omitempty"` // us | eu | au
	APIVersion   string `yaml:"api_version" json:"api_version,omitempty"`
	TeamID       string `yaml:"team_id" json:"team_id,omitempty"`
	ContactRole  string `yaml:"contact_role" json:"contact_role,omitempty"` // user | lead
	CloseOnEnd   *bool  `yaml:"close_on_end" json:"close_on_end,omitempty"`
	ShareEmail   *bool  `yaml:"share_email" json:"share_email,omitempty"` // intercom: give Intercom the contact's e-mail
	// livechat.
	OrganizationID string       `yaml:"organization_id" json:"organization_id,omitempty"`
	ClientID       string       `yaml:"client_id" json:"client_id,omitempty"`
	SecretKey      string       `yaml:"secret_key" json:"-" secret:"true"`
	GroupID        int          `yaml:"group_id" json:"group_id,omitempty"`
	CustomerGrant  string       `yaml:"customer_grant" json:"customer_grant,omitempty"` // agent_token | cookie
	RefreshToken   string       `yaml:"refresh_token" json:"-" secret:"true"`
	RedirectURI    string       `yaml:"redirect_uri" json:"redirect_uri,omitempty"`
	PAT            *LiveChatPAT `yaml:"pat" json:"-"`
	Continuous     bool         `yaml:"continuous" json:"continuous,omitempty"`
	IgnoreBots     *bool        `yaml:"ignore_bots" json:"ignore_bots,omitempty"`
	// AccountsURL is LiveChat's accounts server (tokens), beside base_url (the Web API).
	AccountsURL string `yaml:"accounts_url" json:"accounts_url,omitempty"`
	// webhook.
	URL       string `yaml:"url" json:"url,omitempty"`
	Username  string `yaml:"username" json:"username,omitempty"`
	Password  string `yaml:"password" json:"-" secret:"true"`
	Secret    string `yaml:"secret" json:"-" secret:"true"`
	HealthURL string `yaml:"health_url" json:"health_url,omitempty"`
	// chatwoot (BaseURL: every kind but webhook, for regions, self-hosted servers and tests).
	BaseURL       string `yaml:"base_url" json:"base_url,omitempty"`
	AccountID     int    `yaml:"account_id" json:"account_id,omitempty"`
	InboxID       int    `yaml:"inbox_id" json:"inbox_id,omitempty"`
	APIToken      string `yaml:"api_token" json:"-" secret:"true"`
	WebhookSecret string `yaml:"webhook_secret" json:"-" secret:"true"` // the inbox's HMAC key
	WebhookToken  string `yaml:"webhook_token" json:"-" secret:"true"`
	Team          string `yaml:"team" json:"team,omitempty"`
	// PollInterval: chatwoot reconciliation; nil: the adapter's default, 0: off.
	PollInterval *Duration `yaml:"poll_interval" json:"poll_interval,omitempty"`
	Timeout      Duration  `yaml:"timeout" json:"timeout,omitempty"` // per HTTP attempt; 0: the adapter's default
	// Extra holds the keys of the entry that no field above holds, as Channel.Extra does
	// (desk.Kind.Keys).
	Extra SecretMap `yaml:"-" json:"-" extra:"true"`
	Line  int       `yaml:"-" json:"-"`
}

// LiveChatPAT is a LiveChat personal access token, used for setup and health checks.
type LiveChatPAT struct {
	AccountID string `yaml:"account_id" json:"account_id"`
	Token     string `yaml:"token" json:"-" secret:"true"`
}

// Handoff holds the defaults of handoff steps and of the agent tool.
type Handoff struct {
	WaitTimeout    Duration `yaml:"wait_timeout" json:"wait_timeout"`       // default 60s
	SessionTimeout Duration `yaml:"session_timeout" json:"session_timeout"` // default 180s
	TransferRounds int      `yaml:"transfer_rounds" json:"transfer_rounds"` // default 10
}

// HTTP lets outbound HTTP reach private addresses, which the SSRF guard refuses by default.
type HTTP struct {
	AllowPrivate bool     `yaml:"allow_private" json:"allow_private,omitempty"` // every private address
	Allow        []string `yaml:"allow" json:"allow,omitempty"`                 // CIDR prefixes or single IPs
	// Proxy carries http steps' calls (HTTP_PROXY and HTTPS_PROXY are not used by them); it may
	// hold credentials, so it is printed masked.
	Proxy string `yaml:"proxy" json:"-" secret:"true"`
}

// Default returns the empty workspace with its defaults: what `tandem serve` uses without
// --config.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	c.loc = time.UTC
	return c
}

// Load reads the file at path and parses it with the process environment; see Parse.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src, os.LookupEnv)
}

// Parse decodes src (YAML, or JSON) as the file at path: it expands ${NAME} and
// ${NAME:-default} in values (not keys; $${ is a literal ${) with lookup (nil: an empty
// environment), refuses unknown keys (top-level keys starting with x- are ignored, to hold
// anchors), applies the defaults and validates. An unset ${NAME} is a warning, not an error.
// The error joins every problem (*Problem), sorted by line. path is only used in messages and
// to resolve relative paths.
func Parse(path string, src []byte, lookup func(string) (string, bool)) (*Config, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	c := &Config{Path: path}
	if path != "" {
		if abs, err := filepath.Abs(path); err == nil {
			c.Dir = filepath.Dir(abs)
		} else {
			c.Dir = filepath.Dir(path)
		}
	}
	d := &decoder{file: path, lookup: lookup, pos: map[string]int{}, unset: map[string]bool{}, budget: maxNodes}
	d.document(src, c)
	c.pos, c.unset = d.pos, d.unset
	c.applyDefaults()
	probs, warns := c.check()
	probs = d.keepNew(probs)
	warns = append(d.warnings, warns...)
	sortByLine(warns)
	for _, w := range warns {
		c.Warnings = append(c.Warnings, w.Error())
	}
	if all := append(d.problems, probs...); len(all) > 0 {
		return nil, joinSorted(all)
	}
	if c.Flows != "" {
		c.FlowsDir = c.Abs(c.Flows)
	}
	c.loc, _ = loadZone(c.Workspace.Timezone)
	return c, nil
}

// applyDefaults fills what the file left out.
func (c *Config) applyDefaults() {
	if c.Workspace.Name == "" {
		c.Workspace.Name = DefaultWorkspaceName
	}
	if c.Workspace.Timezone == "" {
		c.Workspace.Timezone = DefaultTimezone
	}
	if c.Workspace.Language == "" {
		c.Workspace.Language = DefaultLanguage
	}
	if c.DefaultProvider == "" {
		c.DefaultProvider = LocalProvider
		if len(c.Providers) > 0 && c.Providers[0].ID != "" {
			c.DefaultProvider = c.Providers[0].ID
		}
	}
	if !c.written("handoff.wait_timeout") && c.Handoff.WaitTimeout == 0 {
		c.Handoff.WaitTimeout = Duration(DefaultWaitTimeout)
	}
	if !c.written("handoff.session_timeout") && c.Handoff.SessionTimeout == 0 {
		c.Handoff.SessionTimeout = Duration(DefaultSessionTimeout)
	}
	if !c.written("handoff.transfer_rounds") && c.Handoff.TransferRounds == 0 {
		c.Handoff.TransferRounds = DefaultTransferRounds
	}
	for i := range c.Teams {
		t := &c.Teams[i]
		if t.Strategy == "" {
			t.Strategy = StrategyRoundRobin
		}
		if t.Name == "" {
			t.Name = t.ID
		}
	}
	for i := range c.Agents {
		if c.Agents[i].Role == "" {
			c.Agents[i].Role = RoleAgent
		}
	}
	c.applyLimitDefaults()
}

// written reports whether the file set the key at path (to a value, not an unset ${VAR}).
func (c *Config) written(path string) bool {
	_, ok := c.pos[path]
	return ok && !c.unset[path]
}

// Abs resolves a path written in the file (flows, knowledge sources) against the file's folder.
func (c *Config) Abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	p = filepath.Join(c.Dir, p)
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// Location returns the workspace time zone (UTC when Timezone does not name one).
func (c *Config) Location() *time.Location {
	if c.loc != nil && c.loc.String() == c.Workspace.Timezone {
		return c.loc
	}
	loc, err := loadZone(c.Workspace.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// loadZone loads an IANA zone; "" is UTC and "Local" is refused (it differs per machine).
func loadZone(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, errors.New("local zone")
	}
	return time.LoadLocation(name)
}

// BuildSchedules builds every schedule, keyed by id; those without a zone use the workspace's.
func (c *Config) BuildSchedules() (map[string]*schedule.Schedule, error) {
	out := make(map[string]*schedule.Schedule, len(c.Schedules))
	var probs []*Problem
	loc := c.Location()
	for i, sc := range c.Schedules {
		s, err := schedule.New(sc, loc)
		if err != nil {
			probs = append(probs, c.scheduleProblems(i, err)...)
			continue
		}
		out[sc.ID] = s
	}
	if len(probs) > 0 {
		return nil, joinSorted(probs)
	}
	return out, nil
}

// FlowEnv returns the ids a flow may name, for flow.Validate: providers (with "local"),
// schedules, teams, desks (with "inbox") and knowledge bases. Flows is left nil.
func (c *Config) FlowEnv() *flow.Env {
	env := &flow.Env{
		Providers: map[string]bool{LocalProvider: true},
		Schedules: map[string]bool{},
		Teams:     map[string]bool{},
		Desks:     map[string]bool{InboxDesk: true},
		Knowledge: map[string]bool{},
		// The built-in provider, unless the file gives the id another kind.
		ProviderKinds:   map[string]string{LocalProvider: "local"},
		DefaultProvider: c.DefaultProvider,
	}
	for _, p := range c.Providers {
		env.Providers[p.ID] = true
		env.ProviderKinds[p.ID] = p.Kind
	}
	for _, s := range c.Schedules {
		env.Schedules[s.ID] = true
	}
	for _, t := range c.Teams {
		env.Teams[t.ID] = true
	}
	for _, d := range c.Desks {
		env.Desks[d.ID] = true
	}
	for _, k := range c.Knowledge {
		env.Knowledge[k.ID] = true
	}
	return env
}

// Provider returns the provider with the id (a pointer into c); "local" is always found (the built-in one unless
// the file declares it).
func (c *Config) Provider(id string) (*Provider, bool) {
	for i := range c.Providers {
		if c.Providers[i].ID == id {
			return &c.Providers[i], true
		}
	}
	if id == LocalProvider {
		return &Provider{ID: LocalProvider, Kind: "local"}, true
	}
	return nil, false
}

// Channel returns the channel with the id.
func (c *Config) Channel(id string) (*Channel, bool) {
	for i := range c.Channels {
		if c.Channels[i].ID == id {
			return &c.Channels[i], true
		}
	}
	return nil, false
}

// Desk returns the desk with the id; "inbox" is always found.
func (c *Config) Desk(id string) (*Desk, bool) {
	for i := range c.Desks {
		if c.Desks[i].ID == id {
			return &c.Desks[i], true
		}
	}
	if id == InboxDesk {
		return &Desk{ID: InboxDesk, Kind: "inbox"}, true
	}
	return nil, false
}

// Team returns the team with the id.
func (c *Config) Team(id string) (*Team, bool) {
	for i := range c.Teams {
		if c.Teams[i].ID == id {
			return &c.Teams[i], true
		}
	}
	return nil, false
}

// Agent returns the agent with the email, compared without case.
func (c *Config) Agent(email string) (*Agent, bool) {
	for i := range c.Agents {
		if strings.EqualFold(c.Agents[i].Email, email) {
			return &c.Agents[i], true
		}
	}
	return nil, false
}

// Problem is one thing wrong in a configuration, with where it is.
type Problem struct {
	File    string // as given to Parse; "" when unknown
	Line    int    // 0 when unknown
	Path    string // key path such as providers[1].kind; "" for the whole file
	Message string
}

// Error formats the problem as `tandem.yaml:12: providers[1].kind: message`.
func (p *Problem) Error() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}
