// Package chatwoot is the desk of kind `chatwoot`: a Chatwoot API-channel inbox (Cloud or
// self-hosted), reached through the Application API with a user access token. Each handoff is
// a Chatwoot conversation of the contact (found or created once, remembered per desk) with the
// transcript as a private note and the customer's messages as incoming messages; agents'
// replies and resolves come back through the inbox's webhook (hooks.go) and, because Chatwoot
// delivers webhooks once and never retries, through a reconciliation poll of the open handoffs
// (poll.go). The package keeps the link between a handoff and its Chatwoot conversation in the
// desk store; it talks to nothing but Chatwoot.
package chatwoot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/internal/safehttp"
)

// Kind is the desk kind.
const Kind = "chatwoot"

// HookPath is where Chatwoot posts the inbox's webhooks.
const HookPath = "/hooks/chatwoot/{desk_id}"

// Defaults and limits.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultPollInterval = 30 * time.Second
	// HealthMaxAge is how old the last check may be before a handoff checks again.
	HealthMaxAge = 60 * time.Second
	// FailureHold keeps the desk Unavailable after a call failed its retries.
	FailureHold = 60 * time.Second
	// TeamsMaxAge is how long the team name → id map is kept.
	TeamsMaxAge = 5 * time.Minute
	// PollBatch bounds the open handoffs one poll reads.
	PollBatch = 200
)

func init() {
	desk.Register(Kind, desk.Kind{
		New:    func(c desk.Config, d desk.Deps) (tandem.Desk, error) { return New(c, d) },
		Routes: []desk.Route{{Method: http.MethodPost, Pattern: HookPath, Handle: serveHook}},
		Keys: []desk.Key{{Name: "base_url", Required: true}, {Name: "account_id", Required: true}, {Name: "inbox_id", Required: true},
			{Name: "api_token", Required: true, Secret: true}, {Name: "webhook_secret", Secret: true}, {Name: "webhook_token", Secret: true},
			{Name: "team"}, {Name: "poll_interval"}, {Name: "timeout"}},
		Check: check,
	})
}

// check refuses a webhook_token too short to authenticate Chatwoot's webhooks.
func check(c desk.Config) []desk.KeyProblem {
	if t := c.String("webhook_token"); t != "" && len(t) < 24 {
		return []desk.KeyProblem{{Key: "webhook_token", Message: "must be at least 24 characters (it is what authenticates Chatwoot's webhooks)"}}
	}
	return nil
}

// Desk talks to one Chatwoot inbox. Build it with New; it is safe for concurrent use.
type Desk struct {
	ID      string
	BaseURL string // without a trailing slash
	Account int
	Inbox   int
	Team    string // default team name of new conversations
	// Every is the reconciliation poll's interval (0: off).
	Every time.Duration

	// The credentials are unexported so that no dump of a Desk shows them.
	token         string // api_access_token
	webhookSecret string // the inbox's signing secret
	webhookToken  string // the ?token= of the callback URL

	public string // the server's public URL, for the webhook URL Report shows
	call   safehttp.Caller
	store  desk.Store
	sink   desk.Sink
	log    *slog.Logger
	now    func() time.Time
	health desk.Tracker

	mu      sync.Mutex
	teams   map[string]int
	teamsAt time.Time
}

// New builds a Chatwoot desk from its configuration.
func New(c desk.Config, d desk.Deps) (*Desk, error) {
	if d.Store == nil {
		return nil, fmt.Errorf("desk %q: kind chatwoot needs a store", c.ID)
	}
	base := strings.TrimRight(c.String("base_url"), "/")
	if base != "" {
		if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("desk %q: base_url is not an http(s) URL", c.ID)
		}
	}
	dk := &Desk{ID: c.ID, BaseURL: base, Account: c.Int("account_id", 0), Inbox: c.Int("inbox_id", 0), Team: c.String("team"),
		Every: c.Duration("poll_interval", DefaultPollInterval), token: c.String("api_token"),
		webhookSecret: c.String("webhook_secret"), webhookToken: c.String("webhook_token"),
		store: d.Store, sink: d.Sink, log: d.Log(), now: d.Now(), public: d.PublicURL,
		health: desk.Tracker{MaxAge: HealthMaxAge, Hold: FailureHold}}
	if dk.webhookSecret == "" && dk.webhookToken == "" {
		dk.log.Warn("desk: neither webhook_secret nor webhook_token is set, so Chatwoot's webhooks are refused; agents' replies arrive through the poll only",
			"desk", c.ID, "poll_interval", dk.Every.String())
	}
	dk.call = d.Caller(c, DefaultTimeout, dk.token, dk.webhookSecret, dk.webhookToken)
	return dk, nil
}

// NeedsEmail implements tandem.Desk: Chatwoot contacts need no e-mail.
func (d *Desk) NeedsEmail() bool { return false }

// PollInterval implements desk.Poller.
func (d *Desk) PollInterval() time.Duration { return d.Every }

func (d *Desk) configured() error {
	if d.BaseURL == "" || d.token == "" || d.Inbox == 0 || d.Account == 0 {
		return fmt.Errorf("desk %q is not configured: base_url, account_id, inbox_id and api_token are required", d.ID)
	}
	return nil
}

// Health implements tandem.Desk: not configured without base_url, account_id, inbox_id or
// api_token; unavailable while the last check failed (GET /api/v1/profile answers, and the
// inbox is an API inbox), checked when older than 60 s, or for 60 s after a call failed.
func (d *Desk) Health(ctx context.Context) error {
	if err := d.configured(); err != nil {
		return err
	}
	err := d.health.Check(ctx, d.now(), func(ctx context.Context) error {
		if _, err := d.do(ctx, http.MethodGet, d.BaseURL+"/api/v1/profile", nil, nil); err != nil {
			return err
		}
		var inbox struct {
			ChannelType string `json:"channel_type"`
		}
		if err := d.json(ctx, http.MethodGet, d.path("/inboxes/%d", d.Inbox), nil, &inbox); err != nil {
			return err
		}
		if inbox.ChannelType != "" && inbox.ChannelType != "Channel::Api" {
			return fmt.Errorf("inbox %d is a %s inbox; Tandem needs an API inbox (Settings → Inboxes → Add Inbox → API)", d.Inbox, inbox.ChannelType)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("desk %q is unavailable: %w", d.ID, err)
	}
	return nil
}

// Status implements desk.Statuser.
func (d *Desk) Status() string {
	if d.configured() != nil {
		return desk.StatusNotConfigured
	}
	return d.health.Status(d.now())
}

// Report implements desk.Reporter: the state, and the URL to paste in the API inbox.
func (d *Desk) Report(ctx context.Context) desk.Health {
	hook := desk.Webhook{Name: "Webhook URL of the API inbox (Settings → Inboxes → the inbox → Configuration)",
		URL: desk.URL(d.public, strings.Replace(HookPath, "{desk_id}", d.ID, 1))}
	if d.webhookSecret == "" {
		hook.URL += "?token=<webhook_token>"
		hook.Note = "Put your webhook_token in place of <webhook_token>."
	} else {
		hook.Note = "Copy the inbox's webhook secret into webhook_secret."
	}
	if err := d.configured(); err != nil {
		return desk.Health{Status: desk.StatusNotConfigured, Detail: err.Error(), Webhooks: []desk.Webhook{hook}}
	}
	d.Health(ctx)
	h := d.health.Health(d.now())
	h.Webhooks = []desk.Webhook{hook}
	return h
}

// ---- calls ----

func (d *Desk) path(format string, args ...any) string {
	return d.BaseURL + "/api/v1/accounts/" + strconv.Itoa(d.Account) + fmt.Sprintf(format, args...)
}

// do makes one API call with the desk's policy; body is encoded as JSON when not nil.
func (d *Desk) do(ctx context.Context, method, target string, body any, unsure func(context.Context) (bool, error)) (*safehttp.Response, error) {
	req := safehttp.Request{Method: method, URL: target, Header: http.Header{"Api_access_token": {d.token}, "Accept": {"application/json"}}, Unsure: unsure}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		req.Body = b
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.call.Do(ctx, req)
	switch {
	case err == nil:
		d.health.Succeeded(d.now())
	case safehttp.Status(err) == http.StatusUnauthorized || safehttp.Status(err) == http.StatusPaymentRequired || safehttp.Temporary(err):
		// The token or the plan (401, 402), or Chatwoot down: handoffs wait until it answers.
		d.health.Failed(d.now(), err)
	}
	return resp, err
}

// json makes a call and decodes its answer into out (when not nil).
func (d *Desk) json(ctx context.Context, method, target string, body, out any) error {
	resp, err := d.do(ctx, method, target, body, nil)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return fmt.Errorf("chatwoot desk %q: %s %s: the answer is not the JSON Chatwoot sends", d.ID, method, strings.TrimPrefix(target, d.BaseURL))
		}
	}
	return nil
}

// ---- contacts ----

// contact is what the desk remembers of a Tandem contact: its Chatwoot id and the source id of
// its contact-inbox in our inbox.
type contact struct {
	ID       int    `json:"id"`
	SourceID string `json:"source_id"`
}

type cwContact struct {
	ID            int    `json:"id"`
	Identifier    string `json:"identifier"`
	Email         string `json:"email"`
	PhoneNumber   string `json:"phone_number"`
	ContactInboxs []struct {
		SourceID string `json:"source_id"`
		Inbox    struct {
			ID int `json:"id"`
		} `json:"inbox"`
	} `json:"contact_inboxes"`
}

func (c *cwContact) sourceID(inbox int) string {
	for _, ci := range c.ContactInboxs {
		if ci.Inbox.ID == inbox {
			return ci.SourceID
		}
	}
	return ""
}

var e164 = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)

// identifier is how Tandem names a contact in Chatwoot: Tandem's contact id.
func identifier(c *tandem.Contact) string { return c.ID }

// ensureContact finds or creates the Chatwoot contact of a Tandem contact and its contact-inbox
// in our inbox, remembering both; fresh forgets what was remembered first (a stale id).
func (d *Desk) ensureContact(ctx context.Context, c *tandem.Contact, fresh bool) (contact, error) {
	if !fresh {
		if raw, err := d.store.DeskContactGet(ctx, d.ID, c.ID); err == nil {
			var k contact
			if json.Unmarshal(raw, &k) == nil && k.ID != 0 && k.SourceID != "" {
				return k, nil
			}
		} else if tandem.ErrorCode(err) != tandem.ENOTFOUND {
			return contact{}, err
		}
	}
	found, err := d.findContact(ctx, c)
	if err != nil {
		return contact{}, err
	}
	if found == nil {
		if found, err = d.createContact(ctx, c); err != nil {
			return contact{}, err
		}
	}
	if found.Identifier == "" {
		// Found by e-mail or phone: next time it is found by Tandem's id.
		if err := d.json(ctx, http.MethodPut, d.path("/contacts/%d", found.ID), map[string]any{"identifier": identifier(c)}, nil); err != nil {
			d.log.Warn("desk: the Chatwoot contact found by e-mail or phone could not be given Tandem's identifier", "desk", d.ID, "err", err)
		}
	}
	k := contact{ID: found.ID, SourceID: found.sourceID(d.Inbox)}
	if k.SourceID == "" {
		if k.SourceID, err = d.linkContact(ctx, found.ID); err != nil {
			return contact{}, err
		}
	}
	raw, _ := json.Marshal(k)
	if err := d.store.DeskContactPut(ctx, d.ID, c.ID, raw, d.now()); err != nil {
		return contact{}, err
	}
	return k, nil
}

// findContact searches by identifier, then e-mail, then phone, keeping an exact match only
// (Chatwoot's search is fuzzy).
func (d *Desk) findContact(ctx context.Context, c *tandem.Contact) (*cwContact, error) {
	tries := []struct {
		q     string
		match func(*cwContact) bool
	}{
		{identifier(c), func(x *cwContact) bool { return x.Identifier == identifier(c) }},
		{strings.TrimSpace(c.Email), func(x *cwContact) bool { return strings.EqualFold(x.Email, strings.TrimSpace(c.Email)) }},
		{phone(c), func(x *cwContact) bool { return x.PhoneNumber == phone(c) }},
	}
	for _, t := range tries {
		if t.q == "" {
			continue
		}
		var page struct {
			Payload []cwContact `json:"payload"`
		}
		if err := d.json(ctx, http.MethodGet, d.path("/contacts/search?q=%s&page=1", url.QueryEscape(t.q)), nil, &page); err != nil {
			return nil, err
		}
		for i := range page.Payload {
			if t.match(&page.Payload[i]) {
				return &page.Payload[i], nil
			}
		}
	}
	return nil, nil
}

// phone is the contact's phone when Chatwoot takes it (E.164), else "".
func phone(c *tandem.Contact) string {
	p := strings.TrimSpace(c.Phone)
	if e164.MatchString(p) {
		return p
	}
	return ""
}

// createContact creates the contact in our inbox. A 422 naming a unique field that another
// contact holds leads to that contact, given our identifier when it has none.
func (d *Desk) createContact(ctx context.Context, c *tandem.Contact) (*cwContact, error) {
	body := map[string]any{"inbox_id": d.Inbox, "identifier": identifier(c), "additional_attributes": map[string]any{"source": "tandem"}}
	if n := strings.TrimSpace(c.Name); n != "" {
		body["name"] = n
	}
	if e := strings.TrimSpace(c.Email); e != "" {
		body["email"] = e
	}
	if p := phone(c); p != "" {
		body["phone_number"] = p
	}
	var created struct {
		Payload struct {
			Contact      cwContact `json:"contact"`
			ContactInbox struct {
				SourceID string `json:"source_id"`
			} `json:"contact_inbox"`
		} `json:"payload"`
	}
	err := d.json(ctx, http.MethodPost, d.path("/contacts"), body, &created)
	if err == nil {
		k := created.Payload.Contact
		if k.sourceID(d.Inbox) == "" && created.Payload.ContactInbox.SourceID != "" {
			k.ContactInboxs = append(k.ContactInboxs, struct {
				SourceID string `json:"source_id"`
				Inbox    struct {
					ID int `json:"id"`
				} `json:"inbox"`
			}{SourceID: created.Payload.ContactInbox.SourceID})
			k.ContactInboxs[len(k.ContactInboxs)-1].Inbox.ID = d.Inbox
		}
		if k.ID == 0 {
			return nil, fmt.Errorf("chatwoot desk %q: the contact created has no id", d.ID)
		}
		return &k, nil
	}
	if safehttp.Status(err) != http.StatusUnprocessableEntity {
		return nil, err
	}
	// Another contact holds the e-mail or the phone: use it (found again by that value).
	found, ferr := d.findContact(ctx, c)
	if ferr != nil || found == nil {
		return nil, err
	}
	return found, nil
}

// linkContact creates the contact's contact-inbox in our inbox and returns its source id.
// Chatwoot generates the source id of an API inbox; should it refuse, a new UUID is sent.
func (d *Desk) linkContact(ctx context.Context, contactID int) (string, error) {
	var out struct {
		SourceID string `json:"source_id"`
	}
	err := d.json(ctx, http.MethodPost, d.path("/contacts/%d/contact_inboxes", contactID), map[string]any{"inbox_id": d.Inbox}, &out)
	if err != nil && safehttp.Status(err) == http.StatusUnprocessableEntity {
		err = d.json(ctx, http.MethodPost, d.path("/contacts/%d/contact_inboxes", contactID), map[string]any{"inbox_id": d.Inbox, "source_id": uuid()}, &out)
	}
	if err != nil {
		return "", err
	}
	if out.SourceID == "" {
		return "", fmt.Errorf("chatwoot desk %q: the contact-inbox created has no source_id", d.ID)
	}
	return out.SourceID, nil
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// teamID returns the id of the team with the name (case-insensitive), 0 when there is none.
func (d *Desk) teamID(ctx context.Context, name string) int {
	if name == "" {
		return 0
	}
	d.mu.Lock()
	fresh := d.teams != nil && d.now().Sub(d.teamsAt) < TeamsMaxAge
	d.mu.Unlock()
	if !fresh {
		var teams []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		}
		if err := d.json(ctx, http.MethodGet, d.path("/teams"), nil, &teams); err != nil {
			d.log.Warn("desk: the Chatwoot teams could not be listed; the handoff is created without a team", "desk", d.ID, "err", err)
			return 0
		}
		m := map[string]int{}
		for _, t := range teams {
			m[strings.ToLower(t.Name)] = t.ID
		}
		d.mu.Lock()
		d.teams, d.teamsAt = m, d.now()
		d.mu.Unlock()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.teams[strings.ToLower(name)]
	if !ok {
		d.log.Warn("desk: no Chatwoot team has this name; the handoff is created without a team", "desk", d.ID, "team", name)
	}
	return id
}

// ---- handoffs ----

// linkData is the desk's bookkeeping of a handoff: the last Chatwoot message id the poll read.
type linkData struct {
	Last int `json:"last"`
}

// Start implements tandem.Desk: finds or creates the contact, opens a Chatwoot conversation
// (with the team, and the handoff's ids in additional_attributes), remembers it, then posts the
// transcript as a private note and the latest question as an incoming message. Only the
// conversation's creation decides the outcome; the note and the question are recorded when
// they fail. The session returned is the engine's.
func (d *Desk) Start(ctx context.Context, s tandem.DeskStart) (string, error) {
	if err := d.configured(); err != nil {
		return "", tandem.Permanent(err)
	}
	if started, err := desk.Begin(ctx, d.store, d.ID, s); err != nil {
		return "", err
	} else if started {
		return s.Session, nil // a re-run of the same start
	}
	conv, err := d.openConversation(ctx, s)
	if err != nil {
		return "", desk.Permanent(err)
	}
	ref := strconv.Itoa(conv)
	now := d.now()
	if err := d.store.DeskLinkPut(ctx, tandem.DeskLink{Desk: d.ID, Session: s.Session, ConversationID: s.Conversation.ID, Ref: ref,
		Data: tandem.JSON(`{"last":0}`), Open: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		return "", err
	}
	note := "Handoff from Tandem (" + s.Session + ")"
	if s.Reason != "" {
		note += "\nReason: " + s.Reason
	}
	note += "\nChannel: " + s.Conversation.ChannelKind
	if s.Team != "" {
		note += "\nTeam: " + s.Team
	}
	if f := desk.FlowName(s); f != "" {
		note += "\nFlow: " + f
	}
	if s.Summary != "" {
		note += "\nSummary: " + s.Summary
	}
	if t := desk.Transcript(s.Transcript, desk.Labels); t != "" {
		note += "\n---\n" + t
	}
	if err := d.json(ctx, http.MethodPost, d.path("/conversations/%d/messages", conv), map[string]any{"content": note, "message_type": "outgoing", "private": true}, nil); err != nil {
		d.log.Warn("desk: the transcript note could not be posted", "desk", d.ID, "conversation", s.Conversation.ID, "err", err)
	}
	if q := desk.LatestQuestion(s.Transcript); q != nil {
		if err := d.postIncoming(ctx, conv, desk.Text(q)); err != nil {
			d.log.Warn("desk: the customer's latest question could not be posted", "desk", d.ID, "conversation", s.Conversation.ID, "err", err)
		}
	}
	return s.Session, nil
}

// openConversation creates the handoff's Chatwoot conversation and returns its display id. A
// stale remembered contact (404) is looked up again once. Should an attempt's outcome be
// unknown, the contact's conversations are read for one with this handoff's id before trying
// again.
func (d *Desk) openConversation(ctx context.Context, s tandem.DeskStart) (int, error) {
	team := s.Team
	if team == "" {
		team = d.Team
	}
	teamID := d.teamID(ctx, team)
	for fresh := false; ; fresh = true {
		k, err := d.ensureContact(ctx, s.Contact, fresh)
		if err != nil {
			return 0, err
		}
		body := map[string]any{"source_id": k.SourceID, "inbox_id": d.Inbox, "contact_id": k.ID, "status": "open",
			"additional_attributes": map[string]any{"tandem_handoff_id": s.Session, "tandem_conversation_id": s.Conversation.ID, "tandem_channel": s.Conversation.ChannelKind}}
		if teamID != 0 {
			body["team_id"] = teamID
		}
		var conv struct {
			ID int `json:"id"`
		}
		found := 0
		resp, err := d.do(ctx, http.MethodPost, d.path("/conversations"), body, func(ctx context.Context) (bool, error) {
			id, err := d.findConversation(ctx, k.ID, s.Session)
			found = id
			return id != 0, err
		})
		switch {
		case errors.Is(err, safehttp.ErrTookEffect):
			return found, nil
		case err != nil && safehttp.Status(err) == http.StatusNotFound && !fresh:
			continue // the remembered contact is gone
		case err != nil:
			return 0, err
		}
		if json.Unmarshal(resp.Body, &conv) != nil || conv.ID == 0 {
			return 0, fmt.Errorf("chatwoot desk %q: the conversation created has no id", d.ID)
		}
		return conv.ID, nil
	}
}

// findConversation returns the display id of the contact's conversation opened for session,
// 0 when there is none.
func (d *Desk) findConversation(ctx context.Context, contactID int, session string) (int, error) {
	var list struct {
		Payload []struct {
			ID                   int            `json:"id"`
			AdditionalAttributes map[string]any `json:"additional_attributes"`
		} `json:"payload"`
	}
	if err := d.json(ctx, http.MethodGet, d.path("/contacts/%d/conversations", contactID), nil, &list); err != nil {
		return 0, err
	}
	for _, c := range list.Payload {
		if c.AdditionalAttributes["tandem_handoff_id"] == session {
			return c.ID, nil
		}
	}
	return 0, nil
}

// postIncoming posts a customer message. Should an attempt's outcome be unknown, the
// conversation's latest messages are read for it before trying again.
func (d *Desk) postIncoming(ctx context.Context, conv int, text string) error {
	_, err := d.do(ctx, http.MethodPost, d.path("/conversations/%d/messages", conv), map[string]any{"content": text, "message_type": "incoming"},
		func(ctx context.Context) (bool, error) {
			ms, err := d.messages(ctx, conv, 0)
			if err != nil {
				return false, err
			}
			for _, m := range ms {
				if m.incoming() && m.text() == text {
					return true, nil
				}
			}
			return false, nil
		})
	if errors.Is(err, safehttp.ErrTookEffect) {
		return nil
	}
	return err
}

// link returns the handoff's link and its Chatwoot conversation.
func (d *Desk) link(ctx context.Context, session string) (*tandem.DeskLink, int, error) {
	l, err := desk.Link(ctx, d.store, d.ID, session, "Chatwoot conversation")
	if err != nil {
		return nil, 0, err
	}
	conv, err := strconv.Atoi(l.Ref)
	if err != nil {
		return nil, 0, tandem.Permanent(fmt.Errorf("desk %q: handoff %s names Chatwoot conversation %q", d.ID, session, l.Ref))
	}
	return l, conv, nil
}

// Send implements tandem.Desk: the customer's message as an incoming message (media as their
// URL on a line of their own). A conversation deleted in Chatwoot (404) closes the handoff as
// the agent's.
func (d *Desk) Send(ctx context.Context, session string, m *tandem.Message) error {
	if m == nil {
		return tandem.Permanent(fmt.Errorf("desk %q: send without a message", d.ID))
	}
	l, conv, err := d.link(ctx, session)
	if err != nil {
		return err
	}
	text := desk.Text(m)
	if text == "" {
		return nil
	}
	err = d.postIncoming(ctx, conv, text)
	if safehttp.Status(err) == http.StatusNotFound {
		d.gone(ctx, l)
	}
	return desk.Permanent(err)
}

// Close implements tandem.Desk: a private note with the reason, then the conversation resolved.
// Its webhook echo changes nothing (the handoff is over).
func (d *Desk) Close(ctx context.Context, session, reason string) error {
	l, conv, err := d.link(ctx, session)
	if err != nil {
		return err
	}
	note := "The customer ended the chat (Tandem, USER_CLOSED)."
	if reason == tandem.CloseTimeout {
		note = "The customer did not answer within the session timeout (Tandem, TIMEOUT)."
	}
	if err := d.json(ctx, http.MethodPost, d.path("/conversations/%d/messages", conv), map[string]any{"content": note, "message_type": "outgoing", "private": true}, nil); err != nil {
		if safehttp.Status(err) == http.StatusNotFound {
			d.closeLink(ctx, l)
			return nil
		}
		d.log.Warn("desk: the closing note could not be posted", "desk", d.ID, "err", err)
	}
	err = d.json(ctx, http.MethodPost, d.path("/conversations/%d/toggle_status", conv), map[string]any{"status": "resolved"}, nil)
	if err == nil || safehttp.Status(err) == http.StatusNotFound {
		d.closeLink(ctx, l)
		return nil
	}
	return desk.Permanent(err)
}

// closeLink marks a handoff's link closed: the poll leaves it alone.
func (d *Desk) closeLink(ctx context.Context, l *tandem.DeskLink) {
	desk.CloseLink(ctx, d.store, l, d.now(), d.log)
}

// gone closes a handoff whose Chatwoot conversation was deleted, as the agent's close.
func (d *Desk) gone(ctx context.Context, l *tandem.DeskLink) {
	desk.Ended(ctx, d.sink, d.store, l, d.now(), d.log)
}
