package config

import (
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/internal/registry"
	"github.com/tandemchat/tandem/schedule"
)

// kind is what one kind of provider, channel or desk reads: the keys it requires and the other
// keys it uses. A required secret that came from an unset ${VAR} is a warning, not an error.
type kind struct {
	required []string
	optional []string
}

// keys is the kind of a channel or desk kind that declares keys.
func keys(declared []registry.Key) kind {
	var k kind
	for _, key := range declared {
		if key.Required {
			k.required = append(k.required, key.Name)
		} else {
			k.optional = append(k.optional, key.Name)
		}
	}
	return k
}

// Provider kinds, in the order messages list them. Channel and desk kinds are those registered
// (packages channel and desk): each declares its keys.
var providerKinds = []string{"openai", "openai-responses", "openai-assistants", "dify", "chatbase", "webhook", "local"}

// channelKinds and deskKinds list the registered kinds (with the built-in inbox).
func channelKinds() []string { return channel.Kinds() }

func deskKinds() []string {
	return append([]string{InboxDesk}, slices.DeleteFunc(desk.Kinds(), func(k string) bool { return k == InboxDesk })...)
}

// channelSpec and deskSpec return what a registered kind reads.
func channelSpec(name string) (kind, bool) {
	k, ok := channel.Lookup(name)
	return keys(k.Keys), ok
}

func deskSpec(name string) (kind, bool) {
	if name == InboxDesk {
		return kind{}, true
	}
	k, ok := desk.Lookup(name)
	return keys(k.Keys), ok
}

func providerSpec(name string) (kind, bool) {
	k, ok := providerSpecs[name]
	return k, ok
}

// embeddingKinds are the provider kinds that offer embeddings, for knowledge bases.
var embeddingKinds = []string{"openai"}

// openAIHost is the one server with a default embedding model.
const openAIHost = "api.openai.com"

var openaiKeys = []string{"api_key", "base_url", "model", "organization", "project", "headers", "timeout", "max_tokens", "temperature"}

var providerSpecs = map[string]kind{
	"openai":            {optional: append([]string{"api_version"}, openaiKeys...)},
	"openai-responses":  {optional: append([]string{"prompt", "instructions"}, openaiKeys...)},
	"openai-assistants": {required: []string{"assistant_id"}, optional: append([]string{"instructions"}, openaiKeys...)},
	"dify":              {required: []string{"api_key"}, optional: []string{"base_url", "inputs", "response_mode", "headers", "timeout"}},
	"chatbase":          {required: []string{"api_key", "chatbot_id"}, optional: []string{"base_url", "model", "temperature", "api_version", "headers", "timeout"}},
	"webhook":           {required: []string{"url"}, optional: []string{"secret", "headers", "timeout"}},
	"local":             {},
}

// Enumerated values of a few provider keys, checked when set (channel and desk kinds check
// theirs in their Check).
var enums = map[string][]string{
	"response_mode": {"streaming", "blocking"},
}

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	langPattern = regexp.MustCompile(`^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$`)
)

// maxProviderTimeout bounds a provider call, like an http step's timeout (openai.md §2).
const maxProviderTimeout = 120 * time.Second

// Validate checks the whole configuration and returns every problem joined (each a *Problem
// naming the key path, and the line when the config came from a file), sorted by line. A
// required secret left empty by an unset ${VAR} is not an error.
func (c *Config) Validate() error {
	probs, _ := c.check()
	if len(probs) > 0 {
		return joinSorted(probs)
	}
	return nil
}

// checker collects the problems and warnings of one check.
type checker struct {
	c        *Config
	probs    []*Problem
	warnings []*Problem
}

func (k *checker) problem(path string, fallback int, format string, args ...any) {
	k.probs = append(k.probs, &Problem{File: k.c.Path, Line: k.c.line(path, fallback), Path: path, Message: fmt.Sprintf(format, args...)})
}

func (k *checker) warn(path string, fallback int, format string, args ...any) {
	k.warnings = append(k.warnings, &Problem{File: k.c.Path, Line: k.c.line(path, fallback), Path: path, Message: fmt.Sprintf(format, args...)})
}

// line returns the line of path or of its nearest parent that has one, else fallback.
func (c *Config) line(path string, fallback int) int {
	for p := path; p != ""; {
		if l, ok := c.pos[p]; ok && l > 0 {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return fallback
}

// check returns the problems (errors) and warnings of c.
func (c *Config) check() (probs, warnings []*Problem) {
	k := &checker{c: c}
	k.workspace()
	providers := k.providers()
	if c.DefaultProvider != "" && c.DefaultProvider != LocalProvider && !providers[c.DefaultProvider] {
		k.problem("default_provider", 0, "%q names no provider%s", c.DefaultProvider, k.choices(providers, LocalProvider))
	}
	for name := range c.Secrets {
		if !isEnvName(name) {
			k.problem("secrets."+name, 0, "%q is not a secret name (use letters, digits and _, as in {{secret.API_KEY}})", clip(name))
		}
	}
	k.knowledge(providers)
	k.channels()
	schedules := k.schedules()
	teams := k.teams(schedules)
	k.agents(teams)
	k.desks()
	k.handoff()
	k.http()
	k.limits()
	if m := c.Media.MaxBytes; m < 0 || m > MaxMediaMaxBytes {
		k.problem("media.max_bytes", k.c.line("media.max_bytes", 0), "%d is not between 0 (the default, %d) and %d", m, DefaultMediaMaxBytes, MaxMediaMaxBytes)
	}
	return k.probs, k.warnings
}

func (k *checker) choices(ids map[string]bool, extra ...string) string {
	var all []string
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		if id != "" {
			all = append(all, id)
		}
	}
	for _, e := range extra {
		if !slices.Contains(all, e) {
			all = append(all, e)
		}
	}
	if len(all) == 0 {
		return ""
	}
	if len(all) > 12 {
		all = append(all[:12], "...")
	}
	return " (defined: " + strings.Join(all, ", ") + ")"
}

func (k *checker) workspace() {
	w := k.c.Workspace
	if _, err := loadZone(w.Timezone); err != nil {
		k.problem("workspace.timezone", 0, "%q is not a time zone (use an IANA name such as America/Sao_Paulo)", clip(w.Timezone))
	}
	if w.Language != "" && !langPattern.MatchString(w.Language) {
		k.problem("workspace.language", 0, "%q is not a language tag (use one such as en, pt or pt-BR)", clip(w.Language))
	}
}

// ids checks the id of item i of a section: required, well formed, not used twice.
func (k *checker) ids(seen map[string]string, section string, i int, id string, line int) {
	path := fmt.Sprintf("%s[%d].id", section, i)
	switch {
	case id == "":
		k.problem(path, line, "required")
	case !idPattern.MatchString(id):
		k.problem(path, line, "%q is not an id (use letters, digits, - and _, at most 64)", clip(id))
	default:
		if first, dup := seen[id]; dup {
			k.problem(path, line, "%q is used twice (first as %s)", id, first)
			return
		}
		seen[id] = fmt.Sprintf("%s[%d]", section, i)
	}
}

// kind checks the kind of item v (a Provider, Channel or Desk) at path and the keys that kind
// requires and uses, and the keys of its Extra (those no field holds), which the kind must
// declare. It reports whether the kind is known.
func (k *checker) kind(path, what string, v reflect.Value, kinds []string, specs func(string) (kind, bool), line int) bool {
	name := v.FieldByName("Kind").String()
	spec, ok := specs(name)
	fields := yamlFields(v.Type())
	if extra := extraField(v); extra.IsValid() {
		for _, key := range slices.Sorted(maps.Keys(extra.Interface().(SecretMap))) {
			if ok && (slices.Contains(spec.required, key) || slices.Contains(spec.optional, key)) {
				continue
			}
			known := maps.Clone(fields)
			for _, kk := range append(slices.Clone(spec.required), spec.optional...) {
				known[kk] = 0
			}
			k.problem(path+"."+key, line, "unknown key%s", suggest(key, known))
		}
	}
	switch {
	case name == "":
		k.problem(path+".kind", line, "required; use one of %s", strings.Join(kinds, ", "))
		return false
	case !ok:
		hint := ""
		if best := closest(name, kinds); best != "" {
			hint = " (did you mean " + best + "?)"
		}
		k.problem(path+".kind", line, "%q is not a%s %s kind%s; use one of %s", clip(name), article(what), what, hint, strings.Join(kinds, ", "))
		return false
	}
	for _, key := range spec.required {
		if i, field := fields[key]; field && !v.Field(i).IsZero() {
			continue
		}
		if extra := extraField(v); extra.IsValid() && extra.Interface().(SecretMap)[key] != "" {
			continue
		}
		kp := path + "." + key
		if k.c.unset[kp] {
			continue // warned when expanded
		}
		k.problem(kp, line, "required by kind %s", name)
	}
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		f := v.Field(fields[key])
		if values, ok := enums[key]; ok && f.String() != "" && !slices.Contains(values, f.String()) {
			k.problem(path+"."+key, line, "%q is not one of %s", clip(f.String()), strings.Join(values, ", "))
		}
		if key == "id" || key == "kind" || f.IsZero() || slices.Contains(spec.required, key) || slices.Contains(spec.optional, key) {
			continue
		}
		k.warn(path+"."+key, line, "not used by kind %s", name)
	}
	return true
}

// kindProblems reports what a kind's Check found at path, but for keys whose value came from
// an unset ${VAR} (warned when expanded).
func (k *checker) kindProblems(path string, line int, probs []registry.KeyProblem) {
	for _, p := range probs {
		kp := path + "." + p.Key
		if !k.c.unset[kp] {
			k.problem(kp, line, "%s", p.Message)
		}
	}
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "n"
	}
	return ""
}

// url checks that s, when set, is an absolute http(s) URL.
func (k *checker) url(path string, line int, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		k.problem(path, line, "%q is not an http(s) URL (use one such as https://example.com/path)", clip(s))
	}
}

func (k *checker) timeout(path string, line int, d Duration, limit time.Duration) {
	if limit > 0 && d.D() > limit {
		k.problem(path, line, "%s is more than %s", d, Duration(limit))
	}
}

func (k *checker) providers() map[string]bool {
	seen := map[string]string{}
	ids := map[string]bool{}
	for i := range k.c.Providers {
		p := &k.c.Providers[i]
		path := fmt.Sprintf("providers[%d]", i)
		k.ids(seen, "providers", i, p.ID, p.Line)
		ids[p.ID] = true
		k.kind(path, "provider", reflect.ValueOf(p).Elem(), providerKinds, providerSpec, p.Line)
		k.url(path+".base_url", p.Line, p.BaseURL)
		k.url(path+".url", p.Line, p.URL)
		k.timeout(path+".timeout", p.Line, p.Timeout, maxProviderTimeout)
		if p.MaxTokens < 0 {
			k.problem(path+".max_tokens", p.Line, "must not be negative")
		}
		if p.Temperature != nil && (*p.Temperature < 0 || *p.Temperature > 2) {
			k.problem(path+".temperature", p.Line, "%g is not between 0 and 2", *p.Temperature)
		}
		if p.Kind == "openai-responses" && p.Model == "" && (p.Prompt == nil || p.Prompt.ID == "") {
			k.problem(path, p.Line, "kind openai-responses needs a prompt (prompt: {id: pmpt_..., version: \"2\"}) or a model")
		}
		if p.Prompt != nil && p.Prompt.ID == "" && !k.c.unset[path+".prompt.id"] {
			k.problem(path+".prompt.id", p.Line, "required")
		}
		if p.Kind == "chatbase" && p.APIVersion != "" && p.APIVersion != "v1" && p.APIVersion != "v2" {
			k.problem(path+".api_version", p.Line, "%q is not v1 or v2", clip(p.APIVersion))
		}
	}
	return ids
}

func (k *checker) knowledge(providers map[string]bool) {
	seen := map[string]string{}
	for i, kb := range k.c.Knowledge {
		path := fmt.Sprintf("knowledge[%d]", i)
		k.ids(seen, "knowledge", i, kb.ID, kb.Line)
		if len(kb.Sources) == 0 {
			k.problem(path+".sources", kb.Line, "required (list files such as ./kb/*.md)")
		}
		for j, src := range kb.Sources {
			sp := fmt.Sprintf("%s.sources[%d]", path, j)
			switch {
			case src == "":
				if !k.c.unset[sp] {
					k.problem(sp, kb.Line, "empty")
				}
			case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
				k.url(sp, kb.Line, src)
			default:
				if _, err := filepath.Match(src, ""); err != nil {
					k.problem(sp, kb.Line, "%q is not a file pattern (%v)", clip(src), err)
				}
			}
		}
		if kb.Embeddings != nil {
			k.embeddings(path+".embeddings", kb.Line, kb.Embeddings, providers)
		}
	}
}

// embeddings checks a knowledge base's embeddings: a provider whose kind offers them, and a
// model unless the provider is on api.openai.com.
func (k *checker) embeddings(path string, line int, e *Embeddings, providers map[string]bool) {
	use := "use a provider of kind " + strings.Join(embeddingKinds, " or ")
	p, ok := k.c.Provider(e.Provider)
	switch {
	case e.Provider == "":
		if !k.c.unset[path+".provider"] {
			k.problem(path+".provider", line, "required (the id of a provider of kind %s)", strings.Join(embeddingKinds, " or "))
		}
		return
	case !ok:
		k.problem(path+".provider", line, "%q names no provider%s", clip(e.Provider), k.choices(providers))
		return
	case !slices.Contains(embeddingKinds, p.Kind):
		k.problem(path+".provider", line, "provider %q is of kind %s, which offers no embeddings; %s", e.Provider, p.Kind, use)
		return
	}
	if e.Model != "" || k.c.unset[path+".model"] {
		return
	}
	host := openAIHost
	if u, err := url.Parse(p.BaseURL); p.BaseURL != "" && err == nil {
		host = strings.ToLower(u.Hostname())
	}
	if host != openAIHost {
		k.problem(path+".model", line, "required with provider %q: only %s has a default embedding model; name the server's (on Ollama, nomic-embed-text for example; on Azure, the deployment)", e.Provider, openAIHost)
	}
}

func (k *checker) channels() {
	seen := map[string]string{}
	for i := range k.c.Channels {
		ch := &k.c.Channels[i]
		path := fmt.Sprintf("channels[%d]", i)
		k.ids(seen, "channels", i, ch.ID, ch.Line)
		if k.kind(path, "channel", reflect.ValueOf(ch).Elem(), channelKinds(), channelSpec, ch.Line) {
			if kd, _ := channel.Lookup(ch.Kind); kd.Check != nil {
				k.kindProblems(path, ch.Line, kd.Check(ch.Config()))
			}
		}
		k.url(path+".outbound_url", ch.Line, ch.OutboundURL)
		k.url(path+".base_url", ch.Line, ch.BaseURL)
		if ch.MaxText < 0 || ch.MaxText > MaxMaxText {
			k.problem(path+".max_text", ch.Line, "must be from 1 to %d characters", MaxMaxText)
		}
		k.url(path+".public_url", ch.Line, ch.PublicURL)
		for _, n := range []struct {
			key string
			v   int64
		}{{"max_upload_bytes", ch.MaxUploadBytes}, {"rate_limit", int64(ch.RateLimit)}, {"max_text", int64(ch.MaxText)}, {"session_ttl", int64(ch.SessionTTL)}} {
			if n.v < 0 {
				k.problem(path+"."+n.key, ch.Line, "must not be negative")
			}
		}
		if ch.MaxUploadBytes > MaxUploadBytes {
			k.problem(path+".max_upload_bytes", ch.Line, "%d is more than %d (256 MiB), the largest file the database keeps", ch.MaxUploadBytes, MaxUploadBytes)
		}
	}
}

// schedules checks ids and builds each schedule, and returns the ids.
func (k *checker) schedules() map[string]bool {
	ids := map[string]bool{}
	seen := map[string]string{}
	loc := k.c.Location()
	for i, sc := range k.c.Schedules {
		if sc.ID != "" {
			k.ids(seen, "schedules", i, sc.ID, 0)
		}
		ids[sc.ID] = true
		if _, err := schedule.New(sc, loc); err != nil {
			k.probs = append(k.probs, k.c.scheduleProblems(i, err)...)
		}
	}
	return ids
}

// scheduleProblems turns the errors of schedule.New for schedules[i] into problems at the line
// of the field they name (`schedule "office": weekly[1].from: ...`).
func (c *Config) scheduleProblems(i int, err error) []*Problem {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	base := fmt.Sprintf("schedules[%d]", i)
	var out []*Problem
	for _, e := range errs {
		msg := e.Error()
		if rest, ok := strings.CutPrefix(msg, "schedule"); ok {
			if _, after, ok := strings.Cut(rest, ": "); ok {
				msg = after
			}
		}
		path := base
		if field, text, ok := strings.Cut(msg, ": "); ok {
			key, _, spaced := strings.Cut(field, " ")
			if key != "" && !strings.ContainsAny(key, "\"") {
				path = base + "." + key
				if spaced {
					msg = strings.TrimPrefix(msg, key+" ")
				} else {
					msg = text
				}
			}
		}
		out = append(out, &Problem{File: c.Path, Line: c.line(path, 0), Path: path, Message: msg})
	}
	return out
}

func (k *checker) teams(schedules map[string]bool) map[string]bool {
	ids := map[string]bool{}
	seen := map[string]string{}
	for i, t := range k.c.Teams {
		path := fmt.Sprintf("teams[%d]", i)
		k.ids(seen, "teams", i, t.ID, t.Line)
		ids[t.ID] = true
		if t.Strategy != StrategyRoundRobin && t.Strategy != StrategyLeastBusy {
			k.problem(path+".strategy", t.Line, "%q is not a strategy; use round_robin or least_busy", clip(t.Strategy))
		}
		if t.Schedule != "" && !schedules[t.Schedule] {
			k.problem(path+".schedule", t.Line, "%q names no schedule%s", clip(t.Schedule), k.choices(schedules))
		}
	}
	return ids
}

func (k *checker) agents(teams map[string]bool) {
	seen := map[string]string{}
	for i, a := range k.c.Agents {
		path := fmt.Sprintf("agents[%d]", i)
		local, domain, ok := strings.Cut(a.Email, "@")
		switch {
		case a.Email == "":
			k.problem(path+".email", a.Line, "required")
		case !ok || local == "" || domain == "" || strings.ContainsAny(a.Email, " \t<>,;") || strings.Contains(domain, "@"):
			k.problem(path+".email", a.Line, "%q is not an email address", clip(a.Email))
		default:
			key := strings.ToLower(a.Email)
			if first, dup := seen[key]; dup {
				k.problem(path+".email", a.Line, "%q is used twice (first as %s)", a.Email, first)
			} else {
				seen[key] = path
			}
		}
		if a.Role != RoleAgent && a.Role != RoleAdmin {
			k.problem(path+".role", a.Line, "%q is not a role; use agent or admin", clip(a.Role))
		}
		for j, t := range a.Teams {
			if !teams[t] {
				k.problem(fmt.Sprintf("%s.teams[%d]", path, j), a.Line, "%q names no team%s", clip(t), k.choices(teams))
			}
		}
	}
}

func (k *checker) desks() {
	seen := map[string]string{}
	for i := range k.c.Desks {
		d := &k.c.Desks[i]
		path := fmt.Sprintf("desks[%d]", i)
		k.ids(seen, "desks", i, d.ID, d.Line)
		if k.kind(path, "desk", reflect.ValueOf(d).Elem(), deskKinds(), deskSpec, d.Line) {
			if kd, _ := desk.Lookup(d.Kind); kd.Check != nil {
				k.kindProblems(path, d.Line, kd.Check(d.Config()))
			}
		}
		k.url(path+".url", d.Line, d.URL)
		k.url(path+".base_url", d.Line, d.BaseURL)
		k.url(path+".accounts_url", d.Line, d.AccountsURL)
		k.url(path+".health_url", d.Line, d.HealthURL)
		k.url(path+".redirect_uri", d.Line, d.RedirectURI)
		k.timeout(path+".timeout", d.Line, d.Timeout, 0)
		if d.AccountID < 0 {
			k.problem(path+".account_id", d.Line, "must not be negative")
		}
		if d.InboxID < 0 {
			k.problem(path+".inbox_id", d.Line, "must not be negative")
		}
	}
}

func (k *checker) handoff() {
	h := k.c.Handoff
	if h.WaitTimeout <= 0 {
		k.problem("handoff.wait_timeout", 0, "must be more than 0s")
	}
	if h.SessionTimeout <= 0 {
		k.problem("handoff.session_timeout", 0, "must be more than 0s")
	}
	if h.TransferRounds < 0 {
		k.problem("handoff.transfer_rounds", 0, "must not be negative")
	}
}

func (k *checker) http() {
	for i, a := range k.c.HTTP.Allow {
		if _, err := ParseAllow(a); err != nil {
			k.problem(fmt.Sprintf("http.allow[%d]", i), 0, "%v", err)
		}
	}
	if k.c.HTTP.Proxy != "" {
		if _, err := k.c.HTTP.ProxyURL(); err != nil {
			k.problem("http.proxy", 0, "%v", err)
		}
	}
}

// ProxyURL returns http.proxy parsed (nil when unset): an http, https or socks5 URL with a host.
func (h HTTP) ProxyURL() (*url.URL, error) {
	if h.Proxy == "" {
		return nil, nil
	}
	u, err := url.Parse(h.Proxy)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") {
		// The value may hold a password: it is not repeated.
		return nil, fmt.Errorf("is not a proxy URL; use one such as http://proxy.internal:3128")
	}
	return u, nil
}

// ParseAllow reads an http.allow entry: a CIDR prefix ("10.0.0.0/8") or one IP address.
func ParseAllow(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not an IP address or a CIDR prefix (use one such as 10.0.0.0/8)", clip(s))
}

// Prefixes returns the allow list as prefixes, skipping entries that do not parse.
func (h HTTP) Prefixes() []netip.Prefix { return prefixes(h.Allow) }

// prefixes reads a list of CIDR prefixes or IPs, skipping entries that do not parse
// (validation reports them).
func prefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range list {
		if p, err := ParseAllow(a); err == nil {
			out = append(out, p)
		}
	}
	return out
}
