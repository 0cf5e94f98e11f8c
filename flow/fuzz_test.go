package flow

import (
	"encoding/json"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse and Validate: they report findings, never
// panic, and a flow is returned only without errors.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		for _, path := range testdata(f, dir) {
			f.Add(mustRead(f, path))
		}
	}
	for _, s := range []string{
		"", "null", "[]", "{}", "format: 1", "&a [*a]", "a: &x 1\nb: *x\n<<: {c: 2}",
		`{"format": 1, "id": "x", "steps": [{"id": "a", "type": "goto", "to": "a"}]}`,
		"format: 1\nid: x\nsteps:\n  - {id: a, type: condition, branches: [{when: {not: {all: [{any: []}]}}}]}\n",
		"format: 1\nid: x\nsteps:\n  - {id: a, type: http, url: \"{{\", body: {json: \"{{x}\"}}\n",
	} {
		f.Add([]byte(s))
	}
	env := testEnv()
	f.Fuzz(func(t *testing.T, src []byte) {
		fl, findings := Parse("fuzz.yaml", src)
		for _, fd := range findings {
			_ = fd.String()
		}
		if fl == nil {
			if !HasErrors(findings, false) {
				t.Fatalf("no flow and no error: %v", findings)
			}
			return
		}
		if HasErrors(findings, false) {
			t.Fatalf("a flow with errors: %v", findings)
		}
		for _, fd := range Validate(fl, env) {
			_ = fd.String()
		}
		if _, err := json.Marshal(fl); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}
