package flow

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tandemchat/tandem/expr"
)

// schemaDoc returns the schema as plain JSON values.
func schemaDoc(tb testing.TB) map[string]any {
	tb.Helper()
	var doc map[string]any
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		tb.Fatalf("schema.json is not JSON: %v", err)
	}
	return doc
}

// schemaAt returns the schema object at a JSON pointer.
func schemaAt(tb testing.TB, doc map[string]any, ptr string) map[string]any {
	tb.Helper()
	m, ok := lookup(doc, ptr).(map[string]any)
	if !ok {
		tb.Fatalf("schema has no object at %s", ptr)
	}
	return m
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func strs(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

func TestSchemaCompiles(t *testing.T) {
	t.Parallel()
	doc := schemaDoc(t)
	if got, want := doc["$id"], SchemaID; got != want {
		t.Errorf("$id = %v, want %v", got, want)
	}
	if got, want := doc["$schema"], "https://json-schema.org/draft/2020-12/schema"; got != want {
		t.Errorf("$schema = %v, want %v", got, want)
	}
	// A fresh compiler, as a user of `tandem flow schema` would: Compile checks the document
	// against the 2020-12 metaschema.
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("flow.json", raw); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compile("flow.json"); err != nil {
		t.Fatalf("schema.json does not compile: %v", err)
	}
	if _, err := compiled(); err != nil {
		t.Fatal(err)
	}
	// Schema returns a copy.
	s := Schema()
	s[0] = 'x'
	if Schema()[0] != '{' {
		t.Error("Schema() shares its bytes")
	}
}

func TestSchemaAcceptsValidFlows(t *testing.T) {
	t.Parallel()
	fs, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range testdata(t, "valid") {
		doc, _, err := decodeYAML(mustRead(t, path))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := fs.sch.Validate(doc); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// jsonFields lists the json names of a struct's fields, embedded structs included, sorted.
func jsonFields(t reflect.Type) []string {
	var out []string
	for _, f := range bodyFields(t) {
		out = append(out, f.name)
	}
	sort.Strings(out)
	return out
}

// TestSchemaMatchesStructs keeps every object of the schema in agreement with the struct that
// decodes it: each json field allowed, nothing else.
func TestSchemaMatchesStructs(t *testing.T) {
	t.Parallel()
	doc := schemaDoc(t)
	check := func(name, ptr string, typ reflect.Type, extra ...string) {
		t.Helper()
		want := append(jsonFields(typ), extra...)
		sort.Strings(want)
		obj := schemaAt(t, doc, ptr)
		if obj["additionalProperties"] != false {
			t.Errorf("%s (%s): additionalProperties is not false", name, ptr)
		}
		props, _ := obj["properties"].(map[string]any)
		if got := keys(props); !slices.Equal(got, want) {
			t.Errorf("%s (%s): schema fields %v, struct fields %v", name, ptr, got, want)
		}
	}
	check("Flow", "", reflect.TypeFor[Flow](), "$schema")
	check("Trigger", "/properties/trigger", reflect.TypeFor[Trigger]())
	check("Settings", "/properties/settings", reflect.TypeFor[Settings]())
	check("Match", "/$defs/match/anyOf/1", reflect.TypeFor[Match]())
	common := jsonFields(reflect.TypeFor[Step]())
	for typ, newBody := range Types {
		check(typ+" step", "/$defs/"+typ+"Step", reflect.TypeOf(newBody()).Elem(), common...)
	}
	for name, typ := range map[string]reflect.Type{
		"media":       reflect.TypeFor[MediaSpec](),
		"button":      reflect.TypeFor[ButtonSpec](),
		"option":      reflect.TypeFor[Option](),
		"assignment":  reflect.TypeFor[Assignment](),
		"branch":      reflect.TypeFor[Branch](),
		"retry":       reflect.TypeFor[Retry](),
		"fallback":    reflect.TypeFor[Fallback](),
		"save":        reflect.TypeFor[Save](),
		"intent":      reflect.TypeFor[IntentSpec](),
		"tool":        reflect.TypeFor[ToolSpec](),
		"handoffTool": reflect.TypeFor[HandoffTool](),
		"httpTool":    reflect.TypeFor[HTTPTool](),
		"transfer":    reflect.TypeFor[Transfer](),
		"splitPath":   reflect.TypeFor[SplitPath](),
	} {
		check(name, "/$defs/"+name, typ)
	}

	texts := keys(schemaAt(t, doc, "/$defs/handoffTexts/properties"))
	if want := slices.Sorted(slices.Values(HandoffTexts)); !slices.Equal(texts, want) {
		t.Errorf("handoff texts %v, flow.HandoffTexts %v", texts, want)
	}
	if got := strs(lookup(doc, "/$defs/comparison/properties/op/enum")); !slices.Equal(got, expr.Operators) {
		t.Errorf("operators %v, expr.Operators %v", got, expr.Operators)
	}
}

// TestSchemaMessages pins the wording of schema findings: one sentence that names the problem
// and what is allowed.
func TestSchemaMessages(t *testing.T) {
	t.Parallel()
	const head = "format: 1\nid: t\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"not a map", "[1, 2]", []string{
			`t.yaml:1: error: the document must be a map with format, id and steps`}},
		{"missing fields", "name: x\n", []string{
			`t.yaml:1: error: missing required field "format"`,
			`t.yaml:1: error: missing required field "id"`,
			`t.yaml:1: error: missing required field "steps"`}},
		{"no steps", head + "steps: []\n", []string{
			`t.yaml:3: error: field "steps": steps needs at least one item`}},
		{"step not a map", head + "steps:\n  - hello\n", []string{
			`t.yaml:4: error: step "#1": expected a map, got text "hello"`}},
		{"step id end", head + "steps:\n  - {id: end, type: stop}\n", []string{
			`t.yaml:4: error: step "end" field "id": step id "end" is reserved: next: end completes the run`}},
		{"step id pattern", head + "steps:\n  - {id: \"-a b\", type: stop}\n", []string{
			`t.yaml:4: error: step "-a b" field "id": step id "-a b" may hold only letters, digits, _ and -, and must not start with -`}},
		{"next pattern", head + "steps:\n  - {id: a, type: stop, next: \"a b\"}\n", []string{
			`t.yaml:4: error: step "a" field "next": "a b" is not a step id; name a step of this flow or end`}},
		{"match type", head + "trigger: {match: 5}\nsteps:\n  - {id: a, type: stop}\n", []string{
			`t.yaml:3: error: field "trigger.match": expected "any" or a map, got 5`}},
		{"match two keys", head + "trigger: {match: {equals: a, contains: b}}\nsteps:\n  - {id: a, type: stop}\n", []string{
			`t.yaml:3: error: field "trigger.match": match takes exactly one of equals, contains or regex`}},
		{"body text", head + "steps:\n  - {id: a, type: http, url: x, body: nothing}\n", []string{
			`t.yaml:4: error: step "a" field "body": body "nothing" is not none; use {json: ...}, {form: {...}}, {text: "..."} or none`}},
		{"tool", head + "steps:\n  - {id: a, type: agent, tools: [{}]}\n", []string{
			`t.yaml:4: error: step "a" field "tools[0]": a tool is either {handoff: {...}} or {http: {...}}`}},
		{"in needs a list", head + "steps:\n  - id: a\n    type: condition\n    branches:\n      - {when: {left: x, op: in, right: 5}}\n", []string{
			`t.yaml:7: error: step "a" field "branches[0].when.right": expected text or a list, got 5`}},
		{"right missing", head + "steps:\n  - id: a\n    type: condition\n    branches:\n      - {when: {left: x, op: equals}}\n", []string{
			`t.yaml:7: error: step "a" field "branches[0].when": missing required field "right"`}},
		{"nested condition", head + "steps:\n  - id: a\n    type: condition\n    branches:\n      - when: {not: {any: [{in_schedule: \"\"}]}}\n", []string{
			`t.yaml:7: error: step "a" field "branches[0].when.not.any[0].in_schedule": in_schedule must not be empty`}},
		{"null template", head + "steps:\n  - id: a\n    type: note\n    text:\n", []string{
			`t.yaml:6: error: step "a" field "text": expected text, a number or true or false, got nothing`}},
		{"handoff text", head + "steps:\n  - {id: a, type: handoff, texts: {conecting: hi}}\n", []string{
			`t.yaml:4: error: step "a" field "texts.conecting": unknown field "conecting" (did you mean "connecting"?); allowed: ask_email, invalid_email, connecting, waiting_prompt, connected, user_closed, agent_closed, session_timeout, out_of_hours, unavailable`}},
		{"temperature", head + "steps:\n  - {id: a, type: llm, temperature: 3}\n", []string{
			`t.yaml:4: error: step "a" field "temperature": temperature must be at most 2, got 3`}},
		{"regex template right is not checked", head + "steps:\n  - id: a\n    type: condition\n    branches:\n      - {when: {left: x, op: matches, right: \"{{var.re}}\"}}\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, pos, err := decodeYAML([]byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSpace(lines(checkSchema(doc, pos, "t.yaml"))), "\n")
			if len(tt.want) == 0 {
				tt.want = []string{""}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	cands := []string{"next", "text", "message", "GET"}
	for _, tt := range []struct{ in, want string }{
		{"nxt", "next"}, {"get", "GET"}, {"mesage", "message"}, {"tex", "text"}, {"zzz", ""}, {"", ""},
	} {
		if got := suggest(tt.in, cands); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
