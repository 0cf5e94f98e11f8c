package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// scripts/release.sh builds a static binary stamped with its version and commit, in an archive
// with a checksum (here for this machine's platform only; CI also cross-compiles).
func TestReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	t.Parallel()
	out := t.TempDir()
	target := runtime.GOOS + "/" + runtime.GOARCH
	cmd := exec.Command("bash", "../../scripts/release.sh", "v0.0.0-test", target)
	cmd.Env = append(os.Environ(), "OUT="+out, "COMMIT=0123456789abcdef0123456789abcdef01234567")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, b)
	}
	name := "tandem_v0.0.0-test_" + runtime.GOOS + "_" + runtime.GOARCH
	exe := filepath.Join(out, name, "tandem")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	got, err := exec.Command(exe, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", exe, err)
	}
	want := "tandem v0.0.0-test (commit 0123456789ab, " + runtime.Version() + ", " + target + ")\n"
	if string(got) != want {
		t.Errorf("version printed %q, want %q", got, want)
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil || !regexp.MustCompile(`(?m)^[0-9a-f]{64}  `+regexp.QuoteMeta(name)+`\.(tar\.gz|zip)$`).Match(sums) {
		t.Errorf("SHA256SUMS %q (%v) does not list the archive", sums, err)
	}
	if runtime.GOOS == "linux" {
		f, err := elf.Open(exe)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("the binary is dynamically linked; a release binary must be static (CGO_ENABLED=0)")
			}
		}
	}
}

// Every release platform has what the binary needs (cgo off): no dependency without files for
// a platform. CI compiles windows/amd64 too (.ci/run); compiling all six here would be slow.
func TestReleasePlatformsResolve(t *testing.T) {
	if testing.Short() {
		t.Skip("lists dependencies for six platforms; skipped with -short")
	}
	t.Parallel()
	for _, target := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"} {
		goos, goarch, _ := strings.Cut(target, "/")
		cmd := exec.Command("go", "list", "-e", "-deps", "-f", "{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}", ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
		// Only standard output lists errors: standard error may say "go: downloading ..." on a
		// fresh module cache, which is no failure.
		var stderr strings.Builder
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(b)) != "" {
			t.Errorf("%s: %v\n%s%s", target, err, b, stderr.String())
		}
	}
}
