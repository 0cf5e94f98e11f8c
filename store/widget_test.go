package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

func newSession(t *testing.T, f *fixture, id, hash string) *tandem.WidgetSession {
	t.Helper()
	s := &tandem.WidgetSession{ID: id, ChannelID: "web", Locale: "pt", PageURL: "https://shop.example/p", Variables: map[string]any{"plan": "pro"},
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := f.db.WidgetSessionCreate(f.ctx, s, hash); err != nil {
		t.Fatal(err)
	}
	return s
}

func webInbound(t *testing.T, f *fixture, contactExt, key, text string) store.InboundResult {
	t.Helper()
	res, err := f.db.Inbound(f.ctx, store.InboundParams{ChannelID: "web", ChannelKind: "web", Now: t0, NewID: f.id,
		Contact: tandem.Contact{ExternalID: contactExt}, Message: tandem.Message{ChannelMessageID: key, Text: text}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestWidgetSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		s := newSession(t, f, "s1", "hash1")
		if s.ContactID == "" {
			t.Fatal("no anonymous contact")
		}
		got, err := db.WidgetSessionByToken(f.ctx, "web", "hash1", t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "s1" || got.ContactID != s.ContactID || got.ExternalID != tandem.WidgetAnonymousPrefix+"s1" || got.Verified || got.Locale != "pt" || got.Variables["plan"] != "pro" || got.PageURL != "https://shop.example/p" {
			t.Errorf("read back %+v", got)
		}
		c, err := db.ContactGet(f.ctx, s.ContactID)
		if err != nil || c.ExternalID != tandem.WidgetAnonymousPrefix+"s1" {
			t.Errorf("anonymous contact %+v, %v", c, err)
		}
		// Wrong channel, unknown hash, expired: unauthorized.
		for _, tc := range []struct {
			channel, hash string
			at            time.Time
		}{{"other", "hash1", t0}, {"web", "nope", t0}, {"web", "hash1", t0.Add(2 * time.Hour)}} {
			if _, err := db.WidgetSessionByToken(f.ctx, tc.channel, tc.hash, tc.at); tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
				t.Errorf("%+v: %v, want unauthorized", tc, err)
			}
		}
		// Sliding expiry.
		got.LastSeenAt, got.ExpiresAt = t0.Add(90*time.Minute), t0.Add(3*time.Hour)
		if err := db.WidgetSessionUpdate(f.ctx, got); err != nil {
			t.Fatal(err)
		}
		if _, err := db.WidgetSessionByToken(f.ctx, "web", "hash1", t0.Add(2*time.Hour)); err != nil {
			t.Errorf("after the expiry moved: %v", err)
		}
		// An expired session is deleted when another is created.
		newSession(t, f, "s2", "hash2")
		s3 := &tandem.WidgetSession{ID: "s3", ChannelID: "web", CreatedAt: t0.Add(4 * time.Hour), ExpiresAt: t0.Add(5 * time.Hour)}
		if err := db.WidgetSessionCreate(f.ctx, s3, "hash3"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.WidgetSessionByToken(f.ctx, "web", "hash2", t0); tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
			t.Errorf("an expired session survived: %v", err)
		}
		if err := db.WidgetSessionDelete(f.ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.WidgetSessionByToken(f.ctx, "web", "hash1", t0); err == nil {
			t.Error("a deleted session still works")
		}
	})
}

// TestWidgetIdentify: a verified user takes over the conversations the visitor had as an
// anonymous visitor; the verified fields are stored; a user's conversations never move to
// another user.
func TestWidgetIdentify(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		s := newSession(t, f, "s1", "hash1")
		first := webInbound(t, f, tandem.WidgetAnonymousPrefix+"s1", "s1:c1", "hello")
		if first.ContactID != s.ContactID || first.Seq != 1 {
			t.Fatalf("inbound %+v", first)
		}
		uid, err := db.WidgetIdentify(f.ctx, store.WidgetIdentifyParams{SessionID: "s1", ChannelID: "web", Now: t0,
			Contact: tandem.Contact{ExternalID: "u-42", Name: "Ana", Email: "ana@acme.com"}})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := db.WidgetSessionByToken(f.ctx, "web", "hash1", t0)
		if !got.Verified || got.ContactID != uid || got.ExternalID != "u-42" {
			t.Errorf("session after identify: %+v", got)
		}
		c, _ := db.ContactGet(f.ctx, uid)
		if c.ExternalID != "u-42" || c.Email != "ana@acme.com" || c.Name != "Ana" {
			t.Errorf("verified contact %+v", c)
		}
		convs, err := db.WidgetConversations(f.ctx, uid, "web")
		if err != nil || len(convs) != 1 || convs[0].ID != first.ConversationID || convs[0].MsgSeq != 1 {
			t.Fatalf("the user's conversations: %+v, %v", convs, err)
		}
		// Another user on the same browser: u-42's conversation stays u-42's.
		other, err := db.WidgetIdentify(f.ctx, store.WidgetIdentifyParams{SessionID: "s1", ChannelID: "web", Now: t0, Contact: tandem.Contact{ExternalID: "u-7"}})
		if err != nil {
			t.Fatal(err)
		}
		if convs, _ := db.WidgetConversations(f.ctx, other, "web"); len(convs) != 0 {
			t.Errorf("u-7 got u-42's conversations: %+v", convs)
		}
		if _, err := db.WidgetIdentify(f.ctx, store.WidgetIdentifyParams{SessionID: "s1", ChannelID: "web", Now: t0,
			Contact: tandem.Contact{ExternalID: tandem.WidgetAnonymousPrefix + "x"}}); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("an anonymous external id was accepted: %v", err)
		}
	})
}

// TestWidgetMessages: client ids are recognised per session key, each message has the next seq,
// and a repeat answers with the first message's seq.
func TestWidgetMessages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		newSession(t, f, "s1", "hash1")
		ext := tandem.WidgetAnonymousPrefix + "s1"
		a := webInbound(t, f, ext, "s1:a", "one")
		b := webInbound(t, f, ext, "s1:b", "two")
		again := webInbound(t, f, ext, "s1:a", "one")
		if a.Seq != 1 || b.Seq != 2 || !again.Duplicate || again.Seq != 1 || again.MessageID != a.MessageID {
			t.Fatalf("seqs: %+v %+v %+v", a, b, again)
		}
		evs, err := db.WidgetEvents(f.ctx, a.ConversationID, 1, 10)
		if err != nil || len(evs) != 1 || evs[0].Seq != 2 || evs[0].Message == nil || evs[0].Message.Seq != 2 || evs[0].Message.ChannelMessageID != "s1:b" || evs[0].Message.Text != "two" {
			t.Fatalf("after 1: %+v, %v", evs, err)
		}
		if seq, err := db.WidgetMessageSeq(f.ctx, a.ConversationID, b.MessageID); err != nil || seq != 2 {
			t.Errorf("seq of b: %d, %v", seq, err)
		}
		ids, last, err := db.ConversationsChanged(f.ctx, "web", t0.Add(-time.Second), 10)
		if err != nil || len(ids) != 1 || ids[0] != a.ConversationID || !last.Equal(t0) {
			t.Errorf("changed: %v %v %v", ids, last, err)
		}
		if ids, _, _ := db.ConversationsChanged(f.ctx, "web", t0, 10); len(ids) != 0 {
			t.Errorf("changed after the last change: %v", ids)
		}
		if err := db.ConversationAttributesSet(f.ctx, a.ConversationID, map[string]any{"page": "pricing"}, t0); err != nil {
			t.Fatal(err)
		}
		info, _ := db.ConversationGet(f.ctx, a.ConversationID)
		if info.Attributes["page"] != "pricing" {
			t.Errorf("attributes %v", info.Attributes)
		}
		if err := db.ConversationAttributesSet(f.ctx, "nope", map[string]any{"a": 1}, t0); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("unknown conversation: %v", err)
		}
	})
}

// TestConversationVariables: the variables a conversation opens with are read by the turns
// that process it and kept by their commits; a later merge changes them (a nil value deletes
// one) and moves the version only when something changed; a message to the open conversation
// does not replace them.
func TestConversationVariables(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		res, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "web", ChannelKind: "web", Now: t0, NewID: f.id,
			Contact: tandem.Contact{ExternalID: "v-1"}, Message: tandem.Message{Text: "hi"}, Variables: map[string]any{"plan": "pro", "seats": 3.0}})
		if err != nil {
			t.Fatal(err)
		}
		turn := func() map[string]any {
			t.Helper()
			var got map[string]any
			if _, _, err := db.Process(f.ctx, res.ConversationID, 10, func(b *store.Batch) (*store.Changes, error) {
				got = b.Conversation.Variables
				return &store.Changes{Conversation: b.Conversation, State: []byte(`{}`), DoneSeq: b.Events[len(b.Events)-1].Seq}, nil
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := turn(); got["plan"] != "pro" || got["seats"] != 3.0 {
			t.Fatalf("the turn read variables %v", got)
		}
		// A second message with other variables to the open conversation changes nothing.
		if _, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "web", ChannelKind: "web", Now: t0, NewID: f.id,
			Contact: tandem.Contact{ExternalID: "v-1"}, Message: tandem.Message{Text: "again"}, Variables: map[string]any{"plan": "free"}}); err != nil {
			t.Fatal(err)
		}
		if got := turn(); got["plan"] != "pro" {
			t.Fatalf("after a commit and a second message: %v", got)
		}
		version := func() int64 {
			v, err := db.IntTest(f.ctx, `SELECT version FROM conversations WHERE id = ?`, res.ConversationID)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		v0 := version()
		if err := db.ConversationVariablesSet(f.ctx, res.ConversationID, map[string]any{"plan": "pro"}, t0); err != nil {
			t.Fatal(err)
		}
		if v := version(); v != v0 {
			t.Errorf("setting the same variables moved the version %d → %d", v0, v)
		}
		if err := db.ConversationVariablesSet(f.ctx, res.ConversationID, map[string]any{"plan": "enterprise", "seats": nil, "src": "ad"}, t0); err != nil {
			t.Fatal(err)
		}
		if v := version(); v == v0 {
			t.Error("a change of the variables did not move the version")
		}
		info, err := db.ConversationGet(f.ctx, res.ConversationID)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Conversation.Variables; len(got) != 2 || got["plan"] != "enterprise" || got["src"] != "ad" {
			t.Errorf("after the merge: %v", got)
		}
		if err := db.ConversationVariablesSet(f.ctx, "nope", map[string]any{"a": "b"}, t0); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("an unknown conversation: %v", err)
		}
	})
}

// TestWidgetStatusEvents: on a web conversation every change of status or agent is an event
// that takes the next seq of the counter its messages use, in the transaction that makes the
// change (a turn, an assignment, a requeue, a transfer): messages and status changes are
// numbered 1, 2, 3… without gaps. A turn that changes nothing records nothing; conversations
// of other channels record none (their customers never see a status).
func TestWidgetStatusEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		newSession(t, f, "s1", "hash1")
		ext := tandem.WidgetAnonymousPrefix + "s1"
		conv := webInbound(t, f, ext, "s1:a", "I need a person").ConversationID // 1
		// One turn: the bot answers and hands off; the status change comes after its message.
		f.turn(conv, func(b *store.Batch, ch *store.Changes) { // 2: message, 3: queued
			ch.Effects = []tandem.Effect{sendEffect("wait")}
			ch.Conversation.Status, ch.Conversation.Team = tandem.ConversationQueued, "support"
			ch.Handoff = tandem.HandoffQueued
		})
		f.turn(conv, nil)                                                                               // no change: nothing recorded
		if ok, err := db.ConversationAssign(f.ctx, conv, "ana@acme.com", true, t0); err != nil || !ok { // 4: assigned to ana
			t.Fatalf("assign: %v %v", ok, err)
		}
		webInbound(t, f, ext, "s1:b", "Hello Ana")                                           // 5
		if ok, err := db.ConversationTransfer(f.ctx, conv, "sales", t0); err != nil || !ok { // 6: queued again
			t.Fatalf("transfer: %v %v", ok, err)
		}
		if ok, err := db.ConversationAssign(f.ctx, conv, "bob@acme.com", false, t0); err != nil || !ok { // 7: assigned to bob
			t.Fatalf("assign: %v %v", ok, err)
		}
		f.turn(conv, func(b *store.Batch, ch *store.Changes) { // 8: closed
			ch.Conversation.Status, ch.Conversation.Assignee = tandem.ConversationClosed, ""
		})
		evs, err := db.WidgetEvents(f.ctx, conv, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, e := range evs {
			if e.Seq != int64(i+1) {
				t.Errorf("event %d has seq %d: %+v", i, e.Seq, e)
			}
			if e.Message != nil {
				got = append(got, "m:"+e.Message.Text)
			} else {
				got = append(got, "s:"+strings.TrimSpace(e.Status+" "+e.Assignee))
			}
		}
		want := []string{"m:I need a person", "m:text wait", "s:queued", "s:assigned ana@acme.com", "m:Hello Ana", "s:queued", "s:assigned bob@acme.com", "s:closed"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("events\n%q\nwant\n%q", got, want)
		}
		// From a cursor: what comes after it.
		if after, err := db.WidgetEvents(f.ctx, conv, 5, 2); err != nil || len(after) != 2 || after[0].Seq != 6 || after[0].Status != tandem.ConversationQueued || after[1].Seq != 7 {
			t.Errorf("after 5: %+v, %v", after, err)
		}
		// The inbox still shows the last message, not the last event.
		items, _, err := db.InboxList(f.ctx, store.InboxListParams{Statuses: []string{tandem.ConversationClosed}})
		if err != nil || len(items) != 1 || items[0].ID != conv || items[0].LastMessage == nil || items[0].LastMessage.Text != "Hello Ana" {
			t.Errorf("inbox: %+v, %v; want the conversation with its last message, Hello Ana", items, err)
		}

		// Another channel's conversation: its messages only.
		api := f.inbound("c-1", "hi", "")
		f.handOff(api.ConversationID, "support")
		if ok, err := db.ConversationAssign(f.ctx, api.ConversationID, "ana@acme.com", true, t0); err != nil || !ok {
			t.Fatalf("assign: %v %v", ok, err)
		}
		second := f.inbound("c-1", "again", "")
		if evs, err := db.WidgetEvents(f.ctx, api.ConversationID, 0, 100); err != nil || len(evs) != 2 || evs[1].Message == nil || second.Seq != 2 {
			t.Errorf("api conversation events %+v (%v), second message seq %d", evs, err, second.Seq)
		}
	})
}
