package engine

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tandemchat/tandem"
)

// defaultCaps is what a channel without declared limits renders (the API channel).
var defaultCaps = tandem.Caps{Buttons: 100, List: 100, Media: true}

func (c *cursor) caps() tandem.Caps {
	if c.env.Caps == nil {
		return defaultCaps
	}
	return c.env.Caps(c.conv.ChannelID)
}

// send queues a message to the customer, adapted to what the channel renders. With await the
// run can wait on the delivery of the last part; its effect id is returned.
func (c *cursor) send(m tandem.Message, render string, await bool) string {
	caps := c.caps()
	if len(m.Buttons) > 0 {
		m.Text, m.Buttons, m.Render = adaptButtons(m.Text, m.Buttons, render, caps)
	}
	if m.Media != nil && !caps.Media {
		if m.Text != "" {
			m.Text += "\n"
		}
		m.Text += m.Media.URL
		m.Media = nil
	}
	parts := splitText(m.Text, caps.MaxText)
	var last string
	for i, text := range parts {
		part := m
		part.Text = text
		if i > 0 {
			part.Media = nil
			part.Continues = true // sent as a template, the message is its first part only
		}
		if i < len(parts)-1 {
			part.Buttons, part.Render = nil, ""
		}
		id := c.id()
		part.ID = id
		part.ConversationID = c.conv.ID
		part.Direction = tandem.DirectionOut
		if part.Author == "" {
			part.Author = tandem.AuthorBot
		}
		if part.Type == "" {
			part.Type = tandem.MessageText
			if part.Media != nil {
				part.Type = outMediaType(part.Media.Type)
			}
		}
		part.CreatedAt = c.now
		last = c.effect(tandem.Effect{ID: id, Kind: tandem.EffectSend, Send: &part, Await: await && i == len(parts)-1})
	}
	c.st.BotSpoke = true
	return last
}

func outMediaType(t string) string {
	switch t {
	case "document", "file":
		return tandem.MessageFile
	case "":
		return tandem.MessageImage
	}
	return t
}

// adaptButtons renders choices the way the channel can: quick-reply buttons, a list, or a
// numbered text, in the order the step prefers.
func adaptButtons(text string, buttons []tandem.Button, render string, caps tandem.Caps) (string, []tandem.Button, string) {
	order := []string{"buttons", "list", "numbers"}
	switch render {
	case "list":
		order = []string{"list", "buttons", "numbers"}
	case "numbers":
		order = []string{"numbers"}
	}
	for _, r := range order {
		switch r {
		case "buttons":
			if caps.Buttons >= len(buttons) {
				return text, clipTitles(buttons, caps.ButtonTitle), "buttons"
			}
		case "list":
			if caps.List >= len(buttons) {
				return text, clipTitles(buttons, caps.ListTitle), "list"
			}
		case "numbers":
			var b strings.Builder
			b.WriteString(text)
			if text != "" {
				b.WriteString("\n\n")
			}
			for i, btn := range buttons {
				if i > 0 {
					b.WriteByte('\n')
				}
				fmt.Fprintf(&b, "%d. %s", i+1, btn.Title)
			}
			return b.String(), nil, ""
		}
	}
	return text, nil, ""
}

func clipTitles(buttons []tandem.Button, max int) []tandem.Button {
	out := make([]tandem.Button, len(buttons))
	copy(out, buttons)
	if max <= 0 {
		return out
	}
	for i := range out {
		if utf8.RuneCountInString(out[i].Title) > max {
			r := []rune(out[i].Title)
			out[i].Title = strings.TrimSpace(string(r[:max-1])) + "…"
		}
	}
	return out
}

// splitText cuts a text longer than max characters into parts, at sentence ends where it can,
// else at spaces, else anywhere.
func splitText(text string, max int) []string {
	if max <= 0 || utf8.RuneCountInString(text) <= max {
		return []string{text}
	}
	var parts []string
	rest := []rune(text)
	for len(rest) > max {
		cut := -1
		for i := max; i > max/2; i-- {
			r := rest[i-1]
			if r == '\n' || ((r == '.' || r == '!' || r == '?') && i < len(rest) && rest[i] == ' ') {
				cut = i
				break
			}
		}
		if cut < 0 {
			for i := max; i > max/2; i-- {
				if rest[i-1] == ' ' {
					cut = i
					break
				}
			}
		}
		if cut < 0 {
			cut = max
		}
		parts = append(parts, strings.TrimSpace(string(rest[:cut])))
		rest = []rune(strings.TrimLeft(string(rest[cut:]), " \n"))
	}
	if len(rest) > 0 {
		parts = append(parts, string(rest))
	}
	return parts
}
