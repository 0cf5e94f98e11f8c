package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestMain runs the package's tests, then checks what they saw against openapi.json: every
// status a route answered is documented for it, and every answer has a documented media type
// and, for JSON, matches the documented schema.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		for _, check := range []struct {
			what     string
			problems []string
		}{
			{"statuses answered by the API but not documented in openapi.json", undocumentedStatuses(seen.snapshot())},
			{"answers that do not match openapi.json", nonConforming(exchanges.snapshot())},
		} {
			if len(check.problems) > 0 {
				fmt.Fprintln(os.Stderr, "FAIL: "+check.what+":")
				for _, p := range check.problems {
					fmt.Fprintln(os.Stderr, "  "+p)
				}
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Every /api/v1 route but the OpenAPI document needs a token; a missing or bad one is a JSON 401
// with WWW-Authenticate, and changes nothing.
func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	tests := []struct {
		name   string
		header map[string]string
	}{
		{"no token", nil},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}},
		{"unknown token", map[string]string{"Authorization": "Bearer tdm_notatoken"}},
		{"other scheme", map[string]string{"Authorization": "Basic " + e.token}},
		{"no scheme", map[string]string{"Authorization": e.token}},
	}
	for _, tt := range tests {
		for _, rt := range []request{
			{method: "GET", path: "/api/v1/flows"},
			{method: "POST", path: "/api/v1/channels/api/messages", body: inbound("u-1", "m-1", "hello")},
			{method: "GET", path: "/api/v1/conversations"},
		} {
			t.Run(tt.name+" "+rt.method+" "+rt.path, func(t *testing.T) {
				e := e.with(t)
				rt.noAuth, rt.header = true, tt.header
				r := e.do(rt)
				r.mustStatus(t, http.StatusUnauthorized)
				if code, _ := r.err(t); code != "unauthorized" {
					t.Errorf("code %q, want unauthorized", code)
				}
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate %q, want Bearer ...", got)
				}
			})
		}
	}
	var list struct {
		Conversations []any `json:"conversations"`
	}
	e.do(request{method: "GET", path: "/api/v1/conversations"}).mustStatus(t, http.StatusOK).json(t, &list)
	if len(list.Conversations) != 0 {
		t.Errorf("unauthorized messages opened %d conversations", len(list.Conversations))
	}
}

// Health, readiness, metrics and the OpenAPI document need no token.
func TestPublicRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	tests := []struct {
		path  string
		ctype string
		want  string
	}{
		{"/healthz", "application/json", `"status":"ok"`},
		{"/readyz", "application/json", `"status":"ready"`},
		{"/metrics", "text/plain", "# HELP"},
		{"/api/v1/openapi.json", "application/json", `"openapi"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			e := e.with(t)
			r := e.do(request{method: "GET", path: tt.path, noAuth: true}).mustStatus(t, http.StatusOK)
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, tt.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, tt.ctype)
			}
			if !strings.Contains(string(r.body), tt.want) {
				t.Errorf("body does not contain %s: %.300s", tt.want, r.body)
			}
		})
	}
	// The request id is echoed, or made up.
	r := e.do(request{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "abc-123"}})
	if got := r.header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("X-Request-Id %q, want the client's abc-123", got)
	}
	if got := e.do(request{method: "GET", path: "/healthz"}).header.Get("X-Request-Id"); got == "" {
		t.Error("no X-Request-Id made up")
	}
}

// A draining server fails /readyz with a JSON 503, and a server without metrics answers a JSON
// 404 on /metrics.
func TestReadyzDrainingAndNoMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	e.api.Drain()
	r := e.do(request{method: "GET", path: "/readyz", noAuth: true}).mustStatus(t, http.StatusServiceUnavailable)
	if code, _ := r.err(t); code != "unavailable" {
		t.Errorf("code %q, want unavailable", code)
	}
	e.api.cfg.Metrics = nil
	r = e.do(request{method: "GET", path: "/metrics", noAuth: true}).mustStatus(t, http.StatusNotFound)
	if code, _ := r.err(t); code != "not_found" {
		t.Errorf("code %q, want not_found", code)
	}
}

// A revoked token stops working. The server caches valid tokens for tokenTTL (30 s), so a token
// the server has already seen works until its cache entry expires; a server that has not cached
// it (a fresh one, or another replica) refuses it at once.
func TestRevokedToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	ctx := context.Background()
	e.do(request{method: "GET", path: "/api/v1/flows"}).mustStatus(t, http.StatusOK) // cached now
	if err := e.db.TokenRevoke(ctx, e.tokenID, t0); err != nil {
		t.Fatal(err)
	}
	fresh := New(Config{DB: e.db, Runner: e.run, Workspace: e.cfg, Clock: e.clock, Observer: observer{}})
	rec := httpRecorder(t, fresh, "GET", "/api/v1/flows", e.token)
	if rec.status != http.StatusUnauthorized {
		t.Errorf("revoked token on a fresh server: status %d, want 401: %s", rec.status, rec.body)
	}
	// Revoked before its first use: refused by this server too.
	e2 := newEnv(t, options{})
	if err := e2.db.TokenRevoke(ctx, e2.tokenID, t0); err != nil {
		t.Fatal(err)
	}
	r := e2.do(request{method: "GET", path: "/api/v1/flows"}).mustStatus(t, http.StatusUnauthorized)
	if code, _ := r.err(t); code != "unauthorized" {
		t.Errorf("code %q, want unauthorized", code)
	}
}

// Errors are JSON: an unknown route is a JSON 404; a known path with a wrong method is a JSON
// 405 with Allow.
func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	tests := []struct {
		method, path string
		status       int
		code         string
		allow        string
	}{
		{"GET", "/nope", http.StatusNotFound, "not_found", ""},
		{"GET", "/api/v1/nope", http.StatusNotFound, "not_found", ""},
		{"POST", "/api/v1/flows/x/y/z", http.StatusNotFound, "not_found", ""},
		{"DELETE", "/api/v1/flows", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
		{"POST", "/healthz", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{"GET", "/api/v1/channels/api/messages", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"POST", "/api/v1/flows/echo", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, PUT, DELETE"},
		{"PUT", "/api/v1/contacts/c-1", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, PATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			e := e.with(t)
			for _, auth := range []bool{true, false} {
				r := e.do(request{method: tt.method, path: tt.path, noAuth: !auth}).mustStatus(t, tt.status)
				if code, _ := r.err(t); code != tt.code {
					t.Errorf("code %q, want %q", code, tt.code)
				}
				if got := r.header.Get("Allow"); got != tt.allow {
					t.Errorf("Allow %q, want %q", got, tt.allow)
				}
			}
		})
	}
}

// Requests beyond the rate of a token are refused with a JSON 429 and Retry-After; other
// tokens and the public routes are not affected.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{rateLimit: 1}) // burst of 10, then 1 per second
	var limited *response
	ok := 0
	for i := 0; i < 40 && limited == nil; i++ {
		r := e.do(request{method: "GET", path: "/api/v1/flows"})
		switch r.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited = r
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	if limited == nil {
		t.Fatal("40 requests at once were never limited")
	}
	if ok < 10 {
		t.Errorf("limited after %d requests, want a burst of 10 first", ok)
	}
	if code, _ := limited.err(t); code != "rate_limited" {
		t.Errorf("code %q, want rate_limited", code)
	}
	if n, err := strconv.Atoi(limited.header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q, want a number of seconds ≥ 1", limited.header.Get("Retry-After"))
	}
	// Every route of the token is limited, the inbound channel too; nothing is stored.
	r := e.do(request{method: "POST", path: "/api/v1/channels/api/messages", body: inbound("u-1", "m-1", "hello")})
	r.mustStatus(t, http.StatusTooManyRequests)
	// Public routes are not limited.
	e.do(request{method: "GET", path: "/healthz"}).mustStatus(t, http.StatusOK)
	// Another token has its own bucket.
	tok, _, err := e.db.TokenCreate(context.Background(), "other", "", t0, func() string { return "tok-2" })
	if err != nil {
		t.Fatal(err)
	}
	other := *e
	other.token = tok
	var list struct {
		Conversations []any `json:"conversations"`
	}
	other.do(request{method: "GET", path: "/api/v1/conversations"}).mustStatus(t, http.StatusOK).json(t, &list)
	if len(list.Conversations) != 0 {
		t.Errorf("a rate-limited message opened a conversation")
	}
}

// A body over BodyLimit is a JSON 413 on every route that reads one, and stores nothing.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{bodyLimit: 512})
	conv, _ := e.say("u-1", "m-1", "hello") // a small body passes
	e.drain()
	var c struct {
		ContactID string `json:"contact_id"`
	}
	e.do(request{method: "GET", path: "/api/v1/conversations/" + conv}).mustStatus(t, http.StatusOK).json(t, &c)
	big := strings.Repeat("x", 2048)
	flowDoc := "format: 1\nid: big\nname: Big\nsteps:\n  - {id: a, type: message, text: " + big + "}\n"
	e.do(request{method: "POST", path: "/api/v1/flows", body: "format: 1\nid: big2\nsteps: [{id: a, type: message, text: hi}]\n"}).mustStatus(t, http.StatusCreated)
	tests := []request{
		{method: "POST", path: "/api/v1/channels/api/messages", body: inbound("u-2", "m-2", big)},
		{method: "POST", path: "/api/v1/flows", body: flowDoc},
		{method: "PUT", path: "/api/v1/flows/big", body: flowDoc},
		{method: "POST", path: "/api/v1/flows/echo/runs", body: map[string]any{"contact": map[string]any{"external_id": "u-3", "name": big}}},
		{method: "PATCH", path: "/api/v1/contacts/" + c.ContactID, body: map[string]any{"name": big}},
	}
	for _, req := range tests {
		t.Run(req.method+" "+req.path, func(t *testing.T) {
			e := e.with(t)
			r := e.do(req).mustStatus(t, http.StatusRequestEntityTooLarge)
			if code, _ := r.err(t); code != "too_large" {
				t.Errorf("code %q, want too_large", code)
			}
		})
	}
	e.drain()
	var list struct {
		Conversations []conversationJSON `json:"conversations"`
	}
	e.do(request{method: "GET", path: "/api/v1/conversations"}).mustStatus(t, http.StatusOK).json(t, &list)
	if len(list.Conversations) != 1 {
		t.Errorf("%d conversations after oversized requests, want the 1 of the small message", len(list.Conversations))
	}
	e.do(request{method: "GET", path: "/api/v1/flows/big"}).mustStatus(t, http.StatusNotFound)
	contact := e.do(request{method: "GET", path: "/api/v1/contacts/" + c.ContactID}).mustStatus(t, http.StatusOK).m(t)
	if contact["name"] != "Ana Souza" {
		t.Errorf("contact name %q after an oversized patch", contact["name"])
	}
}

// httpRecorder serves one request with h in the process.
func httpRecorder(t *testing.T, h http.Handler, method, path, token string) *response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return &response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}
