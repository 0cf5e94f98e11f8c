// Package livechat is the desk of kind `livechat`: Tandem speaks for the customer through
// LiveChat's Customer Chat API (v3.6) with a customer token per contact, minted by the
// agent-token grant from an administrator's one-time authorization (tandem desk connect
// livechat DESK_ID; the refresh token is kept sealed) or by the cookie grant. A handoff starts
// (or resumes) the customer's chat in the agents' group with the transcript; the customer's
// messages are the customer's events; agents' messages, transfers and the chat's end come back
// through license webhooks checked by their secret_key (hooks.go). The package keeps the link
// between a handoff and its chat in the desk store; it talks to nothing but LiveChat.
package livechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/internal/safehttp"
)

// Kind is the desk kind.
const Kind = "livechat"

// Routes of the kind.
const (
	HookPath  = "/hooks/livechat/{desk_id}"
	OAuthPath = "/hooks/livechat/{desk_id}/oauth"
)

// Defaults and limits.
const (
	DefaultBaseURL     = "https://api.livechatinc.com"
	DefaultAccountsURL = "https://accounts.livechat.com"
	DefaultAPIVersion  = "3.6"
	DefaultTimeout     = 10 * time.Second
	// HealthMaxAge is how old the last check of the group may be before a handoff checks again.
	HealthMaxAge = 30 * time.Second
	// FailureHold keeps the desk Unavailable after a call failed its retries.
	FailureHold = 60 * time.Second
	// MaxText is the longest text of one event; longer transcripts are split.
	MaxText = 16000
	// StateTTL is how long an authorization made by `tandem desk connect` waits for its redirect.
	StateTTL = 15 * time.Minute
)

// Grants of customer tokens.
const (
	GrantAgentToken = "agent_token"
	GrantCookie     = "cookie"
)

// SecretRefreshToken is the name of the refresh token among the desk's secrets.
const SecretRefreshToken = "refresh_token"

func init() {
	desk.Register(Kind, desk.Kind{
		New:        func(c desk.Config, d desk.Deps) (tandem.Desk, error) { return New(c, d) },
		NeedsEmail: true, // GPTBots asks for one for LiveChat; agents see it in the customer's details
		Routes: []desk.Route{
			{Method: http.MethodPost, Pattern: HookPath, Handle: serveHook},
			{Method: http.MethodGet, Pattern: OAuthPath, Handle: serveOAuth},
		},
		Keys: []desk.Key{{Name: "organization_id", Required: true}, {Name: "client_id", Required: true},
			{Name: "secret_key", Secret: true}, {Name: "group_id"}, {Name: "customer_grant"}, {Name: "client_secret", Secret: true},
			{Name: "refresh_token", Secret: true}, {Name: "redirect_uri"}, {Name: "pat"}, {Name: "continuous"}, {Name: "ignore_bots"},
			{Name: "base_url"}, {Name: "accounts_url"}, {Name: "api_version"}, {Name: "timeout"}},
		Check: func(c desk.Config) []desk.KeyProblem {
			return desk.OneOf(c, map[string][]string{"customer_grant": {"agent_token", "cookie"}})
		},
	})
}

// Desk talks to one LiveChat license (organization). Build it with New; it is safe for
// concurrent use.
type Desk struct {
	ID             string
	BaseURL        string
	AccountsURL    string
	APIVersion     string
	OrganizationID string
	ClientID       string
	GroupID        int
	Grant          string // agent_token | cookie
	RedirectURI    string // cookie grant: a redirect URI of the app
	Continuous     bool
	IgnoreBots     bool

	// Credentials, unexported so that no dump of a Desk shows them.
	secretKey    string // what webhooks carry
	clientSecret string
	refreshToken string // from the configuration; else the desk's secrets
	patAccount   string
	patToken     string

	call    safehttp.Caller
	store   desk.Store
	secrets desk.Secrets
	sink    desk.Sink
	log     *slog.Logger
	now     func() time.Time
	public  string
	health  desk.Tracker

	mu        sync.Mutex
	agentTok  token            // the agent access token of the agent-token grant
	customers map[string]token // customer tokens by entity id
	agents    map[string]string
}

// token is an access token and when to stop using it.
type token struct {
	value string
	until time.Time
}

// New builds a LiveChat desk from its configuration.
func New(c desk.Config, d desk.Deps) (*Desk, error) {
	if d.Store == nil {
		return nil, fmt.Errorf("desk %q: kind livechat needs a store", c.ID)
	}
	dk := &Desk{ID: c.ID, BaseURL: strings.TrimRight(c.String("base_url"), "/"), AccountsURL: strings.TrimRight(c.String("accounts_url"), "/"),
		APIVersion: strings.TrimPrefix(c.String("api_version"), "v"), OrganizationID: c.String("organization_id"), ClientID: c.String("client_id"),
		GroupID: c.Int("group_id", 0), Grant: c.String("customer_grant"), RedirectURI: c.String("redirect_uri"),
		Continuous: c.Bool("continuous", false), IgnoreBots: c.Bool("ignore_bots", true),
		secretKey: c.String("secret_key"), clientSecret: c.String("client_secret"), refreshToken: c.String("refresh_token"),
		patAccount: c.String("pat.account_id"), patToken: c.String("pat.token"),
		store: d.Store, secrets: d.Secrets, sink: d.Sink, log: d.Log(), now: d.Now(), public: d.PublicURL,
		health: desk.Tracker{MaxAge: HealthMaxAge, Hold: FailureHold}, customers: map[string]token{}, agents: map[string]string{}}
	for _, u := range []*string{&dk.BaseURL, &dk.AccountsURL} {
		if *u == "" {
			continue
		}
		if p, err := url.Parse(*u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("desk %q: base_url and accounts_url must be http(s) URLs", c.ID)
		}
	}
	if dk.BaseURL == "" {
		dk.BaseURL = DefaultBaseURL
	}
	if dk.AccountsURL == "" {
		dk.AccountsURL = DefaultAccountsURL
	}
	if dk.APIVersion == "" {
		dk.APIVersion = DefaultAPIVersion
	}
	if dk.Grant == "" {
		dk.Grant = GrantAgentToken
	}
	if dk.secretKey == "" {
		dk.log.Warn("desk: secret_key is not set, so LiveChat's webhooks cannot be verified and are refused; agents' messages do not arrive", "desk", c.ID)
	}
	dk.call = d.Caller(c, DefaultTimeout, dk.secretKey, dk.clientSecret, dk.refreshToken, dk.patToken)
	dk.call.Retryable = retryable
	return dk, nil
}

// NeedsEmail implements tandem.Desk.
func (d *Desk) NeedsEmail() bool { return true }

// configured says what is missing, nil when nothing is.
func (d *Desk) configured(ctx context.Context) error {
	var missing []string
	if d.OrganizationID == "" {
		missing = append(missing, "organization_id")
	}
	if d.ClientID == "" {
		missing = append(missing, "client_id")
	}
	switch d.Grant {
	case GrantAgentToken:
		if d.clientSecret == "" {
			missing = append(missing, "client_secret")
		}
	case GrantCookie:
		if d.RedirectURI == "" {
			missing = append(missing, "redirect_uri")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("desk %q is not configured: set %s", d.ID, strings.Join(missing, ", "))
	}
	if d.Grant == GrantAgentToken {
		if _, err := d.refresh(ctx); err != nil {
			return err
		}
	}
	return nil
}

// errNotConnected is a desk of the agent-token grant without a refresh token.
type errNotConnected struct{ id string }

func (e errNotConnected) Error() string {
	return fmt.Sprintf("desk %q is not configured: no LiveChat authorization yet; run `tandem desk connect livechat %s` and approve as a LiveChat administrator (or set refresh_token)", e.id, e.id)
}

// refresh returns the refresh token: the configuration's, else the one stored by connect.
func (d *Desk) refresh(ctx context.Context) (string, error) {
	if d.refreshToken != "" {
		return d.refreshToken, nil
	}
	if d.secrets == nil {
		return "", errNotConnected{d.ID}
	}
	v, err := d.secrets.Get(ctx, SecretRefreshToken)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return "", errNotConnected{d.ID}
	} else if err != nil {
		return "", fmt.Errorf("desk %q: the stored LiveChat authorization cannot be read: %w", d.ID, err)
	}
	return v, nil
}

// Health implements tandem.Desk: not configured without the organization, the app's client id
// and secret and an authorization (or, for the cookie grant, a redirect URI); unavailable when
// the agents' group is offline (unless continuous), LiveChat refuses the credentials or does
// not answer (checked when older than 30 s), or for 60 s after a call failed its retries.
func (d *Desk) Health(ctx context.Context) error {
	if err := d.configured(ctx); err != nil {
		return err
	}
	if err := d.health.Check(ctx, d.now(), d.probe); err != nil {
		return fmt.Errorf("desk %q is unavailable: %w", d.ID, err)
	}
	return nil
}

// probe asks LiveChat whether the group takes chats: with a personal access token through the
// Configuration API's list_groups, else with the desk's probe customer through
// list_group_statuses.
func (d *Desk) probe(ctx context.Context) error {
	status := ""
	if d.patToken != "" {
		var groups []struct {
			ID            int    `json:"id"`
			RoutingStatus string `json:"routing_status"`
		}
		req := safehttp.Request{Method: http.MethodPost, URL: d.api("configuration", "list_groups", false), Body: []byte(`{"fields":["routing_status"]}`),
			Header: http.Header{"Content-Type": {"application/json"}}}
		req.Header.Set("Authorization", basic(d.patAccount, d.patToken))
		resp, err := d.call.Do(ctx, req)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(resp.Body, &groups); err != nil {
			return fmt.Errorf("livechat desk %q: list_groups: the answer is not the JSON LiveChat sends", d.ID)
		}
		for _, g := range groups {
			if g.ID == d.GroupID {
				status = g.RoutingStatus
			}
		}
		if status == "" {
			return fmt.Errorf("group %d does not exist in LiveChat", d.GroupID)
		}
	} else {
		var out struct {
			GroupsStatus map[string]string `json:"groups_status"`
		}
		if err := d.customerJSON(ctx, probeContact, "list_group_statuses", map[string]any{"group_ids": []int{d.GroupID}}, &out); err != nil {
			return err
		}
		status = out.GroupsStatus[strconv.Itoa(d.GroupID)]
	}
	if (status == "offline" || status == "not_accepting_chats") && !d.Continuous {
		return fmt.Errorf("group %d is offline: no agent accepts chats", d.GroupID)
	}
	return nil
}

// probeContact is the identity the desk checks the group's status with.
const probeContact = "~probe"

// Status implements desk.Statuser.
func (d *Desk) Status() string {
	if d.configured(context.Background()) != nil {
		return desk.StatusNotConfigured
	}
	return d.health.Status(d.now())
}

// Report implements desk.Reporter: the state, and the URLs to give LiveChat.
func (d *Desk) Report(ctx context.Context) desk.Health {
	hooks := []desk.Webhook{
		{Name: "Webhook URL (Developer Console → your app → Chat Webhooks)", URL: desk.URL(d.public, strings.Replace(HookPath, "{desk_id}", d.ID, 1)),
			Note: "Actions incoming_event and chat_deactivated (and user_added_to_chat, chat_transferred), type license, with the secret_key of tandem.yaml."},
		{Name: "Redirect URI (Developer Console → your app → Authorization)", URL: desk.URL(d.public, strings.Replace(OAuthPath, "{desk_id}", d.ID, 1))},
	}
	if err := d.configured(ctx); err != nil {
		return desk.Health{Status: desk.StatusNotConfigured, Detail: err.Error(), Webhooks: hooks}
	}
	d.Health(ctx)
	h := d.health.Health(d.now())
	h.Webhooks = hooks
	return h
}

// ---- calls ----

// apiError is LiveChat's error body.
type apiError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Data    struct {
		Region string `json:"region"`
	} `json:"data"`
}

// errorOf returns the LiveChat error of a failed call ("" type when there is none).
func errorOf(err error) apiError {
	var se *safehttp.StatusError
	var body struct {
		Error apiError `json:"error"`
	}
	if errors.As(err, &se) {
		json.Unmarshal(se.Body, &body)
	}
	return body.Error
}

// retryable: LiveChat's status codes are not documented, its error types are.
func retryable(status int, _ http.Header, body []byte) bool {
	var b struct {
		Error apiError `json:"error"`
	}
	if json.Unmarshal(body, &b) == nil && b.Error.Type != "" {
		switch b.Error.Type {
		case "too_many_requests", "internal", "service_unavailable", "request_timeout":
			return true
		}
		return false
	}
	return status == http.StatusTooManyRequests || status >= 500
}

// api is the URL of an action of the Web API: customer, agent or configuration.
func (d *Desk) api(part, action string, org bool) string {
	u := d.BaseURL + "/v" + d.APIVersion + "/" + part + "/action/" + action
	if org {
		u += "?organization_id=" + url.QueryEscape(d.OrganizationID)
	}
	return u
}

func basic(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// do makes one call and records the desk's health.
func (d *Desk) do(ctx context.Context, req safehttp.Request) (*safehttp.Response, error) {
	resp, err := d.call.Do(ctx, req)
	switch t := errorOf(err).Type; {
	case err == nil:
		d.health.Succeeded(d.now())
	case safehttp.Temporary(err), t == "authentication", t == "authorization", t == "license_expired", t == "license_not_found",
		safehttp.Status(err) == http.StatusUnauthorized:
		d.health.Failed(d.now(), err)
	}
	return resp, err
}

// customerJSON calls a Customer Chat API action as the customer of contactID (a Tandem contact
// id) and decodes the answer into out. An expired token is replaced once; a call sent to the
// wrong region is repeated once in the region LiveChat names.
func (d *Desk) customerJSON(ctx context.Context, contactID, action string, body, out any) error {
	return d.customerCall(ctx, contactID, action, body, out, nil)
}

// customerCall is customerJSON with a check (safehttp.Request.Unsure) for calls that must not
// be repeated when their outcome is unknown.
func (d *Desk) customerCall(ctx context.Context, contactID, action string, body, out any, unsure func(context.Context) (bool, error)) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	region := ""
	for attempt := 0; ; attempt++ {
		tok, err := d.customerToken(ctx, contactID, attempt > 0)
		if err != nil {
			return err
		}
		req := safehttp.Request{Method: http.MethodPost, URL: d.api("customer", action, true), Body: b, Unsure: unsure,
			Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + tok}}}
		if region == "" {
			region, _, _ = strings.Cut(tok, ":")
		}
		if region != "" && region != tok {
			req.Header.Set("X-Region", region)
		}
		resp, err := d.do(ctx, req)
		if err != nil {
			e := errorOf(err)
			switch {
			case attempt == 0 && e.Type == "authentication":
				continue // the token expired: a new one
			case attempt == 0 && e.Type == "misdirected_request" && e.Data.Region != "":
				region = e.Data.Region
				continue
			}
			return err
		}
		if out != nil && len(bytes.TrimSpace(resp.Body)) > 0 {
			if err := json.Unmarshal(resp.Body, out); err != nil {
				return fmt.Errorf("livechat desk %q: %s: the answer is not the JSON LiveChat sends", d.ID, action)
			}
		}
		return nil
	}
}

// unavailable reports LiveChat errors that mean no agent can take the chat now.
func unavailable(err error) bool {
	switch errorOf(err).Type {
	case "group_offline", "groups_offline", "group_unavailable", "group_not_found", "customer_banned",
		"license_expired", "license_not_found", "limit_reached", "users_limit_reached", "wrong_product_version", "unsupported_version":
		return true
	}
	return false
}
