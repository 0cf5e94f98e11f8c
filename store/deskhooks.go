package store

import (
	"context"
	"fmt"
	"time"

	"github.com/tandemchat/tandem"
)

// DeskEventParams is a desk callback to record once, with the events it queues.
type DeskEventParams struct {
	ConversationID string
	Desk           string
	// EventID identifies the callback among the desk's: its message id, or a hash of its body.
	EventID string
	// Events are queued for the conversation in the same transaction, only the first time.
	Events []tandem.Event
	Now    time.Time
}

// DeskEventSeen reports whether a desk callback was recorded by DeskEventAdd.
func (db *DB) DeskEventSeen(ctx context.Context, conversationID, desk, eventID string) (bool, error) {
	var seen bool
	err := db.read(ctx).row(`SELECT EXISTS (SELECT 1 FROM desk_events WHERE conversation_id = ? AND desk_id = ? AND event_id = ?)`,
		conversationID, desk, eventID).Scan(&seen)
	if err != nil {
		return false, fmt.Errorf("desk event: seen: %w", err)
	}
	return seen, nil
}

// DeskEventAdd records a desk callback and queues its events, in one transaction: when it
// returns, the callback is durable and will be processed once. first is false when the callback
// was recorded before; nothing is queued then.
func (db *DB) DeskEventAdd(ctx context.Context, p DeskEventParams) (first bool, err error) {
	err = db.write(ctx, func(q q) error {
		first = false
		// On PostgreSQL a concurrent insert of the same key waits for the first one's commit,
		// then does nothing.
		r, err := q.exec(`INSERT INTO desk_events (conversation_id, desk_id, event_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			p.ConversationID, p.Desk, p.EventID, micros(p.Now))
		if err != nil {
			return fmt.Errorf("desk event: insert: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return nil
		}
		for i := range p.Events {
			ev := p.Events[i]
			ev.ConversationID = p.ConversationID
			if ev.At.IsZero() {
				ev.At = p.Now
			}
			if err := q.insertEvent(&ev); err != nil {
				return err
			}
		}
		first = true
		return nil
	})
	return first, err
}
