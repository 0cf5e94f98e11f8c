package flow

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/invalid")

// testEnv is the configuration the testdata flows are checked against.
func testEnv() *Env {
	set := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	return &Env{
		Providers: set("openai", "local", "support-assistant"),
		Schedules: set("office"),
		Teams:     set("support", "sales"),
		Desks:     set("intercom"),
		Knowledge: set("faq"),
		Flows:     set("onboarding", "support-gpt"),
	}
}

// testdata returns the files of a testdata folder (flows only, not goldens).
func testdata(tb testing.TB, dir string) []string {
	tb.Helper()
	var out []string
	for _, pat := range []string{"*.yaml", "*.json"} {
		m, err := filepath.Glob(filepath.Join("testdata", dir, pat))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		tb.Fatalf("no flows in testdata/%s", dir)
	}
	return out
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func lines(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

func TestValidFlows(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t, "valid") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			src := mustRead(t, path)
			for _, env := range []*Env{nil, testEnv()} {
				f, findings := Load(filepath.Base(path), src, env)
				if f == nil || len(findings) > 0 {
					t.Fatalf("Load(env %v) = %v, findings:\n%s", env != nil, f != nil, lines(findings))
				}
			}

			// The marshalled flow is a valid document that marshals the same again.
			f, _ := Load(path, src, nil)
			out, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			again, findings := Load("marshalled.json", out, nil)
			if again == nil || len(findings) > 0 {
				t.Fatalf("re-parsing the marshalled flow:\n%s\n%s", lines(findings), out)
			}
			out2, err := json.Marshal(again)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(out2), string(out); got != want {
				t.Errorf("marshal is not stable:\ngot  %s\nwant %s", got, want)
			}
			if again.Hash == "" || len(again.Steps) != len(f.Steps) {
				t.Errorf("re-parsed flow: hash %q, %d steps, want %d", again.Hash, len(again.Steps), len(f.Steps))
			}
		})
	}
}

// TestValidFlowsCoverTypes keeps the valid testdata an example of every step type.
func TestValidFlowsCoverTypes(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, path := range testdata(t, "valid") {
		f, _ := Parse(path, mustRead(t, path))
		if f == nil {
			t.Fatalf("%s does not parse", path)
		}
		for _, s := range f.Steps {
			seen[s.Type] = true
		}
	}
	for typ := range Types {
		if !seen[typ] {
			t.Errorf("no flow of testdata/valid has a %s step", typ)
		}
	}
}

// TestInvalidFlows compares the findings of each testdata/invalid flow with its golden file
// (`go test ./flow -run TestInvalidFlows -update` rewrites them).
func TestInvalidFlows(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t, "invalid") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			_, findings := Load(filepath.Base(path), mustRead(t, path), testEnv())
			if len(findings) == 0 {
				t.Fatal("no findings")
			}
			got := lines(findings)
			golden := strings.TrimSuffix(path, filepath.Ext(path)) + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("findings differ from %s (run with -update to accept):\n--- got\n%s--- want\n%s", golden, got, want)
			}
			// Every finding names the file and a line.
			for _, f := range findings {
				if f.File == "" || f.Line == 0 {
					t.Errorf("finding without file or line: %s", f)
				}
			}
		})
	}
}

// TestGoldensHaveFlows fails on a golden file left behind by a removed flow.
func TestGoldensHaveFlows(t *testing.T) {
	t.Parallel()
	goldens, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.golden"))
	for _, g := range goldens {
		base := strings.TrimSuffix(g, ".golden")
		_, errY := os.Stat(base + ".yaml")
		_, errJ := os.Stat(base + ".json")
		if errY != nil && errJ != nil {
			t.Errorf("%s has no flow", g)
		}
	}
}

func TestLoadJSONLines(t *testing.T) {
	t.Parallel()
	src := []byte("{\n  \"format\": 1,\n  \"id\": \"j\",\n  \"steps\": [\n    {\"id\": \"a\", \"type\": \"message\", \"text\": \"hi\"},\n    {\"id\": \"b\", \"type\": \"goto\", \"to\": \"nope\"}\n  ]\n}\n")
	_, findings := Load("j.json", src, nil)
	if len(findings) != 1 {
		t.Fatalf("findings:\n%s", lines(findings))
	}
	got, want := findings[0], Finding{File: "j.json", Line: 6, Step: "b", Field: "to", Severity: SeverityError,
		Message: `"nope" names no step of this flow; use a step id or end`}
	if got != want {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	if !bytes.Contains(src, []byte(`"to": "nope"`)) {
		t.Fatal("test document changed")
	}
}
