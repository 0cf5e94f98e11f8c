package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// ConversationListParams filters conversations.
type ConversationListParams struct {
	Status string // bot | queued | assigned | closed
	Team   string
	// ContactID keeps one contact's conversations.
	ContactID string
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
	if p.ContactID != "" {
		where = append(where, "contact_id = ?")
		args = append(args, p.ContactID)
	}
	if p.Before != "" {
		t, id, err := parseCursor(p.Before)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(updated_at < ? OR (updated_at = ? AND id < ?))")
		args = append(args, t, t, id)
	}
	if p.Limit <= 0 || p.Limit > 500 {
		p.Limit = 50
	}
	query := `SELECT ` + infoCols + ` FROM conversations`
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
		info, err := scanInfo(rows)
		if err != nil {
			return nil, "", fmt.Errorf("conversations: %w", err)
		}
		out = append(out, *info)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	return out, nextCursor(out, p.Limit), nil
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

// ContactUpdate applies a patch to a contact in one transaction and returns the result; a
// patch that changes nothing writes nothing.
func (db *DB) ContactUpdate(ctx context.Context, id string, p ContactPatch, now time.Time) (*tandem.Contact, error) {
	var out *tandem.Contact
	err := db.write(ctx, func(q q) error {
		lock := ""
		if db.dialect == Postgres {
			lock = " FOR UPDATE"
		}
		var data string
		if err := q.row(`SELECT data FROM contacts WHERE id = ?`+lock, id).Scan(&data); errors.Is(err, sql.ErrNoRows) {
			return notFound("Contact", id)
		} else if err != nil {
			return fmt.Errorf("contact %s: %w", id, err)
		}
		var c tandem.Contact
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return fmt.Errorf("contact %s: %w", id, err)
		}
		before, _ := json.Marshal(c)
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
		out = &c
		if after, _ := json.Marshal(c); string(after) == string(before) {
			return nil // unchanged: the version stays, so running turns need not read it again
		}
		c.UpdatedAt = now
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

// MessagesBefore returns up to limit messages of a conversation sent before a message (all the
// latest ones when before is ""), oldest first: the history an AI step sends to its model.
func (db *DB) MessagesBefore(ctx context.Context, conversationID, before string, limit int) ([]tandem.Message, error) {
	q := db.read(ctx)
	var seq int64 = 1 << 62
	if before != "" {
		if err := q.row(`SELECT seq FROM messages WHERE conversation_id = ? AND id = ?`, conversationID, before).Scan(&seq); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
	}
	rows, err := q.query(`SELECT id, direction, author, type, text, data, created_at FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
		conversationID, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer rows.Close()
	var out []tandem.Message
	for rows.Next() {
		m := tandem.Message{ConversationID: conversationID}
		var data string
		var created int64
		if err := rows.Scan(&m.ID, &m.Direction, &m.Author, &m.Type, &m.Text, &data, &created); err != nil {
			return nil, err
		}
		var d messageData
		_ = json.Unmarshal([]byte(data), &d)
		d.apply(&m)
		m.CreatedAt = fromMicros(created)
		out = append(out, m)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, rows.Err()
}

// MessageGet returns one message of a conversation.
func (db *DB) MessageGet(ctx context.Context, conversationID, id string) (*tandem.Message, error) {
	m := tandem.Message{ConversationID: conversationID, ID: id}
	var data string
	var created int64
	err := db.read(ctx).row(`SELECT direction, author, type, text, data, channel_message_id, created_at FROM messages WHERE conversation_id = ? AND id = ?`,
		conversationID, id).Scan(&m.Direction, &m.Author, &m.Type, &m.Text, &data, &m.ChannelMessageID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Message", id)
	} else if err != nil {
		return nil, fmt.Errorf("message %s: %w", id, err)
	}
	var d messageData
	_ = json.Unmarshal([]byte(data), &d)
	m.Buttons, m.Render, m.Media, m.Location, m.Option, m.AgentID = d.Buttons, d.Render, d.Media, d.Location, d.Option, d.Agent
	m.CreatedAt = fromMicros(created)
	return &m, nil
}

// FlowCreate creates a flow's draft; it fails with a conflict when the flow exists, also when
// two requests race.
func (db *DB) FlowCreate(ctx context.Context, d FlowDraft, now time.Time) error {
	return db.write(ctx, func(q q) error {
		r, err := q.exec(`INSERT INTO flows (id, draft, draft_format, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			d.ID, d.Source, d.Format, d.Name, micros(now), micros(now))
		if err != nil {
			return fmt.Errorf("flow %s: create: %w", d.ID, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return tandem.Errorf(tandem.ECONFLICT, "Flow %q already exists; change it with PUT /api/v1/flows/%s.", d.ID, d.ID)
		}
		return nil
	})
}

// ConversationContact returns a conversation and its contact in one read (what a channel needs
// to deliver a message).
func (db *DB) ConversationContact(ctx context.Context, id string) (*tandem.Conversation, *tandem.Contact, error) {
	var c tandem.Conversation
	var paused int
	var data, cdata string
	var created, updated int64
	err := db.read(ctx).row(`SELECT c.id, c.contact_id, c.channel_id, c.channel_kind, c.status, c.team, c.assignee, c.bot_paused, c.data, c.created_at, c.updated_at, k.data
FROM conversations c JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?`, id).Scan(
		&c.ID, &c.ContactID, &c.ChannelID, &c.ChannelKind, &c.Status, &c.Team, &c.Assignee, &paused, &data, &created, &updated, &cdata)
	if isNoRows(err) {
		return nil, nil, notFound("Conversation", id)
	} else if err != nil {
		return nil, nil, fmt.Errorf("conversation %s: %w", id, err)
	}
	c.BotPaused = paused != 0
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	var d convData
	_ = json.Unmarshal([]byte(data), &d)
	d.apply(&c)
	var k tandem.Contact
	if err := json.Unmarshal([]byte(cdata), &k); err != nil {
		return nil, nil, fmt.Errorf("contact of conversation %s: %w", id, err)
	}
	return &c, &k, nil
}

// A page cursor is the updated_at (microseconds) and id of the last conversation of a page.

// nextCursor is the cursor of the page after list, "" when list is not a full page.
func nextCursor[T interface{ info() *ConversationInfo }](list []T, limit int) string {
	if len(list) == 0 || len(list) < limit {
		return ""
	}
	last := list[len(list)-1].info()
	return cursorOf(last.UpdatedAt, last.ID)
}

// cursorOf is the one cursor format: the sort time in microseconds and the id that breaks
// ties, read back by parseCursor.
func cursorOf(t time.Time, id string) string { return fmt.Sprintf("%d_%s", micros(t), id) }

func (c ConversationInfo) info() *ConversationInfo { return &c }

// parseCursor reads a cursor nextCursor made.
func parseCursor(c string) (updatedMicros int64, id string, err error) {
	us, id, ok := strings.Cut(c, "_")
	t, perr := strconv.ParseInt(us, 10, 64)
	if !ok || perr != nil {
		return 0, "", tandem.Errorf(tandem.EINVALID, "cursor: %q is not a cursor this API returned.", c)
	}
	return t, id, nil
}
