package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"time"
)

// Defaults of auth and limits, and the bound of a channel's max_text.
const (
	DefaultSessionIdle = 12 * time.Hour
	DefaultSessionMax  = 7 * 24 * time.Hour
	// MaxMaxText is the highest max_text a channel may set.
	MaxMaxText = 100_000

	// DefaultLongPolls caps waiting requests in total (also at most half the connections).
	DefaultLongPolls = 1024
	// DefaultLongPollsPerToken and DefaultLongPollsPerAgent cap one credential's.
	DefaultLongPollsPerToken = 512
	DefaultLongPollsPerAgent = 8
	// DefaultRateAPIToken and DefaultRateAgent are requests per second per credential.
	DefaultRateAPIToken = 10_000
	DefaultRateAgent    = 50

	maxConcurrentLimit = 1 << 20
	maxRate            = 1e9
)

// Auth sets how long agents' logins last.
type Auth struct {
	// SessionIdle ends a login unused this long; every use moves the end forward (sliding).
	SessionIdle Duration `yaml:"session_idle" json:"session_idle"`
	// SessionMax ends a login this long after it started, used or not.
	SessionMax Duration `yaml:"session_max" json:"session_max"`
}

// Limits bound what clients may take of the server. A count of 0 takes the default; a
// negative count or rate means no limit.
type Limits struct {
	// Connections caps open HTTP connections; past it, requests are answered 503 with
	// Retry-After and their connection closed (/healthz, /readyz and /metrics excepted).
	// 0: the process's open-file limit less 256 (so the server never runs out of them).
	Connections int `yaml:"connections" json:"connections"`
	// LongPolls caps the requests that wait (message long-polls, inbox event streams) in total
	// (503); the default is also bounded by half the connections.
	LongPolls int `yaml:"long_polls" json:"long_polls"`
	// LongPollsPerToken caps the waiting requests of one API token (429).
	LongPollsPerToken int `yaml:"long_polls_per_token" json:"long_polls_per_token"`
	// LongPollsPerAgent caps the waiting requests of one agent's login (429).
	LongPollsPerAgent int `yaml:"long_polls_per_agent" json:"long_polls_per_agent"`
	// Rate caps requests per second per credential.
	Rate Rates `yaml:"rate" json:"rate"`
	// TrustedProxies are the reverse proxies (CIDR prefixes or IPs) whose X-Forwarded-For
	// names the client: failed logins and new widget sessions are counted per client address.
	// Without them the address is the connection's peer (behind a proxy, the proxy's).
	TrustedProxies []string `yaml:"trusted_proxies" json:"trusted_proxies,omitempty"`
}

// TrustedPrefixes returns limits.trusted_proxies as prefixes.
func (l Limits) TrustedPrefixes() []netip.Prefix { return prefixes(l.TrustedProxies) }

// Rates are requests per second per credential, by kind of credential and by route. A
// credential's bucket holds twice its rate (at least 10), so short bursts pass.
type Rates struct {
	APIToken float64 `yaml:"api_token" json:"api_token"`
	Agent    float64 `yaml:"agent" json:"agent"`
	// Routes adds a rate per credential on a route, named as the API's route table names it
	// ("POST /api/v1/flows/{id}/publish"): a request takes from its credential's bucket and
	// from the route's.
	Routes map[string]float64 `yaml:"routes" json:"routes,omitempty"`
}

func (c *Config) applyLimitDefaults() {
	a := &c.Auth
	if a.SessionIdle == 0 {
		a.SessionIdle = Duration(DefaultSessionIdle)
	}
	if a.SessionMax == 0 {
		a.SessionMax = Duration(DefaultSessionMax)
	}
	l := &c.Limits
	for _, d := range []struct {
		v   *int
		def int
	}{{&l.LongPolls, DefaultLongPolls}, {&l.LongPollsPerToken, DefaultLongPollsPerToken}, {&l.LongPollsPerAgent, DefaultLongPollsPerAgent}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if l.Rate.APIToken == 0 {
		l.Rate.APIToken = DefaultRateAPIToken
	}
	if l.Rate.Agent == 0 {
		l.Rate.Agent = DefaultRateAgent
	}
}

// routeKey is how limits.rate.routes names a route.
var routeKey = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE) /\S*$`)

func (k *checker) limits() {
	a := k.c.Auth
	if a.SessionIdle < Duration(time.Minute) {
		k.problem("auth.session_idle", 0, "must be at least 1m")
	}
	if a.SessionMax < a.SessionIdle {
		k.problem("auth.session_max", 0, "must be at least auth.session_idle (%s)", a.SessionIdle)
	}
	l := k.c.Limits
	for _, c := range []struct {
		key string
		v   int
	}{{"connections", l.Connections}, {"long_polls", l.LongPolls}, {"long_polls_per_token", l.LongPollsPerToken}, {"long_polls_per_agent", l.LongPollsPerAgent}} {
		if c.v > maxConcurrentLimit {
			k.problem("limits."+c.key, 0, "%d is more than %d; use a negative number for no limit", c.v, maxConcurrentLimit)
		}
	}
	for _, r := range []struct {
		key string
		v   float64
	}{{"api_token", l.Rate.APIToken}, {"agent", l.Rate.Agent}} {
		if r.v > maxRate || r.v != r.v {
			k.problem("limits.rate."+r.key, 0, "%v is not a rate; use requests per second, or a negative number for no limit", r.v)
		}
	}
	for i, a := range l.TrustedProxies {
		if _, err := ParseAllow(a); err != nil {
			k.problem(fmt.Sprintf("limits.trusted_proxies[%d]", i), 0, "%v", err)
		}
	}
	for _, key := range l.RouteKeys() {
		path := fmt.Sprintf("limits.rate.routes.%s", key)
		if !routeKey.MatchString(key) {
			k.problem(path, 0, "%q is not a route; write it as METHOD /path, as in \"POST /api/v1/flows/{id}/publish\"", clip(key))
		}
		if v := l.Rate.Routes[key]; v == 0 || v > maxRate || v != v {
			k.problem(path, 0, "%v is not a rate; use requests per second, or a negative number for no limit", v)
		}
	}
}

// RouteKeys returns the routes limits.rate.routes names, sorted.
func (l Limits) RouteKeys() []string {
	keys := make([]string, 0, len(l.Rate.Routes))
	for k := range l.Rate.Routes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
