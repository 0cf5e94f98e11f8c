package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// Direct is the turn an event causes, computed at the event's arrival (from a Snapshot of its
// conversation) and committed by the same write that records the arrival: a timer's firing, an
// effect's completion, a customer's message. One write job instead of two, and no event row to
// insert, read and delete. The write commits it only if the conversation is still as the
// snapshot read it and has no queued events; otherwise the event is queued as before, and
// Process handles it in its turn: the order of a conversation's events never changes.
type Direct struct {
	Batch   *Batch
	Changes *Changes
	// Applied reports, once the write returned, that the turn was committed with it.
	Applied bool
	// checked: the turn's commit reads the conversation's numbers back from its update, after
	// a commit that took them from the snapshot found them moved (errTurnStale).
	checked bool
}

// retry reports whether a write that carried d is to run again, d's numbers checked: its
// commit took them from the snapshot, and they had moved.
func (d *Direct) retry(err error) bool {
	if d == nil || d.checked || !errors.Is(err, errTurnStale) {
		return false
	}
	d.checked = true
	return true
}

// usable reports whether d may be committed directly: a turn that changes the contact is
// committed by Process, whose check of the contact's version comes after the conversation's.
func (d *Direct) usable() bool {
	return d != nil && d.Batch != nil && d.Changes != nil && d.Changes.Contact == nil
}

// errGone rolls back a direct turn whose event went away before the write: a timer canceled
// or fired elsewhere, an effect already completed.
var errGone = errors.New("the event is gone")

// Snapshot reads a conversation and its contact, for a turn computed at an event's arrival:
// from the cache of the conversations this process committed last, else from the database.
func (db *DB) Snapshot(ctx context.Context, conversationID string) (*Batch, error) {
	if s, ok := db.snaps.get(conversationID); ok {
		if b, err := s.batch(); err == nil {
			return b, nil
		}
	}
	return db.read(ctx).snapshot(conversationID, true)
}

// settle keeps the cache and d.Applied true after a write that carried d: the turn's result
// when it was committed, nothing when it was not (the conversation changed: the entry is stale).
func (db *DB) settle(d *Direct, err error) {
	if d == nil || d.Batch == nil {
		return
	}
	if err != nil {
		// Nothing of a write that failed was committed, even when the failure came with its
		// COMMIT (a row checked there, see execOne) after the turn was applied to it.
		d.Applied = false
	}
	if err == nil && d.Applied {
		db.remember(d.Batch, d.Changes)
	} else {
		db.snaps.forget(d.Batch.Conversation.ID)
	}
}

// prepare makes d's JSON before its write (encode), with the data of the customer message
// that arrives with it, if any.
func (db *DB) prepare(d *Direct, inbound *tandem.Message) {
	if !d.usable() || d.Changes.enc != nil {
		return // made already (a write tried before)
	}
	if d.Changes.Conversation == nil {
		d.Changes.Conversation = d.Batch.Conversation
	}
	db.encode(d.Batch.Conversation.ID, d.Changes)
	if inbound != nil {
		d.Changes.enc.inbound = messageDataJSON(inbound)
	}
}

// applyDirect commits d's turn in q, with arrive (the arrival's own writes) and inbound (the
// message that arrives, if any). It reports false, having written nothing, when d cannot be
// committed: the caller queues the event instead.
func (q q) applyDirect(d *Direct, inbound *tandem.Message, arrive func(q) error) (bool, error) {
	if !d.usable() {
		return false, nil
	}
	ch := d.Changes
	ch.Claimed = ch.Claimed[:0]
	ch.DoneSeq = d.Batch.doneSeq
	if ch.Conversation == nil {
		ch.Conversation = d.Batch.Conversation
	}
	err := q.commit(d.Batch.Conversation.ID, d.Batch, ch, commitOpts{direct: true, inbound: inbound, arrive: arrive, blind: !d.checked})
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// DueTimer is a timer due to fire.
type DueTimer struct {
	ConversationID string
	Timer          tandem.TimerFired
}

// TimersDue returns up to limit timers due at now, oldest first, without claiming them: each
// is fired by TimerFireOne, which finds out whether it still exists.
func (db *DB) TimersDue(ctx context.Context, now time.Time, limit int) ([]DueTimer, error) {
	rows, err := db.read(ctx).query(`SELECT conversation_id, id, due_at, key FROM timers WHERE due_at <= ? ORDER BY due_at, conversation_id, id LIMIT ?`, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("timers: due: %w", err)
	}
	defer rows.Close()
	var out []DueTimer
	for rows.Next() {
		var t DueTimer
		var at int64
		if err := rows.Scan(&t.ConversationID, &t.Timer.ID, &at, &t.Timer.Key); err != nil {
			return nil, err
		}
		t.Timer.Due = fromMicros(at)
		out = append(out, t)
	}
	return out, rows.Err()
}

// TimerFireOne fires the due timers of one conversation, in due order, in one transaction. With
// d (the turn the first timer causes), that turn is committed with the firing; otherwise, or
// when the conversation changed or has queued events, the timers are queued as its events.
// fired reports that at least one timer still existed; queued that events were queued.
func (db *DB) TimerFireOne(ctx context.Context, conversationID string, timers []tandem.TimerFired, d *Direct) (fired, queued bool, err error) {
	db.prepare(d, nil)
	for {
		err = db.writeConv(ctx, conversationID, func(tx q) error {
			fired, queued = false, false
			if d != nil {
				d.Applied = false
			}
			if d != nil && len(timers) == 1 {
				t := timers[0]
				// The timer's deletion is checked with the commit on PostgreSQL (execOne): a timer
				// gone makes the whole write moot.
				ok, err := tx.applyDirect(d, nil, func(x q) error {
					return x.execOne(errGone, `DELETE FROM timers WHERE conversation_id = ? AND id = ?`, conversationID, t.ID)
				})
				if err != nil {
					return err
				}
				if ok {
					fired, d.Applied = true, true
					return nil
				}
			}
			var err error
			fired, err = tx.fireTimers(conversationID, timers)
			queued = fired
			return err
		})
		if !d.retry(err) {
			break
		}
	}
	db.settle(d, err)
	if errors.Is(err, errGone) {
		return false, false, nil
	}
	return fired, queued, err
}

// TimerFiring is one conversation's due timers to fire, with the turn the first one causes
// (Direct, nil for none), and what firing them did.
type TimerFiring struct {
	ConversationID string
	Timers         []tandem.TimerFired
	Direct         *Direct
	// Fired reports that at least one timer still existed; Queued that events were queued;
	// Err that the timers could not be fired (they are left for another try).
	Fired, Queued bool
	Err           error
}

// TimerChunk is how many conversations' timers TimersFire commits in one write at most.
const TimerChunk = 32

// TimersFire fires the due timers of up to TimerChunk conversations in one write: each as
// TimerFireOne does, but the turns' messages, runs and trace are inserted at the end of the
// write, many rows a statement, and then the timers of the turns committed are deleted by one
// statement (each conversation's row is still written before its timers). When that write fails — a turn's
// statement failed, a timer went away meanwhile — each conversation's timers are fired in a
// write of their own: a failing one fails alone, with its Err, and the others fire.
func (db *DB) TimersFire(ctx context.Context, fs []*TimerFiring) {
	if len(fs) == 1 || len(fs) > TimerChunk {
		db.timersFireEach(ctx, fs)
		return
	}
	for _, f := range fs {
		db.prepare(f.Direct, nil)
	}
	for _, f := range fs {
		db.prepare(f.Direct, nil) // the JSON made here, not by the writer
	}
	err := db.writeAgain(ctx, func(tx q) error {
		var del []any // conversation, timer: the timers of the turns committed
		tx.atEnd = &rowsAtEnd{}
		convs := make([]string, len(fs))
		for i, f := range fs {
			convs[i] = f.ConversationID
		}
		if err := tx.atEnd.readLanes(tx, convs); err != nil {
			return err
		}
		for _, f := range fs {
			f.Fired, f.Queued, f.Err = false, false, nil
			if d := f.Direct; d != nil {
				d.Applied = false
				if len(f.Timers) == 1 {
					ok, err := tx.applyDirect(d, nil, nil)
					if err != nil {
						return err
					}
					if ok {
						f.Fired, d.Applied = true, true
						del = append(del, f.ConversationID, f.Timers[0].ID)
						continue
					}
				}
			}
			fired, err := tx.fireTimers(f.ConversationID, f.Timers)
			if err != nil {
				return err
			}
			f.Fired, f.Queued = fired, fired
		}
		if err := tx.atEnd.flush(tx); err != nil {
			return err
		}
		return tx.deleteTimers(del)
	})
	for _, f := range fs {
		db.settle(f.Direct, err)
	}
	if err == nil {
		return
	}
	for _, f := range fs {
		f.Fired, f.Queued = false, false
		if f.Direct != nil {
			f.Direct.Applied = false
		}
	}
	if ctx.Err() != nil {
		for _, f := range fs {
			f.Err = err
		}
		return
	}
	db.timersFireEach(ctx, fs)
}

// timersFireEach fires each conversation's timers in a write of its own.
func (db *DB) timersFireEach(ctx context.Context, fs []*TimerFiring) {
	for _, f := range fs {
		f.Fired, f.Queued, f.Err = db.TimerFireOne(ctx, f.ConversationID, f.Timers, f.Direct)
	}
}

// deleteTimers deletes timers that fire, given as conversation and timer id pairs; errGone
// when one no longer exists. The list is padded to TimerChunk pairs (repeating the first), so
// that the statement is one text, prepared once.
func (q q) deleteTimers(pairs []any) error {
	n := len(pairs) / 2
	if n == 0 {
		return nil
	}
	for len(pairs) < 2*TimerChunk {
		pairs = append(pairs, pairs[0], pairs[1])
	}
	r, err := q.exec(`DELETE FROM timers WHERE (conversation_id, id) IN (VALUES `+timerPairs+`)`, pairs...)
	if err != nil {
		return fmt.Errorf("timers: fire: %w", err)
	}
	if got, _ := r.RowsAffected(); got != int64(n) {
		return errGone
	}
	return nil
}

var timerPairs = strings.TrimSuffix(strings.Repeat("(?, ?), ", TimerChunk), ", ")

// deleteTimer deletes a timer that fires; errGone when it no longer exists.
func (q q) deleteTimer(conversationID, id string) error {
	r, err := q.exec(`DELETE FROM timers WHERE conversation_id = ? AND id = ?`, conversationID, id)
	if err != nil {
		return fmt.Errorf("timers: fire: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return errGone
	}
	return nil
}

// fireTimers deletes a conversation's due timers and queues each that still existed as an
// event, in due order.
func (q q) fireTimers(conv string, timers []tandem.TimerFired) (bool, error) {
	if q.db.dialect == Postgres {
		// The conversation is locked before its timers, as Process does (it deletes canceled
		// timers while holding the conversation): locking a timer first could deadlock with it.
		var one int
		err := q.row(`SELECT 1 FROM conversations WHERE id = ? FOR UPDATE`, conv).Scan(&one)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("timers: fire: %w", err)
		}
	}
	fired := false
	for _, t := range timers {
		if err := q.deleteTimer(conv, t.ID); errors.Is(err, errGone) {
			continue // canceled, or fired by another replica meanwhile
		} else if err != nil {
			return false, err
		}
		if err := q.insertEvent(&tandem.Event{ConversationID: conv, Kind: tandem.EventTimer, At: t.Due, Timer: &t}); err != nil {
			if tandem.ErrorCode(err) == tandem.ENOTFOUND {
				continue // the conversation is gone: the timer is dropped
			}
			return false, err
		}
		fired = true
	}
	return fired, nil
}

// ConversationOf returns the conversation a channel's contact last wrote to through this
// process, "" when it is not known: a turn computed at a message's arrival needs it before the
// write, which checks it. Unknown contacts are not looked up (their message takes the queued
// path): a first message costs no extra read.
func (db *DB) ConversationOf(channelID, externalID string) string {
	return db.snaps.conversationOf(channelID, externalID)
}
