package jsonenc

import (
	"strconv"

	"github.com/tandemchat/tandem"
)

// Message appends m as json.Marshal writes it; its rarer parts (buttons, media, a
// location, contact cards, a template, an error) through encoding/json.
func Message(b []byte, m *tandem.Message) ([]byte, error) {
	var err error
	b = String(Key(append(b, '{'), "id", true), m.ID)
	if m.ConversationID != "" {
		b = String(Key(b, "conversation_id", false), m.ConversationID)
	}
	if m.Seq != 0 {
		b = strconv.AppendInt(Key(b, "seq", false), m.Seq, 10)
	}
	b = String(Key(b, "direction", false), m.Direction)
	b = String(Key(b, "author", false), m.Author)
	b = String(Key(b, "type", false), m.Type)
	if m.Text != "" {
		b = String(Key(b, "text", false), m.Text)
	}
	if len(m.Buttons) > 0 {
		if b, err = Marshal(Key(b, "buttons", false), m.Buttons); err != nil {
			return b, err
		}
	}
	if m.Render != "" {
		b = String(Key(b, "render", false), m.Render)
	}
	if m.Media != nil {
		if b, err = Marshal(Key(b, "media", false), m.Media); err != nil {
			return b, err
		}
	}
	if m.Location != nil {
		if b, err = Marshal(Key(b, "location", false), m.Location); err != nil {
			return b, err
		}
	}
	if m.Option != "" {
		b = String(Key(b, "option", false), m.Option)
	}
	if len(m.Contacts) > 0 {
		if b, err = Marshal(Key(b, "contacts", false), m.Contacts); err != nil {
			return b, err
		}
	}
	if m.Reaction != "" {
		b = String(Key(b, "reaction", false), m.Reaction)
	}
	if m.RefersTo != "" {
		b = String(Key(b, "refers_to", false), m.RefersTo)
	}
	if len(m.Data) > 0 {
		if b, err = Map(Key(b, "data", false), m.Data); err != nil {
			return b, err
		}
	}
	if len(m.Variables) > 0 {
		if b, err = Map(Key(b, "variables", false), m.Variables); err != nil {
			return b, err
		}
	}
	if m.Template != nil {
		if b, err = Marshal(Key(b, "template", false), m.Template); err != nil {
			return b, err
		}
	}
	if m.Continues {
		b = append(Key(b, "continues", false), "true"...)
	}
	if m.Status != "" {
		b = String(Key(b, "status", false), m.Status)
	}
	if m.Error != nil {
		if b, err = Marshal(Key(b, "error", false), m.Error); err != nil {
			return b, err
		}
	}
	if m.ChannelMessageID != "" {
		b = String(Key(b, "channel_message_id", false), m.ChannelMessageID)
	}
	if m.AgentID != "" {
		b = String(Key(b, "agent", false), m.AgentID)
	}
	if b, err = Time(Key(b, "created_at", false), m.CreatedAt); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// Effect appends e as json.Marshal writes it; an AI call, a desk's request and a notification
// through encoding/json.
func Effect(b []byte, e *tandem.Effect) ([]byte, error) {
	var err error
	b = String(Key(append(b, '{'), "id", true), e.ID)
	b = String(Key(b, "kind", false), e.Kind)
	if e.Await {
		b = append(Key(b, "await", false), "true"...)
	}
	if e.Send != nil {
		if b, err = Message(Key(b, "send", false), e.Send); err != nil {
			return b, err
		}
	}
	if h := e.HTTP; h != nil {
		b = String(Key(append(Key(b, "http", false), '{'), "method", true), h.Method)
		b = String(Key(b, "url", false), h.URL)
		if len(h.Header) > 0 {
			if b, err = Value(Key(b, "header", false), h.Header); err != nil {
				return b, err
			}
		}
		if h.Body != "" {
			b = String(Key(b, "body", false), h.Body)
		}
		if h.Timeout != 0 {
			b = strconv.AppendInt(Key(b, "timeout", false), int64(h.Timeout), 10)
		}
		b = append(Key(b, "retry", false), '{')
		first := true
		if h.Retry.Attempts != 0 {
			b = strconv.AppendInt(Key(b, "attempts", first), int64(h.Retry.Attempts), 10)
			first = false
		}
		if h.Retry.Backoff != 0 {
			b = strconv.AppendInt(Key(b, "backoff", first), int64(h.Retry.Backoff), 10)
			first = false
		}
		if len(h.Retry.On) > 0 {
			b = Strings(Key(b, "on", first), h.Retry.On)
		}
		b = append(b, '}', '}')
	}
	if e.AI != nil {
		if b, err = Marshal(Key(b, "ai", false), e.AI); err != nil {
			return b, err
		}
	}
	if e.Desk != nil {
		if b, err = Marshal(Key(b, "desk", false), e.Desk); err != nil {
			return b, err
		}
	}
	if e.Notify != nil {
		if b, err = Marshal(Key(b, "notify", false), e.Notify); err != nil {
			return b, err
		}
	}
	if e.Media != nil {
		if b, err = Marshal(Key(b, "media", false), e.Media); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}
