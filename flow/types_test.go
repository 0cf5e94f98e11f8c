package flow

import (
	"slices"
	"strings"
	"testing"
)

// Each step type is declared once and completely: a unique name, a description, a body, and a
// main output among its outputs (a type without one renders {{step.<id>}} as JSON, which is
// never what an author wants).
func TestStepTypeDeclarations(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, st := range StepTypes {
		switch {
		case st.Name == "" || seen[st.Name]:
			t.Errorf("step type %q: empty or declared twice", st.Name)
		case st.Doc == "" || st.New == nil || st.New() == nil:
			t.Errorf("step type %q: needs a Doc and a New that returns its body", st.Name)
		case len(st.Outputs) > 0 && !slices.Contains(st.Outputs, st.Main):
			t.Errorf("step type %q: Main %q is not one of its Outputs %v; name the output {{step.<id>}} reads", st.Name, st.Main, st.Outputs)
		case len(st.Outputs) == 0 && (st.Main != "" || st.Open):
			t.Errorf("step type %q: Main or Open without Outputs", st.Name)
		}
		seen[st.Name] = true
		if got := MainOutput(st.Name); got != st.Main {
			t.Errorf("MainOutput(%q) = %q, want %q", st.Name, got, st.Main)
		}
	}
	if len(Types) != len(StepTypes) {
		t.Errorf("Types has %d entries for %d declarations", len(Types), len(StepTypes))
	}
}

// Fields Tandem adds to a step type beyond the flow format are declared in StepTypes, and the
// schema describes each one as an extension; docs/flows.md is checked in the root package.
func TestStepTypeExtensions(t *testing.T) {
	t.Parallel()
	_, doc := readSchemaFile(t)
	defs := doc.get("$defs")
	for _, st := range StepTypes {
		for _, path := range st.Extensions {
			def := defs.get(st.Name + "Step")
			parts := strings.Split(path, ".")
			var prop *ordered
			for i, p := range parts {
				prop = def.get("properties").get(p)
				if prop == nil {
					break
				}
				if i < len(parts)-1 {
					ref, _ := prop.value("$ref").(string)
					def = defs.get(strings.TrimPrefix(ref, "#/$defs/"))
				}
			}
			if prop == nil {
				t.Errorf("step type %q: extension %q has no property in schema.json", st.Name, path)
				continue
			}
			if d, _ := prop.value("description").(string); !strings.HasPrefix(d, "Extension: ") {
				t.Errorf("step type %q: the schema's description of %q is %q; begin it with \"Extension: \"", st.Name, path, d)
			}
		}
	}
}
