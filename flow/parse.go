package flow

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tandemchat/tandem/expr"
)

// Severity of a finding.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Finding is one problem found in a flow: where it is and what to do about it.
type Finding struct {
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Step     string `json:"step,omitempty"`
	Field    string `json:"field,omitempty"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

// String formats the finding as `file:line: error: step "ask" field "next": message`.
func (f Finding) String() string {
	var b strings.Builder
	if f.File != "" {
		b.WriteString(f.File)
		if f.Line > 0 {
			fmt.Fprintf(&b, ":%d", f.Line)
		}
		b.WriteString(": ")
	} else if f.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", f.Line)
	}
	b.WriteString(f.Severity + ": ")
	switch {
	case f.Step != "" && f.Field != "":
		fmt.Fprintf(&b, "step %q field %q: ", f.Step, f.Field)
	case f.Step != "":
		fmt.Fprintf(&b, "step %q: ", f.Step)
	case f.Field != "":
		fmt.Fprintf(&b, "field %q: ", f.Field)
	}
	b.WriteString(f.Message)
	return b.String()
}

// HasErrors reports whether any finding is an error (or, strict, any finding at all).
func HasErrors(fs []Finding, strict bool) bool {
	for _, f := range fs {
		if f.Severity == SeverityError || strict {
			return true
		}
	}
	return false
}

// positions maps JSON pointers ("/steps/2/next") to source lines.
type positions map[string]int

// has reports whether the document holds the value at pointer.
func (p positions) has(pointer string) bool { _, ok := p[pointer]; return ok }

func (p positions) line(pointer string) int {
	for {
		if l, ok := p[pointer]; ok {
			return l
		}
		i := strings.LastIndexByte(pointer, '/')
		if i < 0 {
			return 0
		}
		pointer = pointer[:i]
	}
}

// Parse reads a flow document (YAML or JSON), checks it against the schema and decodes it.
// On errors it returns a nil flow and the findings; it does not lint (see Validate).
//
// A document with errors still gets the errors the lint finds in what can be read of it
// (duplicate step ids, a next naming no step, ...), so that one pass lists every error.
func Parse(file string, src []byte) (*Flow, []Finding) {
	f, partial, findings := parse(file, src)
	if f == nil && partial != nil {
		findings = appendSalvaged(findings, partial, nil)
	}
	return f, findings
}

// parse is Parse without the salvage: on errors it returns, besides the findings, the flow as
// far as it can be read (nil when the document is not a map).
func parse(file string, src []byte) (f, partial *Flow, findings []Finding) {
	doc, pos, err := decodeYAML(src)
	if err != nil {
		return nil, nil, []Finding{yamlFinding(file, err, src)}
	}
	f = &Flow{File: file, Source: src, pos: pos}
	findings = checkSchema(doc, pos, file)
	findings = append(findings, checkTemplates(doc, pos, file)...)
	if HasErrors(findings, false) {
		return nil, partialFlow(doc, pos, file, src), findings
	}
	if err := decodeFlow(doc, f, pos); err != nil {
		var fe *Finding
		if errors.As(err, &fe) {
			fe.File = file
			return nil, partialFlow(doc, pos, file, src), append(findings, *fe)
		}
		return nil, partialFlow(doc, pos, file, src), append(findings, Finding{File: file, Severity: SeverityError, Message: err.Error()})
	}
	canonical, _ := json.Marshal(doc)
	sum := sha256.Sum256(canonical)
	f.Hash = hex.EncodeToString(sum[:])
	return f, nil, findings
}

// Load parses and validates a flow: Parse, then the lint of Validate. The flow is nil when
// there are errors.
func Load(file string, src []byte, env *Env) (*Flow, []Finding) {
	f, partial, findings := parse(file, src)
	if f == nil {
		if partial != nil {
			findings = appendSalvaged(findings, partial, env)
		}
		return nil, findings
	}
	findings = append(findings, Validate(f, env)...)
	sortFindings(findings)
	if HasErrors(findings, false) {
		return nil, findings
	}
	return f, findings
}

// partialFlow reads what it can of a document that has errors: the flow's fields that decode,
// and every step, those whose fields do not decode reduced to their id, type and next.
func partialFlow(doc any, pos positions, file string, src []byte) *Flow {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	f := &Flow{File: file, Source: src, pos: pos, index: map[string]int{}}
	for k, v := range m {
		if k == "steps" {
			continue
		}
		b, _ := json.Marshal(map[string]any{k: v})
		_ = json.Unmarshal(b, f) // a field that does not decode stays empty
	}
	rawSteps, _ := m["steps"].([]any)
	for i, rs := range rawSteps {
		ptr := "/steps/" + strconv.Itoa(i)
		b, _ := json.Marshal(rs)
		s := new(Step)
		if err := json.Unmarshal(b, s); err != nil {
			raw, _ := rs.(map[string]any)
			s = &Step{}
			s.ID, _ = raw["id"].(string)
			s.Type, _ = raw["type"].(string)
			s.Next, _ = raw["next"].(string)
			s.Body = salvaged(rawRefs(raw))
		}
		s.Index, s.Line = i, pos.line(ptr)
		f.Steps = append(f.Steps, s)
		if _, dup := f.index[s.ID]; !dup {
			f.index[s.ID] = i
		}
	}
	return f
}

// salvaged is the body of a step whose fields do not decode: the step references read from its
// raw fields, so that the lint still checks them beside the schema error.
type salvaged []Ref

// Refs implements Body.
func (s salvaged) Refs() []Ref { return s }

// rawRefs reads the branch fields of a step from its raw fields: on_*, else, other, a goto's
// to, and the next of each of its options, branches, intents and paths.
func rawRefs(raw map[string]any) []Ref {
	var out []Ref
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := raw[k].(type) {
		case string:
			if strings.HasPrefix(k, "on_") || k == "else" || k == "other" || (k == "to" && raw["type"] == "goto") {
				out = append(out, refs(k, v)...)
			}
		case []any:
			if k != "options" && k != "branches" && k != "intents" && k != "paths" {
				continue
			}
			for i, e := range v {
				if m, ok := e.(map[string]any); ok {
					if n, ok := m["next"].(string); ok {
						out = append(out, refs(k+"["+strconv.Itoa(i)+"].next", n)...)
					}
				}
			}
		}
	}
	return out
}

// appendSalvaged adds to a document's findings the errors the lint finds in its partial flow
// (warnings are left out: what could not be read may change them), except where a finding
// already points at the same line and field.
func appendSalvaged(findings []Finding, partial *Flow, env *Env) []Finding {
	type at struct {
		line  int
		field string
	}
	seen := map[at]bool{}
	for _, fd := range findings {
		seen[at{fd.Line, fd.Field}] = true
	}
	for _, fd := range lintErrors(partial, env) {
		if !seen[at{fd.Line, fd.Field}] {
			findings = append(findings, fd)
		}
	}
	sortFindings(findings)
	return findings
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Line != fs[j].Line {
			return fs[i].Line < fs[j].Line
		}
		return fs[i].Severity == SeverityError && fs[j].Severity != SeverityError
	})
}

// yamlFinding reports a document that does not parse, explained by YAMLError.
func yamlFinding(file string, err error, src []byte) Finding {
	line, msg := YAMLError(err, src)
	return Finding{File: file, Line: line, Severity: SeverityError, Message: "the document is not valid YAML or JSON: " + msg}
}

// decodeYAML reads YAML (JSON is read as YAML) into plain values (maps, lists, strings,
// float64, bool, nil) and records the line of every JSON pointer.
func decodeYAML(src []byte) (any, positions, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&root); err != nil {
		if err.Error() == "EOF" {
			return nil, nil, fmt.Errorf("the document is empty")
		}
		return nil, nil, err
	}
	pos := positions{}
	budget := maxNodes
	v, err := plain(&root, "", pos, 0, &budget)
	return v, pos, err
}

// maxNodes bounds the values a document may expand to: YAML aliases can make a small document
// expand exponentially.
const maxNodes = 200000

func plain(n *yaml.Node, ptr string, pos positions, depth int, budget *int) (any, error) {
	if depth > 200 {
		return nil, fmt.Errorf("line %d: the document nests too deeply", n.Line)
	}
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("line %d: the document expands too much (YAML aliases)", n.Line)
	}
	if _, ok := pos[ptr]; !ok {
		pos[ptr] = n.Line
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return plain(n.Content[0], ptr, pos, depth+1, budget)
	case yaml.AliasNode:
		return plain(n.Alias, ptr, pos, depth+1, budget)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				merged, err := plain(v, ptr, pos, depth+1, budget)
				if err != nil {
					return nil, err
				}
				if mm, ok := merged.(map[string]any); ok {
					for mk, mv := range mm {
						if _, exists := m[mk]; !exists {
							m[mk] = mv
						}
					}
				}
				continue
			}
			key := k.Value
			if _, dup := m[key]; dup {
				return nil, fmt.Errorf("line %d: key %q appears twice", k.Line, key)
			}
			child := ptr + "/" + escapePointer(key)
			pos[child] = k.Line
			val, err := plain(v, child, pos, depth+1, budget)
			if err != nil {
				return nil, err
			}
			m[key] = val
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			val, err := plain(c, ptr+"/"+strconv.Itoa(i), pos, depth+1, budget)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		return l, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, err
			}
			return b, nil
		case "!!int":
			if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				return float64(i), nil
			}
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, err
			}
			return f, nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, err
			}
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, fmt.Errorf("line %d: %s is not a finite number", n.Line, n.Value)
			}
			return f, nil
		}
		return n.Value, nil // strings, timestamps and anything else: as written
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// checkTemplates compiles every string that holds a placeholder and reports the ones that fail.
func checkTemplates(doc any, pos positions, file string) []Finding {
	var out []Finding
	walkStrings(doc, "", func(ptr, s string) {
		if !strings.Contains(s, "{{") || dataField(ptr) {
			return
		}
		if _, err := expr.Parse(s); err != nil {
			out = append(out, pointerFinding(file, pos, doc, ptr, SeverityError, err.Error()))
		}
	})
	return out
}

// dataField reports whether a pointer is inside data that is never rendered as a template: a
// JSON Schema, tool parameters, synonyms, examples, initial variables.
func dataField(ptr string) bool {
	for _, seg := range strings.Split(ptr, "/") {
		switch seg {
		case "schema", "parameters", "synonyms", "examples", "variables":
			return !strings.HasPrefix(ptr, "/steps/") || seg != "variables"
		}
	}
	return false
}

func walkStrings(v any, ptr string, fn func(ptr, s string)) {
	switch x := v.(type) {
	case string:
		fn(ptr, x)
	case map[string]any:
		for k, e := range x {
			walkStrings(e, ptr+"/"+escapePointer(k), fn)
		}
	case []any:
		for i, e := range x {
			walkStrings(e, ptr+"/"+strconv.Itoa(i), fn)
		}
	}
}

// pointerFinding builds a finding for a JSON pointer: its line, the step it is in and the field
// relative to that step (or to the document).
func pointerFinding(file string, pos positions, doc any, ptr, severity, msg string) Finding {
	f := Finding{File: file, Line: pos.line(ptr), Severity: severity, Message: msg}
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	if len(parts) >= 2 && parts[0] == "steps" {
		if i, err := strconv.Atoi(parts[1]); err == nil {
			if m, ok := doc.(map[string]any); ok {
				if steps, ok := m["steps"].([]any); ok && i < len(steps) {
					if s, ok := steps[i].(map[string]any); ok {
						f.Step, _ = s["id"].(string)
					}
				}
			}
			if f.Step == "" {
				f.Step = "#" + strconv.Itoa(i+1)
			}
			f.Field = fieldPath(parts[2:])
			return f
		}
	}
	if ptr != "" {
		f.Field = fieldPath(parts)
	}
	return f
}

// fieldPath turns pointer segments into a dotted field path: options/1/next → options[1].next.
func fieldPath(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
		if _, err := strconv.Atoi(p); err == nil && b.Len() > 0 {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// decodeFlow decodes the checked document into f, one step at a time so that an error names
// its step.
func decodeFlow(doc any, f *Flow, pos positions) error {
	m, ok := doc.(map[string]any)
	if !ok {
		return &Finding{Severity: SeverityError, Message: "the document must be a map with format, id and steps"}
	}
	rawSteps, _ := m["steps"].([]any)
	head := make(map[string]any, len(m))
	for k, v := range m {
		if k != "steps" {
			head[k] = v
		}
	}
	b, _ := json.Marshal(head)
	if err := json.Unmarshal(b, f); err != nil {
		return &Finding{Severity: SeverityError, Message: decodeMessage(err)}
	}
	f.Steps = make([]*Step, 0, len(rawSteps))
	f.index = make(map[string]int, len(rawSteps))
	for i, rs := range rawSteps {
		ptr := "/steps/" + strconv.Itoa(i)
		b, _ := json.Marshal(rs)
		s := new(Step)
		if err := json.Unmarshal(b, s); err != nil {
			fd := pointerFinding("", pos, doc, ptr, SeverityError, decodeMessage(err))
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				fd.Field = te.Field
				fd.Line = pos.line(ptr + "/" + strings.ReplaceAll(te.Field, ".", "/"))
			}
			return &fd
		}
		s.Index = i
		s.Line = pos.line(ptr)
		f.Steps = append(f.Steps, s)
		if _, dup := f.index[s.ID]; !dup {
			f.index[s.ID] = i
		}
	}
	return nil
}

// Error lets a *Finding travel as an error.
func (f *Finding) Error() string { return f.String() }

func decodeMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, got %s", te.Type.String(), te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
