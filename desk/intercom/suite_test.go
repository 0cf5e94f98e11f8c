package intercom_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tandemchat/tandem/desk/desktest"
	"github.com/tandemchat/tandem/desk/intercom"
	"github.com/tandemchat/tandem/desk/intercom/intercomtest"
)

func TestSuite(t *testing.T) {
	desktest.Run(t, desktest.Kind{Name: intercom.Kind, NeedsEmail: true, Remote: true, Webhooks: true,
		New: func(t *testing.T) desktest.Driver { return &driver{ic: intercomtest.New(t, accessToken, clientSecret)} }})
}

// driver drives a fake Intercom for the suite.
type driver struct{ ic *intercomtest.Intercom }

func (d *driver) Entry() (string, map[string]string, *http.Client) {
	return `- {id: desk, kind: intercom, base_url: "` + d.ic.URL + `", access_token: "${IC_TOKEN}", client_secret: "${IC_SECRET}", timeout: 1s}`,
		map[string]string{"IC_TOKEN": accessToken, "IC_SECRET": clientSecret}, d.ic.Client()
}

func (d *driver) Secrets() []string { return []string{accessToken, clientSecret} }

func (d *driver) Bind(e *desktest.Env) {
	d.ic.Now, d.ic.Hook = e.Clock.Now, e.URL("/hooks/intercom/desk")
}

func (d *driver) Handoff(t *testing.T, e *desktest.Env, conv, session string) (desktest.Handoff, bool) {
	l, err := e.DB.DeskLinkGet(e.Ctx, "desk", session)
	if err != nil {
		return desktest.Handoff{}, false
	}
	for _, cv := range d.ic.Conversations() {
		if cv.ID != l.Ref {
			continue
		}
		h := desktest.Handoff{Ref: cv.ID}
		for _, k := range d.ic.Contacts() {
			if k.ID == cv.ContactID {
				h.Email = k.Email
			}
		}
		for i, p := range cv.Parts {
			switch {
			case p.Type == "note" && h.Transcript == "":
				h.Transcript = intercom.HTMLText(p.Body)
			case p.Type == "close" && p.AppPackage != "":
				h.Closed = true
			case i > 0 && p.AuthorType == "user":
				h.Messages = append(h.Messages, p.Body)
			}
		}
		return h, true
	}
	return desktest.Handoff{}, false
}

func (d *driver) hook(body []byte) desktest.Hook {
	return desktest.Hook{Path: "/hooks/intercom/desk", Header: d.ic.Header(body), Body: body}
}

func (d *driver) Reply(t *testing.T, e *desktest.Env, h desktest.Handoff, text string) desktest.Hook {
	return d.hook(d.ic.AdminReply(h.Ref, "<p>"+text+"</p>"))
}

func (d *driver) Close(t *testing.T, e *desktest.Env, h desktest.Handoff) desktest.Hook {
	return d.hook(d.ic.AdminClose(h.Ref, ""))
}

func (d *driver) Forge(h desktest.Hook) desktest.Hook {
	h.Header = h.Header.Clone()
	h.Header.Set(intercom.HeaderSignature, intercom.Sign("not-the-secret", h.Body))
	return h
}

func (d *driver) Malformed() desktest.Hook { return d.hook([]byte(`{"type":"notification_event",`)) }

func (d *driver) FailStart(r ...desktest.Reply) { d.ic.Script("POST /conversations", r...) }

func (d *driver) FailSend(r ...desktest.Reply) { d.ic.Script("POST /conversations/*/reply", r...) }

func (d *driver) TooMany(e *desktest.Env, wait time.Duration) desktest.Reply {
	return desktest.Reply{Status: http.StatusTooManyRequests, Body: string(intercomtest.Fixture(e.T, "rest_error_429_rate_limit_exceeded_2.16_openapi.json")),
		Header: map[string]string{"X-RateLimit-Limit": "10000", "X-RateLimit-Remaining": "0",
			"X-RateLimit-Reset": strconv.FormatInt(e.Clock.Now().Add(wait).Unix(), 10)}}
}

func (d *driver) Down(down bool) { d.ic.SetDown(down) }
