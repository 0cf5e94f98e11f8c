package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandemchat/tandem/flow"
)

// client talks to a Tandem server's API (TANDEM_URL, TANDEM_TOKEN).
type client struct {
	base  string
	token string
	http  *http.Client
}

func (m *Main) apiClient() (*client, error) {
	base := strings.TrimRight(m.Getenv("TANDEM_URL"), "/")
	if base == "" {
		return nil, usagef("set TANDEM_URL to the server, e.g. TANDEM_URL=http://localhost:8080")
	}
	token := m.Getenv("TANDEM_TOKEN")
	if token == "" {
		return nil, usagef("set TANDEM_TOKEN to an API token (tandem token create --name cli)")
	}
	return &client{base: base, token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// do sends a request and decodes a JSON answer into out; API errors become one sentence.
func (c *client) do(ctx context.Context, method, path, ctype string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("the server at %s cannot be reached: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode >= 400 {
		var e struct {
			Error struct {
				Message  string         `json:"message"`
				Problems []flow.Finding `json:"problems"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			msg := e.Error.Message
			for _, p := range e.Error.Problems {
				msg += "\n  " + p.String()
			}
			return resp.StatusCode, fmt.Errorf("%s", msg)
		}
		return resp.StatusCode, fmt.Errorf("the server answered %d", resp.StatusCode)
	}
	if out != nil && len(b) > 0 {
		if raw, ok := out.(*[]byte); ok {
			*raw = b
			return resp.StatusCode, nil
		}
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("the server's answer is not JSON: %w", err)
		}
	}
	return resp.StatusCode, nil
}

// flowClientUsage describes the client subcommands for their --help.
var flowClientUsage = map[string]string{
	"push":    "flow push FILE...   stores each flow file as its flow's draft on the server (create or replace)",
	"publish": "flow publish ID...   validates each draft on the server and publishes it as a new version",
	"list":    "flow list   lists the server's flows with their latest version",
	"pull":    "flow pull ID...   writes each flow's draft from the server to ID.yaml (or ID.json)",
}

const flowClientEnv = `
The server is TANDEM_URL (e.g. http://localhost:8080), with the API token TANDEM_TOKEN
(tandem token create --name cli).
`

// runFlowClient handles `tandem flow push|publish|list|pull`.
func (m *Main) runFlowClient(ctx context.Context, sub string, args []string) error {
	fs := m.newFlags("flow "+sub, flowClientUsage[sub])
	usage := fs.Usage
	fs.Usage = func() { usage(); fmt.Fprint(m.Stdout, flowClientEnv) }
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	c, err := m.apiClient()
	if err != nil {
		return err
	}
	switch sub {
	case "push":
		if len(pos) == 0 {
			return usagef("flow push: name flow files")
		}
		for _, file := range pos {
			f, src, err := m.readFlow(file)
			if err != nil {
				return err
			}
			ctype := "application/yaml"
			if strings.HasSuffix(file, ".json") {
				ctype = "application/json"
			}
			if _, err := c.do(ctx, "PUT", "/api/v1/flows/"+f.ID, ctype, src, nil); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			fmt.Fprintf(m.Stdout, "%s: pushed draft %s\n", file, f.ID)
		}
	case "publish":
		if len(pos) == 0 {
			return usagef("flow publish: name flow ids")
		}
		for _, id := range pos {
			var out struct {
				Version  int            `json:"version"`
				Warnings []flow.Finding `json:"warnings"`
			}
			if _, err := c.do(ctx, "POST", "/api/v1/flows/"+id+"/publish", "", nil, &out); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			for _, w := range out.Warnings {
				fmt.Fprintln(m.Stdout, w.String())
			}
			fmt.Fprintf(m.Stdout, "%s: version %d\n", id, out.Version)
		}
	case "list":
		var out struct {
			Flows []struct {
				ID            string    `json:"id"`
				Name          string    `json:"name"`
				LatestVersion int       `json:"latest_version"`
				UpdatedAt     time.Time `json:"updated_at"`
			} `json:"flows"`
		}
		if _, err := c.do(ctx, "GET", "/api/v1/flows", "", nil, &out); err != nil {
			return err
		}
		for _, f := range out.Flows {
			fmt.Fprintf(m.Stdout, "%-30s v%-4d %s\n", f.ID, f.LatestVersion, f.Name)
		}
	case "pull":
		if len(pos) == 0 {
			return usagef("flow pull: name flow ids")
		}
		for _, id := range pos {
			var out struct {
				Source string `json:"source"`
				Format string `json:"format"`
			}
			if _, err := c.do(ctx, "GET", "/api/v1/flows/"+id, "", nil, &out); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			name := id + ".yaml"
			if out.Format == "json" {
				name = id + ".json"
			}
			if err := os.WriteFile(filepath.Clean(name), []byte(out.Source), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "%s: written\n", name)
		}
	}
	return nil
}
