package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// Team is a team made in the admin screens (the configuration's teams are not stored here).
type Team struct {
	ID            string
	Name          string
	Strategy      string
	ReassignAfter time.Duration
	CreatedAt     time.Time
}

// TeamList returns the stored teams, by id.
func (db *DB) TeamList(ctx context.Context) ([]Team, error) {
	rows, err := db.read(ctx).query(`SELECT id, name, strategy, reassign_after_ms, created_at FROM teams ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("teams: %w", err)
	}
	defer rows.Close()
	out := []Team{}
	for rows.Next() {
		var t Team
		var after, created int64
		if err := rows.Scan(&t.ID, &t.Name, &t.Strategy, &after, &created); err != nil {
			return nil, fmt.Errorf("teams: %w", err)
		}
		t.ReassignAfter, t.CreatedAt = time.Duration(after)*time.Millisecond, fromMicros(created)
		out = append(out, t)
	}
	return out, rows.Err()
}

// TeamCreate stores a team and its members (memberships of source api); an id in use is a
// conflict.
func (db *DB) TeamCreate(ctx context.Context, t Team, members []string, now time.Time) error {
	return db.write(ctx, func(q q) error {
		r, err := q.exec(`INSERT INTO teams (id, name, strategy, reassign_after_ms, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			t.ID, t.Name, t.Strategy, t.ReassignAfter.Milliseconds(), micros(now))
		if err != nil {
			return fmt.Errorf("team %s: create: %w", t.ID, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return tandem.Errorf(tandem.ECONFLICT, "Team %q already exists.", t.ID)
		}
		return setMembers(q, t.ID, members)
	})
}

// TeamUpdate changes a stored team's name, strategy and reassign_after.
func (db *DB) TeamUpdate(ctx context.Context, t Team) error {
	return db.write(ctx, func(q q) error {
		r, err := q.exec(`UPDATE teams SET name = ?, strategy = ?, reassign_after_ms = ? WHERE id = ?`,
			t.Name, t.Strategy, t.ReassignAfter.Milliseconds(), t.ID)
		if err != nil {
			return fmt.Errorf("team %s: update: %w", t.ID, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound("Team", t.ID)
		}
		return nil
	})
}

// TeamMembersSet replaces the members a team has from the API (the configuration's stay).
func (db *DB) TeamMembersSet(ctx context.Context, team string, members []string) error {
	return db.write(ctx, func(q q) error { return setMembers(q, team, members) })
}

func setMembers(q q, team string, members []string) error {
	if _, err := q.exec(`DELETE FROM team_members WHERE team_id = ? AND source = ?`, team, sourceAPI); err != nil {
		return fmt.Errorf("team %s: members: %w", team, err)
	}
	for _, m := range members {
		if _, err := q.exec(`INSERT INTO team_members (team_id, agent_email, source) VALUES (?, ?, ?) ON CONFLICT (team_id, agent_email) DO NOTHING`,
			team, strings.ToLower(m), sourceAPI); err != nil {
			return fmt.Errorf("team %s: member %s: %w", team, m, err)
		}
	}
	return nil
}

// TeamDelete removes a stored team with its memberships and assignment cursor.
func (db *DB) TeamDelete(ctx context.Context, id string) error {
	return db.write(ctx, func(q q) error {
		r, err := q.exec(`DELETE FROM teams WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("team %s: delete: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound("Team", id)
		}
		for _, stmt := range []string{`DELETE FROM team_members WHERE team_id = ?`, `DELETE FROM team_state WHERE team_id = ?`} {
			if _, err := q.exec(stmt, id); err != nil {
				return fmt.Errorf("team %s: delete: %w", id, err)
			}
		}
		return nil
	})
}

// AgentChange is what an admin changes of an agent; nil fields stay.
type AgentChange struct {
	Email  string
	Name   *string
	Role   *string
	Active *bool
	// Teams replaces the agent's memberships of source api (the configuration's stay).
	Teams *[]string
}

// AgentUpdate changes an agent. Deactivating one also sets it offline and ends its logins and
// tokens, in the same transaction.
func (db *DB) AgentUpdate(ctx context.Context, c AgentChange) error {
	email := strings.ToLower(c.Email)
	return db.write(ctx, func(q q) error {
		var exists int
		if err := q.row(`SELECT 1 FROM agents WHERE email = ?`, email).Scan(&exists); errors.Is(err, sql.ErrNoRows) {
			return notFound("Agent", email)
		} else if err != nil {
			return fmt.Errorf("agent %s: update: %w", email, err)
		}
		set := func(stmt string, args ...any) error {
			if _, err := q.exec(stmt, append(args, email)...); err != nil {
				return fmt.Errorf("agent %s: update: %w", email, err)
			}
			return nil
		}
		if c.Name != nil {
			if err := set(`UPDATE agents SET name = ? WHERE email = ?`, *c.Name); err != nil {
				return err
			}
		}
		if c.Role != nil {
			if err := set(`UPDATE agents SET role = ? WHERE email = ?`, *c.Role); err != nil {
				return err
			}
		}
		if c.Active != nil {
			active := 0
			if *c.Active {
				active = 1
			}
			if err := set(`UPDATE agents SET active = ? WHERE email = ?`, active); err != nil {
				return err
			}
			if !*c.Active {
				if err := set(`UPDATE agents SET presence = 'offline' WHERE email = ?`); err != nil {
					return err
				}
				if err := set(`DELETE FROM tokens WHERE agent = ?`); err != nil {
					return err
				}
			}
		}
		if c.Teams != nil {
			if err := set(`DELETE FROM team_members WHERE source = 'api' AND agent_email = ?`); err != nil {
				return err
			}
			for _, t := range *c.Teams {
				if _, err := q.exec(`INSERT INTO team_members (team_id, agent_email, source) VALUES (?, ?, ?) ON CONFLICT (team_id, agent_email) DO NOTHING`,
					t, email, sourceAPI); err != nil {
					return fmt.Errorf("agent %s: team %s: %w", email, t, err)
				}
			}
		}
		return nil
	})
}
