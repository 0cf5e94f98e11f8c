package convtest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// TestSharedMocksCountPerTest: tests of one file share the file's mocks, but each counts the
// uses of a `times:` mock on its own (it failed when the counters were shared).
func TestSharedMocksCountPerTest(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	passed, failed, err := RunPaths(context.Background(), []string{"testdata/shared-mocks.test.yaml"}, Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if passed != 2 || failed != 0 {
		t.Errorf("passed %d, failed %d, want 2 and 0:\n%s", passed, failed, out.String())
	}
}

// TestReport checks the lines a user reads: one per test, failures with what was expected and
// what came, and the closing count.
func TestReport(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	passed, failed, err := RunPaths(context.Background(), []string{"testdata/failing.test.yaml"}, Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if passed != 0 || failed != 3 {
		t.Errorf("passed %d, failed %d, want 0 and 3", passed, failed)
	}
	got := out.String()
	for _, want := range []string{
		"FAIL wrong text (testdata/failing.test.yaml:10)\n",
		`bot: expected "Say nothing"`,
		`got      "Say something"`,
		"FAIL unconsumed message (testdata/failing.test.yaml:13)\n",
		"bot messages left unconsumed",
		"FAIL unmocked call (testdata/failing.test.yaml:14)\n",
		"unmocked HTTP call: GET https://api.example.com/echo",
		"0 passed, 3 failed\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasSuffix(got, "0 passed, 3 failed\n") {
		t.Errorf("the closing line must be last:\n%s", got)
	}
}

// TestExamples runs the examples' conversation tests, on SQLite always and on PostgreSQL when
// TANDEM_TEST_POSTGRES_URL is set.
func TestExamples(t *testing.T) {
	t.Parallel()
	files, err := Find([]string{"../examples"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example tests found")
	}
	stores := map[string]func(t *testing.T) func() (*store.DB, error){
		"sqlite": func(t *testing.T) func() (*store.DB, error) { return nil },
	}
	if os.Getenv("TANDEM_TEST_POSTGRES_URL") != "" {
		stores["postgres"] = func(t *testing.T) func() (*store.DB, error) {
			return func() (*store.DB, error) { return storetest.Postgres(t), nil }
		}
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, f := range files {
				tests, err := ParseFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for _, tt := range tests {
					t.Run(filepath.Base(f)+"/"+tt.Name, func(t *testing.T) {
						t.Parallel()
						r := RunTestOn(context.Background(), tt, false, open(t))
						if !r.Passed {
							t.Errorf("%s:%d: %s", tt.File, r.Line, r.Failure)
						}
					})
				}
			}
		})
	}
}

// A test file that is not valid YAML is reported at the line of the mistake, explained.
func TestParseYAMLError(t *testing.T) {
	t.Parallel()
	src := "name: tabs\nflows: [f.yaml]\nturns:\n  - user: hi\n\t- bot: hello\n"
	_, err := Parse("t.test.yaml", []byte(src))
	want := "t.test.yaml:5: the file is not valid YAML: a tab indents this line"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}

// TestHandoffSummary: the summary of a handoff is an AI call that mocks answer (by the handoff
// step's id); its failure, or the local provider, leaves it out; the agent's and the step's
// reasons reach the desk.
func TestHandoffSummary(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	passed, failed, err := RunPaths(context.Background(), []string{"testdata/summary/summary.test.yaml"}, Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if passed != 4 || failed != 0 {
		t.Errorf("passed %d, failed %d, want 4 and 0:\n%s", passed, failed, out.String())
	}
}
