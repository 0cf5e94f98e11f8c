package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem/flow"
)

// The inbox commands `tandem demo` prints, run as printed after the customer says "agent",
// find the conversation in the inbox, take it, answer and close it: the demo's handoff reaches
// the inbox. The demo invites the user to open the inbox in a browser first, which sets Ana
// online: the handoff is then assigned to her at once rather than left in the queue, and the
// printed commands must find it all the same.
func TestDemoAgentCommandsFindTheHandoff(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{}}
	p := c.start(t, "demo", "--addr", "127.0.0.1:0")
	m := p.stdout.wait(t, regexp.MustCompile(demoRE.String()+`|tandem: .*`), 60*time.Second)
	if len(m) < 3 || m[1] == "" {
		t.Fatalf("demo did not start: %s\nstderr: %s", m[0], p.stderr.String())
	}
	defer p.stop(t)
	api := apiClient{t: t, base: m[1], token: m[2]}
	conv, in := api.say("u-7", "m-1", "hi")
	api.awaitBot(conv, in, 2) // the greeting and the menu

	// The inbox open in a browser: the app logs in and sets Ana online.
	var login struct{ Token string }
	if st := api.call("POST", "/api/v1/inbox/login", map[string]string{"email": demoAgent, "password": demoPassword}, &login); st != 200 {
		t.Fatalf("the demo's agent cannot log in: %d", st)
	}
	browser := apiClient{t: t, base: m[1], token: login.Token}
	if st := browser.call("PUT", "/api/v1/inbox/presence", map[string]string{"status": "online"}, nil); st != 200 {
		t.Fatalf("presence online: %d", st)
	}

	_, commands, ok := strings.Cut(p.stdout.String(), "The same with curl:\n")
	if !ok {
		t.Fatalf("the demo prints no inbox commands:\n%s", p.stdout.String())
	}
	commands, _, _ = strings.Cut(strings.TrimLeft(commands, "\n"), "\n\n")
	vars := map[string]string{"CONV": conv}
	ran := 0
	for _, line := range strings.Split(commands, "\n") {
		line, _, _ = strings.Cut(strings.TrimSpace(line), "  #")
		switch {
		case strings.HasPrefix(line, "say "):
			api.say("u-7", "m-2", strings.TrimPrefix(line, "say "))
		case strings.HasPrefix(line, "AGENT=$("):
			curl := strings.TrimPrefix(line, "AGENT=$(")
			curl, _, _ = strings.Cut(curl, " | ")
			status, body := runCurl(t, curl, vars)
			var login struct{ Token string }
			if status != 200 || json.Unmarshal(body, &login) != nil || login.Token == "" {
				t.Fatalf("%s: %d %s", line, status, body)
			}
			vars["AGENT"] = login.Token
		case strings.HasPrefix(line, "curl "):
			status, body := runCurl(t, line, vars)
			if !strings.Contains(line, " -X ") && strings.Contains(line, "/api/v1/inbox/conversations") {
				// The customer's message is processed in the background: look until it is handed over.
				deadline := time.Now().Add(15 * time.Second)
				for !strings.Contains(string(body), conv) && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
					status, body = runCurl(t, line, vars)
				}
				if status != 200 || !strings.Contains(string(body), conv) {
					t.Fatalf("%s\nanswered %d %s; want the handed-over conversation %s", line, status, body, conv)
				}
			} else if status >= 300 {
				t.Fatalf("%s\nanswered %d %s", line, status, body)
			}
		default:
			t.Fatalf("the demo prints a command this test cannot run: %q", line)
		}
		ran++
	}
	if ran < 4 {
		t.Fatalf("ran %d inbox commands, want at least say, login, list and reply:\n%s", ran, commands)
	}
	var got struct {
		Status  string
		Handoff struct{ Status string }
	}
	// The close is an event of the conversation, processed after the 202: wait for it.
	for deadline := time.Now().Add(15 * time.Second); got.Handoff.Status != "closed" && time.Now().Before(deadline); {
		api.call("GET", "/api/v1/conversations/"+conv, nil, &got)
		if got.Handoff.Status != "closed" {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got.Handoff.Status != "closed" {
		t.Errorf("after the printed commands the handoff is %+v, want closed by the agent", got)
	}
}

// runCurl runs a printed `curl -s [-X M] URL [-H "K: V"] [-d BODY]` command with the shell
// variables given.
func runCurl(t *testing.T, line string, vars map[string]string) (int, []byte) {
	t.Helper()
	args := shellWords(t, line, vars)
	method, url, body := "GET", "", ""
	header := http.Header{}
	for i := 1; i < len(args); i++ {
		switch a := args[i]; a {
		case "-s":
		case "-X":
			i++
			method = args[i]
		case "-H":
			i++
			k, v, _ := strings.Cut(args[i], ": ")
			header.Set(k, v)
		case "-d":
			i++
			body = args[i]
			if method == "GET" {
				method = "POST"
			}
		default:
			if !strings.HasPrefix(a, "http") {
				t.Fatalf("%s: the test does not know curl's %q", line, a)
			}
			url = a
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// shellWords splits a command line as a POSIX shell would for these simple commands: words,
// '…' literally, "…" with $VAR expanded and \" unescaped.
func shellWords(t *testing.T, line string, vars map[string]string) []string {
	t.Helper()
	var out []string
	var w strings.Builder
	inWord := false
	expand := func(s string) string {
		return os.Expand(s, func(k string) string { return vars[k] })
	}
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case ch == ' ':
			if inWord {
				out = append(out, w.String())
				w.Reset()
				inWord = false
			}
		case ch == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				t.Fatalf("unclosed ' in %s", line)
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			var q strings.Builder
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				q.WriteByte(line[i])
			}
			w.WriteString(expand(q.String()))
			inWord = true
		default:
			j := strings.IndexAny(line[i:], " '\"")
			if j < 0 {
				j = len(line) - i
			}
			w.WriteString(expand(line[i : i+j]))
			i += j - 1
			inWord = true
		}
	}
	if inWord {
		out = append(out, w.String())
	}
	return out
}

// The demo's flows load together without a finding: no trigger shadows another, no step on
// the offline provider that cannot answer.
func TestDemoFlowsHaveNoFindings(t *testing.T) {
	t.Parallel()
	cfg, err := demoWorkspace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	flows, err := demoFlows()
	if err != nil {
		t.Fatal(err)
	}
	env := cfg.FlowEnv()
	env.Flows = map[string]bool{}
	for _, f := range flows {
		env.Flows[f.ID] = true
	}
	for _, f := range flows {
		for _, fd := range append(flow.Validate(f, env), flow.TriggerWarnings(f, flows)...) {
			t.Errorf("%s", fd)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.FlowsDir, "human.yaml")); err != nil {
		t.Errorf("the demo's flows folder lacks the global \"agent\" flow: %v", err)
	}
}

// The demo's admin logs in with a password printed to everyone (demo-password): by default it
// listens on this machine only, so nobody else on the network (a café's Wi-Fi) can log in as
// its admin. It listened on every interface (:8080).
func TestDemoListensOnLoopbackByDefault(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{}}
	r := c.run(t, "demo", "--help")
	out := r.stdout + r.stderr
	if !strings.Contains(out, `(default "127.0.0.1:8080")`) {
		t.Errorf("demo --help:\n%s\nwant the address to default to 127.0.0.1:8080", out)
	}
}
