package store_test

import (
	"context"
	"database/sql"
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

// A W1 turn on PostgreSQL is three round trips, one a write: the customer's message and its
// turn (known conversation: no look-up; the key's check and the conversation's update, its
// numbers known from the snapshot, checked with the commit), the call's result and the turn it
// causes (the effect's row checked with the commit, the reply's lane check inside its INSERT),
// the reply's delivery and the claim of the next send of its lane.
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
	trips("the message and its turn", 1, func() {
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
	trips("the call's result and its turn", 1, func() {
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

// PostgreSQL commits the turns waiting together in one transaction; a write that fails (a
// statement of its own, even one that goes with the COMMIT, or its code's error) fails alone:
// the others run again, each alone, and commit.
func TestPostgresGroupCommitIsolatesAFailingWrite(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	if err := db.ExecTest(ctx, `CREATE TABLE group_t (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	insert := func(id int) func(exec func(string) error) error {
		return func(exec func(string) error) error { return exec(fmt.Sprintf(`INSERT INTO group_t VALUES (%d)`, id)) }
	}
	ids := func() string {
		t.Helper()
		s, err := db.StringTest(ctx, `SELECT COALESCE(string_agg(id::text, ',' ORDER BY id), '') FROM group_t`)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	before := db.CommitsTest()
	errs := db.GroupTest(ctx, insert(1), insert(2), insert(3))
	if errors.Join(errs...) != nil {
		t.Fatalf("a group of good writes answered %v", errs)
	}
	if n := db.CommitsTest() - before; n != 1 {
		t.Errorf("a group of 3 writes took %d COMMITs, want 1", n)
	}
	if got := ids(); got != "1,2,3" {
		t.Errorf("rows %q after the group, want 1,2,3", got)
	}

	giveUp := errors.New("given up")
	cases := []struct {
		name  string
		bad   func(exec func(string) error) error
		check func(error) bool
	}{
		{"a statement fails", insert(1), func(err error) bool { return err != nil && strings.Contains(err.Error(), "duplicate key") }},
		{"its code gives up", func(exec func(string) error) error { exec(`INSERT INTO group_t VALUES (99)`); return giveUp },
			func(err error) bool { return errors.Is(err, giveUp) }},
	}
	for i, c := range cases {
		a, b := 10+10*i, 11+10*i
		// The bad write last: its statement goes to the server with the COMMIT.
		for _, order := range [][]int{{0, 1, 2}, {0, 2, 1}} {
			fns := []func(exec func(string) error) error{insert(a), insert(b), c.bad}
			errs := db.GroupTest(ctx, fns[order[0]], fns[order[1]], fns[order[2]])
			for k, o := range order {
				if o == 2 && !c.check(errs[k]) {
					t.Errorf("%s: the bad write answered %v", c.name, errs[k])
				}
				if o != 2 && errs[k] != nil {
					t.Errorf("%s: a good write answered %v", c.name, errs[k])
				}
			}
			a, b = a+2, b+2
		}
	}
	if got := ids(); got != "1,2,3,10,11,12,13,20,21,22,23" {
		t.Errorf("rows %q; want every good write's, none of the bad ones'", got)
	}
}

// Concurrent turns on PostgreSQL share transactions (group commit), and none is lost or
// numbered twice: every message is stored once, each conversation's messages are numbered 1, 2,
// 3... without a gap.
func TestPostgresGroupCommitConcurrentTurns(t *testing.T) {
	db := storetest.Postgres(t)
	f := newFixture(t, db)
	const n, contacts = 200, 20
	before := db.CommitsTest()
	inboundAtOnce(t, f.ctx, db, n, contacts, f.id)
	if got := f.count(`SELECT COUNT(DISTINCT text) FROM messages`); got != n {
		t.Errorf("%d distinct messages stored, want %d", got, n)
	}
	if got := f.count(`SELECT COUNT(*) FROM conversations`); got != contacts {
		t.Errorf("%d conversations, want %d", got, contacts)
	}
	if gaps := f.count(`SELECT COUNT(*) FROM (SELECT conversation_id, MAX(seq) AS top, COUNT(*) AS n, COUNT(DISTINCT seq) AS d FROM messages GROUP BY conversation_id) s WHERE top <> n OR d <> n`); gaps != 0 {
		t.Errorf("%d conversations with a gap or a repeat in their message numbers", gaps)
	}
	if commits := db.CommitsTest() - before; commits >= n {
		t.Logf("%d COMMITs for %d messages: no write shared a transaction on this run", commits, n)
	}
}

// A heartbeat renews the claims it holds without waiting for a row another transaction is
// writing (that write is its owner finishing with it): waiting, while holding the rows renewed
// so far, could deadlock with a group commit.
func TestPostgresRenewSkipsRowsBeingWritten(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := testCtx(t)
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, db)
	conv := f.inbound("c1", "hello", "").ConversationID
	claim := store.Claim{Owner: "r1", Until: t0.Add(time.Minute)}
	call := func(id string) tandem.Effect {
		return tandem.Effect{ID: id, Kind: tandem.EffectHTTP, Await: true, HTTP: &tandem.HTTPRequest{Method: "GET", URL: "http://example.com"}}
	}
	f.process(conv, func(b *store.Batch, ch *store.Changes) {
		ch.Effects, ch.Claim = []tandem.Effect{call("a1"), call("a2")}, claim
	})
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts WHERE id = 'a1'`); err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := db.OutboxRenew(wait, store.Claim{Owner: "r1", Until: t0.Add(2 * time.Minute)})
	if err != nil || n != 1 {
		t.Fatalf("OutboxRenew beside a row being written: %d, %v; want the other row renewed at once", n, err)
	}
	tx.Rollback()
	if n, err := db.OutboxRenew(ctx, store.Claim{Owner: "r1", Until: t0.Add(3 * time.Minute)}); err != nil || n != 2 {
		t.Errorf("OutboxRenew after: %d, %v; want both rows", n, err)
	}
}
