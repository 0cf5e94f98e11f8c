package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// `tandem channel telegram set-webhook` registers each Telegram channel's webhook with its
// secret token; mistakes are usage errors or one clear sentence.
func TestChannelTelegramSetWebhook(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []map[string]any
	var paths []string
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		mu.Lock()
		got, paths = append(got, body), append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok": true, "result": true}`))
	}))
	defer bot.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tandem.yaml")
	os.WriteFile(cfg, []byte(`channels:
  - {id: tg, kind: telegram, bot_token: "${TG_TOKEN}", secret_token: "tg-secret_1", base_url: "`+bot.URL+`"}
  - {id: api, kind: api}
`), 0o600)
	c := cli{env: map[string]string{"TG_TOKEN": "42:secret-token"}}
	r := c.run(t, "channel", "telegram", "set-webhook", "--config", cfg, "--url", "https://bot.acme.com/")
	if r.code != 0 || !strings.Contains(r.stdout, "webhook set to https://bot.acme.com/hooks/telegram/tg") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if len(got) != 1 || paths[0] != "/bot42:secret-token/setWebhook" || got[0]["url"] != "https://bot.acme.com/hooks/telegram/tg" || got[0]["secret_token"] != "tg-secret_1" {
		t.Errorf("requests %v %v", paths, got)
	}
	if strings.Contains(r.stdout+r.stderr, "42:secret-token") {
		t.Error("the output shows the bot token")
	}
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"channel"}, 2, "set-webhook"},
		{[]string{"channel", "telegram", "set-webhook", "--config", cfg, "--url", "bot.acme.com"}, 2, "--url"},
		{[]string{"channel", "telegram", "set-webhook", "--config", cfg}, 1, "--url"},
		{[]string{"channel", "telegram", "set-webhook", "--config", cfg, "--channel", "nope", "--url", "https://x.example"}, 1, `"nope"`},
		{[]string{"channel", "--help"}, 0, "set-webhook"},
	} {
		r := c.run(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.says) {
			t.Errorf("%v: exit %d (want %d), output %q, want it to say %s", tc.args, r.code, tc.code, r.stdout+r.stderr, tc.says)
		}
	}
}
