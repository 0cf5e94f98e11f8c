package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// A PostgreSQL write sends its statements in pipelines, several in one round trip: a statement
// that fails fails the whole write even when it went with a later statement or with the COMMIT,
// a write whose code gives up commits nothing of what it had sent, and the connection serves the
// next writes.
func TestPostgresPipelinedWriteIsWholeOrNothing(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	if err := db.ExecTest(ctx, `CREATE TABLE pipe_t (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	count := func() int64 {
		t.Helper()
		n, err := db.IntTest(ctx, `SELECT COUNT(*) FROM pipe_t`)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	err := db.WriteAgainTest(ctx, func(exec func(string) error) error {
		exec(`INSERT INTO pipe_t VALUES (1)`)
		exec(`INSERT INTO pipe_t VALUES (1)`) // a duplicate key, reported later
		return exec(`INSERT INTO pipe_t VALUES (2)`)
	})
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("a write with a failing statement answered %v; want its duplicate key error", err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d rows kept from a failed write; want 0", n)
	}
	giveUp := errors.New("given up")
	err = db.WriteAgainTest(ctx, func(exec func(string) error) error {
		exec(`INSERT INTO pipe_t VALUES (3)`)
		return giveUp
	})
	if !errors.Is(err, giveUp) {
		t.Fatalf("a write that gave up answered %v; want its own error", err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d rows kept from a write that gave up; want 0", n)
	}
	// More writes than the pool has connections: none was left in a transaction.
	for i := 10; i < 50; i++ {
		err := db.WriteAgainTest(ctx, func(exec func(string) error) error {
			return exec(fmt.Sprintf(`INSERT INTO pipe_t VALUES (%d) ON CONFLICT DO NOTHING`, 100+i%10))
		})
		if err != nil {
			t.Fatalf("write %d after the failures: %v", i, err)
		}
	}
	if n := count(); n != 10 {
		t.Fatalf("%d rows after 40 writes of 10 distinct ids; want 10", n)
	}
}

// A W1 turn on PostgreSQL is five round trips: the customer's message and its turn (known
// conversation: no look-up; the key's check goes with the conversation's update) in two, the
// call's result and the turn it causes (the effect's row checked with the commit, the reply's
// lane check inside its INSERT) in two, the reply's delivery and the claim of the next send of
// its lane in one.
func TestPostgresTurnRoundTrips(t *testing.T) {
	db := storetest.Postgres(t)
	f := newFixture(t, db)
	conv := f.inbound("c1", "hello", "p1").ConversationID
	f.process(conv, nil)
	claim := store.Claim{Owner: "r1", Until: t0.Add(time.Minute)}
	turn := func(effects ...tandem.Effect) *store.Direct {
		t.Helper()
		b, err := db.Snapshot(f.ctx, conv)
		if err != nil {
			t.Fatal(err)
		}
		c := *b.Conversation
		return &store.Direct{Batch: b, Changes: &store.Changes{Conversation: &c, State: []byte(`{}`), Effects: effects, Claim: claim}}
	}
	trips := func(what string, want int64, fn func()) {
		t.Helper()
		before, _ := db.RoundTripsTest()
		fn()
		if after, _ := db.RoundTripsTest(); after-before != want {
			t.Errorf("%s: %d round trips, want %d", what, after-before, want)
		}
	}

	call := tandem.Effect{ID: "call1", Kind: tandem.EffectHTTP, Await: true, HTTP: &tandem.HTTPRequest{Method: "GET", URL: "http://example.com"}}
	d := turn(call)
	trips("the message and its turn", 2, func() {
		_, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: "c1"},
			Message: tandem.Message{ID: "m2", Text: "order 42", ChannelMessageID: "p2"}, Now: t0, NewID: f.id, Direct: d})
		if err != nil || !d.Applied || len(d.Changes.Claimed) != 1 {
			t.Fatalf("Inbound: applied %v, claimed %d, err %v; want the turn applied and its call claimed", d.Applied, len(d.Changes.Claimed), err)
		}
	})

	send := func(id string) tandem.Effect {
		return tandem.Effect{ID: id, Kind: tandem.EffectSend, Send: &tandem.Message{ID: id, Type: tandem.MessageText, Text: id}}
	}
	d2 := turn(send("s1"), send("s2"))
	trips("the call's result and its turn", 2, func() {
		res := &tandem.EffectResult{EffectID: "call1", Kind: tandem.EffectHTTP, HTTP: &tandem.HTTPResult{Status: 200}}
		_, _, err := db.OutboxComplete(f.ctx, &d.Changes.Claimed[0], res, t0, claim, d2)
		if err != nil || !d2.Applied || len(d2.Changes.Claimed) != 1 || d2.Changes.Claimed[0].Effect.ID != "s1" {
			t.Fatalf("OutboxComplete: applied %v, claimed %+v, err %v; want the turn applied and s1 claimed (s2 waits behind it)", d2.Applied, d2.Changes.Claimed, err)
		}
	})

	trips("the reply's delivery", 1, func() {
		res := &tandem.EffectResult{EffectID: "s1", Kind: tandem.EffectSend, Send: &tandem.SendResult{MessageID: "s1"}}
		_, next, err := db.OutboxComplete(f.ctx, &d2.Changes.Claimed[0], res, t0, claim, nil)
		if err != nil || next == nil || next.Effect.ID != "s2" {
			t.Fatalf("OutboxComplete(s1): next %+v, err %v; want s2 claimed", next, err)
		}
	})
	// A second completion of the same send (its claim ran out and another runner did it) finds
	// the row gone with the commit: nothing changes, and s2 is not claimed twice.
	trips("a repeated delivery", 1, func() {
		res := &tandem.EffectResult{EffectID: "s1", Kind: tandem.EffectSend, Send: &tandem.SendResult{MessageID: "s1", ChannelMessageID: "x1"}}
		queued, next, err := db.OutboxComplete(f.ctx, &d2.Changes.Claimed[0], res, t0, claim, nil)
		if err != nil || queued || next != nil {
			t.Fatalf("OutboxComplete(s1) again: queued %v, next %+v, err %v; want nothing", queued, next, err)
		}
	})
	if n := f.count(`SELECT COUNT(*) FROM messages WHERE conversation_id = ? AND channel_message_id = 'x1'`, conv); n != 0 {
		t.Errorf("the repeated delivery wrote its result")
	}
	if n := f.count(`SELECT COUNT(*) FROM outbox WHERE conversation_id = ?`, conv); n != 1 {
		t.Errorf("%d outbox rows, want s2's", n)
	}
}
