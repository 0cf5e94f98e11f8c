package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem/internal/seal"
	"github.com/tandemchat/tandem/store/storetest"
)

// secretFlow calls url with the workspace secret SHOP_KEY in a header and tells the status.
func secretFlow(url string) string {
	return `format: 1
id: shop
name: Shop
trigger: {on: message, match: any}
steps:
  - id: call
    type: http
    method: GET
    url: "` + url + `"
    headers: {X-Key: "{{secret.SHOP_KEY}}"}
  - {id: done, type: message, text: "status {{step.call.status}}"}
`
}

// keyServer records the X-Key header of every call.
type keyServer struct {
	mu   sync.Mutex
	keys []string
}

func (k *keyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	k.keys = append(k.keys, r.Header.Get("X-Key"))
	k.mu.Unlock()
	w.Write([]byte(`{"ok": true}`))
}

func (k *keyServer) last() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 {
		return ""
	}
	return k.keys[len(k.keys)-1]
}

// Without TANDEM_SECRET_KEY, on SQLite: `tandem secret set` generates a key in the data folder
// (readable by its owner only, with a log line saying so), stores the secret sealed (the
// database files never hold it), and a server on that folder gives it to flows as
// {{secret.NAME}}. Listing shows names and key ids, never values.
func TestSecretSetWithoutKey(t *testing.T) {
	t.Parallel()
	const value = "shop-secret-canary-51c2"
	ks := &keyServer{}
	srv := httptest.NewServer(ks)
	t.Cleanup(srv.Close)
	data := t.TempDir()
	c := cli{env: map[string]string{}, stdin: value + "\n"}
	r := c.run(t, "secret", "set", "SHOP_KEY", "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, "secret SHOP_KEY of workspace stored") {
		t.Fatalf("secret set: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	keyFile := filepath.Join(data, "secret.key")
	if !strings.Contains(r.stderr, "TANDEM_SECRET_KEY is not set: generated a key") || !strings.Contains(r.stderr, keyFile) {
		t.Errorf("no log line tells that a key was generated in %s:\n%s", keyFile, r.stderr)
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi)
	}
	keyText, _ := os.ReadFile(keyFile)
	key, err := seal.ParseKey(string(keyText))
	if err != nil {
		t.Fatalf("the key file does not hold a key: %v", err)
	}
	for _, f := range []string{"tandem.db", "tandem.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(data, f))
		if bytes.Contains(b, []byte(value)) {
			t.Errorf("%s holds the secret in clear", f)
		}
	}
	r = c.run(t, "secret", "list", "--data", data)
	if r.code != 0 || !regexp.MustCompile(`workspace\s+SHOP_KEY\s+`+key.ID()).MatchString(r.stdout) || strings.Contains(r.stdout+r.stderr, value) {
		t.Errorf("secret list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	cfg := writeWorkspace(t, map[string]string{"shop.yaml": secretFlow(srv.URL)})
	token := c.token(t, data)
	p, base := c.serve(t, "--config", cfg, "--data", data)
	api := apiClient{t: t, base: base, token: token}
	conv, msg := api.say("u-1", "m-1", "hi")
	if got := api.awaitBot(conv, msg, 1); got[0] != "status 200" {
		t.Errorf("bot said %q", got)
	}
	if got := ks.last(); got != value {
		t.Errorf("the http step sent X-Key %q, want the stored secret", got)
	}
	if !strings.Contains(p.stderr.String(), "sealed with the key in the data folder") {
		t.Errorf("serve does not say which key it uses:\n%s", p.stderr.String())
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exit %d", code)
	}
	// Deleted, the secret is gone from the listing.
	if r := c.run(t, "secret", "delete", "SHOP_KEY", "--data", data); r.code != 0 {
		t.Errorf("secret delete: exit %d %s", r.code, r.stderr)
	}
	if r := c.run(t, "secret", "delete", "SHOP_KEY", "--data", data); r.code != 1 || !strings.Contains(r.stderr, `Secret "SHOP_KEY" of workspace is not set.`) {
		t.Errorf("deleting twice: exit %d %s", r.code, r.stderr)
	}
}

// Rotation, as docs/security.md describes it: a server refuses to start with a key that does not
// open the stored secrets, and names the key they need; with the new key and the old one it
// starts and says a rotation is due; `tandem secret rotate` reseals; then the new key alone
// opens everything.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			if dialect == "postgres" {
				env["TANDEM_DATABASE_URL"] = storetest.PostgresURL(t)
			}
			testSecretRotation(t, env)
		})
	}
}

func testSecretRotation(t *testing.T, env map[string]string) {
	const value = "rotated-secret-canary-9d"
	ks := &keyServer{}
	srv := httptest.NewServer(ks)
	t.Cleanup(srv.Close)
	data := t.TempDir()
	oldText, newText := seal.NewKeyText(), seal.NewKeyText()
	oldKey, _ := seal.ParseKey(oldText)
	newKey, _ := seal.ParseKey(newText)
	with := func(kv ...string) cli {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			e[kv[i]] = kv[i+1]
		}
		return cli{env: e, stdin: value}
	}
	if r := with("TANDEM_SECRET_KEY", oldText).run(t, "secret", "set", "SHOP_KEY", "--data", data); r.code != 0 {
		t.Fatalf("secret set: exit %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "secret.key")); err == nil {
		t.Error("a key file was written although TANDEM_SECRET_KEY is set")
	}
	cfg := writeWorkspace(t, map[string]string{"shop.yaml": secretFlow(srv.URL)})

	// The new key alone: refused, naming the key the secrets need.
	r := with("TANDEM_SECRET_KEY", newText).run(t, "serve", "--config", cfg, "--data", data, "--addr", "127.0.0.1:0")
	if r.code != 1 || !strings.Contains(r.stderr, oldKey.ID()) || !strings.Contains(r.stderr, "TANDEM_SECRET_KEY_OLD") {
		t.Fatalf("serve with the wrong key: exit %d, stderr %s", r.code, r.stderr)
	}
	// No key at all: refused too.
	if r := with().run(t, "serve", "--config", cfg, "--data", data, "--addr", "127.0.0.1:0"); r.code != 1 || !strings.Contains(r.stderr, "TANDEM_SECRET_KEY is not set") {
		t.Fatalf("serve without a key: exit %d, stderr %s", r.code, r.stderr)
	}

	// Both keys: the server starts, uses the secret and says a rotation is due.
	both := with("TANDEM_SECRET_KEY", newText, "TANDEM_SECRET_KEY_OLD", oldText)
	token := both.token(t, data)
	p, base := both.serve(t, "--config", cfg, "--data", data)
	p.stderr.wait(t, regexp.MustCompile(`1 secrets in the database are sealed with an old key; run .tandem secret rotate.`), 10*time.Second)
	api := apiClient{t: t, base: base, token: token}
	conv, msg := api.say("u-1", "m-1", "hi")
	api.awaitBot(conv, msg, 1)
	if got := ks.last(); got != value {
		t.Errorf("X-Key %q, want the secret", got)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exit %d", code)
	}
	r = both.run(t, "secret", "rotate", "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, "1 secrets resealed with key "+newKey.ID()) {
		t.Fatalf("secret rotate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The new key alone now serves.
	alone := with("TANDEM_SECRET_KEY", newText)
	p, base = alone.serve(t, "--config", cfg, "--data", data)
	api = apiClient{t: t, base: base, token: token}
	conv, msg = api.say("u-2", "m-2", "hi")
	api.awaitBot(conv, msg, 1)
	if got := ks.last(); got != value {
		t.Errorf("after rotation: X-Key %q, want the secret", got)
	}
	if strings.Contains(p.stderr.String(), "old key") {
		t.Errorf("after rotation the server still asks for one:\n%s", p.stderr.String())
	}
	p.stop(t)
}

// On PostgreSQL, shared by replicas that share no folder, no key is made up: storing a secret
// without TANDEM_SECRET_KEY is refused with what to do.
func TestSecretPostgresNeedsKey(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{"TANDEM_DATABASE_URL": storetest.PostgresURL(t)}, stdin: "v"}
	data := t.TempDir()
	r := c.run(t, "secret", "set", "SHOP_KEY", "--data", data)
	if r.code != 1 || !strings.Contains(r.stderr, "TANDEM_SECRET_KEY is not set") {
		t.Errorf("secret set on PostgreSQL without a key: exit %d, stderr %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "secret.key")); err == nil {
		t.Error("a key file was made for PostgreSQL")
	}
	for _, args := range [][]string{{"secret", "set"}, {"secret", "nope"}} {
		if r := c.run(t, args...); r.code != 2 {
			t.Errorf("%q: exit %d, want 2 (usage)", args, r.code)
		}
	}
	if r := c.run(t, "secret", "key"); r.code != 0 {
		t.Errorf("secret key: exit %d", r.code)
	} else if _, err := seal.ParseKey(r.stdout); err != nil {
		t.Errorf("secret key printed %q, not a key: %v", r.stdout, err)
	}
}
