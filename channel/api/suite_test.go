package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	apichannel "github.com/tandemchat/tandem/channel/api"
	"github.com/tandemchat/tandem/channel/channeltest"
)

const secret = "api-channel-secret-do-not-leak"

// The API channel runs the behaviour suite: its inbound route takes an API token (checked by
// the API server), it reports no delivery, and it retries every failure of the business's
// endpoint (honouring Retry-After).
func TestSuite(t *testing.T) {
	t.Parallel()
	body := func(s string) []byte { return []byte(s) }
	channeltest.Run(t, &channeltest.Suite{
		Config:  channel.Config{ID: "api", Kind: apichannel.Kind, OutboundURL: "/bot-out", Secret: secret},
		Secrets: []string{secret},
		Hook:    "/api/v1/channels/api/messages",
		Incoming: []channeltest.Incoming{
			{Name: "text", Body: body(`{"contact": {"external_id": "u-42", "name": "Ana"}, "message": {"id": "m-1", "text": "hello"}}`),
				Want: []channeltest.Want{{ExternalID: "u-42", Name: "Ana", Type: "text", Text: "hello"}}},
			{Name: "option", Body: body(`{"contact": {"external_id": "u-42"}, "message": {"id": "m-2", "option": "sales", "text": "Sales"}}`),
				Want: []channeltest.Want{{Type: "option", Option: "sales", Text: "Sales"}}},
			{Name: "location", Body: body(`{"contact": {"external_id": "u-42"}, "message": {"id": "m-3", "location": {"lat": -23.5, "lng": -46.6, "name": "Office"}}}`),
				Want: []channeltest.Want{{Type: "location", Location: &tandem.Location{Lat: -23.5, Lng: -46.6, Name: "Office"}}}},
		},
		Outgoing: []channeltest.Outgoing{
			{Name: "text with buttons", Golden: "text_buttons.json", Contact: tandem.Contact{ID: "k1", ExternalID: "u-42", Name: "Ana"},
				Message: tandem.Message{Author: tandem.AuthorBot, Type: "text", Text: "Pick one", Render: "buttons",
					Buttons: []tandem.Button{{ID: "sales", Title: "Sales"}, {ID: "support", Title: "Support"}}, CreatedAt: channeltest.T0}},
		},
		IsSend:        func(r *http.Request, _ []byte) bool { return r.Method == http.MethodPost && r.URL.Path == "/bot-out" },
		SendOK:        channeltest.Response{Status: 204},
		Throttled:     channeltest.Response{Status: 429, Header: http.Header{"Retry-After": {"9"}}},
		ThrottleDelay: 9 * time.Second,
		ServerError:   channeltest.Response{Status: 502},
	})
}
