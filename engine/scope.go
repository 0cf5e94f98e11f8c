package engine

import (
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/expr"
	"github.com/tandemchat/tandem/flow"
)

// scope resolves template paths against the conversation.
type scope struct{ c *cursor }

var _ expr.Scheduler = scope{}

// InSchedule implements expr.Scheduler.
func (s scope) InSchedule(id string) bool {
	if id == expr.DefaultSchedule {
		id = s.c.settings().Schedule
	}
	sc, ok := s.c.env.Schedules[id]
	return ok && sc.Open(s.c.now)
}

// Lookup implements expr.Scope.
func (s scope) Lookup(p expr.Path) (any, bool) {
	if len(p) == 0 {
		return nil, false
	}
	c := s.c
	rest := p[1:]
	switch p.Head() {
	case "contact":
		return walk(contactValue(c.contact, rest), rest)
	case "conversation":
		return walk(conversationValue(c.conv, rest), rest)
	case "message":
		if c.st.Run == nil || c.st.Run.Message == nil {
			return nil, false
		}
		return expr.Walk(messageMap(c.st.Run.Message), rest)
	case "var":
		if c.st.Run == nil {
			return nil, false
		}
		return expr.Walk(c.st.Run.Vars, rest)
	case "step":
		return s.step(rest)
	case "now":
		return s.nowValue(rest)
	case "schedule":
		if len(rest) == 2 && rest[1].Key == "open" {
			if _, ok := c.env.Schedules[rest[0].Key]; ok {
				return s.InSchedule(rest[0].Key), true
			}
		}
		return nil, false
	case "secret":
		if len(rest) != 1 {
			return nil, false
		}
		v, ok := c.env.Secrets[rest[0].Key]
		return v, ok
	case "flow":
		if c.st.Run == nil || len(rest) != 1 {
			return nil, false
		}
		switch rest[0].Key {
		case "id":
			return c.st.Run.FlowID, true
		case "version":
			return float64(c.st.Run.Version), true
		case "name":
			if f := c.flow(); f != nil {
				return f.Name, true
			}
		}
		return nil, false
	case "run":
		if c.st.Run == nil || len(rest) != 1 || rest[0].Key != "id" {
			return nil, false
		}
		return c.st.Run.ID, true
	case "args":
		if c.st.Run == nil {
			return nil, false
		}
		args, _ := c.local("args").(map[string]any)
		return expr.Walk(args, rest)
	}
	return nil, false
}

// walk applies the rest of a path after its first key was resolved to v.
func walk(v any, rest expr.Path) (any, bool) {
	if v == nil {
		return nil, false
	}
	if len(rest) <= 1 {
		return v, true
	}
	return expr.Walk(v, rest[1:])
}

func (s scope) step(rest expr.Path) (any, bool) {
	r := s.c.st.Run
	if r == nil || len(rest) == 0 || rest[0].IsIndex {
		return nil, false
	}
	out, ok := r.Outputs[rest[0].Key].(map[string]any)
	if !ok {
		return nil, false
	}
	main := ""
	if f := s.c.flow(); f != nil {
		if st := f.Step(rest[0].Key); st != nil {
			main = flow.MainOutput(st.Type)
		}
	}
	if len(rest) == 1 {
		if main == "" {
			return out, true
		}
		v, ok := out[main]
		return v, ok
	}
	if !rest[1].IsIndex {
		if _, ok := out[rest[1].Key]; ok {
			return expr.Walk(out, rest[1:])
		}
	}
	// A field the step does not output is looked up in its main value: step.GetGPT.role reads
	// the http response's role.
	if main == "" {
		return nil, false
	}
	return expr.Walk(out[main], rest[1:])
}

func (s scope) nowValue(rest expr.Path) (any, bool) {
	loc := s.c.env.Location
	if loc == nil {
		loc = time.UTC
	}
	t := s.c.now.In(loc)
	if len(rest) == 0 {
		return t.Format(time.RFC3339), true
	}
	if len(rest) != 1 {
		return nil, false
	}
	switch rest[0].Key {
	case "date":
		return t.Format("2006-01-02"), true
	case "time":
		return t.Format("15:04"), true
	case "weekday":
		return strings.ToLower(t.Weekday().String()[:3]), true
	case "hour":
		return float64(t.Hour()), true
	case "unix":
		return float64(t.Unix()), true
	case "iso", "datetime":
		return t.Format(time.RFC3339), true
	}
	return nil, false
}

// contactValue returns the contact's field named by the path's first key (the key itself is
// rest[0]); nil when it does not exist.
func contactValue(ct *tandem.Contact, rest expr.Path) any {
	if ct == nil || len(rest) == 0 || rest[0].IsIndex {
		return nil
	}
	switch rest[0].Key {
	case "id":
		return ct.ID
	case "name":
		return ct.Name
	case "first_name":
		return ct.First()
	case "last_name":
		return ct.Last()
	case "phone":
		return ct.Phone
	case "email":
		return ct.Email
	case "language":
		return ct.Language
	case "external_id":
		return ct.ExternalID
	case "tags":
		return stringsToAny(ct.Tags)
	}
	v, ok := ct.Attributes[rest[0].Key]
	if !ok {
		return nil
	}
	return v
}

func conversationValue(cv *tandem.Conversation, rest expr.Path) any {
	if cv == nil || len(rest) == 0 || rest[0].IsIndex {
		return nil
	}
	switch rest[0].Key {
	case "id":
		return cv.ID
	case "channel":
		return cv.ChannelKind
	case "channel_id":
		return cv.ChannelID
	case "status":
		return cv.Status
	case "team":
		return cv.Team
	case "assignee":
		return cv.Assignee
	case "tags":
		return stringsToAny(cv.Tags)
	}
	v, ok := cv.Attributes[rest[0].Key]
	if !ok {
		return nil
	}
	return v
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// messageMap exposes a message to templates.
func messageMap(m *tandem.Message) map[string]any {
	out := map[string]any{"id": m.ID, "text": m.Text, "type": m.Type}
	if m.Option != "" {
		out["option"] = m.Option
	}
	if md := m.Media; md != nil {
		out["media"] = map[string]any{"url": md.URL, "mime": md.Mime, "name": md.Name, "type": md.Type}
	}
	if l := m.Location; l != nil {
		out["location"] = map[string]any{"lat": l.Lat, "lng": l.Lng, "name": l.Name, "address": l.Address}
	}
	if len(m.Contacts) > 0 {
		cards := make([]any, len(m.Contacts))
		for i, sc := range m.Contacts {
			phones, emails := make([]any, len(sc.Phones)), make([]any, len(sc.Emails))
			for j, p := range sc.Phones {
				phones[j] = p
			}
			for j, e := range sc.Emails {
				emails[j] = e
			}
			cards[i] = map[string]any{"name": sc.Name, "phones": phones, "emails": emails, "org": sc.Org}
		}
		out["contacts"] = cards
	}
	if m.Data != nil {
		out["data"] = m.Data
	}
	return out
}
