package inbox

import (
	"context"
	"errors"
	"slices"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/store"
)

// maxScan bounds the queued conversations one team's assignment round reads: conversations
// queued for other desks are skipped, and must not make the round unbounded.
const maxScan = 1000

// strategy returns how a team picks an agent; conversations with no team (or a team the
// configuration does not have) go round robin among all agents.
func (s *Service) strategy(team string) string {
	if t, ok := s.team(team); ok && t.Strategy != "" {
		return t.Strategy
	}
	return config.StrategyRoundRobin
}

// pick returns the chooser of a strategy over candidates sorted by e-mail.
//
// round_robin takes the first candidate after the team's cursor (the last agent assigned), in
// e-mail order, wrapping around: each online member in turn, whoever joined or left.
// least_busy takes the candidate with the fewest assigned conversations; ties go round robin.
func pick(strategy string, candidates []string) func(cursor string, load map[string]int) string {
	return func(cursor string, load map[string]int) string {
		if len(candidates) == 0 {
			return ""
		}
		order := make([]string, 0, len(candidates))
		for _, c := range candidates {
			if c > cursor {
				order = append(order, c)
			}
		}
		for _, c := range candidates {
			if c <= cursor {
				order = append(order, c)
			}
		}
		if strategy != config.StrategyLeastBusy {
			return order[0]
		}
		best := order[0]
		for _, c := range order[1:] {
			if load[c] < load[best] {
				best = c
			}
		}
		return best
	}
}

// onlineMembers returns the team's members who are online now, sorted; for no team, every
// online agent.
func (s *Service) onlineMembers(ctx context.Context, team string) ([]string, error) {
	agents, err := s.db.AgentList(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var out []string
	for i := range agents {
		a := &agents[i]
		if s.status(a, now) != Online {
			continue
		}
		if team == "" || slices.Contains(a.Teams, team) {
			out = append(out, a.Email)
		}
	}
	slices.Sort(out)
	return out, nil
}

// assignQueued gives a queued conversation of the inbox to an online member of its team, by
// the team's strategy. It returns the agent, or "" when nobody is online (the conversation stays
// queued) or the conversation is no longer queued.
func (s *Service) assignQueued(ctx context.Context, info *store.ConversationInfo) (string, error) {
	cands, err := s.onlineMembers(ctx, info.Team)
	if err != nil {
		return "", err
	}
	return s.assignTo(ctx, info, cands)
}

// assignTo gives a queued conversation of the inbox to one of the candidates (online members of
// its team, sorted).
func (s *Service) assignTo(ctx context.Context, info *store.ConversationInfo, cands []string) (string, error) {
	if info.Status != tandem.ConversationQueued || !inInbox(info) || len(cands) == 0 {
		return "", nil
	}
	agent, err := s.db.TeamAssign(ctx, store.TeamAssignParams{ConversationID: info.ID, Team: info.Team, Candidates: cands,
		Pick: pick(s.strategy(info.Team), cands), Now: s.clock.Now()})
	if agent != "" {
		s.log.Info("inbox: conversation assigned", "conversation", info.ID, "team", info.Team, "agent", agent)
		s.changed(info.ID)
	}
	return agent, err
}

// assignTeam assigns the team's queued conversations, oldest first, while members are online:
// at most limit of them.
func (s *Service) assignTeam(ctx context.Context, team string, limit int) error {
	after, scanned, assigned := "", 0, 0
	for scanned < maxScan && assigned < limit {
		cands, err := s.onlineMembers(ctx, team)
		if err != nil || len(cands) == 0 {
			return err
		}
		list, next, err := s.db.InboxQueued(ctx, team, after, 100)
		if err != nil {
			return err
		}
		for i := range list {
			scanned++
			agent, err := s.assignTo(ctx, &list[i], cands)
			if err != nil {
				return err
			}
			if agent != "" {
				if assigned++; assigned >= limit {
					return nil
				}
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
	return nil
}

// assignForAgent assigns the queued conversations of an agent's teams, now that it is online.
// Errors are logged: Tick tries again.
func (s *Service) assignForAgent(ctx context.Context, email string) {
	a, err := s.db.AgentGet(ctx, email)
	if err != nil {
		s.log.Warn("inbox: queued conversations not assigned", "agent", email, "err", err)
		return
	}
	for _, team := range append(a.Teams, "") {
		if err := s.assignTeam(ctx, team, s.cfg.Batch); err != nil {
			s.log.Warn("inbox: queued conversations not assigned; they will be tried again", "team", team, "err", err)
		}
	}
}

// Tick runs one assignment round: each team's queued conversations go to online members, and
// conversations whose agent has not answered within the team's reassign_after go to another
// online member (back to the queue when the agent is offline and nobody else is online; the
// agent keeps it for another reassign_after when it is the only one online). Each team handles
// at most Batch conversations of each kind per round.
func (s *Service) Tick(ctx context.Context) error {
	var errs []error
	if err := s.reloadTeams(ctx); err != nil {
		errs = append(errs, err)
	}
	all := s.allTeams()
	teams := []string{""}
	for _, t := range all {
		teams = append(teams, t.ID)
	}
	for _, team := range teams {
		if err := s.assignTeam(ctx, team, s.cfg.Batch); err != nil {
			errs = append(errs, err)
		}
	}
	now := s.clock.Now()
	for _, t := range all {
		after := t.ReassignAfter.D()
		if after <= 0 {
			continue
		}
		overdue, err := s.db.InboxOverdue(ctx, t.ID, now.Add(-after), s.cfg.Batch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range overdue {
			if err := s.reassign(ctx, t.ID, a); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// reassign moves an unanswered assignment to another online member of the team.
func (s *Service) reassign(ctx context.Context, team string, a store.Assignment) error {
	online, err := s.onlineMembers(ctx, team)
	if err != nil {
		return err
	}
	others := slices.DeleteFunc(slices.Clone(online), func(e string) bool { return e == a.Agent })
	now := s.clock.Now()
	if len(others) > 0 {
		agent, err := s.db.TeamAssign(ctx, store.TeamAssignParams{ConversationID: a.ConversationID, Team: team, From: a.Agent,
			Candidates: others, Pick: pick(s.strategy(team), others), Now: now})
		if agent != "" {
			s.log.Info("inbox: unanswered conversation reassigned", "conversation", a.ConversationID, "team", team, "from", a.Agent, "to", agent)
			s.changed(a.ConversationID)
		}
		return err
	}
	if slices.Contains(online, a.Agent) {
		return s.db.AssignmentRenew(ctx, a.ConversationID, a.Agent, now)
	}
	ok, err := s.db.ConversationRequeue(ctx, a.ConversationID, a.Agent, now)
	if ok {
		s.log.Info("inbox: unanswered conversation back in the queue", "conversation", a.ConversationID, "team", team, "from", a.Agent)
		s.changed(a.ConversationID)
	}
	return err
}
