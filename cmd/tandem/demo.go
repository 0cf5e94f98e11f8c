package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk/inbox"
	"github.com/tandemchat/tandem/examples"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
)

// runDemo is `tandem demo`: a server with the demo workspace (the example flows, an API
// channel, a token) in a temporary data folder, offline. With --chat, the same flows in a
// terminal chat instead.
func (m *Main) runDemo(ctx context.Context, args []string) error {
	fset := m.newFlags("demo", "demo [--addr 127.0.0.1:8080] [--chat]")
	// This machine only: the demo's admin password is printed to everyone.
	addr := fset.String("addr", "127.0.0.1:8080", "address to listen on (the demo's admin has a well-known password: give another address only on a network you trust)")
	chat := fset.Bool("chat", false, "talk to the example flows in this terminal instead of serving them")
	if _, err := m.parse(fset, args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tandem-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg, err := demoWorkspace(dir)
	if err != nil {
		return err
	}
	if *chat {
		flows, err := demoFlows()
		if err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, "Tandem demo: the example flows in a terminal chat, offline. Say hi!")
		m.chatHTTP = demoHTTP{next: http.DefaultTransport}
		return m.chat(ctx, chatOptions{Config: cfg, Flows: flows, CheckConfig: true, Channel: "api",
			Contact: tandem.Contact{Name: "Ana Souza", Phone: "+5511999990000"}, Start: time.Now().Truncate(time.Second)})
	}
	cfg.Channels = append(cfg.Channels, config.Channel{ID: "api", Kind: "api"}, demoWebChannel)
	if err := os.WriteFile(filepath.Join(cfg.FlowsDir, "web-welcome.yaml"), []byte(demoWelcomeFlow), 0o600); err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	db, err := store.OpenDir(ctx, data)
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return err
	}
	token, _, err := db.TokenCreate(ctx, "demo", "", time.Now(), runner.NewID)
	if err == nil {
		// An agent of the support team, to try the inbox.
		ib := inbox.New(inbox.Config{DB: db, Workspace: cfg, Clock: clock.Wall{}})
		_, err = ib.CreateAgent(ctx, inbox.Actor{Admin: true, Token: "demo"}, inbox.NewAgent{
			Email: demoAgent, Name: "Ana (demo agent)", Password: demoPassword, Role: "admin", Teams: []string{"support", "sales"}})
	}
	db.Close()
	if err != nil {
		return err
	}
	m.Getenv = withoutEnv(m.Getenv, "TANDEM_DATABASE_URL") // the demo always uses its own SQLite folder
	return m.serve(ctx, serveOptions{
		Config: cfg, Addr: *addr, Data: data, LogFormat: "text", LogLevel: "warn", Ephemeral: true,
		HTTP: demoHTTP{next: http.DefaultTransport}, Mount: mountDemoShop,
		Ready: func(listen string) {
			base := "http://" + displayAddr(listen)
			fmt.Fprintf(m.Stdout, demoText, base, dir, token, demoAgent, demoPassword)
		},
	})
}

const demoText = `
Open the demo shop and chat with the bot: %[1]s/demo/

Tandem demo is running at %[1]s
(data in %[2]s, removed when you stop it with Ctrl-C)

Talk to the bot through the API channel "api". In another terminal:

  TOKEN=%[3]s
  say() { curl -s -X POST %[1]s/api/v1/channels/api/messages -H "Authorization: Bearer $TOKEN" \
      -d "{\"contact\": {\"external_id\": \"u-42\", \"name\": \"Ana Souza\"}, \"message\": {\"id\": \"$RANDOM$RANDOM\", \"text\": \"$1\"}}"; echo; }
  say hello                 # answers {"conversation_id": "...", "message_id": "..."}
  CONV=<the conversation_id it printed>
  curl -s "%[1]s/api/v1/conversations/$CONV/messages?wait=5s" -H "Authorization: Bearer $TOKEN"
                            # the conversation so far; add &after=<its next_cursor> for newer messages only
  say 1                     # "Order status"; then try an order number such as 10234
  curl -s "%[1]s/api/v1/conversations/$CONV" -H "Authorization: Bearer $TOKEN"

Other things to try: "I'd like a quote", "support", "take a note", "faq". These work at any
moment, even while the bot waits for an answer: "menu" (start over), "stop", and "agent" (or
"I want to talk to a person"), which hands the conversation to the agents' inbox.

The agents' inbox: open %[1]s/ and log in as %[4]s with password %[5]s
(an admin: the Admin screens are there too; logging in there sets her online, so conversations
handed to her team go to her at once). Hand yourself a conversation by saying "agent" to the
bot above, and answer it in the inbox. The same with curl:

  say agent                 # handed to the support team: queued, or at once assigned to Ana if she is online
  AGENT=$(curl -s -X POST %[1]s/api/v1/inbox/login -d '{"email": "%[4]s", "password": "%[5]s"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
  curl -s "%[1]s/api/v1/inbox/conversations" -H "Authorization: Bearer $AGENT"   # the inbox: queued and assigned
  curl -s -X POST %[1]s/api/v1/inbox/conversations/$CONV/assign -H "Authorization: Bearer $AGENT" -d '{"agent": "me"}'
  curl -s -X POST %[1]s/api/v1/inbox/conversations/$CONV/messages -H "Authorization: Bearer $AGENT" -d '{"text": "Hi, I am Ana."}'
  curl -s -X POST %[1]s/api/v1/inbox/conversations/$CONV/close -H "Authorization: Bearer $AGENT"

The API is described at %[1]s/api/v1/openapi.json; metrics are at %[1]s/metrics.
`

// The demo's agent login.
const (
	demoAgent    = "ana@acme.com"
	demoPassword = "demo-password"
)

func displayAddr(listen string) string {
	if strings.HasPrefix(listen, "[::]:") || strings.HasPrefix(listen, "0.0.0.0:") {
		return "localhost:" + listen[strings.LastIndex(listen, ":")+1:]
	}
	return listen
}

func withoutEnv(get func(string) string, name string) func(string) string {
	return func(k string) string {
		if k == name {
			return ""
		}
		return get(k)
	}
}

// demoWorkspace writes the example flows and knowledge base into dir and returns the examples'
// workspace pointing at them, with every AI provider replaced by the offline one.
func demoWorkspace(dir string) (*config.Config, error) {
	err := fs.WalkDir(examples.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "tandem.yaml" {
			return err
		}
		dst := filepath.Join(dir, "flows", p)
		if strings.HasPrefix(p, "kb/") {
			dst = filepath.Join(dir, p)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		b, err := fs.ReadFile(examples.FS, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		return nil, err
	}
	src, err := fs.ReadFile(examples.FS, "tandem.yaml")
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(filepath.Join(dir, "tandem.yaml"), src, func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, err
	}
	for i := range cfg.Providers {
		cfg.Providers[i].Kind = "local"
	}
	// Offline, external desks are the built-in inbox: handoffs land there.
	for i := range cfg.Desks {
		cfg.Desks[i].Kind = config.InboxDesk
	}
	cfg.Warnings = nil
	cfg.Dir = dir
	cfg.FlowsDir = filepath.Join(dir, "flows")
	return cfg, nil
}

// demoFlows parses the example flows, the main menu first.
func demoFlows() ([]*flow.Flow, error) {
	names, err := fs.Glob(examples.FS, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var flows []*flow.Flow
	for _, name := range names {
		if name == "tandem.yaml" {
			continue
		}
		b, err := fs.ReadFile(examples.FS, name)
		if err != nil {
			return nil, err
		}
		f, findings := flow.Parse(path.Join("examples", name), b)
		if f == nil {
			return nil, fmt.Errorf("bundled example %s is invalid: %v", name, findings)
		}
		if f.ID == "main-menu" {
			flows = append([]*flow.Flow{f}, flows...)
		} else {
			flows = append(flows, f)
		}
	}
	return flows, nil
}

// demoHTTP answers the example flows' calls to shop.example.com and assistant.example.com in
// the process, so the demo works offline; other calls go out.
type demoHTTP struct{ next http.RoundTripper }

func (d demoHTTP) Do(req *http.Request) (*http.Response, error) {
	switch req.URL.Host {
	case "shop.example.com":
		id := path.Base(req.URL.Path)
		status := []string{"shipped", "packing", "delivered"}[len(id)%3]
		delivered := time.Now().AddDate(0, 0, -1).Format(time.DateOnly) // the flow says "delivered on <date>"
		body := fmt.Sprintf(`{"id": %q, "status": %q, "carrier": "DHL", "eta": "in 2 days", "delivered_on": %q}`, id, status, delivered)
		if !strings.HasPrefix(id, "1") {
			return demoResponse(req, 404, `{"error": "not found"}`), nil
		}
		return demoResponse(req, 200, body), nil
	case "assistant.example.com":
		return demoResponse(req, 200, `{"text": "This is the demo assistant: connect a real one in tandem.yaml."}`), nil
	}
	return (&http.Client{Transport: d.next, Timeout: 2 * time.Minute}).Do(req)
}

func demoResponse(req *http.Request, status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}
}
