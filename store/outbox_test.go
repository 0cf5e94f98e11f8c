package store_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/seal"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// claimedIDs returns the effect ids of claimed items, sorted.
func claimedIDs(items []store.OutboxItem) []string {
	ids := []string{}
	for _, it := range items {
		ids = append(ids, it.Effect.ID)
	}
	sort.Strings(ids)
	return ids
}

func sendEffect(id string) tandem.Effect {
	return tandem.Effect{ID: id, Kind: tandem.EffectSend, Send: &tandem.Message{ID: id, Direction: tandem.DirectionOut, Author: tandem.AuthorBot, Type: tandem.MessageText, Text: "text " + id}}
}

func httpEffect(id string, await bool) tandem.Effect {
	return tandem.Effect{ID: id, Kind: tandem.EffectHTTP, Await: await, HTTP: &tandem.HTTPRequest{Method: "POST", URL: "https://example.com/" + id}}
}

func deskEffect(id string, await bool) tandem.Effect {
	return tandem.Effect{ID: id, Kind: tandem.EffectDesk, Await: await, Desk: &tandem.DeskRequest{Desk: "inbox", Op: "start"}}
}

// outboxFixture opens two conversations: a with sends a1, a2, a3, a call h1, a desk call d1;
// b with send b1. Every effect is created at t0.
func outboxFixture(t *testing.T, db *store.DB) (f *fixture, a, b string) {
	f = newFixture(t, db)
	a = f.inbound("ca", "hi", "").ConversationID
	b = f.inbound("cb", "hi", "").ConversationID
	f.process(a, func(_ *store.Batch, ch *store.Changes) {
		ch.Effects = []tandem.Effect{sendEffect("a1"), httpEffect("h1", true), sendEffect("a2"), deskEffect("d1", true), sendEffect("a3")}
	})
	f.process(b, func(_ *store.Batch, ch *store.Changes) {
		ch.Effects = []tandem.Effect{sendEffect("b1")}
	})
	return f, a, b
}

func (f *fixture) claim(now time.Time, limit int) []store.OutboxItem {
	f.t.Helper()
	items, err := f.db.OutboxClaim(f.ctx, now, limit, store.Claim{Owner: "test", Until: now.Add(time.Minute)})
	if err != nil {
		f.t.Fatalf("OutboxClaim(%v): %v", now, err)
	}
	return items
}

func (f *fixture) item(items []store.OutboxItem, id string) *store.OutboxItem {
	f.t.Helper()
	for i := range items {
		if items[i].Effect.ID == id {
			return &items[i]
		}
	}
	f.t.Fatalf("%s not among claimed %v", id, claimedIDs(items))
	return nil
}

func messageStatus(f *fixture, conv, id string) string {
	f.t.Helper()
	s, err := f.db.StringTest(f.ctx, `SELECT status FROM messages WHERE conversation_id = ? AND id = ?`, conv, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// messageError returns why a message failed, as the API reads it (nil when it did not).
func messageError(f *fixture, conv, id string) *tandem.MessageError {
	f.t.Helper()
	msgs, err := f.db.Messages(f.ctx, store.MessagesParams{ConversationID: conv, Limit: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, m := range msgs {
		if m.ID == id {
			return m.Error
		}
	}
	f.t.Fatalf("message %s of conversation %s not found", id, conv)
	return nil
}

func TestOutboxClaim(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, a, _ := outboxFixture(t, db)
		for _, step := range []struct {
			name string
			now  time.Time
			do   func()
			want []string
		}{
			// one row per (conversation, lane): a1 before a2 and a3; calls have a lane each
			{name: "first", now: t0, want: []string{"a1", "b1", "d1", "h1"}},
			{name: "leased rows are not claimed again", now: t0.Add(59 * time.Second), want: []string{}},
			{name: "after the lease, rows are claimed again", now: t0.Add(time.Minute), want: []string{"a1", "b1", "d1", "h1"}},
			{name: "ReleaseAll voids claims", now: t0.Add(time.Minute), do: func() {
				if err := db.OutboxReleaseAll(f.ctx); err != nil {
					t.Fatal(err)
				}
			}, want: []string{"a1", "b1", "d1", "h1"}},
			{name: "limit", now: t0.Add(10 * time.Minute)}, // one row, a1 or b1
			{name: "done a1 lets a2 go", now: t0.Add(20 * time.Minute), do: func() {
				it := &store.OutboxItem{ConversationID: a, Effect: sendEffect("a1")}
				if _, err := db.OutboxDone(f.ctx, it, nil, t0); err != nil {
					t.Fatal(err)
				}
			}, want: []string{"a2", "b1", "d1", "h1"}},
		} {
			if step.do != nil {
				step.do()
			}
			limit := 10
			if step.name == "limit" {
				limit = 1
			}
			items := f.claim(step.now, limit)
			if step.want == nil {
				if got := claimedIDs(items); len(got) != 1 || (got[0] != "a1" && got[0] != "b1") {
					t.Errorf("%s: claimed %v, want a1 or b1", step.name, got)
				}
				continue
			}
			if got := claimedIDs(items); !reflect.DeepEqual(got, step.want) {
				t.Errorf("%s: claimed %v, want %v", step.name, got, step.want)
			}
		}
		depth, oldest, err := db.OutboxStats(f.ctx, t0.Add(time.Hour))
		if err != nil || depth != 5 || oldest != time.Hour {
			t.Errorf("OutboxStats = %d, %v, %v; want 5, 1h", depth, oldest, err)
		}
	})
}

func TestOutboxDone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, a, b := outboxFixture(t, db)
		items := f.claim(t0, 10)

		// An awaited call queues its result in the same transaction, once.
		h1 := f.item(items, "h1")
		res := &tandem.EffectResult{EffectID: "h1", Kind: tandem.EffectHTTP, HTTP: &tandem.HTTPResult{Status: 200, Body: "ok", Attempts: 1}}
		for i, want := range []bool{true, false} {
			queued, err := db.OutboxDone(f.ctx, h1, res, t0.Add(time.Second))
			if err != nil || queued != want {
				t.Errorf("OutboxDone #%d = %v, %v; want %v", i+1, queued, err, want)
			}
		}
		evs := f.queued(a)
		if len(evs) != 1 || evs[0].Kind != tandem.EventResult || !reflect.DeepEqual(evs[0].Result, res) || !evs[0].At.Equal(t0.Add(time.Second)) {
			t.Errorf("queued after OutboxDone = %+v", evs)
		}

		// A send records the channel's id and status on its message; nothing is queued.
		b1 := f.item(items, "b1")
		queued, err := db.OutboxDone(f.ctx, b1, &tandem.EffectResult{EffectID: "b1", Kind: tandem.EffectSend, Send: &tandem.SendResult{MessageID: "b1", ChannelMessageID: "wamid.1"}}, t0)
		if err != nil || queued {
			t.Errorf("OutboxDone(send) = %v, %v", queued, err)
		}
		if got := messageStatus(f, b, "b1"); got != "sent" {
			t.Errorf("message status = %q, want sent", got)
		}
		ms := f.messages(b)
		if got := ms[len(ms)-1]; got.ID != "b1" || got.ChannelMessageID != "wamid.1" {
			t.Errorf("sent message = %+v", got)
		}
		if got := len(f.queued(b)); got != 0 {
			t.Errorf("a send queued %d events", got)
		}
		if got := claimedIDs(f.claim(t0.Add(time.Hour), 10)); !reflect.DeepEqual(got, []string{"a1", "d1"}) {
			t.Errorf("left in the outbox: %v", got)
		}
	})
}

func TestOutboxRetry(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _, _ := outboxFixture(t, db)
		a1 := f.item(f.claim(t0, 10), "a1")
		if err := db.OutboxRetry(f.ctx, a1, t0.Add(10*time.Minute), "503 from the channel"); err != nil {
			t.Fatal(err)
		}
		// not before next_at, and a2 waits behind it
		if got := claimedIDs(f.claim(t0.Add(5*time.Minute), 10)); !reflect.DeepEqual(got, []string{"b1", "d1", "h1"}) {
			t.Errorf("claimed before the retry is due: %v", got)
		}
		next, ok, err := db.OutboxNext(f.ctx)
		if err != nil || !ok || !next.Equal(t0.Add(6*time.Minute)) {
			t.Errorf("OutboxNext = %v, %v, %v; want the end of the leases at t0+6m", next, ok, err)
		}
		items := f.claim(t0.Add(10*time.Minute), 10)
		if got := claimedIDs(items); !reflect.DeepEqual(got, []string{"a1", "b1", "d1", "h1"}) {
			t.Errorf("claimed when the retry is due: %v", got)
		}
		if it := f.item(items, "a1"); it.Attempts != 1 || !it.CreatedAt.Equal(t0) {
			t.Errorf("retried item = %+v, want 1 attempt, created at t0", it)
		}
		if err := db.OutboxReleaseAll(f.ctx); err != nil {
			t.Fatal(err)
		}
		next, ok, err = db.OutboxNext(f.ctx)
		if err != nil || !ok || !next.Equal(t0) {
			t.Errorf("OutboxNext after ReleaseAll = %v, %v, %v; want t0", next, ok, err)
		}
	})
}

func TestOutboxFail(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, a, _ := outboxFixture(t, db)
		items := f.claim(t0, 10)

		// A send that is given up marks its message failed, with the platform's reason, and
		// lets the next send go.
		why := &tandem.MessageError{Code: "131047", Message: "Re-engagement message"}
		queued, err := db.OutboxFail(f.ctx, f.item(items, "a1"), nil, "WhatsApp error 131047: Re-engagement message", why, t0)
		if err != nil || queued {
			t.Errorf("OutboxFail(send) = %v, %v", queued, err)
		}
		if got := messageStatus(f, a, "a1"); got != "failed" {
			t.Errorf("message status = %q, want failed", got)
		}
		if got := messageError(f, a, "a1"); !reflect.DeepEqual(got, why) {
			t.Errorf("message error = %+v, want %+v", got, why)
		}
		if got := messageError(f, a, "a2"); got != nil {
			t.Errorf("message a2 (not failed) has error %+v", got)
		}
		if failed, err := db.MessagesFailedSince(f.ctx, t0, 10); err != nil || len(failed) != 1 || failed[0].ID != "a1" || !reflect.DeepEqual(failed[0].Error, why) {
			t.Errorf("MessagesFailedSince(t0) = %+v, %v; want a1 with %+v", failed, err, why)
		}
		if got := len(f.queued(a)); got != 0 {
			t.Errorf("a failed send queued %d events", got)
		}

		// An awaited desk call that is given up reports the error to its conversation, once.
		d1 := f.item(items, "d1")
		for i, want := range []bool{true, false} {
			queued, err := db.OutboxFail(f.ctx, d1, nil, "desk down", nil, t0.Add(time.Second))
			if err != nil || queued != want {
				t.Errorf("OutboxFail #%d = %v, %v; want %v", i+1, queued, err, want)
			}
		}
		evs := f.queued(a)
		want := &tandem.EffectResult{EffectID: "d1", Kind: tandem.EffectDesk, Error: "desk down"}
		if len(evs) != 1 || evs[0].Kind != tandem.EventResult || !reflect.DeepEqual(evs[0].Result, want) {
			t.Errorf("queued after OutboxFail = %+v, want the error result", evs)
		}
		// Done after Fail (a late success) changes nothing.
		if queued, err := db.OutboxDone(f.ctx, d1, &tandem.EffectResult{EffectID: "d1", Kind: tandem.EffectDesk}, t0); err != nil || queued {
			t.Errorf("OutboxDone after OutboxFail = %v, %v", queued, err)
		}
		if got := claimedIDs(f.claim(t0.Add(time.Hour), 10)); !reflect.DeepEqual(got, []string{"a2", "b1", "h1"}) {
			t.Errorf("claimable after the failures: %v", got)
		}
		depth, _, err := db.OutboxStats(f.ctx, t0)
		if err != nil || depth != 4 {
			t.Errorf("OutboxStats depth = %d, %v; want 4 (failed rows are not pending)", depth, err)
		}
	})
}

func TestOutboxEmpty(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		if items := f.claim(t0, 10); len(items) != 0 {
			t.Errorf("claimed %v from an empty outbox", claimedIDs(items))
		}
		if _, ok, err := db.OutboxNext(f.ctx); ok || err != nil {
			t.Errorf("OutboxNext on an empty outbox = %v, %v", ok, err)
		}
		if depth, oldest, err := db.OutboxStats(f.ctx, t0); depth != 0 || oldest != 0 || err != nil {
			t.Errorf("OutboxStats on an empty outbox = %d, %v, %v", depth, oldest, err)
		}
		if _, ok, err := db.TimerNext(f.ctx); ok || err != nil {
			t.Errorf("TimerNext without timers = %v, %v", ok, err)
		}
		if ids, err := db.Pending(f.ctx, 10); len(ids) != 0 || err != nil {
			t.Errorf("Pending on an empty database = %v, %v", ids, err)
		}
	})
}

func TestTimers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		a := f.inbound("ca", "hi", "").ConversationID
		b := f.inbound("cb", "hi", "").ConversationID
		f.process(a, func(_ *store.Batch, ch *store.Changes) {
			ch.Timers = []tandem.Timer{
				{ID: "a-10", Due: t0.Add(10 * time.Minute), Key: "ten"},
				{ID: "a-05", Due: t0.Add(5 * time.Minute), Key: "five"},
				{ID: "a-20", Due: t0.Add(20 * time.Minute), Key: "twenty"},
				{ID: "a-gone", Due: t0.Add(time.Minute), Key: "canceled"},
			}
		})
		f.process(b, func(_ *store.Batch, ch *store.Changes) {
			ch.Timers = []tandem.Timer{{ID: "b-07", Due: t0.Add(7 * time.Minute), Key: "seven"}}
		})
		f.turn(a, func(_ *store.Batch, ch *store.Changes) { ch.CancelTimers = []string{"a-gone"} })

		fire := func(now time.Time, limit int) []string {
			t.Helper()
			convs, err := db.TimerFire(f.ctx, now, limit)
			if err != nil {
				t.Fatalf("TimerFire(%v): %v", now, err)
			}
			sort.Strings(convs)
			return convs
		}
		next, ok, err := db.TimerNext(f.ctx)
		if err != nil || !ok || !next.Equal(t0.Add(5*time.Minute)) {
			t.Errorf("TimerNext = %v, %v, %v; want t0+5m", next, ok, err)
		}
		if got := fire(t0.Add(4*time.Minute), 100); len(got) != 0 {
			t.Errorf("TimerFire before anything is due woke %v", got)
		}
		if got := fire(t0.Add(10*time.Minute), 1); !reflect.DeepEqual(got, []string{a}) {
			t.Errorf("TimerFire limit 1 woke %v, want [%s]", got, a)
		}
		want := []string{a, b}
		sort.Strings(want)
		if got := fire(t0.Add(10*time.Minute), 100); !reflect.DeepEqual(got, want) {
			t.Errorf("TimerFire woke %v, want %v", got, want)
		}
		if got := fire(t0.Add(10*time.Minute), 100); len(got) != 0 {
			t.Errorf("TimerFire fired again: %v", got)
		}
		next, ok, err = db.TimerNext(f.ctx)
		if err != nil || !ok || !next.Equal(t0.Add(20*time.Minute)) {
			t.Errorf("TimerNext = %v, %v, %v; want t0+20m", next, ok, err)
		}

		// Each due timer became one event of its conversation, in due order.
		var keys []string
		for _, ev := range f.queued(a) {
			if ev.Kind != tandem.EventTimer || ev.Timer == nil || !ev.At.Equal(ev.Timer.Due) {
				t.Errorf("timer event = %+v", ev)
				continue
			}
			keys = append(keys, ev.Timer.Key)
		}
		if want := []string{"five", "ten"}; !reflect.DeepEqual(keys, want) {
			t.Errorf("timer events of a: %v, want %v", keys, want)
		}
		evs := f.queued(b)
		if len(evs) != 1 || evs[0].Timer.ID != "b-07" || !evs[0].Timer.Due.Equal(t0.Add(7*time.Minute)) {
			t.Errorf("timer events of b: %+v", evs)
		}
	})
}

// TestOutboxClaimConcurrent: workers (on PostgreSQL, replicas on their own connections) claim at
// once; every effect is claimed by exactly one of them.
func TestOutboxClaimConcurrent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		const convs = 30
		for i := range convs {
			conv := f.inbound(fmt.Sprintf("c%d", i), "hi", "").ConversationID
			f.process(conv, func(_ *store.Batch, ch *store.Changes) {
				ch.Effects = []tandem.Effect{sendEffect(fmt.Sprintf("s%d", i)), httpEffect(fmt.Sprintf("h%d", i), false)}
			})
		}
		const workers = 4
		got := make(chan []string, workers)
		for range workers {
			go func() {
				var ids []string
				for {
					items, err := db.OutboxClaim(f.ctx, t0, 3, store.Claim{Owner: "test", Until: t0.Add(time.Hour)})
					if err != nil {
						t.Error(err)
						break
					}
					if len(items) == 0 {
						break
					}
					ids = append(ids, claimedIDs(items)...)
				}
				got <- ids
			}()
		}
		seen := map[string]int{}
		for range workers {
			for _, id := range <-got {
				seen[id]++
			}
		}
		if len(seen) != 2*convs {
			t.Errorf("%d effects claimed, want %d", len(seen), 2*convs)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s claimed %d times", id, n)
			}
		}
	})
}

// Claims are leases held by a runner: its heartbeat (OutboxRenew) keeps them while it lives, and
// renews only its own; when it stops renewing they run out and another runner claims the rows;
// OutboxRelease frees them at once; a retry or a failure drops the claim.
func TestOutboxClaimOwners(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, a, _ := outboxFixture(t, db)
		lease := 6 * time.Second
		claim := func(owner string, now time.Time) []string {
			t.Helper()
			items, err := db.OutboxClaim(f.ctx, now, 10, store.Claim{Owner: owner, Until: now.Add(lease)})
			if err != nil {
				t.Fatal(err)
			}
			return claimedIDs(items)
		}
		renew := func(owner string, now time.Time) int {
			t.Helper()
			n, err := db.OutboxRenew(f.ctx, store.Claim{Owner: owner, Until: now.Add(lease)})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		all := []string{"a1", "b1", "d1", "h1"}
		if got := claim("A", t0); !reflect.DeepEqual(got, all) {
			t.Fatalf("A claimed %v, want %v", got, all)
		}
		// A's heartbeat keeps its claims for as long as it beats: two minutes here, far past
		// the lease (a long HTTP call).
		for s := 1; s <= 120; s++ {
			now := t0.Add(time.Duration(s) * time.Second)
			if n := renew("A", now); n != 4 {
				t.Fatalf("at %ds A renewed %d claims, want 4", s, n)
			}
			if got := claim("B", now); len(got) != 0 {
				t.Fatalf("at %ds B claimed %v while A beats", s, got)
			}
		}
		// B's heartbeat renews nothing of A's.
		if n := renew("B", t0.Add(2*time.Minute)); n != 0 {
			t.Errorf("B renewed %d of A's claims", n)
		}
		// A dies at 2m: its claims run out one lease later, and B takes the work.
		dead := t0.Add(2 * time.Minute)
		if got := claim("B", dead.Add(lease-time.Millisecond)); len(got) != 0 {
			t.Errorf("B claimed %v before A's lease ran out", got)
		}
		if got := claim("B", dead.Add(lease)); !reflect.DeepEqual(got, all) {
			t.Errorf("B claimed %v after A's lease ran out, want %v", got, all)
		}
		// A comes back (it was only stalled): its heartbeat no longer renews what B took.
		if n := renew("A", dead.Add(lease)); n != 0 {
			t.Errorf("A renewed %d claims that B holds", n)
		}
		// B stops: releasing lets C claim at once.
		if err := db.OutboxRelease(f.ctx, "B"); err != nil {
			t.Fatal(err)
		}
		now := dead.Add(lease + time.Second)
		if got := claim("C", now); !reflect.DeepEqual(got, all) {
			t.Errorf("C claimed %v after B released, want %v", got, all)
		}
		// A retry drops the claim (and its owner): C's heartbeat no longer renews it.
		if err := db.OutboxRetry(f.ctx, &store.OutboxItem{ConversationID: a, Effect: httpEffect("h1", true)}, now, "boom"); err != nil {
			t.Fatal(err)
		}
		if n := renew("C", now); n != 3 {
			t.Errorf("C renewed %d claims after one was retried, want 3", n)
		}
		if got := claim("D", now); !reflect.DeepEqual(got, []string{"h1"}) {
			t.Errorf("D claimed %v, want the retried h1", got)
		}
	})
}

// An http call waits in the outbox with what its flow put in it — workspace secrets in its
// URL, headers and body — until it is made, and stays there when it fails. With keys given
// (TANDEM_SECRET_KEY), the row holds it sealed: the database, its backups and its replicas
// hold none of those values in clear, and the call is carried out with them all the same.
func TestOutboxSealsCalls(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		key, err := seal.ParseKey(seal.NewKeyText())
		if err != nil {
			t.Fatal(err)
		}
		const secret = "shop-Canary-5e1f0a"
		call := tandem.Effect{ID: "h1", Kind: tandem.EffectHTTP, Await: true, HTTP: &tandem.HTTPRequest{Method: "POST",
			URL: "https://shop.example/orders?key=" + secret, Header: map[string]string{"Authorization": "Bearer " + secret},
			Body: `{"key":"` + secret + `"}`}}
		f := newFixture(t, db)
		old := f.inbound("old", "hi", "").ConversationID
		f.process(old, func(_ *store.Batch, ch *store.Changes) {
			e := httpEffect("h0", true) // stored before keys were given: in clear
			ch.Effects = []tandem.Effect{e}
		})
		db.SealCalls(seal.NewKeyring(key))
		conv := f.inbound("ca", "hi", "").ConversationID
		f.process(conv, func(_ *store.Batch, ch *store.Changes) {
			ch.Effects = []tandem.Effect{call, sendEffect("a1")}
		})
		rows, err := db.StringTest(f.ctx, `SELECT data FROM outbox WHERE conversation_id = ? AND id = ?`, conv, "h1")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(rows, secret) || !strings.HasPrefix(rows, "v1.") {
			t.Errorf("the pending call is stored as %.200s; want it sealed, without the secret", rows)
		}
		send, _ := db.StringTest(f.ctx, `SELECT data FROM outbox WHERE conversation_id = ? AND id = ?`, conv, "a1")
		if !strings.HasPrefix(send, "{") {
			t.Errorf("a send is stored as %.80s; only calls are sealed", send)
		}
		items := f.claim(t0, 10)
		if got := claimedIDs(items); !reflect.DeepEqual(got, []string{"a1", "h0", "h1"}) {
			t.Fatalf("claimed %v, want a1, h0 and h1", got)
		}
		if got := f.item(items, "h1").Effect; !reflect.DeepEqual(got, call) {
			t.Errorf("the claimed call is %+v, want %+v", got.HTTP, call.HTTP)
		}
		if got := f.item(items, "h0").Effect.HTTP; got == nil || got.URL != "https://example.com/h0" {
			t.Errorf("the call stored in clear before reads as %+v", got)
		}
		// A failed call stays sealed.
		if _, err := db.OutboxFail(f.ctx, f.item(items, "h1"), nil, "refused", nil, t0); err != nil {
			t.Fatal(err)
		}
		if rows, _ := db.StringTest(f.ctx, `SELECT data FROM outbox WHERE conversation_id = ? AND id = ?`, conv, "h1"); strings.Contains(rows, secret) {
			t.Errorf("the failed call is stored with the secret in clear: %.200s", rows)
		}
		// Without the key the row is not read as something else: the claim says what is missing.
		f.inbound("ca", "again", "")
		f.process(conv, func(_ *store.Batch, ch *store.Changes) {
			ch.Effects = []tandem.Effect{httpEffect("h2", true)}
		})
		db.SealCalls(nil)
		items = f.claim(t0.Add(time.Hour), 10)
		it := f.item(items, "h2")
		if it.Unreadable == nil || !strings.Contains(it.Unreadable.Error(), "TANDEM_SECRET_KEY") || it.Effect.Kind != tandem.EffectHTTP || !it.Effect.Await {
			t.Errorf("a sealed call claimed without the key: %+v, %v; want it unreadable, naming TANDEM_SECRET_KEY", it.Effect, it.Unreadable)
		}
		if got := claimedIDs(items); !reflect.DeepEqual(got, []string{"a1", "h0", "h2"}) {
			t.Errorf("claimed %v without the key, want a1, h0 and h2: the other rows go on", got)
		}
	})
}
