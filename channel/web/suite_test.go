package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/channel/channeltest"
	"github.com/tandemchat/tandem/channel/web"
	"github.com/tandemchat/tandem/workspace"
)

const identitySecret = "widget-identity-secret-do-not-leak"

// The web widget runs the parts of the behaviour suite that apply to it: a visitor's messages
// (posted with the session the server issued, as the frame does) are stored normalised and
// once per client_id, and a request without a valid session is 401 and stores nothing; the
// identity secret never shows. The parts about a messaging platform do not apply: the widget
// has none (see Skip).
func TestSuite(t *testing.T) {
	t.Parallel()
	body := func(s string) []byte { return []byte(s) }
	channeltest.Run(t, &channeltest.Suite{
		Config:  channel.Config{ID: "web", Kind: web.Kind, IdentitySecret: identitySecret, AllowedOrigins: []string{"https://shop.example"}},
		Secrets: []string{identitySecret},
		Hook:    "/widget/v1/web/messages",
		Start:   openSession,
		Incoming: []channeltest.Incoming{
			{Name: "text", Body: body(`{"client_id": "c-1", "text": "hello"}`),
				Want: []channeltest.Want{{ExternalID: "u-42", Name: "Ana", Type: "text", Text: "hello"}}},
			{Name: "text trimmed", Body: body(`{"client_id": "c-2", "text": "  where is my order?  "}`),
				Want: []channeltest.Want{{ExternalID: "u-42", Type: "text", Text: "where is my order?"}}},
			{Name: "unicode", Body: body(`{"client_id": "c-3", "text": "Olá 👋 ação"}`),
				Want: []channeltest.Want{{Type: "text", Text: "Olá 👋 ação"}}},
		},
		Forgeries: map[string]func(r *http.Request){
			"no session":       func(r *http.Request) { r.Header.Del("Authorization") },
			"an unknown token": func(r *http.Request) { r.Header.Set("Authorization", "Bearer bm90LWEtc2Vzc2lvbi10b2tlbi1hdC1hbGw") },
			"another scheme": func(r *http.Request) {
				r.Header.Set("Authorization", "Basic "+r.Header.Get("Authorization")[len("Bearer "):])
			},
			"an empty bearer":     func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") },
			"the identity secret": func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+identitySecret) },
		},
		Skip: map[string]string{
			// A visitor's session that expired or was forgotten is routine (the frame opens a
			// new one), not an operator's wrong secret: the 401 says what to do, no log line.
			"forged.logged": "a refused widget session is the visitor's, not a misconfiguration",
			// The frame reads messages where they are stored (the channel sends inline):
			// nothing reports delivery, nothing is sent to a platform that could throttle or
			// refuse it. The JSON the frame reads is the widget contract's, checked by the
			// widget contract tests of cmd/tandem.
			"statuses": "the widget has no platform to report delivery: the frame reads the stored messages",
			"outgoing": "the widget sends nothing to a platform: the frame reads the stored messages (InlineSender)",
			"errors":   "the widget has no platform that could throttle or refuse a send",
			"retried":  "the widget has no platform that could throttle or refuse a send",
		},
	})
}

// openSession wires the channel to the env's database, as tandem serve does, and opens a
// visitor's session as the frame does, with the identity the site signed; payloads are then
// posted with its token.
func openSession(e *channeltest.Env) {
	wc := e.Channel.(*web.Channel)
	wc.SetBackend(&workspace.WidgetBackend{DB: e.DB, Runner: e.Runner}, 0)
	e.T.Cleanup(wc.Close)
	req, _ := json.Marshal(map[string]any{"origin": "https://shop.example",
		"user": map[string]string{"externalId": "u-42", "name": "Ana", "hash": web.IdentityHash(identitySecret, "u-42")}})
	resp, err := http.Post(e.API.URL+"/widget/v1/web/sessions", "application/json", bytes.NewReader(req))
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Token    string `json:"token"`
		Verified bool   `json:"verified"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusOK || s.Token == "" || !s.Verified {
		e.T.Fatalf("opening a session: %d %+v %v", resp.StatusCode, s, err)
	}
	e.Sign = func(r *http.Request, _ []byte) { r.Header.Set("Authorization", "Bearer "+s.Token) }
}
