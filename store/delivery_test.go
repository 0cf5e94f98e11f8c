package store_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// Delivery reports move a message's status forward only; the first arrival and a failure
// queue one delivery event each; reports on unknown messages, on the customer's, or from
// another channel change nothing.
func TestDelivery(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, a, _ := outboxFixture(t, db)
		report := func(msg, status string) bool {
			t.Helper()
			changed, err := db.Delivery(f.ctx, store.DeliveryParams{ChannelID: "api", ConversationID: a, MessageID: msg, Status: status, Code: "131026", Error: "undeliverable", Now: t0})
			if err != nil {
				t.Fatalf("Delivery(%s, %s): %v", msg, status, err)
			}
			return changed
		}
		steps := []struct {
			msg, status string
			changed     bool
			want        string
		}{
			{"a1", "sent", true, "sent"},
			{"a1", "read", true, "read"},
			{"a1", "delivered", false, "read"}, // late: never backwards
			{"a1", "read", false, "read"},      // a repeat
			{"a1", "failed", false, "read"},    // it arrived
			{"a2", "failed", true, "failed"},
			{"a2", "delivered", false, "failed"}, // failed is final
		}
		for _, s := range steps {
			if got := report(s.msg, s.status); got != s.changed {
				t.Errorf("%s %s: changed = %v, want %v", s.msg, s.status, got, s.changed)
			}
			if got := messageStatus(f, a, s.msg); got != s.want {
				t.Errorf("after %s %s: status %q, want %q", s.msg, s.status, got, s.want)
			}
		}
		// The failure's code and text are the message's; a message that arrived has none.
		if got, want := messageError(f, a, "a2"), (&tandem.MessageError{Code: "131026", Message: "undeliverable"}); got == nil || *got != *want {
			t.Errorf("failed message's error = %+v, want %+v", got, want)
		}
		if got := messageError(f, a, "a1"); got != nil {
			t.Errorf("a message read has error %+v", got)
		}
		// The inbox's event stream finds the failure by when it came.
		failed, err := db.MessagesFailedSince(f.ctx, t0, 10)
		if err != nil || len(failed) != 1 || failed[0].ID != "a2" || failed[0].ConversationID != a || !failed[0].FailedAt.Equal(t0) ||
			failed[0].Status != "failed" || failed[0].Error == nil || failed[0].Error.Code != "131026" || failed[0].Text == "" {
			t.Errorf("MessagesFailedSince(t0) = %+v, %v; want a2 failed with 131026", failed, err)
		}
		if later, err := db.MessagesFailedSince(f.ctx, t0.Add(time.Microsecond), 10); err != nil || len(later) != 0 {
			t.Errorf("MessagesFailedSince(after the failure) = %+v, %v; want none", later, err)
		}
		var got []string
		for _, ev := range f.queued(a) {
			if ev.Kind == tandem.EventDelivery {
				got = append(got, ev.Delivery.MessageID+" "+ev.Delivery.Status+" "+ev.Delivery.Error)
			}
		}
		if want := []string{"a1 read 131026: undeliverable", "a2 failed 131026: undeliverable"}; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("delivery events %q, want %q", got, want)
		}
		in := f.inbound("ca", "again", "")
		for _, p := range []store.DeliveryParams{
			{ChannelID: "api", ConversationID: a, MessageID: "nope", Status: "read"},
			{ChannelID: "api", ConversationID: a, MessageID: in.MessageID, Status: "read"},
			{ChannelID: "wa", ConversationID: a, MessageID: "a3", Status: "read"},
		} {
			_, err := db.Delivery(f.ctx, p)
			wantCode(t, "Delivery "+p.MessageID+" on "+p.ChannelID, err, tandem.ENOTFOUND)
		}
		_, err = db.Delivery(f.ctx, store.DeliveryParams{ChannelID: "api", ConversationID: a, MessageID: "a3", Status: "lost"})
		wantCode(t, "status lost", err, tandem.EINVALID)
	})
}

// A customer who blocked the business is stopped until they write again; LastInbound is when
// they last wrote, on any of their conversations.
func TestContactStopAndLastInbound(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		res := f.inbound("u-1", "hi", "")
		if err := db.ContactStop(f.ctx, "api", "u-1", true, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := db.ContactStop(f.ctx, "api", "nobody", true, t0); err != nil {
			t.Errorf("stopping an unknown contact: %v", err)
		}
		c, err := db.ContactGet(f.ctx, res.ContactID)
		if err != nil || !c.StoppedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("contact %+v, %v: want stopped at t0+1h", c, err)
		}
		last, err := db.LastInbound(f.ctx, res.ContactID)
		if err != nil || !last.Equal(t0) {
			t.Errorf("LastInbound = %v, %v; want %v", last, err, t0)
		}
		// A reaction is not writing again; a message is.
		if _, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: "u-1"},
			Message: tandem.Message{Type: tandem.MessageReaction, Reaction: "👍", RefersTo: "wamid.1"}, Now: t0.Add(2 * time.Hour), NewID: f.id}); err != nil {
			t.Fatal(err)
		}
		if c, _ := db.ContactGet(f.ctx, res.ContactID); c.StoppedAt.IsZero() {
			t.Error("a reaction unstopped the contact")
		}
		f.inbound("u-1", "back", "")
		if c, _ := db.ContactGet(f.ctx, res.ContactID); !c.StoppedAt.IsZero() {
			t.Errorf("the contact wrote again but is still stopped at %v", c.StoppedAt)
		}
		if last, _ := db.LastInbound(f.ctx, "unknown"); !last.IsZero() {
			t.Errorf("LastInbound of a contact who never wrote = %v", last)
		}
	})
}

// A reaction or an edit is stored and shown, but queues no turn.
func TestQuietMessages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		res, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: "u-1"},
			Message: tandem.Message{Type: tandem.MessageEdit, Text: "new text", RefersTo: "m-1", ChannelMessageID: "e-1"}, Now: t0, NewID: f.id})
		if err != nil {
			t.Fatal(err)
		}
		if evs := f.queued(res.ConversationID); len(evs) != 0 {
			t.Errorf("an edit queued %d events", len(evs))
		}
		ms, err := db.Messages(f.ctx, store.MessagesParams{ConversationID: res.ConversationID, Limit: 10})
		if err != nil || len(ms) != 1 || ms[0].Type != tandem.MessageEdit || ms[0].RefersTo != "m-1" || ms[0].Text != "new text" {
			t.Errorf("messages %+v, %v: want the edit", ms, err)
		}
	})
}

// Media are stored whole up to the cap, with their size and SHA-256, and read back; past the
// cap nothing is stored.
func TestMedia(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := testCtx(t)
		data := bytes.Repeat([]byte{0, 1, 2, 255}, 1000)
		f, err := db.MediaPut(ctx, tandem.MediaFile{ChannelID: "wa", Mime: "image/jpeg", Name: "a.jpg", CreatedAt: t0}, bytes.NewReader(data), 4000)
		if err != nil {
			t.Fatal(err)
		}
		if f.ID == "" || f.Size != 4000 || len(f.SHA256) != 64 {
			t.Errorf("stored %+v", f)
		}
		g, rc, err := db.MediaGet(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) || g != f {
			t.Errorf("read back %+v (%d bytes), want %+v", g, len(got), f)
		}
		_, err = db.MediaPut(ctx, tandem.MediaFile{ID: "big"}, bytes.NewReader(data), 3999)
		wantCode(t, "over the cap", err, tandem.ETOOLARGE)
		_, _, err = db.MediaGet(ctx, "big")
		wantCode(t, "the file over the cap", err, tandem.ENOTFOUND)
	})
}

// TestMediaOwner: a file keeps the session and contact that uploaded it; the first message
// that carries it makes its conversation the file's; MediaStat reads all that without the
// content.
func TestMediaOwner(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		up, err := db.MediaPut(f.ctx, tandem.MediaFile{ChannelID: "web", SessionID: "ws_1", ContactID: "k-1", Mime: "text/plain", Name: "a.txt", CreatedAt: t0},
			strings.NewReader("hello"), 100)
		if err != nil {
			t.Fatal(err)
		}
		send := func(ext string) store.InboundResult {
			t.Helper()
			res, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "web", ChannelKind: "web", Now: t0, NewID: f.id, Contact: tandem.Contact{ExternalID: ext},
				Message: tandem.Message{Type: tandem.MessageFile, Media: &tandem.Media{ID: up.ID, URL: "/api/v1/media/" + up.ID}}})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		first := send("v-1")
		send("v-2") // a second message with the file does not take it over
		got, err := db.MediaStat(f.ctx, up.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.SessionID != "ws_1" || got.ContactID != "k-1" || got.ConversationID != first.ConversationID || got.Size != 5 || got.Name != "a.txt" {
			t.Errorf("MediaStat %+v", got)
		}
		_, err = db.MediaStat(f.ctx, "nope")
		wantCode(t, "an unknown file", err, tandem.ENOTFOUND)
	})
}

// An outbound message is found by the platform's id of it, on its channel only.
func TestMessageByPlatformID(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, a, _ := outboxFixture(t, db)
		items := f.claim(t0, 10)
		it := f.item(items, "a1")
		res := &tandem.EffectResult{EffectID: "a1", Kind: tandem.EffectSend, Send: &tandem.SendResult{MessageID: "a1", ChannelMessageID: "wamid.a1"}}
		if _, _, err := db.OutboxComplete(f.ctx, it, res, t0, store.Claim{}, nil); err != nil {
			t.Fatal(err)
		}
		conv, msg, err := db.MessageByPlatformID(f.ctx, "api", "wamid.a1")
		if err != nil || conv != a || msg != "a1" {
			t.Errorf("MessageByPlatformID = %s, %s, %v; want %s, a1", conv, msg, err, a)
		}
		_, _, err = db.MessageByPlatformID(f.ctx, "wa", "wamid.a1")
		wantCode(t, "another channel", err, tandem.ENOTFOUND)
		_, _, err = db.MessageByPlatformID(f.ctx, "api", "wamid.nope")
		wantCode(t, "an unknown id", err, tandem.ENOTFOUND)
	})
}
