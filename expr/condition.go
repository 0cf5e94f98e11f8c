package expr

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Operators lists the condition operators.
var Operators = []string{
	"equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "matches",
	"empty", "not_empty", "gt", "gte", "lt", "lte", "in", "not_in", "length_gt", "length_lt",
}

var unaryOps = map[string]bool{"empty": true, "not_empty": true}

// DefaultSchedule is the schedule id of `{in_schedule: true}` (and `false`): the flow's default
// schedule (settings.schedule), which the Scheduler resolves.
const DefaultSchedule = "@default"

// Condition is a test over a Scope: a comparison {left, op, right}, `{in_schedule: id}`, or
// `all` / `any` / `not` of nested conditions.
type Condition struct {
	All        []*Condition
	Any        []*Condition
	Not        *Condition
	Left       *Template
	Op         string
	Right      *Value
	IgnoreCase bool
	InSchedule string

	re *regexp.Regexp // a literal `matches` pattern, compiled once
	// raw is the condition as written.
	raw any
}

// Eval evaluates the condition.
func (c *Condition) Eval(s Scope) bool {
	switch {
	case c == nil:
		return true
	case c.All != nil:
		for _, e := range c.All {
			if !e.Eval(s) {
				return false
			}
		}
		return true
	case c.Any != nil:
		for _, e := range c.Any {
			if e.Eval(s) {
				return true
			}
		}
		return false
	case c.Not != nil:
		return !c.Not.Eval(s)
	case c.InSchedule != "":
		sc, ok := s.(Scheduler)
		return ok && sc.InSchedule(c.InSchedule)
	}
	left := c.Left.Eval(s)
	var right any
	if c.Right != nil {
		right = c.Right.Eval(s)
	}
	return c.compare(left, right)
}

func (c *Condition) compare(left, right any) bool {
	fold := func(x string) string {
		if c.IgnoreCase {
			return strings.ToLower(x)
		}
		return x
	}
	ls, rs := fold(String(left)), fold(String(right))
	switch c.Op {
	case "equals":
		return equal(left, right, c.IgnoreCase)
	case "not_equals":
		return !equal(left, right, c.IgnoreCase)
	case "contains", "not_contains":
		var has bool
		if list, ok := asList(left); ok {
			for _, e := range list {
				if equal(e, right, c.IgnoreCase) {
					has = true
					break
				}
			}
		} else {
			has = strings.Contains(ls, rs)
		}
		return has == (c.Op == "contains")
	case "starts_with":
		return strings.HasPrefix(ls, rs)
	case "ends_with":
		return strings.HasSuffix(ls, rs)
	case "matches":
		re := c.re
		if re == nil {
			pat := String(right)
			if c.IgnoreCase {
				pat = "(?i)" + pat
			}
			var err error
			if re, err = regexp.Compile(pat); err != nil {
				return false
			}
		}
		return re.MatchString(String(left))
	case "empty":
		return isEmpty(left)
	case "not_empty":
		return !isEmpty(left)
	case "gt", "gte", "lt", "lte":
		cmp, ok := order(left, right)
		if !ok {
			return false
		}
		switch c.Op {
		case "gt":
			return cmp > 0
		case "gte":
			return cmp >= 0
		case "lt":
			return cmp < 0
		}
		return cmp <= 0
	case "in", "not_in":
		list, ok := asList(right)
		if !ok {
			list = []any{right}
		}
		found := false
		for _, e := range list {
			if equal(left, e, c.IgnoreCase) {
				found = true
				break
			}
		}
		return found == (c.Op == "in")
	case "length_gt", "length_lt":
		n, ok := Number(right)
		if !ok {
			return false
		}
		l := float64(length(left))
		if c.Op == "length_gt" {
			return l > n
		}
		return l < n
	}
	return false
}

func asList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, true
	}
	return nil, false
}

// equal compares two values: numerically when both read as numbers, else as text.
func equal(a, b any, ignoreCase bool) bool {
	if x, ok := Number(a); ok {
		if y, ok := Number(b); ok {
			return x == y
		}
	}
	as, bs := strings.TrimSpace(String(a)), strings.TrimSpace(String(b))
	if ignoreCase {
		return strings.EqualFold(as, bs)
	}
	return as == bs
}

// order compares numbers, or RFC 3339 times / dates.
func order(a, b any) (int, bool) {
	if x, ok := Number(a); ok {
		if y, ok := Number(b); ok {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
	}
	ta, ok1 := asTime(a)
	tb, ok2 := asTime(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return ta.Compare(tb), true
}

func asTime(v any) (time.Time, bool) {
	if t, ok := v.(time.Time); ok {
		return t, true
	}
	s := strings.TrimSpace(String(v))
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// UnmarshalJSON reads a condition as written in a flow.
func (c *Condition) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	d, err := NewCondition(raw)
	if err != nil {
		return err
	}
	*c = *d
	return nil
}

// MarshalJSON writes the condition as written.
func (c Condition) MarshalJSON() ([]byte, error) { return json.Marshal(c.raw) }

// NewCondition compiles a condition from its decoded form.
func NewCondition(raw any) (*Condition, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a condition is an object such as {left, op, right}, {all: [...]}, {any: [...]} or {in_schedule: id}; got %s", describe(raw))
	}
	c := &Condition{raw: raw}
	nested := func(key string) ([]*Condition, error) {
		list, ok := m[key].([]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected a list of conditions", key)
		}
		out := make([]*Condition, 0, len(list))
		for i, e := range list {
			d, err := NewCondition(e)
			if err != nil {
				return nil, fmt.Errorf("%s[%d]: %w", key, i, err)
			}
			out = append(out, d)
		}
		return out, nil
	}
	var err error
	switch {
	case m["all"] != nil:
		c.All, err = nested("all")
		return c, err
	case m["any"] != nil:
		c.Any, err = nested("any")
		return c, err
	case m["not"] != nil:
		c.Not, err = NewCondition(m["not"])
		if err != nil {
			return nil, fmt.Errorf("not: %w", err)
		}
		return c, nil
	case m["in_schedule"] != nil:
		switch v := m["in_schedule"].(type) {
		case bool:
			// true: the flow's settings.schedule is open; false: it is closed.
			c.InSchedule = DefaultSchedule
			if !v {
				return &Condition{Not: c, raw: raw}, nil
			}
			return c, nil
		case string:
			if v != "" {
				c.InSchedule = v
				return c, nil
			}
		}
		return nil, fmt.Errorf("in_schedule: expected a schedule id, or true/false for the flow's settings.schedule")
	}
	op, _ := m["op"].(string)
	if op == "" {
		return nil, fmt.Errorf("op: missing; one of %s", strings.Join(Operators, ", "))
	}
	known := false
	for _, o := range Operators {
		known = known || o == op
	}
	if !known {
		return nil, fmt.Errorf("op: unknown operator %q; one of %s", op, strings.Join(Operators, ", "))
	}
	c.Op = op
	left, err := templateOf(m["left"])
	if err != nil {
		return nil, fmt.Errorf("left: %w", err)
	}
	c.Left = left
	if ic, ok := m["ignore_case"].(bool); ok {
		c.IgnoreCase = ic
	}
	if r, ok := m["right"]; ok {
		if c.Right, err = NewValue(r); err != nil {
			return nil, fmt.Errorf("right: %w", err)
		}
	} else if !unaryOps[op] {
		return nil, fmt.Errorf("right: missing for operator %s", op)
	}
	if op == "matches" && c.Right != nil && c.Right.tmpl != nil && c.Right.tmpl.IsLiteral() {
		pat := c.Right.tmpl.src
		if c.IgnoreCase {
			pat = "(?i)" + pat
		}
		if c.re, err = regexp.Compile(pat); err != nil {
			return nil, fmt.Errorf("right: bad regular expression: %w", err)
		}
	}
	if (op == "in" || op == "not_in") && c.Right != nil && c.Right.list == nil && c.Right.tmpl == nil {
		return nil, fmt.Errorf("right: operator %s needs a list", op)
	}
	return c, nil
}

func templateOf(v any) (*Template, error) {
	switch x := v.(type) {
	case nil:
		return Parse("")
	case string:
		return Parse(x)
	case float64, bool:
		return Parse(String(x))
	}
	return nil, fmt.Errorf("expected text, got %s", describe(v))
}

// Templates returns every template the condition reads, for validation.
func (c *Condition) Templates() []*Template {
	if c == nil {
		return nil
	}
	var out []*Template
	for _, e := range append(append([]*Condition{}, c.All...), c.Any...) {
		out = append(out, e.Templates()...)
	}
	if c.Not != nil {
		out = append(out, c.Not.Templates()...)
	}
	if c.Left != nil {
		out = append(out, c.Left)
	}
	return append(out, c.Right.Templates()...)
}

// Schedules returns the schedule ids the condition names.
func (c *Condition) Schedules() []string {
	if c == nil {
		return nil
	}
	var out []string
	if c.InSchedule != "" && c.InSchedule != DefaultSchedule {
		out = append(out, c.InSchedule)
	}
	for _, e := range append(append([]*Condition{}, c.All...), c.Any...) {
		out = append(out, e.Schedules()...)
	}
	if c.Not != nil {
		out = append(out, c.Not.Schedules()...)
	}
	return out
}
