package store

import (
	"context"
	"fmt"
	"time"

	"github.com/tandemchat/tandem"
)

// DeskLinkPut creates or replaces the link of a handoff to the desk's own conversation.
func (db *DB) DeskLinkPut(ctx context.Context, l tandem.DeskLink) error {
	if l.Desk == "" || l.Session == "" || l.ConversationID == "" {
		return tandem.Errorf(tandem.EINVALID, "A desk link needs a desk, a session and a conversation.")
	}
	data := string(l.Data)
	if data == "" {
		data = "{}"
	}
	if l.UpdatedAt.IsZero() {
		l.UpdatedAt = l.CreatedAt
	}
	return db.write(ctx, func(q q) error {
		_, err := q.exec(`INSERT INTO desk_links (conversation_id, desk_id, session, ref, data, open, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (conversation_id, desk_id, session) DO UPDATE SET ref = excluded.ref, data = excluded.data, open = excluded.open, updated_at = excluded.updated_at`,
			l.ConversationID, l.Desk, l.Session, l.Ref, data, boolInt(l.Open), micros(l.CreatedAt), micros(l.UpdatedAt))
		if err != nil {
			return fmt.Errorf("desk link: put: %w", err)
		}
		return nil
	})
}

const deskLinkColumns = `conversation_id, desk_id, session, ref, data, open, created_at, updated_at`

func scanDeskLink(row interface{ Scan(...any) error }) (*tandem.DeskLink, error) {
	var l tandem.DeskLink
	var data string
	var open int
	var created, updated int64
	if err := row.Scan(&l.ConversationID, &l.Desk, &l.Session, &l.Ref, &data, &open, &created, &updated); err != nil {
		return nil, err
	}
	l.Data, l.Open, l.CreatedAt, l.UpdatedAt = tandem.JSON(data), open != 0, fromMicros(created), fromMicros(updated)
	return &l, nil
}

// DeskLinkGet returns the link of a handoff.
func (db *DB) DeskLinkGet(ctx context.Context, desk, session string) (*tandem.DeskLink, error) {
	l, err := scanDeskLink(db.read(ctx).row(`SELECT `+deskLinkColumns+` FROM desk_links WHERE desk_id = ? AND session = ?`, desk, session))
	if isNoRows(err) {
		return nil, notFound("Handoff", session)
	} else if err != nil {
		return nil, fmt.Errorf("desk link: get: %w", err)
	}
	return l, nil
}

// DeskLinkByRef returns the latest link of the desk whose ref (the desk's id of its
// conversation) is ref.
func (db *DB) DeskLinkByRef(ctx context.Context, desk, ref string) (*tandem.DeskLink, error) {
	if ref == "" {
		return nil, notFound("Desk conversation", ref)
	}
	l, err := scanDeskLink(db.read(ctx).row(`SELECT `+deskLinkColumns+` FROM desk_links WHERE desk_id = ? AND ref = ? ORDER BY created_at DESC LIMIT 1`, desk, ref))
	if isNoRows(err) {
		return nil, notFound("Desk conversation", ref)
	} else if err != nil {
		return nil, fmt.Errorf("desk link: by ref: %w", err)
	}
	return l, nil
}

// DeskLinksOpen returns up to limit open links of the desk, least recently updated first.
func (db *DB) DeskLinksOpen(ctx context.Context, desk string, limit int) ([]tandem.DeskLink, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.read(ctx).query(`SELECT `+deskLinkColumns+` FROM desk_links WHERE desk_id = ? AND open = 1 ORDER BY updated_at LIMIT ?`, desk, limit)
	if err != nil {
		return nil, fmt.Errorf("desk link: open: %w", err)
	}
	defer rows.Close()
	var out []tandem.DeskLink
	for rows.Next() {
		l, err := scanDeskLink(rows)
		if err != nil {
			return nil, fmt.Errorf("desk link: open: %w", err)
		}
		out = append(out, *l)
	}
	return out, rows.Err()
}

// DeskContactGet returns what a desk keeps about a contact (its id there).
func (db *DB) DeskContactGet(ctx context.Context, desk, contactID string) (tandem.JSON, error) {
	var data string
	err := db.read(ctx).row(`SELECT data FROM desk_contacts WHERE desk_id = ? AND contact_id = ?`, desk, contactID).Scan(&data)
	if isNoRows(err) {
		return nil, notFound("Desk contact", contactID)
	} else if err != nil {
		return nil, fmt.Errorf("desk contact: get: %w", err)
	}
	return tandem.JSON(data), nil
}

// DeskContactPut records what a desk keeps about a contact.
func (db *DB) DeskContactPut(ctx context.Context, desk, contactID string, data tandem.JSON, now time.Time) error {
	if len(data) == 0 {
		data = tandem.JSON("{}")
	}
	return db.write(ctx, func(q q) error {
		_, err := q.exec(`INSERT INTO desk_contacts (desk_id, contact_id, data, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (desk_id, contact_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`, desk, contactID, string(data), micros(now))
		if err != nil {
			return fmt.Errorf("desk contact: put: %w", err)
		}
		return nil
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
