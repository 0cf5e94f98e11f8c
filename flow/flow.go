// Package flow reads, checks and represents flow documents (docs/flows.md): YAML or JSON with
// line numbers in every finding, the JSON Schema, the lint of the Validation section, and
// published versions identified by a content hash. It does no I/O: callers pass bytes.
package flow

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// Defaults of a flow's settings.
const (
	DefaultWaitTimeout     = 24 * time.Hour
	DefaultMaxStepsPerTurn = 200
	// End is the `next` value that completes the run explicitly.
	End = "end"
)

// Flow is one flow document, decoded and compiled.
type Flow struct {
	Format      int            `json:"format"`
	ID          string         `json:"id"`
	Name        string         `json:"name,omitempty"`
	Description string         `json:"description,omitempty"`
	Trigger     Trigger        `json:"trigger"`
	Settings    Settings       `json:"settings"`
	Variables   map[string]any `json:"variables,omitempty"`
	Steps       []*Step        `json:"steps"`

	// Version is the published version number (0 for a draft).
	Version int `json:"-"`
	// Hash is the SHA-256 of the canonical JSON of the document.
	Hash string `json:"-"`
	// File names the source for findings.
	File string `json:"-"`
	// Source is the document as written.
	Source []byte `json:"-"`

	index map[string]int
	pos   positions
}

// Step returns the step with the id, or nil.
func (f *Flow) Step(id string) *Step {
	if i, ok := f.index[id]; ok {
		return f.Steps[i]
	}
	return nil
}

// Entry returns the first step, or nil for a flow without steps.
func (f *Flow) Entry() *Step {
	if len(f.Steps) == 0 {
		return nil
	}
	return f.Steps[0]
}

// After returns the id of the step that follows s when it names no `next`: the next step in
// the list, or "" at the end (the run completes).
func (f *Flow) After(s *Step) string {
	if s.Next != "" {
		if s.Next == End {
			return ""
		}
		return s.Next
	}
	if i, ok := f.index[s.ID]; ok && i+1 < len(f.Steps) {
		return f.Steps[i+1].ID
	}
	return ""
}

// Resolve returns the step a branch field leads to: the branch when set, else the step's
// default next. "" means the run completes.
func (f *Flow) Resolve(s *Step, branch string) string {
	switch branch {
	case "":
		return f.After(s)
	case End:
		return ""
	}
	return branch
}

// Line returns the source line of a JSON pointer into the document, or 0.
func (f *Flow) Line(pointer string) int { return f.pos.line(pointer) }

// Trigger says when a conversation with no active run starts the flow.
type Trigger struct {
	On       string   `json:"on,omitempty"` // message (default) | conversation_start | api | never
	Match    Match    `json:"match"`
	Channels []string `json:"channels,omitempty"`
	Priority int      `json:"priority,omitempty"`
	Preempt  bool     `json:"preempt,omitempty"`
}

// Trigger kinds.
const (
	OnMessage           = "message"
	OnConversationStart = "conversation_start"
	OnAPI               = "api"
	OnNever             = "never"
)

// Kind returns the trigger kind with its default.
func (t *Trigger) Kind() string {
	if t.On == "" {
		return OnMessage
	}
	return t.On
}

// Match tests the text of the message that may start a flow.
type Match struct {
	Equals     []string `json:"equals,omitempty"`
	Contains   []string `json:"contains,omitempty"`
	Regex      string   `json:"regex,omitempty"`
	IgnoreCase bool     `json:"ignore_case,omitempty"`

	re *regexp.Regexp
}

// IsAny reports whether the match accepts any message.
func (m *Match) IsAny() bool { return m.Equals == nil && m.Contains == nil && m.Regex == "" }

// Test reports whether text satisfies the match.
func (m *Match) Test(text string) bool {
	if m.IsAny() {
		return true
	}
	t := strings.TrimSpace(text)
	eq := func(a, b string) bool {
		if m.IgnoreCase {
			return strings.EqualFold(a, b)
		}
		return a == b
	}
	for _, e := range m.Equals {
		if eq(t, strings.TrimSpace(e)) {
			return true
		}
	}
	for _, c := range m.Contains {
		if m.IgnoreCase {
			if strings.Contains(strings.ToLower(t), strings.ToLower(c)) {
				return true
			}
		} else if strings.Contains(t, c) {
			return true
		}
	}
	return m.re != nil && m.re.MatchString(text)
}

// UnmarshalJSON reads `any` or {equals|contains|regex: ..., ignore_case: bool}; equals and
// contains take one text or a list.
func (m *Match) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != "any" {
			return fmt.Errorf(`match: %q is not "any"; use any, {equals: ...}, {contains: ...} or {regex: ...}`, s)
		}
		*m = Match{}
		return nil
	}
	var raw struct {
		Equals     stringList `json:"equals"`
		Contains   stringList `json:"contains"`
		Regex      string     `json:"regex"`
		IgnoreCase bool       `json:"ignore_case"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = Match{Equals: raw.Equals, Contains: raw.Contains, Regex: raw.Regex, IgnoreCase: raw.IgnoreCase}
	if m.Regex != "" {
		pat := m.Regex
		if m.IgnoreCase {
			pat = "(?i)" + pat
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return fmt.Errorf("regex: %w", err)
		}
		m.re = re
	}
	return nil
}

// MarshalJSON writes the match back.
func (m Match) MarshalJSON() ([]byte, error) {
	if m.IsAny() {
		return []byte(`"any"`), nil
	}
	type plain struct {
		Equals     []string `json:"equals,omitempty"`
		Contains   []string `json:"contains,omitempty"`
		Regex      string   `json:"regex,omitempty"`
		IgnoreCase bool     `json:"ignore_case,omitempty"`
	}
	return json.Marshal(plain{m.Equals, m.Contains, m.Regex, m.IgnoreCase})
}

// stringList reads one text or a list of texts.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*l = []string{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("expected a text or a list of texts")
	}
	*l = list
	return nil
}

// Settings tune how a flow runs.
type Settings struct {
	Debounce        Duration  `json:"debounce,omitempty"`
	WaitTimeout     *Duration `json:"wait_timeout,omitempty"`
	MaxStepsPerTurn int       `json:"max_steps_per_turn,omitempty"`
	Schedule        string    `json:"schedule,omitempty"`
	Language        string    `json:"language,omitempty"`
}

// Wait returns the default timeout of waiting steps.
func (s Settings) Wait() time.Duration {
	if s.WaitTimeout == nil || *s.WaitTimeout <= 0 {
		return DefaultWaitTimeout
	}
	return time.Duration(*s.WaitTimeout)
}

// MaxSteps returns the loop guard.
func (s Settings) MaxSteps() int {
	if s.MaxStepsPerTurn <= 0 {
		return DefaultMaxStepsPerTurn
	}
	return s.MaxStepsPerTurn
}

// Duration is a time.Duration written as text ("20s", "1h30m", "2d") or a number of seconds.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalJSON reads a duration.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := tandem.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil || n < 0 {
		return fmt.Errorf("bad duration %s: use forms like 20s, 10m, 24h, 1h30m or 2d", b)
	}
	*d = Duration(n * float64(time.Second))
	return nil
}

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(tandem.FormatDuration(time.Duration(d)))
}

// Step is one step: the fields every step has, and its type's body.
type Step struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	Next string `json:"next,omitempty"`
	Body Body   `json:"-"`
	// Index is the step's position in the list; Line its source line.
	Index int `json:"-"`
	Line  int `json:"-"`
}

// Body is the part of a step that depends on its type.
type Body interface {
	// Refs lists the steps the body may go to, with the field naming each.
	Refs() []Ref
}

// Ref is a reference from a step field to another step.
type Ref struct {
	Field string
	Step  string
}

// UnmarshalJSON decodes the common fields, then the body of the step's type.
func (s *Step) UnmarshalJSON(b []byte) error {
	var head struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Name string `json:"name"`
		Next string `json:"next"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	s.ID, s.Type, s.Name, s.Next = head.ID, head.Type, head.Name, head.Next
	newBody, ok := Types[head.Type]
	if !ok {
		return fmt.Errorf("unknown step type %q", head.Type)
	}
	body := newBody()
	if err := json.Unmarshal(b, body); err != nil {
		return err
	}
	s.Body = body
	return nil
}

// MarshalJSON writes the common fields and the body as one object.
func (s Step) MarshalJSON() ([]byte, error) {
	body, err := json.Marshal(s.Body)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		m = map[string]json.RawMessage{}
	}
	put := func(k, v string) {
		if v != "" {
			m[k], _ = json.Marshal(v)
		}
	}
	put("id", s.ID)
	put("type", s.Type)
	put("name", s.Name)
	put("next", s.Next)
	return json.Marshal(m)
}
