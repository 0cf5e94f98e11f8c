package flow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem/expr"
)

// The step parts of schema.json follow StepTypes: the type enum, the if/then that picks each
// type's definition, and each definition's description and properties (one per json field of
// the body, plus id, type, name and next). Hand-written details of the properties (types,
// descriptions, patterns, required fields, error messages) are kept; a field added to a body gets
// a property made from its Go type, a removed field loses its property, a new type gets its
// definition. `go test ./flow -run TestSchemaMatchesStepTypes -update` rewrites the file.
func TestSchemaMatchesStepTypes(t *testing.T) {
	t.Parallel()
	src, doc := readSchemaFile(t)
	if again := doc.format(); !bytes.Equal(again, src) {
		t.Fatal("schema.json is not in the form the generator writes (two-space JSON); run go test ./flow -run TestSchemaMatchesStepTypes -update")
	}
	changes := syncStepTypes(doc)
	if len(changes) == 0 {
		return
	}
	if *update {
		if err := os.WriteFile("schema.json", doc.format(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("schema.json updated:\n  %s", strings.Join(changes, "\n  "))
		return
	}
	t.Errorf("schema.json does not match flow.StepTypes; run go test ./flow -run TestSchemaMatchesStepTypes -update, then refine the new properties by hand:\n  %s", strings.Join(changes, "\n  "))
}

// readSchemaFile reads schema.json as written and as a document that keeps its key order.
func readSchemaFile(t *testing.T) ([]byte, *ordered) {
	t.Helper()
	src, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseOrdered(src)
	if err != nil {
		t.Fatal(err)
	}
	return src, doc
}

// syncStepTypes brings the step parts of the schema in line with StepTypes and says what it
// changed.
func syncStepTypes(doc *ordered) []string {
	var changes []string
	defs := doc.get("$defs")
	step := defs.get("step")
	var enum []any
	var dispatch []any
	for _, st := range StepTypes {
		enum = append(enum, st.Name)
		dispatch = append(dispatch, obj(
			"if", obj("properties", obj("type", obj("const", st.Name)), "required", []any{"type"}),
			"then", obj("$ref", "#/$defs/"+st.Name+"Step"),
		))
	}
	typ := step.get("properties").get("type")
	if !sameJSON(typ.value("enum"), enum) {
		changes = append(changes, fmt.Sprintf("$defs/step: the type enum becomes %v", enum))
		typ.set("enum", enum)
	}
	if !sameJSON(step.value("allOf"), dispatch) {
		changes = append(changes, "$defs/step: the if/then dispatch follows the declared types")
		step.set("allOf", dispatch)
	}
	declared := map[string]bool{}
	common := []string{"id", "type", "name", "next"}
	for _, st := range StepTypes {
		name := st.Name + "Step"
		declared[name] = true
		def := defs.get(name)
		if def == nil {
			def = obj("description", st.Doc, "type", "object", "properties", obj(), "additionalProperties", false)
			defs.insertAfter(lastStepDef(defs), name, def)
			changes = append(changes, fmt.Sprintf("$defs/%s: new definition for step type %q", name, st.Name))
		}
		if def.value("description") != st.Doc {
			def.set("description", st.Doc)
			changes = append(changes, fmt.Sprintf("$defs/%s: description %q (StepType.Doc)", name, st.Doc))
		}
		props := def.get("properties")
		if props == nil {
			props = obj()
			def.set("properties", props)
		}
		fields := bodyFields(reflect.TypeOf(st.New()).Elem())
		want := map[string]bool{}
		for _, c := range common {
			want[c] = true
		}
		for _, f := range fields {
			want[f.name] = true
		}
		for _, k := range slices.Clone(props.keys()) {
			if !want[k] {
				props.remove(k)
				changes = append(changes, fmt.Sprintf("$defs/%s: property %q removed: the %s struct has no such json field", name, k, reflect.TypeOf(st.New()).Elem().Name()))
			}
		}
		for i, c := range common {
			if props.value(c) == nil {
				props.insertAt(i, c, true)
				changes = append(changes, fmt.Sprintf("$defs/%s: property %q added (every step has it)", name, c))
			}
		}
		for _, f := range fields {
			if props.value(f.name) == nil {
				props.set(f.name, propertyFor(f))
				changes = append(changes, fmt.Sprintf("$defs/%s: property %q added for field %s; describe it", name, f.name, f.goName))
			}
		}
	}
	for _, k := range slices.Clone(defs.keys()) {
		if strings.HasSuffix(k, "Step") && !declared[k] {
			defs.remove(k)
			changes = append(changes, fmt.Sprintf("$defs/%s removed: no declared step type", k))
		}
	}
	return changes
}

func lastStepDef(defs *ordered) string {
	last := ""
	for _, k := range defs.keys() {
		if strings.HasSuffix(k, "Step") {
			last = k
		}
	}
	return last
}

// bodyField is one json field of a step body.
type bodyField struct {
	name, goName string
	typ          reflect.Type
}

func bodyFields(t reflect.Type) []bodyField {
	var out []bodyField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, bodyFields(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, bodyField{name, t.Name() + "." + f.Name, f.Type})
	}
	return out
}

// propertyFor makes the schema of a new field from its Go type: a starting point to refine.
func propertyFor(f bodyField) *ordered {
	t := f.typ
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	ref := func(def string) *ordered { return obj("$ref", "#/$defs/"+def) }
	switch {
	case t == reflect.TypeFor[expr.Template]():
		return ref("template")
	case t == reflect.TypeFor[Duration]() || t == reflect.TypeFor[time.Duration]():
		return ref("duration")
	case t == reflect.TypeFor[Retry]():
		return ref("retry")
	case t == reflect.TypeFor[map[string]expr.Template]():
		return ref("templateMap")
	case t.Kind() == reflect.String && (strings.HasPrefix(f.name, "on_") || f.name == "else" || f.name == "to"):
		return ref("stepRef")
	case t.Kind() == reflect.String:
		return obj("type", "string")
	case t.Kind() == reflect.Bool:
		return obj("type", "boolean")
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return obj("type", "integer")
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return obj("type", "number")
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return obj("type", "array", "items", obj("type", "string"))
	case t.Kind() == reflect.Slice:
		return obj("type", "array")
	case t.Kind() == reflect.Map || t.Kind() == reflect.Struct:
		return obj("type", "object")
	}
	return obj()
}

// ---- JSON that keeps the order of keys, as schema.json is written ----

// ordered is a JSON object whose keys keep their order.
type ordered struct {
	k []string
	v []any // values: *ordered, []any, string, bool, json.Number, nil
}

func obj(kv ...any) *ordered {
	o := &ordered{}
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func (o *ordered) keys() []string { return o.k }

func (o *ordered) value(k string) any {
	if o == nil {
		return nil
	}
	if i := slices.Index(o.k, k); i >= 0 {
		return o.v[i]
	}
	return nil
}

func (o *ordered) get(k string) *ordered {
	v, _ := o.value(k).(*ordered)
	return v
}

func (o *ordered) set(k string, v any) {
	if i := slices.Index(o.k, k); i >= 0 {
		o.v[i] = v
		return
	}
	o.k, o.v = append(o.k, k), append(o.v, v)
}

func (o *ordered) insertAt(i int, k string, v any) {
	i = min(i, len(o.k))
	o.k, o.v = slices.Insert(o.k, i, k), slices.Insert(o.v, i, v)
}

func (o *ordered) insertAfter(after, k string, v any) {
	o.insertAt(slices.Index(o.k, after)+1, k, v)
}

func (o *ordered) remove(k string) {
	if i := slices.Index(o.k, k); i >= 0 {
		o.k, o.v = slices.Delete(o.k, i, i+1), slices.Delete(o.v, i, i+1)
	}
}

func parseOrdered(src []byte) (*ordered, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	v, err := readValue(dec)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*ordered)
	if !ok {
		return nil, fmt.Errorf("the schema is not a JSON object")
	}
	return o, nil
}

func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &ordered{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			o.set(kt.(string), v)
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		out := []any{}
		for dec.More() {
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		_, err := dec.Token()
		return out, err
	}
	return tok, nil
}

// format writes the document as schema.json is written: two-space indentation, a newline at
// the end.
func (o *ordered) format() []byte {
	var b bytes.Buffer
	writeValue(&b, o, "")
	b.WriteByte('\n')
	return b.Bytes()
}

func writeValue(b *bytes.Buffer, v any, indent string) {
	switch x := v.(type) {
	case *ordered:
		if len(x.k) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range x.k {
			b.WriteString(indent + "  ")
			writeScalar(b, k)
			b.WriteString(": ")
			writeValue(b, x.v[i], indent+"  ")
			if i < len(x.k)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(indent + "  ")
			writeValue(b, e, indent+"  ")
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		writeScalar(b, x)
	}
}

func writeScalar(b *bytes.Buffer, v any) {
	var s bytes.Buffer
	enc := json.NewEncoder(&s)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	b.Write(bytes.TrimSuffix(s.Bytes(), []byte("\n")))
}

// sameJSON compares a document value with a generated one.
func sameJSON(a, b any) bool {
	var x, y bytes.Buffer
	writeValue(&x, a, "")
	writeValue(&y, b, "")
	return bytes.Equal(x.Bytes(), y.Bytes())
}

// The generator adds what a declaration has and the schema lacks, and removes what the schema
// has and no declaration does.
func TestSyncStepTypes(t *testing.T) {
	t.Parallel()
	_, doc := readSchemaFile(t)
	defs := doc.get("$defs")
	defs.remove("noteStep")
	defs.get("messageStep").get("properties").remove("on_failed")
	defs.get("messageStep").get("properties").set("colour", obj("type", "string"))
	defs.set("faxStep", obj("type", "object"))
	changes := strings.Join(syncStepTypes(doc), "\n")
	for _, want := range []string{
		`$defs/noteStep: new definition for step type "note"`,
		`$defs/noteStep: property "text" added for field NoteStep.Text; describe it`,
		`$defs/messageStep: property "colour" removed: the MessageStep struct has no such json field`,
		`$defs/messageStep: property "on_failed" added for field MessageStep.OnFailed; describe it`,
		`$defs/faxStep removed: no declared step type`,
	} {
		if !strings.Contains(changes, want) {
			t.Errorf("changes lack %q:\n%s", want, changes)
		}
	}
	note := defs.get("noteStep")
	if got := strings.Join(note.get("properties").keys(), ","); got != "id,type,name,next,text" {
		t.Errorf("noteStep properties %s", got)
	}
	if got := note.get("properties").get("text").value("$ref"); got != "#/$defs/template" {
		t.Errorf("a template field's property refers to %v, want the template definition", got)
	}
	if got := defs.get("messageStep").get("properties").get("on_failed").value("$ref"); got != "#/$defs/stepRef" {
		t.Errorf("an on_ field's property refers to %v, want stepRef", got)
	}
	if again := syncStepTypes(doc); len(again) != 0 {
		t.Errorf("a second pass still changes %v", again)
	}
}
