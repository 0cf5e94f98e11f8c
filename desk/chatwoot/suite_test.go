package chatwoot_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem/desk/chatwoot"
	"github.com/tandemchat/tandem/desk/chatwoot/chatwoottest"
	"github.com/tandemchat/tandem/desk/desktest"
)

func TestSuite(t *testing.T) {
	desktest.Run(t, desktest.Kind{Name: chatwoot.Kind, Remote: true, Webhooks: true, OwnErrors: true,
		New: func(t *testing.T) desktest.Driver { return &driver{cw: chatwoottest.New(t, apiToken)} }})
}

// driver drives a fake Chatwoot for the suite.
type driver struct{ cw *chatwoottest.Chatwoot }

func (d *driver) Entry() (string, map[string]string, *http.Client) {
	return `- {id: desk, kind: chatwoot, base_url: "` + d.cw.URL + `", account_id: 1, inbox_id: 7, api_token: "${CW_TOKEN}", webhook_secret: "${CW_SECRET}", timeout: 1s}`,
		map[string]string{"CW_TOKEN": apiToken, "CW_SECRET": hookSecret}, d.cw.Client()
}

func (d *driver) Secrets() []string { return []string{apiToken, hookSecret} }

func (d *driver) Bind(e *desktest.Env) {
	d.cw.Now, d.cw.Hook, d.cw.Secret = e.Clock.Now, e.URL("/hooks/chatwoot/desk"), hookSecret
}

func (d *driver) Handoff(t *testing.T, e *desktest.Env, conv, session string) (desktest.Handoff, bool) {
	l, err := e.DB.DeskLinkGet(e.Ctx, "desk", session)
	if err != nil {
		return desktest.Handoff{}, false
	}
	for _, cv := range d.cw.Conversations() {
		if strconv.Itoa(cv.ID) != l.Ref {
			continue
		}
		h := desktest.Handoff{Ref: l.Ref}
		for _, k := range d.cw.Contacts() {
			if k.ID == cv.ContactID {
				h.Email = k.Email
			}
		}
		incoming := 0
		for _, m := range cv.Messages {
			switch {
			case m.Private && h.Transcript == "":
				h.Transcript = m.Content
			case m.Private && (strings.Contains(m.Content, "USER_CLOSED") || strings.Contains(m.Content, "TIMEOUT")):
				h.Closed = cv.Status == "resolved"
			case m.Type == 0:
				if incoming++; incoming > 1 { // the first is the question of the transcript
					h.Messages = append(h.Messages, m.Content)
				}
			}
		}
		return h, true
	}
	return desktest.Handoff{}, false
}

func (d *driver) hook(body []byte) desktest.Hook {
	return desktest.Hook{Path: "/hooks/chatwoot/desk", Header: d.cw.SignedHeader(body), Body: body}
}

func (d *driver) Reply(t *testing.T, e *desktest.Env, h desktest.Handoff, text string) desktest.Hook {
	id, _ := strconv.Atoi(h.Ref)
	_, body := d.cw.AgentReply(id, text)
	return d.hook(body)
}

func (d *driver) Close(t *testing.T, e *desktest.Env, h desktest.Handoff) desktest.Hook {
	id, _ := strconv.Atoi(h.Ref)
	return d.hook(d.cw.Resolve(id))
}

func (d *driver) Forge(h desktest.Hook) desktest.Hook {
	h.Header = h.Header.Clone()
	h.Header.Set(chatwoot.HeaderSignature, chatwoot.Sign("not-the-secret-0123456789", h.Header.Get(chatwoot.HeaderTimestamp), h.Body))
	return h
}

func (d *driver) Malformed() desktest.Hook { return d.hook([]byte(`{"event": "message_created",`)) }

func (d *driver) FailStart(r ...desktest.Reply) {
	d.cw.Script("POST /api/v1/accounts/1/conversations", r...)
}

func (d *driver) FailSend(r ...desktest.Reply) {
	d.cw.Script("POST /api/v1/accounts/1/conversations/*/messages", r...)
}

func (d *driver) TooMany(e *desktest.Env, wait time.Duration) desktest.Reply {
	return desktest.Reply{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": strconv.Itoa(int(wait.Seconds()))}}
}

func (d *driver) Down(down bool) { d.cw.SetDown(down) }
