package livechat_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem/desk/desktest"
	"github.com/tandemchat/tandem/desk/livechat"
	"github.com/tandemchat/tandem/desk/livechat/livechattest"
)

func TestSuite(t *testing.T) {
	desktest.Run(t, desktest.Kind{Name: livechat.Kind, NeedsEmail: true, Remote: true, Webhooks: true,
		New: func(t *testing.T) desktest.Driver { return &driver{lc: livechattest.New(t)} }})
}

// driver drives a fake LiveChat for the suite.
type driver struct{ lc *livechattest.LiveChat }

func (d *driver) Entry() (string, map[string]string, *http.Client) {
	lc := d.lc
	return `- {id: desk, kind: livechat, organization_id: "` + lc.OrganizationID + `", client_id: "` + lc.ClientID + `", client_secret: "${LC_CLIENT_SECRET}", ` +
			`secret_key: "${LC_SECRET}", refresh_token: "${LC_REFRESH}", base_url: "` + lc.URL + `", accounts_url: "` + lc.URL + `", timeout: 1s}`,
		map[string]string{"LC_CLIENT_SECRET": lc.ClientSecret, "LC_SECRET": lc.SecretKey, "LC_REFRESH": lc.RefreshToken}, lc.Client()
}

func (d *driver) Secrets() []string {
	return []string{d.lc.ClientSecret, d.lc.SecretKey, d.lc.RefreshToken}
}

func (d *driver) Bind(e *desktest.Env) { d.lc.Hook = e.URL("/hooks/livechat/desk") }

func (d *driver) Handoff(t *testing.T, e *desktest.Env, conv, session string) (desktest.Handoff, bool) {
	l, err := e.DB.DeskLinkGet(e.Ctx, "desk", session)
	if err != nil {
		return desktest.Handoff{}, false
	}
	var data struct {
		ThreadID string `json:"thread_id"`
		EntityID string `json:"entity_id"`
	}
	json.Unmarshal(l.Data, &data)
	for _, c := range d.lc.Chats() {
		if c.ID != l.Ref {
			continue
		}
		h := desktest.Handoff{Ref: c.ID}
		for _, k := range d.lc.Customers() {
			if k.ID == c.Customer {
				h.Email = k.Email
			}
		}
		for _, th := range c.Threads {
			if th.ID != data.ThreadID {
				continue
			}
			for i, ev := range th.Events {
				switch {
				case i == 0:
					h.Transcript = ev.Text
				case i == 1: // the latest question
					h.Transcript += "\n" + ev.Text
				case strings.HasPrefix(ev.Text, "[Tandem]"):
					h.Closed = !c.Active
				case ev.AuthorID == c.Customer:
					h.Messages = append(h.Messages, ev.Text)
				}
			}
		}
		return h, true
	}
	return desktest.Handoff{}, false
}

func (d *driver) hook(body []byte) desktest.Hook {
	return desktest.Hook{Path: "/hooks/livechat/desk", Body: body}
}

func (d *driver) Reply(t *testing.T, e *desktest.Env, h desktest.Handoff, text string) desktest.Hook {
	return d.hook(d.lc.AgentMessage(h.Ref, text))
}

func (d *driver) Close(t *testing.T, e *desktest.Env, h desktest.Handoff) desktest.Hook {
	return d.hook(d.lc.Deactivated(h.Ref, "smith@example.com"))
}

func (d *driver) Forge(h desktest.Hook) desktest.Hook {
	h.Body = []byte(strings.Replace(string(h.Body), `"secret_key":"`+d.lc.SecretKey+`"`, `"secret_key":"not-the-key"`, 1))
	return h
}

func (d *driver) Malformed() desktest.Hook {
	return d.hook([]byte(`{"secret_key":"` + d.lc.SecretKey + `","action":"incoming_event",`))
}

func (d *driver) FailStart(r ...desktest.Reply) {
	d.lc.Script("POST /v3.6/customer/action/start_chat", r...)
}

func (d *driver) FailSend(r ...desktest.Reply) {
	d.lc.Script("POST /v3.6/customer/action/send_event", r...)
}

func (d *driver) TooMany(e *desktest.Env, wait time.Duration) desktest.Reply {
	return desktest.Reply{Status: http.StatusTooManyRequests, Body: `{"error":{"type":"too_many_requests","message":"Too many requests"}}`,
		Header: map[string]string{"Retry-After": strconv.Itoa(int(wait.Seconds()))}}
}

func (d *driver) Down(down bool) { d.lc.SetDown(down) }
