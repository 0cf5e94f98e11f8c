// Package fields checks the free text that comes in through the API and the channels: valid
// UTF-8, no NUL character, and at most a number of characters, with errors (tandem.EINVALID)
// that name the field. The limits every route applies are the constants below; docs/api.md
// lists them. It knows nothing of HTTP.
package fields

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tandemchat/tandem"
)

// Limits, in characters (Unicode code points) unless said otherwise.
const (
	// MaxText is a customer message's text unless its channel sets max_text.
	MaxText = 4096
	// MaxAgentText is an agent's message to a customer.
	MaxAgentText = 4096
	// MaxNote is an internal note.
	MaxNote = 10000
	// MaxID is an id a client chooses: a contact's external_id, a message id, an option id.
	MaxID = 200
	// MaxName is a person's or a thing's name: a contact, an agent, a token.
	MaxName = 200
	// MaxEmail is an e-mail address (RFC 5321).
	MaxEmail = 254
	// MaxPhone is a phone number.
	MaxPhone = 32
	// MaxLanguage is a language tag.
	MaxLanguage = 35
	// MaxURL is a media URL.
	MaxURL = 2048
	// MaxShort is a short text: a mime type, a file name, a place's name or address.
	MaxShort = 500
	// MaxKey is an attribute's or a variable's name.
	MaxKey = 100
	// MaxEntries is the most attributes, variables or tags one request may set.
	MaxEntries = 100
	// MaxTag is a tag.
	MaxTag = 64
	// MaxJSON is the size in bytes of a map of attributes or variables, encoded as JSON.
	MaxJSON = 16 << 10
)

// Text checks a text field: valid UTF-8, no NUL, at most max characters (0: no maximum).
func Text(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return tandem.Errorf(tandem.EINVALID, "%s: not valid UTF-8; send text encoded as UTF-8.", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return tandem.Errorf(tandem.EINVALID, "%s: contains a NUL character (\\u0000), which no text may hold.", field)
	}
	if max > 0 && len(s) > max {
		if n := utf8.RuneCountInString(s); n > max {
			return tandem.Errorf(tandem.EINVALID, "%s: %d characters, more than the %d allowed; shorten it.", field, n, max)
		}
	}
	return nil
}

// Texts checks several text fields at once: field → (value, max). It reports the first problem
// in the order given.
func Texts(checks ...Check) error {
	for _, c := range checks {
		if err := Text(c.Field, c.Value, c.Max); err != nil {
			return err
		}
	}
	return nil
}

// Check is one text field to check.
type Check struct {
	Field string
	Value string
	Max   int
}

// Map checks a map of attributes or variables: at most MaxEntries keys of at most MaxKey
// characters, every text inside valid (no NUL, valid UTF-8, strings at most MaxText
// characters), and MaxJSON bytes in all as JSON.
func Map(field string, m map[string]any) error {
	if len(m) > MaxEntries {
		return tandem.Errorf(tandem.EINVALID, "%s: %d entries, more than the %d allowed.", field, len(m), MaxEntries)
	}
	for k, v := range m {
		if err := Text(field+" key", k, MaxKey); err != nil {
			return err
		}
		if k == "" {
			return tandem.Errorf(tandem.EINVALID, "%s: a key is empty; name every entry.", field)
		}
		if err := value(field+"."+k, v, 0); err != nil {
			return err
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return tandem.Errorf(tandem.EINVALID, "%s: %v.", field, err)
	}
	if len(b) > MaxJSON {
		return tandem.Errorf(tandem.EINVALID, "%s: %d bytes as JSON, more than the %d allowed.", field, len(b), MaxJSON)
	}
	return nil
}

// maxDepth bounds how deep values inside a map may nest.
const maxDepth = 10

func value(field string, v any, depth int) error {
	if depth > maxDepth {
		return tandem.Errorf(tandem.EINVALID, "%s: nested more than %d levels deep.", field, maxDepth)
	}
	switch x := v.(type) {
	case string:
		return Text(field, x, MaxText)
	case map[string]any:
		for k, e := range x {
			if err := Text(field+" key", k, MaxKey); err != nil {
				return err
			}
			if err := value(field+"."+k, e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := value(fmt.Sprintf("%s[%d]", field, i), e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// Tags checks a list of tags: at most MaxEntries, each non-empty and at most MaxTag characters.
func Tags(field string, tags []string) error {
	if len(tags) > MaxEntries {
		return tandem.Errorf(tandem.EINVALID, "%s: %d tags, more than the %d allowed.", field, len(tags), MaxEntries)
	}
	for i, t := range tags {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(t) == "" {
			return tandem.Errorf(tandem.EINVALID, "%s: empty; a tag is a word such as vip.", f)
		}
		if err := Text(f, t, MaxTag); err != nil {
			return err
		}
	}
	return nil
}

// Contact checks the fields of a contact as a client sends them, under prefix ("contact").
func Contact(prefix string, c *tandem.Contact) error {
	if err := Texts(
		Check{prefix + ".external_id", c.ExternalID, MaxID},
		Check{prefix + ".name", c.Name, MaxName},
		Check{prefix + ".first_name", c.FirstName, MaxName},
		Check{prefix + ".last_name", c.LastName, MaxName},
		Check{prefix + ".email", c.Email, MaxEmail},
		Check{prefix + ".phone", c.Phone, MaxPhone},
		Check{prefix + ".language", c.Language, MaxLanguage},
	); err != nil {
		return err
	}
	if err := Tags(prefix+".tags", c.Tags); err != nil {
		return err
	}
	return Map(prefix+".attributes", c.Attributes)
}

// Message checks the fields of a customer message as a client sends it, under prefix
// ("message"); maxText caps its text (0: MaxText).
func Message(prefix string, m *tandem.Message, maxText int) error {
	if maxText <= 0 {
		maxText = MaxText
	}
	checks := []Check{
		{prefix + ".id", m.ChannelMessageID, MaxID},
		{prefix + ".type", m.Type, MaxKey},
		{prefix + ".text", m.Text, maxText},
		{prefix + ".option", m.Option, MaxID},
	}
	if md := m.Media; md != nil {
		checks = append(checks, Check{prefix + ".media.url", md.URL, MaxURL}, Check{prefix + ".media.mime", md.Mime, MaxShort},
			Check{prefix + ".media.name", md.Name, MaxShort}, Check{prefix + ".media.caption", md.Caption, maxText})
	}
	if l := m.Location; l != nil {
		checks = append(checks, Check{prefix + ".location.name", l.Name, MaxShort}, Check{prefix + ".location.address", l.Address, MaxShort})
	}
	return Texts(checks...)
}
