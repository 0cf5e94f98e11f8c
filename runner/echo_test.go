package runner_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/runner"
)

// echoHTTP answers every call with what it was sent, secrets included, as a careless server
// does in its errors; before answering it runs during (a customer writing meanwhile).
type echoHTTP struct{ during func() }

func (e echoHTTP) Do(req *http.Request) (*http.Response, error) {
	if e.during != nil {
		e.during()
	}
	body := `{"error": "bad key ` + req.Header.Get("Authorization") + `"}`
	return &http.Response{StatusCode: 401, Header: http.Header{"Content-Type": {"application/json"}, "X-Echo": {req.Header.Get("Authorization")}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

const echoingCallFlow = `format: 1
id: echo
trigger: {on: message, match: {contains: [order]}}
steps:
  - {id: call, type: http, method: POST, url: "https://shop.example/orders", headers: {Authorization: "Bearer {{secret.SHOP_KEY}}"}, on_error: failed}
  - {id: ok, type: message, text: "ok"}
  - {id: failed, type: message, text: "failed {{step.call.status}}"}
`

// The answer of a call that echoes a workspace secret back is masked before it is stored: the
// result waits in the database as the conversation's event when the conversation has moved on
// meanwhile (a customer wrote during the call), and nothing there may hold a secret in clear.
func TestCallResultsAreStoredMasked(t *testing.T) {
	t.Parallel()
	const secret = "shopkey-Canary-0c41d9"
	var h *harness
	h = newHarness(t, false, func(c *runner.Config) {
		c.Env = &engine.Env{Secrets: map[string]string{"SHOP_KEY": secret}}
		c.HTTP = echoHTTP{during: func() { h.say(h.r, "ana", "m2", "hello again") }}
	})
	h.publish(h.r, echoingCallFlow)
	h.say(h.r, "ana", "m1", "my order")
	h.drain(h.r)
	if got := h.ch.texts("ana"); len(got) == 0 || got[0] != "failed 401" {
		t.Fatalf("sent %q; want the call's failure (the scenario did not run)", got)
	}
	h.db.Close()
	entries, _ := os.ReadDir(h.dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(h.dir, e.Name()))
		if err != nil {
			continue
		}
		if i := strings.Index(string(b), secret); i >= 0 {
			t.Errorf("%s holds the secret in clear: …%q…", e.Name(), b[max(0, i-80):min(len(b), i+40)])
		}
	}
}
