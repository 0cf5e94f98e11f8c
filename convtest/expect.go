package convtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/expr"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// expect checks the conversation's state.
func (s *session) expect(line int, v any) error {
	want, ok := v.(map[string]any)
	if !ok {
		return fail(line, "expect: expected a map of checks such as {run: waiting, step: ask}")
	}
	if err := s.ensureConversation(); err != nil {
		return err
	}
	info, contact, st, err := s.State(s.ctx)
	if err != nil {
		return err
	}
	runStatus, reason, step := "none", "", ""
	vars := map[string]any{}
	if st.Run != nil {
		runStatus, step, vars = st.Run.Status, st.Run.Step, st.Run.Vars
	} else if st.Last != nil {
		runStatus, reason, vars = st.Last.Status, st.Last.Reason, st.Last.Vars
	}
	for _, k := range sortedKeys(want) {
		e := want[k]
		bad := func(got any) error {
			return fail(line, "expect %s: expected %s\n      got      %s", k, text(e), text(got))
		}
		switch k {
		case "run":
			if text(e) != runStatus {
				return bad(runStatus)
			}
		case "reason":
			if text(e) != reason {
				return bad(reason)
			}
		case "step":
			if st.Run == nil || st.Run.Wait == nil {
				return fail(line, "expect step: expected the run to wait on step %s, but %s", text(e), noWait(runStatus))
			}
			if text(e) != step {
				return bad(step)
			}
		case "flow":
			got := ""
			if st.Run != nil {
				got = st.Run.FlowID
			} else if st.Last != nil {
				got = st.Last.FlowID
			}
			if text(e) != got {
				return bad(got)
			}
		case "var":
			m, ok := e.(map[string]any)
			if !ok {
				return fail(line, "expect var: expected a map of variables")
			}
			for _, name := range sortedKeys(m) {
				got, has := vars[name]
				if !same(m[name], got, has) {
					return fail(line, "expect var.%s: expected %s\n      got      %s", name, quoteVal(m[name]), quoteGot(got, has))
				}
			}
		case "contact":
			m, ok := e.(map[string]any)
			if !ok {
				return fail(line, "expect contact: expected a map of fields")
			}
			for _, name := range sortedKeys(m) {
				got, has := contactField(contact, name)
				if !same(m[name], got, has) {
					return fail(line, "expect contact.%s: expected %s\n      got      %s", name, quoteVal(m[name]), quoteGot(got, has))
				}
			}
		case "conversation":
			m, ok := e.(map[string]any)
			if !ok {
				return fail(line, "expect conversation: expected a map of fields")
			}
			for _, name := range sortedKeys(m) {
				got, has := conversationField(&info.Conversation, name)
				if !same(m[name], got, has) {
					return fail(line, "expect conversation.%s: expected %s\n      got      %s", name, quoteVal(m[name]), quoteGot(got, has))
				}
			}
		case "tags":
			list, _ := e.([]any)
			all := append(append([]string{}, contact.Tags...), info.Tags...)
			if len(list) == 0 && len(all) > 0 {
				return bad(all)
			}
			for _, w := range list {
				found := false
				for _, g := range all {
					found = found || strings.EqualFold(g, text(w))
				}
				if !found {
					return fail(line, "expect tags: expected tag %q\n      got tags %q", text(w), all)
				}
			}
		case "no_tags":
			list, _ := e.([]any)
			all := append(append([]string{}, contact.Tags...), info.Tags...)
			for _, w := range list {
				for _, g := range all {
					if strings.EqualFold(g, text(w)) {
						return fail(line, "expect no_tags: tag %q is set", g)
					}
				}
			}
		case "handoff":
			got := tandem.HandoffNone
			if st.Handoff != nil {
				got = st.Handoff.Status
			}
			if text(e) != got {
				return bad(got)
			}
		case "team":
			if text(e) != info.Team {
				return bad(info.Team)
			}
		case "assignee":
			if text(e) != info.Assignee {
				return bad(info.Assignee)
			}
		case "status":
			if text(e) != info.Status {
				return bad(info.Status)
			}
		case "bot":
			got := "active"
			if info.BotPaused {
				got = "paused"
			}
			if text(e) != got {
				return bad(got)
			}
		case "http_calls":
			s.w.mu.Lock()
			got := len(s.w.httpCalls)
			s.w.mu.Unlock()
			if n, _ := expr.Number(e); int(n) != got {
				return bad(got)
			}
		case "llm_calls":
			if err := s.expectLLM(line, e); err != nil {
				return err
			}
		case "notes":
			notes, err := s.DB.Notes(s.ctx, s.conv)
			if err != nil {
				return err
			}
			list, _ := e.([]any)
			if len(list) == 0 && len(notes) > 0 {
				return bad(noteTexts(notes))
			}
			for _, w := range list {
				if !anyNote(notes, w) {
					return fail(line, "expect notes: no note matches %s\n      notes: %q", text(w), noteTexts(notes))
				}
			}
		case "pending":
			n, _ := expr.Number(e)
			if int(n) != len(st.Pending) {
				return bad(len(st.Pending))
			}
		default:
			return fail(line, "expect: unknown check %q (run, reason, step, flow, var, contact, conversation, tags, handoff, team, assignee, status, bot, http_calls, llm_calls, notes)", k)
		}
	}
	return nil
}

func noWait(status string) string {
	if status == "none" {
		return "no run started"
	}
	return "the run is " + status
}

func (s *session) expectLLM(line int, e any) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	switch x := e.(type) {
	case map[string]any:
		for _, step := range sortedKeys(x) {
			n, _ := expr.Number(x[step])
			if got := s.w.llmCalls[step]; got != int(n) {
				return fail(line, "expect llm_calls.%s: expected %d\n      got      %d", step, int(n), got)
			}
		}
	default:
		n, _ := expr.Number(e)
		if s.w.llmTotal != int(n) {
			return fail(line, "expect llm_calls: expected %d\n      got      %d", int(n), s.w.llmTotal)
		}
	}
	return nil
}

func anyNote(notes []tandem.Note, w any) bool {
	for _, n := range notes {
		switch x := w.(type) {
		case map[string]any:
			if c, ok := x["contains"]; ok && strings.Contains(n.Text, text(c)) {
				return true
			}
			if m, ok := x["matches"]; ok {
				if re, err := regexp.Compile(text(m)); err == nil && re.MatchString(n.Text) {
					return true
				}
			}
			if t, ok := x["text"]; ok && strings.TrimSpace(n.Text) == strings.TrimSpace(text(t)) {
				return true
			}
		default:
			if strings.TrimSpace(n.Text) == strings.TrimSpace(text(x)) {
				return true
			}
		}
	}
	return false
}

func noteTexts(notes []tandem.Note) []string {
	var out []string
	for _, n := range notes {
		out = append(out, n.Text)
	}
	return out
}

// same compares an expected value with an actual one: numbers numerically, lists and maps
// element by element, everything else as text. An expected null or "" matches a missing value.
func same(want, got any, has bool) bool {
	if !has || got == nil {
		return want == nil || text(want) == ""
	}
	switch w := want.(type) {
	case []any, map[string]any:
		return subset(w, jsonable(got)) && subset(jsonable(got), w)
	}
	if x, ok := expr.Number(want); ok {
		if y, ok := expr.Number(got); ok {
			return x == y
		}
	}
	return text(want) == text(got)
}

func quoteVal(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return text(v)
}

func quoteGot(v any, has bool) string {
	if !has {
		return "(not set)"
	}
	return quoteVal(v)
}

func contactField(c *tandem.Contact, name string) (any, bool) {
	switch name {
	case "id":
		return c.ID, true
	case "name":
		return c.Name, c.Name != ""
	case "first_name":
		if c.FirstName != "" {
			return c.FirstName, true
		}
		f, _, _ := strings.Cut(strings.TrimSpace(c.Name), " ")
		return f, f != ""
	case "last_name":
		if c.LastName != "" {
			return c.LastName, true
		}
		_, l, _ := strings.Cut(strings.TrimSpace(c.Name), " ")
		return strings.TrimSpace(l), l != ""
	case "phone":
		return c.Phone, c.Phone != ""
	case "email":
		return c.Email, c.Email != ""
	case "language":
		return c.Language, c.Language != ""
	case "tags":
		return stringsAny(c.Tags), true
	}
	v, ok := c.Attributes[name]
	return v, ok
}

func conversationField(c *tandem.Conversation, name string) (any, bool) {
	switch name {
	case "status":
		return c.Status, true
	case "team":
		return c.Team, true
	case "assignee":
		return c.Assignee, true
	case "channel":
		return c.ChannelKind, true
	case "tags":
		return stringsAny(c.Tags), true
	}
	v, ok := c.Attributes[name]
	return v, ok
}

func stringsAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
