package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `tandem agent create` makes an inbox login that `tandem serve` on the same data accepts.
func TestAgentCreateAndServe(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{}}
	data := filepath.Join(t.TempDir(), "data")
	create := func(stdin string, args ...string) result {
		t.Helper()
		var out, errOut bytes.Buffer
		m := c.main(&out, &errOut)
		m.Stdin = strings.NewReader(stdin)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		code := m.Run(ctx, append([]string{"agent", "create", "--data", data}, args...))
		return result{code, out.String(), errOut.String()}
	}
	if r := create("a-long-password\n", "--email", "Ana@Acme.com", "--name", "Ana", "--password-stdin"); r.code != 0 || !strings.Contains(r.stdout, "ana@acme.com") {
		t.Fatalf("agent create: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	for _, tt := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"a-long-password\n", []string{"--email", "ana@acme.com", "--password-stdin"}, 1, "already exists"},
		{"short\n", []string{"--email", "bob@acme.com", "--password-stdin"}, 1, "password"},
		{"", []string{"--email", "bob@acme.com"}, 2, "--password-stdin"},
		{"a-long-password\n", []string{"--password-stdin"}, 2, "--email"},
	} {
		r := create(tt.stdin, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("agent create %v: exit %d, stderr %q; want %d mentioning %s", tt.args, r.code, r.stderr, tt.code, tt.want)
		}
	}
	_, base := c.serve(t, "--data", data)
	var login struct {
		Token string `json:"token"`
	}
	anon := apiClient{t: t, base: base}
	if st := anon.call("POST", "/api/v1/inbox/login", map[string]string{"email": "ana@acme.com", "password": "a-long-password"}, &login); st != http.StatusOK || login.Token == "" {
		t.Fatalf("login answered %d", st)
	}
	ana := apiClient{t: t, base: base, token: login.Token}
	var me struct {
		Email  string `json:"email"`
		Status string `json:"status"`
	}
	if st := ana.call("PUT", "/api/v1/inbox/presence", map[string]string{"status": "online"}, &me); st != http.StatusOK || me.Email != "ana@acme.com" || me.Status != "online" {
		t.Errorf("presence answered %d: %+v", st, me)
	}
}
