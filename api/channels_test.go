package api

import (
	"net/http"
	"strings"
	"testing"
)

// GET /api/v1/channels lists the configured channels in order with their health and what they
// render; missing settings are named, secrets never shown, and a kind this build lacks is
// unavailable.
func TestChannelList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{workspace: `
workspace: {name: Test, timezone: UTC}
channels:
  - {id: api, kind: api}
  - {id: wa, kind: whatsapp, phone_number_id: "123", access_token: "EAAG-secret-token", app_secret: "${WA_APP_SECRET_UNSET}", verify_token: "vt"}
  - {id: web, kind: web, allowed_origins: ["https://acme.com"]}
`})
	r := e.do(request{method: "GET", path: "/api/v1/channels"}).mustStatus(t, http.StatusOK)
	if strings.Contains(string(r.body), "EAAG-secret-token") {
		t.Errorf("the answer shows a secret: %s", r.body)
	}
	var got struct {
		Channels []channelJSON `json:"channels"`
	}
	r.json(t, &got)
	if len(got.Channels) != 3 {
		t.Fatalf("%d channels, want 3: %s", len(got.Channels), r.body)
	}
	api, wa := got.Channels[0], got.Channels[1]
	if api.ID != "api" || api.Health.Status != "available" || api.Caps.Buttons != 100 {
		t.Errorf("api channel = %+v", api)
	}
	if wa.ID != "wa" || wa.Health.Status != "not_configured" || !strings.Contains(wa.Health.Detail, "app_secret") {
		t.Errorf("whatsapp channel = %+v, want not_configured naming app_secret", wa)
	}
	if wa.Caps.Buttons != 3 || wa.Caps.Window != "24h" || wa.Caps.MaxText != 4096 {
		t.Errorf("whatsapp caps = %+v", wa.Caps)
	}
	if web := got.Channels[2]; web.Health.Status == "available" && web.Kind == "web" && web.Health.Detail == "" {
		t.Errorf("web channel = %+v", web)
	}
}
