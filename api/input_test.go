package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Bad input is 400 naming the field, and stores nothing: trailing garbage after the JSON
// object, a body that is not an object, invalid UTF-8, NUL characters, texts over their caps.
func TestStrictInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	const path = "/api/v1/channels/api/messages"
	long := func(n int) string { return strings.Repeat("é", n) }
	body := func(name, text string) string {
		return `{"contact": {"external_id": "u-1", "name": "` + name + `"}, "message": {"id": "m-1", "text": "` + text + `"}}`
	}
	for _, tt := range []struct {
		name, body, field string
	}{
		{"stray brace", body("Ana", "hi") + "}", "after its JSON object"},
		{"stray bracket", body("Ana", "hi") + "]", "after its JSON object"},
		{"a second object", body("Ana", "hi") + "{}", "after its JSON object"},
		{"null", "null", "must be a JSON object"},
		{"a list", "[]", "must be a JSON object"},
		{"null message", `{"contact": {"external_id": "u-1"}, "message": null}`, "message.text"},
		{"list message", `{"contact": {"external_id": "u-1"}, "message": []}`, "message: expected a JSON object"},
		{"invalid UTF-8", body("Ana", "caf\xe9"), "message.text: not valid UTF-8"},
		{"invalid UTF-8 in the name", body("An\xffa", "hi"), "contact.name: not valid UTF-8"},
		{"NUL", body("Ana", `a\u0000b`), "message.text: contains a NUL"},
		{"NUL in an attribute", `{"contact": {"external_id": "u-1", "attributes": {"plan": "x\u0000"}}, "message": {"text": "hi"}}`, "contact.attributes.plan: contains a NUL"},
		{"a million characters", body("Ana", strings.Repeat("a", 1_000_000)), "message.text: 1000000 characters, more than the 4096 allowed"},
		{"4097 characters", body("Ana", long(4097)), "message.text: 4097 characters"},
		{"a long name", body(strings.Repeat("n", 201), "hi"), "contact.name: 201 characters"},
		{"a long external id", `{"contact": {"external_id": "` + strings.Repeat("x", 201) + `"}, "message": {"text": "hi"}}`, "contact.external_id: 201 characters"},
		{"a long message id", `{"contact": {"external_id": "u-1"}, "message": {"id": "` + strings.Repeat("x", 201) + `", "text": "hi"}}`, "message.id: 201 characters"},
		{"too many attributes", `{"contact": {"external_id": "u-1", "attributes": {` + manyKeys(101) + `}}, "message": {"text": "hi"}}`, "contact.attributes: 101 entries"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.with(t).do(request{method: "POST", path: path, body: tt.body, header: map[string]string{"Content-Type": "application/json"}}).mustStatus(t, http.StatusBadRequest)
			if code, msg := r.err(t); code != "invalid" || !strings.Contains(msg, tt.field) {
				t.Errorf("%s %q, want invalid naming %q", code, msg, tt.field)
			}
		})
	}
	if n := e.conversationCount(); n != 0 {
		t.Fatalf("refused messages opened %d conversations", n)
	}
	// At the cap, in characters not bytes: 4,096 two-byte characters pass.
	e.do(request{method: "POST", path: path, body: body("Ana", long(4096))}).mustStatus(t, http.StatusAccepted)
}

// manyKeys returns n JSON object members "k0": 1, "k1": 1, ...
func manyKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d": 1`, i)
	}
	return strings.Join(parts, ", ")
}

// conversationCount counts the conversations of the workspace.
func (e *env) conversationCount() int {
	e.t.Helper()
	var list struct {
		Conversations []conversationJSON `json:"conversations"`
	}
	e.do(request{method: "GET", path: "/api/v1/conversations?limit=500"}).mustStatus(e.t, http.StatusOK).json(e.t, &list)
	return len(list.Conversations)
}

// A channel's max_text replaces the 4,096 cap.
func TestMaxText(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{workspace: "channels:\n  - {id: api, kind: api, max_text: 10}\n"})
	send := func(text string) *response {
		return e.do(request{method: "POST", path: "/api/v1/channels/api/messages", body: inbound("u-1", "", text)})
	}
	send("0123456789").mustStatus(t, http.StatusAccepted)
	r := send("0123456789x").mustStatus(t, http.StatusBadRequest)
	if _, msg := r.err(t); !strings.Contains(msg, "message.text: 11 characters, more than the 10 allowed") {
		t.Errorf("message %q", msg)
	}
}

// The other routes are as strict: bodies, agents' texts, contacts, flow documents.
func TestStrictInputElsewhere(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	id := e.customer("u-1", "m-1", "I need a human")
	contact := e.conversation(id).ContactID
	for _, tt := range []struct {
		name  string
		as    string
		req   request
		field string
	}{
		{"run: trailing garbage", "", request{method: "POST", path: "/api/v1/flows/echo/runs", body: `{"contact": {"external_id": "u-2"}}}`}, "after its JSON object"},
		{"run: a long variable", "", request{method: "POST", path: "/api/v1/flows/echo/runs", body: map[string]any{"contact": map[string]string{"external_id": "u-2"}, "variables": map[string]any{"v": strings.Repeat("x", 5000)}}}, "variables.v: 5000 characters"},
		{"contact: NUL name", "", request{method: "PATCH", path: "/api/v1/contacts/" + contact, body: `{"name": "A\u0000na"}`}, "name: contains a NUL"},
		{"contact: a long tag", "", request{method: "PATCH", path: "/api/v1/contacts/" + contact, body: map[string]any{"tags": []string{strings.Repeat("t", 65)}}}, "tags[0]: 65 characters"},
		{"contact: null", "", request{method: "PATCH", path: "/api/v1/contacts/" + contact, body: `null`}, "must be a JSON object"},
		{"agent message: too long", "ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/messages", body: map[string]string{"text": strings.Repeat("a", 4097)}}, "text: 4097 characters"},
		{"note: too long", "ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/notes", body: map[string]string{"text": strings.Repeat("a", 10001)}}, "text: 10001 characters"},
		{"note: NUL", "ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + id + "/notes", body: `{"text": "a\u0000"}`}, "text: contains a NUL"},
		{"agent: a long name", "", request{method: "POST", path: "/api/v1/inbox/agents", body: map[string]any{"email": "x@acme.com", "password": "long enough", "name": strings.Repeat("n", 201)}}, "name: 201 characters"},
		{"login: trailing garbage", "", request{method: "POST", path: "/api/v1/inbox/login", noAuth: true, body: `{"email": "ana@acme.com", "password": "x"}]`}, "after its JSON object"},
		{"flow: NUL escape", "", request{method: "PUT", path: "/api/v1/flows/echo", body: "format: 1\nid: echo\nname: \"E\\0cho\"\nsteps: []\n", header: map[string]string{"Content-Type": "application/yaml"}}, "name: holds a NUL"},
		{"flow: invalid UTF-8", "", request{method: "PUT", path: "/api/v1/flows/echo", body: "format: 1\nid: echo\nname: caf\xe9\n", header: map[string]string{"Content-Type": "application/yaml"}}, "not valid UTF-8"},
		// A JSON flow document is one object, as every JSON body: YAML's parser took a stray
		// brace or a second document after it.
		{"flow: trailing brace", "", request{method: "POST", path: "/api/v1/flows", body: `{"format": 1, "id": "f2", "name": "F", "steps": []}}`, header: map[string]string{"Content-Type": "application/json"}}, "after its JSON object"},
		{"flow: a second object", "", request{method: "PUT", path: "/api/v1/flows/echo", body: `{"format": 1, "id": "echo", "steps": []} {}`, header: map[string]string{"Content-Type": "application/json"}}, "after its JSON object"},
		{"flow: a long name", "", request{method: "POST", path: "/api/v1/flows", body: "format: 1\nid: f4\nname: " + strings.Repeat("n", 201) + "\nsteps: []\n", header: map[string]string{"Content-Type": "application/yaml"}}, "name: 201 characters"},
		{"message: a lone surrogate", "", request{method: "POST", path: "/api/v1/channels/api/messages", body: `{"contact": {"external_id": "u-3"}, "message": {"text": "\udc00"}}`}, "message.text: holds \\udc00"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r *response
			if tt.as != "" {
				r = e.as(tt.as, tt.req)
			} else {
				r = e.do(tt.req)
			}
			r.mustStatus(t, http.StatusBadRequest)
			if code, msg := r.err(t); code != "invalid" || !strings.Contains(msg, tt.field) {
				t.Errorf("%s %q, want invalid naming %q", code, msg, tt.field)
			}
		})
	}
}
