package store_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

func TestKnowledge(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		_, err := db.KnowledgeGet(f.ctx, "faq")
		wantCode(t, "KnowledgeGet before the first ingest", err, tandem.ENOTFOUND)
		chunk := func(title, text string) store.Chunk {
			return store.Chunk{Source: "faq.md", Title: title, Text: text, Norm: text}
		}
		first := []store.Chunk{
			chunk("Shipping", "shipping takes three days to europe"),
			chunk("Refunds", "refunds are paid within ten days"),
			chunk("Hours", "we answer from nine to five"),
		}
		if err := db.KnowledgeReplace(f.ctx, "faq", "h1", first, t0); err != nil {
			t.Fatal(err)
		}
		if err := db.KnowledgeReplace(f.ctx, "other", "h9", []store.Chunk{chunk("Shipping", "shipping is free")}, t0); err != nil {
			t.Fatal(err)
		}
		st, err := db.KnowledgeGet(f.ctx, "faq")
		if want := (store.KnowledgeState{ID: "faq", Generation: 1, Hash: "h1", Chunks: 3, UpdatedAt: t0}); err != nil || *st != want {
			t.Errorf("KnowledgeGet = %+v, %v; want %+v", st, err, want)
		}
		search := func(terms ...string) []string {
			t.Helper()
			hits, err := db.KnowledgeSearch(f.ctx, "faq", terms, 10)
			if err != nil {
				t.Fatalf("KnowledgeSearch(%v): %v", terms, err)
			}
			titles := []string{}
			for _, h := range hits {
				titles = append(titles, h.Title)
			}
			return titles
		}
		if got := search("refunds"); !reflect.DeepEqual(got, []string{"Refunds"}) {
			t.Errorf("search refunds = %v", got)
		}
		if got := search("ship"); !reflect.DeepEqual(got, []string{"Shipping"}) { // a prefix matches
			t.Errorf("search ship = %v, want only this base's Shipping", got)
		}
		if got := search("days", "europe"); len(got) != 2 || got[0] != "Shipping" {
			t.Errorf("search days europe = %v, want Shipping (both terms) first, then Refunds", got)
		}
		if got := search("nothing"); len(got) != 0 {
			t.Errorf("search nothing = %v", got)
		}
		if hits, err := db.KnowledgeSearch(f.ctx, "faq", nil, 10); err != nil || len(hits) != 0 {
			t.Errorf("search without terms = %v, %v", hits, err)
		}

		// A new generation replaces the old one at once.
		if err := db.KnowledgeReplace(f.ctx, "faq", "h2", []store.Chunk{chunk("Returns", "returns are free")}, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := search("refunds"); len(got) != 0 {
			t.Errorf("the old generation is still found: %v", got)
		}
		if got := search("returns"); !reflect.DeepEqual(got, []string{"Returns"}) {
			t.Errorf("search returns = %v", got)
		}
		all, err := db.KnowledgeChunks(f.ctx, "faq")
		if err != nil || len(all) != 1 || all[0].Title != "Returns" || all[0].Seq != 0 {
			t.Errorf("KnowledgeChunks = %+v, %v", all, err)
		}
		if st, err := db.KnowledgeGet(f.ctx, "faq"); err != nil || st.Generation != 2 || st.Chunks != 1 {
			t.Errorf("KnowledgeGet after replace = %+v, %v", st, err)
		}
	})
}

func TestMessagesBefore(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "m1", "").ConversationID
		var ids []string
		for _, text := range []string{"m2", "m3", "m4"} {
			ids = append(ids, f.inbound("c1", text, "").MessageID)
		}
		texts := func(ms []tandem.Message) []string {
			out := []string{}
			for _, m := range ms {
				out = append(out, m.Text)
			}
			return out
		}
		ms, err := db.MessagesBefore(f.ctx, conv, "", 2)
		if err != nil || !reflect.DeepEqual(texts(ms), []string{"m3", "m4"}) {
			t.Errorf("MessagesBefore latest 2 = %v, %v", texts(ms), err)
		}
		ms, err = db.MessagesBefore(f.ctx, conv, ids[2], 10)
		if err != nil || !reflect.DeepEqual(texts(ms), []string{"m1", "m2", "m3"}) {
			t.Errorf("MessagesBefore m4 = %v, %v", texts(ms), err)
		}
		m, err := db.MessageGet(f.ctx, conv, ids[0])
		if err != nil || m.Text != "m2" || m.Direction != tandem.DirectionIn || !m.CreatedAt.Equal(t0) {
			t.Errorf("MessageGet = %+v, %v", m, err)
		}
		_, err = db.MessageGet(f.ctx, conv, "nope")
		wantCode(t, "MessageGet of an unknown message", err, tandem.ENOTFOUND)
	})
}

// TestKnowledgeReplaceConcurrent: replicas starting together ingest the same knowledge base.
func TestKnowledgeReplaceConcurrent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		const n = 4
		errs := make(chan error, n)
		for i := range n {
			go func() {
				errs <- db.KnowledgeReplace(f.ctx, "faq", "h", []store.Chunk{{Source: "s", Title: "T", Text: "text", Norm: "text"}, {Source: "s", Title: "U", Text: "more", Norm: "more"}}, t0.Add(time.Duration(i)))
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Errorf("concurrent KnowledgeReplace: %v", err)
			}
		}
		if st, err := db.KnowledgeGet(f.ctx, "faq"); err != nil || st.Generation != n || st.Chunks != 2 {
			t.Errorf("KnowledgeGet = %+v, %v; want generation %d", st, err, n)
		}
		if all, err := db.KnowledgeChunks(f.ctx, "faq"); err != nil || len(all) != 2 {
			t.Errorf("KnowledgeChunks = %d chunks, %v; want 2", len(all), err)
		}
	})
}
