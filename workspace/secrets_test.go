package workspace_test

import (
	"context"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/internal/seal"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
	"github.com/tandemchat/tandem/workspace"
)

// secretProbe is a desk that only keeps the Secrets it was built with.
type secretProbe struct {
	tandem.Desk
	secrets desk.Secrets
}

func init() {
	desk.Register("secretprobe", desk.Kind{New: func(c desk.Config, d desk.Deps) (tandem.Desk, error) {
		return &secretProbe{secrets: d.Secrets}, nil
	}})
}

// Each desk keeps its credentials in a scope of its own, sealed: one desk never reads another's.
func TestDesksSecretsScopedPerDesk(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	k, _ := seal.ParseKey(seal.NewKeyText())
	keys := seal.NewKeyring(k)
	cfg := &config.Config{Desks: []config.Desk{{ID: "a", Kind: "secretprobe"}, {ID: "b", Kind: "secretprobe"}}}
	desks, err := workspace.Desks(cfg, desk.Deps{Secrets: &store.Secrets{DB: db, Keys: keys, Clock: clock.Wall{}}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := desks["a"].(*secretProbe).secrets, desks["b"].(*secretProbe).secrets
	if err := a.Put(ctx, "refresh_token", "token-of-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "refresh_token"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("desk b reads desk a's secret: %v", err)
	}
	if got, err := a.Get(ctx, "refresh_token"); err != nil || got != "token-of-a" {
		t.Errorf("desk a reads %q, %v", got, err)
	}
	if got, err := db.SecretGet(ctx, keys, "desk:a", "refresh_token"); err != nil || got != "token-of-a" {
		t.Errorf("stored under desk:a: %q, %v", got, err)
	}
}
