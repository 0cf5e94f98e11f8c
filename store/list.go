package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// ConversationListParams filters conversations.
type ConversationListParams struct {
	Status string // bot | queued | assigned | closed
	Team   string
	// Before is a cursor: the updated_at/id of the last conversation of the previous page.
	Before string
	Limit  int
}

// ConversationList returns conversations, most recently updated first, and the next cursor.
func (db *DB) ConversationList(ctx context.Context, p ConversationListParams) ([]ConversationInfo, string, error) {
	var where []string
	var args []any
	if p.Status != "" {
		where = append(where, "status = ?")
		args = append(args, p.Status)
	}
	if p.Team != "" {
		where = append(where, "team = ?")
		args = append(args, p.Team)
	}
	if p.Before != "" {
		us, id, ok := strings.Cut(p.Before, "_")
		var t int64
		if _, err := fmt.Sscan(us, &t); !ok || err != nil {
			return nil, "", tandem.Errorf(tandem.EINVALID, "cursor: %q is not a cursor this API returned.", p.Before)
		}
		where = append(where, "(updated_at < ? OR (updated_at = ? AND id < ?))")
		args = append(args, t, t, id)
	}
	if p.Limit <= 0 || p.Limit > 500 {
		p.Limit = 50
	}
	query := `SELECT ` + conversationCols + `, state, done_seq FROM conversations`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY updated_at DESC, id DESC LIMIT ?"
	args = append(args, p.Limit)
	rows, err := db.read(ctx).query(query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("conversations: %w", err)
	}
	defer rows.Close()
	var out []ConversationInfo
	for rows.Next() {
		var c tandem.Conversation
		var paused int
		var data, state string
		var created, updated, done int64
		if err := rows.Scan(&c.ID, &c.ContactID, &c.ChannelID, &c.ChannelKind, &c.Status, &c.Team, &c.Assignee,
			&paused, &data, &created, &updated, &state, &done); err != nil {
			return nil, "", err
		}
		c.BotPaused = paused != 0
		c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
		var d convData
		_ = json.Unmarshal([]byte(data), &d)
		c.Attributes, c.Tags = d.Attributes, d.Tags
		out = append(out, ConversationInfo{Conversation: c, State: []byte(state)})
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) == p.Limit {
		last := out[len(out)-1]
		next = fmt.Sprintf("%d_%s", micros(last.UpdatedAt), last.ID)
	}
	return out, next, nil
}

// ContactPatch changes a contact's fields: each non-nil field is set; attributes set to nil
// are removed.
type ContactPatch struct {
	Name       *string        `json:"name"`
	FirstName  *string        `json:"first_name"`
	LastName   *string        `json:"last_name"`
	Phone      *string        `json:"phone"`
	Email      *string        `json:"email"`
	Language   *string        `json:"language"`
	Attributes map[string]any `json:"attributes"`
	Tags       *[]string      `json:"tags"`
}

// ContactUpdate applies a patch to a contact in one transaction and returns the result.
func (db *DB) ContactUpdate(ctx context.Context, id string, p ContactPatch, now time.Time) (*tandem.Contact, error) {
	var out *tandem.Contact
	err := db.write(ctx, func(q q) error {
		lock := ""
		if db.dialect == Postgres {
			lock = " FOR UPDATE"
		}
		var data string
		if err := q.row(`SELECT data FROM contacts WHERE id = ?`+lock, id).Scan(&data); err != nil {
			return notFound("Contact", id)
		}
		var c tandem.Contact
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return fmt.Errorf("contact %s: %w", id, err)
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = strings.TrimSpace(*v)
			}
		}
		set(&c.Name, p.Name)
		set(&c.FirstName, p.FirstName)
		set(&c.LastName, p.LastName)
		set(&c.Phone, p.Phone)
		set(&c.Email, p.Email)
		set(&c.Language, p.Language)
		for k, v := range p.Attributes {
			if v == nil {
				delete(c.Attributes, k)
				continue
			}
			if c.Attributes == nil {
				c.Attributes = map[string]any{}
			}
			c.Attributes[k] = v
		}
		if p.Tags != nil {
			c.Tags = *p.Tags
		}
		c.UpdatedAt = now
		out = &c
		return q.saveContact(&c)
	})
	return out, err
}

// RunCounts counts conversations by the status of their active run (running, waiting).
func (db *DB) RunCounts(ctx context.Context) (map[string]int, error) {
	rows, err := db.read(ctx).query(`SELECT run_status, COUNT(*) FROM conversations WHERE run_status IN ('running', 'waiting') GROUP BY run_status`)
	if err != nil {
		return nil, fmt.Errorf("run counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{"running": 0, "waiting": 0}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}
