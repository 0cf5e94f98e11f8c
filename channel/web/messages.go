package web

import (
	"context"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/internal/jsonhttp"
	"github.com/tandemchat/tandem/internal/park"
)

// messageJSON is a message as the widget sees it (web-widget B6). Agents appear by name only.
type messageJSON struct {
	ID             string           `json:"id"`
	Seq            int64            `json:"seq"`
	ConversationID string           `json:"conversation_id"`
	Direction      string           `json:"direction"`
	Author         string           `json:"author"`
	Type           string           `json:"type"`
	Text           string           `json:"text"`
	Buttons        []tandem.Button  `json:"buttons"`
	Render         string           `json:"render,omitempty"`
	Media          *mediaJSON       `json:"media"`
	Location       *tandem.Location `json:"location,omitempty"`
	ClientID       *string          `json:"client_id"`
	Agent          *agentJSON       `json:"agent,omitempty"`
	CreatedAt      time.Time        `json:"created_at"`
}

type mediaJSON struct {
	URL  string `json:"url"`
	Mime string `json:"mime,omitempty"`
	Name string `json:"name,omitempty"`
}

type agentJSON struct {
	Name      string `json:"name"`
	AvatarURL string `json:"avatar_url,omitempty"`
}

// clientID returns the client id of a message the widget stored (its channel message id is
// "<session id>:<client id>"), or nil.
func clientID(m *tandem.Message) *string {
	if m.Direction != tandem.DirectionIn {
		return nil
	}
	_, id, ok := strings.Cut(m.ChannelMessageID, ":")
	if !ok || !strings.HasPrefix(m.ChannelMessageID, "ws_") {
		return nil
	}
	return &id
}

func (c *Channel) messageJSON(ctx context.Context, be Backend, m *tandem.Message) messageJSON {
	out := messageJSON{ID: m.ID, Seq: m.Seq, ConversationID: m.ConversationID, Direction: m.Direction, Author: m.Author, Type: m.Type,
		Text: m.Text, Buttons: m.Buttons, Render: m.Render, Location: m.Location, ClientID: clientID(m), CreatedAt: m.CreatedAt}
	if m.Media != nil {
		out.Media = &mediaJSON{URL: m.Media.URL, Mime: m.Media.Mime, Name: m.Media.Name}
		if m.Media.ID != "" {
			out.Media.URL = c.mediaPath(m.Media.ID) // the widget's address of a stored file
		}
	}
	if m.Author == tandem.AuthorAgent {
		name, avatar := be.Agent(ctx, m.AgentID)
		out.Agent = &agentJSON{Name: name, AvatarURL: avatar}
	}
	return out
}

// conversationJSON is a `conversation` event: the status (bot, queued, assigned, closed) and,
// while an agent has it, the agent's name.
type conversationJSON struct {
	ConversationID string     `json:"conversation_id"`
	ID             string     `json:"id"`
	Status         string     `json:"status"`
	Agent          *agentJSON `json:"agent"`
	Seq            int64      `json:"seq"`
}

func (c *Channel) conversationJSON(ctx context.Context, be Backend, cv *Conversation, seq int64) conversationJSON {
	return conversationJSON{ConversationID: cv.ID, ID: cv.ID, Status: cv.Status, Agent: c.agentOf(ctx, be, cv.Status, cv.Assignee), Seq: seq}
}

// agentOf is the agent customers see with a status: the assignee by name while assigned.
func (c *Channel) agentOf(ctx context.Context, be Backend, status, assignee string) *agentJSON {
	if assignee == "" || status != tandem.ConversationAssigned {
		return nil
	}
	name, avatar := be.Agent(ctx, assignee)
	return &agentJSON{Name: name, AvatarURL: avatar}
}

// statusJSON is a `status` event: a change of the conversation's status, numbered with its
// messages (seq). It carries the status after the change (bot, queued, assigned, closed) and,
// while an agent has it, the agent's name.
type statusJSON struct {
	ConversationID string     `json:"conversation_id"`
	Seq            int64      `json:"seq"`
	Status         string     `json:"status"`
	Agent          *agentJSON `json:"agent"`
	CreatedAt      time.Time  `json:"created_at"`
}

func (c *Channel) statusJSON(ctx context.Context, be Backend, conversationID string, e *Event) statusJSON {
	return statusJSON{ConversationID: conversationID, Seq: e.Seq, Status: e.Status, Agent: c.agentOf(ctx, be, e.Status, e.Assignee), CreatedAt: e.At}
}

// eventJSON is one numbered event as the widget sees it: its SSE event name and its JSON.
func (c *Channel) eventJSON(ctx context.Context, be Backend, conversationID string, e *Event) (string, any) {
	if e.Message != nil {
		return "message", c.messageJSON(ctx, be, e.Message)
	}
	return "status", c.statusJSON(ctx, be, conversationID, e)
}

// messageBody is POST /widget/v1/{channel_id}/messages: a text, a button reply or an upload.
type messageBody struct {
	ClientID string `json:"client_id"`
	Text     string `json:"text"`
	Reply    *struct {
		ButtonID string `json:"button_id"`
	} `json:"reply"`
	MediaID string `json:"media_id"`
}

var clientIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// allow takes one message from the session's budget, or returns the 429 to answer.
func (c *Channel) allow(w http.ResponseWriter, sessionID string) error {
	wait, ok := c.limiter.Allow(sessionID, c.deps.Now())
	if ok {
		return nil
	}
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return tandem.Errorf(tandem.ERATELIMITED, "Too many messages from this visitor; retry after %ds.", secs)
}

// messagePost stores a visitor's message. The same client_id again answers 200 with the
// first answer and stores nothing: the frame retries a send until it gets an answer. The same
// client_id with other content is 409 idempotency_conflict, and stores nothing.
func (c *Channel) messagePost(w http.ResponseWriter, r *http.Request) error {
	be, s, err := c.session(r)
	if err != nil {
		return err
	}
	if c.cfg.IdentityRequired && !s.Verified {
		return tandem.Errorf(tandem.EIDENTITYREQUIRED, "This chat is for signed-in users: the site must identify the visitor (Tandem.setUser with a valid hash).")
	}
	var body messageBody
	if err := jsonhttp.Decode(r, &body); err != nil {
		return err
	}
	if !clientIDRe.MatchString(body.ClientID) {
		return jsonhttp.Invalid("client_id", "required: a UUID (letters, digits, - and _, at most 64).")
	}
	given := 0
	for _, set := range []bool{body.Text != "", body.Reply != nil, body.MediaID != ""} {
		if set {
			given++
		}
	}
	if given != 1 {
		return jsonhttp.Invalid("text", "send exactly one of text, reply and media_id.")
	}
	if err := c.allow(w, s.ID); err != nil {
		return err
	}
	ctx := r.Context()
	now := c.deps.Now()
	m := tandem.Message{ChannelMessageID: s.ID + ":" + body.ClientID, CreatedAt: now}
	switch {
	case body.Text != "":
		text := strings.TrimSpace(body.Text)
		if text == "" || !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
			return jsonhttp.Invalid("text", "valid UTF-8 without NUL, not blank.")
		}
		if n := utf8.RuneCountInString(text); n > c.maxText() {
			return jsonhttp.Invalid("text", "at most %d characters, got %d.", c.maxText(), n)
		}
		m.Type, m.Text = tandem.MessageText, text
	case body.Reply != nil:
		id := body.Reply.ButtonID
		if id == "" {
			return jsonhttp.Invalid("reply.button_id", "required.")
		}
		title, err := c.buttonTitle(ctx, be, s.ContactID, id)
		if err != nil {
			return err
		}
		m.Type, m.Option, m.Text = tandem.MessageOption, id, title
	default:
		media, err := c.mediaOf(ctx, be, s, body.MediaID)
		if err != nil {
			return err
		}
		m.Type, m.Media = media.Type, media
	}
	rc, err := c.deps.Inbox.Receive(ctx, c.id, &channel.Batch{Messages: []channel.Inbound{{
		Contact: tandem.Contact{ExternalID: s.ExternalID}, Message: m, Variables: s.Variables, ClientID: true}}})
	if tandem.ErrorCode(err) == tandem.EIDEMPOTENCY {
		return tandem.Errorf(tandem.EIDEMPOTENCY, "client_id %q was already used for another message of this session; send a new message with a new client_id, or repeat the first one unchanged.", body.ClientID)
	}
	if err != nil {
		return err
	}
	if len(rc.Messages) != 1 {
		return tandem.Errorf(tandem.EINTERNAL, "The message was not stored.")
	}
	got := rc.Messages[0]
	seq, err := be.MessageSeq(ctx, got.ConversationID, got.MessageID)
	if err != nil {
		return err
	}
	c.streams.wakeContact(s.ContactID)
	status := http.StatusAccepted
	if got.Duplicate {
		status = http.StatusOK
	}
	return jsonhttp.Write(w, status, map[string]any{"id": got.MessageID, "seq": seq, "client_id": body.ClientID, "conversation_id": got.ConversationID})
}

// buttonTitle finds the title of a button the bot offered lately in the contact's open
// conversation; a button nobody offered is refused.
func (c *Channel) buttonTitle(ctx context.Context, be Backend, contactID, buttonID string) (string, error) {
	convs, err := be.Conversations(ctx, contactID, c.id)
	if err != nil {
		return "", err
	}
	for i := len(convs) - 1; i >= 0 && i >= len(convs)-2; i-- {
		cv := convs[i]
		evs, err := be.Events(ctx, cv.ID, max(0, cv.MsgSeq-50), 50)
		if err != nil {
			return "", err
		}
		for j := len(evs) - 1; j >= 0; j-- {
			if m := evs[j].Message; m != nil && m.Direction == tandem.DirectionOut {
				for _, b := range m.Buttons {
					if b.ID == buttonID {
						return b.Title, nil
					}
				}
			}
		}
	}
	return "", jsonhttp.Invalid("reply.button_id", "%q is not a button of the conversation's recent messages.", buttonID)
}

// conversationPost is POST /widget/v1/{channel_id}/conversations: the visitor opened the chat;
// unless a conversation is open, one starts (and its conversation_start flow greets them).
func (c *Channel) conversationPost(w http.ResponseWriter, r *http.Request) error {
	be, s, err := c.session(r)
	if err != nil {
		return err
	}
	if c.cfg.IdentityRequired && !s.Verified {
		return tandem.Errorf(tandem.EIDENTITYREQUIRED, "This chat is for signed-in users: the site must identify the visitor (Tandem.setUser with a valid hash).")
	}
	if err := c.allow(w, s.ID); err != nil {
		return err
	}
	id, err := be.Open(r.Context(), c.id, s.ContactID, s.ExternalID, s.Variables, c.deps.Now())
	if err != nil {
		return err
	}
	c.streams.wakeContact(s.ContactID)
	return jsonhttp.Write(w, http.StatusOK, map[string]string{"conversation_id": id})
}

// openConversation returns the session's open conversation, or "".
func (c *Channel) openConversation(ctx context.Context, be Backend, contactID string) (string, error) {
	convs, err := be.Conversations(ctx, contactID, c.id)
	if err != nil {
		return "", err
	}
	if n := len(convs); n > 0 && convs[n-1].Status != tandem.ConversationClosed {
		return convs[n-1].ID, nil
	}
	return "", nil
}

// typingEvery is how often a session's typing is passed on to agents.
const typingEvery = 2 * time.Second

// typingPost is POST /widget/v1/{channel_id}/typing: the visitor is typing. Agents see it in
// the inbox; more than one a typingEvery is dropped.
func (c *Channel) typingPost(w http.ResponseWriter, r *http.Request) error {
	be, s, err := c.session(r)
	if err != nil {
		return err
	}
	if _, ok := c.typing.Allow(s.ID, c.deps.Now()); ok {
		if id, err := c.openConversation(r.Context(), be, s.ContactID); err != nil {
			return err
		} else if id != "" {
			be.CustomerTyping(id)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// attributesPost is POST /widget/v1/{channel_id}/attributes: Tandem.setContactAttributes and
// setConversationAttributes. Whatever a page sets is unverified.
func (c *Channel) attributesPost(w http.ResponseWriter, r *http.Request) error {
	be, s, err := c.session(r)
	if err != nil {
		return err
	}
	var body struct {
		Contact      map[string]any `json:"contact"`
		Conversation map[string]any `json:"conversation"`
	}
	if err := jsonhttp.Decode(r, &body); err != nil {
		return err
	}
	if err := checkValues("contact", body.Contact); err != nil {
		return err
	}
	if err := checkValues("conversation", body.Conversation); err != nil {
		return err
	}
	ctx, now := r.Context(), c.deps.Now()
	if len(body.Conversation) > 0 {
		id, err := c.openConversation(ctx, be, s.ContactID)
		if err != nil {
			return err
		}
		if id == "" {
			return tandem.Errorf(tandem.ECONFLICT, "The visitor has no open conversation yet; set conversation attributes after the `conversation` event.")
		}
		if err := be.ConversationAttributes(ctx, id, body.Conversation, now); err != nil {
			return err
		}
	}
	if len(body.Contact) > 0 {
		for k := range body.Contact {
			if strings.HasPrefix(k, "claimed_") || k == "claims_source" || k == "avatar_url" || k == "locale" {
				return jsonhttp.Invalid("contact."+k, "this key is set by the widget itself.")
			}
		}
		if err := be.ContactAttributes(ctx, s.ContactID, body.Contact, now); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxWait bounds a long poll.
const maxWait = 60 * time.Second

// messagesGet is GET /widget/v1/{channel_id}/messages?after=<cursor>&wait=25s: the long-poll
// fallback of the event stream, and how the frame fills a gap. It answers the session's
// events after the cursor, oldest first — messages, and status changes (statuses), numbered
// together — with the latest conversation's status, and the next cursor; with wait, it waits
// until there is one.
func (c *Channel) messagesGet(w http.ResponseWriter, r *http.Request) error {
	be, s, err := c.session(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := tandem.ParseDuration(v)
		if err != nil || d < 0 {
			return jsonhttp.Invalid("wait", "%q is not a duration such as 25s.", v)
		}
		wait = min(d, maxWait)
	}
	// A poll that may wait takes a place among the server's waiting requests
	// (limits.long_polls): past them, 503. It gives it back when it is answered.
	var wt channel.Wait
	parked := false
	if wait > 0 {
		if wt, err = channel.EnterWait(w, r); err != nil {
			return err
		}
		defer func() {
			if !parked {
				wt.Done()
			}
		}()
	}
	deadline := time.Now().Add(wait)
	cur := q.Get("after")
	// answer writes the messages after the cursor; with none, only once the wait is up (false:
	// nothing written).
	answer := func(ctx context.Context, w http.ResponseWriter, last bool) (bool, error) {
		convs, err := be.Conversations(ctx, s.ContactID, c.id)
		if err != nil {
			return false, err
		}
		c.streams.learn(s.ContactID, convs)
		pos := startPositions(convs, cur)
		msgs, statuses := []messageJSON{}, []statusJSON{}
		next := cur
		for _, cv := range convs {
			p := findPos(pos, cv.ID)
			for p.seq < cv.MsgSeq && len(msgs)+len(statuses) < 500 {
				list, err := be.Events(ctx, cv.ID, p.seq, readBatch)
				if err != nil {
					return false, err
				}
				if len(list) == 0 {
					break
				}
				for i := range list {
					e := &list[i]
					p.seq = e.Seq
					if e.Message != nil {
						msgs = append(msgs, c.messageJSON(ctx, be, e.Message))
					} else {
						statuses = append(statuses, c.statusJSON(ctx, be, cv.ID, e))
					}
					next = cursor(cv.ID, p.seq)
				}
			}
		}
		if len(msgs) == 0 && len(statuses) == 0 && !last {
			return false, nil
		}
		status := []conversationJSON{}
		if n := len(convs); n > 0 {
			status = append(status, c.conversationJSON(ctx, be, &convs[n-1], convs[n-1].MsgSeq))
			if next == "" {
				next = cursor(convs[n-1].ID, convs[n-1].MsgSeq)
			}
		}
		return true, jsonhttp.Write(w, http.StatusOK, map[string]any{"messages": msgs, "statuses": statuses, "next_cursor": next, "conversations": status})
	}
	for {
		var t *park.Ticket
		if wait > 0 {
			// Watched before the read: a change committed in between wakes it.
			t = c.streams.lot.Watch(s.ContactID)
		}
		left := time.Until(deadline)
		done, err := answer(r.Context(), w, left <= 0)
		if done || err != nil {
			if t != nil {
				t.Cancel()
			}
			return err
		}
		// Nothing yet: the poll waits in the channel's lot without a goroutine of its own (other
		// replicas' commits wake it through the look for changes).
		parked, err = t.Park(w, park.Request{Deadline: deadline, Done: func(int) { wt.Done() }, Answer: func(ctx context.Context, last bool) (*park.Answer, bool) {
			rec := park.NewRecorder()
			done, err := answer(ctx, rec, last)
			if err != nil {
				c.log.Warn("widget long poll: messages cannot be read", "err", err)
				return &park.Answer{Status: http.StatusServiceUnavailable, Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}},
					Body: []byte(`{"error":{"code":"unavailable","message":"The messages cannot be read now; retry."}}`)}, true
			}
			return rec.Answer(), done
		}})
		if err != nil {
			t.Cancel()
			return err
		}
		if parked {
			wt.Detach() // the lot holds its connection now, and Done gives the place back
			return nil
		}
		// The connection cannot be taken over (HTTP/2): wait here.
		tick := time.NewTimer(left)
		select {
		case <-t.Woken():
		case <-tick.C:
			t.Cancel()
		case <-r.Context().Done():
			tick.Stop()
			t.Cancel()
			return r.Context().Err()
		}
		tick.Stop()
	}
}
