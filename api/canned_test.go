package api

import (
	"net/http"
	"testing"
)

// Canned responses: admins and API tokens write them, every agent reads them; shortcuts are
// checked, unique and stored lowercase without the "/".
func TestCannedResponses(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	admin := e.addAdmin()
	var c cannedJSON
	e.as(admin, request{method: "POST", path: "/api/v1/inbox/canned-responses", body: map[string]string{"shortcut": "/Hours", "title": "Opening hours", "text": "We are open 9 to 6."}}).
		mustStatus(t, http.StatusCreated).json(t, &c)
	if c.Shortcut != "hours" || c.CreatedBy != admin || c.ID == "" {
		t.Fatalf("created %+v", c)
	}
	// Agents read them, never write them.
	var list struct {
		Canned []cannedJSON `json:"canned_responses"`
	}
	e.as("bob@acme.com", request{method: "GET", path: "/api/v1/inbox/canned-responses"}).mustStatus(t, http.StatusOK).json(t, &list)
	if len(list.Canned) != 1 || list.Canned[0].Text != "We are open 9 to 6." {
		t.Fatalf("agent's list: %+v", list)
	}
	e.as("bob@acme.com", request{method: "POST", path: "/api/v1/inbox/canned-responses", body: map[string]string{"shortcut": "x", "text": "x"}}).mustStatus(t, http.StatusForbidden)
	e.as("bob@acme.com", request{method: "DELETE", path: "/api/v1/inbox/canned-responses/" + c.ID}).mustStatus(t, http.StatusForbidden)

	for _, tt := range []struct {
		body  map[string]string
		field string
	}{
		{map[string]string{"shortcut": "", "text": "x"}, "shortcut"},
		{map[string]string{"shortcut": "two words", "text": "x"}, "shortcut"},
		{map[string]string{"shortcut": "ok", "text": "  "}, "text"},
	} {
		_, msg := e.do(request{method: "POST", path: "/api/v1/inbox/canned-responses", body: tt.body}).mustStatus(t, http.StatusBadRequest).err(t)
		if len(msg) < len(tt.field) || msg[:len(tt.field)] != tt.field {
			t.Errorf("%v: %q, want it to name %s", tt.body, msg, tt.field)
		}
	}
	code, _ := e.do(request{method: "POST", path: "/api/v1/inbox/canned-responses", body: map[string]string{"shortcut": "HOURS", "text": "x"}}).mustStatus(t, http.StatusConflict).err(t)
	if code != "conflict" {
		t.Errorf("duplicate shortcut: code %q", code)
	}
	e.do(request{method: "PUT", path: "/api/v1/inbox/canned-responses/" + c.ID, body: map[string]string{"shortcut": "open", "text": "Open 9 to 7 now."}}).mustStatus(t, http.StatusOK).json(t, &c)
	if c.Shortcut != "open" || c.Text != "Open 9 to 7 now." {
		t.Fatalf("updated %+v", c)
	}
	e.do(request{method: "DELETE", path: "/api/v1/inbox/canned-responses/" + c.ID}).mustStatus(t, http.StatusNoContent)
	e.do(request{method: "DELETE", path: "/api/v1/inbox/canned-responses/" + c.ID}).mustStatus(t, http.StatusNotFound)
}
