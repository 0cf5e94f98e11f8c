package api

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// An agent's login ends when unused for auth.session_idle (12h by default), slides forward as it
// is used, ends auth.session_max (7 days) after the login whatever, and at logout.
func TestSessions(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	me := request{method: "GET", path: "/api/v1/inbox/agents/me"}
	e.as("ana@acme.com", me).mustStatus(t, http.StatusOK)
	// Used every 11 hours, it lasts, up to 7 days.
	for day := time.Duration(0); day < 6*24*time.Hour; day += 11 * time.Hour {
		e.clock.Advance(11 * time.Hour)
		e.as("ana@acme.com", me).mustStatus(t, http.StatusOK)
	}
	e.clock.Advance(23 * time.Hour) // 7 days and 1 hour after the login
	r := e.as("ana@acme.com", me).mustStatus(t, http.StatusUnauthorized)
	if _, msg := r.err(t); !strings.Contains(msg, "log in again") {
		t.Errorf("an expired login: %q", msg)
	}
	// Unused for 12 hours, it ends.
	e.login("ana@acme.com")
	e.clock.Advance(11*time.Hour + 59*time.Minute)
	e.as("ana@acme.com", me).mustStatus(t, http.StatusOK)
	e.clock.Advance(12*time.Hour + time.Minute)
	e.as("ana@acme.com", me).mustStatus(t, http.StatusUnauthorized)
	// Logout ends it at once.
	e.login("ana@acme.com")
	e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/logout"}).mustStatus(t, http.StatusNoContent)
	r = e.as("ana@acme.com", me).mustStatus(t, http.StatusUnauthorized)
	if _, msg := r.err(t); !strings.Contains(msg, "log in again") {
		t.Errorf("a login that was logged out: %q, want it to say to log in again", msg)
	}
	// An API token is not a login: it is revoked, not logged out.
	r = e.do(request{method: "POST", path: "/api/v1/inbox/logout"}).mustStatus(t, http.StatusBadRequest)
	if _, msg := r.err(t); !strings.Contains(msg, "DELETE /api/v1/tokens/") {
		t.Errorf("logout with an API token: %q", msg)
	}
	e.do(request{method: "GET", path: "/api/v1/flows"}).mustStatus(t, http.StatusOK)
}

// API tokens are made (shown once), listed with the agents' logins, and revoked; a revoked or
// expired one stops working at once.
func TestTokenRoutes(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	var made struct {
		tokenJSON
		Token string `json:"token"`
	}
	e.do(request{method: "POST", path: "/api/v1/tokens", body: map[string]string{"name": "backend"}}).mustStatus(t, http.StatusCreated).json(t, &made)
	if !strings.HasPrefix(made.Token, "tdm_") || made.Kind != "api" || made.Name != "backend" || made.ExpiresAt != nil {
		t.Fatalf("made %+v", made)
	}
	backend := request{method: "GET", path: "/api/v1/flows", header: map[string]string{"Authorization": "Bearer " + made.Token}}
	e.do(backend).mustStatus(t, http.StatusOK)
	var list struct {
		Tokens []tokenJSON `json:"tokens"`
	}
	r := e.do(request{method: "GET", path: "/api/v1/tokens"}).mustStatus(t, http.StatusOK)
	if strings.Contains(string(r.body), made.Token) || strings.Contains(string(r.body), e.tokens["ana@acme.com"]) {
		t.Fatal("the list shows a token")
	}
	r.json(t, &list)
	kinds := map[string]int{}
	for _, tk := range list.Tokens {
		kinds[tk.Kind]++
		if tk.Kind == "session" && (tk.Agent == "" || tk.ExpiresAt == nil) {
			t.Errorf("a login without its agent or its end: %+v", tk)
		}
	}
	if kinds["api"] != 2 || kinds["session"] != 3 {
		t.Errorf("listed %v, want 2 API tokens (test, backend) and 3 logins", kinds)
	}
	e.do(request{method: "GET", path: "/api/v1/tokens?kind=session&agent=ana@acme.com"}).mustStatus(t, http.StatusOK).json(t, &list)
	if len(list.Tokens) != 1 || list.Tokens[0].Agent != "ana@acme.com" {
		t.Fatalf("ana's logins: %+v", list.Tokens)
	}
	// An admin ends ana's login; the backend's token is revoked.
	e.do(request{method: "DELETE", path: "/api/v1/tokens/" + list.Tokens[0].ID}).mustStatus(t, http.StatusNoContent)
	e.as("ana@acme.com", request{method: "GET", path: "/api/v1/inbox/agents/me"}).mustStatus(t, http.StatusUnauthorized)
	e.do(request{method: "DELETE", path: "/api/v1/tokens/" + made.ID}).mustStatus(t, http.StatusNoContent)
	e.do(backend).mustStatus(t, http.StatusUnauthorized)
	e.do(request{method: "DELETE", path: "/api/v1/tokens/" + made.ID}).mustStatus(t, http.StatusNotFound)
	e.do(request{method: "GET", path: "/api/v1/tokens?all=true"}).mustStatus(t, http.StatusOK).json(t, &list)
	revoked := 0
	for _, tk := range list.Tokens {
		if tk.RevokedAt != nil {
			revoked++
		}
	}
	if revoked != 2 {
		t.Errorf("all=true lists %d revoked, want 2", revoked)
	}
	// A token that expires.
	e.do(request{method: "POST", path: "/api/v1/tokens", body: map[string]string{"name": "ci", "expires_in": "1h"}}).mustStatus(t, http.StatusCreated).json(t, &made)
	if made.ExpiresAt == nil || !made.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("expires_at %v, want %v", made.ExpiresAt, t0.Add(time.Hour))
	}
	ci := request{method: "GET", path: "/api/v1/flows", header: map[string]string{"Authorization": "Bearer " + made.Token}}
	e.do(ci).mustStatus(t, http.StatusOK)
	e.clock.Advance(time.Hour)
	r = e.do(ci).mustStatus(t, http.StatusUnauthorized)
	if _, msg := r.err(t); !strings.Contains(msg, `"ci" expired`) {
		t.Errorf("an expired token: %q", msg)
	}
	for _, body := range []map[string]string{{"name": ""}, {"name": "x", "expires_in": "soon"}, {"name": "x", "expires_in": "-1h"}} {
		e.do(request{method: "POST", path: "/api/v1/tokens", body: body}).mustStatus(t, http.StatusBadRequest)
	}
}

// An agent's new role, or deactivation, holds at their next request on this server (their
// credentials are not trusted from memory any more).
func TestRoleChangeAtOnce(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	dee := e.addAdmin()
	flows := request{method: "GET", path: "/api/v1/flows"}
	e.as(dee, flows).mustStatus(t, http.StatusOK)
	e.do(request{method: "PATCH", path: "/api/v1/inbox/agents/" + dee, body: map[string]string{"role": "agent"}}).mustStatus(t, http.StatusOK)
	e.as(dee, flows).mustStatus(t, http.StatusForbidden)
	e.do(request{method: "PATCH", path: "/api/v1/inbox/agents/" + dee, body: map[string]any{"role": "admin", "active": false}}).mustStatus(t, http.StatusOK)
	e.as(dee, flows).mustStatus(t, http.StatusUnauthorized)
}

// A token an admin makes with their login acts as that admin: demoted, it has an agent's
// powers; deactivated, it ends with their logins. It was an API token of its own, so an admin
// about to leave could keep every power by making one.
func TestAdminsTokensAreBoundToThem(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	dee := e.addAdmin()
	var made struct {
		tokenJSON
		Token string `json:"token"`
	}
	e.as(dee, request{method: "POST", path: "/api/v1/tokens", body: map[string]string{"name": "mine"}}).mustStatus(t, http.StatusCreated).json(t, &made)
	if made.Agent != dee {
		t.Errorf("the token an admin made: %+v; want it bound to %s", made.tokenJSON, dee)
	}
	flows := request{method: "GET", path: "/api/v1/flows", header: map[string]string{"Authorization": "Bearer " + made.Token}}
	e.do(flows).mustStatus(t, http.StatusOK)
	e.do(request{method: "PATCH", path: "/api/v1/inbox/agents/" + dee, body: map[string]string{"role": "agent"}}).mustStatus(t, http.StatusOK)
	e.do(flows).mustStatus(t, http.StatusForbidden)
	e.do(request{method: "PATCH", path: "/api/v1/inbox/agents/" + dee, body: map[string]any{"role": "admin", "active": false}}).mustStatus(t, http.StatusOK)
	e.do(flows).mustStatus(t, http.StatusUnauthorized)
	// An API token makes API tokens of their own, as the CLI does.
	made.Agent = ""
	e.do(request{method: "POST", path: "/api/v1/tokens", body: map[string]string{"name": "ci"}}).mustStatus(t, http.StatusCreated).json(t, &made)
	if made.Agent != "" {
		t.Errorf("a token made with an API token is bound to %q", made.Agent)
	}
}
