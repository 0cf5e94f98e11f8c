package livechat

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/internal/safehttp"
)

func okay(w http.ResponseWriter) error { return desk.WriteJSON(w, http.StatusOK, struct{}{}) }

// webhook is what Tandem reads of LiveChat's webhook envelope (v3.6, and v3.3's license_id and
// recipients).
type webhook struct {
	SecretKey      *string         `json:"secret_key"`
	Action         string          `json:"action"`
	OrganizationID string          `json:"organization_id"`
	Payload        json.RawMessage `json:"payload"`
}

// user is a LiveChat user (an agent, a customer, a bot).
type user struct {
	ID   desk.ID `json:"id"`
	Name string  `json:"name"`
	Type string  `json:"type"`
}

// payload is a webhook's payload. LiveChat's ids are strings and its group ids numbers; both
// read either way (desk.ID), so that no id written the other way refuses a webhook.
type payload struct {
	ChatID   desk.ID `json:"chat_id"`
	ThreadID desk.ID `json:"thread_id"`
	// incoming_event.
	Event *struct {
		ID         desk.ID `json:"id"`
		Type       string  `json:"type"`
		Text       string  `json:"text"`
		CustomID   string  `json:"custom_id"`
		AuthorID   desk.ID `json:"author_id"`
		Visibility string  `json:"visibility"`
		Recipients string  `json:"recipients"`
		URL        string  `json:"url"`
		Name       string  `json:"name"`
		Content    string  `json:"content_type"`
		Properties struct {
			LC2 struct {
				WelcomeMessage bool `json:"welcome_message"`
			} `json:"lc2"`
		} `json:"properties"`
	} `json:"event"`
	// chat_deactivated.
	UserID desk.ID `json:"user_id"`
	// user_added_to_chat.
	User     *user  `json:"user"`
	UserType string `json:"user_type"`
	// chat_transferred.
	Reason        string `json:"reason"`
	TransferredTo struct {
		AgentIDs []desk.ID `json:"agent_ids"`
		GroupIDs []desk.ID `json:"group_ids"`
	} `json:"transferred_to"`
	// incoming_chat.
	Chat *struct {
		ID     desk.ID `json:"id"`
		Users  []user  `json:"users"`
		Thread struct {
			ID desk.ID `json:"id"`
		} `json:"thread"`
	} `json:"chat"`
}

// serveHook answers POST /hooks/livechat/{desk_id}. LiveChat puts the secret_key in the body,
// so the body is parsed first (400 when it is not JSON), then the key checked (401, nothing
// stored). LiveChat retries what is not answered 200 within 10 s; everything Tandem does not
// use is answered 200.
func serveHook(dk tandem.Desk, w http.ResponseWriter, r *http.Request) error {
	body, err := desk.HookBody(dk, r)
	if err != nil {
		return err
	}
	d := dk.(*Desk)
	var hk webhook
	if err := json.Unmarshal(body, &hk); err != nil {
		return tandem.Errorf(tandem.EINVALID, "The body is not a JSON object; LiveChat webhooks are JSON.")
	}
	if hk.SecretKey == nil || !desk.Equal(*hk.SecretKey, d.secretKey) {
		return tandem.Errorf(tandem.EUNAUTHORIZED, "The webhook's secret_key is missing or wrong; check the desk's secret_key.")
	}
	if hk.Action == "" {
		return tandem.Errorf(tandem.EINVALID, "action: required: the webhook's action, such as incoming_event.")
	}
	if hk.OrganizationID != "" && d.OrganizationID != "" && hk.OrganizationID != d.OrganizationID {
		return okay(w) // another organization
	}
	var p payload
	if len(bytes.TrimSpace(hk.Payload)) > 0 && json.Unmarshal(hk.Payload, &p) != nil {
		return tandem.Errorf(tandem.EINVALID, "payload: must be a JSON object.")
	}
	if d.sink == nil {
		return tandem.Errorf(tandem.EUNAVAILABLE, "The server is starting; send the webhook again in a moment.")
	}
	dl, err := d.delivery(r.Context(), hk.Action, &p)
	if err != nil {
		d.log.Error("desk webhook: cannot read a LiveChat webhook", "desk", d.ID, "err", err)
		return tandem.Errorf(tandem.EINTERNAL, "The webhook could not be stored; send it again.")
	}
	if dl == nil {
		return okay(w)
	}
	if _, err := d.sink.DeskDeliver(r.Context(), *dl); err != nil {
		d.log.Error("desk webhook: cannot store a LiveChat webhook", "desk", d.ID, "err", err)
		return tandem.Errorf(tandem.EINTERNAL, "The webhook could not be stored; send it again.")
	}
	if dl.Close {
		if l, err := d.store.DeskLinkByRef(r.Context(), d.ID, string(p.ChatID)); err == nil && l.Session == dl.Session {
			d.closeLink(r.Context(), l)
		}
	}
	return okay(w)
}

// delivery is what a webhook means for the handoff of its chat (nil: nothing).
func (d *Desk) delivery(ctx context.Context, action string, p *payload) (*desk.Delivery, error) {
	if action == "incoming_chat" && p.Chat != nil {
		d.remember(p.Chat.Users...)
		return nil, nil
	}
	chat, thread := string(p.ChatID), string(p.ThreadID)
	if chat == "" {
		return nil, nil
	}
	l, err := d.store.DeskLinkByRef(ctx, d.ID, chat)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return nil, nil // not a chat of Tandem's
	} else if err != nil {
		return nil, err
	}
	var data linkData
	json.Unmarshal(l.Data, &data)
	if thread != "" && data.ThreadID != "" && thread != data.ThreadID {
		return nil, nil // an earlier thread: an earlier handoff
	}
	now := d.now()
	dl := &desk.Delivery{Desk: d.ID, Session: l.Session}
	switch action {
	case "incoming_event":
		e := p.Event
		switch {
		case e == nil, e.AuthorID == "", data.EntityID != "" && string(e.AuthorID) == data.EntityID:
			return nil, nil // system messages have no author; the customer's are Tandem's own
		case e.Visibility == "agents" || e.Recipients == "agents":
			return nil, nil // a whisper between agents
		case e.Properties.LC2.WelcomeMessage:
			return nil, nil // the automatic greeting
		}
		agent := d.agentName(ctx, data.Contact, chat, thread, string(e.AuthorID))
		switch e.Type {
		case "message":
			if strings.TrimSpace(e.Text) == "" {
				return nil, nil
			}
			dl.Events = desk.AgentMessage(agent, e.Text, nil, now)
		case "file":
			if e.URL == "" {
				return nil, nil
			}
			dl.Events = desk.AgentMessage(agent, "", []desk.File{{URL: e.URL, Name: e.Name, Mime: e.Content}}, now)
		default:
			return nil, nil
		}
		dl.Key = "event:" + chat + ":" + string(e.ID)
		return dl, nil
	case "chat_deactivated":
		if data.EntityID != "" && string(p.UserID) == data.EntityID {
			return nil, nil // Tandem's deactivate_chat, as the customer
		}
		dl.Close, dl.Events = true, desk.AgentClose(d.name(string(p.UserID)), now) // an agent, or the router (no user_id)
		return dl, nil
	case "user_added_to_chat", "chat_user_added":
		if p.User == nil || (p.UserType != "agent" && p.User.Type != "agent") {
			return nil, nil
		}
		d.remember(*p.User)
		dl.Key = "added:" + chat + ":" + thread + ":" + string(p.User.ID)
		dl.Events = desk.AgentAssigned(firstNonEmpty(p.User.Name, string(p.User.ID)), now)
		return dl, nil
	case "chat_transferred":
		if len(p.TransferredTo.AgentIDs) == 0 {
			return nil, nil // to a group: it waits in the queue
		}
		ids := make([]string, len(p.TransferredTo.AgentIDs))
		for i, a := range p.TransferredTo.AgentIDs {
			ids[i] = string(a)
		}
		id := ids[0]
		dl.Key = "transfer:" + chat + ":" + thread + ":" + p.Reason + ":" + strings.Join(ids, ",")
		dl.Events = desk.AgentAssigned(firstNonEmpty(d.name(id), id), now)
		return dl, nil
	}
	return nil, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// remember keeps the names of agents.
func (d *Desk) remember(users ...user) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.agents) > 1000 {
		d.agents = map[string]string{}
	}
	for _, u := range users {
		if u.Type == "agent" && u.ID != "" && u.Name != "" {
			d.agents[string(u.ID)] = u.Name
		}
	}
}

func (d *Desk) name(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.agents[id]
}

// agentName is an agent's name: remembered from earlier webhooks, else read from the chat
// (get_chat, as the customer), else the id.
func (d *Desk) agentName(ctx context.Context, contactID, chatID, threadID, id string) string {
	if n := d.name(id); n != "" {
		return n
	}
	if contactID != "" {
		var chat struct {
			Users []user `json:"users"`
		}
		body := map[string]any{"chat_id": chatID}
		if threadID != "" {
			body["thread_id"] = threadID
		}
		if err := d.customerJSON(ctx, contactID, "get_chat", body, &chat); err == nil {
			d.remember(chat.Users...)
			if n := d.name(id); n != "" {
				return n
			}
		}
	}
	return id
}

// ---- connect: the administrator's one-time authorization ----

// oauthState is what `tandem desk connect` keeps until LiveChat's redirect comes back.
type oauthState struct {
	RedirectURI string    `json:"redirect_uri"`
	Expires     time.Time `json:"expires"`
}

// Connect starts the authorization that gives the agent-token grant its refresh token: it
// returns the URL an administrator opens; LiveChat then redirects to public's
// /hooks/livechat/{desk_id}/oauth, where the server stores the refresh token (sealed). The
// state it makes is good for StateTTL and once.
func (d *Desk) Connect(ctx context.Context, public string) (string, error) {
	if d.ClientID == "" || d.clientSecret == "" {
		return "", fmt.Errorf("desk %q: set client_id and client_secret (the server-side app's) before connecting", d.ID)
	}
	if d.secrets == nil {
		return "", fmt.Errorf("desk %q: credentials cannot be stored: set TANDEM_SECRET_KEY", d.ID)
	}
	u, err := url.Parse(strings.TrimSpace(public))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%q is not the server's public http(s) address (e.g. https://tandem.acme.com)", public)
	}
	redirect := strings.TrimRight(u.String(), "/") + strings.Replace(OAuthPath, "{desk_id}", d.ID, 1)
	var b [16]byte
	rand.Read(b[:])
	state := hex.EncodeToString(b[:])
	st, _ := json.Marshal(oauthState{RedirectURI: redirect, Expires: d.now().Add(StateTTL)})
	if err := d.secrets.Put(ctx, stateName(state), string(st)); err != nil {
		return "", err
	}
	q := url.Values{"response_type": {"code"}, "client_id": {d.ClientID}, "redirect_uri": {redirect}, "state": {state}}
	return d.AccountsURL + "/?" + q.Encode(), nil
}

func stateName(state string) string { return "oauth_state:" + state }

// Connected reports whether the desk has an authorization (a refresh token).
func (d *Desk) Connected(ctx context.Context) bool {
	_, err := d.refresh(ctx)
	return err == nil
}

// page answers the administrator's browser.
func page(w http.ResponseWriter, status int, title, text string) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><title>%s</title><h1>%s</h1><p>%s</p>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
	return err
}

// serveOAuth answers GET /hooks/livechat/{desk_id}/oauth: LiveChat's redirect after an
// administrator approved (or refused) Tandem. The state must be one `connect` made, unexpired,
// and it is used once; the code is exchanged for tokens and the refresh token stored sealed.
func serveOAuth(dk tandem.Desk, w http.ResponseWriter, r *http.Request) error {
	d, _ := dk.(*Desk)
	if d == nil {
		return page(w, http.StatusNotFound, "Unknown desk", "No LiveChat desk of this server has this id.")
	}
	q := r.URL.Query()
	if d.secrets == nil {
		return page(w, http.StatusServiceUnavailable, "Not connected", "The server cannot store credentials: set TANDEM_SECRET_KEY and run tandem desk connect again.")
	}
	ctx := r.Context()
	state := q.Get("state")
	var st oauthState
	raw, err := "", error(nil)
	if state != "" && len(state) <= 128 {
		raw, err = d.secrets.Get(ctx, stateName(state))
	}
	if state == "" || err != nil || json.Unmarshal([]byte(raw), &st) != nil || d.now().After(st.Expires) {
		if err != nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
			d.log.Error("desk: the LiveChat authorization state cannot be read", "desk", d.ID, "err", err)
		}
		return page(w, http.StatusUnauthorized, "Not connected", "This authorization link is unknown, used or expired. Run tandem desk connect livechat "+d.ID+" again.")
	}
	d.secrets.Delete(ctx, stateName(state)) // once
	if e := q.Get("error"); e != "" {
		return page(w, http.StatusBadRequest, "Not connected", "LiveChat did not authorize Tandem ("+e+").")
	}
	code := q.Get("code")
	if code == "" {
		return page(w, http.StatusBadRequest, "Not connected", "LiveChat's answer has no code.")
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {d.ClientID}, "client_secret": {d.clientSecret}, "redirect_uri": {st.RedirectURI}}
	resp, err := d.call.Do(ctx, safehttp.Request{Method: http.MethodPost, URL: d.AccountsURL + "/v2/token", Body: []byte(form.Encode()),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	var a tokenAnswer
	if err == nil && (json.Unmarshal(resp.Body, &a) != nil || a.RefreshToken == "") {
		err = fmt.Errorf("livechat desk %q: the accounts server answered no refresh_token", d.ID)
	}
	if err != nil {
		d.log.Warn("desk: LiveChat's authorization code could not be exchanged", "desk", d.ID, "err", err)
		return page(w, http.StatusBadGateway, "Not connected", "LiveChat's accounts server refused the authorization or did not answer; try again.")
	}
	if err := d.secrets.Put(ctx, SecretRefreshToken, a.RefreshToken); err != nil {
		d.log.Error("desk: LiveChat's refresh token cannot be stored", "desk", d.ID, "err", err)
		return page(w, http.StatusServiceUnavailable, "Not connected", "The authorization could not be stored; check the server's logs.")
	}
	d.mu.Lock()
	d.agentTok = token{value: a.AccessToken, until: d.until(a.ExpiresIn)}
	d.mu.Unlock()
	d.log.Info("desk: LiveChat is connected", "desk", d.ID)
	return page(w, http.StatusOK, "LiveChat is connected", "Tandem can now hand conversations to LiveChat desk "+d.ID+". You can close this page.")
}
