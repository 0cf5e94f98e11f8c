package store_test

import (
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// A desk remembers a handoff's link to its own conversation: found by session and by ref (the
// latest one when a ref comes back), replaced by a later put, listed while open, least
// recently updated first; and what it knows of a contact.
func TestDeskLinks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		if _, err := db.DeskLinkGet(f.ctx, "cw", "hf_c1_a"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Fatalf("DeskLinkGet of nothing = %v, want not found", err)
		}
		a := tandem.DeskLink{Desk: "cw", Session: "hf_c1_a", ConversationID: "c1", Ref: "118", Data: tandem.JSON(`{"last":1}`), Open: true, CreatedAt: t0}
		b := tandem.DeskLink{Desk: "cw", Session: "hf_c2_b", ConversationID: "c2", Ref: "119", Open: true, CreatedAt: t0.Add(time.Second)}
		other := tandem.DeskLink{Desk: "ic", Session: "hf_c3_c", ConversationID: "c3", Ref: "118", Open: true, CreatedAt: t0}
		for _, l := range []tandem.DeskLink{a, b, other} {
			if err := db.DeskLinkPut(f.ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.DeskLinkGet(f.ctx, "cw", "hf_c1_a")
		if err != nil || got.Ref != "118" || string(got.Data) != `{"last":1}` || !got.Open || got.ConversationID != "c1" || !got.CreatedAt.Equal(t0) {
			t.Errorf("DeskLinkGet = %+v, %v", got, err)
		}
		if got, err := db.DeskLinkByRef(f.ctx, "ic", "118"); err != nil || got.Session != "hf_c3_c" {
			t.Errorf("DeskLinkByRef(ic, 118) = %+v, %v", got, err)
		}
		if _, err := db.DeskLinkByRef(f.ctx, "cw", "999"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("DeskLinkByRef of nothing = %v", err)
		}
		// A later handoff of the same desk conversation wins the ref.
		later := tandem.DeskLink{Desk: "cw", Session: "hf_c1_z", ConversationID: "c1", Ref: "118", Open: true, CreatedAt: t0.Add(time.Hour)}
		if err := db.DeskLinkPut(f.ctx, later); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.DeskLinkByRef(f.ctx, "cw", "118"); got == nil || got.Session != "hf_c1_z" {
			t.Errorf("DeskLinkByRef after a later handoff = %+v", got)
		}
		a.Open, a.Data, a.UpdatedAt = false, tandem.JSON(`{"last":7}`), t0.Add(2*time.Hour)
		if err := db.DeskLinkPut(f.ctx, a); err != nil {
			t.Fatal(err)
		}
		open, err := db.DeskLinksOpen(f.ctx, "cw", 10)
		if err != nil {
			t.Fatal(err)
		}
		var sessions []string
		for _, l := range open {
			sessions = append(sessions, l.Session)
		}
		if want := []string{"hf_c2_b", "hf_c1_z"}; len(sessions) != 2 || sessions[0] != want[0] || sessions[1] != want[1] {
			t.Errorf("DeskLinksOpen = %v, want %v", sessions, want)
		}
		if err := db.DeskLinkPut(f.ctx, tandem.DeskLink{Desk: "cw"}); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("DeskLinkPut without a session = %v", err)
		}

		if _, err := db.DeskContactGet(f.ctx, "cw", "ct1"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("DeskContactGet of nothing = %v", err)
		}
		for _, data := range []string{`{"id":42}`, `{"id":43,"source_id":"s"}`} {
			if err := db.DeskContactPut(f.ctx, "cw", "ct1", tandem.JSON(data), t0); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := db.DeskContactGet(f.ctx, "cw", "ct1"); err != nil || string(got) != `{"id":43,"source_id":"s"}` {
			t.Errorf("DeskContactGet = %s, %v", got, err)
		}
		if _, err := db.DeskContactGet(f.ctx, "ic", "ct1"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("another desk's contact = %v", err)
		}
	})
}
