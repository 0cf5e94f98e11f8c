package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tandemchat/tandem"
)

// A send that succeeded has nothing to record but its row's deletion, and that need not be a
// write of its own: the completion waits in memory and is committed with its conversation's
// next write (a customer's next message comes right after the reply reaches them), or by
// OutboxFlushDone with other completions, whichever comes first. Until then the row stays
// pending and claimed by its runner, whose heartbeat renews the claim, so nobody carries it out
// again; a crash before the completion is committed leaves the row to the next process, which
// sends it again with the same idempotency key: the outbox's at-least-once, as for a crash
// between the send and its completion's write.

// maxLater bounds the completions waiting in memory; beyond, sends are completed at once.
const maxLater = 4096

// later holds the completions of sends carried out and not committed yet, by conversation.
type later struct {
	mu sync.Mutex
	m  map[string][]laterDone // by conversation id
	n  int
}

// laterDone is a send carried out, with the conversation's version when it was claimed.
type laterDone struct {
	id      string
	version int64
}

// add records a completion; false when too many wait already.
func (l *later) add(conv string, d laterDone) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= maxLater {
		return false
	}
	if l.m == nil {
		l.m = map[string][]laterDone{}
	}
	l.m[conv] = append(l.m[conv], d)
	l.n++
	return true
}

// of returns a conversation's waiting completions (a copy).
func (l *later) of(conv string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for _, d := range l.m[conv] {
		ids = append(ids, d.id)
	}
	return ids
}

// all returns every waiting completion.
func (l *later) all() []laterKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]laterKey, 0, l.n)
	for conv, ds := range l.m {
		for _, d := range ds {
			out = append(out, laterKey{outboxKey{conv, d.id}, d.version})
		}
	}
	return out
}

type laterKey struct {
	outboxKey
	version int64
}

// drop forgets completions that a write committed.
func (l *later) drop(conv string, ids []string) {
	if len(ids) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.m[conv][:0]
	for _, d := range l.m[conv] {
		if !slices.Contains(ids, d.id) {
			kept = append(kept, d)
		}
	}
	l.n -= len(l.m[conv]) - len(kept)
	if len(kept) == 0 {
		delete(l.m, conv)
	} else {
		l.m[conv] = kept
	}
}

func (l *later) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

type outboxKey struct{ conv, id string }

// OutboxDoneLater records that a send claimed by the turn that made it was carried out, without
// a write: the completion is committed with the conversation's next write or by
// OutboxFlushDone. It reports false, recording nothing, when the send's completion must be
// written now with OutboxComplete: the result has news for its message (a failure, the
// platform's id of it) or is awaited, another effect waits behind it in its lane, or the
// conversation was written since the send was claimed (a later turn may have queued an effect
// behind it, which the completion's write claims).
//
// On PostgreSQL another replica's turn may queue an effect behind the send unseen by this
// process: the write that completes the send finds it there and reports it (Changes.LaneFreed,
// OutboxFlushDone's freed), for the outbox loop to claim it at once. And a completion is only
// ever written in its conversation's committer queue (see pgBatcher), ordered with the
// conversation's other writes: a write of many conversations' completions would lock their rows
// in one transaction while turns lock them in theirs, in another order — a deadlock.
func (db *DB) OutboxDoneLater(it *OutboxItem, res *tandem.EffectResult) bool {
	e := &it.Effect
	if e.Kind != tandem.EffectSend || e.Await || it.version == 0 || it.behind || res == nil || res.Send == nil || res.Send.Failed ||
		(res.Send.ChannelMessageID != "" && res.Send.ChannelMessageID != sentMessageID(e)) {
		return false
	}
	if v, ok := db.snaps.version(it.ConversationID); !ok || v != it.version {
		return false
	}
	return db.later.add(it.ConversationID, laterDone{e.ID, it.version})
}

// OutboxLater returns how many completions wait for a write (OutboxDoneLater).
func (db *DB) OutboxLater() int { return db.later.len() }

// OutboxFlushDone commits every completion waiting in memory (OutboxDoneLater), in one write,
// and returns how many it committed. freed reports that an effect may wait behind one of them
// in its lane, for the outbox loop to claim: a turn of its conversation was committed after the
// send was completed in memory and before this write (a race the completion's own write would
// have caught with its claim of the lane's next effect). On PostgreSQL the completions go in
// one write a committer, each in the queue of its conversations, and the database says whether
// an effect waits behind them (another replica's turn may have queued one).
func (db *DB) OutboxFlushDone(ctx context.Context) (n int, freed bool, err error) {
	keys := db.later.all()
	if len(keys) == 0 {
		return 0, false, nil
	}
	if db.pg != nil {
		return db.flushDonePg(ctx, keys)
	}
	rows := make([]outboxKey, len(keys))
	for i, k := range keys {
		rows[i] = k.outboxKey
	}
	if err := db.writeAgain(ctx, func(q q) error { return q.deleteDone(rows) }); err != nil {
		return 0, false, fmt.Errorf("outbox: completions: %w", err)
	}
	for _, k := range keys {
		if v, ok := db.snaps.version(k.conv); !ok || v != k.version {
			freed = true
		}
	}
	db.later.dropKeys(keys)
	return len(keys), freed, nil
}

// flushDonePg is OutboxFlushDone on PostgreSQL: a write in each committer whose conversations
// have completions waiting, side by side.
func (db *DB) flushDonePg(ctx context.Context, keys []laterKey) (n int, freed bool, err error) {
	byCommitter := map[int][]laterKey{}
	for _, k := range keys {
		i := db.pg.committer(k.conv)
		byCommitter[i] = append(byCommitter[i], k)
	}
	type outcome struct {
		keys  []laterKey
		freed bool
		err   error
	}
	done := make(chan outcome, len(byCommitter))
	for i, ks := range byCommitter {
		go func() {
			rows := make([]outboxKey, len(ks))
			for j, k := range ks {
				rows[j] = k.outboxKey
			}
			var o outcome
			o.err = db.pg.doAt(ctx, i, func(q q) error {
				o.freed = false
				return q.deleteDonePg(rows, &o.freed)
			})
			o.keys = ks
			done <- o
		}()
	}
	for range byCommitter {
		o := <-done
		if o.err != nil {
			err = fmt.Errorf("outbox: completions: %w", o.err)
			continue
		}
		db.later.dropKeys(o.keys)
		n += len(o.keys)
		freed = freed || o.freed
	}
	return n, freed, err
}

// dropKeys forgets completions that a write committed.
func (l *later) dropKeys(keys []laterKey) {
	byConv := map[string][]string{}
	for _, k := range keys {
		byConv[k.conv] = append(byConv[k.conv], k.id)
	}
	for conv, ids := range byConv {
		l.drop(conv, ids)
	}
}

// foldDone deletes, in a write of the conversation, the completions of its sends that wait in
// memory, and returns their ids (forgotten once the write committed: Changes.folded). On
// PostgreSQL only a write in the conversation's committer queue does (see OutboxDoneLater), and
// freed is set, once the write's pipeline is read, when an effect waits behind one of them.
func (q q) foldDone(conv string, freed *bool) ([]string, error) {
	if q.db.pg != nil && q.conv != conv {
		return nil, nil
	}
	ids := q.db.later.of(conv)
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]outboxKey, len(ids))
	for i, id := range ids {
		keys[i] = outboxKey{conv, id}
	}
	if q.db.pg != nil {
		return ids, q.deleteDonePg(keys, freed)
	}
	return ids, q.deleteDone(keys)
}

// deleteDone deletes the rows of effects carried out. A row already gone (completed by another
// write meanwhile) is no error.
func (q q) deleteDone(keys []outboxKey) error {
	return inDoneChunks(keys, func(terms string, args []any) error {
		_, err := q.exec(`DELETE FROM outbox WHERE status = 'pending' AND (`+terms+`)`, args...)
		return err
	})
}

// deleteDonePg is deleteDone on PostgreSQL, which also sets freed (when the write's pipeline is
// read) if an effect waits behind a deleted row in its lane. The rows deleted are still seen by
// the statement's own look into the lanes (one snapshot): the look skips them.
func (q q) deleteDonePg(keys []outboxKey, freed *bool) error {
	return inDoneChunks(keys, func(terms string, args []any) error {
		return q.rowLater(func(s scanner) error {
			var behind bool
			if err := s.Scan(&behind); err != nil {
				return err
			}
			*freed = *freed || behind
			return nil
		}, `WITH d AS (DELETE FROM outbox WHERE status = 'pending' AND (`+terms+`) RETURNING conversation_id, id, lane, seq)
SELECT EXISTS (SELECT 1 FROM d JOIN outbox p ON p.conversation_id = d.conversation_id AND p.lane = d.lane AND p.seq > d.seq
 WHERE p.status = 'pending' AND NOT EXISTS (SELECT 1 FROM d x WHERE x.conversation_id = p.conversation_id AND x.id = p.id))`, args...)
	})
}

// inDoneChunks calls del with the terms and arguments that name keys' rows, 1, 2, 4 … 64 rows a
// call, so that a few query texts serve every count (each is prepared once).
func inDoneChunks(keys []outboxKey, del func(terms string, args []any) error) error {
	for len(keys) > 0 {
		n := 64
		for n > len(keys) {
			n /= 2
		}
		args := make([]any, 0, 2*n)
		for _, k := range keys[:n] {
			args = append(args, k.conv, k.id)
		}
		terms := strings.TrimSuffix(strings.Repeat("(conversation_id = ? AND id = ?) OR ", n), " OR ")
		if err := del(terms, args); err != nil {
			return fmt.Errorf("outbox: done: %w", err)
		}
		keys = keys[n:]
	}
	return nil
}
