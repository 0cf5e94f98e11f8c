package webhook_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem/desk/desktest"
	"github.com/tandemchat/tandem/desk/webhook"
	"github.com/tandemchat/tandem/desk/webhook/webhooktest"
)

func TestSuite(t *testing.T) {
	desktest.Run(t, desktest.Kind{Name: webhook.Kind, NeedsEmail: true, Remote: true, Webhooks: true, OwnErrors: true,
		New: func(t *testing.T) desktest.Driver { return &driver{fd: webhooktest.New(t)} }})
}

// driver drives a fake webhook desk for the suite.
type driver struct{ fd *webhooktest.Desk }

func (d *driver) Entry() (string, map[string]string, *http.Client) {
	return `- {id: desk, kind: webhook, url: "` + d.fd.URL + `", username: u, password: "${DESK_PASS}", secret: "${DESK_SECRET}", health_url: "` + d.fd.URL + `/health", timeout: 1s}`,
		map[string]string{"DESK_PASS": testPassword, "DESK_SECRET": testSecret}, d.fd.Client()
}

func (d *driver) Secrets() []string { return []string{testPassword, testSecret} }

func (d *driver) Bind(e *desktest.Env) {}

func (d *driver) Handoff(t *testing.T, e *desktest.Env, conv, session string) (desktest.Handoff, bool) {
	var h desktest.Handoff
	found := false
	for _, r := range d.fd.Requests("") {
		if r.Method != http.MethodPost {
			continue
		}
		var body map[string]any
		if json.Unmarshal(r.Body, &body) != nil || body["conversation_id"] != session {
			continue
		}
		switch r.Path {
		case webhook.PathEstablish:
			found, h.Ref = true, session
			h.Email, _ = body["email"].(string)
			var b strings.Builder
			rounds, _ := body["body"].([]any)
			for _, x := range rounds {
				text, _ := x.(map[string]any)["text"].(string)
				b.WriteString(text + "\n")
			}
			h.Transcript = b.String()
			about, _ := json.Marshal(body["tandem"])
			h.About = string(about)
		case webhook.PathChat:
			text, _ := body["body"].(string)
			if len(h.Messages) == 0 || h.Messages[len(h.Messages)-1] != text { // a retried call
				h.Messages = append(h.Messages, text)
			}
		case webhook.PathClose:
			h.Closed = true
		}
	}
	return h, found
}

func (d *driver) bearer(path string, body any) desktest.Hook {
	b, _ := json.Marshal(body)
	return desktest.Hook{Path: "/hooks/desk/desk" + path, Header: http.Header{"Authorization": {"Bearer " + testSecret}}, Body: b}
}

func (d *driver) Reply(t *testing.T, e *desktest.Env, h desktest.Handoff, text string) desktest.Hook {
	return d.bearer(webhook.CallbackMessage, map[string]any{"conversation_id": h.Ref, "timestamp": e.Clock.Now().UnixMilli(), "body": text,
		"message_id": "desk-" + text, "agent": map[string]any{"id": "42", "name": "Ana"}})
}

func (d *driver) Close(t *testing.T, e *desktest.Env, h desktest.Handoff) desktest.Hook {
	return d.bearer(webhook.CallbackClose, map[string]any{"conversation_id": h.Ref, "timestamp": e.Clock.Now().UnixMilli(), "reason": "resolved"})
}

func (d *driver) Forge(h desktest.Hook) desktest.Hook {
	h.Header = http.Header{"Authorization": {"Bearer not-the-secret"}}
	return h
}

func (d *driver) Malformed() desktest.Hook {
	return desktest.Hook{Path: "/hooks/desk/desk" + webhook.CallbackMessage, Header: http.Header{"Authorization": {"Bearer " + testSecret}}, Body: []byte("{not json")}
}

func replies(rs []desktest.Reply) []webhooktest.Reply {
	var out []webhooktest.Reply
	for _, r := range rs {
		out = append(out, webhooktest.Reply{Status: r.Status, RetryAfter: r.Header["Retry-After"], Stall: r.Stall, Hangup: r.Hangup})
	}
	return out
}

func (d *driver) FailStart(r ...desktest.Reply) { d.fd.Script(webhook.PathEstablish, replies(r)...) }

func (d *driver) FailSend(r ...desktest.Reply) { d.fd.Script(webhook.PathChat, replies(r)...) }

func (d *driver) TooMany(e *desktest.Env, wait time.Duration) desktest.Reply {
	return desktest.Reply{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": strconv.Itoa(int(wait.Seconds()))}}
}

func (d *driver) Down(down bool) {
	if down {
		d.fd.SetHealth(http.StatusServiceUnavailable)
	} else {
		d.fd.SetHealth(http.StatusOK)
	}
}
