package inbox

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/internal/fields"
	"github.com/tandemchat/tandem/store"
)

// Actor is who acts in the inbox: an agent, or an API token without an agent, which acts as an
// admin with no identity of its own (it cannot say "me").
type Actor struct {
	// Agent is the agent's e-mail; "" for an API token.
	Agent string
	Admin bool
	// Token is the name of the API token, for the author of its notes.
	Token string
	// Teams are the agent's teams (what a non-admin agent sees).
	Teams []string
}

// AgentView is an agent as the inbox shows it: Status is what counts (an agent unseen for
// OfflineAfter is offline whatever it set), Presence what it set.
type AgentView struct {
	store.Agent
	Status string
}

// status is an agent's presence as it counts now.
func (s *Service) status(a *store.Agent, now time.Time) string {
	if a.Presence == "" || a.Presence == Offline || now.Sub(a.LastSeenAt) > s.cfg.OfflineAfter {
		return Offline
	}
	return a.Presence
}

func (s *Service) view(a *store.Agent) *AgentView {
	return &AgentView{Agent: *a, Status: s.status(a, s.clock.Now())}
}

// touchEvery is how often a busy agent's last_seen_at is written: much less than OfflineAfter.
const touchEvery = 30 * time.Second

// Actor resolves the token of an inbox request to its actor, and counts the request as the
// agent being seen. A token whose agent no longer exists is refused.
func (s *Service) Actor(ctx context.Context, tok *store.Token) (Actor, error) {
	if tok == nil {
		return Actor{}, tandem.Errorf(tandem.EUNAUTHORIZED, "Send an API token or an agent's login token.")
	}
	if tok.Agent == "" {
		return Actor{Admin: true, Token: tok.Name}, nil
	}
	a, err := s.db.AgentGet(ctx, tok.Agent)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return Actor{}, tandem.Errorf(tandem.EUNAUTHORIZED, "The agent of this token no longer exists; log in again.")
	} else if err != nil {
		return Actor{}, err
	}
	if a.Inactive {
		return Actor{}, tandem.Errorf(tandem.EUNAUTHORIZED, "This agent was deactivated by an admin.")
	}
	if err := s.touch(ctx, a); err != nil {
		return Actor{}, err
	}
	return Actor{Agent: a.Email, Admin: a.Role == config.RoleAdmin, Token: tok.Name, Teams: a.Teams}, nil
}

// Seen counts an agent as seen now (an open event stream calls it); it does nothing for an
// API token.
func (s *Service) Seen(ctx context.Context, by Actor) error {
	if by.Agent == "" {
		return nil
	}
	a, err := s.db.AgentGet(ctx, by.Agent)
	if err != nil {
		return err
	}
	return s.touch(ctx, a)
}

// touch writes that the agent was seen now, at most every touchEvery. An
// agent that had gone offline by absence and is back gets the queued conversations of its teams.
func (s *Service) touch(ctx context.Context, a *store.Agent) error {
	now := s.clock.Now()
	if d := now.Sub(a.LastSeenAt); d >= 0 && d < touchEvery {
		return nil
	}
	wasOffline := s.status(a, now) == Offline
	if _, err := s.db.AgentSeen(ctx, a.Email, now); err != nil {
		return err
	}
	if wasOffline && a.Presence == Online {
		s.b.wake()
		s.assignForAgent(ctx, a.Email)
	}
	return nil
}

// SetPresence sets the acting agent's presence: online, away or offline. Coming online assigns
// the queued conversations of the agent's teams.
func (s *Service) SetPresence(ctx context.Context, by Actor, status string) (*AgentView, error) {
	if by.Agent == "" {
		return nil, tandem.Errorf(tandem.EINVALID, "agent: presence is an agent's; log in as one (this API token has no agent).")
	}
	switch status {
	case Online, Away, Offline:
	default:
		return nil, tandem.Errorf(tandem.EINVALID, "status: %q is not a presence (online, away, offline).", status)
	}
	if err := s.db.AgentPresence(ctx, by.Agent, status, s.clock.Now()); err != nil {
		return nil, err
	}
	s.b.wake()
	if status == Online {
		s.assignForAgent(ctx, by.Agent)
	}
	a, err := s.db.AgentGet(ctx, by.Agent)
	if err != nil {
		return nil, err
	}
	return s.view(a), nil
}

// Agent returns one agent; "me" is the acting agent.
func (s *Service) Agent(ctx context.Context, by Actor, email string) (*AgentView, error) {
	if email == "me" {
		if by.Agent == "" {
			return nil, tandem.Errorf(tandem.EINVALID, `agent: "me" needs an agent's token (log in as an agent); this API token has no agent.`)
		}
		email = by.Agent
	}
	a, err := s.db.AgentGet(ctx, email)
	if err != nil {
		return nil, err
	}
	return s.view(a), nil
}

// Agents lists every agent with its presence.
func (s *Service) Agents(ctx context.Context) ([]AgentView, error) {
	list, err := s.db.AgentList(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	out := make([]AgentView, len(list))
	for i := range list {
		out[i] = AgentView{Agent: list[i], Status: s.status(&list[i], now)}
	}
	return out, nil
}

// NewAgent is an agent to create.
type NewAgent struct {
	Email    string
	Name     string
	Password string
	Role     string
	Teams    []string
}

// CreateAgent creates an agent with a password (admins only).
func (s *Service) CreateAgent(ctx context.Context, by Actor, p NewAgent) (*AgentView, error) {
	if !by.Admin {
		return nil, tandem.Errorf(tandem.EFORBIDDEN, "Only an admin may create agents.")
	}
	if err := fields.Texts(fields.Check{Field: "email", Value: p.Email, Max: fields.MaxEmail}, fields.Check{Field: "name", Value: p.Name, Max: fields.MaxName}); err != nil {
		return nil, err
	}
	email := strings.ToLower(strings.TrimSpace(p.Email))
	if !validEmail(email) {
		return nil, tandem.Errorf(tandem.EINVALID, "email: %q is not an e-mail address.", p.Email)
	}
	role := p.Role
	if role == "" {
		role = config.RoleAgent
	}
	if role != config.RoleAgent && role != config.RoleAdmin {
		return nil, tandem.Errorf(tandem.EINVALID, "role: %q is not a role (agent, admin).", p.Role)
	}
	hash, err := s.HashPassword(p.Password)
	if err != nil {
		return nil, err
	}
	for _, t := range p.Teams {
		if _, ok := s.team(t); !ok {
			return nil, tandem.Errorf(tandem.EINVALID, "teams: %q is not a team.", t)
		}
	}
	name := strings.TrimSpace(p.Name)
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	a := store.Agent{Email: email, Name: name, Role: role, PasswordHash: hash, Teams: slices.Compact(slices.Sorted(slices.Values(p.Teams)))}
	if err := s.db.AgentCreate(ctx, a, s.clock.Now()); err != nil {
		return nil, err
	}
	s.b.wake()
	return s.Agent(ctx, by, email)
}

func validEmail(e string) bool {
	local, domain, ok := strings.Cut(e, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(e, " \t<>,;\"") && !strings.Contains(domain, "@") && len(e) <= 254
}

// HashPassword returns the bcrypt hash of a password of 8 to 72 bytes (bcrypt reads no more).
func (s *Service) HashPassword(password string) (string, error) {
	if len(password) < 8 {
		return "", tandem.Errorf(tandem.EINVALID, "password: at least 8 characters.")
	}
	if len(password) > 72 {
		return "", tandem.Errorf(tandem.EINVALID, "password: at most 72 bytes.")
	}
	cost := s.cfg.BcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// errLogin is the one answer to a failed login: it does not say which half was wrong.
var errLogin = tandem.Errorf(tandem.EUNAUTHORIZED, "The e-mail or the password is wrong.")

// dummyHash is compared against when the agent is unknown or has no password, so that a failed
// login takes as long whatever the reason.
var (
	dummyOnce sync.Once
	dummyHash []byte
)

func dummy() []byte {
	dummyOnce.Do(func() {
		dummyHash, _ = bcrypt.GenerateFromPassword([]byte("tandem: no such agent"), bcrypt.DefaultCost)
	})
	return dummyHash
}

// Login checks an agent's password and mints a login: a session token bound to the agent, which
// ends when unused for auth.session_idle, auth.session_max after the login, or at logout.
func (s *Service) Login(ctx context.Context, email, password string) (token string, agent *AgentView, err error) {
	a, err := s.db.AgentGet(ctx, strings.TrimSpace(email))
	if err != nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
		return "", nil, err
	}
	hash := dummy()
	if a != nil && a.PasswordHash != "" {
		hash = []byte(a.PasswordHash)
	}
	cmp := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if a == nil || a.PasswordHash == "" || cmp != nil {
		if cmp != nil && !errors.Is(cmp, bcrypt.ErrMismatchedHashAndPassword) && a != nil && a.PasswordHash != "" {
			s.log.Warn("inbox: an agent's password hash is not a bcrypt hash", "agent", a.Email)
		}
		return "", nil, errLogin
	}
	if a.Inactive {
		return "", nil, tandem.Errorf(tandem.EFORBIDDEN, "This agent was deactivated; ask an admin of the workspace to reactivate it.")
	}
	now := s.clock.Now()
	auth := s.cfg.Workspace.Auth
	token, _, err = s.db.TokenMint(ctx, store.TokenParams{Name: "inbox login", Kind: store.TokenSession, Agent: a.Email,
		ExpiresAt: now.Add(auth.SessionIdle.D()), MaxExpiresAt: now.Add(auth.SessionMax.D()), Now: now, NewID: s.cfg.NewID})
	if err != nil {
		return "", nil, err
	}
	if err := s.touch(ctx, a); err != nil {
		return "", nil, err
	}
	if a, err = s.db.AgentGet(ctx, a.Email); err != nil {
		return "", nil, err
	}
	return token, s.view(a), nil
}

// TeamView is a team of the configuration with its members.
type TeamView struct {
	ID            string
	Name          string
	Strategy      string
	ReassignAfter time.Duration
	Members       []string
	Online        int
	// Configured is set for a team of tandem.yaml (changed there, not in the admin screens).
	Configured bool
}

// Teams lists the configuration's teams with their members and how many are online.
func (s *Service) Teams(ctx context.Context) ([]TeamView, error) {
	agents, err := s.Agents(ctx)
	if err != nil {
		return nil, err
	}
	members, err := s.db.TeamMembers(ctx)
	if err != nil {
		return nil, err
	}
	status := map[string]string{}
	for _, a := range agents {
		status[a.Email] = a.Status
	}
	out := []TeamView{}
	for _, t := range s.allTeams() {
		_, fromConfig := s.teams[t.ID]
		v := TeamView{ID: t.ID, Name: t.Name, Strategy: t.Strategy, ReassignAfter: t.ReassignAfter.D(), Members: members[t.ID], Configured: fromConfig}
		if v.Members == nil {
			v.Members = []string{}
		}
		for _, m := range v.Members {
			if status[m] == Online {
				v.Online++
			}
		}
		out = append(out, v)
	}
	return out, nil
}
