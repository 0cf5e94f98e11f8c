package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// Teams made in the admin screens: created with members, changed, deleted with their
// memberships; an id in use is a conflict.
func TestTeams(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.TeamCreate(ctx, store.Team{ID: "vip", Name: "VIP", Strategy: "least_busy", ReassignAfter: 5 * time.Minute}, []string{"Ana@acme.com"}, t0); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "the same id twice", db.TeamCreate(ctx, store.Team{ID: "vip", Strategy: "round_robin"}, nil, t0), tandem.ECONFLICT)
		list, err := db.TeamList(ctx)
		if err != nil || len(list) != 1 || list[0].Name != "VIP" || list[0].ReassignAfter != 5*time.Minute || list[0].Strategy != "least_busy" {
			t.Fatalf("list = %+v, %v", list, err)
		}
		members, _ := db.TeamMembers(ctx)
		if !slices.Equal(members["vip"], []string{"ana@acme.com"}) {
			t.Fatalf("members = %v", members)
		}
		if err := db.TeamUpdate(ctx, store.Team{ID: "vip", Name: "Gold", Strategy: "round_robin"}); err != nil {
			t.Fatal(err)
		}
		if err := db.TeamMembersSet(ctx, "vip", []string{"bob@acme.com", "cid@acme.com"}); err != nil {
			t.Fatal(err)
		}
		members, _ = db.TeamMembers(ctx)
		if !slices.Equal(members["vip"], []string{"bob@acme.com", "cid@acme.com"}) {
			t.Fatalf("members after set = %v", members)
		}
		wantCode(t, "update unknown", db.TeamUpdate(ctx, store.Team{ID: "nope"}), tandem.ENOTFOUND)
		if err := db.TeamDelete(ctx, "vip"); err != nil {
			t.Fatal(err)
		}
		members, _ = db.TeamMembers(ctx)
		if len(members["vip"]) != 0 {
			t.Fatalf("members after delete = %v", members)
		}
		wantCode(t, "delete twice", db.TeamDelete(ctx, "vip"), tandem.ENOTFOUND)
	})
}

// An admin changes an agent: name, role, teams; deactivating ends its logins and presence.
func TestAgentUpdate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.AgentCreate(ctx, store.Agent{Email: "bob@acme.com", Name: "Bob", Role: "agent", Teams: []string{"support"}}, t0); err != nil {
			t.Fatal(err)
		}
		tok, _, err := db.TokenCreate(ctx, "bob's login", "bob@acme.com", t0, func() string { return "tok-1" })
		if err != nil {
			t.Fatal(err)
		}
		if err := db.AgentPresence(ctx, "bob@acme.com", "online", t0); err != nil {
			t.Fatal(err)
		}
		name, role, active, teams := "Robert", "admin", false, []string{"sales"}
		if err := db.AgentUpdate(ctx, store.AgentChange{Email: "Bob@acme.com", Name: &name, Role: &role, Active: &active, Teams: &teams}); err != nil {
			t.Fatal(err)
		}
		a, err := db.AgentGet(ctx, "bob@acme.com")
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != "Robert" || a.Role != "admin" || !a.Inactive || a.Presence != "offline" || !slices.Equal(a.Teams, []string{"sales"}) {
			t.Fatalf("after update: %+v", a)
		}
		if _, err := db.TokenLookup(ctx, tok); err == nil {
			t.Fatal("a deactivated agent's token still works")
		}
		active = true
		if err := db.AgentUpdate(ctx, store.AgentChange{Email: "bob@acme.com", Active: &active}); err != nil {
			t.Fatal(err)
		}
		if a, _ = db.AgentGet(ctx, "bob@acme.com"); a.Inactive {
			t.Fatal("reactivated agent is still inactive")
		}
		wantCode(t, "unknown agent", db.AgentUpdate(ctx, store.AgentChange{Email: "nobody@acme.com", Name: &name}), tandem.ENOTFOUND)
	})
}
