package webhook

import (
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
)

// Message types of a transcript item (GPTBots).
const (
	Question = "QUESTION" // the customer
	Answer   = "ANSWER"   // the bot (and agents of earlier handoffs)
)

// Establish is the body of POST {url}/conversation/establish. Every field but Tandem is
// GPTBots'.
type Establish struct {
	ConversationID string    `json:"conversation_id"` // the handoff id
	Timestamp      int64     `json:"timestamp"`       // milliseconds since the epoch
	Email          string    `json:"email"`
	BotID          string    `json:"bot_id"`
	Body           []Round   `json:"body"`
	UserInfo       UserInfo  `json:"user_info"`
	Tandem         TandemExt `json:"tandem"`
}

// Round is one transcript item.
type Round struct {
	Text        string `json:"text"`
	MessageType string `json:"message_type"` // QUESTION | ANSWER
}

// UserInfo describes the customer; absent values are null, as in GPTBots' examples.
type UserInfo struct {
	Phone       *string `json:"phone"`
	Email       *string `json:"email"`
	UserID      *string `json:"user_id"`
	AnonymousID string  `json:"anonymous_id"`
}

// TandemExt is Tandem's extension object of an establish: desks written for GPTBots ignore it.
type TandemExt struct {
	ConversationID string        `json:"conversation_id"`
	Channel        string        `json:"channel"`
	Contact        TandemContact `json:"contact"`
	Team           string        `json:"team"`
	// Flow is the flow whose handoff step handed the conversation over; Reason why (null when
	// none was given); Summary the AI summary (null unless the step's transfer.summary is true
	// and the summary could be made).
	Flow    *TandemFlow `json:"flow"`
	Reason  *string     `json:"reason"`
	Summary *string     `json:"summary"`
}

// TandemContact is the contact as Tandem knows it.
type TandemContact struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// TandemFlow names the flow that handed the conversation over.
type TandemFlow struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// Chat is the body of POST {url}/chat.
type Chat struct {
	ConversationID string       `json:"conversation_id"`
	Timestamp      int64        `json:"timestamp"`
	Body           string       `json:"body"` // the text, then each media URL on its own line
	MessageID      string       `json:"message_id"`
	Attachments    []Attachment `json:"attachments,omitempty"`
}

// Attachment is a media file of a message, in both directions.
type Attachment struct {
	Type string `json:"type"` // image | audio | video | file
	URL  string `json:"url"`
	Mime string `json:"mime,omitempty"`
	Name string `json:"name,omitempty"`
	Size int64  `json:"size,omitempty"`
}

type closeBody struct {
	ConversationID string `json:"conversation_id"`
	Timestamp      int64  `json:"timestamp"`
	Type           string `json:"type"` // TIMEOUT | USER_CLOSED
	Reason         string `json:"reason"`
}

func establishBody(hid string, started time.Time, s tandem.DeskStart) Establish {
	c := s.Contact
	if c == nil {
		c = &tandem.Contact{}
	}
	conv := s.Conversation
	e := Establish{ConversationID: hid, Timestamp: started.UnixMilli(), Email: strings.TrimSpace(c.Email),
		Body: Rounds(s.Transcript), UserInfo: UserInfo{AnonymousID: c.ID},
		Tandem: TandemExt{ConversationID: conv.ID, Channel: conv.ChannelKind, Team: s.Team,
			Contact: TandemContact{ID: c.ID, Name: c.Name, Email: c.Email, Phone: c.Phone}}}
	if e.Email != "" {
		e.UserInfo.Email = &e.Email
	}
	if f := s.Flow; f != nil && f.ID != "" {
		e.BotID = f.ID
		e.Tandem.Flow = &TandemFlow{ID: f.ID, Version: f.Version}
	}
	if r := strings.TrimSpace(s.Reason); r != "" {
		e.Tandem.Reason = &r
	}
	if sum := strings.TrimSpace(s.Summary); sum != "" {
		e.Tandem.Summary = &sum
	}
	if c.Phone != "" {
		e.UserInfo.Phone = &c.Phone
	}
	e.UserInfo.UserID = userID(conv, c)
	return e
}

// userID is desk.UserID, or nil when there is none (GPTBots sends null).
func userID(conv *tandem.Conversation, c *tandem.Contact) *string {
	if id := desk.UserID(conv, c); id != "" {
		return &id
	}
	return nil
}

// Rounds turns a transcript, oldest first, into GPTBots' body: a customer message opens a
// QUESTION (consecutive ones are joined with "\n"), the bot messages after it are joined into
// its ANSWER; media are written as their URL. Bot messages before the first customer message
// answer no question and are left out. Given the runner's transcript, which ends with the
// latest question, the last item is an empty ANSWER.
func Rounds(ms []tandem.Message) []Round {
	out := []Round{}
	var q, a []string
	open := false
	flush := func() {
		if open {
			out = append(out, Round{Text: strings.Join(q, "\n"), MessageType: Question}, Round{Text: strings.Join(a, "\n"), MessageType: Answer})
		}
		q, a, open = nil, nil, false
	}
	for i := range ms {
		m := &ms[i]
		text := messageText(m)
		if m.Direction == tandem.DirectionIn {
			if len(a) > 0 {
				flush()
			}
			open = true
			if text != "" {
				q = append(q, text)
			}
			continue
		}
		if open && text != "" {
			a = append(a, text)
		}
	}
	flush()
	return out
}

// messageText is a message as text: its text, then its media URL or location on their own
// lines.
func messageText(m *tandem.Message) string { return desk.Text(m) }

func chatBody(hid string, at time.Time, m *tandem.Message) Chat {
	c := Chat{ConversationID: hid, Timestamp: at.UnixMilli(), Body: messageText(m), MessageID: m.ID}
	if md := m.Media; md != nil && md.URL != "" {
		c.Attachments = []Attachment{{Type: attachmentType(m.Type, md), URL: md.URL, Mime: md.Mime, Name: md.Name}}
	}
	return c
}

// attachmentType maps a Tandem media message type to the contract's image|audio|video|file.
func attachmentType(msgType string, md *tandem.Media) string {
	t := md.Type
	if t == "" {
		t = msgType
	}
	if t == tandem.MessageSticker {
		return "image"
	}
	return desk.MediaType(t, md.Mime)
}
