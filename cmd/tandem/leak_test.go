package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk/webhook"
	"github.com/tandemchat/tandem/internal/seal"
)

// The known secrets of TestSecretsNeverLeak: each a value no other text contains.
var leakSecrets = map[string]string{
	"config secret SHOP_KEY":            "shopkey-Canary-4b1e7d",
	"stored secret CRM_TOKEN":           "crmtoken-Canary-90af3c",
	"stored desk credential":            "refresh-Canary-77de01",
	"stored secret UNUSED":              "unused-Canary-0be5a4",
	"provider api_key":                  "sk-providerCanary-e2c8a9f1",
	"channel secret":                    "channel-Canary-31f0b6",
	"desk secret":                       "desksecret-Canary-5a9e12",
	"desk password":                     "deskpass-Canary-c4d7f0",
	"TANDEM_SECRET_KEY":                 "", // filled in by the test
	"an agent's password":               "agentpass-Canary-19bb72",
	"the Basic credentials of the desk": "", // base64("u:<desk password>"), filled in below
}

// leakFlow uses the workspace secrets in an http call's URL, headers and body (the server it
// calls echoes them all back in an error), then an AI call whose provider echoes its key in
// an error, then hands the conversation to the webhook desk.
func leakFlow(base string) string {
	return `format: 1
id: leak
name: Leak
trigger: {on: message, match: any}
steps:
  - id: shop
    type: http
    method: POST
    url: "` + base + `/shop?key={{secret.SHOP_KEY}}&crm={{secret.CRM_TOKEN}}"
    headers: {X-Key: "{{secret.CRM_TOKEN}}", Authorization: "Bearer {{secret.SHOP_KEY}}"}
    body: {json: {token: "{{secret.CRM_TOKEN}}", key: "{{secret.SHOP_KEY}}"}}
    on_error: ask_ai
  - id: ask_ai
    type: llm
    provider: openai
    prompt: "{{message.text}}"
    on_error: human
  - {id: said, type: message, text: "the AI said {{step.ask_ai.text}}"}
  - id: human
    type: handoff
    desk: desk
    require_email: never
    next: done
  - {id: done, type: message, text: "back with the bot"}
`
}

// leakWorld is everything the server talks to: the shop API, the AI provider, the help desk
// and the business's outbound endpoint. Each echoes back what it was sent, in errors, as a
// careless server does.
type leakWorld struct {
	mu       sync.Mutex
	sessions []string // handoff ids the desk was given
	changed  chan struct{}
}

func (w *leakWorld) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch {
	case strings.HasPrefix(r.URL.Path, "/shop"):
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(rw).Encode(map[string]any{"error": "rejected", "query": r.URL.RawQuery,
			"x_key": r.Header.Get("X-Key"), "authorization": r.Header.Get("Authorization"), "body": string(body)})
	case r.URL.Path == "/v1/chat/completions":
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(rw, `{"error": {"message": "Incorrect API key provided: %s", "type": "invalid_request_error", "code": "invalid_api_key"}}`,
			strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	case strings.HasPrefix(r.URL.Path, "/desk/"):
		var m struct {
			ConversationID string `json:"conversation_id"`
		}
		json.Unmarshal(body, &m)
		if r.URL.Path == "/desk/conversation/establish" {
			w.mu.Lock()
			w.sessions = append(w.sessions, m.ConversationID)
			close(w.changed)
			w.changed = make(chan struct{})
			w.mu.Unlock()
		}
		rw.Write([]byte(`{"code": 0, "message": "ok"}`))
	default: // the outbound URL of the API channel
		rw.WriteHeader(http.StatusOK)
	}
}

// session waits for the desk to be given a handoff.
func (w *leakWorld) session(t *testing.T, p *process, state func() string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		w.mu.Lock()
		n, changed := len(w.sessions), w.changed
		var s string
		if n > 0 {
			s = w.sessions[n-1]
		}
		w.mu.Unlock()
		if s != "" {
			return s
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the desk was never given the handoff:\n%s\n%s", state(), p.stderr.String())
		}
	}
}

// Secrets stay secret (DESIGN invariant 7): a workspace whose configuration, database and
// environment hold known secrets runs a conversation through an http step, an AI step and a
// handoff to the webhook desk — each failing in a way that echoes the secret back — with desk
// callbacks good and bad, an agent's login, and failed logins. No log line (at debug level),
// no API answer (every GET route of a resource the run made), no trace, no metric, and no byte
// of the database holds any of the values, in clear or in the forms a secret travels in (URL,
// JSON or base64 encoded).
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	world := &leakWorld{changed: make(chan struct{})}
	srv := httptest.NewServer(world)
	t.Cleanup(srv.Close)

	secrets := map[string]string{}
	for k, v := range leakSecrets {
		secrets[k] = v
	}
	key := seal.NewKeyText()
	secrets["TANDEM_SECRET_KEY"] = key
	secrets["the Basic credentials of the desk"] = base64.StdEncoding.EncodeToString([]byte("u:" + secrets["desk password"]))

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(filepath.Join(dir, "flows"), 0o700)
	cfg := fmt.Sprintf(`workspace: {name: Leak}
flows: ./flows
http: {allow_private: true}
secrets:
  SHOP_KEY: "${SHOP_KEY}"
providers:
  - {id: openai, kind: openai, api_key: "${OPENAI_KEY}", base_url: %q, model: gpt-4o-mini}
channels:
  - {id: api, kind: api, outbound_url: %q, secret: "${API_SECRET}"}
desks:
  - {id: desk, kind: webhook, url: %q, username: u, password: "${DESK_PASS}", secret: "${DESK_SECRET}"}
agents:
  - {email: ana@acme.com, name: Ana, role: admin}
`, srv.URL+"/v1", srv.URL+"/outbound", srv.URL+"/desk")
	os.WriteFile(filepath.Join(dir, "tandem.yaml"), []byte(cfg), 0o600)
	os.WriteFile(filepath.Join(dir, "flows", "leak.yaml"), []byte(leakFlow(srv.URL)), 0o600)

	env := map[string]string{
		"TANDEM_SECRET_KEY": key, "SHOP_KEY": secrets["config secret SHOP_KEY"], "OPENAI_KEY": secrets["provider api_key"],
		"API_SECRET": secrets["channel secret"], "DESK_PASS": secrets["desk password"], "DESK_SECRET": secrets["desk secret"],
	}
	// Every value the configuration itself counts as a secret (config.SecretValues, which the
	// masking of printed configurations follows) is searched for too.
	parsed, err := config.Parse(filepath.Join(dir, "tandem.yaml"), []byte(cfg), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	for where, v := range parsed.SecretValues() {
		secrets["the configuration's "+where] = v
	}
	if len(parsed.SecretValues()) < 5 {
		t.Fatalf("the configuration holds %d secrets, want at least 5: %v", len(parsed.SecretValues()), parsed)
	}
	var logs bytes.Buffer // every command's output
	run := func(stdin string, args ...string) result {
		t.Helper()
		r := cli{env: env, stdin: stdin}.run(t, args...)
		logs.WriteString(r.stdout + r.stderr)
		if r.code != 0 {
			t.Fatalf("%q: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		return r
	}
	run(secrets["stored secret CRM_TOKEN"], "secret", "set", "CRM_TOKEN", "--data", data)
	run(secrets["stored desk credential"], "secret", "set", "--scope", "desk:desk", "refresh_token", "--data", data)
	run(secrets["stored secret UNUSED"], "secret", "set", "UNUSED", "--data", data)
	run(secrets["an agent's password"]+"\n", "agent", "create", "--email", "bob@acme.com", "--role", "admin", "--password-stdin", "--config", filepath.Join(dir, "tandem.yaml"), "--data", data)
	token := cli{env: env}.token(t, data)

	p, base := cli{env: env}.serve(t, "--config", filepath.Join(dir, "tandem.yaml"), "--data", data, "--log-level", "debug")
	var answers bytes.Buffer // every API answer
	call := func(method, path, auth string, hdr map[string]string, body string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(&answers, "%s %s → %d %v\n%s\n", method, path, resp.StatusCode, resp.Header, b)
		return resp.StatusCode, string(b)
	}
	bearer := "Bearer " + token

	// The conversation: the http step fails (echoing the secrets), the AI step fails (echoing
	// its key), the handoff goes to the desk.
	_, ack := call("POST", "/api/v1/channels/api/messages", bearer, nil, `{"contact": {"external_id": "u-1"}, "message": {"id": "m-1", "text": "hello"}}`)
	var out struct {
		ConversationID string `json:"conversation_id"`
	}
	json.Unmarshal([]byte(ack), &out)
	conv := out.ConversationID
	if conv == "" {
		t.Fatalf("the message was not accepted: %s", ack)
	}
	session := world.session(t, p, func() string {
		_, c := call("GET", "/api/v1/conversations/"+conv, bearer, nil, "")
		var cj struct {
			ActiveRun *struct{ ID string } `json:"active_run"`
			LastRun   *struct{ ID string } `json:"last_run"`
		}
		json.Unmarshal([]byte(c), &cj)
		run := cj.ActiveRun
		if run == nil {
			run = cj.LastRun
		}
		if run == nil {
			return c
		}
		_, r := call("GET", "/api/v1/runs/"+run.ID, bearer, nil, "")
		return c + "\n" + r
	})

	// The desk's callbacks: wrong credentials, then a good agent message and a close.
	hook := "/hooks/desk/desk"
	msg := fmt.Sprintf(`{"conversation_id": %q, "timestamp": %d, "body": "Hi, Ana here", "message_id": "d-1"}`, session, time.Now().UnixMilli())
	call("POST", hook+"/message/receive", "Bearer wrong-"+secrets["desk secret"], nil, msg)
	call("POST", hook+"/message/receive", "", map[string]string{webhook.SignatureHeader: "sha256=00"}, msg)
	if st, b := call("POST", hook+"/message/receive", "Bearer "+secrets["desk secret"], nil, msg); st != 200 {
		t.Fatalf("agent message: %d %s", st, b)
	}
	closeBody := fmt.Sprintf(`{"conversation_id": %q, "timestamp": %d, "reason": "resolved"}`, session, time.Now().UnixMilli())
	if st, b := call("POST", hook+"/close", "", map[string]string{webhook.SignatureHeader: webhook.Sign(secrets["desk secret"], []byte(closeBody))}, closeBody); st != 200 {
		t.Fatalf("desk close: %d %s", st, b)
	}
	// Logins: a wrong password, then the right one.
	call("POST", "/api/v1/inbox/login", "", nil, fmt.Sprintf(`{"email": "bob@acme.com", "password": "x%s"}`, secrets["an agent's password"]))
	_, login := call("POST", "/api/v1/inbox/login", "", nil, fmt.Sprintf(`{"email": "bob@acme.com", "password": %q}`, secrets["an agent's password"]))
	// A wrong token that looks like a secret.
	call("GET", "/api/v1/flows", "Bearer "+secrets["provider api_key"], nil, "")

	// Wait for the conversation to come back to the bot after the desk's close.
	api := apiClient{t: t, base: base, token: token}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var c struct {
			LastRun *struct {
				Status string `json:"status"`
			} `json:"last_run"`
			ActiveRun *struct{} `json:"active_run"`
		}
		api.call("GET", "/api/v1/conversations/"+conv, nil, &c)
		if c.ActiveRun == nil && c.LastRun != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not end after the desk closed:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Every GET of what the run made, and every listing.
	var conversation struct {
		ContactID string `json:"contact_id"`
		LastRun   struct {
			ID string `json:"id"`
		} `json:"last_run"`
	}
	_, b := call("GET", "/api/v1/conversations/"+conv, bearer, nil, "")
	json.Unmarshal([]byte(b), &conversation)
	_, trace := call("GET", "/api/v1/runs/"+conversation.LastRun.ID, bearer, nil, "")
	for _, want := range []string{`"step":"shop"`, `"step":"ask_ai"`, "Incorrect API key provided", `"step":"human"`} {
		if !strings.Contains(trace, want) {
			t.Errorf("the trace lacks %s (the scenario did not run as planned):\n%s", want, trace)
		}
	}
	var session2 struct {
		Token string `json:"token"`
	}
	json.Unmarshal([]byte(login), &session2)
	for _, path := range []string{
		"/api/v1/conversations", "/api/v1/conversations/" + conv, "/api/v1/conversations/" + conv + "/messages",
		"/api/v1/contacts/" + conversation.ContactID, "/api/v1/flows", "/api/v1/flows/leak", "/api/v1/flows/leak/versions",
		"/api/v1/flows/leak/analytics", "/api/v1/inbox/conversations", "/api/v1/inbox/agents", "/api/v1/inbox/teams",
		"/api/v1/inbox/conversations/" + conv + "/notes", "/api/v1/openapi.json", "/metrics", "/readyz", "/healthz",
	} {
		call("GET", path, bearer, nil, "")
	}
	if session2.Token != "" {
		call("GET", "/api/v1/inbox/conversations?status=assigned", "Bearer "+session2.Token, nil, "")
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exit %d", code)
	}
	logs.WriteString(p.stdout.String() + p.stderr.String())

	var files bytes.Buffer // the data folder, less the key file kept there on purpose
	entries, _ := os.ReadDir(data)
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(data, e.Name())); err == nil {
			files.Write(b)
		}
	}
	// The secrets the database keeps are sealed there, so are those the flow sends while their
	// call waits in the outbox, and what a server echoes back is masked before it is stored:
	// no value the server knows is in its files.
	atRest := map[string]bool{"stored desk credential": true, "stored secret UNUSED": true, "TANDEM_SECRET_KEY": true, "an agent's password": true,
		"stored secret CRM_TOKEN": true, "config secret SHOP_KEY": true, "provider api_key": true, "channel secret": true, "desk secret": true, "desk password": true,
		"the Basic credentials of the desk": true}
	if _, err := os.Stat(filepath.Join(data, "secret.key")); err == nil {
		t.Error("a key file was written although TANDEM_SECRET_KEY is set")
	}
	for what, value := range secrets {
		places := map[string]string{"a log line": logs.String(), "an API answer, trace or metric": answers.String()}
		if atRest[what] {
			places["the database files"] = files.String()
		}
		for where, text := range places {
			for _, form := range secretForms(value) {
				if i := strings.Index(text, form); i >= 0 {
					t.Errorf("%s appears in %s: …%s…", what, where, excerpt(text, i, len(form)))
				}
			}
		}
	}
	if t.Failed() {
		t.Logf("logs:\n%s", logs.String())
	}
	// Not vacuous: the checks see the places they search.
	if !strings.Contains(answers.String(), "tandem_turns_total") || !regexp.MustCompile(`level=DEBUG|level=INFO`).MatchString(logs.String()) {
		t.Error("the collected logs or answers are empty: the test checks nothing")
	}
}

// secretForms are the ways a secret may be written: as is, URL-encoded (query, path), JSON
// escaped, base64 (standard and URL alphabets).
func secretForms(v string) []string {
	j, _ := json.Marshal(v)
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v), string(j[1 : len(j)-1]),
		base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v))}
	out := forms[:0]
	seen := map[string]bool{}
	for _, f := range forms {
		if len(f) >= 8 && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

func excerpt(s string, i, n int) string {
	from, to := max(0, i-120), min(len(s), i+n+120)
	return s[from:to]
}
