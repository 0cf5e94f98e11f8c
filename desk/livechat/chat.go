package livechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/internal/safehttp"
)

// linkData is the desk's bookkeeping of a handoff: the thread it is, and who the customer is.
type linkData struct {
	ThreadID string `json:"thread_id"`
	Contact  string `json:"contact"`   // the Tandem contact, whose token speaks
	EntityID string `json:"entity_id"` // LiveChat's id of the customer: its events are echoes
}

type event struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	CustomID string `json:"custom_id,omitempty"`
}

// events are the first events of a handoff's thread: the transcript (one labelled message, or
// several when it is longer than MaxText; the Customer API cannot write as the bot), then the
// customer's latest question.
func events(s tandem.DeskStart) []event {
	ms := s.Transcript
	q := desk.LatestQuestion(ms)
	if q != nil {
		for i := len(ms) - 1; i >= 0; i-- {
			if &ms[i] == q {
				ms = append(ms[:i:i], ms[i+1:]...)
				break
			}
		}
	}
	var out []event
	about := "[Channel: " + s.Conversation.ChannelKind
	if s.Reason != "" {
		about += " · Reason: " + s.Reason
	}
	if f := desk.FlowName(s); f != "" {
		about += " · Flow: " + f
	}
	about += "]"
	if s.Summary != "" {
		about += "\n[Summary: " + s.Summary + "]"
	}
	text := ""
	if t := desk.Transcript(ms, desk.Labels); t != "" {
		text = "[Conversation with the assistant]\n" + t + "\n" + about
	} else if s.Reason != "" || s.Summary != "" {
		text = about
	}
	if text != "" {
		for i, part := range split(text, MaxText) {
			out = append(out, event{Type: "message", Text: part, CustomID: fmt.Sprintf("%s-t%d", s.Session, i)})
		}
	}
	if q != nil {
		if text := desk.Text(q); text != "" {
			id := q.ID
			if id == "" {
				id = s.Session + "-q"
			}
			for i, part := range split(text, MaxText) {
				cid := id
				if i > 0 {
					cid = fmt.Sprintf("%s-%d", id, i)
				}
				out = append(out, event{Type: "message", Text: part, CustomID: cid})
			}
		}
	}
	if len(out) == 0 {
		out = append(out, event{Type: "message", Text: "(The customer asked for a human.)", CustomID: s.Session + "-q"})
	}
	return out
}

// split cuts text into pieces of at most n bytes, at line ends where it can, never inside a
// character.
func split(text string, n int) []string {
	var out []string
	for len(text) > n {
		cut := strings.LastIndexByte(text[:n], '\n')
		if cut <= 0 {
			cut = n
			for cut > 0 && !utf8.RuneStart(text[cut]) {
				cut--
			}
		}
		out = append(out, strings.TrimRight(text[:cut], "\n"))
		text = strings.TrimLeft(text[cut:], "\n")
	}
	return append(out, text)
}

// chatSummary is what list_chats tells of a chat.
type chatSummary struct {
	ID                  string    `json:"id"`
	LastThreadID        string    `json:"last_thread_id"`
	LastThreadCreatedAt time.Time `json:"last_thread_created_at"`
	Active              bool      `json:"active"`
}

// latestChat returns the customer's latest chat, nil when it has none.
func (d *Desk) latestChat(ctx context.Context, contactID string) (*chatSummary, error) {
	var out struct {
		Chats []chatSummary `json:"chats_summary"`
	}
	if err := d.customerJSON(ctx, contactID, "list_chats", map[string]any{"limit": 1}, &out); err != nil {
		return nil, err
	}
	if len(out.Chats) == 0 {
		return nil, nil
	}
	return &out.Chats[0], nil
}

// Start implements tandem.Desk: the customer's token, their name, e-mail and session fields,
// then the chat started in group_id (or the customer's chat resumed: a customer has one chat per
// license, each handoff is a thread of it) with the transcript and the latest question. An
// offline group (unless continuous), a banned customer or a license problem fails the handoff
// and makes the desk Unavailable for a minute.
func (d *Desk) Start(ctx context.Context, s tandem.DeskStart) (string, error) {
	if err := d.configured(ctx); err != nil {
		return "", tandem.Permanent(err)
	}
	if started, err := desk.Begin(ctx, d.store, d.ID, s); err != nil {
		return "", err
	} else if started {
		return s.Session, nil // a re-run of the same start
	}
	cid := s.Contact.ID
	d.updateCustomer(ctx, s)
	chatID, threadID, err := d.openThread(ctx, s)
	if err != nil {
		if unavailable(err) {
			d.health.Failed(d.now(), err)
		}
		return "", desk.Permanent(err)
	}
	k, err := d.contact(ctx, cid)
	if err != nil {
		return "", err
	}
	if k.ChatID != chatID {
		k.ChatID = chatID
		if err := d.saveContact(ctx, cid, k); err != nil {
			return "", err
		}
	}
	now := d.now()
	data, _ := json.Marshal(linkData{ThreadID: threadID, Contact: cid, EntityID: k.EntityID})
	if err := d.store.DeskLinkPut(ctx, tandem.DeskLink{Desk: d.ID, Session: s.Session, ConversationID: s.Conversation.ID, Ref: chatID,
		Data: data, Open: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		return "", err
	}
	return s.Session, nil
}

// updateCustomer gives LiveChat the customer's name, e-mail and session fields (what agents see
// of the customer); a failure is recorded and does not stop the handoff.
func (d *Desk) updateCustomer(ctx context.Context, s tandem.DeskStart) {
	c := s.Contact
	body := map[string]any{"session_fields": []map[string]string{{"tandem_contact": c.ID}, {"channel": s.Conversation.ChannelKind}}}
	if n := strings.TrimSpace(c.Name); n != "" {
		body["name"] = n
	}
	if e := strings.TrimSpace(c.Email); e != "" {
		body["email"] = e
	}
	if p := strings.TrimSpace(c.Phone); p != "" {
		body["session_fields"] = append(body["session_fields"].([]map[string]string), map[string]string{"phone": p})
	}
	if err := d.customerJSON(ctx, c.ID, "update_customer", body, nil); err != nil {
		d.log.Warn("desk: the LiveChat customer's details could not be updated", "desk", d.ID, "err", err)
	}
}

// openThread starts the customer's chat or resumes it, with the first events, and returns the
// chat and the thread. Should LiveChat refuse because the chat exists or is still active (their
// error types are not documented), the customer's latest chat is read: an active one gets the
// events, an inactive one is resumed. Should the outcome be unknown, the latest chat is read
// before trying again, so that the transcript is not posted twice.
func (d *Desk) openThread(ctx context.Context, s tandem.DeskStart) (chatID, threadID string, err error) {
	cid := s.Contact.ID
	k, err := d.contact(ctx, cid)
	if err != nil {
		return "", "", err
	}
	evs := events(s)
	chat := map[string]any{"access": map[string]any{"group_ids": []int{d.GroupID}}, "thread": map[string]any{"events": evs}}
	if d.IgnoreBots {
		chat["thread"].(map[string]any)["properties"] = map[string]any{"routing": map[string]any{"ignore_bots": true}}
	}
	since := d.now().Add(-time.Minute)
	var found *chatSummary
	unsure := func(ctx context.Context) (bool, error) {
		c, err := d.latestChat(ctx, cid)
		if err != nil || c == nil || !c.Active || c.LastThreadCreatedAt.Before(since) {
			return false, err
		}
		found = c
		return true, nil
	}
	if k.ChatID != "" {
		chat["id"] = k.ChatID
		var out struct {
			ThreadID string `json:"thread_id"`
		}
		err := d.customerCall(ctx, cid, "resume_chat", map[string]any{"chat": chat, "continuous": d.Continuous}, &out, unsure)
		switch {
		case err == nil:
			return k.ChatID, out.ThreadID, nil
		case errors.Is(err, safehttp.ErrTookEffect):
			return found.ID, found.LastThreadID, nil
		case unavailable(err) || safehttp.Temporary(err):
			return "", "", err
		case errorOf(err).Type != "not_found":
			return d.afterRefusal(ctx, cid, evs, err)
		}
		delete(chat, "id") // the chat is gone: a new one
	}
	var out struct {
		ChatID   string `json:"chat_id"`
		ThreadID string `json:"thread_id"`
	}
	err = d.customerCall(ctx, cid, "start_chat", map[string]any{"chat": chat, "continuous": d.Continuous}, &out, unsure)
	switch {
	case err == nil:
		if out.ChatID == "" {
			return "", "", fmt.Errorf("livechat desk %q: start_chat answered no chat_id", d.ID)
		}
		return out.ChatID, out.ThreadID, nil
	case errors.Is(err, safehttp.ErrTookEffect):
		return found.ID, found.LastThreadID, nil
	case unavailable(err) || safehttp.Temporary(err):
		return "", "", err
	}
	return d.afterRefusal(ctx, cid, evs, err)
}

// afterRefusal handles a start or resume that LiveChat refused for another reason than the
// group: the customer's latest chat is still active (the events are sent to it) or inactive
// (it is resumed).
func (d *Desk) afterRefusal(ctx context.Context, cid string, evs []event, refusal error) (string, string, error) {
	c, err := d.latestChat(ctx, cid)
	if err != nil || c == nil {
		return "", "", refusal
	}
	if !c.Active {
		chat := map[string]any{"id": c.ID, "access": map[string]any{"group_ids": []int{d.GroupID}}, "thread": map[string]any{"events": evs}}
		var out struct {
			ThreadID string `json:"thread_id"`
		}
		if err := d.customerJSON(ctx, cid, "resume_chat", map[string]any{"chat": chat, "continuous": d.Continuous}, &out); err != nil {
			return "", "", err
		}
		return c.ID, out.ThreadID, nil
	}
	for _, e := range evs {
		if err := d.customerJSON(ctx, cid, "send_event", map[string]any{"chat_id": c.ID, "event": e}, nil); err != nil {
			return "", "", err
		}
	}
	return c.ID, c.LastThreadID, nil
}

// link returns the handoff's link; a handoff never started here is a Permanent error.
func (d *Desk) link(ctx context.Context, session string) (*tandem.DeskLink, linkData, error) {
	return desk.LinkData[linkData](ctx, d.store, d.ID, session, "LiveChat chat")
}

// Send implements tandem.Desk: the customer's message as the customer's event (media as their
// URL), with Tandem's message id as custom_id (the same on a retry). A chat an agent or the
// router already ended (chat_inactive) closes the handoff as the desk's.
func (d *Desk) Send(ctx context.Context, session string, m *tandem.Message) error {
	if m == nil {
		return tandem.Permanent(fmt.Errorf("desk %q: send without a message", d.ID))
	}
	l, data, err := d.link(ctx, session)
	if err != nil {
		return err
	}
	text := desk.Text(m)
	for i, part := range split(text, MaxText) {
		if part == "" {
			continue
		}
		cid := m.ID
		if i > 0 {
			cid = fmt.Sprintf("%s-%d", m.ID, i)
		}
		err := d.customerJSON(ctx, data.Contact, "send_event", map[string]any{"chat_id": l.Ref, "event": event{Type: "message", Text: part, CustomID: cid}}, nil)
		if errorOf(err).Type == "chat_inactive" {
			d.ended(ctx, l)
			return tandem.Permanent(err)
		}
		if err != nil {
			return desk.Permanent(err)
		}
	}
	return nil
}

// Close implements tandem.Desk: a message saying why (from the customer: the Customer API has
// no other author), then the chat deactivated. Its webhook echo changes nothing.
func (d *Desk) Close(ctx context.Context, session, reason string) error {
	l, data, err := d.link(ctx, session)
	if err != nil {
		return err
	}
	defer d.closeLink(ctx, l)
	note := "[Tandem] The customer ended the chat."
	if reason == tandem.CloseTimeout {
		note = "[Tandem] Session timed out: the customer did not answer."
	}
	err = d.customerJSON(ctx, data.Contact, "send_event", map[string]any{"chat_id": l.Ref, "event": event{Type: "message", Text: note, CustomID: session + "-close"}}, nil)
	if errorOf(err).Type == "chat_inactive" {
		return nil
	}
	if err != nil {
		d.log.Warn("desk: the closing message could not be sent", "desk", d.ID, "err", err)
	}
	err = d.customerJSON(ctx, data.Contact, "deactivate_chat", map[string]any{"id": l.Ref}, nil)
	if t := errorOf(err).Type; t == "chat_inactive" || t == "not_found" {
		return nil
	}
	return desk.Permanent(err)
}

func (d *Desk) closeLink(ctx context.Context, l *tandem.DeskLink) {
	desk.CloseLink(ctx, d.store, l, d.now(), d.log)
}

// ended closes a handoff whose chat LiveChat says is over (the webhook may come later).
func (d *Desk) ended(ctx context.Context, l *tandem.DeskLink) {
	desk.Ended(ctx, d.sink, d.store, l, d.now(), d.log)
}
