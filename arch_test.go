package tandem_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/tandemchat/tandem"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	GoFiles    []string
	Dir        string
}

func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func ours(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == module || strings.HasPrefix(p, module+"/") {
			out = append(out, p)
		}
	}
	return out
}

// TestImportRules keeps the architecture of STYLE.md true: the root imports nothing of ours;
// the pure packages (engine, flow, expr, schedule) import only the root and each other, and no
// database/sql or net/http; adapters never import each other.
func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	pure := map[string]bool{module: true, module + "/engine": true, module + "/flow": true, module + "/expr": true, module + "/schedule": true}
	for path, p := range pkgs {
		switch {
		case path == module:
			if got := ours(p.Imports); len(got) > 0 {
				t.Errorf("the root package imports %v; it must import only the standard library", got)
			}
		case pure[path]:
			for _, d := range ours(p.Deps) {
				if !pure[d] {
					t.Errorf("%s depends on %s; pure packages import only the root and each other", path, d)
				}
			}
			for _, d := range p.Deps {
				if d == "database/sql" || d == "net/http" || d == "os/exec" {
					t.Errorf("%s depends on %s; pure packages do no I/O", path, d)
				}
			}
		}
		if strings.HasPrefix(path, module+"/channel/") && !strings.HasSuffix(path, "test") {
			// A channel reaches storage only through channel.Inbox and tandem.MediaStore.
			for _, d := range ours(p.Deps) {
				for _, banned := range []string{"/store", "/runner", "/api", "/engine", "/workspace", "/config", "/cmd/"} {
					if d == module+banned || strings.HasPrefix(d, module+banned+"/") || (strings.HasSuffix(banned, "/") && strings.HasPrefix(d, module+banned)) {
						t.Errorf("channel %s depends on %s; channels import only the root, package channel and internal/", path, d)
					}
				}
			}
		}
		for _, kind := range []string{"/channel/", "/provider/", "/desk/"} {
			i := strings.Index(path, kind)
			if i < 0 || strings.HasSuffix(path, "test") {
				continue
			}
			for _, imp := range ours(p.Imports) {
				for _, other := range []string{"/channel/", "/provider/", "/desk/"} {
					if strings.Contains(imp, other) && imp != path && !strings.HasSuffix(imp, "test") {
						t.Errorf("adapter %s imports adapter %s; adapters import only the root, their registry and internal/", path, imp)
					}
				}
			}
		}
	}
}

// TestPureCode keeps the engine pure: no wall clock and no goroutines in engine, flow, expr and
// schedule (time comes in with the event; the virtual clock depends on it).
func TestPureCode(t *testing.T) {
	banned := regexp.MustCompile(`time\.Now\(\)|time\.Since\(|time\.Until\(|\bgo func\b|\bgo [a-zA-Z_.]+\(|time\.Sleep\(|slog\.Default\(\)`)
	for _, dir := range []string{"engine", "flow", "expr", "schedule"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(b), "\n") {
				code, _, _ := strings.Cut(line, "//")
				if banned.MatchString(code) {
					t.Errorf("%s:%d: %s — pure packages take time from their input and start no goroutines", f, i+1, strings.TrimSpace(line))
				}
			}
		}
	}
}
