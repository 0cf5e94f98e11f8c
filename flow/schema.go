package flow

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// SchemaID is the $id of the flow document's JSON Schema.
const SchemaID = "https://tandem.chat/schema/flow-v1.json"

//go:embed schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (2020-12) of flow documents, as `tandem flow schema` prints
// it. Besides the standard keywords it uses errorMessage and patternErrorMessage (as VS Code
// does) for the text of a failure. The lint of Validate checks what a schema cannot.
func Schema() []byte { return bytes.Clone(schemaJSON) }

// flowSchema is the compiled schema with what turns its errors into findings.
type flowSchema struct {
	sch *jsonschema.Schema
	doc any                 // the schema document, to read errorMessage and properties
	ord map[string][]string // schema pointer → its properties' names, in document order
}

var compiled = sync.OnceValues(compileSchema)

func compileSchema() (*flowSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, fmt.Errorf("flow schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // "format": "regex" on the trigger's regex
	if err := c.AddResource(SchemaID, doc); err != nil {
		return nil, fmt.Errorf("flow schema: %w", err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		return nil, fmt.Errorf("flow schema: %w", err)
	}
	ord := map[string][]string{}
	if err := propertyOrder(json.NewDecoder(bytes.NewReader(schemaJSON)), "", ord); err != nil {
		return nil, fmt.Errorf("flow schema: %w", err)
	}
	return &flowSchema{sch: sch, doc: doc, ord: ord}, nil
}

// propertyOrder records, for every object of the schema that has "properties", the property
// names in the order the document lists them (the allowed fields of an unknown-field finding).
func propertyOrder(dec *json.Decoder, ptr string, ord map[string][]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			child := ptr + "/" + escapePointer(key)
			if key == "properties" {
				if err := propertyNames(dec, child, ord); err != nil {
					return err
				}
				ord[ptr] = ord[child]
				delete(ord, child)
				continue
			}
			if err := propertyOrder(dec, child, ord); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := propertyOrder(dec, ptr+"/"+strconv.Itoa(i), ord); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// propertyNames reads the "properties" object at ptr: its keys in order, and the schemas
// under it.
func propertyNames(dec *json.Decoder, ptr string, ord map[string][]string) error {
	if tok, err := dec.Token(); err != nil {
		return err
	} else if tok != json.Delim('{') {
		return fmt.Errorf("%s: properties is not an object", ptr)
	}
	var names []string
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := kt.(string)
		names = append(names, key)
		if err := propertyOrder(dec, ptr+"/"+escapePointer(key), ord); err != nil {
			return err
		}
	}
	ord[ptr] = names
	_, err := dec.Token()
	return err
}

// checkSchema validates the decoded document against the flow JSON Schema: one finding per
// problem, with the most specific message the error tree allows.
func checkSchema(doc any, pos positions, file string) []Finding {
	fs, err := compiled()
	if err != nil {
		return []Finding{{File: file, Severity: SeverityError, Message: err.Error()}}
	}
	verr := fs.sch.Validate(doc)
	if verr == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return []Finding{{File: file, Severity: SeverityError, Message: verr.Error()}}
	}
	var probs []problem
	fs.flatten(ve, doc, &probs)
	out := make([]Finding, 0, len(probs))
	seen := map[problem]bool{}
	for _, p := range probs {
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, pointerFinding(file, pos, doc, p.ptr, SeverityError, p.msg))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Message < out[j].Message
	})
	return out
}

// problem is one flattened schema error: where (a JSON pointer into the document) and what.
type problem struct{ ptr, msg string }

// flatten walks the validator's error tree down to its leaves. Groups, references and allOf
// are containers; of an anyOf or oneOf that nothing matched it follows the branch made for
// the value's JSON type (the others fail on `type` and would only add noise). Steps use
// if/then on their type, so a step of a known type reports the errors of its type alone.
func (fs *flowSchema) flatten(e *jsonschema.ValidationError, doc any, out *[]problem) {
	ptr := pointerOf(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		for _, c := range e.Causes {
			fs.flatten(c, doc, out)
		}
		return
	case *kind.AnyOf:
		fs.alternatives(e, doc, out)
		return
	case *kind.OneOf:
		if k.Subschemas == nil {
			fs.alternatives(e, doc, out)
			return
		}
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, problem{ptr, fmt.Sprintf("missing required field %q", m)})
		}
		return
	case *kind.AdditionalProperties:
		allowed := fs.ord[fragment(e.SchemaURL)]
		what := "allowed: "
		if t := stepDef(e.SchemaURL); t != "" {
			what = "a " + t + " step takes "
		}
		for _, p := range k.Properties {
			msg := fmt.Sprintf("unknown field %q", p)
			if s := suggest(p, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			if len(allowed) > 0 {
				msg += "; " + what + strings.Join(allowed, ", ")
			}
			*out = append(*out, problem{ptr + "/" + escapePointer(p), msg})
		}
		return
	}
	*out = append(*out, problem{ptr, fs.message(e, doc)})
}

// alternatives reports an anyOf / oneOf that no branch matched: its errorMessage if the schema
// has one, else the errors of the first branch whose type fits the value, else what types were
// expected.
func (fs *flowSchema) alternatives(e *jsonschema.ValidationError, doc any, out *[]problem) {
	ptr := pointerOf(e.InstanceLocation)
	v, _ := valueAt(doc, e.InstanceLocation)
	if msg := fs.custom(e, v, ""); msg != "" {
		*out = append(*out, problem{ptr, msg})
		return
	}
	var wants []string
	for _, c := range e.Causes {
		w, mismatch := typeMismatch(c, ptr)
		if !mismatch {
			fs.flatten(c, doc, out)
			return
		}
		wants = append(wants, w...)
	}
	*out = append(*out, problem{ptr, fmt.Sprintf("expected %s, got %s", joinOr(dedupe(wants)), describeValue(v))})
}

// typeMismatch reports whether a branch failed only because the value has another JSON type
// (a `type`, `const` or `enum` error at the value itself), and which types it wanted.
func typeMismatch(e *jsonschema.ValidationError, ptr string) ([]string, bool) {
	if pointerOf(e.InstanceLocation) == ptr {
		switch k := e.ErrorKind.(type) {
		case *kind.Type:
			return typeNames(k.Want), true
		case *kind.Const:
			if jsonType(k.Got) != jsonType(k.Want) {
				return []string{display(k.Want)}, true
			}
		case *kind.Enum:
			for _, w := range k.Want {
				if jsonType(w) == jsonType(k.Got) {
					return nil, false
				}
			}
			var ws []string
			for _, w := range k.Want {
				ws = append(ws, display(w))
			}
			return ws, true
		}
	}
	if len(e.Causes) == 1 {
		return typeMismatch(e.Causes[0], ptr)
	}
	return nil, false
}

// message turns a leaf error into one sentence.
func (fs *flowSchema) message(e *jsonschema.ValidationError, doc any) string {
	v, _ := valueAt(doc, e.InstanceLocation)
	field := fieldName(e.InstanceLocation)
	switch e.ErrorKind.(type) {
	case *kind.Pattern:
		if msg := fs.custom(e, v, "patternErrorMessage"); msg != "" {
			return msg
		}
	default:
		if msg := fs.custom(e, v, ""); msg != "" {
			return msg
		}
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		return fmt.Sprintf("expected %s, got %s", joinOr(typeNames(k.Want)), describeValue(v))
	case *kind.Enum:
		var want []string
		for _, w := range k.Want {
			want = append(want, fmt.Sprint(w))
		}
		s, isText := v.(string)
		msg := fmt.Sprintf("%s %s is not one of %s", field, display(v), strings.Join(want, ", "))
		if isStepType(e.InstanceLocation) {
			msg = fmt.Sprintf("type %s is not a step type; one of %s", display(v), strings.Join(want, ", "))
		}
		if isText {
			if sug := suggest(s, want); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			}
		}
		return msg
	case *kind.Const:
		return fmt.Sprintf("%s must be %s, got %s", field, display(k.Want), describeValue(v))
	case *kind.Pattern:
		return fmt.Sprintf("%s %s does not match %s", field, display(v), k.Want)
	case *kind.Format:
		if k.Want == "regex" {
			return fmt.Sprintf("%s %s is not a valid regular expression: %v", field, display(v), k.Err)
		}
		return fmt.Sprintf("%s %s is not a valid %s: %v", field, display(v), k.Want, k.Err)
	case *kind.MinItems:
		if k.Want == 1 {
			return fmt.Sprintf("%s needs at least one item", field)
		}
		return fmt.Sprintf("%s needs at least %d items", field, k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("%s must not be empty", field)
	case *kind.Minimum:
		w, _ := k.Want.Float64()
		return fmt.Sprintf("%s must be at least %s, got %s", field, number(w), describeValue(v))
	case *kind.Maximum:
		w, _ := k.Want.Float64()
		return fmt.Sprintf("%s must be at most %s, got %s", field, number(w), describeValue(v))
	case *kind.MinProperties:
		return fmt.Sprintf("%s needs at least %d field(s)", field, k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("%s takes at most %d field(s)", field, k.Want)
	}
	// Keywords the flow schema does not use: the library's own wording.
	msg := (&jsonschema.ValidationError{ErrorKind: e.ErrorKind}).Error()
	return field + ": " + strings.TrimPrefix(msg, "at '': ")
}

// custom returns the errorMessage (or the named keyword, such as patternErrorMessage) of the
// schema node that failed, with {value} replaced; "" when it has none. Missing and unknown
// fields keep their generic, more precise messages.
func (fs *flowSchema) custom(e *jsonschema.ValidationError, v any, keyword string) string {
	switch e.ErrorKind.(type) {
	case *kind.Required, *kind.AdditionalProperties:
		return ""
	}
	if keyword == "" {
		keyword = "errorMessage"
	}
	node, _ := lookup(fs.doc, fragment(e.SchemaURL)).(map[string]any)
	msg, _ := node[keyword].(string)
	return strings.ReplaceAll(msg, "{value}", display(v))
}

// lookup follows a JSON pointer into a decoded JSON document.
func lookup(doc any, ptr string) any {
	if ptr == "" {
		return doc
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := doc.(type) {
		case map[string]any:
			doc = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			doc = x[i]
		default:
			return nil
		}
	}
	return doc
}

// fragment returns the JSON pointer of a schema URL (the part after '#').
func fragment(url string) string {
	_, f, _ := strings.Cut(url, "#")
	return f
}

// stepDef returns the step type whose definition a schema URL names ("#/$defs/questionStep").
func stepDef(url string) string {
	name, ok := strings.CutPrefix(fragment(url), "/$defs/")
	if !ok {
		return ""
	}
	t, ok := strings.CutSuffix(name, "Step")
	if _, known := Types[t]; !ok || !known {
		return ""
	}
	return t
}

func pointerOf(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		b.WriteByte('/')
		b.WriteString(escapePointer(tok))
	}
	return b.String()
}

func valueAt(doc any, loc []string) (any, bool) {
	for _, tok := range loc {
		switch x := doc.(type) {
		case map[string]any:
			v, ok := x[tok]
			if !ok {
				return nil, false
			}
			doc = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			doc = x[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

// fieldName names the value at a location for a message: its key, or its list and index.
func fieldName(loc []string) string {
	switch {
	case len(loc) == 0:
		return "the document"
	case len(loc) == 2 && loc[0] == "steps":
		return "the step"
	}
	last := loc[len(loc)-1]
	if _, err := strconv.Atoi(last); err == nil && len(loc) > 1 {
		return loc[len(loc)-2] + "[" + last + "]"
	}
	return last
}

func isStepType(loc []string) bool {
	return len(loc) == 3 && loc[0] == "steps" && loc[2] == "type"
}

// typeOrder is the order types are listed in messages.
var typeOrder = []string{"string", "integer", "number", "boolean", "object", "array", "null"}

// typeNames words JSON Schema types for people.
func typeNames(ts []string) []string {
	ts = slices.Clone(ts)
	slices.SortStableFunc(ts, func(a, b string) int {
		return slices.Index(typeOrder, a) - slices.Index(typeOrder, b)
	})
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		switch t {
		case "string":
			out = append(out, "text")
		case "object":
			out = append(out, "a map")
		case "array":
			out = append(out, "a list")
		case "integer":
			out = append(out, "a whole number")
		case "number":
			out = append(out, "a number")
		case "boolean":
			out = append(out, "true or false")
		case "null":
			out = append(out, "nothing")
		default:
			out = append(out, t)
		}
	}
	return out
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "number" // float64, json.Number and the other numbers
}

// describeValue words a found value: short values as written, maps and lists by kind.
func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case map[string]any:
		for _, e := range x {
			if len(x) == 1 && e == nil {
				// {{contact.name}} unquoted: YAML reads braces as a map.
				return `a map: YAML reads {...} as a map, so a text that starts with { or {{ must be in quotes ("{{contact.name}}, hi")`
			}
		}
		return "a map"
	case []any:
		return "a list"
	case string:
		return "text " + display(x)
	}
	return display(v)
}

// display writes a scalar as it would be written in a flow: text quoted (and clipped).
func display(v any) string {
	switch x := v.(type) {
	case string:
		if r := []rune(x); len(r) > 40 {
			x = string(r[:37]) + "..."
		}
		return strconv.Quote(x)
	case float64:
		return number(x)
	case json.Number:
		return x.String()
	case nil:
		return "null"
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

func number(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func joinOr(items []string) string {
	switch len(items) {
	case 0:
		return "something else"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

func dedupe(items []string) []string {
	seen := map[string]bool{}
	out := items[:0:0]
	for _, s := range items {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// suggest returns the candidate closest to s (same letters but for case, or at most two edits
// away), or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if strings.EqualFold(s, c) {
			return c
		}
		limit := 2
		switch {
		case len(c) <= 2:
			limit = 0
		case len(c) <= 4:
			limit = 1
		}
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d > 0 && d <= limit && d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two strings, by rune.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
