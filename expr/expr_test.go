package expr

import (
	"encoding/json"
	"strings"
	"testing"
)

// mapScope resolves paths into a nested map, and answers in_schedule from a set.
type mapScope struct {
	data map[string]any
	open map[string]bool
}

func (m mapScope) Lookup(p Path) (any, bool) { return Walk(m.data, p) }
func (m mapScope) InSchedule(id string) bool { return m.open[id] }

func testScope() mapScope {
	var resp any
	_ = json.Unmarshal([]byte(`{"id":"thread_abc","data":[{"role":"assistant","content":[{"text":{"value":"We open at 9"}}]}],"empty":[]}`), &resp)
	return mapScope{
		data: map[string]any{
			"contact": map[string]any{"name": "Ana Souza", "first_name": "Ana", "tags": []any{"vip", "AI ERROR"}, "email": ""},
			"message": map[string]any{"text": "He said \"hi\"\nthen left", "type": "text"},
			"step": map[string]any{
				"GetMessages": map[string]any{"response": resp, "status": float64(200)},
				"ask":         map[string]any{"value": float64(150)},
				"raw":         map[string]any{"response": `{"a":{"b":[1,2,3]}}`},
			},
			"var": map[string]any{"count": float64(3), "ratio": 2.5, "buffer": "hello", "when": "2026-01-05T10:00:00-03:00", "list": []any{"a", "b"}},
		},
		open: map[string]bool{"office": true},
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	s := testScope()
	tests := []struct{ src, want string }{
		{"Hi {{contact.first_name}}!", "Hi Ana!"},
		{"{{ contact.first_name }}", "Ana"},
		{"{{step.GetMessages.response.id}}", "thread_abc"},
		{"{{step.GetMessages.response.data[0].content[0].text.value}}", "We open at 9"},
		{"{{step.GetMessages.response.data[-1].role}}", "assistant"},
		{"{{step.GetMessages.response.data.length}}", "1"},
		{"{{step.raw.response.a.b[2]}}", "3"},
		{"{{missing.path}}", ""},
		{"{{step.nope.x}}", ""},
		{"{{var.count}}", "3"},
		{"{{var.ratio}}", "2.5"},
		{"{{step.ask.value}}", "150"},
		{`{{ contact.email | default: "none" }}`, "none"},
		{`{{ contact.name | default: "none" }}`, "Ana Souza"},
		{"{{contact.name | upper}}", "ANA SOUZA"},
		{"{{contact.name | lower}}", "ana souza"},
		{"{{contact.name | truncate: 3}}", "Ana"},
		{"{{contact.name | truncate: 30}}", "Ana Souza"},
		{"{{contact.name | urlencode}}", "Ana+Souza"},
		{"{{message.text | json}}", `"He said \"hi\"\nthen left"`},
		{"{{var.list | json}}", `["a","b"]`},
		{"{{var.list}}", `["a","b"]`},
		{"{{var.list | join: \" / \"}}", "a / b"},
		{"{{var.buffer | capitalize}}", "Hello"},
		{"{{var.buffer | length}}", "5"},
		{"{{var.buffer | replace: \"l\", \"L\"}}", "heLLo"},
		{"{{contact.tags | first}}", "vip"},
		{"{{ \"x\" }}", ""},
		{"no placeholders", "no placeholders"},
		{"", ""},
		{"{{contact[\"first_name\"]}}", "Ana"},
	}
	for _, tt := range tests {
		tmpl, err := Parse(tt.src)
		if err != nil {
			if tt.src == "{{ \"x\" }}" {
				continue // a literal is not a path: a parse error is fine
			}
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if got := tmpl.Render(s); got != tt.want {
			t.Errorf("Render(%q) = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestEvalKeepsType(t *testing.T) {
	t.Parallel()
	s := testScope()
	got := MustParse("{{step.ask.value}}").Eval(s)
	if got != float64(150) {
		t.Errorf("Eval = %#v, want float64(150)", got)
	}
	if got := MustParse("n={{step.ask.value}}").Eval(s); got != "n=150" {
		t.Errorf("Eval = %#v, want text", got)
	}
	if got := MustParse("{{var.list}}").Eval(s); len(got.([]any)) != 2 {
		t.Errorf("Eval list = %#v", got)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		"{{contact.name",
		"{{}}",
		"{{contact..name}}",
		"{{contact.name | shout}}",
		"{{contact.name | truncate}}",
		"{{contact.name | truncate: x}}",
		"{{contact.name | default: \"a}}",
		"{{a[b]}}",
		"{{.a}}",
	} {
		if _, err := Parse(src); err == nil {
			t.Errorf("Parse(%q): want an error", src)
		}
	}
}

func TestJSONTemplate(t *testing.T) {
	t.Parallel()
	s := testScope()
	tests := []struct{ src, want string }{
		{`{"role": "user", "content": "{{message.text}}"}`, `{"role": "user", "content": "He said \"hi\"\nthen left"}`},
		{`{"n": {{var.count}}, "l": {{var.list}}, "m": {{missing.x}}}`, `{"n": 3, "l": ["a","b"], "m": null}`},
		{`{"s": "a \"quoted {{contact.first_name}}\" b"}`, `{"s": "a \"quoted Ana\" b"}`},
		{`{"thread": "{{step.GetMessages.response.id}}"}`, `{"thread": "thread_abc"}`},
	}
	for _, tt := range tests {
		j, err := ParseJSON(tt.src)
		if err != nil {
			t.Fatalf("ParseJSON(%q): %v", tt.src, err)
		}
		got, err := j.Render(s)
		if err != nil {
			t.Errorf("Render(%q): %v", tt.src, err)
		}
		if got != tt.want {
			t.Errorf("Render(%q) = %s, want %s", tt.src, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("Render(%q) is not valid JSON", tt.src)
		}
	}
	j, _ := ParseJSON(`{"a": {{message.text}}`)
	if _, err := j.Render(s); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("broken JSON: err = %v, want 'not valid JSON'", err)
	}
}

func TestValue(t *testing.T) {
	t.Parallel()
	var raw any
	_ = json.Unmarshal([]byte(`{"content": "{{message.text}}", "n": "{{var.count}}", "fixed": 7, "list": ["{{contact.first_name}}", true]}`), &raw)
	v, err := NewValue(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(v.Eval(testScope()))
	want := `{"content":"He said \"hi\"\nthen left","fixed":7,"list":["Ana",true],"n":3}`
	if string(got) != want {
		t.Errorf("Eval = %s, want %s", got, want)
	}
	if n := len(v.Templates()); n != 3 {
		t.Errorf("Templates() = %d, want 3", n)
	}
}

func cond(t *testing.T, src string) *Condition {
	t.Helper()
	var c Condition
	if err := json.Unmarshal([]byte(src), &c); err != nil {
		t.Fatalf("condition %s: %v", src, err)
	}
	return &c
}

func TestConditions(t *testing.T) {
	t.Parallel()
	s := testScope()
	tests := []struct {
		src  string
		want bool
	}{
		{`{"left": "{{step.GetMessages.response.data[0].role}}", "op": "equals", "right": "assistant"}`, true},
		{`{"left": "{{contact.first_name}}", "op": "equals", "right": "ana"}`, false},
		{`{"left": "{{contact.first_name}}", "op": "equals", "right": "ana", "ignore_case": true}`, true},
		{`{"left": "{{contact.first_name}}", "op": "not_equals", "right": "Bob"}`, true},
		{`{"left": "{{step.ask.value}}", "op": "equals", "right": "150.0"}`, true},
		{`{"left": "{{step.ask.value}}", "op": "equals", "right": 150}`, true},
		{`{"left": "{{message.text}}", "op": "contains", "right": "hi"}`, true},
		{`{"left": "{{message.text}}", "op": "not_contains", "right": "bye"}`, true},
		{`{"left": "{{contact.tags}}", "op": "contains", "right": "AI ERROR"}`, true},
		{`{"left": "{{contact.tags}}", "op": "contains", "right": "AI"}`, false},
		{`{"left": "{{contact.name}}", "op": "starts_with", "right": "ana", "ignore_case": true}`, true},
		{`{"left": "{{contact.name}}", "op": "ends_with", "right": "Souza"}`, true},
		{`{"left": "{{message.text}}", "op": "matches", "right": "(?i)HE SAID"}`, true},
		{`{"left": "{{message.text}}", "op": "matches", "right": "HE SAID", "ignore_case": true}`, true},
		{`{"left": "{{message.text}}", "op": "matches", "right": "^left"}`, false},
		{`{"left": "{{contact.email}}", "op": "empty"}`, true},
		{`{"left": "{{contact.nothing}}", "op": "empty"}`, true},
		{`{"left": "{{step.GetMessages.response.empty}}", "op": "empty"}`, true},
		{`{"left": "{{contact.name}}", "op": "not_empty"}`, true},
		{`{"left": "{{var.count}}", "op": "gt", "right": 2}`, true},
		{`{"left": "{{var.count}}", "op": "gte", "right": "3"}`, true},
		{`{"left": "{{var.count}}", "op": "lt", "right": 3}`, false},
		{`{"left": "{{var.ratio}}", "op": "lte", "right": 2.5}`, true},
		{`{"left": "{{var.count}}", "op": "gt", "right": "abc"}`, false},
		{`{"left": "{{var.when}}", "op": "gt", "right": "2026-01-05T12:00:00Z"}`, true},
		{`{"left": "{{var.when}}", "op": "lt", "right": "2026-01-05T14:00:00Z"}`, true},
		{`{"left": "{{contact.first_name}}", "op": "in", "right": ["Bob", "Ana"]}`, true},
		{`{"left": "{{contact.first_name}}", "op": "in", "right": ["bob", "ana"], "ignore_case": true}`, true},
		{`{"left": "{{contact.first_name}}", "op": "not_in", "right": ["Bob"]}`, true},
		{`{"left": "{{var.buffer}}", "op": "length_gt", "right": 4}`, true},
		{`{"left": "{{var.buffer}}", "op": "length_lt", "right": 5}`, false},
		{`{"left": "{{var.list}}", "op": "length_lt", "right": 3}`, true},
		{`{"in_schedule": "office"}`, true},
		{`{"in_schedule": "weekend"}`, false},
		{`{"all": [{"left": "{{step.GetMessages.response.data[0].role}}", "op": "equals", "right": "assistant"}, {"left": "{{step.GetMessages.response.data[0].content[0].text.value}}", "op": "not_empty"}, {"any": [{"left": "{{message.text}}", "op": "matches", "right": "(?i)human|agent"}, {"in_schedule": "office"}]}]}`, true},
		{`{"any": [{"left": "a", "op": "equals", "right": "b"}, {"left": "a", "op": "equals", "right": "c"}]}`, false},
		{`{"not": {"in_schedule": "office"}}`, false},
	}
	for _, tt := range tests {
		if got := cond(t, tt.src).Eval(s); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.src, got, tt.want)
		}
	}
}

func TestConditionErrors(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		`{"left": "a", "op": "bigger", "right": 1}`,
		`{"left": "a", "right": 1}`,
		`{"left": "a", "op": "equals"}`,
		`{"left": "a", "op": "matches", "right": "("}`,
		`{"left": "a", "op": "in", "right": 3}`,
		`{"all": "x"}`,
		`{"all": [{"op": "nope", "left": "a"}]}`,
		`{"left": "{{a.}}", "op": "empty"}`,
		`"text"`,
	} {
		var c Condition
		if err := json.Unmarshal([]byte(src), &c); err == nil {
			t.Errorf("%s: want an error", src)
		}
	}
}

func TestPathString(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"step.Get.response.data[0].content[0].text.value", `contact["a b"].c`, "var.x"} {
		p, err := ParsePath(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.String(); got != src {
			t.Errorf("String() = %q, want %q", got, src)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	t.Parallel()
	for f, want := range map[float64]string{150: "150", 2.5: "2.5", -3: "-3", 0.1: "0.1", 1e20: "100000000000000000000"} {
		if got := FormatNumber(f); got != want {
			t.Errorf("FormatNumber(%v) = %q, want %q", f, got, want)
		}
	}
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"Hi {{contact.name}}", "{{a | default: \"x\" | upper}}", "{{", "}}{{a[0]}}", `{"a": "{{b}}"}`} {
		f.Add(s)
	}
	s := testScope()
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := Parse(src)
		if err == nil {
			_ = tmpl.Render(s)
			_ = tmpl.Eval(s)
		}
		if j, err := ParseJSON(src); err == nil {
			_, _ = j.Render(s)
		}
	})
}

func FuzzCondition(f *testing.F) {
	f.Add(`{"left": "{{a}}", "op": "matches", "right": "x+"}`)
	f.Add(`{"all": [{"in_schedule": "x"}]}`)
	s := testScope()
	f.Fuzz(func(t *testing.T, src string) {
		var c Condition
		if json.Unmarshal([]byte(src), &c) == nil {
			_ = c.Eval(s)
		}
	})
}
