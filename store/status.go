package store

import (
	"fmt"
	"time"
)

// statusKind is the channel kind whose customers see their conversation's status (the web
// widget's header: the bot, waiting for an agent, the agent's name, closed). Its status
// changes are numbered events, as its messages are.
const statusKind = "web"

// recordStatus stores a status event when a conversation of statusKind has a status or an
// assignee other than the last one recorded: it takes the conversation's next seq (msg_seq, the
// counter its messages share) in the caller's transaction, after what the transaction numbered
// before. Callers run it after every statement that may change status or assignee.
func (q q) recordStatus(id string, now time.Time) error {
	var seq int64
	var status, assignee string
	err := q.returning(`UPDATE conversations SET msg_seq = msg_seq + 1, shown_status = status || ' ' || assignee
 WHERE id = ? AND channel_kind = ? AND shown_status <> status || ' ' || assignee RETURNING msg_seq, status, assignee`, id, statusKind).Scan(&seq, &status, &assignee)
	if isNoRows(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("conversation %s: status event: %w", id, err)
	}
	if _, err := q.exec(`INSERT INTO status_events (conversation_id, seq, status, assignee, created_at) VALUES (?, ?, ?, ?, ?)`,
		id, seq, status, assignee, micros(now)); err != nil {
		return fmt.Errorf("conversation %s: status event: %w", id, err)
	}
	return nil
}
