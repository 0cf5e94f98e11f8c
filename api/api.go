// Package api serves Tandem's HTTP API (docs/api.md): the API channel, flows, runs,
// conversations and contacts under /api/v1, the health and metrics endpoints, and the OpenAPI
// document. Handlers return errors; one table maps error codes to statuses; the route table
// below is the whole surface, checked against openapi.json by a test.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk/inbox"
	"github.com/tandemchat/tandem/internal/clientaddr"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
)

// Config wires the API.
type Config struct {
	DB     *store.DB
	Runner *runner.Runner
	// Workspace is the loaded configuration: channels, providers, schedules...
	Workspace *config.Config
	// Clock gives the time (default: the wall clock).
	Clock  tandem.Clock
	Logger *slog.Logger
	// Hub wakes long-polls when a conversation gets messages; nil polls only.
	Hub *Hub
	// Observer receives request measurements (metrics); nil ignores them.
	Observer Observer
	// Metrics serves /metrics; nil answers 404.
	Metrics http.Handler
	// BodyLimit caps request bodies (default 1 MB).
	BodyLimit int64
	// RateLimit, when set, replaces the rates of limits.rate for API tokens and agents
	// (requests per second per credential; negative: unlimited): for tests and benchmarks.
	RateLimit float64
	// MaxConnections caps open connections (limits.connections resolved by the caller, who
	// knows the process's open-file limit; 0: no cap). It needs ConnState to count them.
	MaxConnections int
	// NewID returns fresh ids.
	NewID func() string
	// Inbox is the built-in agent inbox behind /api/v1/inbox; nil answers 503 there.
	Inbox *inbox.Service
	// Desks returns the external desk with the id (nil when it is not built), for its
	// webhooks under /hooks/; nil: every desk webhook answers as for an unknown desk.
	Desks func(id string) tandem.Desk
	// Channels are the configured channels by id, whose kinds' routes the server mounts; nil
	// builds them from Workspace, storing what they receive through Runner.
	Channels map[string]channel.Channel
}

// Observer receives one measurement per request.
type Observer interface {
	Request(route string, status int, d time.Duration)
}

// Server is the HTTP API.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	log    *slog.Logger
	tokens *tokenCache
	rates  *rates
	// waiting counts long-polls and event streams; maxWaiting caps them (-1: no cap).
	waiting    gate
	maxWaiting int
	// conns counts open connections (ConnState); parked, the long-polls whose connection was
	// taken over from net/http.
	conns, parked atomic.Int64
	// logins throttles password attempts per e-mail and per client address.
	logins *loginLimiter
	routes []route
	// bodyLimits overrides Config.BodyLimit for routes that take larger bodies (a WhatsApp
	// webhook batch), by "METHOD pattern".
	bodyLimits map[string]int64
	// channels are the configured channels by kind, then id.
	channels map[string]map[string]channel.Channel
	// draining is set when the server stops taking requests.
	mu       sync.Mutex
	draining bool
}

// handler is an HTTP handler that returns an error instead of writing it.
type handler func(w http.ResponseWriter, r *http.Request) error

// route is one entry of the route table.
type route struct {
	method  string
	pattern string
	h       handler
	// access is who may call it (access.go); every route has one.
	access access
}

// New returns the API server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 1 << 20
	}
	if cfg.NewID == nil {
		cfg.NewID = runner.NewID
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	if cfg.Workspace == nil {
		cfg.Workspace = config.Default()
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, tokens: newTokenCache(),
		logins: newLoginLimiter(clientaddr.New(cfg.Workspace.Limits.TrustedPrefixes()))}
	lim := cfg.Workspace.Limits
	s.rates = newRates(lim.Rate, cfg.RateLimit)
	s.maxWaiting = lim.LongPolls
	if s.maxWaiting < 0 {
		s.maxWaiting = -1
	}
	if cfg.MaxConnections > 0 && (s.maxWaiting < 0 || s.maxWaiting > cfg.MaxConnections/2) {
		// Half the connections stay free for everything else.
		s.maxWaiting = max(1, cfg.MaxConnections/2)
	}
	s.setChannels()
	s.routes = []route{
		{"GET", "/healthz", s.healthz, public},
		{"GET", "/readyz", s.readyz, public},
		{"GET", "/metrics", s.metrics, public},
		{"GET", "/api/v1/openapi.json", s.openapi, public},

		{"GET", "/api/v1/conversations/{id}/messages", s.conversationMessages, inboxed},

		{"GET", "/api/v1/flows", s.flowList, manage},
		{"POST", "/api/v1/flows", s.flowCreate, manage},
		{"GET", "/api/v1/flows/{id}", s.flowGet, manage},
		{"PUT", "/api/v1/flows/{id}", s.flowPut, manage},
		{"DELETE", "/api/v1/flows/{id}", s.flowDelete, manage},
		{"POST", "/api/v1/flows/{id}/publish", s.flowPublish, manage},
		{"GET", "/api/v1/flows/{id}/versions", s.flowVersions, manage},
		{"POST", "/api/v1/flows/{id}/runs", s.flowRun, manage},
		{"GET", "/api/v1/flows/{id}/analytics", s.flowAnalytics, manage},

		{"GET", "/api/v1/conversations", s.conversationList, manage},
		{"GET", "/api/v1/conversations/{id}", s.conversationGet, inboxed},
		{"GET", "/api/v1/conversations/{id}/runs", s.conversationRuns, inboxed},
		{"GET", "/api/v1/runs/{id}", s.runGet, inboxed},
		{"GET", "/api/v1/contacts/{id}", s.contactGet, inboxed},
		{"PATCH", "/api/v1/contacts/{id}", s.contactPatch, inboxed},
		{"GET", "/api/v1/contacts/{id}/conversations", s.contactConversations, inboxed},
	}
	// Areas of the API that live in their own files add their routes here.
	s.routes = append(s.routes, s.inboxRoutes()...)
	s.routes = append(s.routes, s.tokenRoutes()...)
	s.routes = append(s.routes, s.cannedRoutes()...)
	s.routes = append(s.routes, s.hookRoutes()...)
	s.routes = append(s.routes, s.channelRoutes()...)
	s.bodyLimits["POST "+attachmentRoute] = -1 // the handler caps it by the channel's max_upload_bytes
	for _, rt := range s.routes {
		if rt.access == 0 {
			// Every route says who may call it; a route without is a programming error.
			panic("api: route " + rt.method + " " + rt.pattern + " declares no access")
		}
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	s.mux.Handle("/", s.wrap(route{pattern: "/", h: s.notFound, access: public}))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Drain makes /readyz fail so a load balancer stops sending traffic before shutdown.
func (s *Server) Drain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.draining = true
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.isDraining() {
		return tandem.Errorf(tandem.EUNAVAILABLE, "The server is shutting down.")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.DB.Ping(ctx); err != nil {
		s.log.Warn("readiness: database unreachable", "err", err)
		return tandem.Errorf(tandem.EUNAVAILABLE, "The database is not reachable.")
	}
	applied, latest, err := s.cfg.DB.SchemaVersion(ctx)
	if err != nil || applied != latest {
		return tandem.Errorf(tandem.EUNAVAILABLE, "The database schema is at version %d of %d; run `tandem migrate`.", applied, latest)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "schema_version": applied})
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Metrics == nil {
		return tandem.Errorf(tandem.ENOTFOUND, "Metrics are not enabled.")
	}
	s.cfg.Metrics.ServeHTTP(w, r)
	return nil
}

// notFound answers what no route matches: 405 with Allow when the path is served with other
// methods (the catch-all "/" pattern keeps ServeMux from answering that itself), else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) error {
	if allow := s.allowed(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return tandem.Errorf(eMethodNotAllowed, "%s %s is not served; use %s.", r.Method, r.URL.Path, strings.Join(allow, ", "))
	}
	return tandem.Errorf(tandem.ENOTFOUND, "No route %s %s; see /api/v1/openapi.json.", r.Method, r.URL.Path)
}

// allowed returns the methods the route table serves r's path with.
func (s *Server) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			out = append(out, m)
		}
	}
	return out
}
