package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// starter is the project `tandem init` writes: a commented tandem.yaml, a flow, its
// conversation tests and a knowledge file. gitignore is written as .gitignore (a file of that
// name here would apply to this repository).
//
//go:embed starter
var starter embed.FS

// runInit is `tandem init [DIR]`: a starter project that passes `tandem test` and runs with
// `tandem serve`. It writes nothing when a file it would write exists.
func (m *Main) runInit(_ context.Context, args []string) error {
	fset := m.newFlags("init", "init [DIR]   (default: the current folder)")
	rest, err := m.parse(fset, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return usagef("init: name one folder, e.g. tandem init my-bot")
	}
	dir := "."
	if len(rest) == 1 {
		dir = rest[0]
	}
	type file struct {
		rel  string
		data []byte
	}
	var files []file
	var clash []string
	err = fs.WalkDir(starter, "starter", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, "starter/")
		if rel == "gitignore" {
			rel = ".gitignore"
		}
		data, err := starter.ReadFile(p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel))); err == nil {
			clash = append(clash, rel)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		files = append(files, file{rel, data})
		return nil
	})
	if err != nil {
		return err
	}
	if len(clash) > 0 {
		return fmt.Errorf("%s already holds %s; tandem init writes a new project: choose an empty folder (tandem init my-bot)", dir, strings.Join(clash, ", "))
	}
	for _, f := range files {
		dst := filepath.Join(dir, filepath.FromSlash(f.rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, f.data, 0o644); err != nil {
			return err
		}
	}
	cd := ""
	if dir != "." {
		cd = "  cd " + shellQuote(dir) + "\n"
	}
	fmt.Fprintf(m.Stdout, initText, dir, cd)
	return nil
}

const initText = `Created a Tandem project in %s:
  tandem.yaml                the workspace: AI providers, the API channel, a team, office hours
  flows/welcome.yaml         a flow: a greeting, answers from the FAQ, a handoff to a person
  tests/welcome.test.yaml    its conversation tests
  kb/faq.md                  what the bot answers from

Next:
%s  tandem test tests/                                     # run the conversation tests
  tandem chat flows/welcome.yaml --config tandem.yaml    # talk to the flow in this terminal
  tandem serve --config tandem.yaml                      # the server, on http://localhost:8080
`

// shellQuote quotes a path for a shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
