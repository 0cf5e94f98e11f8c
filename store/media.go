package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tandemchat/tandem"
)

// MediaPut implements tandem.MediaStore: the file is stored in the database, whole, when it is
// at most max bytes (more is an ETOOLARGE error and nothing is stored); no more than max+1
// bytes of data are read.
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
		_, err := q.exec(`INSERT INTO media (id, channel_id, session_id, contact_id, conversation_id, mime, name, size, sha256, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.ChannelID, f.SessionID, f.ContactID, f.ConversationID, f.Mime, f.Name, f.Size, f.SHA256, b, micros(f.CreatedAt))
		return err
	})
	if err != nil {
		return f, fmt.Errorf("media: insert: %w", err)
	}
	return f, nil
}

const mediaCols = `id, channel_id, session_id, contact_id, conversation_id, mime, name, size, sha256, created_at`

// MediaStat implements tandem.MediaStore: the file's description, without its content.
func (db *DB) MediaStat(ctx context.Context, id string) (tandem.MediaFile, error) {
	var f tandem.MediaFile
	var created int64
	err := db.read(ctx).row(`SELECT `+mediaCols+` FROM media WHERE id = ?`, id).
		Scan(&f.ID, &f.ChannelID, &f.SessionID, &f.ContactID, &f.ConversationID, &f.Mime, &f.Name, &f.Size, &f.SHA256, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return tandem.MediaFile{ID: id}, notFound("Media", id)
	} else if err != nil {
		return tandem.MediaFile{ID: id}, fmt.Errorf("media %s: %w", id, err)
	}
	f.CreatedAt = fromMicros(created)
	return f, nil
}

// MediaGet implements tandem.MediaStore.
func (db *DB) MediaGet(ctx context.Context, id string) (tandem.MediaFile, io.ReadCloser, error) {
	var f tandem.MediaFile
	var b []byte
	var created int64
	err := db.read(ctx).row(`SELECT `+mediaCols+`, data FROM media WHERE id = ?`, id).
		Scan(&f.ID, &f.ChannelID, &f.SessionID, &f.ContactID, &f.ConversationID, &f.Mime, &f.Name, &f.Size, &f.SHA256, &created, &b)
	if errors.Is(err, sql.ErrNoRows) {
		return tandem.MediaFile{ID: id}, nil, notFound("Media", id)
	} else if err != nil {
		return tandem.MediaFile{ID: id}, nil, fmt.Errorf("media %s: %w", id, err)
	}
	f.CreatedAt = fromMicros(created)
	return f, io.NopCloser(bytes.NewReader(b)), nil
}

// bindMedia makes the conversation of an inbound message the owner of the stored file it
// carries, unless the file has one already.
func (q q) bindMedia(m *tandem.Message) error {
	if m.Media == nil || m.Media.ID == "" {
		return nil
	}
	if _, err := q.exec(`UPDATE media SET conversation_id = ? WHERE id = ? AND conversation_id = ''`, m.ConversationID, m.Media.ID); err != nil {
		return fmt.Errorf("inbound: media %s: %w", m.Media.ID, err)
	}
	return nil
}

// MediaRetryAfter is when a file whose download failed as its message arrived is downloaded
// again: what failed a moment ago seldom works at once.
const MediaRetryAfter = 30 * time.Second

// queueMediaFetch puts in the outbox, with the message, the download again of its file when
// the channel's failed for a reason that may pass (Media.Fetch): a restart does not forget it.
// The effect is alone in its lane and due after MediaRetryAfter.
func (q q) queueMediaFetch(m *tandem.Message, now time.Time) error {
	if m.Media == nil || m.Media.Fetch == nil {
		return nil
	}
	f := *m.Media.Fetch
	f.MessageID = m.ID
	e := tandem.Effect{ID: "media-" + m.ID, Kind: tandem.EffectMedia, Media: &f}
	data, err := json.Marshal(&e)
	if err != nil {
		return fmt.Errorf("inbound: media %s: %w", m.ID, err)
	}
	if _, err := q.exec(`INSERT INTO outbox (conversation_id, id, lane, seq, kind, await, data, next_at, claimed_until, claimed_by, created_at) VALUES (?, ?, ?, 0, ?, 0, ?, ?, 0, '', ?) ON CONFLICT DO NOTHING`,
		m.ConversationID, e.ID, e.Lane(), e.Kind, string(data), micros(now.Add(MediaRetryAfter)), micros(now)); err != nil {
		return fmt.Errorf("inbound: media %s: %w", m.ID, err)
	}
	return nil
}

// MessageMedia replaces the media of a stored message: a file downloaded after its message
// arrived, or the reason it never will be.
func (db *DB) MessageMedia(ctx context.Context, convID, msgID string, md *tandem.Media) error {
	return db.writeConv(ctx, convID, func(q q) error {
		var data string
		if err := q.row(`SELECT data FROM messages WHERE conversation_id = ? AND id = ?`, convID, msgID).Scan(&data); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("Message", msgID)
			}
			return fmt.Errorf("message %s: media: %w", msgID, err)
		}
		fields := map[string]json.RawMessage{}
		if err := json.Unmarshal([]byte(data), &fields); err != nil {
			return fmt.Errorf("message %s: media: %w", msgID, err)
		}
		raw, err := json.Marshal(md)
		if err != nil {
			return fmt.Errorf("message %s: media: %w", msgID, err)
		}
		fields["media"] = raw
		out, err := json.Marshal(fields)
		if err != nil {
			return fmt.Errorf("message %s: media: %w", msgID, err)
		}
		if _, err := q.exec(`UPDATE messages SET data = ? WHERE conversation_id = ? AND id = ?`, string(out), convID, msgID); err != nil {
			return fmt.Errorf("message %s: media: %w", msgID, err)
		}
		m := tandem.Message{ConversationID: convID, Media: md}
		return q.bindMedia(&m)
	})
}
