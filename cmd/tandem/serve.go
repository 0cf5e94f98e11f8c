package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/api"
	"github.com/tandemchat/tandem/channel"
	webchannel "github.com/tandemchat/tandem/channel/web"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/desk/inbox"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/internal/clientaddr"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/internal/seal"
	"github.com/tandemchat/tandem/metrics"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/web"
	"github.com/tandemchat/tandem/workspace"
)

// serveOptions are what `serve`, `demo` and `bench` share.
type serveOptions struct {
	ConfigPath string
	Config     *config.Config // used instead of ConfigPath when set
	Addr       string
	Data       string
	LogFormat  string
	LogLevel   string
	// RateLimit per token (0: default; negative: none).
	RateLimit float64
	// Ready is called with the listening address once the server accepts requests.
	Ready func(addr string)
	// HTTP carries out http steps (default: the guarded client).
	HTTP runner.HTTPDoer
	// Ephemeral says the data folder goes away with the process (demo, bench): a secret key
	// generated there is no news worth a warning.
	Ephemeral bool
	// WrapObserver, when set, wraps the metrics observer of the runner (bench measurements).
	WrapObserver func(runner.Observer) runner.Observer
	// Mount adds pages of the command's own to the server (the demo's shop page).
	Mount func(mux *http.ServeMux)
}

// server is a running Tandem: database, runner, HTTP API.
type server struct {
	db      *store.DB
	run     *runner.Runner
	api     *api.Server
	http    *http.Server
	ln      net.Listener
	log     *slog.Logger
	cfg     *config.Config
	metrics *metrics.Metrics
	// inbox is the built-in agent inbox; Stop ends its loops and event streams.
	inbox *inbox.Service
	// widgets are the web widget channels; Close ends their event streams.
	widgets []*webchannel.Channel
	// stopWatch ends the knowledge re-ingest loop.
	stopWatch func()
	// keys seal the secrets stored in the database (nil: none can be stored).
	keys *seal.Keyring
	// hub wakes the API's long-polls.
	hub *api.Hub
}

// runServe is `tandem serve`.
func (m *Main) runServe(ctx context.Context, args []string) error {
	fs := m.newFlags("serve", "serve [--config tandem.yaml] [--addr :8080] [--data ./tandem-data]")
	o := serveOptions{}
	fs.StringVar(&o.ConfigPath, "config", "", "the workspace configuration (tandem.yaml); without it, an empty workspace")
	fs.StringVar(&o.Addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&o.Data, "data", "./tandem-data", "data folder (SQLite); TANDEM_DATABASE_URL=postgres://... selects PostgreSQL")
	fs.StringVar(&o.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	return m.serve(ctx, o)
}

// serve starts a server and runs it until ctx ends (SIGTERM, SIGINT), then shuts down
// gracefully: it stops taking requests, finishes in-flight requests and turns, and closes.
func (m *Main) serve(ctx context.Context, o serveOptions) error {
	s, err := m.startServer(ctx, o)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	if o.Ready != nil {
		o.Ready(s.ln.Addr().String())
	}
	select {
	case err := <-errc:
		s.close(context.Background())
		return fmt.Errorf("the HTTP server stopped: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: no new requests; finishing the work in progress")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.close(sctx)
}

func (s *server) close(ctx context.Context) error {
	s.stopWatch()
	s.api.Drain()
	s.inbox.Stop() // open event streams end, so Shutdown does not wait for them
	for _, wc := range s.widgets {
		wc.Close() // the widgets' streams too (hijacked connections Shutdown does not track)
	}
	s.hub.Stop() // parked long-polls get their answer now (Shutdown does not track them either)
	herr := s.http.Shutdown(ctx)
	rerr := s.run.Stop(ctx)
	derr := s.db.Close()
	if err := errors.Join(herr, rerr, derr); err != nil {
		s.log.Warn("shutdown was not clean", "err", err)
		return err
	}
	s.log.Info("stopped")
	return nil
}

func (m *Main) logger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: use text or json", format)
}

// startServer opens the database, migrates it, publishes the flows folder, starts the runner and
// listens; the caller serves.
func (m *Main) startServer(ctx context.Context, o serveOptions) (*server, error) {
	log, err := m.logger(o.LogFormat, o.LogLevel, m.Stderr)
	if err != nil {
		return nil, err
	}
	if m.Getenv("GOGC") == "" {
		// A server's live heap is small (tens of MB) and its garbage plenty (a turn allocates
		// requests, JSON and rows): letting the heap reach 5× the live data instead of 2× cuts
		// the collector's CPU by three quarters (W1: −10 % CPU a turn). GOGC overrides it.
		debug.SetGCPercent(400)
	}
	cfg := o.Config
	if cfg == nil {
		cfg = config.Default()
		if o.ConfigPath != "" {
			if cfg, err = m.loadConfig(o.ConfigPath); err != nil {
				return nil, err
			}
		}
	}
	for _, w := range cfg.Warnings {
		log.Warn("configuration: " + w)
	}
	db, err := m.openDB(ctx, o.Data)
	if err != nil {
		return nil, err
	}
	s := &server{db: db, log: log, cfg: cfg}
	fail := func(err error) (*server, error) {
		db.Close()
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		return fail(err)
	}
	keys, err := m.secretKeys(db, o.Data, true, o.Ephemeral, log)
	if err != nil {
		return fail(err)
	}
	if err := checkSecretKeys(ctx, db, keys, log); err != nil {
		return fail(err)
	}
	s.keys = keys
	if keys != nil {
		// Calls waiting in the outbox carry the secrets their flows put in them.
		db.SealCalls(keys)
	}
	env, err := workspace.Env(cfg)
	if err != nil {
		return fail(err)
	}
	if env.Secrets, err = workspaceSecrets(ctx, db, keys, env.Secrets, log); err != nil {
		return fail(err)
	}
	wall := clock.Wall{}
	// AI providers and their embeddings are the operator's choice, named in tandem.yaml: they
	// may be private (Ollama on the same host). Each call is bounded by its caller; the
	// client's timeout is a backstop.
	ai := safehttp.NewClient(safehttp.Options{AllowPrivate: true, Timeout: 3 * time.Minute})
	emb, err := workspace.Embedders(cfg, ai)
	if err != nil {
		return fail(err)
	}
	kn, err := workspace.Knowledge(ctx, cfg, db, emb, wall, log)
	if err != nil {
		return fail(err)
	}
	providers, err := workspace.Providers(cfg, ai, kn)
	if err != nil {
		return fail(err)
	}
	s.metrics = metrics.New(db, wall.Now)
	hub := api.NewHub()
	s.hub = hub
	// The platforms' API addresses come from tandem.yaml (base_url): the operator's choice,
	// which may be private (a self-hosted Telegram Bot API server). Each channel bounds its
	// calls itself; the client's timeout is a backstop.
	var run *runner.Runner
	channels, unavailable, err := workspace.Channels(cfg, channel.Deps{
		HTTP:  safehttp.NewClient(safehttp.Options{AllowPrivate: true, Timeout: time.Minute}),
		Clock: wall, Logger: log, Media: db, MaxMedia: cfg.Media.MaxBytes,
		Addr: clientaddr.New(cfg.Limits.TrustedPrefixes()).Addr,
		Inbox: channel.InboxFunc(func(ctx context.Context, id string, b *channel.Batch) (*channel.Receipt, error) {
			return run.Receive(ctx, id, b)
		}),
	})
	if err != nil {
		return fail(err)
	}
	for _, id := range unavailable {
		c, _ := cfg.Channel(id)
		log.Warn("channel kind not available in this version; its messages cannot be sent or received", "channel", id, "kind", c.Kind)
	}
	poll := time.Second
	if db.Dialect() == store.Postgres {
		poll = 200 * time.Millisecond // other replicas queue work too
	}
	proxy, _ := cfg.HTTP.ProxyURL() // validated with the configuration
	var doer runner.HTTPDoer = safehttp.NewClient(safehttp.Options{AllowPrivate: cfg.HTTP.AllowPrivate, Allow: cfg.HTTP.Prefixes(), Proxy: proxy})
	if o.HTTP != nil {
		doer = o.HTTP
	}
	var observer runner.Observer = s.metrics
	if o.WrapObserver != nil {
		observer = o.WrapObserver(observer)
	}
	var desks map[string]tandem.Desk // built below, once the runner they deliver to exists
	// The built-in inbox desk; what it changes itself (assignments, transfers) wakes the widgets'
	// streams, which are built below.
	ibx := inbox.New(inbox.Config{DB: db, Workspace: cfg, Clock: wall, Logger: log, Changed: func(id string) {
		for _, wc := range s.widgets {
			wc.Notify(id)
		}
	}})
	s.run = runner.New(runner.Config{
		DB: db, Clock: wall, Logger: log, Observer: observer, Poll: poll, Env: env,
		Channel:  func(id string) (tandem.Channel, bool) { c, ok := channels[id]; return c, ok },
		HTTP:     doer,
		Provider: func(id string) (tandem.Provider, bool) { p, ok := providers[id]; return p, ok },
		Desk: func(id string) (tandem.Desk, bool) {
			if d, ok := ibx.Desk(id); ok {
				return d, true
			}
			d, ok := desks[id]
			return d, ok
		},
		Knowledge: kn,
		Notify: func(id string) {
			hub.Notify(id)
			ibx.Notify(id)
			for _, wc := range s.widgets {
				wc.Notify(id)
			}
		},
	})
	run = s.run
	// Web widget channels read sessions and conversations through the store; on PostgreSQL
	// they also look for what other replicas committed.
	widgetPoll := time.Duration(0)
	if db.Dialect() == store.Postgres {
		widgetPoll = time.Second
	}
	s.widgets = workspace.WidgetChannels(channels, &workspace.WidgetBackend{DB: db, Runner: s.run, Inbox: ibx}, widgetPoll)
	if db.Dialect() == store.Postgres {
		// Long-polls also learn of other replicas' commits: one query a second for all of them.
		hub.Follow(conversationsChanged(db, cfg), time.Second, wall.Now)
	}
	ibx.SetEvents(s.run)
	s.inbox = ibx
	// Desks are the operator's own services, named in tandem.yaml: they may be private. Each
	// desk bounds its calls itself; the client's timeout is a backstop. The runner looks them
	// up only once it runs, after this.
	desks, err = workspace.Desks(cfg, desk.Deps{HTTP: safehttp.NewClient(safehttp.Options{AllowPrivate: true, Timeout: time.Minute}),
		Store: db, Sink: s.run, Logger: log, Clock: wall, Secrets: &store.Secrets{DB: db, Keys: keys, Clock: wall}})
	if err != nil {
		return fail(err)
	}
	for _, d := range cfg.Desks {
		if _, ok := desks[d.ID]; !ok && d.Kind != config.InboxDesk {
			log.Warn("desk kind not available in this version; handoffs to it take on_unavailable", "desk", d.ID, "kind", d.Kind)
		}
	}
	if err := s.run.LoadFlows(ctx); err != nil {
		return fail(err)
	}
	stored, err := db.TeamList(ctx) // teams made in the admin screens, which flows may name
	if err != nil {
		return fail(err)
	}
	if err := publishFolder(ctx, s.run, cfg, stored, log); err != nil {
		return fail(err)
	}
	if err := s.run.Start(ctx); err != nil {
		return fail(err)
	}
	if err := ibx.Start(ctx); err != nil {
		s.run.Stop(ctx)
		return fail(err)
	}
	wctx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	s.stopWatch = stopWatch
	go kn.Watch(wctx, 30*time.Second)
	for _, d := range desks {
		if p, ok := d.(desk.Poller); ok && p.PollInterval() > 0 {
			go pollDesk(wctx, p, log)
		}
	}
	s.api = api.New(api.Config{DB: db, Runner: s.run, Workspace: cfg, Clock: wall, Logger: log, Hub: hub,
		Observer: s.metrics, Metrics: s.metrics.Handler(), RateLimit: o.RateLimit, Inbox: ibx, MaxConnections: maxConnections(cfg.Limits.Connections),
		Desks: func(id string) tandem.Desk {
			if d, ok := desks[id]; ok {
				return d
			}
			return nil
		},
		Channels: channels})
	if err := s.api.CheckLimits(); err != nil {
		s.run.Stop(ctx)
		return fail(err)
	}
	s.metrics.HTTPLoad(s.api.OpenConnections, s.api.Waiting)
	startChannels(wctx, channels, log)
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		s.run.Stop(ctx)
		return fail(fmt.Errorf("cannot listen on %s: %w", o.Addr, err))
	}
	s.ln = ln
	// The browser app (login at /, the inbox, the admin screens) beside the API.
	root := http.NewServeMux()
	root.Handle("/", s.api)
	web.New().Register(root)
	if o.Mount != nil {
		o.Mount(root)
	}
	s.http = &http.Server{Handler: root, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 90 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnState: s.api.ConnState}
	store := "sqlite " + db.Path()
	if db.Dialect() == "postgres" {
		store = "postgres"
	}
	log.Info("tandem is serving", "addr", ln.Addr().String(), "store", store, "workspace", cfg.Workspace.Name, "version", Version)
	return s, nil
}

// maxConnections resolves limits.connections: 0 is the open-file limit less 256 (files, the
// database, the listener keep the rest), at least 64; negative is no cap (0 for api.Config).
func maxConnections(configured int) int {
	switch {
	case configured > 0:
		return configured
	case configured < 0:
		return 0
	}
	if n := openFileLimit(); n > 0 {
		return max(64, n-256)
	}
	return 0
}

// pollDesk runs a desk's poll at once and then every PollInterval until ctx ends; a failed poll
// is logged and tried again at the next tick.
func pollDesk(ctx context.Context, p desk.Poller, log *slog.Logger) {
	t := time.NewTicker(p.PollInterval())
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		if err := p.Poll(pctx); err != nil && ctx.Err() == nil {
			log.Warn("desk poll failed; it runs again at the next interval", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startChannels does what channels do when the server starts (Telegram registers its webhook),
// in the background: a platform that does not answer delays nothing, and a failure is logged
// (and shown by the channel's health), never fatal.
func startChannels(ctx context.Context, channels map[string]channel.Channel, log *slog.Logger) {
	for id, ch := range channels {
		st, ok := ch.(channel.Starter)
		if !ok {
			continue
		}
		go func() {
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := st.Start(sctx); err != nil {
				log.Warn("channel could not start; see its health in the admin screens", "channel", id, "kind", ch.Kind(), "err", err)
			}
		}()
	}
}

// publishFolder publishes every flow of the configuration's flows folder; an invalid flow stops
// the start with its findings.
func publishFolder(ctx context.Context, run *runner.Runner, cfg *config.Config, teams []store.Team, log *slog.Logger) error {
	dir := cfg.FlowsDir
	if dir == "" {
		return nil
	}
	files, err := flowFiles(dir)
	if err != nil {
		return fmt.Errorf("flows folder %s cannot be read (%w); create it or correct flows: in %s (a path relative to its folder)", dir, err, cfg.Path)
	}
	env := cfg.FlowEnv()
	for _, t := range teams {
		env.Teams[t.ID] = true
	}
	env.Flows = map[string]bool{}
	var parsed []*flow.Flow
	var problems []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		fl, findings := flow.Parse(f, src)
		if fl == nil {
			for _, fd := range findings {
				problems = append(problems, fd.String())
			}
			continue
		}
		env.Flows[fl.ID] = true
		parsed = append(parsed, fl)
	}
	for _, fl := range parsed {
		for _, fd := range append(flow.Validate(fl, env), flow.TriggerWarnings(fl, parsed)...) {
			if fd.Severity == flow.SeverityError {
				problems = append(problems, fd.String())
			} else {
				log.Warn("flow: " + fd.String())
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the flows folder has errors; fix them and start again:\n  %s", strings.Join(problems, "\n  "))
	}
	for _, fl := range parsed {
		format := "yaml"
		if strings.HasSuffix(fl.File, ".json") {
			format = "json"
		}
		v, created, err := run.Publish(ctx, fl, format)
		if err != nil {
			return err
		}
		if created {
			log.Info("flow published", "flow", fl.ID, "version", v, "file", fl.File)
		}
	}
	return nil
}

// conversationsChanged lists the conversations of every configured channel kind changed since
// a time: the API's long-polls follow other replicas' commits with it.
func conversationsChanged(db *store.DB, cfg *config.Config) api.Changed {
	const limit, pages = 1000, 10
	var kinds []string
	for _, c := range cfg.Channels {
		if !slices.Contains(kinds, c.Kind) {
			kinds = append(kinds, c.Kind)
		}
	}
	return func(ctx context.Context, since time.Time) ([]string, time.Time, error) {
		var ids []string
		last := since
		for _, k := range kinds {
			from := since
			for range pages {
				got, l, err := db.ConversationsChanged(ctx, k, from, limit)
				if err != nil {
					return nil, since, err
				}
				ids = append(ids, got...)
				if l.After(last) {
					last = l
				}
				if len(got) < limit {
					break
				}
				from = l // a full page: the next one starts after it
			}
		}
		return ids, last, nil
	}
}
