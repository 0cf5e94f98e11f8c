package convtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/knowledge"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/workspace"
)

// SandboxOptions configure a sandbox.
type SandboxOptions struct {
	Config *config.Config
	// Start is where the virtual clock starts.
	Start time.Time
	// Channel is the channel kind the customer writes on (default api).
	Channel string
	Contact tandem.Contact
	// HTTP, Provider and Desk carry out calls; nil HTTP fails every call.
	HTTP     runner.HTTPDoer
	Provider func(id string) (tandem.Provider, bool)
	Desk     func(id string) (tandem.Desk, bool)
	// DeskNeedsEmail overrides what desks report about e-mail.
	DeskNeedsEmail *bool
	// Deliver receives every message the customer gets, in order.
	Deliver func(tandem.Message)
	// DB is the store to use, migrated and empty; nil opens a private in-memory SQLite store.
	// The sandbox closes it.
	DB *store.DB
	// Embedders rank the knowledge bases with embeddings hybrid, by id (workspace.Embedders);
	// nil ranks every base by full text, offline, as conversation tests do.
	Embedders map[string]tandem.Embedder
}

// Sandbox is one conversation with the real engine and runner on an in-memory store and a
// virtual clock: what `tandem test` and `tandem chat` drive. Work is done synchronously.
type Sandbox struct {
	DB     *store.DB
	Runner *runner.Runner
	Clock  *clock.Virtual
	Config *config.Config
	// Knowledge is the configuration's knowledge bases, ingested into the sandbox's store.
	Knowledge *knowledge.Index
	kind      string
	ext       string
	conv      string
	seq       int
	// contactTemplate is the contact the conversation starts with.
	contactTemplate tandem.Contact
}

// NewSandbox builds a sandbox.
func NewSandbox(ctx context.Context, o SandboxOptions) (*Sandbox, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = config.Default()
	}
	env, err := workspace.Env(cfg)
	if err != nil {
		return nil, err
	}
	start := o.Start
	if start.IsZero() {
		start = DefaultClock
	}
	db := o.DB
	if db == nil {
		if db, err = store.Open(ctx, ":memory:"); err != nil {
			return nil, err
		}
		if err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	kind := o.Channel
	if kind == "" {
		kind = "api"
	}
	if o.DeskNeedsEmail != nil {
		for id := range env.Desks {
			if id != "inbox" {
				env.Desks[id] = engine.DeskInfo{NeedsEmail: *o.DeskNeedsEmail}
			}
		}
	}
	env.Region = engine.PhoneRegion(o.Contact.Phone)
	deliver := o.Deliver
	if deliver == nil {
		deliver = func(tandem.Message) {}
	}
	doer := o.HTTP
	if doer == nil {
		doer = noHTTP{}
	}
	s := &Sandbox{DB: db, Clock: clock.NewVirtual(start), Config: cfg, kind: kind, ext: o.Contact.ExternalID}
	if s.Knowledge, err = workspace.Knowledge(ctx, cfg, db, o.Embedders, s.Clock, nil); err != nil {
		db.Close()
		return nil, err
	}
	if s.ext == "" {
		s.ext = "sandbox-contact"
	}
	contact := o.Contact
	contact.ExternalID = s.ext
	s.Runner = runner.New(runner.Config{
		DB: db, Env: env, Clock: s.Clock,
		Channel: func(string) (tandem.Channel, bool) {
			return funcChannel{kind: kind, caps: sandboxCaps(cfg, kind), deliver: deliver}, true
		},
		HTTP:      doer,
		Provider:  o.Provider,
		Desk:      o.Desk,
		Knowledge: s.Knowledge,
		Sleep:     func(context.Context, time.Duration) error { return nil },
	})
	s.contactTemplate = contact
	return s, nil
}

// Close releases the sandbox's store.
func (s *Sandbox) Close() error { return s.DB.Close() }

// ConversationID returns the conversation's id, or "" before it starts.
func (s *Sandbox) ConversationID() string { return s.conv }

// Publish validates flows against the sandbox's configuration and publishes them.
func (s *Sandbox) Publish(ctx context.Context, flows []*flow.Flow, checkConfig bool) error {
	env := &flow.Env{}
	if checkConfig {
		env = s.Config.FlowEnv()
	}
	env.Flows = map[string]bool{}
	for _, f := range flows {
		env.Flows[f.ID] = true
	}
	for _, f := range flows {
		if findings := flow.Validate(f, env); flow.HasErrors(findings, false) {
			return fmt.Errorf("flow %s is invalid:\n%s", f.File, findingLines(findings))
		}
		format := "yaml"
		if strings.HasSuffix(f.File, ".json") {
			format = "json"
		}
		if _, _, err := s.Runner.Publish(ctx, f, format); err != nil {
			return fmt.Errorf("flow %s cannot be published: %w", f.File, err)
		}
	}
	return nil
}

// Open opens the conversation if needed; opening it starts `conversation_start` flows.
func (s *Sandbox) Open(ctx context.Context) error {
	if s.conv != "" {
		return nil
	}
	id, _, err := s.DB.ConversationOpen(ctx, store.ConversationCreateParams{
		ChannelID: s.kind, ChannelKind: s.kind, Contact: s.contactTemplate, Now: s.Clock.Now(), NewID: runner.NewID})
	if err != nil {
		return err
	}
	s.conv = id
	return s.Event(ctx, tandem.Event{Kind: tandem.EventStart, Start: &tandem.StartRun{Source: flow.OnConversationStart}})
}

// Say delivers a customer message and does all the work it causes.
func (s *Sandbox) Say(ctx context.Context, m tandem.Message) error {
	s.seq++
	if m.ChannelMessageID == "" {
		m.ChannelMessageID = fmt.Sprintf("sandbox-%d", s.seq)
	}
	if m.Type == "" {
		m.Type = tandem.MessageText
	}
	contact := tandem.Contact{ExternalID: s.ext}
	if s.conv == "" {
		contact = s.contactTemplate
	}
	res, err := s.Runner.Inbound(ctx, store.InboundParams{ChannelID: s.kind, ChannelKind: s.kind, Contact: contact, Message: m, NewID: runner.NewID})
	if err != nil {
		return err
	}
	s.conv = res.ConversationID
	return s.Runner.Drain(ctx)
}

// Event queues an event for the conversation and does all the work it causes.
func (s *Sandbox) Event(ctx context.Context, ev tandem.Event) error {
	if s.conv == "" {
		if err := s.Open(ctx); err != nil {
			return err
		}
	}
	ev.ConversationID = s.conv
	if err := s.Runner.Enqueue(ctx, ev); err != nil {
		return err
	}
	return s.Runner.Drain(ctx)
}

// Advance moves the virtual clock, firing every timer due on the way at its own instant.
func (s *Sandbox) Advance(ctx context.Context, d time.Duration) error {
	return s.Runner.AdvanceTo(ctx, s.Clock.Now().Add(d))
}

// State returns the conversation, its contact and the engine state.
func (s *Sandbox) State(ctx context.Context) (*store.ConversationInfo, *tandem.Contact, *engine.State, error) {
	if s.conv == "" {
		return nil, nil, nil, errors.New("the conversation has not started")
	}
	info, err := s.DB.ConversationGet(ctx, s.conv)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := runner.State(info)
	if err != nil {
		return nil, nil, nil, err
	}
	contact, err := s.DB.ContactGet(ctx, info.ContactID)
	if err != nil {
		return nil, nil, nil, err
	}
	return info, contact, st, nil
}

// funcChannel hands delivered messages to a function.
type funcChannel struct {
	kind    string
	caps    tandem.Caps
	deliver func(tandem.Message)
}

// sandboxCaps is what a channel of the kind renders: the first configured channel of that kind
// says, else one with a bare configuration. Delivery reports are not simulated: a message is
// delivered when the sandbox's channel takes it.
func sandboxCaps(cfg *config.Config, kind string) tandem.Caps {
	c := channel.Config{ID: kind, Kind: kind}
	for _, ch := range cfg.Channels {
		if ch.Kind == kind {
			c = ch.Config()
			break
		}
	}
	caps := channel.CapsOf(c)
	caps.Statuses = false
	return caps
}

func (c funcChannel) Kind() string      { return c.kind }
func (c funcChannel) Caps() tandem.Caps { return c.caps }

func (c funcChannel) Send(_ context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	c.deliver(*out.Message)
	return tandem.SendResult{ChannelMessageID: "out-" + out.IdempotencyKey}, nil
}

type noHTTP struct{}

func (noHTTP) Do(req *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("HTTP calls are not available here (%s %s)", req.Method, req.URL)
}
