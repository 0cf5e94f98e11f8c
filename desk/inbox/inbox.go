// Package inbox is Tandem's built-in agent inbox: the desk that handoff steps with `desk: inbox`
// hand conversations to, and the service behind the inbox API — agents (password logins, API
// tokens, roles admin and agent), teams, presence (online, away, offline; offline after a while
// unseen), a queue per team, assignment by round_robin or least_busy with reassign_after,
// manual assignment and transfer, internal notes, closing, resuming the bot, and a stream of
// changes for the inbox's web UI.
//
// The inbox never changes a conversation's engine state itself: what agents do becomes events
// (tandem.EventAgent, tandem.EventResumeBot) that the runner processes in order with everything
// else that happens to the conversation. Only the assignment — who has a conversation — is
// written directly, with a conditional update, so that of two agents taking one conversation
// exactly one wins; the engine reads the assignee from the conversation. Rules (who may do what)
// live here, not in SQL.
package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/store"
)

// Presence statuses.
const (
	Online  = "online"
	Away    = "away"
	Offline = "offline"
)

// Events is where the inbox queues what agents do, for the engine to process: the runner.
type Events interface {
	Enqueue(ctx context.Context, ev tandem.Event) error
}

// Config wires the inbox.
type Config struct {
	DB *store.DB
	// Workspace gives the teams and the agents of the configuration.
	Workspace *config.Config
	// Events receives agent actions (the runner); it may be set after New, before Start.
	Events Events
	Clock  tandem.Clock
	Logger *slog.Logger
	// NewID returns fresh ids (default: ULIDs).
	NewID func() string
	// OfflineAfter is how long an agent may go unseen (no request, no open event stream) before
	// it counts as offline (default 5m).
	OfflineAfter time.Duration
	// TickEvery is how often Start's loop runs Tick: queued conversations are assigned and
	// unanswered ones reassigned (default 5s).
	TickEvery time.Duration
	// Poll is how often the event stream re-reads the database, to see changes that another
	// replica committed (default 1s).
	Poll time.Duration
	// Batch bounds the conversations one Tick assigns or reassigns per team (default 100).
	Batch int
	// BcryptCost is the cost of new password hashes (default bcrypt.DefaultCost; tests lower it).
	BcryptCost int
	// Changed, when set, is told of each conversation whose status or agent the inbox changed
	// itself rather than through the runner (an assignment, a transfer, a requeue): the web
	// widget's streams show it at once.
	Changed func(conversationID string)
}

// Service is the built-in inbox.
type Service struct {
	cfg   Config
	db    *store.DB
	log   *slog.Logger
	clock tandem.Clock
	// teams are the configuration's teams; stored are those made in the admin screens
	// (reloaded at each Tick, so changes on another replica show within TickEvery).
	teams  map[string]config.Team
	tmu    sync.RWMutex
	stored map[string]config.Team
	desk   *deskImpl
	b      *broker

	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
}

// New returns the inbox; Start syncs the configuration's agents and runs its loops.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workspace == nil {
		cfg.Workspace = config.Default()
	}
	if cfg.NewID == nil {
		cfg.NewID = func() string { return ulid.Make().String() }
	}
	if cfg.OfflineAfter <= 0 {
		cfg.OfflineAfter = 5 * time.Minute
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = 5 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	s := &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger, clock: cfg.Clock, teams: map[string]config.Team{}}
	for _, t := range cfg.Workspace.Teams {
		s.teams[t.ID] = t
	}
	s.desk = &deskImpl{s: s}
	s.b = newBroker(s)
	return s
}

// SetEvents sets where agent actions go, for wiring in which the runner is built after the inbox.
func (s *Service) SetEvents(e Events) { s.cfg.Events = e }

// Start writes the configuration's agents and team memberships to the database, then runs the
// assignment loop (Tick every TickEvery) and the event stream's poller until ctx ends or Stop.
func (s *Service) Start(ctx context.Context) error {
	if err := s.Sync(ctx); err != nil {
		return err
	}
	if err := s.reloadTeams(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("inbox: already started")
	}
	// The stream's baseline is taken now: what is in the inbox when it starts is not news.
	if err := s.b.poll(ctx); err != nil {
		return err
	}
	s.started = true
	lctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.b.run(lctx)
	}()
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.cfg.TickEvery)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				if err := s.Tick(lctx); err != nil && lctx.Err() == nil {
					s.log.Error("inbox: assignment round failed; it will be tried again", "err", err)
				}
			}
		}
	}()
	return nil
}

// Stop ends the loops and every open event stream.
func (s *Service) Stop() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
}

// Sync writes the configuration's agents (with their password hashes) and team memberships:
// a team's members are its `members` and the agents that list it in their `teams`.
func (s *Service) Sync(ctx context.Context) error {
	ws := s.cfg.Workspace
	var agents []store.Agent
	members := map[string][]string{}
	for _, t := range ws.Teams {
		for _, m := range t.Members {
			members[t.ID] = append(members[t.ID], strings.ToLower(strings.TrimSpace(m)))
		}
	}
	for _, a := range ws.Agents {
		role := a.Role
		if role == "" {
			role = config.RoleAgent
		}
		name := a.Name
		if name == "" {
			name, _, _ = strings.Cut(a.Email, "@")
		}
		agents = append(agents, store.Agent{Email: strings.ToLower(a.Email), Name: name, Role: role, PasswordHash: a.PasswordHash})
		for _, t := range a.Teams {
			if !slices.Contains(members[t], strings.ToLower(a.Email)) {
				members[t] = append(members[t], strings.ToLower(a.Email))
			}
		}
	}
	if err := s.db.AgentSync(ctx, agents, members, s.clock.Now()); err != nil {
		return err
	}
	return nil
}

// Notify tells the inbox that a conversation changed (the runner's Notify): the event stream
// looks at once instead of at its next poll. It is safe on a nil Service.
func (s *Service) Notify(conversationID string) {
	if s != nil {
		s.b.wake()
	}
}

// changed wakes what follows a conversation whose status or agent the inbox changed itself:
// its own event stream and Config.Changed.
func (s *Service) changed(conversationID string) {
	s.b.wake()
	if s.cfg.Changed != nil {
		s.cfg.Changed(conversationID)
	}
}

// Desk returns the inbox desk for the id "inbox": runner.Config.Desk's lookup.
func (s *Service) Desk(id string) (tandem.Desk, bool) {
	if s == nil {
		return nil, false
	}
	if id != config.InboxDesk {
		// A desk of kind inbox under another id is the built-in inbox too.
		if d, ok := s.cfg.Workspace.Desk(id); !ok || d.Kind != config.InboxDesk {
			return nil, false
		}
	}
	return s.desk, true
}

// deskImpl is the inbox as a tandem.Desk: a handoff queues the conversation in its team and
// assigns it at once when a member is online.
type deskImpl struct{ s *Service }

func (d *deskImpl) NeedsEmail() bool { return false }

// Health reports the database: the inbox has nothing else to reach.
func (d *deskImpl) Health(ctx context.Context) error { return d.s.db.Ping(ctx) }

// Start is called when a handoff to the inbox starts: the engine has set the conversation queued
// in its team. The session is the engine's (the conversation id when it gives none). Assignment
// problems are logged, not returned: the conversation stays queued and the next Tick tries again.
func (d *deskImpl) Start(ctx context.Context, st tandem.DeskStart) (string, error) {
	if st.Conversation == nil || st.Conversation.ID == "" {
		return "", tandem.Permanent(errors.New("inbox: a handoff without a conversation"))
	}
	id := st.Conversation.ID
	s := d.s
	info, err := s.db.ConversationGet(ctx, id)
	if err == nil {
		if _, err = s.assignQueued(ctx, info); err != nil {
			s.log.Warn("inbox: a queued conversation could not be assigned; it will be tried again", "conversation", id, "err", err)
		}
	} else {
		s.log.Warn("inbox: a queued conversation could not be read; it will be assigned later", "conversation", id, "err", err)
	}
	s.b.wake()
	if st.Session != "" {
		return st.Session, nil
	}
	return id, nil
}

// Send: the customer's message is already stored; the event stream shows it.
func (d *deskImpl) Send(ctx context.Context, session string, m *tandem.Message) error {
	d.s.b.wake()
	return nil
}

// Close: the engine has already ended the handoff; the event stream shows it.
func (d *deskImpl) Close(ctx context.Context, session, reason string) error {
	d.s.b.wake()
	return nil
}

// handoffInfo is the part of the engine state the inbox reads: the conversation's handoff.
type handoffInfo struct {
	Status string `json:"status"`
	Desk   string `json:"desk"`
	Agent  string `json:"agent"`
}

func handoffOf(info *store.ConversationInfo) handoffInfo {
	var st struct {
		Handoff *handoffInfo `json:"handoff"`
	}
	if len(info.State) > 2 && json.Unmarshal(info.State, &st) == nil && st.Handoff != nil {
		return *st.Handoff
	}
	return handoffInfo{Status: tandem.HandoffNone}
}

func (h handoffInfo) active() bool {
	return h.Status == tandem.HandoffQueued || h.Status == tandem.HandoffConnected
}

// external reports whether the conversation is handed to another desk (intercom, ...): the
// inbox leaves it alone.
func (h handoffInfo) external() bool { return h.active() && h.Desk != "" && h.Desk != config.InboxDesk }

// inInbox reports whether a conversation belongs in the inbox: queued or assigned, and not handed
// to another desk.
func inInbox(info *store.ConversationInfo) bool {
	switch info.Status {
	case tandem.ConversationQueued, tandem.ConversationAssigned:
		return !handoffOf(info).external()
	}
	return false
}
