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
	err = db.write(ctx, func(q q) error {
		r, err := q.exec(`UPDATE flows SET draft = ?, draft_format = ?, name = ?, updated_at = ? WHERE id = ?`, d.Source, d.Format, d.Name, micros(now), d.ID)
		if err != nil {
			return fmt.Errorf("flow %s: put: %w", d.ID, err)
		}
		if n, _ := r.RowsAffected(); n > 0 {
			created = false
			return nil
		}
		created = true
		_, err = q.exec(`INSERT INTO flows (id, draft, draft_format, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			d.ID, d.Source, d.Format, d.Name, micros(now), micros(now))
		if err != nil {
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

// FlowDelete deletes a flow's draft and its versions. Runs pinned to a version keep running on
// the versions the runner has loaded; new runs cannot start.
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
// returns its number. Publishing the same content as the latest version returns that version.
func (db *DB) FlowPublish(ctx context.Context, id, name, source, format, hash string, now time.Time) (version int, created bool, err error) {
	err = db.write(ctx, func(q q) error {
		var latest int
		err := q.row(`SELECT latest_version FROM flows WHERE id = ?`, id).Scan(&latest)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := q.exec(`INSERT INTO flows (id, draft, draft_format, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				id, source, format, name, micros(now), micros(now)); err != nil {
				return fmt.Errorf("flow %s: publish: %w", id, err)
			}
		} else if err != nil {
			return fmt.Errorf("flow %s: publish: %w", id, err)
		}
		if latest > 0 {
			var h string
			if err := q.row(`SELECT hash FROM flow_versions WHERE flow_id = ? AND version = ?`, id, latest).Scan(&h); err == nil && h == hash {
				version, created = latest, false
				return nil
			}
		}
		version, created = latest+1, true
		if _, err := q.exec(`INSERT INTO flow_versions (flow_id, version, source, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			id, version, source, hash, micros(now)); err != nil {
			return fmt.Errorf("flow %s: publish: %w", id, err)
		}
		_, err = q.exec(`UPDATE flows SET latest_version = ?, name = ?, updated_at = ? WHERE id = ?`, version, name, micros(now), id)
		return err
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
