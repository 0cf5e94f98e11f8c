package seal_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tandemchat/tandem/internal/seal"
)

func mustKey(tb testing.TB, text string) *seal.Key {
	tb.Helper()
	k, err := seal.ParseKey(text)
	if err != nil {
		tb.Fatalf("ParseKey: %v", err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	kr := seal.NewKeyring(mustKey(t, seal.NewKeyText()))
	for _, plain := range []string{"", "s3cr3t-refresh-token", strings.Repeat("é", 5000)} {
		sealed := kr.Seal([]byte(plain), "secrets/workspace/SHOP_KEY")
		if plain != "" && strings.Contains(sealed, plain) {
			t.Errorf("the sealed value %q contains the plaintext", sealed)
		}
		if !strings.HasPrefix(sealed, "v1."+kr.KeyID()+".") {
			t.Errorf("sealed %q does not start with v1.<key id>.", sealed)
		}
		got, err := kr.Open(sealed, "secrets/workspace/SHOP_KEY")
		if err != nil || string(got) != plain {
			t.Errorf("Open = %q, %v; want %q", got, err, plain)
		}
	}
	// The same plaintext seals differently each time (random nonce).
	if a, b := kr.Seal([]byte("x"), "c"), kr.Seal([]byte("x"), "c"); a == b {
		t.Errorf("two seals of the same value are equal: %s", a)
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	kr := seal.NewKeyring(mustKey(t, seal.NewKeyText()))
	sealed := kr.Seal([]byte("token"), "desk:lc/refresh_token")
	flip := []byte(sealed)
	flip[len(flip)-3] ^= 1
	other := seal.NewKeyring(mustKey(t, seal.NewKeyText()))
	tests := []struct {
		name    string
		kr      *seal.Keyring
		sealed  string
		context string
		want    error
	}{
		{"another row's context", kr, sealed, "desk:lc/other", seal.ErrCorrupt},
		{"a changed byte", kr, string(flip), "desk:lc/refresh_token", seal.ErrCorrupt},
		{"a cut value", kr, sealed[:len(sealed)-10], "desk:lc/refresh_token", seal.ErrCorrupt},
		{"not sealed at all", kr, "token", "desk:lc/refresh_token", seal.ErrCorrupt},
		{"an unknown version", kr, "v9" + sealed[2:], "desk:lc/refresh_token", seal.ErrCorrupt},
		{"another key", other, sealed, "desk:lc/refresh_token", seal.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.kr.Open(tt.sealed, tt.context)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %q, %v; want %v", got, err, tt.want)
			}
			if strings.Contains(err.Error(), "token") {
				t.Errorf("the error %q repeats the plaintext", err)
			}
		})
	}
	var uk *seal.UnknownKeyError
	if _, err := other.Open(sealed, "desk:lc/refresh_token"); !errors.As(err, &uk) || uk.ID != kr.KeyID() {
		t.Errorf("Open with another key = %v; want an UnknownKeyError naming %s", err, kr.KeyID())
	}
}

// Rotation: a keyring with a new current key and the old one opens what the old one sealed,
// seals with the new one, and tells which values still need resealing.
func TestRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := mustKey(t, seal.NewKeyText()), mustKey(t, seal.NewKeyText())
	before := seal.NewKeyring(oldKey)
	sealed := before.Seal([]byte("v"), "ctx")
	after := seal.NewKeyring(newKey, oldKey, newKey, nil)
	if got, err := after.Open(sealed, "ctx"); err != nil || string(got) != "v" {
		t.Fatalf("the rotated keyring opens the old value as %q, %v", got, err)
	}
	if after.Current(sealed) {
		t.Error("a value sealed with the old key reports current")
	}
	resealed := after.Seal([]byte("v"), "ctx")
	if !after.Current(resealed) {
		t.Error("a value sealed with the new key does not report current")
	}
	if id, _ := seal.KeyID(resealed); id != newKey.ID() || id == oldKey.ID() {
		t.Errorf("resealed with key %s; want the new key %s", id, newKey.ID())
	}
	if !after.Has(oldKey.ID()) || before.Has(newKey.ID()) {
		t.Error("Has does not report the keys held")
	}
	if _, err := before.Open(resealed, "ctx"); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("the old keyring opens a value of the new key: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	raw := []byte("0123456789abcdef0123456789abcdef")
	id := mustKey(t, base64.StdEncoding.EncodeToString(raw)).ID()
	for _, text := range []string{
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		hex.EncodeToString(raw),
		"  " + hex.EncodeToString(raw) + "\n",
	} {
		k, err := seal.ParseKey(text)
		if err != nil || k.ID() != id {
			t.Errorf("ParseKey(%q) = %v, %v; want key %s", text, k, err, id)
		}
	}
	secretish := "c2hvcnQta2V5LXZhbHVl" // base64 of 15 bytes
	for _, text := range []string{"", "   ", secretish, "not a key at all!", hex.EncodeToString(raw[:16])} {
		k, err := seal.ParseKey(text)
		if err == nil {
			t.Errorf("ParseKey(%q) = %v; want an error", text, k)
			continue
		}
		if strings.TrimSpace(text) != "" && strings.Contains(err.Error(), strings.TrimSpace(text)) {
			t.Errorf("the error %q repeats the key", err)
		}
	}
	// Printing a key or a keyring shows ids only.
	k := mustKey(t, hex.EncodeToString(raw))
	kr := seal.NewKeyring(k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%#v", k), fmt.Sprintf("%v", kr), fmt.Sprintf("%+v", kr)} {
		if !strings.Contains(s, k.ID()) || strings.Contains(s, hex.EncodeToString(raw)) || strings.Contains(s, string(raw)) {
			t.Errorf("printed as %q", s)
		}
	}
	if seal.NewKeyText() == seal.NewKeyText() {
		t.Error("NewKeyText returned the same key twice")
	}
}

func FuzzOpen(f *testing.F) {
	kr := seal.NewKeyring(mustKey(f, hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))))
	f.Add(kr.Seal([]byte("x"), "c"))
	f.Add("v1.")
	f.Add("v1.abcdefgh.")
	f.Fuzz(func(t *testing.T, s string) {
		kr.Open(s, "c") // never panics
	})
}
