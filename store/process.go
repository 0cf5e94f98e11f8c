package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tandemchat/tandem"
)

// ErrConflict reports that a conversation or its contact changed between the read of a batch
// and its commit; Process reads again and retries.
var ErrConflict = errors.New("the conversation changed meanwhile")

// maxConflicts bounds Process's retries of a batch that keeps meeting changes.
const maxConflicts = 20

// Process reads a conversation with up to max queued events, lets fn compute the changes,
// and writes them — state, outbox, timers, runs, trace — in one transaction, provided the
// conversation and its contact did not change since the read (else it reads again and retries).
// The computation runs outside the write transaction: on SQLite the single writer only writes.
// It returns how many events were processed and whether more are queued. fn sees the events in
// seq order; an error from fn, or ErrNothing, writes nothing; fn may stop early: Changes.DoneSeq
// says how far it got. fn may read through other DB methods; it must never write.
func (db *DB) Process(ctx context.Context, conversationID string, max int, fn func(*Batch) (*Changes, error)) (n int, more bool, err error) {
	if max <= 0 {
		max = 1
	}
	for attempt := 0; ; attempt++ {
		b, queued, err := db.load(ctx, conversationID, max)
		if err != nil || b == nil {
			return 0, false, err
		}
		ch, err := fn(b)
		if errors.Is(err, ErrNothing) {
			return 0, false, nil
		} else if err != nil {
			return 0, false, err
		}
		if ch == nil {
			return 0, false, fmt.Errorf("process %s: no changes and no error", conversationID)
		}
		if ch.Conversation == nil {
			ch.Conversation = b.Conversation
		}
		if last := b.Events[len(b.Events)-1].Seq; ch.DoneSeq < b.doneSeq || ch.DoneSeq > last {
			return 0, false, fmt.Errorf("process %s: done seq %d is outside the events given, %d to %d", conversationID, ch.DoneSeq, b.doneSeq+1, last)
		}
		db.encode(conversationID, ch)
		err = db.writeConv(ctx, conversationID, func(q q) error {
			ch.Claimed = ch.Claimed[:0]
			return q.commit(conversationID, b, ch, commitOpts{})
		})
		if err != nil {
			db.snaps.forget(conversationID)
		}
		if errors.Is(err, ErrConflict) && attempt < maxConflicts {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		db.remember(b, ch)
		for _, ev := range b.Events {
			if ev.Seq <= ch.DoneSeq {
				n++
			}
		}
		return n, n < queued, nil
	}
}

// load reads a conversation, its contact and up to max of its queued events (nil when none),
// and how many events are queued (max+1 meaning "more").
func (db *DB) load(ctx context.Context, id string, max int) (*Batch, int, error) {
	q := db.read(ctx)
	b, err := q.snapshot(id, false)
	if err != nil {
		return nil, 0, err
	}
	rows, err := q.query(`SELECT data FROM events WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`, id, b.doneSeq, max+1)
	if err != nil {
		return nil, 0, fmt.Errorf("process %s: events: %w", id, err)
	}
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			rows.Close()
			return nil, 0, err
		}
		var ev tandem.Event
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("process %s: event: %w", id, err)
		}
		b.Events = append(b.Events, ev)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	queued := len(b.Events)
	if queued == 0 {
		return nil, 0, nil
	}
	if queued > max {
		b.Events = b.Events[:max]
	}
	if err := q.snapshotContact(b); err != nil {
		return nil, 0, err
	}
	return b, queued, nil
}

// snapshot reads a conversation as a batch without events; with contact, its contact too.
func (q q) snapshot(id string, contact bool) (*Batch, error) {
	var c tandem.Conversation
	var paused int
	var data, state string
	var created, updated int64
	b := &Batch{}
	err := q.row(`SELECT `+conversationCols+`, state, done_seq, version, msg_seq, out_seq FROM conversations WHERE id = ?`, id).Scan(
		&c.ID, &c.ContactID, &c.ChannelID, &c.ChannelKind, &c.Status, &c.Team, &c.Assignee,
		&paused, &data, &created, &updated, &state, &b.doneSeq, &b.version, &b.msgSeq, &b.outSeq)
	if err != nil {
		if isNoRows(err) {
			return nil, notFound("Conversation", id)
		}
		return nil, fmt.Errorf("process %s: %w", id, err)
	}
	c.BotPaused = paused != 0
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	var d convData
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return nil, fmt.Errorf("conversation %s: %w", id, err)
	}
	d.apply(&c)
	b.Conversation, b.State, b.convData = &c, []byte(state), data
	b.readStatus, b.readTeam, b.readAssignee = c.Status, c.Team, c.Assignee
	if contact {
		if err := q.snapshotContact(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// snapshotContact reads the contact of a batch's conversation.
func (q q) snapshotContact(b *Batch) error {
	id := b.Conversation.ContactID
	var cdata string
	if err := q.row(`SELECT data, version FROM contacts WHERE id = ?`, id).Scan(&cdata, &b.contactVersion); err != nil {
		if isNoRows(err) {
			return notFound("Contact", id)
		}
		return fmt.Errorf("contact %s: %w", id, err)
	}
	var contact tandem.Contact
	if err := json.Unmarshal([]byte(cdata), &contact); err != nil {
		return fmt.Errorf("contact %s: %w", id, err)
	}
	b.Contact, b.contactData = &contact, cdata
	return nil
}

// commitOpts says how a turn is committed.
type commitOpts struct {
	// direct: the turn's event has no row (Direct); the conversation must have no queued
	// events either.
	direct bool
	// inbound, when set, is the customer message the turn answers, stored with it: it takes
	// the message number before the turn's own messages.
	inbound *tandem.Message
	// arrive writes what the event's arrival writes, once the conversation's row is checked
	// and locked; errGone drops the turn.
	arrive func(q) error
	// blind: the conversation's numbers are the batch's, checked by the update instead of read
	// back from it: on PostgreSQL nothing waits for its answer, on SQLite the update is a plain
	// one, without RETURNING's temporary table (errTurnStale from the write when they moved).
	blind bool
}

// sqliteDirectUpdate is the conversation update of a direct turn on SQLite (commit), and
// sqliteDirectUpdateStatus that of a turn that changed the conversation's status, team or
// assignee.
const (
	sqliteDirectUpdate = `UPDATE conversations SET bot_paused = ?, handoff = ?, run_id = ?, run_status = ?, data = ?, state = ?, done_seq = ?,
 updated_at = ?, version = version + 1, msg_seq = ?, out_seq = ?
 WHERE id = ? AND version = ? AND done_seq = ? AND next_seq = done_seq AND (SELECT version FROM contacts WHERE id = ?) = ? AND msg_seq = ? AND out_seq = ?`
	sqliteDirectUpdateStatus = `UPDATE conversations SET bot_paused = ?, handoff = ?, run_id = ?, run_status = ?, data = ?, state = ?, done_seq = ?,
 updated_at = ?, version = version + 1, msg_seq = ?, out_seq = ?, status = ?, team = ?, assignee = ?
 WHERE id = ? AND version = ? AND done_seq = ? AND next_seq = done_seq AND (SELECT version FROM contacts WHERE id = ?) = ? AND msg_seq = ? AND out_seq = ?`
)

// errTurnStale reports that a direct turn committed blind (commitOpts.blind) found its
// conversation moved on since its snapshot: the write is rolled back, and written again with
// the numbers read back (Direct.checked), which finds out what changed.
var errTurnStale = errors.New("the conversation moved on since the turn's snapshot")

// commit writes a batch's changes if the conversation (and, when it changed, the contact) is
// still at the version the batch read; else ErrConflict. The conversation's row is written
// first: a failed check writes nothing.
func (q q) commit(id string, b *Batch, ch *Changes, o commitOpts) error {
	c := ch.Conversation
	if ch.enc == nil {
		q.db.encode(id, ch)
	}
	enc := ch.enc
	ch.convData, ch.contactData, ch.folded, ch.LaneFreed = enc.conv, "", nil, false
	paused := 0
	if c.BotPaused {
		paused = 1
	}
	handoff := ch.Handoff
	if handoff == "" {
		handoff = tandem.HandoffNone
	}
	// Sequence numbers for the batch's outbound messages and effects come as ranges with the
	// same update (one statement instead of one per message).
	var msgs, outs int64
	for i := range ch.Effects {
		switch ch.Effects[i].Kind {
		case tandem.EffectNotify:
		case tandem.EffectSend:
			msgs++
			outs++
		default:
			outs++
		}
	}
	var in int64
	if o.inbound != nil {
		in = 1
	}
	query := `UPDATE conversations SET status = ?, team = ?, assignee = ?, bot_paused = ?, handoff = ?, run_id = ?, run_status = ?,
 data = ?, state = ?, done_seq = ?, updated_at = ?, version = version + 1, msg_seq = msg_seq + ?, out_seq = out_seq + ?
 WHERE id = ? AND version = ? AND done_seq = ? RETURNING msg_seq, out_seq`
	args := []any{c.Status, c.Team, c.Assignee, paused, handoff, ch.RunID, ch.RunStatus, enc.conv, enc.state, ch.DoneSeq,
		micros(c.UpdatedAt), msgs + in, outs, id, b.version, b.doneSeq}
	if o.direct {
		// A turn computed at its event's arrival (perhaps from the cache of what this process
		// committed last) also checks the contact it read, in the same statement.
		query = `UPDATE conversations SET status = ?, team = ?, assignee = ?, bot_paused = ?, handoff = ?, run_id = ?, run_status = ?,
 data = ?, state = ?, done_seq = ?, updated_at = ?, version = version + 1, msg_seq = msg_seq + ?, out_seq = out_seq + ?
 WHERE id = ? AND version = ? AND done_seq = ? AND next_seq = done_seq AND (SELECT version FROM contacts WHERE id = ?) = ? RETURNING msg_seq, out_seq`
		args = append(args, c.ContactID, b.contactVersion)
	}
	var msgTop, outTop int64
	if o.blind && q.db.dialect == SQLite {
		// A direct turn on SQLite (a customer's message, an effect's result, a chunk of fired
		// timers). The indexed columns the turn left as it read them (the version checks they
		// did not move) are not set: SQLite rewrites an index's entry for each column set,
		// changed or not (status is in conversations_contact's). In a chunk of timers
		// (TimersFire), a conversation that moved on is a conflict, its timer queued, rather
		// than a failed write for the whole chunk; elsewhere the write runs again with the
		// numbers read back (errTurnStale).
		msgTop, outTop = b.msgSeq+msgs+in, b.outSeq+outs
		args = append(args[:0], paused, handoff, ch.RunID, ch.RunStatus, enc.conv, enc.state, ch.DoneSeq, micros(c.UpdatedAt), msgTop, outTop)
		query = sqliteDirectUpdate
		if c.Status != b.readStatus || c.Team != b.readTeam || c.Assignee != b.readAssignee {
			query = sqliteDirectUpdateStatus
			args = append(args, c.Status, c.Team, c.Assignee)
		}
		args = append(args, id, b.version, b.doneSeq, c.ContactID, b.contactVersion, b.msgSeq, b.outSeq)
		stale := errTurnStale
		if q.atEnd != nil {
			stale = ErrConflict
		}
		if err := q.execOne(stale, query, args...); err != nil {
			return err
		}
	} else if o.blind {
		// The numbers the update gives are known: the update is checked by its row count
		// (execOne; on PostgreSQL with the commit, and the turn's other statements go in the
		// same round trip).
		msgTop, outTop = b.msgSeq+msgs+in, b.outSeq+outs
		query = `UPDATE conversations SET status = ?, team = ?, assignee = ?, bot_paused = ?, handoff = ?, run_id = ?, run_status = ?,
 data = ?, state = ?, done_seq = ?, updated_at = ?, version = version + 1, msg_seq = ?, out_seq = ?
 WHERE id = ? AND version = ? AND done_seq = ? AND next_seq = done_seq AND (SELECT version FROM contacts WHERE id = ?) = ? AND msg_seq = ? AND out_seq = ?`
		args = append(args[:11], msgTop, outTop, id, b.version, b.doneSeq, c.ContactID, b.contactVersion, b.msgSeq, b.outSeq)
		if err := q.execOne(errTurnStale, query, args...); err != nil {
			return err
		}
	} else if err := q.returning(query, args...).Scan(&msgTop, &outTop); isNoRows(err) {
		return ErrConflict
	} else if err != nil {
		return fmt.Errorf("process %s: conversation: %w", id, err)
	}
	ch.msgTop, ch.outTop = msgTop, outTop
	if o.arrive != nil {
		if err := o.arrive(q); err != nil {
			return err
		}
	}
	// Sends of the conversation carried out and not completed yet are completed first: the
	// lanes of the effects this turn makes are then free.
	folded, err := q.foldDone(id, &ch.LaneFreed)
	if err != nil {
		return err
	}
	if len(folded) > 0 {
		q.atEnd.forget(id)
	}
	if o.inbound != nil {
		o.inbound.Seq = msgTop - msgs
		if err := q.insertMessageData(o.inbound, o.inbound.Seq, enc.inbound); err != nil {
			return err
		}
	}
	if ch.Contact != nil {
		cb, _ := json.Marshal(ch.Contact)
		ch.contactData = string(cb)
		r, err := q.exec(`UPDATE contacts SET data = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?`,
			string(cb), micros(ch.Contact.UpdatedAt), ch.Contact.ID, b.contactVersion)
		if err != nil {
			return fmt.Errorf("process %s: contact: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrConflict
		}
	}
	if !o.direct {
		if _, err := q.exec(`DELETE FROM events WHERE conversation_id = ? AND seq <= ?`, id, ch.DoneSeq); err != nil {
			return fmt.Errorf("process %s: events: %w", id, err)
		}
	}
	if len(ch.Effects) > 0 {
		contact := b.Contact
		if ch.Contact != nil {
			contact = ch.Contact
		}
		if err := q.insertEffects(id, ch, contact, b.version+1, msgTop-msgs, outTop-outs); err != nil {
			return err
		}
	}
	if c.ChannelKind == statusKind {
		// After the turn's messages: a status change the turn made takes the next seq.
		if err := q.recordStatus(id, c.UpdatedAt); err != nil {
			return err
		}
	}
	for _, t := range ch.Timers {
		// Setting a timer again moves it: a repeated id must not make the turn fail forever.
		if _, err := q.exec(`INSERT INTO timers (conversation_id, id, due_at, key) VALUES (?, ?, ?, ?) ON CONFLICT (conversation_id, id) DO UPDATE SET due_at = excluded.due_at, key = excluded.key`,
			id, t.ID, micros(t.Due), t.Key); err != nil {
			return fmt.Errorf("process %s: timer: %w", id, err)
		}
	}
	if len(ch.CancelTimers) > 0 {
		args := []any{id}
		for _, t := range ch.CancelTimers {
			args = append(args, t)
		}
		if _, err := q.exec(`DELETE FROM timers WHERE conversation_id = ? AND id IN (`+placeholders(len(ch.CancelTimers))+`)`, args...); err != nil {
			return fmt.Errorf("process %s: cancel timers: %w", id, err)
		}
	}
	if err := q.runsAndTrace(id, ch.Runs, enc.runs, enc.traceRows, enc.trace); err != nil {
		return err
	}
	if err := q.recordAnalytics(id, ch.AICalls, ch.Handoffs); err != nil {
		return err
	}
	for _, n := range ch.Notes {
		if _, err := q.exec(`INSERT INTO notes (conversation_id, id, author, text, created_at) VALUES (?, ?, ?, ?, ?)`,
			id, n.ID, n.Author, n.Text, micros(n.CreatedAt)); err != nil {
			return fmt.Errorf("process %s: note: %w", id, err)
		}
	}
	ch.folded = folded
	return nil
}

// runsAndTrace writes a turn's runs and its trace. On a PostgreSQL write the last run goes with
// the trace's first rows in one statement (a data-modifying WITH; SQLite has none): a W1 turn's
// two writes are each one statement shorter to encode, parse, bind and run.
func (q q) runsAndTrace(id string, runs []tandem.Run, runData []string, trace []tandem.StepTrace, traceData []string) error {
	for i, r := range runs {
		if r.ConversationID == "" {
			r.ConversationID = id
		}
		if q.p != nil && q.atEnd == nil && i == len(runs)-1 && len(trace) > 0 {
			data := runData[i]
			if data == "" {
				data = runJSON(&r)
			}
			n := min(len(trace), traceRows)
			query, args := runUpsert(&r, data)
			steps, sargs := traceInsert(id, trace[:n], traceData[:n])
			if _, err := q.exec(`WITH run AS (`+query+`) `+steps, append(args, sargs...)...); err != nil {
				return fmt.Errorf("run %s and its trace: %w", r.ID, err)
			}
			trace, traceData = trace[n:], traceData[n:]
			break
		}
		if err := q.upsertRun(&r, runData[i]); err != nil {
			return err
		}
	}
	return q.insertTrace(id, trace, traceData)
}

// traceInsert returns the statement that inserts trace rows (at most traceRows) and its
// arguments.
func traceInsert(id string, trace []tandem.StepTrace, data []string) (string, []any) {
	args := make([]any, 0, len(trace)*8)
	for i, t := range trace {
		args = append(args, id, t.RunID, t.Seq, t.Step, t.Type, data[i], micros(t.StartedAt), t.DurationUS)
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", len(trace)), ", ")
	return `INSERT INTO run_steps (conversation_id, run_id, seq, step, type, data, started_at, duration_us) VALUES ` + values, args
}

// traceRows is how many trace rows go in one INSERT.
const traceRows = 16

// insertTrace writes trace rows (traceRowsOf), several per statement; data holds each row's
// data column, made before (encode).
func (q q) insertTrace(id string, trace []tandem.StepTrace, data []string) error {
	if q.atEnd != nil {
		q.atEnd.steps(id, trace, data)
		return nil
	}
	for len(trace) > 0 {
		n := min(len(trace), traceRows)
		query, args := traceInsert(id, trace[:n], data[:n])
		if _, err := q.exec(query, args...); err != nil {
			return fmt.Errorf("process %s: trace: %w", id, err)
		}
		trace, data = trace[n:], data[n:]
	}
	return nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
