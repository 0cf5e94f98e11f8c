// Package expr renders templates ("Hi {{contact.first_name | default: \"there\"}}") and evaluates
// conditions over a Scope. It is pure: it does no I/O and reads no clock; the caller's Scope
// supplies every value.
package expr

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Seg is one segment of a path: a key (`response`) or an index (`[0]`).
type Seg struct {
	Key     string
	Index   int
	IsIndex bool
}

// Path is a parsed dotted path such as step.GetMessages.response.data[0].content[0].text.value.
type Path []Seg

// String writes the path back in its source form.
func (p Path) String() string {
	var b strings.Builder
	for i, s := range p {
		if s.IsIndex {
			fmt.Fprintf(&b, "[%d]", s.Index)
			continue
		}
		if needsQuote(s.Key) {
			b.WriteString(`["` + s.Key + `"]`)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Key)
	}
	return b.String()
}

// Head returns the first key of the path ("step", "var", ...), or "".
func (p Path) Head() string {
	if len(p) == 0 || p[0].IsIndex {
		return ""
	}
	return p[0].Key
}

func needsQuote(k string) bool {
	for _, r := range k {
		if !isPathRune(r) {
			return true
		}
	}
	return k == ""
}

func isPathRune(r rune) bool {
	return r == '_' || r == '-' || r == '$' || r == '@' || r == '#' ||
		(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r > 127
}

// ParsePath reads a dotted path with [n] indexes and ["quoted key"] segments.
func ParsePath(s string) (Path, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty path")
	}
	var p Path
	i := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == '.':
			if i == 0 || i == len(s)-1 || s[i+1] == '.' || s[i+1] == '[' {
				return nil, fmt.Errorf("path %q: misplaced '.'", s)
			}
			i++
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("path %q: missing ']'", s)
			}
			inner := strings.TrimSpace(s[i+1 : i+j])
			if n, err := strconv.Atoi(inner); err == nil {
				p = append(p, Seg{Index: n, IsIndex: true})
			} else if len(inner) >= 2 && (inner[0] == '"' || inner[0] == '\'') && inner[len(inner)-1] == inner[0] {
				p = append(p, Seg{Key: inner[1 : len(inner)-1]})
			} else {
				return nil, fmt.Errorf("path %q: [%s] is neither an index nor a quoted key", s, inner)
			}
			i += j + 1
		default:
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			key := s[i:j]
			for _, r := range key {
				if !isPathRune(r) {
					return nil, fmt.Errorf("path %q: unexpected %q", s, r)
				}
			}
			p = append(p, Seg{Key: key})
			i = j
		}
	}
	if len(p) == 0 || p[0].IsIndex {
		return nil, fmt.Errorf("path %q must start with a name", s)
	}
	return p, nil
}

// Walk follows a path into a value made of maps and slices (as decoded from JSON).
// A key applied to a JSON text string parses it first, so paths reach into JSON received as text.
func Walk(v any, p Path) (any, bool) {
	for i := 0; i < len(p); i++ {
		s := p[i]
		switch x := v.(type) {
		case map[string]any:
			key := s.Key
			if s.IsIndex {
				key = strconv.Itoa(s.Index)
			}
			var ok bool
			if v, ok = x[key]; !ok {
				return nil, false
			}
		case map[string]string:
			sv, ok := x[s.Key]
			if !ok || s.IsIndex {
				return nil, false
			}
			v = sv
		case []any:
			e, ok := element(len(x), s)
			if !ok {
				return nil, false
			} else if e < 0 {
				v = float64(len(x))
			} else {
				v = x[e]
			}
		case []string:
			e, ok := element(len(x), s)
			if !ok {
				return nil, false
			} else if e < 0 {
				v = float64(len(x))
			} else {
				v = x[e]
			}
		case string:
			t := strings.TrimSpace(x)
			if t == "" || (t[0] != '{' && t[0] != '[') {
				return nil, false
			}
			var decoded any
			if json.Unmarshal([]byte(t), &decoded) != nil {
				return nil, false
			}
			v = decoded
			i-- // apply this segment again to the decoded value
		default:
			return nil, false
		}
	}
	return v, true
}

// element returns the slice index a segment selects (negative indexes count from the end), or
// -1 for the `length` pseudo-key.
func element(n int, s Seg) (int, bool) {
	if !s.IsIndex {
		return -1, s.Key == "length"
	}
	i := s.Index
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}
