package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tandemchat/tandem"
)

// statusRank orders delivery statuses: a report never moves a message backwards, and failed
// is final. "" is a message accepted by its channel with no report yet.
var statusRank = map[string]int{"": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 5}

// DeliveryParams is a channel's report on an outbound message.
type DeliveryParams struct {
	// ChannelID is the channel that reports: a message of another channel is not found.
	ChannelID      string
	ConversationID string
	MessageID      string
	// Status is sent, delivered, read, played or failed.
	Status string
	// Code and Error are the platform's error code and text, for failed: stored with the
	// message, and given to the flow as "<code>: <text>".
	Code  string
	Error string
	Now   time.Time
}

// Delivery records a delivery report on an outbound message: the message's status moves
// forward (a report that would move it back, a repeat, and anything after failed change
// nothing; changed says whether it moved). The first report that the message arrived
// (delivered, read or played) and a failure also queue a delivery event for the conversation,
// in the same transaction: a message step waiting on the delivery continues. An unknown
// message, or one of the customer's, is a not-found error.
func (db *DB) Delivery(ctx context.Context, p DeliveryParams) (changed bool, err error) {
	if _, ok := statusRank[p.Status]; !ok || p.Status == "" {
		return false, tandem.Errorf(tandem.EINVALID, "%q is not a delivery status (sent, delivered, read, played, failed).", p.Status)
	}
	err = db.write(ctx, func(q q) error {
		changed = false
		var dir, old, ch string
		err := q.row(`SELECT m.direction, m.status, c.channel_id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.conversation_id = ? AND m.id = ?`,
			p.ConversationID, p.MessageID).Scan(&dir, &old, &ch)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (dir != tandem.DirectionOut || (p.ChannelID != "" && ch != p.ChannelID))) {
			return notFound("Message", p.MessageID)
		} else if err != nil {
			return fmt.Errorf("delivery: %w", err)
		}
		if old == "failed" || statusRank[p.Status] <= statusRank[old] {
			return nil
		}
		if p.Status == "failed" && statusRank[old] > statusRank["sent"] {
			return nil // a late failure of a message that arrived
		}
		if p.Status == "failed" {
			_, err = q.exec(`UPDATE messages SET status = ?, error_code = ?, error_message = ?, failed_at = ? WHERE conversation_id = ? AND id = ?`,
				p.Status, p.Code, p.Error, micros(p.Now), p.ConversationID, p.MessageID)
		} else {
			_, err = q.exec(`UPDATE messages SET status = ? WHERE conversation_id = ? AND id = ?`, p.Status, p.ConversationID, p.MessageID)
		}
		if err != nil {
			return fmt.Errorf("delivery: %w", err)
		}
		changed = true
		errText := p.Error
		if p.Code != "" {
			errText = p.Code + ": " + p.Error
		}
		if p.Status == "sent" || (p.Status != "failed" && statusRank[old] > statusRank["sent"]) {
			return nil // nothing the engine waits for
		}
		return q.insertEvent(&tandem.Event{ConversationID: p.ConversationID, Kind: tandem.EventDelivery, At: p.Now,
			Delivery: &tandem.Delivery{MessageID: p.MessageID, Status: p.Status, Error: errText}})
	})
	return changed, err
}

// FailedMessage is an outbound message that failed, and when.
type FailedMessage struct {
	tandem.Message
	FailedAt time.Time
}

// MessagesFailedSince returns the outbound messages of any conversation that failed at or after
// since (a failed send or delivery report), at most limit, the earliest failure first, each
// with its status and error.
func (db *DB) MessagesFailedSince(ctx context.Context, since time.Time, limit int) ([]FailedMessage, error) {
	rows, err := db.read(ctx).query(`SELECT conversation_id, id, direction, author, type, text, data, channel_message_id, status, error_code, error_message, created_at, failed_at
FROM messages WHERE failed_at IS NOT NULL AND failed_at >= ? ORDER BY failed_at, conversation_id, id LIMIT ?`, micros(since), limit)
	if err != nil {
		return nil, fmt.Errorf("failed messages: %w", err)
	}
	defer rows.Close()
	var out []FailedMessage
	for rows.Next() {
		var f FailedMessage
		m := &f.Message
		var data, code, why string
		var created, failed int64
		if err := rows.Scan(&m.ConversationID, &m.ID, &m.Direction, &m.Author, &m.Type, &m.Text, &data, &m.ChannelMessageID, &m.Status, &code, &why, &created, &failed); err != nil {
			return nil, fmt.Errorf("failed messages: %w", err)
		}
		var d messageData
		if jsonUnmarshal(data, &d) == nil {
			d.apply(m)
		}
		if code != "" || why != "" {
			m.Error = &tandem.MessageError{Code: code, Message: why}
		}
		m.CreatedAt, f.FailedAt = fromMicros(created), fromMicros(failed)
		out = append(out, f)
	}
	return out, rows.Err()
}

// ContactStop records that the customer with an external id on a channel blocked the business
// (stopped) or unblocked it; an unknown contact is not an error (nothing to stop).
func (db *DB) ContactStop(ctx context.Context, channelID, externalID string, stopped bool, now time.Time) error {
	return db.write(ctx, func(q q) error {
		c, found, err := q.contactByExternal(channelID, externalID)
		if err != nil || !found {
			return err
		}
		return q.stopContact(c, stopped, now)
	})
}

// ContactStopID is ContactStop by contact id.
func (db *DB) ContactStopID(ctx context.Context, contactID string, stopped bool, now time.Time) error {
	return db.write(ctx, func(q q) error {
		c, err := q.contact(contactID)
		if err != nil {
			return err
		}
		return q.stopContact(c, stopped, now)
	})
}

func (q q) stopContact(c *tandem.Contact, stopped bool, now time.Time) error {
	if stopped == !c.StoppedAt.IsZero() {
		return nil
	}
	c.StoppedAt = time.Time{}
	if stopped {
		c.StoppedAt = now.UTC()
	}
	c.UpdatedAt = now
	return q.saveContact(c)
}

// LastInbound returns when the contact last wrote (any conversation of theirs); zero when
// never.
func (db *DB) LastInbound(ctx context.Context, contactID string) (time.Time, error) {
	var last sql.NullInt64
	err := db.read(ctx).row(`SELECT MAX(m.created_at) FROM conversations c JOIN messages m ON m.conversation_id = c.id WHERE c.contact_id = ? AND m.direction = 'in'`,
		contactID).Scan(&last)
	if err != nil {
		return time.Time{}, fmt.Errorf("contact %s: last message: %w", contactID, err)
	}
	return fromMicros(last.Int64), nil
}

// MessageByPlatformID finds an outbound message of a channel by the platform's id of it (a
// delivery report that does not echo Tandem's ids); an unknown id is a not-found error.
func (db *DB) MessageByPlatformID(ctx context.Context, channelID, platformID string) (conversationID, messageID string, err error) {
	err = db.read(ctx).row(`SELECT m.conversation_id, m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.channel_message_id = ? AND m.direction = 'out' AND m.channel_message_id <> '' AND c.channel_id = ? LIMIT 1`, platformID, channelID).Scan(&conversationID, &messageID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", notFound("Message", platformID)
	} else if err != nil {
		return "", "", fmt.Errorf("message by platform id: %w", err)
	}
	return conversationID, messageID, nil
}
