package livechat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/safehttp"
)

// contact is what the desk remembers of a Tandem contact: LiveChat's id of the customer
// (entity_id) and the customer's chat (one per customer and license).
type contact struct {
	EntityID string `json:"entity_id"`
	ChatID   string `json:"chat_id,omitempty"`
}

func (d *Desk) contact(ctx context.Context, contactID string) (contact, error) {
	var k contact
	raw, err := d.store.DeskContactGet(ctx, d.ID, contactID)
	switch {
	case err == nil:
		json.Unmarshal(raw, &k)
	case tandem.ErrorCode(err) != tandem.ENOTFOUND:
		return k, err
	}
	return k, nil
}

func (d *Desk) saveContact(ctx context.Context, contactID string, k contact) error {
	raw, _ := json.Marshal(k)
	return d.store.DeskContactPut(ctx, d.ID, contactID, raw, d.now())
}

// tokenAnswer is what the accounts server answers with a token.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	EntityID     string `json:"entity_id"`
	ExpiresIn    int64  `json:"expires_in"`
}

// until is when a token is replaced: at 90 % of its life.
func (d *Desk) until(expiresIn int64) time.Time {
	if expiresIn <= 0 {
		expiresIn = 3600
	}
	return d.now().Add(time.Duration(float64(expiresIn)*0.9) * time.Second)
}

// agentToken returns the agent access token of the agent-token grant, from the refresh token
// (POST {accounts_url}/v2/token, grant_type refresh_token), remembered until 90 % of its life.
func (d *Desk) agentToken(ctx context.Context, fresh bool) (string, error) {
	d.mu.Lock()
	t := d.agentTok
	d.mu.Unlock()
	if !fresh && t.value != "" && d.now().Before(t.until) {
		return t.value, nil
	}
	rt, err := d.refresh(ctx)
	if err != nil {
		return "", err
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {d.ClientID}, "client_secret": {d.clientSecret}}
	resp, err := d.do(ctx, safehttp.Request{Method: http.MethodPost, URL: d.AccountsURL + "/v2/token", Body: []byte(form.Encode()),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if err != nil {
		return "", fmt.Errorf("livechat desk %q: the authorization was refused (run `tandem desk connect livechat %s` again if it was revoked): %w", d.ID, d.ID, err)
	}
	var a tokenAnswer
	if json.Unmarshal(resp.Body, &a) != nil || a.AccessToken == "" {
		return "", fmt.Errorf("livechat desk %q: the accounts server answered no access_token", d.ID)
	}
	if a.RefreshToken != "" && a.RefreshToken != rt && d.refreshToken == "" && d.secrets != nil {
		if err := d.secrets.Put(ctx, SecretRefreshToken, a.RefreshToken); err != nil {
			d.log.Warn("desk: LiveChat's new refresh token could not be stored", "desk", d.ID, "err", err)
		}
	}
	d.mu.Lock()
	d.agentTok = token{value: a.AccessToken, until: d.until(a.ExpiresIn)}
	d.mu.Unlock()
	return a.AccessToken, nil
}

// customerToken returns a customer access token for a Tandem contact, minting one (and the
// customer identity, the first time) when none is remembered or fresh is set.
func (d *Desk) customerToken(ctx context.Context, contactID string, fresh bool) (string, error) {
	k, err := d.contact(ctx, contactID)
	if err != nil {
		return "", err
	}
	if k.EntityID != "" && !fresh {
		d.mu.Lock()
		t := d.customers[k.EntityID]
		d.mu.Unlock()
		if t.value != "" && d.now().Before(t.until) {
			return t.value, nil
		}
	}
	var a tokenAnswer
	switch d.Grant {
	case GrantCookie:
		a, err = d.cookieGrant(ctx, contactID)
	default:
		a, err = d.agentGrant(ctx, k.EntityID)
	}
	if err != nil {
		return "", err
	}
	if a.AccessToken == "" {
		return "", fmt.Errorf("livechat desk %q: the accounts server answered no customer access_token", d.ID)
	}
	if a.EntityID != "" && a.EntityID != k.EntityID {
		k.EntityID = a.EntityID
		if err := d.saveContact(ctx, contactID, k); err != nil {
			return "", err
		}
	}
	d.mu.Lock()
	if len(d.customers) > 10000 {
		now := d.now()
		for id, t := range d.customers {
			if now.After(t.until) {
				delete(d.customers, id)
			}
		}
	}
	d.customers[k.EntityID] = token{value: a.AccessToken, until: d.until(a.ExpiresIn)}
	d.mu.Unlock()
	return a.AccessToken, nil
}

// agentGrant mints a customer token with the agent access token (for the identity entityID,
// or a new one when it is empty).
func (d *Desk) agentGrant(ctx context.Context, entityID string) (tokenAnswer, error) {
	body := map[string]any{"grant_type": "agent_token", "client_id": d.ClientID, "response_type": "token"}
	if entityID != "" {
		body["entity_id"] = entityID
	}
	b, _ := json.Marshal(body)
	var a tokenAnswer
	for attempt := 0; attempt < 2; attempt++ {
		agent, err := d.agentToken(ctx, attempt > 0)
		if err != nil {
			return a, err
		}
		resp, err := d.do(ctx, safehttp.Request{Method: http.MethodPost, URL: d.AccountsURL + "/v2/customer/token", Body: b,
			Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + agent}}})
		if safehttp.Status(err) == http.StatusUnauthorized && attempt == 0 {
			continue // the agent token expired early: a new one
		}
		if err != nil {
			return a, err
		}
		if json.Unmarshal(resp.Body, &a) != nil {
			return a, fmt.Errorf("livechat desk %q: the customer token answer is not JSON", d.ID)
		}
		return a, nil
	}
	return a, fmt.Errorf("livechat desk %q: the customer token was refused", d.ID)
}

// cookieGrant mints a customer token with the customer's cookies (remembered, sealed, in the
// desk's secrets; a new customer when there are none).
func (d *Desk) cookieGrant(ctx context.Context, contactID string) (tokenAnswer, error) {
	var a tokenAnswer
	name := "cookies:" + contactID
	cookies := ""
	if d.secrets != nil {
		if v, err := d.secrets.Get(ctx, name); err == nil {
			cookies = v
		}
	}
	b, _ := json.Marshal(map[string]any{"grant_type": "cookie", "client_id": d.ClientID, "organization_id": d.OrganizationID,
		"response_type": "token", "redirect_uri": d.RedirectURI})
	req := safehttp.Request{Method: http.MethodPost, URL: d.AccountsURL + "/v2/customer/token", Body: b, Header: http.Header{"Content-Type": {"application/json"}}}
	if cookies != "" {
		req.Header.Set("Cookie", cookies)
	}
	resp, err := d.do(ctx, req)
	if err != nil {
		return a, err
	}
	if json.Unmarshal(resp.Body, &a) != nil {
		return a, fmt.Errorf("livechat desk %q: the customer token answer is not JSON", d.ID)
	}
	var jar []string
	for _, c := range (&http.Response{Header: resp.Header}).Cookies() {
		if strings.HasPrefix(c.Name, "__lc_") {
			jar = append(jar, c.Name+"="+c.Value)
		}
	}
	if len(jar) > 0 && d.secrets != nil {
		if err := d.secrets.Put(ctx, name, strings.Join(jar, "; ")); err != nil {
			d.log.Warn("desk: the LiveChat customer's cookies could not be stored; the next handoff starts a new customer", "desk", d.ID, "err", err)
		}
	}
	return a, nil
}
