package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
)

// inboundBody is a customer message sent by a business's app or backend.
type inboundBody struct {
	Contact struct {
		ExternalID string         `json:"external_id"`
		Name       string         `json:"name"`
		Email      string         `json:"email"`
		Phone      string         `json:"phone"`
		Language   string         `json:"language"`
		Attributes map[string]any `json:"attributes"`
	} `json:"contact"`
	Message struct {
		ID       string           `json:"id"`
		Type     string           `json:"type"`
		Text     string           `json:"text"`
		Media    *tandem.Media    `json:"media"`
		Location *tandem.Location `json:"location"`
		Option   string           `json:"option"`
	} `json:"message"`
}

// channelInbound is POST /api/v1/channels/{channel_id}/messages.
func (s *Server) channelInbound(w http.ResponseWriter, r *http.Request) error {
	chID := r.PathValue("channel_id")
	ch, ok := s.cfg.Workspace.Channel(chID)
	if !ok || ch.Kind != "api" {
		return tandem.Errorf(tandem.ENOTFOUND, "Channel %q is not an API channel of this workspace.", chID)
	}
	var body inboundBody
	if err := decode(r, &body); err != nil {
		return err
	}
	c, m := body.Contact, body.Message
	if strings.TrimSpace(c.ExternalID) == "" {
		return invalid("contact.external_id", "required: your id for the customer.")
	}
	msg := tandem.Message{ChannelMessageID: m.ID, Text: m.Text, Media: m.Media, Location: m.Location, Option: m.Option, Type: m.Type}
	switch {
	case msg.Type != "":
	case m.Option != "":
		msg.Type = tandem.MessageOption
	case m.Location != nil:
		msg.Type = tandem.MessageLocation
	case m.Media != nil:
		msg.Type = m.Media.Type
		if msg.Type == "" {
			msg.Type = tandem.MessageFile
			if strings.HasPrefix(m.Media.Mime, "image/") {
				msg.Type = tandem.MessageImage
			}
		}
	default:
		msg.Type = tandem.MessageText
	}
	switch msg.Type {
	case tandem.MessageText:
		if strings.TrimSpace(m.Text) == "" {
			return invalid("message.text", "required for a text message.")
		}
	case tandem.MessageImage, tandem.MessageVideo, tandem.MessageAudio, tandem.MessageFile, tandem.MessageSticker:
		if m.Media == nil || m.Media.URL == "" {
			return invalid("message.media.url", "required for a %s message.", msg.Type)
		}
		m.Media.Type = msg.Type
	case tandem.MessageLocation:
		if m.Location == nil {
			return invalid("message.location", "required for a location message.")
		}
	case tandem.MessageOption:
		if m.Option == "" {
			return invalid("message.option", "required for an option message: the id of the button the customer picked.")
		}
	default:
		return invalid("message.type", "%q is not a message type (text, image, video, audio, file, sticker, location, option).", msg.Type)
	}
	if len(m.ID) > 200 {
		return invalid("message.id", "at most 200 characters.")
	}
	res, err := s.cfg.Runner.Inbound(r.Context(), store.InboundParams{
		ChannelID: chID, ChannelKind: "api", Message: msg,
		Contact: tandem.Contact{ExternalID: c.ExternalID, Name: c.Name, Email: c.Email, Phone: c.Phone, Language: c.Language, Attributes: c.Attributes},
	})
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if res.Duplicate {
		status = http.StatusOK
	} else if s.cfg.Hub != nil {
		s.cfg.Hub.Notify(res.ConversationID)
	}
	return writeJSON(w, status, map[string]string{"conversation_id": res.ConversationID, "message_id": res.MessageID})
}

// messageJSON is a message as the API shows it.
type messageJSON struct {
	ID             string           `json:"id"`
	ConversationID string           `json:"conversation_id"`
	Direction      string           `json:"direction"`
	Author         string           `json:"author"`
	Type           string           `json:"type"`
	Text           string           `json:"text"`
	Buttons        []tandem.Button  `json:"buttons,omitempty"`
	Render         string           `json:"render,omitempty"`
	Media          *mediaJSON       `json:"media,omitempty"`
	Location       *tandem.Location `json:"location,omitempty"`
	Option         string           `json:"option,omitempty"`
	Agent          string           `json:"agent,omitempty"`
	CreatedAt      time.Time        `json:"created_at"`
}

type mediaJSON struct {
	URL  string `json:"url"`
	Mime string `json:"mime,omitempty"`
	Name string `json:"name,omitempty"`
}

func toMessageJSON(m *tandem.Message) messageJSON {
	out := messageJSON{ID: m.ID, ConversationID: m.ConversationID, Direction: m.Direction, Author: m.Author, Type: m.Type,
		Text: m.Text, Buttons: m.Buttons, Render: m.Render, Location: m.Location, Option: m.Option, Agent: m.AgentID, CreatedAt: m.CreatedAt}
	if m.Media != nil {
		out.Media = &mediaJSON{URL: m.Media.URL, Mime: m.Media.Mime, Name: m.Media.Name}
	}
	return out
}

// maxWait bounds a long-poll.
const maxWait = 60 * time.Second

// conversationMessages is GET /api/v1/conversations/{id}/messages?after=&wait=&limit=.
func (s *Server) conversationMessages(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	q := r.URL.Query()
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := tandem.ParseDuration(v)
		if err != nil {
			if n, nerr := strconv.ParseFloat(v, 64); nerr == nil && n >= 0 {
				d, err = time.Duration(n*float64(time.Second)), nil
			}
		}
		if err != nil {
			return invalid("wait", "%q is not a duration such as 20s.", v)
		}
		wait = min(d, maxWait)
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return invalid("limit", "a number from 1 to 1000.")
		}
		limit = n
	}
	if _, err := s.cfg.DB.ConversationGet(r.Context(), id); err != nil {
		return err
	}
	p := store.MessagesParams{ConversationID: id, After: q.Get("after"), Limit: limit}
	deadline := time.Now().Add(wait)
	for {
		var notified chan struct{}
		if s.cfg.Hub != nil && wait > 0 {
			notified = s.cfg.Hub.wait(id)
		}
		msgs, err := s.cfg.DB.Messages(r.Context(), p)
		if err != nil {
			if notified != nil {
				s.cfg.Hub.cancel(id, notified)
			}
			return err
		}
		left := time.Until(deadline)
		if len(msgs) > 0 || left <= 0 {
			if notified != nil {
				s.cfg.Hub.cancel(id, notified)
			}
			out := make([]messageJSON, len(msgs))
			cursor := p.After
			for i := range msgs {
				out[i] = toMessageJSON(&msgs[i])
				cursor = msgs[i].ID
			}
			return writeJSON(w, http.StatusOK, map[string]any{"messages": out, "next_cursor": cursor})
		}
		// Re-read on a short tick too: another replica may have committed the message.
		tick := time.NewTimer(min(left, 500*time.Millisecond))
		select {
		case <-notified:
		case <-tick.C:
			if notified != nil {
				s.cfg.Hub.cancel(id, notified)
			}
		case <-r.Context().Done():
			tick.Stop()
			if notified != nil {
				s.cfg.Hub.cancel(id, notified)
			}
			return r.Context().Err()
		}
		tick.Stop()
	}
}
