package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// Agent is a login of the built-in inbox. E-mails are stored lower-cased.
type Agent struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	// PasswordHash is a bcrypt hash; "" means the agent cannot log in with a password.
	PasswordHash string `json:"-"`
	// Presence is what the agent set: online, away or offline. Whether an agent counts as online
	// also depends on LastSeenAt; the inbox decides.
	Presence   string    `json:"presence"`
	LastSeenAt time.Time `json:"last_seen_at"`
	Teams      []string  `json:"teams"`
	CreatedAt  time.Time `json:"created_at"`
	// Inactive is set when an admin deactivated the agent.
	Inactive bool `json:"inactive,omitempty"`
}

// Sources of agents and team memberships.
const (
	sourceConfig = "config"
	sourceAPI    = "api"
)

// AgentSync writes the configuration's agents and team memberships in one transaction: each
// agent is created or updated (name, role, and the password hash when one is given); the
// memberships that came from the configuration are replaced by members (team id → e-mails).
// Agents and memberships created with the API are kept.
func (db *DB) AgentSync(ctx context.Context, agents []Agent, members map[string][]string, now time.Time) error {
	return db.write(ctx, func(q q) error {
		for _, a := range agents {
			_, err := q.exec(`INSERT INTO agents (email, name, password_hash, role, source, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (email) DO UPDATE SET name = excluded.name, role = excluded.role, source = excluded.source,
 password_hash = CASE WHEN excluded.password_hash <> '' THEN excluded.password_hash ELSE agents.password_hash END`,
				strings.ToLower(a.Email), a.Name, a.PasswordHash, a.Role, sourceConfig, micros(now))
			if err != nil {
				return fmt.Errorf("agents: sync %s: %w", a.Email, err)
			}
		}
		if _, err := q.exec(`DELETE FROM team_members WHERE source = ?`, sourceConfig); err != nil {
			return fmt.Errorf("agents: sync teams: %w", err)
		}
		for team, emails := range members {
			for _, e := range emails {
				if _, err := q.exec(`INSERT INTO team_members (team_id, agent_email, source) VALUES (?, ?, ?) ON CONFLICT (team_id, agent_email) DO NOTHING`,
					team, strings.ToLower(e), sourceConfig); err != nil {
					return fmt.Errorf("agents: sync team %s: %w", team, err)
				}
			}
		}
		return nil
	})
}

// AgentCreate stores a new agent with its team memberships; it fails with a conflict when an
// agent has the e-mail, also when two requests race.
func (db *DB) AgentCreate(ctx context.Context, a Agent, now time.Time) error {
	email := strings.ToLower(a.Email)
	return db.write(ctx, func(q q) error {
		r, err := q.exec(`INSERT INTO agents (email, name, password_hash, role, presence, source, created_at) VALUES (?, ?, ?, ?, 'offline', ?, ?) ON CONFLICT DO NOTHING`,
			email, a.Name, a.PasswordHash, a.Role, sourceAPI, micros(now))
		if err != nil {
			return fmt.Errorf("agent %s: create: %w", email, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return tandem.Errorf(tandem.ECONFLICT, "Agent %q already exists.", email)
		}
		for _, t := range a.Teams {
			if _, err := q.exec(`INSERT INTO team_members (team_id, agent_email, source) VALUES (?, ?, ?) ON CONFLICT (team_id, agent_email) DO NOTHING`,
				t, email, sourceAPI); err != nil {
				return fmt.Errorf("agent %s: team %s: %w", email, t, err)
			}
		}
		return nil
	})
}

const agentCols = `email, name, password_hash, role, presence, last_seen_at, created_at, active`

func scanAgent(row interface{ Scan(...any) error }) (*Agent, error) {
	var a Agent
	var seen, created, active int64
	if err := row.Scan(&a.Email, &a.Name, &a.PasswordHash, &a.Role, &a.Presence, &seen, &created, &active); err != nil {
		return nil, err
	}
	a.Inactive = active == 0
	a.LastSeenAt, a.CreatedAt = fromMicros(seen), fromMicros(created)
	a.Teams = []string{}
	return &a, nil
}

// AgentGet returns an agent with its teams; e-mails are compared without case.
func (db *DB) AgentGet(ctx context.Context, email string) (*Agent, error) {
	email = strings.ToLower(email)
	q := db.read(ctx)
	a, err := scanAgent(q.row(`SELECT `+agentCols+` FROM agents WHERE email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Agent", email)
	} else if err != nil {
		return nil, fmt.Errorf("agent %s: %w", email, err)
	}
	rows, err := q.query(`SELECT team_id FROM team_members WHERE agent_email = ? ORDER BY team_id`, email)
	if err != nil {
		return nil, fmt.Errorf("agent %s: teams: %w", email, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		a.Teams = append(a.Teams, t)
	}
	return a, rows.Err()
}

// AgentList returns every agent with its teams, by e-mail.
func (db *DB) AgentList(ctx context.Context) ([]Agent, error) {
	q := db.read(ctx)
	rows, err := q.query(`SELECT ` + agentCols + ` FROM agents ORDER BY email`)
	if err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	var out []Agent
	index := map[string]int{}
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("agents: %w", err)
		}
		index[a.Email] = len(out)
		out = append(out, *a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	members, err := db.TeamMembers(ctx)
	if err != nil {
		return nil, err
	}
	for team, emails := range members {
		for _, e := range emails {
			if i, ok := index[e]; ok {
				out[i].Teams = append(out[i].Teams, team)
			}
		}
	}
	for i := range out {
		slices.Sort(out[i].Teams)
	}
	return out, nil
}

// TeamMembers returns each team's members (e-mails, sorted), agents or not.
func (db *DB) TeamMembers(ctx context.Context) (map[string][]string, error) {
	rows, err := db.read(ctx).query(`SELECT team_id, agent_email FROM team_members ORDER BY team_id, agent_email`)
	if err != nil {
		return nil, fmt.Errorf("team members: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var t, e string
		if err := rows.Scan(&t, &e); err != nil {
			return nil, err
		}
		out[t] = append(out[t], e)
	}
	return out, rows.Err()
}

// AgentPresence sets an agent's presence and marks it seen at now.
func (db *DB) AgentPresence(ctx context.Context, email, presence string, now time.Time) error {
	email = strings.ToLower(email)
	return db.write(ctx, func(q q) error {
		r, err := q.exec(`UPDATE agents SET presence = ?, last_seen_at = CASE WHEN last_seen_at < ? THEN ? ELSE last_seen_at END WHERE email = ?`,
			presence, micros(now), micros(now), email)
		if err != nil {
			return fmt.Errorf("agent %s: presence: %w", email, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound("Agent", email)
		}
		return nil
	})
}

// AgentSeen marks an agent seen at now (the time never moves back) and returns when it was
// seen before.
func (db *DB) AgentSeen(ctx context.Context, email string, now time.Time) (before time.Time, err error) {
	email = strings.ToLower(email)
	err = db.write(ctx, func(q q) error {
		var prev int64
		if err := q.row(`SELECT last_seen_at FROM agents WHERE email = ?`, email).Scan(&prev); errors.Is(err, sql.ErrNoRows) {
			return notFound("Agent", email)
		} else if err != nil {
			return fmt.Errorf("agent %s: seen: %w", email, err)
		}
		before = fromMicros(prev)
		if prev >= micros(now) {
			return nil
		}
		if _, err := q.exec(`UPDATE agents SET last_seen_at = ? WHERE email = ? AND last_seen_at < ?`, micros(now), email, micros(now)); err != nil {
			return fmt.Errorf("agent %s: seen: %w", email, err)
		}
		return nil
	})
	return before, err
}

// ---- assignment ----

// ConversationAssign assigns a conversation to an agent; the status becomes assigned. With
// onlyIfUnassigned it succeeds only while no other agent has it — the conversation is queued,
// handled by the bot, assigned to nobody, or already the agent's — so that of two agents taking one conversation at
// once exactly one wins: ok is false for the other. Without, any conversation that is not
// closed is assigned. A closed conversation is never assigned (ok false); an unknown one is a
// not-found error.
func (db *DB) ConversationAssign(ctx context.Context, id, agent string, onlyIfUnassigned bool, now time.Time) (ok bool, err error) {
	agent = strings.ToLower(agent)
	err = db.write(ctx, func(q q) error {
		ok = false
		var r sql.Result
		var err error
		if onlyIfUnassigned {
			// The condition is re-checked on the row as it is when the update runs: on
			// PostgreSQL a concurrent assignment holds the row lock, and this one then sees its
			// result (READ COMMITTED re-evaluates WHERE); SQLite has one writer.
			r, err = q.exec(`UPDATE conversations SET status = 'assigned', assignee = ?, updated_at = ?, version = version + 1 WHERE id = ? AND (status IN ('queued', 'bot') OR (status = 'assigned' AND assignee IN ('', ?)))`,
				agent, micros(now), id, agent)
		} else {
			r, err = q.exec(`UPDATE conversations SET status = 'assigned', assignee = ?, updated_at = ?, version = version + 1 WHERE id = ? AND status <> 'closed'`,
				agent, micros(now), id)
		}
		if err != nil {
			return fmt.Errorf("conversation %s: assign: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return q.conversationExists(id)
		}
		ok = true
		if err := q.recordStatus(id, now); err != nil {
			return err
		}
		return q.recordAssignment(id, agent, now)
	})
	return ok, err
}

func (q q) conversationExists(id string) error {
	var one int
	if err := q.row(`SELECT 1 FROM conversations WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return notFound("Conversation", id)
	} else if err != nil {
		return fmt.Errorf("conversation %s: %w", id, err)
	}
	return nil
}

func (q q) recordAssignment(id, agent string, now time.Time) error {
	_, err := q.exec(`INSERT INTO inbox_assignments (conversation_id, agent_email, assigned_at) VALUES (?, ?, ?)
ON CONFLICT (conversation_id) DO UPDATE SET agent_email = excluded.agent_email, assigned_at = excluded.assigned_at`, id, agent, micros(now))
	if err != nil {
		return fmt.Errorf("conversation %s: assignment: %w", id, err)
	}
	return q.addHandler(id, agent, now)
}

// addHandler records that an agent handled a conversation (was assigned it or wrote in it).
func (q q) addHandler(id, agent string, now time.Time) error {
	if _, err := q.exec(`INSERT INTO conversation_agents (conversation_id, agent_email, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		id, agent, micros(now)); err != nil {
		return fmt.Errorf("conversation %s: handler: %w", id, err)
	}
	return nil
}

// ConversationHandlerAdd records that an agent handled a conversation (wrote in it); every
// assignment records it too.
func (db *DB) ConversationHandlerAdd(ctx context.Context, id, agent string, now time.Time) error {
	return db.write(ctx, func(q q) error { return q.addHandler(id, strings.ToLower(agent), now) })
}

// ConversationHandled reports whether an agent was ever assigned a conversation or wrote in it.
func (db *DB) ConversationHandled(ctx context.Context, id, agent string) (bool, error) {
	var one int
	err := db.read(ctx).row(`SELECT 1 FROM conversation_agents WHERE conversation_id = ? AND agent_email = ?`, id, strings.ToLower(agent)).Scan(&one)
	if isNoRows(err) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("conversation %s: handlers: %w", id, err)
	}
	return true, nil
}

// TeamAssignParams asks for a conversation to be given to a member of its team.
type TeamAssignParams struct {
	ConversationID string
	Team           string
	// From is the agent a reassignment takes the conversation from; it must still have it and
	// not have answered (the handoff is queued). "" assigns a queued conversation of Team.
	From string
	// Candidates are the members who may get it (online ones), e-mails.
	Candidates []string
	// Pick chooses among the candidates, given the team's round-robin cursor (the last agent
	// assigned) and how many assigned conversations each candidate has; "" chooses nobody. It
	// runs inside the transaction and must not call the database.
	Pick func(cursor string, load map[string]int) string
	Now  time.Time
}

// TeamAssign gives a conversation to the team member p.Pick chooses, in one transaction with
// the team's round-robin cursor, so that assignments of one team (from any replica) take turns.
// It returns the agent, or "" when Pick chose nobody or the conversation is no longer as p
// expects (taken meanwhile, transferred, answered).
func (db *DB) TeamAssign(ctx context.Context, p TeamAssignParams) (agent string, err error) {
	err = db.write(ctx, func(q q) error {
		agent = ""
		if len(p.Candidates) == 0 {
			return nil
		}
		// The cursor row is locked first (PostgreSQL), so the team's assignments queue behind each
		// other; the conversation row is locked after it, never before, by this path only.
		if _, err := q.exec(`INSERT INTO team_state (team_id, rr_cursor) VALUES (?, '') ON CONFLICT (team_id) DO NOTHING`, p.Team); err != nil {
			return fmt.Errorf("team %s: state: %w", p.Team, err)
		}
		lock := ""
		if q.db.dialect == Postgres {
			lock = " FOR UPDATE"
		}
		var cursor string
		if err := q.row(`SELECT rr_cursor FROM team_state WHERE team_id = ?`+lock, p.Team).Scan(&cursor); err != nil {
			return fmt.Errorf("team %s: state: %w", p.Team, err)
		}
		load := make(map[string]int, len(p.Candidates))
		args := []any{}
		for _, c := range p.Candidates {
			load[c] = 0
			args = append(args, c)
		}
		rows, err := q.query(`SELECT assignee, COUNT(*) FROM conversations WHERE status = 'assigned' AND assignee IN (`+placeholders(len(args))+`) GROUP BY assignee`, args...)
		if err != nil {
			return fmt.Errorf("team %s: load: %w", p.Team, err)
		}
		for rows.Next() {
			var a string
			var n int
			if err := rows.Scan(&a, &n); err != nil {
				rows.Close()
				return err
			}
			load[a] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		pick := p.Pick(cursor, load)
		if pick == "" {
			return nil
		}
		var r sql.Result
		if p.From == "" {
			r, err = q.exec(`UPDATE conversations SET status = 'assigned', assignee = ?, updated_at = ?, version = version + 1 WHERE id = ? AND status = 'queued' AND team = ?`,
				pick, micros(p.Now), p.ConversationID, p.Team)
		} else {
			r, err = q.exec(`UPDATE conversations SET status = 'assigned', assignee = ?, updated_at = ?, version = version + 1 WHERE id = ? AND status = 'assigned' AND assignee = ? AND handoff = 'queued'`,
				pick, micros(p.Now), p.ConversationID, p.From)
		}
		if err != nil {
			return fmt.Errorf("conversation %s: assign: %w", p.ConversationID, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return nil
		}
		if _, err := q.exec(`UPDATE team_state SET rr_cursor = ? WHERE team_id = ?`, pick, p.Team); err != nil {
			return fmt.Errorf("team %s: state: %w", p.Team, err)
		}
		agent = pick
		if err := q.recordStatus(p.ConversationID, p.Now); err != nil {
			return err
		}
		return q.recordAssignment(p.ConversationID, pick, p.Now)
	})
	return agent, err
}

// ConversationRequeue puts a conversation whose agent has not answered (assigned to from, the
// handoff still queued) back in its team's queue, unassigned; ok is false when that no longer
// holds.
func (db *DB) ConversationRequeue(ctx context.Context, id, from string, now time.Time) (ok bool, err error) {
	err = db.write(ctx, func(q q) error {
		r, err := q.exec(`UPDATE conversations SET status = 'queued', assignee = '', updated_at = ?, version = version + 1 WHERE id = ? AND status = 'assigned' AND assignee = ? AND handoff = 'queued'`,
			micros(now), id, strings.ToLower(from))
		if err != nil {
			return fmt.Errorf("conversation %s: requeue: %w", id, err)
		}
		n, _ := r.RowsAffected()
		ok = n > 0
		if !ok {
			return nil
		}
		if err := q.recordStatus(id, now); err != nil {
			return err
		}
		_, err = q.exec(`DELETE FROM inbox_assignments WHERE conversation_id = ?`, id)
		return err
	})
	return ok, err
}

// AssignmentRenew starts the agent's time to answer again (reassign_after counts from now).
func (db *DB) AssignmentRenew(ctx context.Context, id, agent string, now time.Time) error {
	return db.write(ctx, func(q q) error {
		_, err := q.exec(`UPDATE inbox_assignments SET assigned_at = ? WHERE conversation_id = ? AND agent_email = ?`, micros(now), id, strings.ToLower(agent))
		return err
	})
}

// ConversationTransfer moves a conversation of the inbox (queued or assigned) to a team's
// queue, unassigned; ok is false when the conversation is not in the inbox.
func (db *DB) ConversationTransfer(ctx context.Context, id, team string, now time.Time) (ok bool, err error) {
	err = db.write(ctx, func(q q) error {
		ok = false
		r, err := q.exec(`UPDATE conversations SET status = 'queued', team = ?, assignee = '', updated_at = ?, version = version + 1 WHERE id = ? AND status IN ('queued', 'assigned')`,
			team, micros(now), id)
		if err != nil {
			return fmt.Errorf("conversation %s: transfer: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return q.conversationExists(id)
		}
		ok = true
		if err := q.recordStatus(id, now); err != nil {
			return err
		}
		_, err = q.exec(`DELETE FROM inbox_assignments WHERE conversation_id = ?`, id)
		return err
	})
	return ok, err
}

// Assignment is a conversation's current assignment in the inbox.
type Assignment struct {
	ConversationID string
	Agent          string
	AssignedAt     time.Time
}

// InboxOverdue returns up to limit conversations of a team assigned at or before `before` whose
// agent has not answered yet (the handoff is still queued), oldest assignment first.
func (db *DB) InboxOverdue(ctx context.Context, team string, before time.Time, limit int) ([]Assignment, error) {
	rows, err := db.read(ctx).query(`SELECT c.id, c.assignee, a.assigned_at FROM conversations c JOIN inbox_assignments a ON a.conversation_id = c.id
WHERE c.status = 'assigned' AND c.team = ? AND c.handoff = 'queued' AND a.agent_email = c.assignee AND a.assigned_at <= ?
ORDER BY a.assigned_at, c.id LIMIT ?`, team, micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("inbox: overdue: %w", err)
	}
	defer rows.Close()
	var out []Assignment
	for rows.Next() {
		var a Assignment
		var at int64
		if err := rows.Scan(&a.ConversationID, &a.Agent, &at); err != nil {
			return nil, err
		}
		a.AssignedAt = fromMicros(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// InboxQueued returns up to limit queued conversations of a team, least recently updated
// first, after a cursor ("" for the start); next is the cursor of the page that follows.
func (db *DB) InboxQueued(ctx context.Context, team, after string, limit int) (list []ConversationInfo, next string, err error) {
	where := `status = 'queued' AND team = ?`
	args := []any{team}
	if after != "" {
		t, id, err := parseCursor(after)
		if err != nil {
			return nil, "", err
		}
		where += ` AND (updated_at > ? OR (updated_at = ? AND id > ?))`
		args = append(args, t, t, id)
	}
	rows, err := db.read(ctx).query(`SELECT `+infoCols+` FROM conversations WHERE `+where+` ORDER BY updated_at, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, "", fmt.Errorf("inbox: queue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		info, err := scanInfo(rows)
		if err != nil {
			return nil, "", fmt.Errorf("inbox: queue: %w", err)
		}
		list = append(list, *info)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	return list, nextCursor(list, limit), nil
}

// ---- listing ----

// InboxListParams selects conversations of the inbox.
type InboxListParams struct {
	// Statuses are queued and/or assigned (both when empty), or any statuses.
	Statuses []string
	Team     string
	// ContactID keeps one contact's conversations.
	ContactID string
	// Assignee keeps only the conversations assigned to this agent.
	Assignee string
	// SeenBy keeps what an agent of role agent sees (inbox.Sees): the conversations assigned
	// to SeenBy, of SeenByTeams or of no team, and those SeenBy handled before.
	SeenBy      string
	SeenByTeams []string
	// Before is a cursor: the updated_at/id of the last conversation of the previous page.
	Before string
	Limit  int
}

// InboxItem is a conversation of the inbox with its contact and last message (with its status
// and error: the inbox's list marks a last reply that did not reach the customer).
type InboxItem struct {
	ConversationInfo
	Contact     *tandem.Contact
	LastMessage *tandem.Message
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// qualify prefixes each column of a comma-separated list with a table alias.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// withExtra scans a row's leading columns with scan and its trailing ones into extra.
type withExtra struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }

// InboxList returns queued and assigned conversations, most recently updated first, with their
// contact and last message, and the next cursor.
func (db *DB) InboxList(ctx context.Context, p InboxListParams) ([]InboxItem, string, error) {
	statuses := p.Statuses
	if len(statuses) == 0 {
		statuses = []string{tandem.ConversationQueued, tandem.ConversationAssigned}
	}
	var args []any
	for _, s := range statuses {
		args = append(args, s)
	}
	where := []string{"c.status IN (" + placeholders(len(statuses)) + ")"}
	if p.Team != "" {
		where = append(where, "c.team = ?")
		args = append(args, p.Team)
	}
	if p.ContactID != "" {
		where = append(where, "c.contact_id = ?")
		args = append(args, p.ContactID)
	}
	if p.Assignee != "" {
		where = append(where, "c.status = 'assigned' AND c.assignee = ?")
		args = append(args, strings.ToLower(p.Assignee))
	}
	if p.SeenBy != "" {
		agent := strings.ToLower(p.SeenBy)
		or := "c.assignee = ? OR c.team = ''"
		args = append(args, agent)
		if len(p.SeenByTeams) > 0 {
			or += " OR c.team IN (" + placeholders(len(p.SeenByTeams)) + ")"
			for _, t := range p.SeenByTeams {
				args = append(args, t)
			}
		}
		or += " OR EXISTS (SELECT 1 FROM conversation_agents ca WHERE ca.conversation_id = c.id AND ca.agent_email = ?)"
		args = append(args, agent)
		where = append(where, "("+or+")")
	}
	if p.Before != "" {
		t, id, err := parseCursor(p.Before)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))")
		args = append(args, t, t, id)
	}
	if p.Limit <= 0 || p.Limit > 500 {
		p.Limit = 50
	}
	args = append(args, p.Limit)
	// The last message is the newest one (a web conversation's status events share its counter).
	query := `SELECT ` + qualify("c", infoCols) + `, COALESCE(ct.data, ''),
 m.id, m.direction, m.author, m.type, m.text, m.data, m.status, m.error_code, m.error_message, m.created_at
FROM conversations c
LEFT JOIN contacts ct ON ct.id = c.contact_id
LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq = (SELECT MAX(seq) FROM messages WHERE conversation_id = c.id)
WHERE ` + strings.Join(where, " AND ") + ` ORDER BY c.updated_at DESC, c.id DESC LIMIT ?`
	rows, err := db.read(ctx).query(query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("inbox: %w", err)
	}
	defer rows.Close()
	var out []InboxItem
	for rows.Next() {
		var contact string
		var mid, mdir, mauthor, mtype, mtext, mdata, mstatus, mcode, mwhy sql.NullString
		var mcreated sql.NullInt64
		info, err := scanInfo(withExtra{rows, []any{&contact, &mid, &mdir, &mauthor, &mtype, &mtext, &mdata, &mstatus, &mcode, &mwhy, &mcreated}})
		if err != nil {
			return nil, "", fmt.Errorf("inbox: %w", err)
		}
		it := InboxItem{ConversationInfo: *info}
		if contact != "" {
			var c tandem.Contact
			if err := jsonUnmarshal(contact, &c); err == nil {
				it.Contact = &c
			}
		}
		if mid.Valid {
			m := tandem.Message{ID: mid.String, ConversationID: info.ID, Direction: mdir.String, Author: mauthor.String, Type: mtype.String,
				Text: mtext.String, Status: mstatus.String, Error: messageError(mstatus.String, mcode.String, mwhy.String), CreatedAt: fromMicros(mcreated.Int64)}
			var d messageData
			if jsonUnmarshal(mdata.String, &d) == nil {
				d.apply(&m)
			}
			it.LastMessage = &m
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	return out, nextCursor(out, p.Limit), nil
}

// ---- changes, for the inbox's event stream ----

// InboxChange is a conversation as the inbox's event stream compares it: with the position of
// its last message.
type InboxChange struct {
	ConversationInfo
	MsgSeq int64
}

// InboxChanges returns, oldest update first, the queued and assigned conversations updated at
// or after since (at most limit), and those of known (conversations the caller saw in the inbox)
// updated at or after since that have left it (closed, back to the bot).
func (db *DB) InboxChanges(ctx context.Context, since time.Time, known []string, limit int) ([]InboxChange, error) {
	q := db.read(ctx)
	scan := func(rows *sql.Rows, out []InboxChange) ([]InboxChange, error) {
		defer rows.Close()
		for rows.Next() {
			var ch InboxChange
			info, err := scanInfo(withExtra{rows, []any{&ch.MsgSeq}})
			if err != nil {
				return nil, fmt.Errorf("inbox: changes: %w", err)
			}
			ch.ConversationInfo = *info
			out = append(out, ch)
		}
		return out, rows.Err()
	}
	rows, err := q.query(`SELECT `+infoCols+`, msg_seq FROM conversations WHERE status IN ('queued', 'assigned') AND updated_at >= ? ORDER BY updated_at, id LIMIT ?`,
		micros(since), limit)
	if err != nil {
		return nil, fmt.Errorf("inbox: changes: %w", err)
	}
	out, err := scan(rows, nil)
	if err != nil {
		return nil, err
	}
	const chunk = 500
	for len(known) > 0 {
		n := min(chunk, len(known))
		args := []any{micros(since)}
		for _, id := range known[:n] {
			args = append(args, id)
		}
		known = known[n:]
		rows, err := q.query(`SELECT `+infoCols+`, msg_seq FROM conversations WHERE updated_at >= ? AND status NOT IN ('queued', 'assigned') AND id IN (`+placeholders(n)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("inbox: changes: %w", err)
		}
		if out, err = scan(rows, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MessagesAfterSeq returns up to limit messages of a conversation after a position (a message's
// seq; 0 for the first), oldest first, each with its status and error as the messages' list has
// them, and the position of the last one returned (seq when none).
func (db *DB) MessagesAfterSeq(ctx context.Context, conversationID string, seq int64, limit int) ([]tandem.Message, int64, error) {
	rows, err := db.read(ctx).query(`SELECT id, seq, direction, author, type, text, data, status, error_code, error_message, created_at FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		conversationID, seq, limit)
	if err != nil {
		return nil, seq, fmt.Errorf("messages: %w", err)
	}
	defer rows.Close()
	last := seq
	var out []tandem.Message
	for rows.Next() {
		m := tandem.Message{ConversationID: conversationID}
		var data, code, why string
		var created int64
		if err := rows.Scan(&m.ID, &last, &m.Direction, &m.Author, &m.Type, &m.Text, &data, &m.Status, &code, &why, &created); err != nil {
			return nil, seq, err
		}
		m.Error = messageError(m.Status, code, why)
		var d messageData
		if jsonUnmarshal(data, &d) == nil {
			d.apply(&m)
		}
		m.CreatedAt = fromMicros(created)
		out = append(out, m)
	}
	return out, last, rows.Err()
}

// ---- notes ----

// NoteInsert stores an internal note and marks its conversation updated (so the inbox's event
// stream sees it). Notes are never messages: the customer never gets them.
func (db *DB) NoteInsert(ctx context.Context, n tandem.Note) error {
	return db.write(ctx, func(q q) error {
		r, err := q.exec(`UPDATE conversations SET updated_at = CASE WHEN updated_at < ? THEN ? ELSE updated_at END WHERE id = ?`,
			micros(n.CreatedAt), micros(n.CreatedAt), n.ConversationID)
		if err != nil {
			return fmt.Errorf("note: %w", err)
		}
		if k, _ := r.RowsAffected(); k == 0 {
			return notFound("Conversation", n.ConversationID)
		}
		if _, err := q.exec(`INSERT INTO notes (conversation_id, id, author, text, created_at) VALUES (?, ?, ?, ?, ?)`,
			n.ConversationID, n.ID, n.Author, n.Text, micros(n.CreatedAt)); err != nil {
			return fmt.Errorf("note: %w", err)
		}
		return nil
	})
}

// NotesSince returns a conversation's notes created at or after since, oldest first.
func (db *DB) NotesSince(ctx context.Context, conversationID string, since time.Time) ([]tandem.Note, error) {
	rows, err := db.read(ctx).query(`SELECT id, author, text, created_at FROM notes WHERE conversation_id = ? AND created_at >= ? ORDER BY created_at, id`,
		conversationID, micros(since))
	if err != nil {
		return nil, fmt.Errorf("notes: %w", err)
	}
	defer rows.Close()
	var out []tandem.Note
	for rows.Next() {
		n := tandem.Note{ConversationID: conversationID}
		var created int64
		if err := rows.Scan(&n.ID, &n.Author, &n.Text, &created); err != nil {
			return nil, err
		}
		n.CreatedAt = fromMicros(created)
		out = append(out, n)
	}
	return out, rows.Err()
}
