package engine

import (
	"fmt"
	"strings"

	"github.com/tandemchat/tandem/expr"
)

// Assignment modes.
const (
	modeSet       = "set"
	modeAppend    = "append"
	modeClear     = "clear"
	modeIncrement = "increment"
)

// assign writes a value to contact.<key>, var.<name> or conversation.<key>.
func (c *cursor) assign(target string, value any, mode, sep string) error {
	ns, key, ok := strings.Cut(target, ".")
	if !ok || key == "" {
		return fmt.Errorf("target %q must be contact.<key>, var.<name> or conversation.<key>", target)
	}
	get, put, err := c.slot(ns, key)
	if err != nil {
		return err
	}
	cur := get()
	switch mode {
	case "", modeSet:
		put(value)
	case modeClear:
		put(nil)
	case modeAppend:
		switch l := cur.(type) {
		case []any:
			put(append(append([]any{}, l...), value))
		default:
			s, add := expr.String(cur), expr.String(value)
			if s != "" && add != "" {
				s += sep
			}
			put(s + add)
		}
	case modeIncrement:
		n, _ := expr.Number(cur)
		by := 1.0
		if value != nil && expr.String(value) != "" {
			v, ok := expr.Number(value)
			if !ok {
				return fmt.Errorf("increment of %s by %q: not a number", target, expr.String(value))
			}
			by = v
		}
		put(n + by)
	default:
		return fmt.Errorf("unknown mode %q (set, append, clear, increment)", mode)
	}
	return nil
}

// slot returns accessors for one writable field.
func (c *cursor) slot(ns, key string) (func() any, func(any), error) {
	switch ns {
	case "var":
		vars := c.st.Run.Vars
		return func() any { return vars[key] }, func(v any) {
			if v == nil {
				delete(vars, key)
			} else {
				vars[key] = v
			}
		}, nil
	case "contact":
		ct := c.contact
		mark := func() { c.out.ContactChanged = true }
		str := func(p *string) (func() any, func(any), error) {
			return func() any { return *p }, func(v any) { *p = strings.TrimSpace(expr.String(v)); mark() }, nil
		}
		switch key {
		case "name":
			return str(&ct.Name)
		case "first_name":
			return str(&ct.FirstName)
		case "last_name":
			return str(&ct.LastName)
		case "phone":
			return str(&ct.Phone)
		case "email":
			return str(&ct.Email)
		case "language":
			return str(&ct.Language)
		case "id", "tags", "external_id":
			return nil, nil, fmt.Errorf("contact.%s cannot be set (tags change with a tag step)", key)
		}
		return func() any { return ct.Attributes[key] }, func(v any) {
			if ct.Attributes == nil {
				ct.Attributes = map[string]any{}
			}
			if v == nil {
				delete(ct.Attributes, key)
			} else {
				ct.Attributes[key] = v
			}
			mark()
		}, nil
	case "conversation":
		cv := c.conv
		mark := func() { c.out.ConversationChanged = true }
		switch key {
		case "team":
			return func() any { return cv.Team }, func(v any) { cv.Team = expr.String(v); mark() }, nil
		case "assignee":
			return func() any { return cv.Assignee }, func(v any) { cv.Assignee = expr.String(v); mark() }, nil
		case "id", "channel", "channel_id", "status", "tags":
			return nil, nil, fmt.Errorf("conversation.%s cannot be set", key)
		}
		return func() any { return cv.Attributes[key] }, func(v any) {
			if cv.Attributes == nil {
				cv.Attributes = map[string]any{}
			}
			if v == nil {
				delete(cv.Attributes, key)
			} else {
				cv.Attributes[key] = v
			}
			mark()
		}, nil
	}
	return nil, nil, fmt.Errorf("target %q must be contact.<key>, var.<name> or conversation.<key>", ns+"."+key)
}
