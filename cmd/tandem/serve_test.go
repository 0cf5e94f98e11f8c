package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem/store/storetest"
)

// output is an io.Writer tests read while a command runs: every write wakes those waiting for
// a pattern.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// wait returns the first match of re in the output, waiting for it up to d.
func (o *output) wait(tb testing.TB, re *regexp.Regexp, d time.Duration) []string {
	tb.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		m := re.FindStringSubmatch(o.buf.String())
		changed := o.changed
		o.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("no %q in the output after %s:\n%s", re, d, o.String())
		}
	}
}

// cli runs tandem commands in the process with their own streams and environment.
type cli struct {
	env map[string]string
	// stdin is the commands' standard input.
	stdin string
}

// result is a finished command.
type result struct {
	code           int
	stdout, stderr string
}

func (c cli) main(stdout, stderr io.Writer) *Main {
	m := NewMain(strings.NewReader(c.stdin), stdout, stderr)
	m.Getenv = func(k string) string { return c.env[k] }
	return m
}

// run runs a command to its end.
func (c cli) run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := c.main(&out, &errOut).Run(ctx, args)
	return result{code, out.String(), errOut.String()}
}

// process is a command running in the background (serve, demo).
type process struct {
	stdout, stderr *output
	cancel         context.CancelFunc
	done           chan int
}

// start runs a long-running command until stop.
func (c cli) start(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{stdout: newOutput(), stderr: newOutput(), done: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	m := c.main(p.stdout, p.stderr)
	go func() { p.done <- m.Run(ctx, args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Error("the command did not stop within 30s")
		}
	})
	return p
}

// stop cancels the command's context (as SIGTERM does) and returns its exit code.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	p.cancel()
	return p.exit(t)
}

// exit waits for the command to end.
func (p *process) exit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-p.done:
		p.done <- code // for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("the command did not end within 30s; stderr:\n%s", p.stderr.String())
		return -1
	}
}

var servingRE = regexp.MustCompile(`msg="tandem is serving" addr=(\S+)`)

// serve starts `tandem serve` with args and returns its base URL once it listens.
func (c cli) serve(t *testing.T, args ...string) (*process, string) {
	t.Helper()
	p := c.start(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	m := p.stderr.wait(t, regexp.MustCompile(servingRE.String()+`|tandem: .*`), 30*time.Second)
	if m[1] == "" {
		t.Fatalf("serve failed: %s", m[0])
	}
	return p, "http://" + m[1]
}

// apiClient calls a server's API with a token.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c apiClient) call(method, path string, body any, out any) int {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	if resp.StatusCode >= 300 {
		c.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// say sends a customer message on the API channel "api" and returns the conversation id.
func (c apiClient) say(external, id, text string) (conversationID, messageID string) {
	c.t.Helper()
	var out struct {
		ConversationID string `json:"conversation_id"`
		MessageID      string `json:"message_id"`
	}
	body := map[string]any{"contact": map[string]any{"external_id": external, "name": "Ana Souza"}, "message": map[string]any{"id": id, "text": text}}
	if st := c.call("POST", "/api/v1/channels/api/messages", body, &out); st != http.StatusAccepted {
		c.t.Fatalf("message answered %d, want 202", st)
	}
	return out.ConversationID, out.MessageID
}

// awaitBot long-polls the conversation after a message until n bot messages came or the
// deadline passes, and returns their texts.
func (c apiClient) awaitBot(conv, after string, n int) []string {
	c.t.Helper()
	var got []string
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		var page struct {
			Messages []struct {
				Author string `json:"author"`
				Text   string `json:"text"`
			} `json:"messages"`
			NextCursor string `json:"next_cursor"`
		}
		if st := c.call("GET", "/api/v1/conversations/"+conv+"/messages?wait=5s&after="+after, nil, &page); st != http.StatusOK {
			c.t.Fatalf("messages answered %d", st)
		}
		for _, m := range page.Messages {
			if m.Author == "bot" {
				got = append(got, m.Text)
			}
		}
		after = page.NextCursor
	}
	if len(got) < n {
		c.t.Fatalf("got bot messages %q, want %d", got, n)
	}
	return got
}

var tokenRE = regexp.MustCompile(`(?m)^(tdm_[a-z0-9]+)$`)

// token mints a token for the data folder with `tandem token create`.
func (c cli) token(t *testing.T, data string) string {
	t.Helper()
	r := c.run(t, "token", "create", "--data", data)
	m := tokenRE.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("token create: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	return m[1]
}

// writeWorkspace writes a tandem.yaml with an API channel and a flows folder holding the files.
func writeWorkspace(t *testing.T, flows map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "flows"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "workspace: {name: Test}\nflows: ./flows\nchannels:\n  - {id: api, kind: api}\nhttp: {allow_private: true}\n"
	if err := os.WriteFile(filepath.Join(dir, "tandem.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, src := range flows {
		if err := os.WriteFile(filepath.Join(dir, "flows", name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "tandem.yaml")
}

const echoFlow = `format: 1
id: echo
name: Echo
trigger: {on: message, match: any}
steps:
  - id: hello
    type: message
    text: "You said: {{message.text}}"
  - id: ask
    type: question
    text: "What is your e-mail?"
    answer: email
  - id: thanks
    type: message
    text: "Thanks, {{step.ask}}."
`

// slowFlow calls url, which answers when the test lets it.
func slowFlow(url string) string {
	return `format: 1
id: slow
name: Slow
trigger: {on: message, match: {contains: slow}, priority: 10}
steps:
  - id: call
    type: http
    method: GET
    url: "` + url + `"
    timeout: 60s
  - id: done
    type: message
    text: "Slow done: {{step.call.response.ok}}"
`
}

// `tandem serve` end to end: the flows folder is published, a message in gets the bot's answer
// out; stopping (the context, as SIGTERM) finishes the turn in flight and exits 0; after a
// restart on the same data folder the conversation continues where it was.
func TestServe(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			if store == "postgres" {
				env["TANDEM_DATABASE_URL"] = storetest.PostgresURL(t) // skips without TANDEM_TEST_POSTGRES_URL
			}
			testServe(t, cli{env: env})
		})
	}
}

func testServe(t *testing.T, c cli) {
	// The slow call blocks until released; it tells when it has arrived.
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": "yes"}`)
	}))
	t.Cleanup(slow.Close)
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})

	cfg := writeWorkspace(t, map[string]string{"echo.yaml": echoFlow, "slow.yaml": slowFlow(slow.URL)})
	data := filepath.Join(t.TempDir(), "data")
	token := c.token(t, data)

	p, base := c.serve(t, "--config", cfg, "--data", data)
	api := apiClient{t: t, base: base, token: token}
	conv, in := api.say("u-1", "m-1", "hello")
	if got, want := api.awaitBot(conv, in, 2), []string{"You said: hello", "What is your e-mail?"}; !slices.Equal(got, want) {
		t.Errorf("bot said %q, want %q", got, want)
	}
	p.stderr.wait(t, regexp.MustCompile(`flow published.*flow=echo`), time.Second)

	// A turn in flight: another customer's slow call has started.
	slowConv, _ := api.say("u-2", "m-2", "slow please")
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the slow call never arrived")
	}
	p.cancel()
	// The server stops taking requests, then waits for the call.
	waitRefused(t, base)
	select {
	case code := <-p.done:
		t.Fatalf("serve exited (%d) before the call in flight finished", code)
	default:
	}
	close(release)
	released = true
	if code := p.exit(t); code != 0 {
		t.Fatalf("serve exited %d after a stop, want 0; stderr:\n%s", code, p.stderr.String())
	}

	// Restart on the same data folder: the waiting question takes the answer, and the slow
	// call's result is carried on.
	p2, base2 := c.serve(t, "--config", cfg, "--data", data)
	api2 := apiClient{t: t, base: base2, token: token}
	conv2, in2 := api2.say("u-1", "m-3", "ana@acme.com")
	if conv2 != conv {
		t.Errorf("after a restart the customer's message opened conversation %s, want %s", conv2, conv)
	}
	if got, want := api2.awaitBot(conv, in2, 1), []string{"Thanks, ana@acme.com."}; !slices.Equal(got, want) {
		t.Errorf("after a restart the bot said %q, want %q", got, want)
	}
	if got, want := api2.awaitBot(slowConv, "", 1), []string{"Slow done: yes"}; !slices.Equal(got, want) {
		t.Errorf("the call in flight at the stop led to %q, want %q", got, want)
	}
	if code := p2.stop(t); code != 0 {
		t.Errorf("second serve exited %d, want 0", code)
	}
}

// waitRefused waits until nothing listens at base any more.
func waitRefused(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return
		}
		resp.Body.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the server still answers 20s after the stop")
}

// `tandem serve` refuses to start on a flows folder with errors, naming them: exit 1.
func TestServeInvalidFlows(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{}}
	cfg := writeWorkspace(t, map[string]string{"bad.yaml": "format: 1\nid: bad\nsteps:\n  - {id: a, type: message, text: hi, next: nowhere}\n"})
	r := c.run(t, "serve", "--config", cfg, "--data", t.TempDir(), "--addr", "127.0.0.1:0")
	if r.code != 1 || !strings.Contains(r.stderr, "bad.yaml") || !strings.Contains(r.stderr, "nowhere") {
		t.Errorf("exit %d, stderr %q; want 1 naming the file and the bad next", r.code, r.stderr)
	}
}

// `tandem migrate` is idempotent; `tandem token create` mints a token the server accepts.
func TestMigrateAndToken(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{}}
	data := t.TempDir()
	var versions []string
	for range 2 {
		r := c.run(t, "migrate", "--data", data)
		if r.code != 0 {
			t.Fatalf("migrate: exit %d: %s", r.code, r.stderr)
		}
		versions = append(versions, r.stdout)
	}
	if versions[0] != versions[1] || !strings.HasPrefix(versions[0], "database schema at version ") {
		t.Errorf("migrate twice printed %q", versions)
	}
	a, b := c.token(t, data), c.token(t, data)
	if a == b {
		t.Error("two tokens are the same")
	}
	r := c.run(t, "token", "create", "--name", "ci", "--data", data)
	if r.code != 0 || !tokenRE.MatchString(r.stdout) || !strings.Contains(r.stderr, "only its hash is stored") {
		t.Errorf("token create --name: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	p, base := c.serve(t, "--data", data)
	for _, tok := range []string{a, b} {
		if st := (apiClient{t: t, base: base, token: tok}).call("GET", "/api/v1/flows", nil, nil); st != http.StatusOK {
			t.Errorf("a minted token: status %d", st)
		}
	}
	if st := (apiClient{t: t, base: base, token: "tdm_nope"}).call("GET", "/api/v1/flows", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("an unknown token: status %d", st)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exited %d", code)
	}
}

// `tandem token list` shows the tokens (never the tokens themselves) and `tandem token revoke`
// ends one: the server refuses it.
func TestTokenListRevoke(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{}}
	data := t.TempDir()
	keep := c.token(t, data)
	r := c.run(t, "token", "create", "--name", "ci", "--expires", "90d", "--data", data)
	if r.code != 0 {
		t.Fatalf("token create --expires: exit %d: %s", r.code, r.stderr)
	}
	gone := strings.TrimSpace(r.stdout)
	r = c.run(t, "token", "list", "--data", data)
	if r.code != 0 || strings.Contains(r.stdout, keep) || strings.Contains(r.stdout, gone) {
		t.Fatalf("token list: exit %d, stdout %q", r.code, r.stdout)
	}
	var ciID string
	for _, l := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == "ci" {
			ciID = f[0]
			if !strings.Contains(l, " api ") || strings.Count(l, "never") != 1 || !strings.HasSuffix(strings.TrimSpace(l), "live") {
				t.Errorf("the ci token's line: %q (want kind api, never used, an expiry, live)", l)
			}
		}
	}
	if ciID == "" {
		t.Fatalf("token list does not show ci:\n%s", r.stdout)
	}
	if r := c.run(t, "token", "revoke", ciID, "--data", data); r.code != 0 {
		t.Fatalf("token revoke: exit %d: %s", r.code, r.stderr)
	}
	if r := c.run(t, "token", "revoke", ciID, "--data", data); r.code != 1 || !strings.Contains(r.stderr, "already revoked") {
		t.Errorf("revoking twice: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := c.run(t, "token", "list", "--data", data); strings.Contains(r.stdout, ciID) {
		t.Errorf("a revoked token is listed without --all:\n%s", r.stdout)
	}
	if r := c.run(t, "token", "list", "--all", "--data", data); !strings.Contains(r.stdout, "revoked") {
		t.Errorf("token list --all does not show the revoked token:\n%s", r.stdout)
	}
	p, base := c.serve(t, "--data", data)
	if st := (apiClient{t: t, base: base, token: gone}).call("GET", "/api/v1/flows", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("a revoked token: status %d", st)
	}
	if st := (apiClient{t: t, base: base, token: keep}).call("GET", "/api/v1/flows", nil, nil); st != http.StatusOK {
		t.Errorf("the other token: status %d", st)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exited %d", code)
	}
}

// `tandem flow push/publish/list/pull` against a running server. pull writes into the current
// folder, so this test changes it and cannot run in parallel.
func TestFlowClient(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	data := filepath.Join(dir, "data")
	c := cli{env: map[string]string{}}
	token := c.token(t, data)
	p, base := c.serve(t, "--data", data)
	c.env["TANDEM_URL"], c.env["TANDEM_TOKEN"] = base, token

	greet := "format: 1\nid: greet\nname: Greet\ntrigger: {on: message, match: {contains: hi}}\nsteps:\n  - {id: hello, type: message, text: \"Hello!\"}\n"
	bad := "format: 1\nid: bad\nsteps:\n  - {id: a, type: message, text: hi, next: nowhere}\n"
	for name, src := range map[string]string{"src/greet.yaml": greet, "src/bad.yaml": bad, "src/broken.yaml": "format: 1\nid: [\n"} {
		os.MkdirAll(filepath.Dir(name), 0o700)
		if err := os.WriteFile(name, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // a regular expression the output matches
		stderr string
	}{
		{"push", []string{"flow", "push", "src/greet.yaml", "src/bad.yaml"}, 0, `src/greet.yaml: pushed draft greet\nsrc/bad.yaml: pushed draft bad`, ""},
		{"push a file that does not parse", []string{"flow", "push", "src/broken.yaml"}, 1, "", `broken.yaml`},
		{"publish", []string{"flow", "publish", "greet"}, 0, `greet: version 1`, ""},
		{"publish unchanged", []string{"flow", "publish", "greet"}, 0, `greet: version 1`, ""},
		{"publish with errors", []string{"flow", "publish", "bad"}, 1, "", `(?s)bad: .*nowhere`},
		{"publish unknown", []string{"flow", "publish", "nope"}, 1, "", `nope`},
		{"list", []string{"flow", "list"}, 0, `(?m)^bad\s+v0\s*\n(?s:.*)^greet\s+v1\s+Greet`, ""},
		{"pull", []string{"flow", "pull", "greet"}, 0, `greet.yaml: written`, ""},
		{"pull unknown", []string{"flow", "pull", "nope"}, 1, "", `nope`},
		{"publish without ids", []string{"flow", "publish"}, 2, "", `name flow ids`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.run(t, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d; stdout %q, stderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.stdout != "" && !regexp.MustCompile(tt.stdout).MatchString(r.stdout) {
				t.Errorf("stdout %q does not match %q", r.stdout, tt.stdout)
			}
			if tt.stderr != "" && !regexp.MustCompile(tt.stderr).MatchString(r.stderr) {
				t.Errorf("stderr %q does not match %q", r.stderr, tt.stderr)
			}
		})
	}
	if b, err := os.ReadFile("greet.yaml"); err != nil || string(b) != greet {
		t.Errorf("pulled greet.yaml: %q, %v; want the pushed source", b, err)
	}
	// Without a server to talk to: usage errors.
	for _, env := range []map[string]string{{}, {"TANDEM_URL": base}} {
		r := cli{env: env}.run(t, "flow", "list")
		if r.code != 2 || !strings.Contains(r.stderr, "TANDEM_") {
			t.Errorf("flow list with %v: exit %d, stderr %q; want 2 naming the variable to set", env, r.code, r.stderr)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exited %d", code)
	}
}

// `tandem flow validate`: 0 when valid, 1 on errors (or warnings with --strict), 2 for usage.
func TestFlowValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"valid.yaml":    echoFlow,
		"errors.yaml":   "format: 1\nid: errs\ntrigger: {on: api}\nsteps:\n  - id: a\n    type: message\n    text: hi\n    next: nowhere\n",
		"warning.yaml":  "format: 1\nid: warn\nsteps:\n  - {id: a, type: message, text: hi, next: end}\n  - {id: orphan, type: message, text: never}\n",
		"broken.yaml":   "format: 1\nid: [\n",
		"also-any.yaml": "format: 1\nid: also-any\ntrigger: {on: message, match: any}\nsteps:\n  - {id: a, type: message, text: hi}\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
	}{
		{"valid", []string{f("valid.yaml")}, 0, `valid.yaml: ok`},
		{"errors", []string{f("errors.yaml")}, 1, `errors.yaml:8: error: .*"a".*"next"`},
		{"two catch-alls with one priority", []string{f("valid.yaml"), f("also-any.yaml")}, 0, `valid.yaml:4: warning: field "trigger.match": flows "echo" and "also-any" both start on any message with priority 0, so "also-any" always wins`},
		{"warnings", []string{f("warning.yaml")}, 0, `warning.yaml:\d+: warning: .*orphan`},
		{"warnings strict", []string{"--strict", f("warning.yaml")}, 1, `warning`},
		{"valid strict", []string{f("valid.yaml"), "--strict"}, 0, `valid.yaml: ok`},
		{"does not parse", []string{f("broken.yaml")}, 1, `broken.yaml`},
		{"one bad of two", []string{f("valid.yaml"), f("errors.yaml")}, 1, `valid.yaml: ok`},
		{"missing file", []string{f("nope.yaml")}, 1, ``},
		{"no files", nil, 2, ``},
		{"unknown flag", []string{"--bogus", f("valid.yaml")}, 2, ``},
	}
	c := cli{env: map[string]string{}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.run(t, append([]string{"flow", "validate"}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d; stdout %q, stderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
			if !regexp.MustCompile(tt.stdout).MatchString(r.stdout) {
				t.Errorf("stdout %q does not match %q", r.stdout, tt.stdout)
			}
			if tt.code != 0 && r.stdout == "" && r.stderr == "" {
				t.Error("failed without saying why")
			}
		})
	}
}

// Help and usage: --help exits 0 and prints the usage; an unknown command or flag exits 2.
func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--help"}, 0, `Usage:\s+tandem serve`, ``},
		{[]string{"-h"}, 0, `Usage:`, ``},
		{[]string{"help"}, 0, `Usage:`, ``},
		{[]string{"init", "--help"}, 0, `Usage: tandem init \[DIR\]`, ``},
		{[]string{"version"}, 0, `^tandem \S+ \(commit \S+, go\S+, \w+/\w+\)\n$`, ``},
		{nil, 2, ``, `Usage:`},
		{[]string{"bogus"}, 2, ``, `unknown command "bogus"`},
		{[]string{"serve", "--bogus"}, 2, `^$`, `bogus`},
		{[]string{"serve", "--log-level", "loud", "--data", "DATA", "--addr", "127.0.0.1:0"}, 2, ``, `log-level`},
		{[]string{"flow"}, 2, ``, `validate`},
		{[]string{"flow", "bogus"}, 2, ``, `bogus`},
		{[]string{"token"}, 2, ``, `token create`},
		{[]string{"token", "revoke", "--data", "DATA"}, 2, ``, `token id`},
		{[]string{"token", "bogus"}, 2, ``, `bogus`},
		{[]string{"token", "create", "--name", "", "--data", "DATA"}, 2, ``, `name`},
		{[]string{"test"}, 2, ``, `test`},
		{[]string{"chat"}, 2, ``, `flow file`},
		{[]string{"serve", "--help"}, 0, `Usage: tandem serve(?s:.*)-addr`, ``},
		{[]string{"demo", "--help"}, 0, `Usage: tandem demo`, ``},
		{[]string{"migrate", "--help"}, 0, `Usage: tandem migrate(?s:.*)-data`, ``},
		{[]string{"token", "create", "--help"}, 0, `Usage: tandem token create(?s:.*)-name`, ``},
		{[]string{"flow", "validate", "--help"}, 0, `Usage: tandem flow validate(?s:.*)-strict`, ``},
		{[]string{"test", "--help"}, 0, `Usage: tandem test`, ``},
		{[]string{"chat", "--help"}, 0, `Usage: tandem chat`, ``},
		{[]string{"flow", "--help"}, 0, `validate`, ``},
		{[]string{"token", "--help"}, 0, `token create(?s:.*)token list(?s:.*)token revoke`, ``},
		{[]string{"bench", "--help"}, 0, `Usage: tandem bench(?s:.*)-baseline`, ``},
		{[]string{"agent", "create", "--help"}, 0, `Usage: tandem agent create`, ``},
		{[]string{"flow", "schema", "--help"}, 0, `^Usage: tandem flow schema[^{]*$`, ``},
		{[]string{"flow", "schema", "extra"}, 2, `^$`, `no arguments`},
		{[]string{"version", "--help"}, 0, `^Usage: tandem version`, ``},
		{[]string{"version", "extra"}, 2, `^$`, `no arguments`},
		{[]string{"flow", "push", "--help"}, 0, `Usage: tandem flow push FILE(?s:.*)TANDEM_URL(?s:.*)TANDEM_TOKEN`, ``},
		{[]string{"flow", "publish", "--help"}, 0, `Usage: tandem flow publish ID(?s:.*)TANDEM_URL`, ``},
		{[]string{"flow", "list", "--help"}, 0, `Usage: tandem flow list(?s:.*)TANDEM_URL`, ``},
		{[]string{"flow", "pull", "--help"}, 0, `Usage: tandem flow pull ID(?s:.*)TANDEM_URL`, ``},
		{[]string{"token", "list", "--help"}, 0, `Usage: tandem token list(?s:.*)-data`, ``},
		{[]string{"token", "revoke", "--help"}, 0, `Usage: tandem token revoke(?s:.*)-data`, ``},
		// A bad flag is one sentence on stderr; stdout stays empty (no usage dumped).
		{[]string{"migrate", "--bogus"}, 2, `^$`, `^tandem: migrate: flag provided but not defined: -bogus\n$`},
		{[]string{"token", "create", "--bogus"}, 2, `^$`, `bogus`},
		{[]string{"flow", "validate", "--bogus", "x.yaml"}, 2, `^$`, `bogus`},
		{[]string{"bench", "w1", "--duration", "soon"}, 2, `^$`, `duration`},
	}
	c := cli{env: map[string]string{}}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			for i, a := range tt.args {
				if a == "DATA" {
					tt.args[i] = t.TempDir()
				}
			}
			r := c.run(t, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d; stdout %q, stderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
			if !regexp.MustCompile(tt.stdout).MatchString(r.stdout) {
				t.Errorf("stdout %q does not match %q", r.stdout, tt.stdout)
			}
			if !regexp.MustCompile(tt.stderr).MatchString(r.stderr) {
				t.Errorf("stderr %q does not match %q", r.stderr, tt.stderr)
			}
			if tt.code == 2 && !strings.Contains(r.stderr, "tandem: ") {
				t.Errorf("a usage error without a one-sentence reason: %q", r.stderr)
			}
			if n := strings.Count(r.stdout+r.stderr, "Usage:"); n > 1 {
				t.Errorf("the usage is printed %d times: %q", n, r.stdout+r.stderr)
			}
		})
	}
}

var demoRE = regexp.MustCompile(`Tandem demo is running at (http://\S+)(?s:.*)TOKEN=(tdm_[a-z0-9]+)(?s:.*)curl`)

// `tandem demo` starts on a free port, prints a token and curl commands, and answers offline
// (shop.example.com is answered in the process).
func TestDemo(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{"TANDEM_DATABASE_URL": "postgres://ignored.invalid/x"}} // the demo always uses its own SQLite
	p := c.start(t, "demo", "--addr", "127.0.0.1:0")
	m := p.stdout.wait(t, regexp.MustCompile(demoRE.String()+`|tandem: .*`), 60*time.Second)
	if len(m) < 3 || m[1] == "" {
		t.Fatalf("demo did not start: %s\nstderr: %s", m[0], p.stderr.String())
	}
	api := apiClient{t: t, base: m[1], token: m[2]}
	if !strings.Contains(p.stdout.String(), m[1]+"/api/v1/channels/api/messages") {
		t.Errorf("the curl commands do not name the server's address:\n%s", p.stdout.String())
	}
	if want := "open " + m[1] + "/ and log in as " + demoAgent + " with password " + demoPassword; !strings.Contains(p.stdout.String(), want) {
		t.Errorf("the demo does not say how to open the inbox (%q):\n%s", want, p.stdout.String())
	}
	for _, path := range []string{"/", "/inbox"} {
		res, err := http.Get(m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), `<div id="root">`) {
			t.Errorf("GET %s: %d, want the web app's page", path, res.StatusCode)
		}
	}
	conv, in := api.say("u-42", "m-1", "where is my order?")
	got := api.awaitBot(conv, in, 1)
	if !strings.Contains(strings.Join(got, "\n"), "order number") {
		t.Fatalf("the demo answered %q, want it to ask for the order number", got)
	}
	_, in = api.say("u-42", "m-2", "10234")
	got = api.awaitBot(conv, in, 1)
	if !strings.Contains(got[0], "10234") {
		t.Errorf("the demo answered %q to an order number, want the shop's answer about 10234", got)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("demo exited %d, want 0; stderr:\n%s", code, p.stderr.String())
	}
}

// A rate of limits.rate.routes for a route the API does not serve stops the start, naming it.
func TestServeUnknownRateRoute(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{}}
	cfg := filepath.Join(t.TempDir(), "tandem.yaml")
	src := "limits:\n  rate:\n    routes: {\"POST /api/v1/flow/{id}/publish\": 1}\n"
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	r := c.run(t, "serve", "--config", cfg, "--data", t.TempDir(), "--addr", "127.0.0.1:0")
	if r.code != 1 || !strings.Contains(r.stderr, `limits.rate.routes: "POST /api/v1/flow/{id}/publish" is not a route`) {
		t.Errorf("exit %d, stderr %q; want 1 naming the route", r.code, r.stderr)
	}
}
