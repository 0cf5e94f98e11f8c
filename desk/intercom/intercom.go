// Package intercom is the desk of kind `intercom`: a handoff becomes an Intercom conversation
// started by the customer's contact (found by external id or e-mail, else created, and
// remembered per desk), with the transcript as an admin note and an assignment to a team; the
// customer's messages go in as the contact's replies. Admins' replies, closes, assignments and
// deletions come back through the app's webhooks (hooks.go), signed with X-Hub-Signature. The
// package keeps the link between a handoff and its Intercom conversation in the desk store; it
// talks to nothing but Intercom's REST API.
package intercom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/internal/safehttp"
)

// Kind is the desk kind.
const Kind = "intercom"

// HookPath is where Intercom posts the app's webhook notifications.
const HookPath = "/hooks/intercom/{desk_id}"

// Defaults and limits.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultAPIVersion = "2.16"
	// HealthMaxAge is how old the last GET /me may be before a handoff checks again.
	HealthMaxAge = 30 * time.Second
	// FailureHold keeps the desk Unavailable after a call failed its retries.
	FailureHold = 60 * time.Second
	// MaxRateWait caps the wait for X-RateLimit-Reset.
	MaxRateWait = 60 * time.Second
)

// Regions are the base URLs of Intercom's data centres.
var Regions = map[string]string{
	"us": "https://api.intercom.io",
	"eu": "https://api.eu.intercom.io",
	"au": "https://api.au.intercom.io",
}

func init() {
	desk.Register(Kind, desk.Kind{
		New:        func(c desk.Config, d desk.Deps) (tandem.Desk, error) { return New(c, d) },
		NeedsEmail: true, // contacts are users with an e-mail (GPTBots requires one for Intercom)
		Routes: []desk.Route{
			{Method: http.MethodPost, Pattern: HookPath, Handle: serveHook},
			{Method: http.MethodHead, Pattern: HookPath, Handle: serveHead},
		},
		Keys: []desk.Key{{Name: "access_token", Required: true, Secret: true}, {Name: "client_secret", Secret: true},
			{Name: "admin_id"}, {Name: "region"}, {Name: "api_version"}, {Name: "team_id"}, {Name: "contact_role"},
			{Name: "close_on_end"}, {Name: "share_email"}, {Name: "base_url"}, {Name: "timeout"}},
		Check: func(c desk.Config) []desk.KeyProblem {
			return desk.OneOf(c, map[string][]string{"region": {"us", "eu", "au"}, "contact_role": {"user", "lead"}})
		},
	})
}

// Desk talks to one Intercom workspace. Build it with New; it is safe for concurrent use.
type Desk struct {
	ID         string
	BaseURL    string
	APIVersion string
	TeamID     string
	// ContactRole is the role of contacts Tandem creates: user, lead, or "" (user when an
	// e-mail or an external id is known, else lead).
	ContactRole string
	CloseOnEnd  bool
	// ShareEmail gives Intercom the contact's e-mail (Intercom may then e-mail agents' replies
	// to a contact who is not in the Messenger).
	ShareEmail bool

	token  string // the access token
	secret string // the app's client secret: the key of X-Hub-Signature

	call   safehttp.Caller
	store  desk.Store
	sink   desk.Sink
	log    *slog.Logger
	now    func() time.Time
	public string
	health desk.Tracker

	mu      sync.Mutex
	adminID string // the actor of notes, assignments and closes
	appID   string // the workspace id (app_id of webhooks), from GET /me
	admins  map[string]string
}

// New builds an Intercom desk from its configuration.
func New(c desk.Config, d desk.Deps) (*Desk, error) {
	if d.Store == nil {
		return nil, fmt.Errorf("desk %q: kind intercom needs a store", c.ID)
	}
	base := strings.TrimRight(c.String("base_url"), "/")
	if base == "" {
		region := strings.ToLower(c.String("region"))
		if region == "" {
			region = "us"
		}
		base = Regions[region]
		if base == "" {
			return nil, fmt.Errorf("desk %q: region %q is not one of us, eu, au", c.ID, region)
		}
	} else if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("desk %q: base_url is not an http(s) URL", c.ID)
	}
	dk := &Desk{ID: c.ID, BaseURL: base, APIVersion: c.String("api_version"), TeamID: c.String("team_id"),
		ContactRole: c.String("contact_role"), CloseOnEnd: c.Bool("close_on_end", true), ShareEmail: c.Bool("share_email", true),
		token: c.String("access_token"), secret: c.String("client_secret"), adminID: c.String("admin_id"),
		store: d.Store, sink: d.Sink, log: d.Log(), now: d.Now(), public: d.PublicURL,
		health: desk.Tracker{MaxAge: HealthMaxAge, Hold: FailureHold}, admins: map[string]string{}}
	if dk.APIVersion == "" {
		dk.APIVersion = DefaultAPIVersion
	}
	if dk.secret == "" {
		dk.log.Warn("desk: client_secret is not set, so Intercom's webhooks cannot be verified and are refused; agents' replies do not arrive", "desk", c.ID)
	}
	dk.call = d.Caller(c, DefaultTimeout, dk.token, dk.secret)
	dk.call.MaxWait, dk.call.Wait = MaxRateWait, rateWait
	return dk, nil
}

// rateWait is how long a 429 asks to wait: until X-RateLimit-Reset (Unix seconds), else
// Retry-After, else 10 s with jitter (Intercom documents the reset header only).
func rateWait(h http.Header, now time.Time) time.Duration {
	if reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil && reset > 0 {
		if d := time.Unix(reset, 0).Sub(now); d > 0 {
			return d
		}
		return time.Second
	}
	if d := safehttp.RetryAfter(h, now); d > 0 {
		return d
	}
	if h.Get("X-RateLimit-Limit") != "" || h.Get("X-RateLimit-Remaining") != "" {
		return time.Duration(float64(10*time.Second) * (0.8 + 0.4*rand.Float64()))
	}
	return 0
}

// NeedsEmail implements tandem.Desk.
func (d *Desk) NeedsEmail() bool { return true }

func (d *Desk) configured() error {
	if d.token == "" {
		return fmt.Errorf("desk %q is not configured: access_token is required", d.ID)
	}
	return nil
}

// Health implements tandem.Desk: not configured without an access token; unavailable while
// GET /me fails (checked when the last check is older than 30 s: a bad token, a plan without
// API access, Intercom down) or for 60 s after a call failed its retries.
func (d *Desk) Health(ctx context.Context) error {
	if err := d.configured(); err != nil {
		return err
	}
	if err := d.health.Check(ctx, d.now(), d.me); err != nil {
		return fmt.Errorf("desk %q is unavailable: %w", d.ID, err)
	}
	return nil
}

// me reads the token's admin and workspace: the admin acts when admin_id is not set; the
// workspace id tells this workspace's webhooks from others'.
func (d *Desk) me(ctx context.Context) error {
	var me struct {
		ID  desk.ID `json:"id"`
		App struct {
			IDCode string `json:"id_code"`
		} `json:"app"`
	}
	if err := d.json(ctx, http.MethodGet, "/me", nil, &me); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.adminID == "" {
		d.adminID = me.ID.String()
	}
	d.appID = me.App.IDCode
	return nil
}

// Status implements desk.Statuser.
func (d *Desk) Status() string {
	if d.configured() != nil {
		return desk.StatusNotConfigured
	}
	return d.health.Status(d.now())
}

// Report implements desk.Reporter: the state, and the URL of the app's webhooks.
func (d *Desk) Report(ctx context.Context) desk.Health {
	hook := desk.Webhook{Name: "Webhooks endpoint URL (Developer Hub → your app → Configure → Webhooks)",
		URL:  desk.URL(d.public, strings.Replace(HookPath, "{desk_id}", d.ID, 1)),
		Note: "Topics: conversation.admin.replied, conversation.admin.closed, conversation.admin.assigned, conversation.deleted."}
	if err := d.configured(); err != nil {
		return desk.Health{Status: desk.StatusNotConfigured, Detail: err.Error(), Webhooks: []desk.Webhook{hook}}
	}
	d.Health(ctx)
	h := d.health.Health(d.now())
	h.Webhooks = []desk.Webhook{hook}
	return h
}

// ---- calls ----

// do makes one API call with the desk's policy; body is encoded as JSON when not nil.
func (d *Desk) do(ctx context.Context, method, path string, body any, unsure func(context.Context) (bool, error)) (*safehttp.Response, error) {
	req := safehttp.Request{Method: method, URL: d.BaseURL + path, Unsure: unsure, Header: http.Header{
		"Authorization": {"Bearer " + d.token}, "Accept": {"application/json"}, "Intercom-Version": {d.APIVersion}}}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		req.Body = b
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.call.Do(ctx, req)
	switch st := safehttp.Status(err); {
	case err == nil:
		d.health.Succeeded(d.now())
	case st == http.StatusUnauthorized || st == http.StatusForbidden || safehttp.Temporary(err):
		// The token, the plan, or Intercom down: handoffs wait until it answers.
		d.health.Failed(d.now(), err)
	}
	return resp, err
}

func (d *Desk) json(ctx context.Context, method, path string, body, out any) error {
	resp, err := d.do(ctx, method, path, body, nil)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return fmt.Errorf("intercom desk %q: %s %s: the answer is not the JSON Intercom sends", d.ID, method, path)
		}
	}
	return nil
}

// apiError is the code and message of Intercom's error.list.
func apiError(err error) (code, message string) {
	var se *safehttp.StatusError
	if !errors.As(err, &se) {
		return "", ""
	}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(se.Body, &body) == nil && len(body.Errors) > 0 {
		return body.Errors[0].Code, body.Errors[0].Message
	}
	return "", ""
}

// admin is the admin id that acts (from admin_id, else GET /me).
func (d *Desk) admin(ctx context.Context) (string, error) {
	d.mu.Lock()
	id := d.adminID
	d.mu.Unlock()
	if id != "" {
		return id, nil
	}
	if err := d.me(ctx); err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.adminID, nil
}

// ---- contacts ----

// contact is what the desk remembers of a Tandem contact.
type contact struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

type icContact struct {
	ID        string `json:"id"`
	Role      string `json:"role"`
	UpdatedAt int64  `json:"updated_at"`
}

var conflictID = regexp.MustCompile(`id=([0-9a-f]{24})`)

// ensureContact finds or creates the Intercom contact of the handoff's contact (remembered per
// desk); fresh forgets what was remembered (a stale id).
func (d *Desk) ensureContact(ctx context.Context, s tandem.DeskStart, fresh bool) (contact, error) {
	c := s.Contact
	if !fresh {
		if raw, err := d.store.DeskContactGet(ctx, d.ID, c.ID); err == nil {
			var k contact
			if json.Unmarshal(raw, &k) == nil && k.ID != "" {
				return k, nil
			}
		} else if tandem.ErrorCode(err) != tandem.ENOTFOUND {
			return contact{}, err
		}
	}
	k, err := d.findContact(ctx, s)
	if err != nil {
		return contact{}, err
	}
	if k.ID == "" {
		if k, err = d.createContact(ctx, s); err != nil {
			return contact{}, err
		}
	}
	raw, _ := json.Marshal(k)
	if err := d.store.DeskContactPut(ctx, d.ID, c.ID, raw, d.now()); err != nil {
		return contact{}, err
	}
	return k, nil
}

func (d *Desk) email(c *tandem.Contact) string {
	if !d.ShareEmail {
		return ""
	}
	return strings.TrimSpace(c.Email)
}

// findContact looks the contact up by external id (users), then by e-mail (users first, then
// the latest updated).
func (d *Desk) findContact(ctx context.Context, s tandem.DeskStart) (contact, error) {
	if ext := desk.UserID(s.Conversation, s.Contact); ext != "" {
		var k icContact
		resp, err := d.do(ctx, http.MethodGet, "/contacts/find_by_external_id/"+url.PathEscape(ext), nil, nil)
		switch st := safehttp.Status(err); {
		case err == nil:
			if json.Unmarshal(resp.Body, &k) == nil && k.ID != "" {
				return contact{ID: k.ID, Role: roleOr(k.Role)}, nil
			}
		case st == http.StatusGone:
			// Merged into another contact: the Link header names it.
			var se *safehttp.StatusError
			if errors.As(err, &se) {
				if m := regexp.MustCompile(`/contacts/([^>/]+)>`).FindStringSubmatch(se.Header.Get("Link")); m != nil {
					return contact{ID: m[1], Role: "user"}, nil
				}
			}
		case st == http.StatusNotFound:
		default:
			return contact{}, err
		}
	}
	email := d.email(s.Contact)
	if email == "" {
		return contact{}, nil
	}
	var list struct {
		Data []icContact `json:"data"`
	}
	err := d.json(ctx, http.MethodPost, "/contacts/search", map[string]any{
		"query":      map[string]any{"field": "email", "operator": "=", "value": email},
		"pagination": map[string]any{"per_page": 5}}, &list)
	if err != nil {
		return contact{}, err
	}
	sort.SliceStable(list.Data, func(i, j int) bool {
		a, b := list.Data[i], list.Data[j]
		if (a.Role == "user") != (b.Role == "user") {
			return a.Role == "user"
		}
		return a.UpdatedAt > b.UpdatedAt
	})
	if len(list.Data) > 0 {
		return contact{ID: list.Data[0].ID, Role: roleOr(list.Data[0].Role)}, nil
	}
	return contact{}, nil
}

func roleOr(role string) string {
	if role == "lead" {
		return "lead"
	}
	return "user"
}

// createContact creates the contact. A 409 names the contact that holds the e-mail or the
// external id (unarchived when it is archived).
func (d *Desk) createContact(ctx context.Context, s tandem.DeskStart) (contact, error) {
	c := s.Contact
	ext, email := desk.UserID(s.Conversation, c), d.email(c)
	role := d.ContactRole
	if role == "" {
		role = "lead"
		if email != "" || ext != "" {
			role = "user"
		}
	}
	body := map[string]any{"role": role}
	if role == "user" && ext != "" {
		body["external_id"] = ext // whether leads take one is not documented
	}
	if email != "" {
		body["email"] = email
	}
	if n := strings.TrimSpace(c.Name); n != "" {
		body["name"] = n
	}
	if p := strings.TrimSpace(c.Phone); p != "" {
		body["phone"] = p
	}
	var k icContact
	err := d.json(ctx, http.MethodPost, "/contacts", body, &k)
	if err == nil {
		if k.ID == "" {
			return contact{}, fmt.Errorf("intercom desk %q: the contact created has no id", d.ID)
		}
		return contact{ID: k.ID, Role: roleOr(k.Role)}, nil
	}
	if safehttp.Status(err) != http.StatusConflict {
		return contact{}, err
	}
	_, msg := apiError(err)
	m := conflictID.FindStringSubmatch(msg)
	if m == nil {
		return contact{}, err
	}
	if strings.Contains(strings.ToLower(msg), "archived") {
		if uerr := d.json(ctx, http.MethodPost, "/contacts/"+m[1]+"/unarchive", map[string]any{}, nil); uerr != nil {
			d.log.Warn("desk: the archived Intercom contact could not be unarchived", "desk", d.ID, "err", uerr)
		}
	}
	return contact{ID: m[1], Role: role}, nil
}

// ---- handoffs ----

// linkData is the desk's bookkeeping of a handoff: the contact who replies in it.
type linkData struct {
	Contact string `json:"contact"`
	Role    string `json:"role"`
}

// Start implements tandem.Desk: finds or creates the contact, opens a conversation from it with
// the customer's latest question, remembers it, then adds the transcript as an admin note and
// assigns the conversation to team_id. Only the conversation's creation decides the outcome;
// the note and the assignment are recorded when they fail.
func (d *Desk) Start(ctx context.Context, s tandem.DeskStart) (string, error) {
	if err := d.configured(); err != nil {
		return "", tandem.Permanent(err)
	}
	if started, err := desk.Begin(ctx, d.store, d.ID, s); err != nil {
		return "", err
	} else if started {
		return s.Session, nil // a re-run of the same start
	}
	conv, k, err := d.openConversation(ctx, s)
	if err != nil {
		return "", desk.Permanent(err)
	}
	now := d.now()
	data, _ := json.Marshal(linkData{Contact: k.ID, Role: k.Role})
	if err := d.store.DeskLinkPut(ctx, tandem.DeskLink{Desk: d.ID, Session: s.Session, ConversationID: s.Conversation.ID, Ref: conv,
		Data: data, Open: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		return "", err
	}
	admin, err := d.admin(ctx)
	if err != nil {
		d.log.Warn("desk: no Intercom admin to write the transcript note", "desk", d.ID, "err", err)
		return s.Session, nil
	}
	if err := d.json(ctx, http.MethodPost, "/conversations/"+conv+"/reply", map[string]any{"message_type": "note", "type": "admin",
		"admin_id": admin, "body": transcriptNote(s)}, nil); err != nil {
		d.log.Warn("desk: the transcript note could not be posted", "desk", d.ID, "conversation", s.Conversation.ID, "err", err)
	}
	if d.TeamID != "" {
		if err := d.assign(ctx, conv, admin); err != nil {
			d.log.Warn("desk: the conversation could not be assigned to team_id", "desk", d.ID, "team_id", d.TeamID, "err", err)
		}
	}
	return s.Session, nil
}

// assign gives the conversation to team_id: as a team, or — should Intercom refuse that — as an
// assignee id of type admin (the schema's reading of type is not confirmed by an example).
func (d *Desk) assign(ctx context.Context, conv, admin string) error {
	body := map[string]any{"message_type": "assignment", "type": "team", "admin_id": admin, "assignee_id": d.TeamID}
	err := d.json(ctx, http.MethodPost, "/conversations/"+conv+"/parts", body, nil)
	if st := safehttp.Status(err); st == http.StatusBadRequest || st == http.StatusUnprocessableEntity {
		body["type"] = "admin"
		err = d.json(ctx, http.MethodPost, "/conversations/"+conv+"/parts", body, nil)
	}
	return err
}

// transcriptNote is the admin note of a handoff: where it comes from, then the transcript, the
// texts escaped (notes take some HTML).
func transcriptNote(s tandem.DeskStart) string {
	var b strings.Builder
	b.WriteString("<p><b>Handoff from Tandem</b> — channel: " + html.EscapeString(s.Conversation.ChannelKind))
	if s.Team != "" {
		b.WriteString(", team: " + html.EscapeString(s.Team))
	}
	if s.Reason != "" {
		b.WriteString(", reason: " + html.EscapeString(s.Reason))
	}
	if f := desk.FlowName(s); f != "" {
		b.WriteString(", flow: " + html.EscapeString(f))
	}
	b.WriteString("</p>")
	if s.Summary != "" {
		b.WriteString("<p><b>Summary:</b> " + strings.ReplaceAll(html.EscapeString(s.Summary), "\n", "<br>") + "</p>")
	}
	for i := range s.Transcript {
		m := &s.Transcript[i]
		text := desk.Text(m)
		if text == "" {
			continue
		}
		who := "Bot"
		switch {
		case m.Direction == tandem.DirectionIn:
			who = "Customer"
		case m.Author == tandem.AuthorAgent:
			who = "Agent"
		}
		b.WriteString("<p><b>" + who + ":</b> " + strings.ReplaceAll(html.EscapeString(text), "\n", "<br>") + "</p>")
	}
	return b.String()
}

// openConversation creates the handoff's conversation, initiated by the contact with the
// latest question, and returns its id. A stale remembered contact ("User Not Found") is looked
// up again once. Should an attempt's outcome be unknown, the contact's open conversations are
// searched for one created since the start before trying again.
func (d *Desk) openConversation(ctx context.Context, s tandem.DeskStart) (string, contact, error) {
	body := "(The customer asked for a human.)"
	if q := desk.LatestQuestion(s.Transcript); q != nil {
		if t := desk.Text(q); t != "" {
			body = t
		}
	}
	since := d.now().Add(-time.Minute)
	for fresh := false; ; fresh = true {
		k, err := d.ensureContact(ctx, s, fresh)
		if err != nil {
			return "", contact{}, err
		}
		found := ""
		resp, err := d.do(ctx, http.MethodPost, "/conversations", map[string]any{"from": map[string]any{"type": k.Role, "id": k.ID}, "body": body},
			func(ctx context.Context) (bool, error) {
				id, err := d.findConversation(ctx, k.ID, since)
				found = id
				return id != "", err
			})
		switch {
		case errors.Is(err, safehttp.ErrTookEffect):
			return found, k, nil
		case safehttp.Status(err) == http.StatusNotFound && !fresh:
			continue // the remembered contact is gone
		case err != nil:
			return "", contact{}, err
		}
		var msg struct {
			ConversationID desk.ID `json:"conversation_id"`
		}
		if json.Unmarshal(resp.Body, &msg) != nil || msg.ConversationID == "" {
			return "", contact{}, fmt.Errorf("intercom desk %q: the conversation created has no conversation_id", d.ID)
		}
		return msg.ConversationID.String(), k, nil
	}
}

// findConversation returns the id of the contact's open conversation created since, "" when
// there is none.
func (d *Desk) findConversation(ctx context.Context, contactID string, since time.Time) (string, error) {
	var list struct {
		Conversations []struct {
			ID        desk.ID `json:"id"`
			CreatedAt int64   `json:"created_at"`
		} `json:"conversations"`
	}
	err := d.json(ctx, http.MethodPost, "/conversations/search", map[string]any{"query": map[string]any{"operator": "AND", "value": []any{
		map[string]any{"field": "contact_ids", "operator": "=", "value": contactID},
		map[string]any{"field": "open", "operator": "=", "value": true}}}}, &list)
	if err != nil {
		return "", err
	}
	best, at := "", int64(0)
	for _, c := range list.Conversations {
		if c.CreatedAt >= since.Unix() && c.CreatedAt >= at {
			best, at = c.ID.String(), c.CreatedAt
		}
	}
	return best, nil
}

// link returns the handoff's link; a handoff never started here is a Permanent error.
func (d *Desk) link(ctx context.Context, session string) (*tandem.DeskLink, linkData, error) {
	return desk.LinkData[linkData](ctx, d.store, d.ID, session, "Intercom conversation")
}

// Send implements tandem.Desk: the customer's message as the contact's reply; images go as
// attachment_urls, other media as their URL in the text. A conversation deleted in Intercom
// (404) closes the handoff as the agent's.
func (d *Desk) Send(ctx context.Context, session string, m *tandem.Message) error {
	if m == nil {
		return tandem.Permanent(fmt.Errorf("desk %q: send without a message", d.ID))
	}
	l, data, err := d.link(ctx, session)
	if err != nil {
		return err
	}
	body := map[string]any{"message_type": "comment", "type": "user", "intercom_user_id": data.Contact}
	text := desk.Text(m)
	if md := m.Media; md != nil && md.URL != "" && desk.MediaType(md.Type, md.Mime) == tandem.MessageImage {
		body["attachment_urls"] = []string{md.URL}
		text = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.Replace(text, md.URL, "", 1)), "\n"))
	}
	if text == "" && body["attachment_urls"] == nil {
		return nil
	}
	body["body"] = text
	err = d.json(ctx, http.MethodPost, "/conversations/"+l.Ref+"/reply", body, nil)
	if safehttp.Status(err) == http.StatusNotFound {
		d.gone(ctx, l)
	}
	return desk.Permanent(err)
}

// Close implements tandem.Desk: an admin note with the reason, then (close_on_end) the
// conversation closed. The webhook echo of that close changes nothing.
func (d *Desk) Close(ctx context.Context, session, reason string) error {
	l, _, err := d.link(ctx, session)
	if err != nil {
		return err
	}
	defer d.closeLink(ctx, l)
	admin, err := d.admin(ctx)
	if err != nil {
		return desk.Permanent(err)
	}
	note := "<p>The customer ended the chat (Tandem, USER_CLOSED).</p>"
	if reason == tandem.CloseTimeout {
		note = "<p>The customer did not answer within the session timeout (Tandem, TIMEOUT).</p>"
	}
	if err := d.json(ctx, http.MethodPost, "/conversations/"+l.Ref+"/reply", map[string]any{"message_type": "note", "type": "admin", "admin_id": admin, "body": note}, nil); err != nil {
		if safehttp.Status(err) == http.StatusNotFound {
			return nil
		}
		d.log.Warn("desk: the closing note could not be posted", "desk", d.ID, "err", err)
	}
	if !d.CloseOnEnd {
		return nil
	}
	err = d.json(ctx, http.MethodPost, "/conversations/"+l.Ref+"/parts", map[string]any{"message_type": "close", "type": "admin", "admin_id": admin}, nil)
	if safehttp.Status(err) == http.StatusNotFound {
		return nil
	}
	return desk.Permanent(err)
}

func (d *Desk) closeLink(ctx context.Context, l *tandem.DeskLink) {
	desk.CloseLink(ctx, d.store, l, d.now(), d.log)
}

// gone closes a handoff whose Intercom conversation was deleted, as the agent's close.
func (d *Desk) gone(ctx context.Context, l *tandem.DeskLink) {
	desk.Ended(ctx, d.sink, d.store, l, d.now(), d.log)
}

// adminName returns an admin's name (GET /admins/{id}, remembered), "" when it cannot be read.
func (d *Desk) adminName(ctx context.Context, id string) string {
	if id == "" {
		return ""
	}
	d.mu.Lock()
	name, ok := d.admins[id]
	d.mu.Unlock()
	if ok {
		return name
	}
	var a struct {
		Name string `json:"name"`
	}
	if err := d.json(ctx, http.MethodGet, "/admins/"+url.PathEscape(id), nil, &a); err != nil {
		return ""
	}
	d.mu.Lock()
	if len(d.admins) > 1000 {
		d.admins = map[string]string{}
	}
	d.admins[id] = a.Name
	d.mu.Unlock()
	return a.Name
}
