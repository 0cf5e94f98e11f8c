package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tandemchat/tandem/desk/livechat/livechattest"
)

// `tandem desk connect livechat ID` prints the address an administrator opens; LiveChat's
// redirect to the running server stores the authorization, which the desk then uses.
func TestDeskConnectLiveChat(t *testing.T) {
	t.Parallel()
	lc := livechattest.New(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "tandem.yaml")
	yaml := fmt.Sprintf(`desks:
  - {id: lc, kind: livechat, organization_id: %q, client_id: %q, client_secret: "${LC_CLIENT_SECRET}", secret_key: "${LC_SECRET}", base_url: %q, accounts_url: %q}
`, lc.OrganizationID, lc.ClientID, lc.URL, lc.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cli{env: map[string]string{"LC_CLIENT_SECRET": lc.ClientSecret, "LC_SECRET": lc.SecretKey}}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"desk", "connect", "livechat"}, 2, "name the kind and the desk"},
		{[]string{"desk", "connect", "livechat", "lc", "--config", cfg, "--data", data}, 2, "--url"},
		{[]string{"desk", "connect", "intercom", "lc", "--config", cfg, "--data", data, "--url", "https://t.example"}, 1, "kind livechat"},
		{[]string{"desk", "connect", "livechat", "nope", "--config", cfg, "--data", data, "--url", "https://t.example"}, 1, "no desk"},
	} {
		if r := c.run(t, tt.args...); r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d mentioning %q", tt.args, r.code, r.stderr, tt.code, tt.want)
		}
	}
	r := c.run(t, "desk", "connect", "livechat", "lc", "--config", cfg, "--data", data, "--url", "https://tandem.example.com/")
	if r.code != 0 {
		t.Fatalf("desk connect: exit %d, %q", r.code, r.stderr)
	}
	m := regexp.MustCompile(`(?m)^  (http\S+)$`).FindStringSubmatch(r.stdout)
	if m == nil || !strings.Contains(r.stdout, "https://tandem.example.com/hooks/livechat/lc/oauth") {
		t.Fatalf("desk connect printed %q", r.stdout)
	}
	u, _ := url.Parse(m[1])
	state := u.Query().Get("state")
	if u.Query().Get("redirect_uri") != "https://tandem.example.com/hooks/livechat/lc/oauth" || state == "" {
		t.Fatalf("authorization URL %s", m[1])
	}
	_, base := c.serve(t, "--config", cfg, "--data", data)
	resp, err := http.Get(base + "/hooks/livechat/lc/oauth?code=" + lc.Code + "&state=" + state)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "connected") {
		t.Fatalf("redirect: %d %s", resp.StatusCode, body)
	}
	r = c.run(t, "desk", "connect", "livechat", "lc", "--config", cfg, "--data", data, "--url", "https://tandem.example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "already has an authorization") {
		t.Errorf("a second connect: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}
