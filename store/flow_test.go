package store_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

func TestFlowPublish(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		publish := func(id, source, hash string, at time.Time) (int, bool) {
			t.Helper()
			v, created, err := db.FlowPublish(f.ctx, id, "Flow "+id, source, "yaml", hash, at)
			if err != nil {
				t.Fatalf("FlowPublish(%s, %s): %v", id, hash, err)
			}
			return v, created
		}
		for i, step := range []struct {
			source, hash string
			version      int
			created      bool
		}{
			{"src A", "hA", 1, true},
			{"src A", "hA", 1, false}, // same content: the latest version, nothing new
			{"src B", "hB", 2, true},
			{"src A", "hA", 3, true}, // back to A: a new version, since A is not the latest
		} {
			v, created := publish("f1", step.source, step.hash, t0.Add(time.Duration(i)*time.Minute))
			if v != step.version || created != step.created {
				t.Errorf("publish #%d = %d, %v; want %d, %v", i+1, v, created, step.version, step.created)
			}
		}
		publish("f0", "src Z", "hZ", t0)

		// Published versions are immutable.
		v1, err := db.FlowVersionGet(f.ctx, "f1", 1)
		if err != nil {
			t.Fatal(err)
		}
		if want := (store.FlowVersion{FlowID: "f1", Version: 1, Source: "src A", Hash: "hA", CreatedAt: t0}); *v1 != want {
			t.Errorf("version 1 = %+v, want %+v", *v1, want)
		}
		vs, err := db.FlowVersions(f.ctx, "f1")
		if err != nil {
			t.Fatal(err)
		}
		var nums []int
		for _, v := range vs {
			nums = append(nums, v.Version)
		}
		if want := []int{3, 2, 1}; !reflect.DeepEqual(nums, want) {
			t.Errorf("FlowVersions = %v, want %v", nums, want)
		}
		latest, err := db.FlowLatestVersions(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(latest) != 2 || latest[0].FlowID != "f0" || latest[0].Version != 1 || latest[1].FlowID != "f1" || latest[1].Version != 3 || latest[1].Source != "src A" {
			t.Errorf("FlowLatestVersions = %+v", latest)
		}
		d, err := db.FlowGet(f.ctx, "f1")
		if err != nil || d.LatestVersion != 3 || d.Name != "Flow f1" || d.Source != "src A" {
			t.Errorf("FlowGet = %+v, %v", d, err)
		}
		_, err = db.FlowVersionGet(f.ctx, "f1", 4)
		wantCode(t, "FlowVersionGet of a missing version", err, tandem.ENOTFOUND)

		// Deleting a flow stops new runs (it is no longer listed) but keeps its versions for the
		// runs pinned to them; publishing it again continues the numbering.
		if err := db.FlowDelete(f.ctx, "f1"); err != nil {
			t.Fatal(err)
		}
		latest, err = db.FlowLatestVersions(f.ctx)
		if err != nil || len(latest) != 1 || latest[0].FlowID != "f0" {
			t.Errorf("FlowLatestVersions after delete = %+v, %v", latest, err)
		}
		if v, err := db.FlowVersionGet(f.ctx, "f1", 2); err != nil || v.Source != "src B" {
			t.Errorf("a pinned version after delete = %+v, %v", v, err)
		}
		if v, created := publish("f1", "src C", "hC", t0.Add(time.Hour)); v != 4 || !created {
			t.Errorf("publish after delete = %d, %v; want 4, true", v, created)
		}
		if v, err := db.FlowVersionGet(f.ctx, "f1", 1); err != nil || v.Source != "src A" {
			t.Errorf("version 1 after re-publishing = %+v, %v", v, err)
		}
	})
}

func TestFlowDraft(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		for i, step := range []struct {
			draft   store.FlowDraft
			created bool
		}{
			{store.FlowDraft{ID: "b", Name: "B", Source: "b: 1", Format: "yaml"}, true},
			{store.FlowDraft{ID: "a", Name: "A", Source: `{"a":1}`, Format: "json"}, true},
			{store.FlowDraft{ID: "b", Name: "B2", Source: "b: 2", Format: "yaml"}, false},
		} {
			created, err := db.FlowPut(f.ctx, step.draft, t0.Add(time.Duration(i)*time.Minute))
			if err != nil || created != step.created {
				t.Errorf("FlowPut #%d = %v, %v; want %v", i+1, created, err, step.created)
			}
		}
		d, err := db.FlowGet(f.ctx, "b")
		if err != nil {
			t.Fatal(err)
		}
		want := store.FlowDraft{ID: "b", Name: "B2", Source: "b: 2", Format: "yaml", CreatedAt: t0, UpdatedAt: t0.Add(2 * time.Minute)}
		if *d != want {
			t.Errorf("FlowGet = %+v, want %+v", *d, want)
		}
		list, err := db.FlowList(f.ctx)
		if err != nil || len(list) != 2 || list[0].ID != "a" || list[1].ID != "b" || list[0].Format != "json" || list[1].Name != "B2" {
			t.Errorf("FlowList = %+v, %v", list, err)
		}
		// Publishing keeps the draft's row and counts versions on it.
		if v, _, err := db.FlowPublish(f.ctx, "b", "B2", "b: 2", "yaml", "h2", t0.Add(time.Hour)); err != nil || v != 1 {
			t.Errorf("FlowPublish of a draft = %d, %v", v, err)
		}
		if d, err := db.FlowGet(f.ctx, "b"); err != nil || d.LatestVersion != 1 || d.Source != "b: 2" || !d.CreatedAt.Equal(t0) {
			t.Errorf("FlowGet after publish = %+v, %v", d, err)
		}

		if err := db.FlowDelete(f.ctx, "a"); err != nil {
			t.Fatal(err)
		}
		_, err = db.FlowGet(f.ctx, "a")
		wantCode(t, "FlowGet after delete", err, tandem.ENOTFOUND)
		wantCode(t, "FlowDelete twice", db.FlowDelete(f.ctx, "a"), tandem.ENOTFOUND)
		if list, err := db.FlowList(f.ctx); err != nil || len(list) != 1 {
			t.Errorf("FlowList after delete = %+v, %v", list, err)
		}
	})
}
