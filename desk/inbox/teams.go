package inbox

import (
	"context"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/store"
)

// team returns a team of the configuration or of the admin screens.
func (s *Service) team(id string) (config.Team, bool) {
	if t, ok := s.teams[id]; ok {
		return t, true
	}
	s.tmu.RLock()
	defer s.tmu.RUnlock()
	t, ok := s.stored[id]
	return t, ok
}

// allTeams returns the configuration's teams, in its order, then the stored ones by id.
func (s *Service) allTeams() []config.Team {
	out := slices.Clone(s.cfg.Workspace.Teams)
	s.tmu.RLock()
	defer s.tmu.RUnlock()
	ids := make([]string, 0, len(s.stored))
	for id := range s.stored {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		out = append(out, s.stored[id])
	}
	return out
}

// TeamIDs returns the ids of every team, for checking the team of a handoff step.
func (s *Service) TeamIDs() []string {
	var out []string
	for _, t := range s.allTeams() {
		out = append(out, t.ID)
	}
	return out
}

// reloadTeams reads the stored teams.
func (s *Service) reloadTeams(ctx context.Context) error {
	list, err := s.db.TeamList(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]config.Team, len(list))
	for _, t := range list {
		if _, configured := s.teams[t.ID]; configured {
			continue // tandem.yaml wins
		}
		m[t.ID] = config.Team{ID: t.ID, Name: t.Name, Strategy: t.Strategy, ReassignAfter: config.Duration(t.ReassignAfter)}
	}
	s.tmu.Lock()
	s.stored = m
	s.tmu.Unlock()
	return nil
}

var teamIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// TeamChange is a team as an admin writes it; nil fields stay (on a new team: defaults).
type TeamChange struct {
	Name          *string
	Strategy      *string
	ReassignAfter *string
	Members       *[]string
}

func (s *Service) checkTeamChange(ctx context.Context, c *TeamChange, t *store.Team) error {
	if c.Name != nil {
		n := strings.TrimSpace(*c.Name)
		if len(n) > 100 || strings.ContainsRune(n, 0) {
			return tandem.Errorf(tandem.EINVALID, "name: at most 100 characters.")
		}
		t.Name = n
	}
	if c.Strategy != nil {
		switch *c.Strategy {
		case config.StrategyRoundRobin, config.StrategyLeastBusy:
			t.Strategy = *c.Strategy
		default:
			return tandem.Errorf(tandem.EINVALID, "strategy: %q is not a strategy (round_robin, least_busy).", *c.Strategy)
		}
	}
	if c.ReassignAfter != nil {
		d := time.Duration(0)
		if v := strings.TrimSpace(*c.ReassignAfter); v != "" && v != "0" {
			var err error
			if d, err = tandem.ParseDuration(v); err != nil || d < 0 {
				return tandem.Errorf(tandem.EINVALID, "reassign_after: %q is not a duration (30s, 5m, 1h; empty: never).", *c.ReassignAfter)
			}
		}
		t.ReassignAfter = d
	}
	if c.Members != nil {
		for i, m := range *c.Members {
			m = strings.ToLower(strings.TrimSpace(m))
			if _, err := s.db.AgentGet(ctx, m); err != nil {
				return tandem.Errorf(tandem.EINVALID, "members: %q is not an agent.", m)
			}
			(*c.Members)[i] = m
		}
	}
	return nil
}

// CreateTeam makes a team (admins only): an id that no team has, a strategy (default
// round_robin), reassign_after (default never) and members.
func (s *Service) CreateTeam(ctx context.Context, id string, c TeamChange) (*TeamView, error) {
	id = strings.TrimSpace(id)
	if !teamIDRE.MatchString(id) {
		return nil, tandem.Errorf(tandem.EINVALID, "id: 1 to 40 lowercase letters, digits, - or _ (flows name the team by it).")
	}
	if _, ok := s.team(id); ok {
		return nil, tandem.Errorf(tandem.ECONFLICT, "Team %q already exists.", id)
	}
	t := store.Team{ID: id, Name: id, Strategy: config.StrategyRoundRobin}
	if err := s.checkTeamChange(ctx, &c, &t); err != nil {
		return nil, err
	}
	var members []string
	if c.Members != nil {
		members = *c.Members
	}
	if err := s.db.TeamCreate(ctx, t, members, s.clock.Now()); err != nil {
		return nil, err
	}
	return s.teamView(ctx, id)
}

// UpdateTeam changes a team. A team of tandem.yaml keeps its name, strategy and reassign_after
// (change them there); its members can be added here.
func (s *Service) UpdateTeam(ctx context.Context, id string, c TeamChange) (*TeamView, error) {
	cur, ok := s.team(id)
	if !ok {
		return nil, tandem.Errorf(tandem.ENOTFOUND, "Team %q does not exist.", id)
	}
	_, configured := s.teams[id]
	if configured && (c.Name != nil || c.Strategy != nil || c.ReassignAfter != nil) {
		return nil, tandem.Errorf(tandem.ECONFLICT, "Team %q is defined in tandem.yaml: change its name, strategy and reassign_after there.", id)
	}
	t := store.Team{ID: id, Name: cur.Name, Strategy: cur.Strategy, ReassignAfter: cur.ReassignAfter.D()}
	if err := s.checkTeamChange(ctx, &c, &t); err != nil {
		return nil, err
	}
	if !configured {
		if err := s.db.TeamUpdate(ctx, t); err != nil {
			return nil, err
		}
	}
	if c.Members != nil {
		if err := s.db.TeamMembersSet(ctx, id, *c.Members); err != nil {
			return nil, err
		}
	}
	s.b.wake()
	return s.teamView(ctx, id)
}

// DeleteTeam removes a team made in the admin screens, when none of its conversations is open.
func (s *Service) DeleteTeam(ctx context.Context, id string) error {
	if _, configured := s.teams[id]; configured {
		return tandem.Errorf(tandem.ECONFLICT, "Team %q is defined in tandem.yaml: remove it there.", id)
	}
	if _, ok := s.team(id); !ok {
		return tandem.Errorf(tandem.ENOTFOUND, "Team %q does not exist.", id)
	}
	open, _, err := s.db.InboxList(ctx, store.InboxListParams{Team: id, Limit: 1})
	if err != nil {
		return err
	}
	if len(open) > 0 {
		return tandem.Errorf(tandem.ECONFLICT, "Team %q has open conversations; transfer them to another team first.", id)
	}
	if err := s.db.TeamDelete(ctx, id); err != nil {
		return err
	}
	return s.reloadTeams(ctx)
}

func (s *Service) teamView(ctx context.Context, id string) (*TeamView, error) {
	if err := s.reloadTeams(ctx); err != nil {
		return nil, err
	}
	list, err := s.Teams(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].ID == id {
			return &list[i], nil
		}
	}
	return nil, tandem.Errorf(tandem.ENOTFOUND, "Team %q does not exist.", id)
}

// AgentChange is what an admin changes of an agent; nil fields stay.
type AgentChange struct {
	Name   *string
	Role   *string
	Active *bool
	Teams  *[]string
}

// UpdateAgent changes an agent (admins only). Deactivating ends the agent's logins at once; an
// admin cannot deactivate itself or take its own admin role (someone must stay able to manage).
func (s *Service) UpdateAgent(ctx context.Context, by Actor, email string, c AgentChange) (*AgentView, error) {
	if !by.Admin {
		return nil, tandem.Errorf(tandem.EFORBIDDEN, "Only an admin may change agents.")
	}
	email = strings.ToLower(strings.TrimSpace(email))
	self := by.Agent != "" && by.Agent == email
	if c.Role != nil {
		switch *c.Role {
		case config.RoleAgent, config.RoleAdmin:
		default:
			return nil, tandem.Errorf(tandem.EINVALID, "role: %q is not a role (agent, admin).", *c.Role)
		}
		if self && *c.Role != config.RoleAdmin {
			return nil, tandem.Errorf(tandem.EINVALID, "role: you cannot take your own admin role; ask another admin.")
		}
	}
	if c.Active != nil && !*c.Active && self {
		return nil, tandem.Errorf(tandem.EINVALID, "active: you cannot deactivate yourself; ask another admin.")
	}
	if c.Name != nil {
		n := strings.TrimSpace(*c.Name)
		if n == "" || len(n) > 100 {
			return nil, tandem.Errorf(tandem.EINVALID, "name: 1 to 100 characters.")
		}
		c.Name = &n
	}
	if c.Teams != nil {
		for _, t := range *c.Teams {
			if _, ok := s.team(t); !ok {
				return nil, tandem.Errorf(tandem.EINVALID, "teams: %q is not a team.", t)
			}
		}
	}
	if err := s.db.AgentUpdate(ctx, store.AgentChange{Email: email, Name: c.Name, Role: c.Role, Active: c.Active, Teams: c.Teams}); err != nil {
		return nil, err
	}
	s.b.wake()
	if c.Active != nil && !*c.Active {
		s.log.Info("inbox: agent deactivated", "agent", email, "by", by.name())
	}
	a, err := s.db.AgentGet(ctx, email)
	if err != nil {
		return nil, err
	}
	return s.view(a), nil
}
