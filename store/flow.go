package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tandemchat/tandem"
)

// FlowDraft is a flow's editable document.
type FlowDraft struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Source        string    `json:"-"`
	Format        string    `json:"format"` // yaml | json
	LatestVersion int       `json:"latest_version"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// FlowVersion is an immutable published version.
type FlowVersion struct {
	FlowID    string    `json:"flow_id"`
	Version   int       `json:"version"`
	Source    string    `json:"-"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
}

// FlowPut creates or replaces a draft; created reports a new flow.
func (db *DB) FlowPut(ctx context.Context, d FlowDraft, now time.Time) (created bool, err error) {
	if d.Format == "" {
		d.Format = "yaml"
	}
	err = db.write(ctx, func(q q) error {
		// Insert first: two concurrent creations (PostgreSQL) then end as one create and one
		// replace instead of a unique violation.
		r, err := q.exec(`INSERT INTO flows (id, draft, draft_format, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			d.ID, d.Source, d.Format, d.Name, micros(now), micros(now))
		if err != nil {
			return fmt.Errorf("flow %s: put: %w", d.ID, err)
		}
		if n, _ := r.RowsAffected(); n == 1 {
			created = true
			return nil
		}
		created = false
		if _, err := q.exec(`UPDATE flows SET draft = ?, draft_format = ?, name = ?, updated_at = ? WHERE id = ?`, d.Source, d.Format, d.Name, micros(now), d.ID); err != nil {
			return fmt.Errorf("flow %s: put: %w", d.ID, err)
		}
		return nil
	})
	return created, err
}

// FlowGet returns a flow's draft.
func (db *DB) FlowGet(ctx context.Context, id string) (*FlowDraft, error) {
	var d FlowDraft
	var created, updated int64
	err := db.read(ctx).row(`SELECT id, name, draft, draft_format, latest_version, created_at, updated_at FROM flows WHERE id = ?`, id).
		Scan(&d.ID, &d.Name, &d.Source, &d.Format, &d.LatestVersion, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Flow", id)
	} else if err != nil {
		return nil, fmt.Errorf("flow %s: %w", id, err)
	}
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &d, nil
}

// FlowList returns every flow's draft summary, by id.
func (db *DB) FlowList(ctx context.Context) ([]FlowDraft, error) {
	rows, err := db.read(ctx).query(`SELECT id, name, draft_format, latest_version, created_at, updated_at FROM flows ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	defer rows.Close()
	var out []FlowDraft
	for rows.Next() {
		var d FlowDraft
		var created, updated int64
		if err := rows.Scan(&d.ID, &d.Name, &d.Format, &d.LatestVersion, &created, &updated); err != nil {
			return nil, err
		}
		d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, d)
	}
	return out, rows.Err()
}

// FlowDelete deletes a flow's draft: it is no longer listed nor started. Its published versions
// stay, immutable, for the runs pinned to them; publishing the flow again continues their
// numbering.
func (db *DB) FlowDelete(ctx context.Context, id string) error {
	return db.write(ctx, func(q q) error {
		r, err := q.exec(`DELETE FROM flows WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("flow %s: delete: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound("Flow", id)
		}
		return nil
	})
}

// FlowPublish stores a new immutable version of a flow (creating the flow if needed) and
// returns its number. Publishing the same content (hash) as the newest version returns that
// version with created false.
func (db *DB) FlowPublish(ctx context.Context, id, name, source, format, hash string, now time.Time) (version int, created bool, err error) {
	if format == "" {
		format = "yaml"
	}
	err = db.write(ctx, func(q q) error {
		if _, err := q.exec(`INSERT INTO flows (id, draft, draft_format, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			id, source, format, name, micros(now), micros(now)); err != nil {
			return fmt.Errorf("flow %s: publish: %w", id, err)
		}
		lock := ""
		if db.dialect == Postgres {
			lock = " FOR UPDATE" // concurrent publishers of one flow take turns
		}
		var latest int
		if err := q.row(`SELECT latest_version FROM flows WHERE id = ?`+lock, id).Scan(&latest); err != nil {
			return fmt.Errorf("flow %s: publish: %w", id, err)
		}
		// Versions outlive a deleted flow's row, so the newest is counted on them.
		var newest int
		var newestHash string
		err := q.row(`SELECT version, hash FROM flow_versions WHERE flow_id = ? ORDER BY version DESC LIMIT 1`, id).Scan(&newest, &newestHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("flow %s: publish: %w", id, err)
		}
		if newest > 0 && newestHash == hash {
			version, created = newest, false
			if latest == newest {
				return nil
			}
		} else {
			version, created = newest+1, true
			if _, err := q.exec(`INSERT INTO flow_versions (flow_id, version, source, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
				id, version, source, hash, micros(now)); err != nil {
				return fmt.Errorf("flow %s: publish: %w", id, err)
			}
		}
		if _, err := q.exec(`UPDATE flows SET latest_version = ?, name = ?, updated_at = ? WHERE id = ?`, version, name, micros(now), id); err != nil {
			return fmt.Errorf("flow %s: publish: %w", id, err)
		}
		return nil
	})
	return version, created, err
}

// FlowVersionGet returns one published version.
func (db *DB) FlowVersionGet(ctx context.Context, id string, version int) (*FlowVersion, error) {
	v := FlowVersion{FlowID: id, Version: version}
	var created int64
	err := db.read(ctx).row(`SELECT source, hash, created_at FROM flow_versions WHERE flow_id = ? AND version = ?`, id, version).Scan(&v.Source, &v.Hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tandem.Errorf(tandem.ENOTFOUND, "Flow %q has no version %d.", id, version)
	} else if err != nil {
		return nil, fmt.Errorf("flow %s version %d: %w", id, version, err)
	}
	v.CreatedAt = fromMicros(created)
	return &v, nil
}

// FlowVersions lists a flow's versions, newest first.
func (db *DB) FlowVersions(ctx context.Context, id string) ([]FlowVersion, error) {
	rows, err := db.read(ctx).query(`SELECT version, hash, created_at FROM flow_versions WHERE flow_id = ? ORDER BY version DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("flow %s: versions: %w", id, err)
	}
	defer rows.Close()
	var out []FlowVersion
	for rows.Next() {
		v := FlowVersion{FlowID: id}
		var created int64
		if err := rows.Scan(&v.Version, &v.Hash, &created); err != nil {
			return nil, err
		}
		v.CreatedAt = fromMicros(created)
		out = append(out, v)
	}
	return out, rows.Err()
}

// FlowLatestVersions returns the newest published version of every flow.
func (db *DB) FlowLatestVersions(ctx context.Context) ([]FlowVersion, error) {
	rows, err := db.read(ctx).query(`SELECT v.flow_id, v.version, v.source, v.hash, v.created_at FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.latest_version ORDER BY f.id`)
	if err != nil {
		return nil, fmt.Errorf("flows: latest: %w", err)
	}
	defer rows.Close()
	var out []FlowVersion
	for rows.Next() {
		var v FlowVersion
		var created int64
		if err := rows.Scan(&v.FlowID, &v.Version, &v.Source, &v.Hash, &created); err != nil {
			return nil, err
		}
		v.CreatedAt = fromMicros(created)
		out = append(out, v)
	}
	return out, rows.Err()
}
