package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/internal/clientaddr"
	"github.com/tandemchat/tandem/internal/ratelimit"
)

// newLimiter is a credential's bucket: rate requests a second, twice as many (at least 10) at
// once.
func newLimiter(rate float64) *ratelimit.Limiter {
	return ratelimit.New(rate, math.Max(rate*2, 10))
}

// loginLimiter throttles failed password logins, which need no token. Only failures count: a
// login that succeeds gives its attempt back, so nobody is locked out by logging in, and a
// guesser from one address cannot lock an agent out everywhere:
//   - per e-mail and client address: 10 failures, then one every 6 seconds (no guessing at
//     speed);
//   - per client address: 30 failures, then one a second (one client cannot try many accounts);
//   - per e-mail from every address: 100 failures, then one every 2 seconds (many clients
//     cannot guess one password at speed).
type loginLimiter struct {
	pair, addr, email *ratelimit.Limiter
	// client tells the client's address (behind limits.trusted_proxies).
	client clientaddr.Resolver
}

func newLoginLimiter(client clientaddr.Resolver) *loginLimiter {
	return &loginLimiter{
		client: client,
		pair:   ratelimit.New(1.0/6, 10),
		addr:   ratelimit.New(1, 30),
		email:  ratelimit.New(1.0/2, 100),
	}
}

// loginCheck is one bucket a login attempt takes from.
type loginCheck struct {
	l       *ratelimit.Limiter
	key     string
	refusal string
}

func (l *loginLimiter) checks(r *http.Request, email string) []loginCheck {
	host := l.client.Addr(r)
	email = strings.ToLower(strings.TrimSpace(email))
	return []loginCheck{
		{l.addr, host, "from this address"},
		{l.pair, email + " " + host, "for this e-mail from this address"},
		{l.email, email, "for this e-mail"},
	}
}

// succeeded gives back the attempt of a login that succeeded.
func (l *loginLimiter) succeeded(r *http.Request, email string) {
	for _, c := range l.checks(r, email) {
		c.l.Give(c.key)
	}
}

// allow takes one attempt for the e-mail from the client of r, or returns the 429 to answer
// (and takes nothing).
func (l *loginLimiter) allow(w http.ResponseWriter, r *http.Request, email string, now time.Time) error {
	cs := l.checks(r, email)
	for i, c := range cs {
		wait, ok := c.l.Allow(c.key, now)
		if ok {
			continue
		}
		for _, d := range cs[:i] {
			d.l.Give(d.key)
		}
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return tandem.Errorf(tandem.ERATELIMITED, "Too many failed logins %s; retry after %ds.", c.refusal, secs)
	}
	return nil
}

// Refusals is told of every request refused for a limit: reason is rate (a credential's or a
// route's rate), long_polls (a credential's waiting requests), long_polls_total, connections or
// login (failed logins). Metrics count them; an Observer that also implements it gets them.
type Refusals interface {
	Refused(reason string)
}

// refused counts a refusal, when the observer counts them.
func (s *Server) refused(reason string) {
	if r, ok := s.cfg.Observer.(Refusals); ok {
		r.Refused(reason)
	}
}

// rates are the request rates per credential (config.Limits.Rate): one bucket per credential of
// its kind, and one per credential and route for the routes limits.rate.routes names.
type rates struct {
	tokens, agents *ratelimit.Limiter
	routes         map[string]*ratelimit.Limiter
}

func newRates(r config.Rates, override float64) *rates {
	tokens, agents := r.APIToken, r.Agent
	if override != 0 {
		tokens, agents = override, override
	}
	out := &rates{tokens: newLimiter(tokens), agents: newLimiter(agents), routes: map[string]*ratelimit.Limiter{}}
	for k, v := range r.Routes {
		out.routes[k] = newLimiter(v)
	}
	return out
}

// allow takes one request of caller c on route rt, or returns the 429 to answer.
func (s *Server) allowRate(w http.ResponseWriter, rt route, c *caller) error {
	now := s.cfg.Clock.Now()
	l, what := s.rates.agents, "this login"
	if c.kind == apiToken {
		l, what = s.rates.tokens, "this token"
	}
	wait, ok := l.Allow(c.token.ID, now)
	if ok {
		if rl := s.rates.routes[rt.method+" "+rt.pattern]; rl != nil {
			if wait, ok = rl.Allow(c.token.ID, now); !ok {
				l.Give(c.token.ID)
				what += " on " + rt.method + " " + rt.pattern
			}
		}
	}
	if ok {
		return nil
	}
	s.refused("rate")
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return tandem.Errorf(tandem.ERATELIMITED, "Too many requests for %s; retry after %ds (limits.rate in tandem.yaml).", what, secs)
}

// waitRetry is the Retry-After of a request refused for too many waiting requests: long-polls
// end within a minute, most much sooner.
const waitRetry = 5

// gate counts the requests that wait (long-polls, event streams), per credential and in all.
type gate struct {
	mu    sync.Mutex
	total int
	per   map[string]int
}

// enterWait takes a waiting slot for the caller of r, or returns the answer: 429 when the
// credential has limits.long_polls_per_token (per_agent) waiting already, 503 when the server has
// limits.long_polls. The release function gives the slot back.
func (s *Server) enterWait(w http.ResponseWriter, r *http.Request) (release func(), err error) {
	c := callerOf(r)
	key, perMax, key2 := "", -1, "long_polls_per_agent"
	if c != nil {
		key = c.token.ID
		perMax = s.cfg.Workspace.Limits.LongPollsPerAgent
		if c.kind == apiToken {
			perMax, key2 = s.cfg.Workspace.Limits.LongPollsPerToken, "long_polls_per_token"
		}
	}
	g := &s.waiting
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case s.maxWaiting >= 0 && g.total >= s.maxWaiting:
		s.refused("long_polls_total")
		w.Header().Set("Retry-After", strconv.Itoa(waitRetry))
		return nil, tandem.Errorf(tandem.EUNAVAILABLE, "The server has %d waiting requests (long-polls and event streams), the most limits.long_polls allows; retry after %ds.", g.total, waitRetry)
	case perMax >= 0 && key != "" && g.per[key] >= perMax:
		s.refused("long_polls")
		w.Header().Set("Retry-After", strconv.Itoa(waitRetry))
		return nil, tandem.Errorf(tandem.ERATELIMITED, "This credential has %d waiting requests (long-polls and event streams), the most limits.%s allows; end one, or retry after %ds.", g.per[key], key2, waitRetry)
	}
	g.total++
	if key != "" {
		if g.per == nil {
			g.per = map[string]int{}
		}
		g.per[key]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.total--
			if key != "" {
				if g.per[key]--; g.per[key] <= 0 {
					delete(g.per, key)
				}
			}
		})
	}, nil
}

// channelWait returns how a channel's request r takes a waiting place (channel.EnterWait): a
// widget's event stream or long poll waits among the server's long-polls (limits.long_polls,
// 503 past it), and once its connection is taken over from net/http it counts as open until it
// ends, as a parked long-poll does.
func (s *Server) channelWait(r *http.Request) func(w http.ResponseWriter) (channel.Wait, error) {
	return func(w http.ResponseWriter) (channel.Wait, error) {
		release, err := s.enterWait(w, r)
		if err != nil {
			return nil, err
		}
		return &heldWait{s: s, release: release}, nil
	}
}

// heldWait is a channel's request waiting: its place, and its connection once detached.
type heldWait struct {
	s        *Server
	release  func()
	mu       sync.Mutex
	detached bool
	done     bool
}

func (h *heldWait) Detach() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.detached && !h.done {
		h.detached = true
		h.s.parked.Add(1)
	}
}

func (h *heldWait) Done() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	h.done = true
	if h.detached {
		h.s.parked.Add(-1)
	}
	h.release()
}

// Waiting returns how many requests wait now (long-polls and event streams).
func (s *Server) Waiting() int {
	s.waiting.mu.Lock()
	defer s.waiting.mu.Unlock()
	return s.waiting.total
}

// ConnState counts the server's open connections; set it as http.Server.ConnState.
func (s *Server) ConnState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.conns.Add(-1)
	}
}

// OpenConnections returns how many connections are open: those net/http serves (ConnState) and
// the parked long-polls'.
func (s *Server) OpenConnections() int { return int(s.conns.Load() + s.parked.Load()) }

// unbounded are the routes that answer whatever the load: a monitor must see the server.
var unbounded = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true}

// connectionRetry is the Retry-After of a request refused for too many connections.
const connectionRetry = 1

// overloaded refuses a request when more connections are open than limits.connections: 503
// with Retry-After, and the connection is closed after the answer, so the count goes down.
func (s *Server) overloaded(w http.ResponseWriter, rt route) error {
	if s.cfg.MaxConnections <= 0 || unbounded[rt.method+" "+rt.pattern] {
		return nil
	}
	n := s.conns.Load() + s.parked.Load()
	if n <= int64(s.cfg.MaxConnections) {
		return nil
	}
	s.refused("connections")
	w.Header().Set("Connection", "close")
	w.Header().Set("Retry-After", strconv.Itoa(connectionRetry))
	return tandem.Errorf(tandem.EUNAVAILABLE, "The server has %d open connections, more than limits.connections (%d); retry after %ds.", n, s.cfg.MaxConnections, connectionRetry)
}

// CheckLimits reports a route of limits.rate.routes that the API does not serve, naming the key.
func (s *Server) CheckLimits() error {
	known := map[string]bool{}
	for _, rt := range s.routes {
		known[rt.method+" "+rt.pattern] = true
	}
	for _, k := range s.cfg.Workspace.Limits.RouteKeys() {
		if !known[k] {
			return fmt.Errorf("limits.rate.routes: %q is not a route of the API; write one as docs/api.md lists it, such as \"POST /api/v1/flows/{id}/publish\"", k)
		}
	}
	return nil
}
