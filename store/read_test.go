package store_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

func TestMessages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		rich := tandem.Message{Type: tandem.MessageImage, Text: "look", ChannelMessageID: "p-img",
			Media:    &tandem.Media{Type: "image", URL: "https://example.com/a.png", Mime: "image/png", Caption: "a"},
			Location: &tandem.Location{Lat: 48.85, Lng: 2.35, Name: "Paris"}, Option: "opt1", CreatedAt: t0.Add(-time.Second)}
		res, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: "c1"}, Message: rich, Now: t0, NewID: f.id})
		if err != nil {
			t.Fatal(err)
		}
		conv := res.ConversationID
		var ids []string
		for _, text := range []string{"m2", "m3", "m4", "m5"} {
			ids = append(ids, f.inbound("c1", text, "").MessageID)
		}

		all := f.messages(conv)
		if len(all) != 5 {
			t.Fatalf("%d messages, want 5", len(all))
		}
		rich.ID, rich.ConversationID, rich.Direction, rich.Author = res.MessageID, conv, tandem.DirectionIn, tandem.AuthorContact
		if !reflect.DeepEqual(all[0], rich) {
			t.Errorf("stored message = %+v, want %+v", all[0], rich)
		}
		for _, tc := range []struct {
			name  string
			after string
			limit int
			want  []string
		}{
			{"all", "", 0, []string{"look", "m2", "m3", "m4", "m5"}},
			{"limit", "", 2, []string{"look", "m2"}},
			{"after", ids[0], 2, []string{"m3", "m4"}},
			{"after the last", ids[3], 10, nil},
		} {
			ms, err := db.Messages(f.ctx, store.MessagesParams{ConversationID: conv, After: tc.after, Limit: tc.limit})
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.Text)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
		_, err = db.Messages(f.ctx, store.MessagesParams{ConversationID: conv, After: "nope"})
		wantCode(t, "Messages after an unknown message", err, tandem.EINVALID)
	})
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		_, err := db.ConversationGet(f.ctx, "nope")
		wantCode(t, "ConversationGet", err, tandem.ENOTFOUND)
		_, err = db.ContactGet(f.ctx, "nope")
		wantCode(t, "ContactGet", err, tandem.ENOTFOUND)
		_, err = db.RunGet(f.ctx, "nope")
		wantCode(t, "RunGet", err, tandem.ENOTFOUND)
		_, err = db.FlowGet(f.ctx, "nope")
		wantCode(t, "FlowGet", err, tandem.ENOTFOUND)
		_, err = db.FlowVersionGet(f.ctx, "nope", 1)
		wantCode(t, "FlowVersionGet", err, tandem.ENOTFOUND)
		wantCode(t, "FlowDelete", db.FlowDelete(f.ctx, "nope"), tandem.ENOTFOUND)
		for name, list := range map[string]func() (int, error){
			"Runs":          func() (int, error) { r, err := db.Runs(f.ctx, "nope"); return len(r), err },
			"RunTrace":      func() (int, error) { r, err := db.RunTrace(f.ctx, "nope", "nope"); return len(r), err },
			"Notes":         func() (int, error) { r, err := db.Notes(f.ctx, "nope"); return len(r), err },
			"Notifications": func() (int, error) { r, err := db.Notifications(f.ctx, "nope"); return len(r), err },
			"Messages": func() (int, error) {
				r, err := db.Messages(f.ctx, store.MessagesParams{ConversationID: "nope"})
				return len(r), err
			},
		} {
			if n, err := list(); n != 0 || err != nil {
				t.Errorf("%s of an unknown conversation = %d, %v; want empty", name, n, err)
			}
		}
	})
}

func TestRunsNotesNotifications(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "hi", "").ConversationID
		other := f.inbound("c2", "hi", "").ConversationID
		ended := t0.Add(time.Minute)
		r1 := tandem.Run{ID: "r1", ConversationID: conv, FlowID: "a", FlowVersion: 1, Status: tandem.RunCompleted, StartedAt: t0, UpdatedAt: ended, EndedAt: &ended}
		r2 := tandem.Run{ID: "r2", ConversationID: conv, FlowID: "b", FlowVersion: 2, Status: tandem.RunWaiting, Step: "ask", StartedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(time.Minute)}
		f.process(conv, func(_ *store.Batch, ch *store.Changes) {
			ch.Runs = []tandem.Run{r2, r1}
			ch.Trace = []tandem.StepTrace{
				{Seq: 2, RunID: "r2", FlowID: "b", Step: "ask", Type: "question", StartedAt: t0.Add(time.Minute)},
				{Seq: 1, RunID: "r1", FlowID: "a", Step: "hi", Type: "send", StartedAt: t0},
				{Seq: 3, RunID: "r2", FlowID: "b", Step: "ask", Type: "question:answer", StartedAt: t0.Add(time.Minute)},
			}
			ch.Notes = []tandem.Note{
				{ID: "n2", ConversationID: conv, Author: "u1", Text: "second", CreatedAt: t0.Add(time.Minute)},
				{ID: "n1", ConversationID: conv, Author: "bot", Text: "first", CreatedAt: t0},
			}
			ch.Effects = []tandem.Effect{
				{ID: "x2", Kind: tandem.EffectNotify, Notify: &tandem.Notification{Text: "to u1", Agent: "u1"}},
				{ID: "x1", Kind: tandem.EffectNotify, Notify: &tandem.Notification{Text: "to sales", Team: "sales"}},
			}
		})
		f.process(other, func(_ *store.Batch, ch *store.Changes) {
			ch.Runs = []tandem.Run{{ID: "r3", ConversationID: other, FlowID: "a", FlowVersion: 1, Status: tandem.RunRunning, StartedAt: t0, UpdatedAt: t0}}
			ch.Notes = []tandem.Note{{ID: "n1", ConversationID: other, Author: "bot", Text: "other", CreatedAt: t0}}
		})

		runs, err := db.Runs(f.ctx, conv)
		if err != nil || !reflect.DeepEqual(runs, []tandem.Run{r1, r2}) {
			t.Errorf("Runs = %+v, %v; want r1, r2", runs, err)
		}
		got, err := db.RunGet(f.ctx, "r2")
		if err != nil || !reflect.DeepEqual(*got, r2) || got.EndedAt != nil {
			t.Errorf("RunGet(r2) = %+v, %v", got, err)
		}
		tr, err := db.RunTrace(f.ctx, conv, "r2")
		if err != nil || len(tr) != 2 || tr[0].Seq != 2 || tr[1].Seq != 3 || tr[1].Type != "question:answer" {
			t.Errorf("RunTrace(r2) = %+v, %v", tr, err)
		}
		notes, err := db.Notes(f.ctx, conv)
		if err != nil || len(notes) != 2 || notes[0].Text != "first" || notes[1].Text != "second" {
			t.Errorf("Notes = %+v, %v", notes, err)
		}
		ns, err := db.Notifications(f.ctx, conv)
		if want := []tandem.Notification{{Text: "to sales", Team: "sales"}, {Text: "to u1", Agent: "u1"}}; err != nil || !reflect.DeepEqual(ns, want) {
			t.Errorf("Notifications = %+v, %v; want %+v", ns, err, want)
		}
	})
}

// RunList pages through one conversation's runs, the most recently started first; runs that
// started at the same instant are ordered by id, and no run is skipped or repeated.
func TestRunList(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "hi", "").ConversationID
		other := f.inbound("c2", "hi", "").ConversationID
		var runs []tandem.Run
		for i, id := range []string{"r1", "r2", "r3", "r4", "r5"} {
			at := t0.Add(time.Duration(i/2) * time.Minute) // r1,r2 and r3,r4 start together
			runs = append(runs, tandem.Run{ID: id, ConversationID: conv, FlowID: "a", FlowVersion: 1, Status: tandem.RunCompleted, StartedAt: at, UpdatedAt: at})
		}
		f.process(conv, func(_ *store.Batch, ch *store.Changes) { ch.Runs = runs })
		f.process(other, func(_ *store.Batch, ch *store.Changes) {
			ch.Runs = []tandem.Run{{ID: "r9", ConversationID: other, FlowID: "a", FlowVersion: 1, Status: tandem.RunRunning, StartedAt: t0, UpdatedAt: t0}}
		})

		var got []string
		cursor, pages := "", 0
		for {
			page, next, err := db.RunList(f.ctx, store.RunListParams{ConversationID: conv, Before: cursor, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				got = append(got, r.ID)
			}
			pages++
			if next == "" || pages > 5 {
				break
			}
			cursor = next
		}
		if want := []string{"r5", "r4", "r3", "r2", "r1"}; !reflect.DeepEqual(got, want) {
			t.Errorf("pages gave %v, want %v", got, want)
		}
		if pages != 3 {
			t.Errorf("%d pages of 2 for 5 runs, want 3", pages)
		}
		if _, _, err := db.RunList(f.ctx, store.RunListParams{ConversationID: conv, Before: "garbage"}); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("a bad cursor: %v, want invalid", err)
		}
		if page, next, err := db.RunList(f.ctx, store.RunListParams{ConversationID: "nope"}); err != nil || len(page) != 0 || next != "" {
			t.Errorf("an unknown conversation: %v %q %v, want an empty page", page, next, err)
		}
	})
}
