package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// widgetSessionData is the part of a widget session stored as JSON.
type widgetSessionData struct {
	PageURL   string         `json:"page_url,omitempty"`
	Referrer  string         `json:"referrer,omitempty"`
	UserAgent string         `json:"user_agent,omitempty"`
	Locale    string         `json:"locale,omitempty"`
	Variables map[string]any `json:"variables,omitempty"`
}

// expiredSessionsPerCreate bounds the expired sessions one new session deletes.
const expiredSessionsPerCreate = 100

// WidgetSessionCreate stores a new session with the hash of its token, and the session's own
// anonymous contact (external id tandem.WidgetAnonymousPrefix + s.ID), whose id it sets in s.
// It also deletes a few expired sessions, so that they do not pile up.
func (db *DB) WidgetSessionCreate(ctx context.Context, s *tandem.WidgetSession, tokenHash string) error {
	if s.ID == "" || s.ChannelID == "" || tokenHash == "" {
		return fmt.Errorf("widget session: id, channel and token hash are required")
	}
	return db.write(ctx, func(q q) error {
		now := micros(s.CreatedAt)
		if _, err := q.exec(`DELETE FROM widget_sessions WHERE id IN (SELECT id FROM widget_sessions WHERE expires_at < ? LIMIT ?)`, now, expiredSessionsPerCreate); err != nil {
			return fmt.Errorf("widget session: expire: %w", err)
		}
		c, _, err := q.upsertContact(InboundParams{ChannelID: s.ChannelID, Now: s.CreatedAt, NewID: newID,
			Contact: tandem.Contact{ExternalID: tandem.WidgetAnonymousPrefix + s.ID, Language: s.Locale}})
		if err != nil {
			return err
		}
		s.ContactID = c.ID
		data, _ := json.Marshal(sessionData(s))
		_, err = q.exec(`INSERT INTO widget_sessions (id, channel_id, token_sha256, contact_id, verified, data, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)`,
			s.ID, s.ChannelID, tokenHash, s.ContactID, string(data), now, now, micros(s.ExpiresAt))
		if err != nil {
			return fmt.Errorf("widget session: insert: %w", err)
		}
		return nil
	})
}

func sessionData(s *tandem.WidgetSession) widgetSessionData {
	return widgetSessionData{PageURL: s.PageURL, Referrer: s.Referrer, UserAgent: s.UserAgent, Locale: s.Locale, Variables: s.Variables}
}

// WidgetSessionByToken returns the unexpired session of a channel with the token's hash; an
// unknown or expired token is EUNAUTHORIZED.
func (db *DB) WidgetSessionByToken(ctx context.Context, channelID, tokenHash string, now time.Time) (*tandem.WidgetSession, error) {
	var s tandem.WidgetSession
	var verified int
	var data string
	var created, seen, expires int64
	err := db.read(ctx).row(`SELECT s.id, s.channel_id, s.contact_id, COALESCE(c.external_id, ''), s.verified, s.data, s.created_at, s.last_seen_at, s.expires_at
 FROM widget_sessions s LEFT JOIN contacts c ON c.id = s.contact_id WHERE s.token_sha256 = ? AND s.channel_id = ?`,
		tokenHash, channelID).Scan(&s.ID, &s.ChannelID, &s.ContactID, &s.ExternalID, &verified, &data, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && expires <= micros(now)) {
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "The widget session is unknown or expired; open a new one with POST /widget/v1/%s/sessions.", channelID)
	} else if err != nil {
		return nil, fmt.Errorf("widget session: %w", err)
	}
	var d widgetSessionData
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return nil, fmt.Errorf("widget session %s: %w", s.ID, err)
	}
	s.Verified = verified != 0
	s.PageURL, s.Referrer, s.UserAgent, s.Locale, s.Variables = d.PageURL, d.Referrer, d.UserAgent, d.Locale, d.Variables
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return &s, nil
}

// WidgetSessionUpdate saves a session's locale and variables and moves its expiry forward
// (last_seen_at and expires_at from s).
func (db *DB) WidgetSessionUpdate(ctx context.Context, s *tandem.WidgetSession) error {
	return db.write(ctx, func(q q) error {
		data, _ := json.Marshal(sessionData(s))
		r, err := q.exec(`UPDATE widget_sessions SET data = ?, last_seen_at = ?, expires_at = ? WHERE id = ?`, string(data), micros(s.LastSeenAt), micros(s.ExpiresAt), s.ID)
		if err != nil {
			return fmt.Errorf("widget session %s: %w", s.ID, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound("Widget session", s.ID)
		}
		return nil
	})
}

// WidgetSessionDelete forgets a session (the visitor logged out); its conversations stay.
func (db *DB) WidgetSessionDelete(ctx context.Context, id string) error {
	return db.write(ctx, func(q q) error {
		_, err := q.exec(`DELETE FROM widget_sessions WHERE id = ?`, id)
		return err
	})
}

// WidgetIdentifyParams binds a session to a site's user whose identity the site proved.
type WidgetIdentifyParams struct {
	SessionID string
	ChannelID string
	// Contact carries the verified external id and the verified fields given with it (name,
	// email, phone; empty ones are left as they are).
	Contact tandem.Contact
	Now     time.Time
}

// WidgetIdentify binds a session to the contact with the verified external id (created when
// absent), stores the verified fields given, and moves the conversations of the session's
// anonymous contact to it, in one transaction. It returns the contact's id. A session already
// bound to another verified user is rebound; that user's conversations stay theirs.
func (db *DB) WidgetIdentify(ctx context.Context, p WidgetIdentifyParams) (string, error) {
	ext := p.Contact.ExternalID
	if ext == "" || strings.HasPrefix(ext, tandem.WidgetAnonymousPrefix) {
		return "", tandem.Errorf(tandem.EINVALID, "user.externalId: required, and not starting with %q.", tandem.WidgetAnonymousPrefix)
	}
	var contactID string
	err := db.write(ctx, func(q q) error {
		var old string
		if err := q.row(`SELECT contact_id FROM widget_sessions WHERE id = ?`, p.SessionID).Scan(&old); errors.Is(err, sql.ErrNoRows) {
			return notFound("Widget session", p.SessionID)
		} else if err != nil {
			return fmt.Errorf("widget identify: %w", err)
		}
		c, _, err := q.upsertContact(InboundParams{ChannelID: p.ChannelID, Contact: tandem.Contact{ExternalID: ext}, Now: p.Now, NewID: newID})
		if err != nil {
			return err
		}
		contactID = c.ID
		changed := false
		set := func(dst *string, v string) {
			if v = strings.TrimSpace(v); v != "" && *dst != v {
				*dst, changed = v, true
			}
		}
		set(&c.Name, p.Contact.Name)
		set(&c.Email, p.Contact.Email)
		set(&c.Phone, p.Contact.Phone)
		set(&c.Language, p.Contact.Language)
		if v := p.Contact.Attributes["avatar_url"]; v != nil && c.Attributes["avatar_url"] != v {
			if c.Attributes == nil {
				c.Attributes = map[string]any{}
			}
			c.Attributes["avatar_url"], changed = v, true
		}
		if old != c.ID {
			var oldExt string
			if err := q.row(`SELECT external_id FROM contacts WHERE id = ?`, old).Scan(&oldExt); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("widget identify: %w", err)
			}
			if strings.HasPrefix(oldExt, tandem.WidgetAnonymousPrefix) {
				// The visitor's conversations before they logged in are theirs. A turn of one of
				// them that read the old contact sees the version change and reads again.
				if _, err := q.exec(`UPDATE conversations SET contact_id = ?, version = version + 1 WHERE contact_id = ? AND channel_id = ?`, c.ID, old, p.ChannelID); err != nil {
					return fmt.Errorf("widget identify: conversations: %w", err)
				}
			}
		}
		if _, err := q.exec(`UPDATE widget_sessions SET contact_id = ?, verified = 1 WHERE id = ?`, c.ID, p.SessionID); err != nil {
			return fmt.Errorf("widget identify: %w", err)
		}
		if changed {
			c.UpdatedAt = p.Now
			return q.saveContact(c)
		}
		return nil
	})
	return contactID, err
}

// WidgetConversation is what a widget stream follows of one of its conversations.
type WidgetConversation struct {
	ID        string
	Status    string
	Assignee  string
	MsgSeq    int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// WidgetConversations returns a contact's conversations on a channel, oldest first.
func (db *DB) WidgetConversations(ctx context.Context, contactID, channelID string) ([]WidgetConversation, error) {
	rows, err := db.read(ctx).query(`SELECT id, status, assignee, msg_seq, created_at, updated_at FROM conversations WHERE contact_id = ? AND channel_id = ? ORDER BY created_at, id`,
		contactID, channelID)
	if err != nil {
		return nil, fmt.Errorf("widget conversations: %w", err)
	}
	defer rows.Close()
	var out []WidgetConversation
	for rows.Next() {
		var c WidgetConversation
		var created, updated int64
		if err := rows.Scan(&c.ID, &c.Status, &c.Assignee, &c.MsgSeq, &created, &updated); err != nil {
			return nil, err
		}
		c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, c)
	}
	return out, rows.Err()
}

// WidgetMessageSeq returns the seq of a stored message.
func (db *DB) WidgetMessageSeq(ctx context.Context, conversationID, messageID string) (int64, error) {
	var seq int64
	err := db.read(ctx).row(`SELECT seq FROM messages WHERE conversation_id = ? AND id = ?`, conversationID, messageID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("Message", messageID)
	}
	return seq, err
}

// ConversationsChanged returns the conversations of a channel kind changed after since (at most
// limit, the oldest changes first) and when the last of them changed: widget streams of one
// replica learn this way what another replica committed.
func (db *DB) ConversationsChanged(ctx context.Context, kind string, since time.Time, limit int) (ids []string, last time.Time, err error) {
	rows, err := db.read(ctx).query(`SELECT id, updated_at FROM conversations WHERE channel_kind = ? AND updated_at > ? ORDER BY updated_at LIMIT ?`, kind, micros(since), limit)
	if err != nil {
		return nil, since, fmt.Errorf("conversations changed: %w", err)
	}
	defer rows.Close()
	last = since
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return nil, since, err
		}
		ids = append(ids, id)
		last = fromMicros(at)
	}
	return ids, last, rows.Err()
}

// ConversationAttributesSet merges attributes into a conversation's (a nil value deletes one).
// A turn that read the conversation before sees the version change and reads again.
func (db *DB) ConversationAttributesSet(ctx context.Context, id string, attrs map[string]any, now time.Time) error {
	return db.conversationDataSet(ctx, id, now, func(d *convData) bool { return mergeValues(&d.Attributes, attrs) })
}

// ConversationVariablesSet merges variables into a conversation's Variables (a nil value
// deletes one): the runs started in it afterwards get them. Nothing is written when the
// conversation has them already.
func (db *DB) ConversationVariablesSet(ctx context.Context, id string, vars map[string]any, now time.Time) error {
	return db.conversationDataSet(ctx, id, now, func(d *convData) bool { return mergeValues(&d.Variables, vars) })
}

// conversationDataSet changes a conversation's stored JSON with change, which reports whether
// it changed anything; a change moves the version, so that a turn that read the conversation
// before reads it again.
func (db *DB) conversationDataSet(ctx context.Context, id string, now time.Time, change func(*convData) bool) error {
	return db.write(ctx, func(q q) error {
		lock := ""
		if db.dialect == Postgres {
			lock = " FOR UPDATE"
		}
		var data string
		if err := q.row(`SELECT data FROM conversations WHERE id = ?`+lock, id).Scan(&data); errors.Is(err, sql.ErrNoRows) {
			return notFound("Conversation", id)
		} else if err != nil {
			return fmt.Errorf("conversation %s: %w", id, err)
		}
		var d convData
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return fmt.Errorf("conversation %s: %w", id, err)
		}
		if !change(&d) {
			return nil
		}
		b, _ := json.Marshal(d)
		_, err := q.exec(`UPDATE conversations SET data = ?, version = version + 1, updated_at = CASE WHEN updated_at < ? THEN ? ELSE updated_at END WHERE id = ?`,
			string(b), micros(now), micros(now), id)
		if err != nil {
			return fmt.Errorf("conversation %s: data: %w", id, err)
		}
		return nil
	})
}

// mergeValues merges src into *dst (a nil value deletes a key; an empty map becomes nil) and
// reports whether *dst changed.
func mergeValues(dst *map[string]any, src map[string]any) bool {
	changed := false
	for k, v := range src {
		old, ok := (*dst)[k]
		switch {
		case v == nil && ok:
			delete(*dst, k)
			changed = true
		case v != nil && (!ok || !reflect.DeepEqual(old, v)):
			if *dst == nil {
				*dst = map[string]any{}
			}
			(*dst)[k] = v
			changed = true
		}
	}
	if len(*dst) == 0 {
		*dst = nil
	}
	return changed
}

// WidgetEvent is one numbered event of a conversation as its widget shows it: a message, or a
// change of the conversation's status (Message nil: Status, Assignee and At are set).
type WidgetEvent struct {
	Seq      int64
	Message  *tandem.Message
	Status   string
	Assignee string
	At       time.Time
}

// WidgetEvents returns up to limit events of a conversation after a seq, oldest first: its
// messages (with their channel message ids, the widget's client ids) and its status changes,
// which share one counter.
func (db *DB) WidgetEvents(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]WidgetEvent, error) {
	rows, err := db.read(ctx).query(`SELECT seq, 'm', id, direction, author, type, text, data, channel_message_id, created_at, '', '' FROM messages WHERE conversation_id = ? AND seq > ?
UNION ALL SELECT seq, 's', '', '', '', '', '', '{}', '', created_at, status, assignee FROM status_events WHERE conversation_id = ? AND seq > ?
ORDER BY 1 LIMIT ?`, conversationID, afterSeq, conversationID, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("widget events: %w", err)
	}
	defer rows.Close()
	var out []WidgetEvent
	for rows.Next() {
		var e WidgetEvent
		var kind, data string
		var created int64
		m := tandem.Message{ConversationID: conversationID}
		if err := rows.Scan(&e.Seq, &kind, &m.ID, &m.Direction, &m.Author, &m.Type, &m.Text, &data, &m.ChannelMessageID, &created, &e.Status, &e.Assignee); err != nil {
			return nil, err
		}
		e.At = fromMicros(created)
		if kind == "m" {
			var d messageData
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				return nil, fmt.Errorf("message %s: %w", m.ID, err)
			}
			m.Seq, m.CreatedAt = e.Seq, e.At
			m.Buttons, m.Render, m.Media, m.Location, m.Option, m.AgentID = d.Buttons, d.Render, d.Media, d.Location, d.Option, d.Agent
			e.Message = &m
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
