package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tandem init writes a project whose tests pass, whose flow validates strictly against its
// configuration and that tandem serve runs; it prints the next commands and never overwrites.
func TestInit(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "my bot")
	c := cli{env: map[string]string{}}
	r := c.run(t, "init", dir)
	if r.code != 0 {
		t.Fatalf("init: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"cd '" + dir + "'\n", "tandem test tests/", "tandem chat flows/welcome.yaml --config tandem.yaml", "tandem serve --config tandem.yaml"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("init does not print %q:\n%s", want, r.stdout)
		}
	}
	for _, f := range []string{"tandem.yaml", "flows/welcome.yaml", "tests/welcome.test.yaml", "kb/faq.md", ".gitignore"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("init did not write %s: %v", f, err)
		}
	}

	r = c.run(t, "test", filepath.Join(dir, "tests"))
	if r.code != 0 || !strings.Contains(r.stdout, "4 passed, 0 failed") {
		t.Errorf("the starter's tests: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = c.run(t, "flow", "validate", "--strict", "--config", filepath.Join(dir, "tandem.yaml"), filepath.Join(dir, "flows", "welcome.yaml"))
	if r.code != 0 || !strings.HasSuffix(strings.TrimSpace(r.stdout), "welcome.yaml: ok") {
		t.Errorf("the starter's flow does not validate strictly: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	data := t.TempDir()
	p, base := c.serve(t, "--config", filepath.Join(dir, "tandem.yaml"), "--data", data)
	api := apiClient{t: t, base: base, token: c.token(t, data)}
	conv, in := api.say("u-1", "m-1", "hello")
	if got := api.awaitBot(conv, in, 2); got[0] != "Hi Ana! I'm the assistant of My shop." || got[1] != "What can I do for you?" {
		t.Errorf("the served starter answered %q", got)
	}
	p.stop(t)

	r = c.run(t, "init", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "already holds") || !strings.Contains(r.stderr, "tandem.yaml") {
		t.Errorf("init into the same folder: exit %d, %s", r.code, r.stderr)
	}
}

// A project's tandem.yaml copied without its folders (a container that mounts the file alone)
// stops the start with errors that say where the server looked and what to do: the paths of
// flows: and knowledge sources are relative to the configuration's folder.
func TestServeNamesMissingProjectFolders(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{}}
	project := starterProject(t, c)
	alone := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(project, "tandem.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(alone, "tandem.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	r := c.run(t, "serve", "--config", filepath.Join(alone, "tandem.yaml"), "--data", t.TempDir(), "--addr", "127.0.0.1:0")
	for _, want := range []string{`knowledge "faq"`, filepath.Join(alone, "kb", "*.md"), "relative to the configuration's folder", "add the files"} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("serve without the knowledge files: exit %d, want %q in:\n%s", r.code, want, r.stderr)
		}
	}

	if err := os.MkdirAll(filepath.Join(alone, "kb"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(alone, "kb", "faq.md"), []byte("# Hours\n\nNine to six.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = c.run(t, "serve", "--config", filepath.Join(alone, "tandem.yaml"), "--data", t.TempDir(), "--addr", "127.0.0.1:0")
	for _, want := range []string{"flows folder " + filepath.Join(alone, "flows"), "create it or correct flows:"} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("serve without the flows folder: exit %d, want %q in:\n%s", r.code, want, r.stderr)
		}
	}
}

// tandem flow validate takes the flows folder of tandem.yaml, as the server reads it (its
// *.yaml, *.yml and *.json files, test files left out), as tandem test takes a folder.
func TestFlowValidateTakesAFolder(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{}}
	project := starterProject(t, c)
	if err := os.WriteFile(filepath.Join(project, "flows", "notes.test.yaml"), []byte("not: a flow\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := c.run(t, "flow", "validate", "--strict", "--config", filepath.Join(project, "tandem.yaml"), filepath.Join(project, "flows"))
	if r.code != 0 || strings.TrimSpace(r.stdout) != filepath.Join(project, "flows", "welcome.yaml")+": ok" {
		t.Errorf("flow validate FOLDER: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	empty := t.TempDir()
	r = c.run(t, "flow", "validate", empty)
	if r.code == 0 || !strings.Contains(r.stderr, "holds no flow file") {
		t.Errorf("flow validate of an empty folder: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// starterProject writes tandem init's project in a temporary folder and returns the folder.
func starterProject(t *testing.T, c cli) string {
	t.Helper()
	project := filepath.Join(t.TempDir(), "bot")
	if r := c.run(t, "init", project); r.code != 0 {
		t.Fatalf("init: %s", r.stderr)
	}
	return project
}
