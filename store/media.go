package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tandemchat/tandem"
)

// MediaPut implements tandem.MediaStore: the file is stored in the database, whole, when it is
// at most max bytes (more is an ETOOLARGE error and nothing is stored).
func (db *DB) MediaPut(ctx context.Context, f tandem.MediaFile, data io.Reader, max int64) (tandem.MediaFile, error) {
	b, err := io.ReadAll(io.LimitReader(data, max+1))
	if err != nil {
		return f, fmt.Errorf("media: read: %w", err)
	}
	if int64(len(b)) > max {
		return f, tandem.Errorf(tandem.ETOOLARGE, "The file is larger than %d bytes.", max)
	}
	sum := sha256.Sum256(b)
	if f.ID == "" {
		f.ID = newID()
	}
	f.Size, f.SHA256 = int64(len(b)), hex.EncodeToString(sum[:])
	if f.CreatedAt.IsZero() {
		f.CreatedAt = time.Now().UTC()
	}
	err = db.write(ctx, func(q q) error {
		_, err := q.exec(`INSERT INTO media (id, channel_id, mime, name, size, sha256, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.ChannelID, f.Mime, f.Name, f.Size, f.SHA256, b, micros(f.CreatedAt))
		return err
	})
	if err != nil {
		return f, fmt.Errorf("media: insert: %w", err)
	}
	return f, nil
}

// MediaGet implements tandem.MediaStore.
func (db *DB) MediaGet(ctx context.Context, id string) (tandem.MediaFile, io.ReadCloser, error) {
	f := tandem.MediaFile{ID: id}
	var b []byte
	var created int64
	err := db.read(ctx).row(`SELECT channel_id, mime, name, size, sha256, data, created_at FROM media WHERE id = ?`, id).
		Scan(&f.ChannelID, &f.Mime, &f.Name, &f.Size, &f.SHA256, &b, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return f, nil, notFound("Media", id)
	} else if err != nil {
		return f, nil, fmt.Errorf("media %s: %w", id, err)
	}
	f.CreatedAt = fromMicros(created)
	return f, io.NopCloser(bytes.NewReader(b)), nil
}
