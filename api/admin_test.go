package api

import (
	"net/http"
	"testing"
)

// Admins make teams in the API (those of tandem.yaml only take members), and flows may hand
// over to them; agents may not.
func TestInboxTeamsAdmin(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	e.as("bob@acme.com", request{method: "POST", path: "/api/v1/inbox/teams", body: map[string]any{"id": "vip"}}).mustStatus(t, http.StatusForbidden)
	var team teamJSON
	e.do(request{method: "POST", path: "/api/v1/inbox/teams", body: map[string]any{"id": "vip", "name": "VIP", "strategy": "least_busy", "reassign_after": "5m", "members": []string{"Bob@acme.com"}}}).
		mustStatus(t, http.StatusCreated).json(t, &team)
	if team.Name != "VIP" || team.Strategy != "least_busy" || team.ReassignAfter != "5m" || len(team.Members) != 1 || team.Members[0] != "bob@acme.com" || team.Configured {
		t.Fatalf("created %+v", team)
	}
	e.do(request{method: "POST", path: "/api/v1/inbox/teams", body: map[string]any{"id": "vip"}}).mustStatus(t, http.StatusConflict)
	e.do(request{method: "POST", path: "/api/v1/inbox/teams", body: map[string]any{"id": "support"}}).mustStatus(t, http.StatusConflict)
	e.do(request{method: "POST", path: "/api/v1/inbox/teams", body: map[string]any{"id": "Bad Id"}}).mustStatus(t, http.StatusBadRequest)
	e.do(request{method: "POST", path: "/api/v1/inbox/teams", body: map[string]any{"id": "x", "strategy": "random"}}).mustStatus(t, http.StatusBadRequest)
	e.do(request{method: "POST", path: "/api/v1/inbox/teams", body: map[string]any{"id": "y", "members": []string{"nobody@acme.com"}}}).mustStatus(t, http.StatusBadRequest)

	// A flow may hand over to it.
	e.publish(`format: 1
id: vip
name: VIP
trigger: {on: message, match: {contains: vip}, priority: 20}
steps:
  - {id: h, type: handoff, team: vip, wait_timeout: 1h, session_timeout: 1h}
`)
	// A team of tandem.yaml takes members here, nothing else.
	e.do(request{method: "PATCH", path: "/api/v1/inbox/teams/support", body: map[string]any{"strategy": "least_busy"}}).mustStatus(t, http.StatusConflict)
	e.do(request{method: "PATCH", path: "/api/v1/inbox/teams/support", body: map[string]any{"members": []string{"cid@acme.com"}}}).mustStatus(t, http.StatusOK).json(t, &team)
	if !team.Configured {
		t.Errorf("support: configured = false")
	}
	team = teamJSON{}
	e.do(request{method: "PATCH", path: "/api/v1/inbox/teams/vip", body: map[string]any{"name": "Gold", "reassign_after": ""}}).mustStatus(t, http.StatusOK).json(t, &team)
	if team.Name != "Gold" || team.ReassignAfter != "" || team.Strategy != "least_busy" {
		t.Fatalf("updated %+v", team)
	}
	e.do(request{method: "DELETE", path: "/api/v1/inbox/teams/support"}).mustStatus(t, http.StatusConflict)
	e.do(request{method: "DELETE", path: "/api/v1/inbox/teams/vip"}).mustStatus(t, http.StatusNoContent)
	e.do(request{method: "DELETE", path: "/api/v1/inbox/teams/vip"}).mustStatus(t, http.StatusNotFound)
}

// Deactivating an agent ends its logins at once and keeps it from logging in; an admin cannot
// deactivate itself.
func TestInboxAgentDeactivate(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	admin := e.addAdmin()
	e.as("bob@acme.com", request{method: "GET", path: "/api/v1/inbox/agents/me"}).mustStatus(t, http.StatusOK)
	e.as("bob@acme.com", request{method: "PATCH", path: "/api/v1/inbox/agents/cid@acme.com", body: map[string]any{"role": "admin"}}).mustStatus(t, http.StatusForbidden)
	e.as(admin, request{method: "PATCH", path: "/api/v1/inbox/agents/" + admin, body: map[string]any{"active": false}}).mustStatus(t, http.StatusBadRequest)
	e.as(admin, request{method: "PATCH", path: "/api/v1/inbox/agents/" + admin, body: map[string]any{"role": "agent"}}).mustStatus(t, http.StatusBadRequest)
	var a agentJSON
	e.as(admin, request{method: "PATCH", path: "/api/v1/inbox/agents/bob@acme.com", body: map[string]any{"active": false, "role": "admin", "name": "Robert"}}).
		mustStatus(t, http.StatusOK).json(t, &a)
	if a.Active || a.Role != "admin" || a.Name != "Robert" || a.Status != "offline" {
		t.Fatalf("after deactivating: %+v", a)
	}
	e.as("bob@acme.com", request{method: "GET", path: "/api/v1/inbox/agents/me"}).mustStatus(t, http.StatusUnauthorized)
	e.do(request{method: "POST", path: "/api/v1/inbox/login", noAuth: true, body: map[string]string{"email": "bob@acme.com", "password": bobPassword}}).mustStatus(t, http.StatusForbidden)
	e.as(admin, request{method: "PATCH", path: "/api/v1/inbox/agents/bob@acme.com", body: map[string]any{"active": true}}).mustStatus(t, http.StatusOK)
	e.login("bob@acme.com")
	e.do(request{method: "PATCH", path: "/api/v1/inbox/agents/nobody@acme.com", body: map[string]any{"name": "x"}}).mustStatus(t, http.StatusNotFound)
}
