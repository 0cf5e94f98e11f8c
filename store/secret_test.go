package store_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/internal/seal"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

func keyring(tb testing.TB, old ...*seal.Key) (*seal.Keyring, *seal.Key) {
	tb.Helper()
	k, err := seal.ParseKey(seal.NewKeyText())
	if err != nil {
		tb.Fatal(err)
	}
	return seal.NewKeyring(k, old...), k
}

// Secrets are stored sealed, read back by scope and name, listed without values, replaced and
// deleted; each scope is its own namespace.
func TestSecrets(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := testCtx(t)
		keys, _ := keyring(t)
		put := func(scope, name, value string) {
			t.Helper()
			if err := db.SecretPut(ctx, keys, scope, name, value, t0); err != nil {
				t.Fatalf("SecretPut(%s, %s): %v", scope, name, err)
			}
		}
		put(store.ScopeWorkspace, "SHOP_KEY", "shop-v1")
		put(store.ScopeWorkspace, "SHOP_KEY", "shop-v2")
		put(store.ScopeWorkspace, "CRM", "crm")
		put("desk:lc", "refresh_token", "rt-1")
		if got, err := db.SecretGet(ctx, keys, store.ScopeWorkspace, "SHOP_KEY"); err != nil || got != "shop-v2" {
			t.Errorf("SecretGet = %q, %v; want the replaced value", got, err)
		}
		vals, err := db.SecretValues(ctx, keys, store.ScopeWorkspace)
		if err != nil || len(vals) != 2 || vals["CRM"] != "crm" || vals["SHOP_KEY"] != "shop-v2" {
			t.Errorf("SecretValues = %v, %v", vals, err)
		}
		list, err := db.SecretList(ctx, "")
		if err != nil || len(list) != 3 || list[0].Scope != "desk:lc" || list[0].KeyID != keys.KeyID() {
			t.Errorf("SecretList = %+v, %v", list, err)
		}
		sec := &store.Secrets{DB: db, Keys: keys, Scope: "desk:lc", Clock: clock.NewVirtual(t0)}
		if got, err := sec.Get(ctx, "refresh_token"); err != nil || got != "rt-1" {
			t.Errorf("Secrets.Get = %q, %v", got, err)
		}
		if _, err := sec.Get(ctx, "SHOP_KEY"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("a workspace secret read in another scope: %v; want not_found", err)
		}
		if err := sec.Delete(ctx, "refresh_token"); err != nil {
			t.Fatal(err)
		}
		if err := sec.Delete(ctx, "refresh_token"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("deleting twice: %v; want not_found", err)
		}
		if _, err := sec.Get(ctx, "refresh_token"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("after delete: %v; want not_found", err)
		}
	})
}

// Bad names and values are refused with the field named, and nothing is stored; without a key
// nothing can be stored or read.
func TestSecretsRefused(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := testCtx(t)
	keys, _ := keyring(t)
	tests := []struct {
		name, scope, key, value, code string
	}{
		{"a workspace name templates cannot write", store.ScopeWorkspace, "shop-key", "v", tandem.EINVALID},
		{"a name starting with a digit", store.ScopeWorkspace, "1KEY", "v", tandem.EINVALID},
		{"an empty name", "desk:x", "", "v", tandem.EINVALID},
		{"a NUL in the name", "desk:x", "a\x00b", "v", tandem.EINVALID},
		{"an empty scope", "", "A", "v", tandem.EINVALID},
		{"a value too large", store.ScopeWorkspace, "BIG", string(bytes.Repeat([]byte("x"), store.MaxSecretSize+1)), tandem.ETOOLARGE},
	}
	for _, tt := range tests {
		err := db.SecretPut(ctx, keys, tt.scope, tt.key, tt.value, t0)
		if tandem.ErrorCode(err) != tt.code {
			t.Errorf("%s: SecretPut = %v; want %s", tt.name, err, tt.code)
		}
	}
	if list, _ := db.SecretList(ctx, ""); len(list) != 0 {
		t.Errorf("refused secrets were stored: %+v", list)
	}
	if err := db.SecretPut(ctx, nil, store.ScopeWorkspace, "A", "v", t0); !errors.Is(err, store.ErrNoKey) {
		t.Errorf("SecretPut without a key = %v; want ErrNoKey", err)
	}
	if err := db.SecretPut(ctx, keys, store.ScopeWorkspace, "A", "v", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SecretGet(ctx, nil, store.ScopeWorkspace, "A"); !errors.Is(err, store.ErrNoKey) {
		t.Errorf("SecretGet without a key = %v; want ErrNoKey", err)
	}
}

// The database file never holds a secret's value in clear, and a value copied to another row
// does not open there.
func TestSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := testCtx(t)
	keys, _ := keyring(t)
	const value = "plaintext-canary-7f3a9c"
	if err := db.SecretPut(ctx, keys, store.ScopeWorkspace, "CANARY", value, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.SecretPut(ctx, keys, store.ScopeWorkspace, "OTHER", "x", t0); err != nil {
		t.Fatal(err)
	}
	path := db.Path()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(value)) {
			t.Errorf("%s holds the secret in clear", f)
		}
	}
	db = storetest.OpenSQLite(t, path)
	if got, err := db.SecretGet(ctx, keys, store.ScopeWorkspace, "CANARY"); err != nil || got != value {
		t.Fatalf("after reopening: %q, %v", got, err)
	}
	if err := db.ExecTest(ctx, `UPDATE secrets SET value = (SELECT value FROM secrets WHERE name = 'CANARY') WHERE name = 'OTHER'`); err != nil {
		t.Fatal(err)
	}
	if got, err := db.SecretGet(ctx, keys, store.ScopeWorkspace, "OTHER"); err == nil {
		t.Errorf("a value copied to another row opened there as %q", got)
	}
}

// Rotation: with the new key current and the old one kept, everything still opens; rotating
// reseals every value with the new key (and only those not already on it), after which the new
// key alone opens everything.
func TestSecretRotate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := testCtx(t)
		oldKeys, oldKey := keyring(t)
		for _, n := range []string{"A", "B", "C"} {
			if err := db.SecretPut(ctx, oldKeys, store.ScopeWorkspace, n, "value-"+n, t0); err != nil {
				t.Fatal(err)
			}
		}
		newKeys, newKey := keyring(t, oldKey)
		if err := db.SecretPut(ctx, newKeys, "desk:lc", "refresh_token", "rt", t0); err != nil {
			t.Fatal(err)
		}
		ids, err := db.SecretKeyIDs(ctx)
		if err != nil || ids[oldKey.ID()] != 3 || ids[newKey.ID()] != 1 {
			t.Fatalf("SecretKeyIDs = %v, %v", ids, err)
		}
		n, err := db.SecretRotate(ctx, newKeys, t0)
		if err != nil || n != 3 {
			t.Fatalf("SecretRotate = %d, %v; want 3 resealed", n, err)
		}
		if n, err := db.SecretRotate(ctx, newKeys, t0); err != nil || n != 0 {
			t.Errorf("a second SecretRotate = %d, %v; want nothing left", n, err)
		}
		alone := seal.NewKeyring(newKey)
		vals, err := db.SecretValues(ctx, alone, store.ScopeWorkspace)
		if err != nil || vals["A"] != "value-A" || vals["C"] != "value-C" {
			t.Errorf("after rotation, with the new key alone: %v, %v", vals, err)
		}
		if ids, _ := db.SecretKeyIDs(ctx); len(ids) != 1 || ids[newKey.ID()] != 4 {
			t.Errorf("after rotation the keys in use are %v; want only %s", ids, newKey.ID())
		}
		// The old key alone no longer opens anything, and says which key is missing.
		_, err = db.SecretGet(ctx, oldKeys, store.ScopeWorkspace, "A")
		if tandem.ErrorCode(err) != tandem.EUNAVAILABLE || !bytes.Contains([]byte(tandem.ErrorMessage(err)), []byte(newKey.ID())) {
			t.Errorf("SecretGet with the old key only = %v; want unavailable naming key %s", err, newKey.ID())
		}
	})
}
