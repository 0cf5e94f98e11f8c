package expr

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Scope supplies the values templates and conditions read.
type Scope interface {
	// Lookup returns the value at the path and whether it exists.
	Lookup(p Path) (any, bool)
}

// Scheduler is implemented by scopes that can answer `in_schedule` conditions.
type Scheduler interface {
	InSchedule(id string) bool
}

// Template is a compiled string with {{ path | filter: arg }} placeholders. The zero value
// renders as the empty string.
type Template struct {
	src   string
	parts []part
}

type part struct {
	lit     string
	path    Path
	filters []filterCall
	isExpr  bool
	// inString is set by JSON templates: the placeholder sits inside a JSON string literal.
	inString bool
}

// Parse compiles a template.
func Parse(src string) (*Template, error) {
	t := &Template{src: src}
	rest := src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, part{lit: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: rest[:i]})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("template %q: '{{' is never closed with '}}'", clip(src))
		}
		inner := rest[i+2 : i+2+j]
		p, err := parsePlaceholder(inner)
		if err != nil {
			return nil, fmt.Errorf("template %q: %w", clip(src), err)
		}
		t.parts = append(t.parts, p)
		rest = rest[i+2+j+2:]
	}
}

// MustParse is Parse for templates known to be valid; it panics on error.
func MustParse(src string) *Template {
	t, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return t
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

func parsePlaceholder(inner string) (part, error) {
	segs := splitFilters(inner)
	path, err := ParsePath(segs[0])
	if err != nil {
		return part{}, err
	}
	p := part{path: path, isExpr: true}
	for _, f := range segs[1:] {
		fc, err := parseFilter(f)
		if err != nil {
			return part{}, err
		}
		p.filters = append(p.filters, fc)
	}
	return p, nil
}

// splitFilters splits on '|' outside quotes.
func splitFilters(s string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '|':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// String returns the template's source.
func (t *Template) String() string {
	if t == nil {
		return ""
	}
	return t.src
}

// IsZero reports whether the template is empty.
func (t *Template) IsZero() bool { return t == nil || t.src == "" }

// IsLiteral reports whether the template has no placeholders.
func (t *Template) IsLiteral() bool {
	if t == nil {
		return true
	}
	for _, p := range t.parts {
		if p.isExpr {
			return false
		}
	}
	return true
}

// Paths returns the paths the template reads, for validation.
func (t *Template) Paths() []Path {
	if t == nil {
		return nil
	}
	var out []Path
	for _, p := range t.parts {
		if p.isExpr {
			out = append(out, p.path)
		}
	}
	return out
}

// Render renders the template to text. A missing path renders as the empty string.
func (t *Template) Render(s Scope) string {
	if t == nil {
		return ""
	}
	if len(t.parts) == 1 && !t.parts[0].isExpr {
		return t.parts[0].lit
	}
	var b strings.Builder
	for _, p := range t.parts {
		if !p.isExpr {
			b.WriteString(p.lit)
			continue
		}
		b.WriteString(String(p.eval(s)))
	}
	return b.String()
}

// Eval renders the template keeping the value's type when it is one placeholder and nothing
// else ("{{step.ask}}" gives the number 150, not "150"); otherwise it returns the text.
func (t *Template) Eval(s Scope) any {
	if t == nil {
		return ""
	}
	if len(t.parts) == 1 && t.parts[0].isExpr {
		return t.parts[0].eval(s)
	}
	return t.Render(s)
}

func (p *part) eval(s Scope) any {
	v, ok := s.Lookup(p.path)
	if !ok {
		v = nil
	}
	for _, f := range p.filters {
		v = f.apply(v)
	}
	return v
}

// MarshalText writes the template's source.
func (t Template) MarshalText() ([]byte, error) { return []byte(t.src), nil }

// UnmarshalText compiles a template from its source.
func (t *Template) UnmarshalText(b []byte) error {
	c, err := Parse(string(b))
	if err != nil {
		return err
	}
	*t = *c
	return nil
}

// UnmarshalJSON accepts a JSON string, or a number or boolean written without quotes
// (YAML's `title: 1`), compiled as a literal template.
func (t *Template) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var v any
		if json.Unmarshal(b, &v) != nil {
			return err
		}
		switch v.(type) {
		case float64, bool:
			s = String(v)
		case nil:
			s = ""
		default:
			return fmt.Errorf("expected text, got %s", describe(v))
		}
	}
	return t.UnmarshalText([]byte(s))
}

// MarshalJSON writes the template's source as a JSON string.
func (t Template) MarshalJSON() ([]byte, error) { return json.Marshal(t.src) }

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "text"
}

// String renders any value as text: nil is "", whole numbers have no ".0" (150, 2.5), lists
// and objects are compact JSON, times are RFC 3339.
func String(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return FormatNumber(x)
	case float32:
		return FormatNumber(float64(x))
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case json.Number:
		return x.String()
	case time.Time:
		return x.Format(time.RFC3339)
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// FormatNumber writes a number without a trailing ".0" and without exponent for ordinary sizes.
func FormatNumber(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return ""
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Number reads a value as a number: numbers as they are, text that parses as a number.
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case bool:
		return 0, false
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}
