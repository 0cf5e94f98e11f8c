package store_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// claimedSends processes conv's queued events into a turn that makes sends with ids, claimed by
// its commit as a running runner's turn claims them, and returns the claimed items.
func (f *fixture) claimedSends(conv string, ids ...string) []store.OutboxItem {
	f.t.Helper()
	var ch *store.Changes
	f.process(conv, func(_ *store.Batch, c *store.Changes) {
		for _, id := range ids {
			c.Effects = append(c.Effects, sendEffect(id))
		}
		c.Claim = store.Claim{Owner: "r1", Until: t0.Add(time.Hour)}
		ch = c
	})
	return ch.Claimed
}

// sentOK is a send's plain success: nothing to record on its message.
func sentOK(id string) *tandem.EffectResult {
	return &tandem.EffectResult{EffectID: id, Kind: tandem.EffectSend, Send: &tandem.SendResult{MessageID: id}}
}

// writesTest counts a database's writes: SQLite's write jobs, PostgreSQL's transactions.
func writesTest(db *store.DB) int64 {
	if db.Dialect() == store.Postgres {
		return db.CommitsTest()
	}
	return db.WriteJobsTest()
}

// A send that succeeded costs no write of its own: its completion is written by the
// conversation's next write, and until then its row stays pending (claimed).
func TestSendCompletionGoesWithTheNextWrite(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "hello", "").ConversationID
		items := f.claimedSends(conv, "s1")
		if len(items) != 1 {
			t.Fatalf("claimed %d sends, want 1", len(items))
		}
		writes := writesTest(db)
		if !db.OutboxDoneLater(&items[0], sentOK("s1")) {
			t.Fatal("OutboxDoneLater refused a plain success of a send claimed by its turn")
		}
		if got := writesTest(db) - writes; got != 0 {
			t.Errorf("the completion cost %d writes, want none", got)
		}
		if n := f.count(`SELECT COUNT(*) FROM outbox WHERE conversation_id = ? AND id = 's1' AND status = 'pending'`, conv); n != 1 {
			t.Fatalf("the send's row: %d pending, want 1 until the next write", n)
		}
		f.inbound("c1", "thanks", "")
		writes = writesTest(db)
		var ch *store.Changes
		f.process(conv, func(_ *store.Batch, c *store.Changes) {
			c.Effects = []tandem.Effect{sendEffect("s2")}
			c.Claim = store.Claim{Owner: "r1", Until: t0.Add(time.Hour)}
			ch = c
		})
		if got := writesTest(db) - writes; got != 1 {
			t.Errorf("the next turn took %d writes, want 1", got)
		}
		if n := f.count(`SELECT COUNT(*) FROM outbox WHERE conversation_id = ? AND id = 's1'`, conv); n != 0 {
			t.Errorf("the completed send's row is still there after the conversation's next write")
		}
		if n := db.OutboxLater(); n != 0 {
			t.Errorf("%d completions still wait in memory", n)
		}
		// The lane was free for the next turn's send: its commit claimed it.
		if got := claimedIDs(ch.Claimed); len(got) != 1 || got[0] != "s2" {
			t.Errorf("the next turn claimed %v, want [s2]", got)
		}
		if ch.LaneFreed {
			t.Errorf("the next turn reported an effect waiting behind the completed send; none was")
		}
	})
}

// Completions that wait are written together when no write of their conversations comes: by
// one write on SQLite; on PostgreSQL by one write in each conversation's committer queue, so
// that the write cannot hold one conversation's rows while it waits for another's.
func TestSendCompletionsFlushedTogether(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		var convs []string
		for i := range 12 {
			c := fmt.Sprintf("c%d", i)
			conv := f.inbound(c, "hello", "").ConversationID
			convs = append(convs, conv)
			it := f.claimedSends(conv, "s-"+c)[0]
			if !db.OutboxDoneLater(&it, sentOK(it.Effect.ID)) {
				t.Fatalf("%s: OutboxDoneLater refused a plain success", c)
			}
		}
		writes := writesTest(db)
		n, freed, err := db.OutboxFlushDone(f.ctx)
		if err != nil || n != 12 || freed {
			t.Fatalf("OutboxFlushDone = %d, %v, %v; want 12, nothing waiting behind them", n, freed, err)
		}
		got, want := writesTest(db)-writes, int64(1)
		if db.Dialect() == store.Postgres {
			want = int64(db.CommittersTest(convs...))
		}
		if got != want {
			t.Errorf("the flush took %d writes, want %d", got, want)
		}
		if n := f.count(`SELECT COUNT(*) FROM outbox`); n != 0 {
			t.Errorf("%d outbox rows left after the flush", n)
		}
		if n, _, err := db.OutboxFlushDone(f.ctx); err != nil || n != 0 {
			t.Errorf("a second flush = %d, %v; want nothing to do", n, err)
		}
	})
}

// On PostgreSQL another replica's turn may queue a send behind one whose completion waits in
// this replica's memory, unseen by it. The write that completes the first send — a flush, or
// the conversation's next write here — finds the second and says so, so that the outbox loop
// claims it at once instead of at its next poll.
func TestPostgresSendCompletionFindsAnotherReplicasSend(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	ctx := testCtx(t)
	open := func() *store.DB {
		db, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return db
	}
	a, b := open(), open()
	fa, fb := newFixture(t, a), newFixture(t, b)
	fb.id = newIDs("b")
	for _, how := range []string{"flush", "next write"} {
		ext := "c-" + how
		conv := fa.inbound(ext, "hello", "").ConversationID
		s1 := fa.claimedSends(conv, how+" 1")[0]
		// Replica b: the customer's next message and its turn, whose send waits behind s1.
		fb.inbound(ext, "again", "")
		fb.process(conv, func(_ *store.Batch, c *store.Changes) { c.Effects = []tandem.Effect{sendEffect(how + " 2")} })
		if !a.OutboxDoneLater(&s1, sentOK(s1.Effect.ID)) {
			t.Fatalf("%s: OutboxDoneLater refused a plain success", how)
		}
		if how == "flush" {
			n, freed, err := a.OutboxFlushDone(ctx)
			if err != nil || n != 1 || !freed {
				t.Errorf("OutboxFlushDone = %d, %v, %v; want 1 and the send waiting behind it found", n, freed, err)
			}
		} else {
			fa.inbound(ext, "and again", "")
			var ch *store.Changes
			fa.process(conv, func(_ *store.Batch, c *store.Changes) { ch = c })
			if !ch.LaneFreed {
				t.Errorf("the conversation's next write completed %s without finding the send waiting behind it", s1.Effect.ID)
			}
		}
		if got := claimedIDs(fa.claim(t0.Add(time.Minute), 10)); len(got) != 1 || got[0] != how+" 2" {
			t.Errorf("%s: then claimed %v, want [%s 2]", how, got, how)
		}
	}
}

// A crash before a waiting completion is written leaves the send to the next process, which
// carries it out again with the same idempotency key (at least once).
func TestSendCompletionLostInACrashIsSentAgain(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tandem.db")
	db := storetest.OpenSQLite(t, path)
	f := newFixture(t, db)
	conv := f.inbound("c1", "hello", "").ConversationID
	it := f.claimedSends(conv, "s1")[0]
	if !db.OutboxDoneLater(&it, sentOK("s1")) {
		t.Fatal("OutboxDoneLater refused a plain success")
	}
	db.Close() // the process ends without writing it: what a kill does

	db = storetest.OpenSQLite(t, path)
	f = newFixture(t, db)
	if err := db.OutboxReleaseAll(f.ctx); err != nil {
		t.Fatal(err)
	}
	items := f.claim(t0.Add(time.Minute), 10)
	if len(items) != 1 || items[0].Effect.ID != "s1" || items[0].Effect.Send == nil || items[0].Effect.Send.Text != "text s1" {
		t.Fatalf("claimed after the restart: %+v; want the send s1 again (its id is the idempotency key)", items)
	}
}

// A completion is written at once when it has something to record, when another effect waits
// behind the send, or when the conversation was written since the send was claimed (a later
// turn may have queued a send behind it).
func TestSendCompletionWrittenAtOnceWhenNeeded(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		later := func(ext string, res func(id string) *tandem.EffectResult, ids ...string) bool {
			conv := f.inbound(ext, "hello", "").ConversationID
			it := f.claimedSends(conv, ids...)[0]
			return db.OutboxDoneLater(&it, res(it.Effect.ID))
		}
		if !later("plain", sentOK, "p1") {
			t.Error("a plain success was written at once")
		}
		if later("behind", sentOK, "b1", "b2") {
			t.Error("a send with another behind it in its lane was not completed at once")
		}
		failed := func(id string) *tandem.EffectResult {
			return &tandem.EffectResult{EffectID: id, Kind: tandem.EffectSend, Send: &tandem.SendResult{MessageID: id, Failed: true}}
		}
		if later("failed", failed, "f1") {
			t.Error("a failure was not recorded at once")
		}
		platformID := func(id string) *tandem.EffectResult {
			return &tandem.EffectResult{EffectID: id, Kind: tandem.EffectSend, Send: &tandem.SendResult{MessageID: id, ChannelMessageID: "wamid.1"}}
		}
		if later("platform", platformID, "w1") {
			t.Error("the platform's id of a message was not recorded at once")
		}
		conv := f.inbound("since", "hello", "").ConversationID
		it := f.claimedSends(conv, "n1")[0]
		f.inbound("since", "again", "")
		f.process(conv, nil)
		if db.OutboxDoneLater(&it, sentOK("n1")) {
			t.Error("a send whose conversation was written since its claim was not completed at once")
		}
		conv = f.inbound("loop", "hello", "").ConversationID
		f.process(conv, func(_ *store.Batch, c *store.Changes) { c.Effects = []tandem.Effect{sendEffect("l1")} })
		claimed := f.claim(t0.Add(time.Minute), 10)
		if len(claimed) != 1 || claimed[0].Effect.ID != "l1" {
			t.Fatalf("the outbox loop claimed %v, want [l1]", claimedIDs(claimed))
		}
		if db.OutboxDoneLater(&claimed[0], sentOK("l1")) {
			t.Error("a send claimed by the outbox loop, not by its turn, was not completed at once")
		}
	})
}
