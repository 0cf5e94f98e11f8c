package store_test

import (
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

// A send that succeeded costs no write of its own: its completion is written by the
// conversation's next write, and until then its row stays pending (claimed).
func TestSendCompletionGoesWithTheNextWrite(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db)
	conv := f.inbound("c1", "hello", "").ConversationID
	items := f.claimedSends(conv, "s1")
	if len(items) != 1 {
		t.Fatalf("claimed %d sends, want 1", len(items))
	}
	jobs := db.WriteJobsTest()
	if !db.OutboxDoneLater(&items[0], sentOK("s1")) {
		t.Fatal("OutboxDoneLater refused a plain success of a send claimed by its turn")
	}
	if got := db.WriteJobsTest() - jobs; got != 0 {
		t.Errorf("the completion cost %d writes, want none", got)
	}
	if n := f.count(`SELECT COUNT(*) FROM outbox WHERE conversation_id = ? AND id = 's1' AND status = 'pending'`, conv); n != 1 {
		t.Fatalf("the send's row: %d pending, want 1 until the next write", n)
	}
	f.inbound("c1", "thanks", "")
	jobs = db.WriteJobsTest()
	var ch *store.Changes
	f.process(conv, func(_ *store.Batch, c *store.Changes) {
		c.Effects = []tandem.Effect{sendEffect("s2")}
		c.Claim = store.Claim{Owner: "r1", Until: t0.Add(time.Hour)}
		ch = c
	})
	if got := db.WriteJobsTest() - jobs; got != 1 {
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
}

// Completions that wait are written together, by one write, when no write of their
// conversations comes.
func TestSendCompletionsFlushedTogether(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db)
	var convs []string
	for _, c := range []string{"c1", "c2", "c3"} {
		conv := f.inbound(c, "hello", "").ConversationID
		convs = append(convs, conv)
		it := f.claimedSends(conv, "s-"+c)[0]
		if !db.OutboxDoneLater(&it, sentOK(it.Effect.ID)) {
			t.Fatalf("%s: OutboxDoneLater refused a plain success", c)
		}
	}
	jobs := db.WriteJobsTest()
	n, freed, err := db.OutboxFlushDone(f.ctx)
	if err != nil || n != 3 || freed {
		t.Fatalf("OutboxFlushDone = %d, %v, %v; want 3, nothing waiting behind them", n, freed, err)
	}
	if got := db.WriteJobsTest() - jobs; got != 1 {
		t.Errorf("the flush took %d writes, want 1", got)
	}
	if n := f.count(`SELECT COUNT(*) FROM outbox`); n != 0 {
		t.Errorf("%d outbox rows left after the flush", n)
	}
	if n, _, err := db.OutboxFlushDone(f.ctx); err != nil || n != 0 {
		t.Errorf("a second flush = %d, %v; want nothing to do", n, err)
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
// turn may have queued a send behind it). On PostgreSQL it is always written at once.
func TestSendCompletionWrittenAtOnceWhenNeeded(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		later := func(ext string, res func(id string) *tandem.EffectResult, ids ...string) bool {
			conv := f.inbound(ext, "hello", "").ConversationID
			it := f.claimedSends(conv, ids...)[0]
			return db.OutboxDoneLater(&it, res(it.Effect.ID))
		}
		if db.Dialect() == store.SQLite && !later("plain", sentOK, "p1") {
			t.Error("a plain success was written at once")
		}
		if db.Dialect() == store.Postgres && later("plain", sentOK, "p1") {
			t.Error("a plain success waits in memory on PostgreSQL")
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
