package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/jsonenc"
	"github.com/tandemchat/tandem/internal/seal"
)

// Outbox row statuses.
const (
	OutboxPending = "pending"
	OutboxFailed  = "failed"
)

// insertEffects stores a batch's effects: a send is also recorded as an outbound message (with
// the next message sequence number), a notification is recorded for agents; everything but
// notifications goes to the outbox, numbered from outSeq. With a lease, the effects first in
// their lane are claimed at once and returned in ch.Claimed.
func (q q) insertEffects(convID string, ch *Changes, contact *tandem.Contact, version, msgSeq, outSeq int64) error {
	rows := map[string]int{} // outbox rows inserted, by lane
	now := ch.Conversation.UpdatedAt
	seen := map[string]bool{}   // lanes that already got an effect in this batch
	inline := map[string]bool{} // lanes whose sends are committed as sent (InlineSends)
	ch.InlineSent = 0
	claimed := len(ch.Claimed)
	defer func() {
		// A claimed effect with others of its lane queued behind it by the same commit.
		for i := range ch.Claimed[claimed:] {
			it := &ch.Claimed[claimed+i]
			it.behind = rows[it.Effect.Lane()] > 1
		}
	}()
	for i := range ch.Effects {
		e := &ch.Effects[i]
		if e.ID == "" {
			return fmt.Errorf("outbox: a %s effect has no id", e.Kind)
		}
		switch e.Kind {
		case tandem.EffectNotify:
			n := e.Notify
			if n == nil {
				return fmt.Errorf("notification %s: empty", e.ID)
			}
			_, err := q.exec(`INSERT INTO notifications (conversation_id, id, team, agent, text, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
				convID, e.ID, n.Team, n.Agent, n.Text, micros(now))
			if err != nil {
				return fmt.Errorf("notification: %w", err)
			}
			continue
		case tandem.EffectSend:
			if e.Send == nil {
				return fmt.Errorf("outbox: send %s has no message", e.ID)
			}
			// The message is stored as sent; the outbox keeps the same copy, completed.
			m := storedSend(convID, e, now)
			msgSeq++
			mdata := ""
			if ch.enc != nil {
				mdata = ch.enc.msgs[i]
			}
			if err := q.insertMessageData(&m, msgSeq, mdata); err != nil {
				return err
			}
			c := *e
			c.Send = &m
			*e = c
			if lane := e.Lane(); ch.InlineSends && !e.Await && (!seen[lane] || inline[lane]) {
				if !seen[lane] {
					// Sent inline only behind no pending effect of its lane, to keep the order.
					busy, known := q.atEnd.lanePending(convID, lane)
					if !known {
						var pending int
						if err := q.row(`SELECT COUNT(*) FROM outbox WHERE conversation_id = ? AND lane = ? AND status = 'pending'`, convID, lane).Scan(&pending); err != nil {
							return fmt.Errorf("outbox: lane: %w", err)
						}
						busy = pending > 0
					}
					seen[lane], inline[lane] = true, !busy
				}
				if inline[lane] {
					ch.InlineSent++
					continue
				}
			}
		}
		outSeq++
		lane := e.Lane()
		var data string
		if ch.enc != nil {
			data = ch.enc.effects[i]
		} else {
			data = q.db.effectData(convID, e)
		}
		await := 0
		if e.Await {
			await = 1
		}
		item := OutboxItem{ConversationID: convID, Effect: *e, CreatedAt: now, conv: ch.Conversation, contact: contact, version: version}
		if ch.Claim.Held() && !seen[lane] && lane != e.ID {
			// The first effect of a lane is claimed when no effect of the lane is pending; the
			// check is part of the INSERT, so that on PostgreSQL it goes with the commit's
			// pipeline instead of a round trip of its own (and item then joins ch.Claimed when
			// that is read, after the deferred marking above: it is marked then, once rows
			// counts every effect of the commit).
			seen[lane] = true
			rows[lane]++
			until := micros(ch.Claim.Until)
			err := q.rowLater(func(s scanner) error {
				var got int64
				if err := s.Scan(&got); err != nil {
					return err
				}
				if got != 0 {
					item.behind = rows[lane] > 1
					ch.Claimed = append(ch.Claimed, item)
				}
				return nil
			}, `INSERT INTO outbox (conversation_id, id, lane, seq, kind, await, data, next_at, claimed_until, claimed_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?,
 CASE WHEN EXISTS (SELECT 1 FROM outbox p WHERE p.conversation_id = ? AND p.lane = ? AND p.status = 'pending') THEN 0 ELSE CAST(? AS BIGINT) END,
 CASE WHEN EXISTS (SELECT 1 FROM outbox p WHERE p.conversation_id = ? AND p.lane = ? AND p.status = 'pending') THEN '' ELSE ? END, ?) RETURNING claimed_until`,
				convID, e.ID, lane, outSeq, e.Kind, await, data, micros(now), convID, lane, until, convID, lane, ch.Claim.Owner, micros(now))
			if err != nil {
				return fmt.Errorf("outbox: insert: %w", err)
			}
			continue
		}
		// A call is alone in its lane: claimed with no check.
		claim := ch.Claim.Held() && !seen[lane] && lane == e.ID
		seen[lane] = true
		var until int64
		owner := ""
		if claim {
			until, owner = micros(ch.Claim.Until), ch.Claim.Owner
		}
		_, err := q.exec(`INSERT INTO outbox (conversation_id, id, lane, seq, kind, await, data, next_at, claimed_until, claimed_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			convID, e.ID, lane, outSeq, e.Kind, await, data, micros(now), until, owner, micros(now))
		if err != nil {
			return fmt.Errorf("outbox: insert: %w", err)
		}
		rows[lane]++
		if claim {
			ch.Claimed = append(ch.Claimed, item)
		}
	}
	return nil
}

// SealCalls makes the outbox keep every http call sealed with keys (AES-256-GCM, bound to its
// row): a call carries what its flow put in it — workspace secrets in its URL, headers and body
// — and waits in the outbox until it is made (and as a failed row after). Rows stored before
// stay readable. Call it before the store is used; nil keeps calls in clear.
func (db *DB) SealCalls(keys *seal.Keyring) { db.callKeys = keys }

// effectData is an effect as the outbox stores it: JSON, or for an http call with keys given,
// that JSON sealed.
func (db *DB) effectData(convID string, e *tandem.Effect) string {
	data, err := jsonenc.Effect(nil, e)
	if err != nil {
		data, _ = json.Marshal(e)
	}
	if e.Kind != tandem.EffectHTTP || db.callKeys == nil {
		return string(data)
	}
	return db.callKeys.Seal(data, effectContext(convID, e.ID))
}

// decodeEffect reads an outbox row's effect into it, opening it when it is sealed. A sealed
// row that cannot be opened is claimed as Unreadable (it fails, and the other rows go on).
func (db *DB) decodeEffect(it *OutboxItem, id, kind string, await int64, data string) error {
	if strings.HasPrefix(data, "{") {
		return json.Unmarshal([]byte(data), &it.Effect)
	}
	var raw []byte
	err := fmt.Errorf("the %s call %s is sealed and this server has no key; start it with the TANDEM_SECRET_KEY that sealed it", kind, id)
	if db.callKeys != nil {
		if raw, err = db.callKeys.Open(data, effectContext(it.ConversationID, id)); err != nil {
			err = fmt.Errorf("the %s call %s cannot be opened: %w; start the server with the key that sealed it (TANDEM_SECRET_KEY or TANDEM_SECRET_KEY_OLD)", kind, id, err)
		}
	}
	if err != nil {
		it.Effect, it.Unreadable = tandem.Effect{ID: id, Kind: kind, Await: await != 0}, err
		return nil
	}
	return json.Unmarshal(raw, &it.Effect)
}

func effectContext(convID, id string) string { return "outbox\x00" + convID + "\x00" + id }

// sentMessageID returns the id of the message a send effect stored.
func sentMessageID(e *tandem.Effect) string {
	if e.Send != nil && e.Send.ID != "" {
		return e.Send.ID
	}
	return e.ID
}

// OutboxItem is an effect claimed for execution.
type OutboxItem struct {
	ConversationID string
	Effect         tandem.Effect
	Attempts       int
	CreatedAt      time.Time
	// Unreadable, when set, says why the row's effect cannot be read (a call sealed with a key
	// this server was not given): Effect has only its id, kind and Await, and the effect fails.
	Unreadable error
	// conv and contact are the conversation and contact as the turn that claimed the effect
	// with its commit left them (nil for effects claimed later); version is the conversation's
	// version that commit gave, behind that the same commit queued effects behind this one in
	// its lane.
	conv    *tandem.Conversation
	contact *tandem.Contact
	version int64
	behind  bool
}

// Snapshot returns the conversation and contact as the turn that made and claimed the effect
// committed them, nil when the effect was claimed later: a send then needs no read.
func (it *OutboxItem) Snapshot() (*tandem.Conversation, *tandem.Contact) { return it.conv, it.contact }

// laneHead holds for an outbox row o that is the oldest pending one of its conversation's lane:
// only that one may be carried out.
const laneHead = `NOT EXISTS (SELECT 1 FROM outbox p WHERE p.conversation_id = o.conversation_id AND p.lane = o.lane AND p.status = 'pending' AND p.seq < o.seq)`

// Claim reserves outbox rows for one runner until a time. The runner's heartbeat moves Until
// forward while it works (OutboxRenew); a runner that dies stops renewing, and its rows are free
// for the others once Until passes. The zero Claim claims nothing.
type Claim struct {
	Owner string // the runner's id
	Until time.Time
}

// Held reports whether c claims anything.
func (c Claim) Held() bool { return !c.Until.IsZero() }

// OutboxClaim claims up to limit due effects, at most one per conversation and lane (the oldest
// pending), so that sends of one conversation go out in order. A row is due once its next
// attempt is due and any earlier claim has run out.
func (db *DB) OutboxClaim(ctx context.Context, now time.Time, limit int, c Claim) ([]OutboxItem, error) {
	var items []OutboxItem
	err := db.writeAgain(ctx, func(q q) error {
		items = items[:0]
		lock := ""
		if db.dialect == Postgres {
			// Replicas claim side by side: rows another one is claiming are skipped, not waited
			// for. PostgreSQL applies the lock after ORDER BY and LIMIT.
			lock = " FOR UPDATE OF o SKIP LOCKED"
		}
		rows, err := q.query(`SELECT o.conversation_id, o.id, o.kind, o.await, o.data, o.attempts, o.created_at FROM outbox o
WHERE o.status = 'pending' AND o.next_at <= ? AND o.claimed_until <= ? AND `+laneHead+`
ORDER BY o.next_at, o.conversation_id, o.seq LIMIT ?`+lock, micros(now), micros(now), limit)
		if err != nil {
			return fmt.Errorf("outbox: claim: %w", err)
		}
		for rows.Next() {
			var it OutboxItem
			var id, kind, data string
			var await, created int64
			if err := rows.Scan(&it.ConversationID, &id, &kind, &await, &data, &it.Attempts, &created); err != nil {
				rows.Close()
				return err
			}
			if err := db.decodeEffect(&it, id, kind, await, data); err != nil {
				rows.Close()
				return fmt.Errorf("outbox: claim: %w", err)
			}
			it.CreatedAt = fromMicros(created)
			items = append(items, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, it := range items {
			if _, err := q.exec(`UPDATE outbox SET claimed_until = ?, claimed_by = ? WHERE conversation_id = ? AND id = ?`,
				micros(c.Until), c.Owner, it.ConversationID, it.Effect.ID); err != nil {
				return fmt.Errorf("outbox: claim: %w", err)
			}
		}
		return nil
	})
	return items, err
}

// OutboxDone records that an effect was carried out. When the effect awaits a result, the
// result is queued for its conversation in the same transaction; queued reports that. A row
// already done (a second execution after an expired lease) changes nothing.
func (db *DB) OutboxDone(ctx context.Context, it *OutboxItem, res *tandem.EffectResult, now time.Time) (queued bool, err error) {
	queued, _, err = db.OutboxComplete(ctx, it, res, now, Claim{}, nil)
	return queued, err
}

// OutboxComplete is OutboxDone that, with a claim, also claims the next effect of the same lane
// and returns it, so that a conversation's sends follow one another without waiting for a poll.
// With d, the turn that the awaited result causes (computed at its arrival) is committed in the
// same transaction instead of queueing the result (d.Applied then says so): see Direct.
func (db *DB) OutboxComplete(ctx context.Context, it *OutboxItem, res *tandem.EffectResult, now time.Time, c Claim, d *Direct) (queued bool, next *OutboxItem, err error) {
	db.prepare(d, nil)
	for {
		err = db.writeConv(ctx, it.ConversationID, func(tx q) error {
			queued, next = false, nil
			if d != nil {
				d.Applied = false
			}
			defer func() {
				if c.Held() && it.Effect.Lane() != it.Effect.ID {
					tx.claimNext(it.ConversationID, it.Effect.Lane(), now, c, func(n *OutboxItem) { next = n })
				}
			}()
			if it.Effect.Await && res != nil && d != nil {
				ok, err := tx.applyDirect(d, nil, func(x q) error { return x.outboxDone(it, res) })
				if err != nil {
					return err
				}
				if ok {
					d.Applied = true
					return nil
				}
			}
			if err := tx.outboxDone(it, res); errors.Is(err, errGone) {
				return nil // done already (a second execution after an expired claim)
			} else if err != nil {
				return err
			}
			if !it.Effect.Await || res == nil {
				return nil
			}
			queued = true
			return tx.insertEvent(&tandem.Event{ConversationID: it.ConversationID, Kind: tandem.EventResult, At: now, Result: res})
		})
		if !d.retry(err) {
			break
		}
	}
	db.settle(d, err)
	if errors.Is(err, errGone) {
		err, queued = nil, false
	}
	if err != nil {
		next = nil
	}
	return queued, next, err
}

// outboxDone deletes an effect's row and records what a send's result says; errGone, now or
// from the commit, when the row is done already.
func (q q) outboxDone(it *OutboxItem, res *tandem.EffectResult) error {
	// Checked with the commit on PostgreSQL (execOne): a row done already fails the write.
	if err := q.execOne(errGone, `DELETE FROM outbox WHERE conversation_id = ? AND id = ? AND status = 'pending'`, it.ConversationID, it.Effect.ID); errors.Is(err, errGone) {
		return err
	} else if err != nil {
		return fmt.Errorf("outbox: done: %w", err)
	}
	if it.Effect.Kind == tandem.EffectSend && res != nil && res.Send != nil &&
		(res.Send.Failed || (res.Send.ChannelMessageID != "" && res.Send.ChannelMessageID != sentMessageID(&it.Effect))) {
		// Only what is news is written: a failure, or the provider's own id of the message
		// (delivery reports name it). A plain success changes nothing to read.
		status := "sent"
		if res.Send.Failed {
			status = "failed"
		}
		// A delivery report may have come first (a platform's webhook can beat this commit):
		// it is not overwritten.
		if _, err := q.exec(`UPDATE messages SET status = CASE WHEN status IN ('delivered', 'read', 'played', 'failed') THEN status ELSE ? END, channel_message_id = ? WHERE conversation_id = ? AND id = ?`,
			status, res.Send.ChannelMessageID, it.ConversationID, sentMessageID(&it.Effect)); err != nil {
			return fmt.Errorf("outbox: done: %w", err)
		}
	}
	return nil
}

// claimNext claims the oldest pending effect of a lane when it is due and unclaimed, and hands
// it to got; on PostgreSQL with the commit's pipeline, so got runs when that is read.
func (q q) claimNext(convID, lane string, now time.Time, c Claim, got func(*OutboxItem)) error {
	return q.rowLater(func(s scanner) error {
		it := OutboxItem{ConversationID: convID}
		var id, kind, data string
		var await, created int64
		if err := s.Scan(&id, &kind, &await, &data, &it.Attempts, &created); isNoRows(err) {
			return nil
		} else if err != nil {
			return err
		}
		if err := q.db.decodeEffect(&it, id, kind, await, data); err != nil {
			return nil // claimed but not handed over: its claim runs out and a poll takes it
		}
		it.CreatedAt = fromMicros(created)
		got(&it)
		return nil
	}, `UPDATE outbox SET claimed_until = ?, claimed_by = ? WHERE conversation_id = ? AND next_at <= ? AND claimed_until <= ?
 AND id = (SELECT id FROM outbox WHERE conversation_id = ? AND lane = ? AND status = 'pending' ORDER BY seq LIMIT 1)
 RETURNING id, kind, await, data, attempts, created_at`, micros(c.Until), c.Owner, convID, micros(now), micros(now), convID, lane)
}

// OutboxRetry schedules another attempt of an effect.
func (db *DB) OutboxRetry(ctx context.Context, it *OutboxItem, next time.Time, errText string) error {
	return db.writeConv(ctx, it.ConversationID, func(q q) error {
		_, err := q.exec(`UPDATE outbox SET attempts = attempts + 1, next_at = ?, claimed_until = 0, claimed_by = '', last_error = ? WHERE conversation_id = ? AND id = ? AND status = 'pending'`,
			micros(next), errText, it.ConversationID, it.Effect.ID)
		if err != nil {
			return fmt.Errorf("outbox: retry: %w", err)
		}
		return nil
	})
}

// OutboxFail gives an effect up; an awaited one reports the failure to its conversation. A
// send's message is marked failed with why (nil: errText, with no code).
func (db *DB) OutboxFail(ctx context.Context, it *OutboxItem, res *tandem.EffectResult, errText string, why *tandem.MessageError, now time.Time) (queued bool, err error) {
	err = db.write(ctx, func(q q) error {
		queued = false
		r, err := q.exec(`UPDATE outbox SET status = 'failed', attempts = attempts + 1, claimed_until = 0, claimed_by = '', last_error = ?, done_at = ? WHERE conversation_id = ? AND id = ? AND status = 'pending'`,
			errText, micros(now), it.ConversationID, it.Effect.ID)
		if err != nil {
			return fmt.Errorf("outbox: fail: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return nil
		}
		if it.Effect.Kind == tandem.EffectSend {
			if why == nil {
				why = &tandem.MessageError{Message: errText}
			}
			if _, err := q.exec(`UPDATE messages SET status = 'failed', error_code = ?, error_message = ?, failed_at = ? WHERE conversation_id = ? AND id = ?`,
				why.Code, why.Message, micros(now), it.ConversationID, sentMessageID(&it.Effect)); err != nil {
				return fmt.Errorf("outbox: fail: %w", err)
			}
		}
		if !it.Effect.Await {
			return nil
		}
		if res == nil {
			res = &tandem.EffectResult{EffectID: it.Effect.ID, Kind: it.Effect.Kind, Error: errText}
		}
		queued = true
		return q.insertEvent(&tandem.Event{ConversationID: it.ConversationID, Kind: tandem.EventResult, At: now, Result: res})
	})
	return queued, err
}

// OutboxReleaseAll drops every claim: a single SQLite process calls it at start, since claims
// of a previous process that died are void.
func (db *DB) OutboxReleaseAll(ctx context.Context) error {
	return db.write(ctx, func(q q) error {
		_, err := q.exec(`UPDATE outbox SET claimed_until = 0, claimed_by = '' WHERE status = 'pending' AND claimed_until > 0`)
		return err
	})
}

// OutboxRenew moves the end of every claim its owner still holds to c.Until (the owner's
// heartbeat), and returns how many rows it renewed. A row another runner took over (after the
// claim ran out) is not the owner's any more and is left alone.
func (db *DB) OutboxRenew(ctx context.Context, c Claim) (int, error) {
	var n int64
	query := `UPDATE outbox SET claimed_until = ? WHERE status = 'pending' AND claimed_by = ? AND claimed_until > 0`
	if db.dialect == Postgres {
		// Rows another transaction is writing are skipped, not waited for: their writer is this
		// owner finishing with them (done, or the next of a lane claimed), and the next beat
		// renews any still claimed. Waiting for them, while holding the rows renewed so far,
		// deadlocked with a group commit that held one and wanted another (PostgreSQL breaks
		// that only after deadlock_timeout, 1 s, for every write of the group).
		query = `UPDATE outbox SET claimed_until = ? WHERE (conversation_id, id) IN (SELECT conversation_id, id FROM outbox
 WHERE status = 'pending' AND claimed_by = ? AND claimed_until > 0 FOR UPDATE SKIP LOCKED)`
	}
	err := db.writeAgain(ctx, func(q q) error {
		r, err := q.exec(query, micros(c.Until), c.Owner)
		if err != nil {
			return fmt.Errorf("outbox: renew: %w", err)
		}
		n, _ = r.RowsAffected()
		return nil
	})
	return int(n), err
}

// OutboxRelease drops the claims an owner holds, so that others take its work at once (a runner
// that stops without finishing it).
func (db *DB) OutboxRelease(ctx context.Context, owner string) error {
	return db.write(ctx, func(q q) error {
		_, err := q.exec(`UPDATE outbox SET claimed_until = 0, claimed_by = '' WHERE status = 'pending' AND claimed_by = ? AND claimed_until > 0`, owner)
		if err != nil {
			return fmt.Errorf("outbox: release: %w", err)
		}
		return nil
	})
}

// OutboxStats reports the pending outbox depth and the age of its oldest row.
func (db *DB) OutboxStats(ctx context.Context, now time.Time) (depth int, oldest time.Duration, err error) {
	var min sql.NullInt64
	err = db.read(ctx).row(`SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'`).Scan(&depth, &min)
	if err == nil && min.Valid {
		oldest = now.Sub(fromMicros(min.Int64))
	}
	return depth, oldest, err
}

// OutboxNext returns when the next pending effect can be claimed, if any: the later of its
// next attempt and the end of its lease. Rows waiting behind an earlier one of their lane do not
// count: they are not claimable before it is done.
func (db *DB) OutboxNext(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := db.read(ctx).row(`SELECT MIN(CASE WHEN o.claimed_until > o.next_at THEN o.claimed_until ELSE o.next_at END) FROM outbox o WHERE o.status = 'pending' AND ` + laneHead).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, false, err
	}
	return fromMicros(next.Int64), true, nil
}

// ---- timers ----

// TimerFire claims the timers due at now, oldest first: each is deleted and queued as an event
// of its conversation, in one transaction, exactly once. It returns the conversations that got
// events.
func (db *DB) TimerFire(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var convs []string
	err := db.writeAgain(ctx, func(q q) error {
		convs = convs[:0]
		// The timers are read without locks. On PostgreSQL each conversation is then locked
		// before its timers are deleted, like Process does (it deletes canceled timers while
		// holding the conversation): locking timers first would deadlock with it. Conversations
		// are locked in id order, so two replicas firing together wait, never deadlock, and the
		// second finds the timers gone.
		rows, err := q.query(`SELECT conversation_id, id, due_at, key FROM timers WHERE due_at <= ? ORDER BY due_at, conversation_id, id LIMIT ?`, micros(now), limit)
		if err != nil {
			return fmt.Errorf("timers: fire: %w", err)
		}
		due := map[string][]tandem.TimerFired{}
		for rows.Next() {
			var conv string
			var t tandem.TimerFired
			var at int64
			if err := rows.Scan(&conv, &t.ID, &at, &t.Key); err != nil {
				rows.Close()
				return err
			}
			t.Due = fromMicros(at)
			due[conv] = append(due[conv], t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		ids := make([]string, 0, len(due))
		for id := range due {
			ids = append(ids, id)
		}
		// Conversations are locked in id order (PostgreSQL): two replicas firing together wait,
		// never deadlock, and the second finds the timers gone.
		sort.Strings(ids)
		for _, conv := range ids {
			fired, err := q.fireTimers(conv, due[conv])
			if err != nil {
				return err
			}
			if fired {
				convs = append(convs, conv)
			}
		}
		return nil
	})
	return convs, err
}

// TimerNext returns when the next timer is due, if any.
func (db *DB) TimerNext(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := db.read(ctx).row(`SELECT MIN(due_at) FROM timers`).Scan(&next); err != nil || !next.Valid {
		return time.Time{}, false, err
	}
	return fromMicros(next.Int64), true, nil
}

// Pending returns the conversations with queued events (after a restart, they are processed).
func (db *DB) Pending(ctx context.Context, limit int) ([]string, error) {
	return db.PendingSince(ctx, time.Time{}, limit)
}

// PendingSince returns the conversations with events queued before t (all, for a zero t): a
// sweep finds work that nobody processed (its replica died) without taking work in progress.
func (db *DB) PendingSince(ctx context.Context, before time.Time, limit int) ([]string, error) {
	query, args := `SELECT DISTINCT conversation_id FROM events LIMIT ?`, []any{limit}
	if !before.IsZero() {
		query, args = `SELECT DISTINCT conversation_id FROM events WHERE created_at < ? LIMIT ?`, []any{micros(before), limit}
	}
	rows, err := db.read(ctx).query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
