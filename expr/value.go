package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Value is a compiled JSON-like value whose strings are templates: a `set` value, an http
// step's JSON body, a subflow's variables. Strings that are one placeholder keep the type of
// what they read.
type Value struct {
	raw  any
	tmpl *Template
	obj  map[string]*Value
	list []*Value
}

// NewValue compiles a value decoded from JSON or YAML.
func NewValue(v any) (*Value, error) {
	out := &Value{raw: v}
	switch x := v.(type) {
	case string:
		t, err := Parse(x)
		if err != nil {
			return nil, err
		}
		out.tmpl = t
	case map[string]any:
		out.obj = make(map[string]*Value, len(x))
		for k, e := range x {
			c, err := NewValue(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out.obj[k] = c
		}
	case []any:
		out.list = make([]*Value, len(x))
		for i, e := range x {
			c, err := NewValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out.list[i] = c
		}
	}
	return out, nil
}

// Raw returns the value as written.
func (v *Value) Raw() any {
	if v == nil {
		return nil
	}
	return v.raw
}

// Eval renders every template in the value.
func (v *Value) Eval(s Scope) any {
	switch {
	case v == nil:
		return nil
	case v.tmpl != nil:
		return v.tmpl.Eval(s)
	case v.obj != nil:
		m := make(map[string]any, len(v.obj))
		for k, e := range v.obj {
			m[k] = e.Eval(s)
		}
		return m
	case v.list != nil:
		l := make([]any, len(v.list))
		for i, e := range v.list {
			l[i] = e.Eval(s)
		}
		return l
	}
	return v.raw
}

// Templates returns every template inside the value, for validation.
func (v *Value) Templates() []*Template {
	switch {
	case v == nil:
		return nil
	case v.tmpl != nil:
		return []*Template{v.tmpl}
	}
	var out []*Template
	for _, e := range v.obj {
		out = append(out, e.Templates()...)
	}
	for _, e := range v.list {
		out = append(out, e.Templates()...)
	}
	return out
}

// UnmarshalJSON compiles any JSON value.
func (v *Value) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	c, err := NewValue(raw)
	if err != nil {
		return err
	}
	*v = *c
	return nil
}

// MarshalJSON writes the value as written.
func (v Value) MarshalJSON() ([]byte, error) { return json.Marshal(v.raw) }

// JSONTemplate is JSON text with placeholders, such as a request body pasted from an API's
// documentation: `{"role": "user", "content": "{{contact.gpt_response}}"}`. A placeholder
// inside a JSON string is escaped as string content (quotes, newlines); one outside a string is
// written as a JSON value (`{"n": {{var.count}}}` gives a number, a missing value gives null).
type JSONTemplate struct {
	t *Template
}

// ParseJSON compiles a JSON template.
func ParseJSON(src string) (*JSONTemplate, error) {
	t, err := Parse(src)
	if err != nil {
		return nil, err
	}
	inString := false
	for i := range t.parts {
		p := &t.parts[i]
		if p.isExpr {
			p.inString = inString
			continue
		}
		for j := 0; j < len(p.lit); j++ {
			switch p.lit[j] {
			case '\\':
				if inString {
					j++
				}
			case '"':
				inString = !inString
			}
		}
	}
	return &JSONTemplate{t: t}, nil
}

// Template returns the underlying template.
func (j *JSONTemplate) Template() *Template { return j.t }

// Render renders the JSON text and checks that the result is valid JSON.
func (j *JSONTemplate) Render(s Scope) (string, error) {
	var b bytes.Buffer
	for _, p := range j.t.parts {
		if !p.isExpr {
			b.WriteString(p.lit)
			continue
		}
		v := p.eval(s)
		if p.inString {
			enc, _ := json.Marshal(String(v))
			b.Write(enc[1 : len(enc)-1])
			continue
		}
		enc, err := json.Marshal(v)
		if err != nil {
			enc = []byte("null")
		}
		b.Write(enc)
	}
	out := b.String()
	if !json.Valid(b.Bytes()) {
		return out, fmt.Errorf("the JSON body is not valid JSON after rendering: %s", clip(strings.TrimSpace(out)))
	}
	return out, nil
}
