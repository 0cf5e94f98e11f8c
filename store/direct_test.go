package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// directTurn builds, from a snapshot of conv, a turn that sends text and records state.
func (f *fixture) directTurn(conv, text, state string) *store.Direct {
	f.t.Helper()
	b, err := f.db.Snapshot(f.ctx, conv)
	if err != nil {
		f.t.Fatalf("Snapshot(%s): %v", conv, err)
	}
	c := *b.Conversation
	c.UpdatedAt = t0.Add(time.Minute)
	id := f.id()
	ch := &store.Changes{Conversation: &c, State: []byte(state),
		Effects: []tandem.Effect{{ID: id, Kind: tandem.EffectSend, Send: &tandem.Message{ID: id, Type: tandem.MessageText, Text: text}}}}
	return &store.Direct{Batch: b, Changes: ch}
}

// directInbound stores customer c1's message m on the API channel with d, the turn computed
// for it (nil for none).
func (f *fixture) directInbound(m tandem.Message, d *store.Direct) (store.InboundResult, error) {
	return f.db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: "c1"},
		Message: m, Now: t0, NewID: f.id, Direct: d})
}

// waitingOnTimer is a conversation whose queue is empty and that waits on timer "t1".
func (f *fixture) waitingOnTimer() string {
	f.t.Helper()
	return f.waitingOnTimerOf("c1")
}

// waitingOnTimerOf is waitingOnTimer for contact ext.
func (f *fixture) waitingOnTimerOf(ext string) string {
	f.t.Helper()
	conv := f.inbound(ext, "hello", "").ConversationID
	f.process(conv, func(b *store.Batch, ch *store.Changes) {
		ch.Timers = []tandem.Timer{{ID: "t1", Due: t0.Add(time.Hour), Key: "wait"}}
	})
	return conv
}

func fired(conv string) []tandem.TimerFired {
	return []tandem.TimerFired{{ID: "t1", Due: t0.Add(time.Hour), Key: "wait"}}
}

// A timer's turn commits with its firing: the timer is gone, the turn's message and state are
// there, and no event was queued.
func TestDirectTimerCommitsItsTurn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.waitingOnTimer()
		d := f.directTurn(conv, "time is up", `{"step":"after"}`)
		ok, queued, err := db.TimerFireOne(f.ctx, conv, fired(conv), d)
		if err != nil || !ok || queued || !d.Applied {
			t.Fatalf("TimerFireOne: fired %v, queued %v, applied %v, err %v; want fired and applied", ok, queued, d.Applied, err)
		}
		if n := f.count(`SELECT COUNT(*) FROM timers WHERE conversation_id = ?`, conv); n != 0 {
			t.Errorf("%d timers left", n)
		}
		if n := len(f.queued(conv)); n != 0 {
			t.Errorf("%d events queued, want none", n)
		}
		ms := f.messages(conv)
		if len(ms) != 2 || ms[1].Text != "time is up" {
			t.Errorf("messages %+v; want hello then the turn's message", ms)
		}
		if got := string(f.conversation(conv).State); got != `{"step":"after"}` {
			t.Errorf("state %s", got)
		}
		// Fired once: a second firing finds nothing.
		ok, _, err = db.TimerFireOne(f.ctx, conv, fired(conv), f.directTurn(conv, "twice", `{}`))
		if err != nil || ok {
			t.Errorf("second firing: fired %v, err %v; want nothing", ok, err)
		}
		if n := len(f.messages(conv)); n != 2 {
			t.Errorf("%d messages after the second firing, want 2", n)
		}
	})
}

// Several conversations' timers fire in one write, each as alone: a turn committed with its
// firing (its message, run and trace written), a conversation with a queued event gets its
// timer queued after it, a timer that went away meanwhile fires nothing; and a turn that
// cannot be written fails alone, its timer left for another try, while the others fire.
func TestTimersFireChunk(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		bad, busy, gone := f.waitingOnTimerOf("bad"), f.waitingOnTimerOf("busy"), f.waitingOnTimerOf("gone")
		var ok []string
		for i := range 20 { // more rows than one statement inserts
			ok = append(ok, f.waitingOnTimerOf(fmt.Sprint("ok", i)))
		}
		var fs []*store.TimerFiring
		for i, conv := range append([]string{bad, busy, gone}, ok...) {
			d := f.directTurn(conv, "time is up", `{"step":"after"}`)
			run := tandem.Run{ID: "run-" + conv, ConversationID: conv, FlowID: "f", FlowVersion: 1, Status: tandem.RunCompleted, StartedAt: t0, UpdatedAt: t0}
			d.Changes.Runs = []tandem.Run{run}
			if i == 3 { // a run started and ended by the same turn
				started := run
				started.Status = tandem.RunWaiting
				d.Changes.Runs = []tandem.Run{started, run}
			}
			d.Changes.Trace = []tandem.StepTrace{{Seq: 1, RunID: run.ID, Step: "wait", Type: "wait", StartedAt: t0}, {Seq: 2, RunID: run.ID, Step: "say", Type: "message", StartedAt: t0}}
			fs = append(fs, &store.TimerFiring{ConversationID: conv, Timers: fired(conv), Direct: d})
		}
		fs[0].Direct.Changes.Effects[0].ID = "" // a turn whose write fails
		f.inbound("busy", "are you there?", "") // queued, not processed yet
		if err := db.ExecTest(f.ctx, `DELETE FROM timers WHERE conversation_id = ?`, gone); err != nil {
			t.Fatal(err) // fired elsewhere meanwhile
		}
		db.TimersFire(f.ctx, fs)
		type outcome struct{ fired, queued, applied, err bool }
		for i, want := range []outcome{{false, false, false, true}, {true, true, false, false}, {false, false, false, false}} {
			got := fs[i]
			if got.Fired != want.fired || got.Queued != want.queued || got.Direct.Applied != want.applied || (got.Err != nil) != want.err {
				t.Errorf("conversation %d: fired %v, queued %v, applied %v, err %v; want %+v", i, got.Fired, got.Queued, got.Direct.Applied, got.Err, want)
			}
		}
		for i, conv := range ok {
			if got := fs[3+i]; !got.Fired || got.Queued || !got.Direct.Applied || got.Err != nil {
				t.Errorf("conversation ok%d: fired %v, queued %v, applied %v, err %v; want fired and applied", i, got.Fired, got.Queued, got.Direct.Applied, got.Err)
			}
			if ms := f.messages(conv); len(ms) != 2 || ms[1].Text != "time is up" {
				t.Errorf("ok%d: messages %+v; want hello then the turn's message", i, ms)
			}
			if r, err := db.RunGet(f.ctx, "run-"+conv); err != nil || r.Status != tandem.RunCompleted {
				t.Errorf("ok%d: run %+v, %v; want it completed", i, r, err)
			}
			if tr, err := db.RunTrace(f.ctx, conv, "run-"+conv); err != nil || len(tr) != 2 || tr[1].Step != "say" {
				t.Errorf("ok%d: trace %+v, %v; want its two steps", i, tr, err)
			}
			if n := f.count(`SELECT COUNT(*) FROM timers WHERE conversation_id = ?`, conv); n != 0 {
				t.Errorf("ok%d: %d timers left, want none", i, n)
			}
		}
		if n := f.count(`SELECT COUNT(*) FROM timers WHERE conversation_id IN (?, ?)`, busy, gone); n != 0 {
			t.Errorf("%d timers left of the busy conversation and the one whose timer went away, want none", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM timers WHERE conversation_id = ?`, bad); n != 1 {
			t.Errorf("%d timers left of the conversation whose turn failed, want its timer", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM runs WHERE conversation_id IN (?, ?, ?)`, bad, busy, gone); n != 0 {
			t.Errorf("%d runs written for the turns not committed, want none", n)
		}
		if evs := f.queued(busy); len(evs) != 2 || evs[1].Kind != tandem.EventTimer {
			t.Errorf("queued %d events; want the message, then the timer", len(evs))
		}
		if n := len(f.messages(gone)); n != 1 {
			t.Errorf("%d messages in the conversation whose timer went away, want 1", n)
		}
	})
}

// An event queued before the timer fires is processed first: the direct turn, computed without
// it, is not committed; the timer is queued after it.
func TestDirectTurnWaitsForQueuedEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.waitingOnTimer()
		d := f.directTurn(conv, "time is up", `{"step":"after"}`)
		f.inbound("c1", "are you there?", "") // queued, not processed yet
		ok, queued, err := db.TimerFireOne(f.ctx, conv, fired(conv), d)
		if err != nil || !ok || !queued || d.Applied {
			t.Fatalf("TimerFireOne: fired %v, queued %v, applied %v, err %v; want fired and queued, not applied", ok, queued, d.Applied, err)
		}
		evs := f.queued(conv)
		if len(evs) != 2 || evs[0].Kind != tandem.EventMessage || evs[1].Kind != tandem.EventTimer {
			t.Fatalf("queued %d events; want the message, then the timer", len(evs))
		}
		for _, m := range f.messages(conv) {
			if m.Text == "time is up" {
				t.Error("the direct turn was committed before the queued message")
			}
		}
	})
}

// A turn computed from a conversation that changed meanwhile is not committed: the effect's
// result is queued instead, and nothing of the stale turn is written.
func TestDirectStaleTurnIsQueued(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "hello", "").ConversationID
		call := tandem.Effect{ID: "call1", Kind: tandem.EffectHTTP, Await: true, HTTP: &tandem.HTTPRequest{Method: "GET", URL: "http://example.com"}}
		f.process(conv, func(b *store.Batch, ch *store.Changes) { ch.Effects = []tandem.Effect{call} })
		d := f.directTurn(conv, "stale", `{"stale":true}`)
		if err := db.ConversationAttributesSet(f.ctx, conv, map[string]any{"plan": "pro"}, t0); err != nil {
			t.Fatal(err)
		}
		it := &store.OutboxItem{ConversationID: conv, Effect: call}
		res := &tandem.EffectResult{EffectID: "call1", Kind: tandem.EffectHTTP, HTTP: &tandem.HTTPResult{Status: 200}}
		queued, _, err := db.OutboxComplete(f.ctx, it, res, t0, store.Claim{}, d)
		if err != nil || !queued || d.Applied {
			t.Fatalf("OutboxComplete: queued %v, applied %v, err %v; want the result queued", queued, d.Applied, err)
		}
		if evs := f.queued(conv); len(evs) != 1 || evs[0].Kind != tandem.EventResult {
			t.Errorf("queued %d events, want the result", len(evs))
		}
		if n := f.count(`SELECT COUNT(*) FROM outbox WHERE conversation_id = ? AND id = 'call1'`, conv); n != 0 {
			t.Errorf("the effect's row is still there")
		}
		if got := string(f.conversation(conv).State); got == `{"stale":true}` {
			t.Error("the stale turn's state was written")
		}
	})
}

// A customer message's turn commits with the message: the message is numbered before the
// turn's answer, and no event is queued.
func TestDirectInbound(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "hello", "").ConversationID
		f.process(conv, nil)
		d := f.directTurn(conv, "an answer", `{"answered":true}`)
		res, err := f.directInbound(tandem.Message{ID: "m2", Text: "a question", ChannelMessageID: "p2"}, d)
		if err != nil || !d.Applied || res.ConversationID != conv || res.Seq != 2 {
			t.Fatalf("Inbound: %+v, applied %v, err %v; want the turn applied, the message numbered 2", res, d.Applied, err)
		}
		if n := len(f.queued(conv)); n != 0 {
			t.Errorf("%d events queued, want none", n)
		}
		ms := f.messages(conv)
		if len(ms) != 3 || ms[1].Text != "a question" || ms[2].Text != "an answer" {
			t.Errorf("messages %+v; want hello, the question, the answer", ms)
		}
		// A repeat of the provider's id is recognised: nothing more is stored.
		d2 := f.directTurn(conv, "again", `{}`)
		res, err = f.directInbound(tandem.Message{ID: "m3", Text: "a question", ChannelMessageID: "p2"}, d2)
		if err != nil || !res.Duplicate || d2.Applied || len(f.messages(conv)) != 3 {
			t.Errorf("repeat: %+v, applied %v, err %v; want a duplicate and nothing stored", res, d2.Applied, err)
		}
	})
}

// A message whose turn was computed for a conversation that closed since is stored the usual
// way: in a new conversation, its provider id pointing at it, and the stale turn not written.
func TestDirectInboundAfterClose(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "hello", "p1").ConversationID
		f.process(conv, nil)
		d := f.directTurn(conv, "stale answer", `{"stale":true}`)
		f.turn(conv, func(b *store.Batch, ch *store.Changes) { ch.Conversation.Status = tandem.ConversationClosed })
		p := store.InboundParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: "c1"},
			Message: tandem.Message{ID: "m2", Text: "back again", ChannelMessageID: "p2"}, Now: t0, NewID: f.id, Direct: d}
		res, err := db.Inbound(f.ctx, p)
		if err != nil || d.Applied || res.ConversationID == conv || res.ConversationID == "" {
			t.Fatalf("Inbound: %+v, applied %v, err %v; want a new conversation and the stale turn not applied", res, d.Applied, err)
		}
		if ms := f.messages(res.ConversationID); len(ms) != 1 || ms[0].Text != "back again" {
			t.Errorf("new conversation's messages %+v; want the message", ms)
		}
		if evs := f.queued(res.ConversationID); len(evs) != 1 || evs[0].Message == nil || evs[0].Message.ID != "m2" {
			t.Errorf("queued %+v; want the message's event", evs)
		}
		if n := len(f.messages(conv)); n != 1 {
			t.Errorf("the closed conversation has %d messages, want its first only", n)
		}
		p.Direct = nil
		again, err := db.Inbound(f.ctx, p)
		if err != nil || !again.Duplicate || again.ConversationID != res.ConversationID || again.MessageID != "m2" || again.Seq != res.Seq {
			t.Errorf("repeat: %+v, err %v; want a duplicate of %+v", again, err, res)
		}
	})
}

// A turn whose conversation got a message without a turn since its snapshot (a reaction, which
// changes the numbers, not the version) is committed, numbered after that message: on
// PostgreSQL its first commit, which takes the numbers from the snapshot, is refused by its
// check and the second reads them back.
func TestDirectTurnAfterNumbersMoved(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "hello", "").ConversationID
		f.process(conv, nil)
		d := f.directTurn(conv, "an answer", `{"answered":true}`)
		in := func(m tandem.Message, d *store.Direct) store.InboundResult {
			t.Helper()
			res, err := f.directInbound(m, d)
			if err != nil {
				t.Fatalf("Inbound(%s): %v", m.ID, err)
			}
			return res
		}
		in(tandem.Message{ID: "r1", Type: tandem.MessageReaction, Reaction: "👍", RefersTo: "x"}, nil)
		if res := in(tandem.Message{ID: "m2", Text: "a question"}, d); !d.Applied || res.Seq != 3 {
			t.Fatalf("Inbound: %+v, applied %v; want the turn applied, the message numbered 3", res, d.Applied)
		}
		var got []string
		for _, m := range f.messages(conv) {
			got = append(got, m.ID)
		}
		if want := []string{"id000001", "r1", "m2", d.Changes.Effects[0].ID}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("messages %v, want %v", got, want)
		}
		// The cache holds the numbers the commit gave: the next turn needs one write.
		d2 := f.directTurn(conv, "another", `{}`)
		if res := in(tandem.Message{ID: "m3", Text: "more"}, d2); !d2.Applied || res.Seq != 5 {
			t.Errorf("next Inbound: %+v, applied %v; want applied, numbered 5", res, d2.Applied)
		}
	})
}

// The snapshot of a conversation this process committed comes from its cache; when the
// conversation changed elsewhere, the turn computed from it is not committed and the next
// snapshot is read afresh.
func TestDirectSnapshotCache(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.waitingOnTimer()
		if got := db.ConversationOf("api", "c1"); got != conv {
			t.Errorf("ConversationOf(c1) = %q, want %q", got, conv)
		}
		if err := db.ConversationAttributesSet(f.ctx, conv, map[string]any{"plan": "pro"}, t0); err != nil {
			t.Fatal(err)
		}
		d := f.directTurn(conv, "from a stale read", `{}`)
		if d.Batch.Conversation.Attributes["plan"] != nil {
			t.Fatal("the snapshot was not the cached one")
		}
		_, queued, err := db.TimerFireOne(f.ctx, conv, fired(conv), d)
		if err != nil || d.Applied || !queued {
			t.Fatalf("TimerFireOne on a stale snapshot: applied %v, queued %v, err %v; want queued", d.Applied, queued, err)
		}
		b, err := db.Snapshot(f.ctx, conv)
		if err != nil {
			t.Fatal(err)
		}
		if b.Conversation.Attributes["plan"] != "pro" {
			t.Errorf("snapshot after the failed check: attributes %v, want the fresh ones", b.Conversation.Attributes)
		}
	})
}

// A turn computed from a contact that changed meanwhile is not committed either: the turn reads
// the contact (its name, its attributes in templates).
func TestDirectStaleContact(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.waitingOnTimer()
		d := f.directTurn(conv, "hello nobody", `{}`)
		// The customer's name arrives with a reaction of theirs (stored without a turn).
		if _, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: "c1", Name: "Ana"},
			Message: tandem.Message{Type: "reaction", Text: "👍"}, Now: t0, NewID: f.id}); err != nil {
			t.Fatal(err)
		}
		_, _, err := db.TimerFireOne(f.ctx, conv, fired(conv), d)
		if err != nil || d.Applied {
			t.Fatalf("TimerFireOne with a stale contact: applied %v, err %v; want not applied", d.Applied, err)
		}
	})
}

// On a channel that sends inline, a send is committed as sent with its turn: a message and no
// outbox row. Behind a pending effect of its lane it waits in the outbox, to keep the order.
func TestInlineSends(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "hello", "").ConversationID
		send := func(id, text string) tandem.Effect {
			return tandem.Effect{ID: id, Kind: tandem.EffectSend, Send: &tandem.Message{ID: id, Type: tandem.MessageText, Text: text}}
		}
		var first *store.Changes
		f.process(conv, func(b *store.Batch, ch *store.Changes) {
			ch.InlineSends = true
			ch.Effects = []tandem.Effect{send("s1", "one"), send("s2", "two")}
			first = ch
		})
		if n, sent := f.count(`SELECT COUNT(*) FROM outbox WHERE conversation_id = ?`, conv), first.InlineSent; n != 0 || sent != 2 {
			t.Errorf("%d outbox rows, %d sent inline; want none, 2", n, sent)
		}
		// A send of another turn that is still pending (its channel was not inline then).
		f.inbound("c1", "again", "")
		f.process(conv, func(b *store.Batch, ch *store.Changes) { ch.Effects = []tandem.Effect{send("s3", "three")} })
		f.inbound("c1", "and again", "")
		f.process(conv, func(b *store.Batch, ch *store.Changes) {
			ch.InlineSends = true
			ch.Effects = []tandem.Effect{send("s4", "four")}
		})
		if n := f.count(`SELECT COUNT(*) FROM outbox WHERE conversation_id = ?`, conv); n != 2 {
			t.Errorf("%d outbox rows, want 2: the pending send and the one behind it", n)
		}
		var texts []string
		for _, m := range f.messages(conv) {
			texts = append(texts, m.Text)
		}
		if got, want := strings.Join(texts, ","), "hello,one,two,again,three,and again,four"; got != want {
			t.Errorf("messages %s, want %s", got, want)
		}
	})
}

// In a chunk of fired timers, each turn's conversation is written as the turn left it: a turn
// that hands the conversation off writes its status and team (the queue finds it), one that
// does not keeps them and moves its time; a conversation that got a message without a turn
// since its snapshot (its numbers moved, not its version) has its timer fired after that
// message, not over it (its turn queued on SQLite, committed again with the numbers read back
// on PostgreSQL); and the next turn, from the cache, numbers its message after the chunk's.
func TestTimersFireChunkWritesEachConversation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		handed, kept, moved := f.waitingOnTimerOf("handed"), f.waitingOnTimerOf("kept"), f.waitingOnTimerOf("moved")
		var fs []*store.TimerFiring
		for _, conv := range []string{handed, kept, moved} {
			d := f.directTurn(conv, "time is up", `{"step":"after"}`)
			d.Changes.Conversation.UpdatedAt = t0.Add(2 * time.Hour)
			fs = append(fs, &store.TimerFiring{ConversationID: conv, Timers: fired(conv), Direct: d})
		}
		c := fs[0].Direct.Changes.Conversation
		c.Status, c.Team = tandem.ConversationQueued, "sales"
		if _, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: "moved"},
			Message: tandem.Message{ID: "r1", Type: tandem.MessageReaction, Reaction: "👍", RefersTo: "x"}, Now: t0, NewID: f.id}); err != nil {
			t.Fatal(err)
		}
		db.TimersFire(f.ctx, fs)
		for i, got := range fs {
			if got.Err != nil || !got.Fired || got.Direct.Applied == got.Queued || i < 2 && !got.Direct.Applied {
				t.Errorf("conversation %d: fired %v, queued %v, applied %v, err %v; want fired, applied or else queued", i, got.Fired, got.Queued, got.Direct.Applied, got.Err)
			}
		}
		if got := f.conversation(handed); got.Status != tandem.ConversationQueued || got.Team != "sales" || !got.UpdatedAt.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("handed off: status %q, team %q, updated %v; want queued for sales at %v", got.Status, got.Team, got.UpdatedAt, t0.Add(2*time.Hour))
		}
		if queue, _, err := db.InboxQueued(f.ctx, "sales", "", 10); err != nil || len(queue) != 1 || queue[0].ID != handed {
			t.Errorf("the sales queue: %+v, %v; want the conversation handed off", queue, err)
		}
		if got := f.conversation(kept); got.Status != tandem.ConversationBot || got.Team != "" || !got.UpdatedAt.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("kept: status %q, team %q, updated %v; want the bot's, moved to %v", got.Status, got.Team, got.UpdatedAt, t0.Add(2*time.Hour))
		}
		if ev := f.queued(moved); fs[2].Queued && (len(ev) != 1 || ev[0].Kind != tandem.EventTimer) {
			t.Errorf("the conversation whose numbers moved: events %+v, want its timer queued", ev)
		}
		seq := func(conv, id string) int64 {
			t.Helper()
			return f.count(`SELECT seq FROM messages WHERE conversation_id = ? AND id = ?`, conv, id)
		}
		if fs[2].Direct.Applied {
			if got := seq(moved, fs[2].Direct.Changes.Effects[0].ID); got != 3 {
				t.Errorf("the turn of the conversation whose numbers moved: its message numbered %d, want 3, after the reaction", got)
			}
		}
		if got := seq(moved, "r1"); got != 2 {
			t.Errorf("the reaction numbered %d, want 2", got)
		}
		if got := seq(kept, fs[1].Direct.Changes.Effects[0].ID); got != 2 {
			t.Errorf("kept: the chunk's message numbered %d, want 2", got)
		}
		d := f.directTurn(kept, "and then", `{}`)
		res, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: "kept"},
			Message: tandem.Message{ID: "m2", Text: "more"}, Now: t0, NewID: f.id, Direct: d})
		if err != nil || !d.Applied || res.Seq != 3 {
			t.Errorf("the next message: %+v, applied %v, %v; want its turn applied, the message numbered 3", res, d.Applied, err)
		}
	})
}

// In a chunk of fired timers on a channel that sends inline, each turn's send is committed as
// sent, except behind a pending effect of its conversation's lane, where it waits in the
// outbox: the chunk asks once which lanes are busy, and each conversation has its own answer.
func TestTimersFireChunkInlineSends(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		free, behind, other := f.waitingOnTimerOf("free"), f.waitingOnTimerOf("behind"), f.waitingOnTimerOf("other")
		f.inbound("behind", "again", "")
		f.process(behind, func(b *store.Batch, ch *store.Changes) { // a send still pending
			ch.Effects = []tandem.Effect{{ID: "s1", Kind: tandem.EffectSend, Send: &tandem.Message{ID: "s1", Type: tandem.MessageText, Text: "pending"}}}
			ch.Timers = []tandem.Timer{{ID: "t1", Due: t0.Add(time.Hour), Key: "wait"}}
		})
		var fs []*store.TimerFiring
		for _, conv := range []string{free, behind, other} {
			d := f.directTurn(conv, "time is up", `{}`)
			d.Changes.InlineSends = true
			fs = append(fs, &store.TimerFiring{ConversationID: conv, Timers: fired(conv), Direct: d})
		}
		db.TimersFire(f.ctx, fs)
		for i, want := range []struct {
			sent int
			rows int64
		}{{1, 0}, {0, 2}, {1, 0}} {
			got := fs[i]
			if !got.Direct.Applied || got.Err != nil {
				t.Fatalf("conversation %d: applied %v, err %v; want applied", i, got.Direct.Applied, got.Err)
			}
			if sent, rows := got.Direct.Changes.InlineSent, f.count(`SELECT COUNT(*) FROM outbox WHERE conversation_id = ?`, got.ConversationID); sent != want.sent || rows != want.rows {
				t.Errorf("conversation %d: %d sent inline, %d outbox rows; want %d and %d", i, sent, rows, want.sent, want.rows)
			}
		}
	})
}

// A direct turn on SQLite sets the conversation's status, team and assignee only when it
// changed them; one that hands the conversation over must still store them, and the next
// customer message must still find the open conversation by its contact (an index on status).
func TestDirectTurnStatusChange(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "hello", "").ConversationID
		f.process(conv, nil)
		in := func(id string, d *store.Direct) store.InboundResult {
			t.Helper()
			res, err := f.directInbound(tandem.Message{ID: id, Text: "more"}, d)
			if err != nil {
				t.Fatalf("Inbound(%s): %v", id, err)
			}
			return res
		}
		d := f.directTurn(conv, "an answer", `{}`) // status unchanged
		if in("m2", d); !d.Applied {
			t.Fatal("the first turn was not applied")
		}
		d = f.directTurn(conv, "passing you to sales", `{}`)
		d.Changes.Conversation.Status, d.Changes.Conversation.Team = tandem.ConversationQueued, "sales"
		if in("m3", d); !d.Applied {
			t.Fatal("the handing-over turn was not applied")
		}
		if got := f.conversation(conv); got.Status != tandem.ConversationQueued || got.Team != "sales" {
			t.Errorf("after the turn: status %q, team %q; want queued, sales", got.Status, got.Team)
		}
		d = f.directTurn(conv, "still there", `{}`) // reads queued, keeps it
		if res := in("m4", d); !d.Applied || res.ConversationID != conv {
			t.Errorf("the next message: %+v, applied %v; want it in %s, applied", res, d.Applied, conv)
		}
		if got := f.conversation(conv); got.Status != tandem.ConversationQueued || got.Team != "sales" {
			t.Errorf("after a turn that kept them: status %q, team %q; want queued, sales", got.Status, got.Team)
		}
		if n := f.count(`SELECT COUNT(*) FROM conversations WHERE contact_id = (SELECT contact_id FROM conversations WHERE id = ?) AND status = 'queued'`, conv); n != 1 {
			t.Errorf("%d queued conversations found by the contact's index, want 1", n)
		}
	})
}
