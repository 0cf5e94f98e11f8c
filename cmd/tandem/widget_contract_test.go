package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem/channel/web"
)

// TestWidgetLoginKeepsTheStream: a visitor who logs in (Tandem.setUser with a valid hash)
// while the chat is open goes on receiving their conversation's messages on the stream they
// have open: it follows the user's conversations from then on.
func TestWidgetLoginKeepsTheStream(t *testing.T) {
	t.Parallel()
	_, _, base := widgetServer(t, nil)
	w := newVisitor(t, base, shopSite, nil)
	s := w.stream("")
	w.do("POST", "conversations", nil)
	s.next(t, "message", text("Hi! Welcome to Lumen & Co. How can we help?"))
	user := map[string]any{"externalId": "u-9", "hash": web.IdentityHash(widgetSecret, "u-9")}
	if a := w.do("POST", "sessions", map[string]any{"token": w.token, "origin": shopSite, "user": user}); a.body["verified"] != true {
		t.Fatalf("login: %d %v", a.status, a.body)
	}
	w.do("POST", "messages", map[string]any{"client_id": "c-1", "reply": map[string]any{"button_id": "human"}})
	s.next(t, "message", text("Sure. In a few words, what is it about?"))
}

// TestWidgetLocale: Tandem.setLocale sets the contact's language (the bot's own texts) and
// contact.locale.
func TestWidgetLocale(t *testing.T) {
	t.Parallel()
	c, data, base := widgetServer(t, nil)
	w := &widgetClient{t: t, base: base + "/widget/v1/web/"}
	a := w.do("POST", "sessions", map[string]any{"origin": shopSite, "locale": "pt"})
	w.token = a.body["token"].(string)
	admin := apiClient{t: t, base: base, token: c.token(t, data)}
	var contact struct {
		Language   string         `json:"language"`
		Attributes map[string]any `json:"attributes"`
	}
	admin.call("GET", "/api/v1/contacts/"+a.body["contact_id"].(string), nil, &contact)
	if contact.Language != "pt" || contact.Attributes["locale"] != "pt" {
		t.Errorf("a session in pt: contact %+v", contact)
	}
	if a := w.do("POST", "sessions", map[string]any{"token": w.token, "origin": shopSite, "locale": "es"}); a.status != 200 {
		t.Fatalf("setLocale: %d %v", a.status, a.body)
	}
	admin.call("GET", "/api/v1/contacts/"+a.body["contact_id"].(string), nil, &contact)
	if contact.Language != "es" || contact.Attributes["locale"] != "es" {
		t.Errorf("after setLocale(es): contact %+v", contact)
	}
}

// values returns n keys k0… with values of size characters of r.
func values(n, size int, r string) map[string]any {
	m := map[string]any{}
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = strings.Repeat(r, size)
	}
	return m
}

// TestWidgetValueLimits: attributes and variables take at most 50 keys ^[a-z][a-z0-9_]{0,63}$
// with values of at most 1024 characters (413 for too many or too long, 400 for a bad key or
// value); anything within the limits is taken, whatever its characters.
func TestWidgetValueLimits(t *testing.T) {
	t.Parallel()
	_, _, base := widgetServer(t, nil)
	w := newVisitor(t, base, shopSite, nil)
	w.do("POST", "conversations", nil)
	for _, tc := range []struct {
		name   string
		values map[string]any
		status int
	}{
		{"50 keys of 1024 emoji", values(50, 1024, "😀"), 204},
		{"50 keys of 1024 control characters", values(50, 1024, "\x01"), 204},
		{"51 keys", values(51, 1, "x"), 413},
		{"1025 characters", values(1, 1025, "é"), 413},
		{"a bad key", map[string]any{"Plan": "pro"}, 400},
		{"an object", map[string]any{"plan": map[string]any{"a": 1}}, 400},
	} {
		for _, target := range []string{"contact", "conversation"} {
			a := w.do("POST", "attributes", map[string]any{target: tc.values})
			if a.status != tc.status {
				t.Errorf("%s attributes, %s: %d %v, want %d", target, tc.name, a.status, a.body, tc.status)
			}
		}
		want := tc.status
		if want == 204 {
			want = 200
		}
		if a := w.do("POST", "sessions", map[string]any{"token": w.token, "origin": shopSite, "variables": tc.values}); a.status != want {
			t.Errorf("variables, %s: %d %v, want %d", tc.name, a.status, a.body, want)
		}
	}
}

// TestWidgetReset: Tandem.reset() forgets the session on the server: its token stops working
// and its open stream ends.
func TestWidgetReset(t *testing.T) {
	t.Parallel()
	_, _, base := widgetServer(t, nil)
	w := newVisitor(t, base, shopSite, nil)
	s := w.stream("")
	if a := w.do("DELETE", "sessions", nil); a.status != 204 {
		t.Fatalf("reset: %d %v", a.status, a.body)
	}
	if a := w.do("GET", "messages", nil); a.status != 401 {
		t.Errorf("the forgotten token: %d", a.status)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case _, open := <-s.events:
			if !open {
				return
			}
		case <-deadline:
			t.Fatal("the forgotten session's stream is still open after 20 s")
		}
	}
}

// TestWidgetEmailForHandoff: the e-mail a site gives for its visitor (Tandem.setEmail, or an
// unverified setUser) answers the e-mail question of a handoff to a desk that needs one: the
// visitor is not asked, and the desk gets the address. Without it the visitor is asked.
func TestWidgetEmailForHandoff(t *testing.T) {
	t.Parallel()
	established := make(chan string, 4)
	desk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Email string `json:"email"`
		}
		json.NewDecoder(r.Body).Decode(&m)
		if r.URL.Path == "/desk/conversation/establish" {
			established <- m.Email
		}
		w.Write([]byte(`{"code": 0, "message": "ok"}`))
	}))
	t.Cleanup(desk.Close)
	base := serveWorkspace(t, `http: {allow_private: true}
channels:
  - {id: web, kind: web, allowed_origins: ["`+shopSite+`"]}
desks:
  - {id: helpdesk, kind: webhook, url: "`+desk.URL+`/desk", secret: "desk-secret-0123456789"}
`, map[string]string{"human.yaml": `format: 1
id: human
trigger: {on: message, match: {contains: agent}}
steps:
  - {id: to_human, type: handoff, desk: helpdesk}
`})

	// Tandem.setEmail: the loader sends the e-mail as an unverified user.
	w := newVisitor(t, base, shopSite, nil)
	if a := w.do("POST", "sessions", map[string]any{"token": w.token, "origin": shopSite, "user": map[string]any{"email": "ana@site.example"}}); a.status != 200 || a.body["verified"] != false {
		t.Fatalf("setEmail: %d %v", a.status, a.body)
	}
	s := w.stream("")
	w.do("POST", "messages", map[string]any{"client_id": "c-1", "text": "an agent please"})
	s.next(t, "message", text("Connecting you with an agent. Please wait a moment."))
	select {
	case got := <-established:
		if got != "ana@site.example" {
			t.Errorf("the desk got the e-mail %q", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the desk was never given the handoff")
	}

	// No e-mail from the site: the visitor is asked.
	v := newVisitor(t, base, shopSite, nil)
	vs := v.stream("")
	v.do("POST", "messages", map[string]any{"client_id": "c-1", "text": "an agent please"})
	vs.next(t, "message", text("To connect you with an agent, please type your e-mail address."))
}

// serveWorkspace serves a workspace of the configuration's lines (after the workspace and its
// flows folder) and flows, and returns its address.
func serveWorkspace(t *testing.T, config string, flows map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "flows"), 0o700)
	cfg := "workspace: {name: Lumen, timezone: UTC, language: en}\nflows: ./flows\n" + config
	if err := os.WriteFile(filepath.Join(dir, "tandem.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, doc := range flows {
		if err := os.WriteFile(filepath.Join(dir, "flows", name), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, base := cli{env: map[string]string{}}.serve(t, "--config", filepath.Join(dir, "tandem.yaml"), "--data", filepath.Join(dir, "data"))
	return base
}

// TestWidgetIdentityRequired: on a channel with identity_required, a wrong hash is refused
// (401 identity_invalid) and changes nothing; an anonymous visitor may open a session (the
// frame asks them to log in) but not write (403 identity_required); a valid hash lets them.
func TestWidgetIdentityRequired(t *testing.T) {
	t.Parallel()
	base := serveWorkspace(t, `channels:
  - {id: web, kind: web, allowed_origins: ["`+shopSite+`"], identity_secret: "`+widgetSecret+`", identity_required: true}
`, map[string]string{"greet.yaml": "format: 1\nid: greet\ntrigger: {on: conversation_start}\nsteps:\n  - {id: hi, type: message, text: Hello.}\n"})
	w := newVisitor(t, base, shopSite, nil)
	a := w.do("POST", "sessions", map[string]any{"token": w.token, "origin": shopSite})
	if a.status != 200 || a.body["identity_required"] != true || a.body["verified"] != false {
		t.Fatalf("an anonymous session: %d %v", a.status, a.body)
	}
	for _, path := range []string{"conversations", "messages"} {
		if a := w.do("POST", path, map[string]any{"client_id": "c-1", "text": "hello"}); a.status != 403 || errCode(a) != "identity_required" {
			t.Errorf("POST %s, anonymous: %d %v, want 403 identity_required", path, a.status, a.body)
		}
	}
	forged := map[string]any{"externalId": "u-42", "hash": strings.Repeat("0", 64), "email": "ana@example.com"}
	if a := w.do("POST", "sessions", map[string]any{"token": w.token, "origin": shopSite, "user": forged}); a.status != 401 || errCode(a) != "identity_invalid" {
		t.Errorf("a wrong hash: %d %v, want 401 identity_invalid", a.status, a.body)
	}
	if a := w.do("POST", "sessions", map[string]any{"token": w.token, "origin": shopSite}); a.body["verified"] != false || a.body["token"] != w.token {
		t.Errorf("after a wrong hash the session changed: %v", a.body)
	}
	good := map[string]any{"externalId": "u-42", "hash": web.IdentityHash(widgetSecret, "u-42")}
	if a := w.do("POST", "sessions", map[string]any{"token": w.token, "origin": shopSite, "user": good}); a.status != 200 || a.body["verified"] != true {
		t.Fatalf("a valid hash: %d %v", a.status, a.body)
	}
	if a := w.do("POST", "messages", map[string]any{"client_id": "c-2", "text": "hello"}); a.status != 202 {
		t.Errorf("a verified visitor's message: %d %v", a.status, a.body)
	}
}
