package chatwoot

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
)

// message is a Chatwoot message as the API lists it and as webhooks send it. message_type is
// an integer in API answers (0 incoming, 1 outgoing, 2 activity, 3 template) and a string in
// webhooks. Ids are numbers (desk.Number also reads them written as strings).
type message struct {
	ID          desk.Number     `json:"id"`
	Content     *string         `json:"content"`
	MessageType json.RawMessage `json:"message_type"`
	Private     bool            `json:"private"`
	SenderType  string          `json:"sender_type"` // API answers: User, Contact, AgentBot
	Sender      *struct {
		Name          string `json:"name"`
		AvailableName string `json:"available_name"`
		Type          string `json:"type"` // user, contact, agent_bot
	} `json:"sender"`
	Attachments []struct {
		FileType string `json:"file_type"`
		DataURL  string `json:"data_url"`
	} `json:"attachments"`
	Conversation struct {
		ID desk.Number `json:"id"`
	} `json:"conversation"`
	Inbox struct {
		ID desk.Number `json:"id"`
	} `json:"inbox"`
}

// kind is incoming, outgoing, activity or template.
func (m *message) kind() string {
	raw := bytes.TrimSpace(m.MessageType)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	switch string(raw) {
	case "0":
		return "incoming"
	case "1":
		return "outgoing"
	case "2":
		return "activity"
	case "3":
		return "template"
	}
	return ""
}

func (m *message) incoming() bool { return m.kind() == "incoming" }

// fromAgent reports an agent's reply for the customer: outgoing, not private, written by a
// user (an agent), not by a bot, a template or Tandem's own notes (which are private).
func (m *message) fromAgent() bool {
	if m.kind() != "outgoing" || m.Private {
		return false
	}
	if m.Sender != nil && m.Sender.Type != "" {
		return m.Sender.Type == "user"
	}
	return m.SenderType == "User"
}

func (m *message) text() string {
	if m.Content == nil {
		return ""
	}
	return *m.Content
}

func (m *message) agent() string {
	if m.Sender == nil {
		return ""
	}
	if m.Sender.AvailableName != "" {
		return m.Sender.AvailableName
	}
	return m.Sender.Name
}

// events are what an agent's reply becomes for the customer.
func (m *message) events(now time.Time) []tandem.Event {
	var files []desk.File
	for _, a := range m.Attachments {
		if a.DataURL != "" {
			files = append(files, desk.File{Type: a.FileType, URL: a.DataURL})
		}
	}
	if strings.TrimSpace(m.text()) == "" && len(files) == 0 {
		return nil
	}
	return desk.AgentMessage(m.agent(), m.text(), files, now)
}

// messageKey is the dedupe key of a Chatwoot message, shared by webhooks and the poll.
func messageKey(id int) string { return "msg:" + strconv.Itoa(id) }

// messages lists a conversation's messages after the id (the latest 20 when after is 0),
// oldest first.
func (d *Desk) messages(ctx context.Context, conv, after int) ([]message, error) {
	target := d.path("/conversations/%d/messages", conv)
	if after > 0 {
		target += "?after=" + strconv.Itoa(after)
	}
	var out struct {
		Payload []message `json:"payload"`
	}
	if err := d.json(ctx, http.MethodGet, target, nil, &out); err != nil {
		return nil, err
	}
	sort.Slice(out.Payload, func(i, j int) bool { return out.Payload[i].ID < out.Payload[j].ID })
	return out.Payload, nil
}

// Poll implements desk.Poller: for each open handoff (at most PollBatch, least recently polled
// first) it reads the messages after the last one seen and delivers the agents' replies, then
// reads the conversation's status and delivers a resolve (a deleted conversation counts as
// one). Deliveries share their keys with the webhooks', so a reply that came both ways reaches
// the customer once. A handoff that is over on Tandem's side is not polled again.
func (d *Desk) Poll(ctx context.Context) error {
	if d.configured() != nil || d.sink == nil {
		return nil
	}
	links, err := d.store.DeskLinksOpen(ctx, d.ID, PollBatch)
	if err != nil {
		return err
	}
	var firstErr error
	for i := range links {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := d.pollOne(ctx, &links[i]); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func (d *Desk) pollOne(ctx context.Context, l *tandem.DeskLink) error {
	conv, err := strconv.Atoi(l.Ref)
	if err != nil {
		d.closeLink(ctx, l)
		return nil
	}
	var data linkData
	json.Unmarshal(l.Data, &data)
	ms, err := d.messages(ctx, conv, data.Last)
	if err != nil {
		if desk.NotFound(err) {
			d.gone(ctx, l)
			return nil
		}
		return err
	}
	last := data.Last
	for i := range ms {
		m := &ms[i]
		if int(m.ID) <= data.Last {
			continue
		}
		if m.fromAgent() {
			if evs := m.events(d.now()); evs != nil {
				out, err := d.sink.DeskDeliver(ctx, desk.Delivery{Desk: d.ID, Session: l.Session, Key: messageKey(int(m.ID)), Events: evs})
				if err != nil {
					return err
				}
				if out == desk.Closed || out == desk.Unknown {
					d.closeLink(ctx, l)
					return nil
				}
			}
		}
		last = max(last, int(m.ID))
	}
	var status struct {
		Status string `json:"status"`
	}
	err = d.json(ctx, http.MethodGet, d.path("/conversations/%d", conv), nil, &status)
	switch {
	case desk.NotFound(err):
		d.gone(ctx, l)
		return nil
	case err != nil:
		return err
	case status.Status == "resolved":
		if _, err := d.sink.DeskDeliver(ctx, desk.Delivery{Desk: d.ID, Session: l.Session, Close: true, Events: desk.AgentClose("", d.now())}); err != nil {
			return err
		}
		d.closeLink(ctx, l)
		return nil
	}
	// Saved even when nothing is new, so that the next poll reads the others first.
	b, _ := json.Marshal(linkData{Last: last})
	l.Data, l.UpdatedAt = b, d.now()
	return d.store.DeskLinkPut(ctx, *l)
}
