package desk

import (
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// File is a file an agent sent with a message.
type File struct {
	Type string // image | audio | video | file ("" guesses from Mime)
	URL  string
	Mime string
	Name string
}

// AgentMessage returns the events of one agent message for the customer: the text with the
// first file, then one message per other file (or the text alone).
func AgentMessage(agent, text string, files []File, at time.Time) []tandem.Event {
	base := tandem.Message{Direction: tandem.DirectionOut, Author: tandem.AuthorAgent, AgentID: agent, CreatedAt: at}
	var out []tandem.Event
	add := func(m tandem.Message) {
		out = append(out, tandem.Event{Kind: tandem.EventAgent, At: at,
			Agent: &tandem.AgentAction{Action: tandem.AgentMessage, Agent: agent, Message: &m}})
	}
	for i, f := range files {
		m := base
		if i == 0 {
			m.Text = text
		}
		m.Type = MediaType(f.Type, f.Mime)
		m.Media = &tandem.Media{Type: m.Type, URL: f.URL, Mime: f.Mime, Name: f.Name}
		add(m)
	}
	if len(files) == 0 {
		m := base
		m.Type, m.Text = tandem.MessageText, text
		add(m)
	}
	return out
}

// AgentClose returns the event of a desk closing its handoff.
func AgentClose(agent string, at time.Time) []tandem.Event {
	return []tandem.Event{{Kind: tandem.EventAgent, At: at, Agent: &tandem.AgentAction{Action: tandem.AgentClose, Agent: agent}}}
}

// AgentAssigned returns the event of a desk assigning its handoff to an agent (who has not
// written yet).
func AgentAssigned(agent string, at time.Time) []tandem.Event {
	return []tandem.Event{{Kind: tandem.EventAgent, At: at, Agent: &tandem.AgentAction{Action: tandem.AgentTake, Agent: agent}}}
}

// MediaType is the message type of a file: image, audio, video or file, from a desk's kind
// name when it is one of those, else from the MIME type.
func MediaType(kind, mime string) string {
	switch strings.ToLower(kind) {
	case "image", "audio", "video":
		return strings.ToLower(kind)
	}
	switch {
	case strings.HasPrefix(mime, "image/"):
		return tandem.MessageImage
	case strings.HasPrefix(mime, "audio/"):
		return tandem.MessageAudio
	case strings.HasPrefix(mime, "video/"):
		return tandem.MessageVideo
	}
	return tandem.MessageFile
}

// Text is a customer message as text for a desk that takes only text: its text, then its media
// URL and its location on lines of their own.
func Text(m *tandem.Message) string {
	parts := []string{}
	if t := strings.TrimSpace(m.Text); t != "" {
		parts = append(parts, t)
	}
	if m.Media != nil && m.Media.URL != "" {
		parts = append(parts, m.Media.URL)
	}
	if l := m.Location; l != nil {
		loc := "Location: " + strconv.FormatFloat(l.Lat, 'f', -1, 64) + "," + strconv.FormatFloat(l.Lng, 'f', -1, 64)
		if n := strings.TrimSpace(l.Name + " " + l.Address); n != "" {
			loc += " (" + n + ")"
		}
		parts = append(parts, loc)
	}
	return strings.Join(parts, "\n")
}

// Transcript writes the messages handed over with a conversation as lines "Customer: …",
// "Bot: …", "Agent: …", oldest first (the label names in texts, which a desk may translate).
func Transcript(ms []tandem.Message, labels TranscriptLabels) string {
	var b strings.Builder
	for i := range ms {
		m := &ms[i]
		text := Text(m)
		if text == "" {
			continue
		}
		who := labels.Bot
		switch {
		case m.Direction == tandem.DirectionIn:
			who = labels.Customer
		case m.Author == tandem.AuthorAgent:
			who = labels.Agent
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(who + ": " + text)
	}
	return b.String()
}

// TranscriptLabels name the authors in a Transcript.
type TranscriptLabels struct{ Customer, Bot, Agent string }

// Labels are the English labels of a Transcript.
var Labels = TranscriptLabels{Customer: "Customer", Bot: "Bot", Agent: "Agent"}

// LatestQuestion returns the customer's last message of a transcript, nil when there is none.
func LatestQuestion(ms []tandem.Message) *tandem.Message {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Direction == tandem.DirectionIn {
			return &ms[i]
		}
	}
	return nil
}

// UserID is the id the business gave a contact: its `user_id` attribute, or its external id on
// the API channel, where the business's own backend names its users ("" when there is none).
// Elsewhere the external id is the messaging service's (a phone number, a chat id), which is
// not the business's id of the user.
func UserID(conv *tandem.Conversation, c *tandem.Contact) string {
	if c == nil {
		return ""
	}
	switch v := c.Attributes["user_id"].(type) {
	case string:
		if v != "" {
			return v
		}
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	if conv != nil && conv.ChannelKind == "api" {
		return c.ExternalID
	}
	return ""
}

// FlowName names the flow of a handoff for agents: "refund-bot (version 3)", "" when unknown.
func FlowName(s tandem.DeskStart) string {
	if s.Flow == nil || s.Flow.ID == "" {
		return ""
	}
	if s.Flow.Version > 0 {
		return s.Flow.ID + " (version " + strconv.Itoa(s.Flow.Version) + ")"
	}
	return s.Flow.ID
}
