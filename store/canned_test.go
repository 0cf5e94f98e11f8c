package store_test

import (
	"context"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// Canned responses: created with a unique shortcut, listed by shortcut, updated, deleted.
func TestCannedResponses(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		must := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		must("create", db.CannedCreate(ctx, store.Canned{ID: "c2", Shortcut: "thanks", Title: "Thanks", Text: "Thank you!", CreatedBy: "ana@acme.com"}, t0))
		must("create", db.CannedCreate(ctx, store.Canned{ID: "c1", Shortcut: "hours", Text: "We are open 9 to 6."}, t0))
		wantCode(t, "the same shortcut twice", db.CannedCreate(ctx, store.Canned{ID: "c3", Shortcut: "hours", Text: "x"}, t0), tandem.ECONFLICT)
		list, err := db.CannedList(ctx)
		must("list", err)
		if len(list) != 2 || list[0].Shortcut != "hours" || list[1].Text != "Thank you!" || list[1].CreatedBy != "ana@acme.com" {
			t.Fatalf("list = %+v", list)
		}
		wantCode(t, "update to a used shortcut", db.CannedUpdate(ctx, store.Canned{ID: "c2", Shortcut: "hours", Text: "x"}, t0), tandem.ECONFLICT)
		must("update", db.CannedUpdate(ctx, store.Canned{ID: "c2", Shortcut: "ty", Title: "Thanks", Text: "Thanks a lot!"}, t0))
		c, err := db.CannedGet(ctx, "c2")
		must("get", err)
		if c.Shortcut != "ty" || c.Text != "Thanks a lot!" {
			t.Fatalf("after update: %+v", c)
		}
		wantCode(t, "update unknown", db.CannedUpdate(ctx, store.Canned{ID: "nope", Shortcut: "x", Text: "x"}, t0), tandem.ENOTFOUND)
		must("delete", db.CannedDelete(ctx, "c2"))
		wantCode(t, "delete twice", db.CannedDelete(ctx, "c2"), tandem.ENOTFOUND)
		wantCode(t, "get deleted", func() error { _, err := db.CannedGet(ctx, "c2"); return err }(), tandem.ENOTFOUND)
	})
}
