package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tandemchat/tandem"
)

// Canned is a canned response: a text agents insert in a reply by its shortcut.
type Canned struct {
	ID        string
	Shortcut  string
	Title     string
	Text      string
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

const cannedCols = `id, shortcut, title, text, created_by, created_at, updated_at`

func scanCanned(row interface{ Scan(...any) error }) (*Canned, error) {
	var c Canned
	var created, updated int64
	if err := row.Scan(&c.ID, &c.Shortcut, &c.Title, &c.Text, &c.CreatedBy, &created, &updated); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

// CannedList returns every canned response, by shortcut.
func (db *DB) CannedList(ctx context.Context) ([]Canned, error) {
	rows, err := db.read(ctx).query(`SELECT ` + cannedCols + ` FROM canned_responses ORDER BY shortcut`)
	if err != nil {
		return nil, fmt.Errorf("canned responses: list: %w", err)
	}
	defer rows.Close()
	out := []Canned{}
	for rows.Next() {
		c, err := scanCanned(rows)
		if err != nil {
			return nil, fmt.Errorf("canned responses: list: %w", err)
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

// CannedGet returns one canned response.
func (db *DB) CannedGet(ctx context.Context, id string) (*Canned, error) {
	c, err := scanCanned(db.read(ctx).row(`SELECT `+cannedCols+` FROM canned_responses WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Canned response", id)
	}
	if err != nil {
		return nil, fmt.Errorf("canned response %s: %w", id, err)
	}
	return c, nil
}

// CannedCreate stores a new canned response; a shortcut already used is a conflict.
func (db *DB) CannedCreate(ctx context.Context, c Canned, now time.Time) error {
	return db.write(ctx, func(q q) error {
		r, err := q.exec(`INSERT INTO canned_responses (`+cannedCols+`) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			c.ID, c.Shortcut, c.Title, c.Text, c.CreatedBy, micros(now), micros(now))
		if err != nil {
			return fmt.Errorf("canned response %s: create: %w", c.Shortcut, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return cannedConflict(c.Shortcut)
		}
		return nil
	})
}

// CannedUpdate replaces the shortcut, title and text of a canned response.
func (db *DB) CannedUpdate(ctx context.Context, c Canned, now time.Time) error {
	return db.write(ctx, func(q q) error {
		var other string
		err := q.row(`SELECT id FROM canned_responses WHERE shortcut = ? AND id <> ?`, c.Shortcut, c.ID).Scan(&other)
		if err == nil {
			return cannedConflict(c.Shortcut)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("canned response %s: update: %w", c.ID, err)
		}
		r, err := q.exec(`UPDATE canned_responses SET shortcut = ?, title = ?, text = ?, updated_at = ? WHERE id = ?`,
			c.Shortcut, c.Title, c.Text, micros(now), c.ID)
		if err != nil {
			return fmt.Errorf("canned response %s: update: %w", c.ID, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound("Canned response", c.ID)
		}
		return nil
	})
}

// CannedDelete removes a canned response.
func (db *DB) CannedDelete(ctx context.Context, id string) error {
	return db.write(ctx, func(q q) error {
		r, err := q.exec(`DELETE FROM canned_responses WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("canned response %s: delete: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound("Canned response", id)
		}
		return nil
	})
}

func cannedConflict(shortcut string) error {
	return tandem.Errorf(tandem.ECONFLICT, "A canned response with the shortcut %q already exists; pick another shortcut.", shortcut)
}
