package main

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/examples"
	"github.com/tandemchat/tandem/flow"
)

// runDemo is `tandem demo`: for now the terminal simulator on the bundled example flows, with
// the examples' workspace (schedules, teams); it needs no network and no key.
func (m *Main) runDemo(ctx context.Context, args []string) error {
	fset := m.newFlags("demo", "demo")
	if _, err := m.parse(fset, args); err != nil {
		return err
	}
	src, err := fs.ReadFile(examples.FS, "tandem.yaml")
	if err != nil {
		return err
	}
	cfg, err := config.Parse("examples/tandem.yaml", src, func(string) (string, bool) { return "", false })
	if err != nil {
		return err
	}
	names, err := fs.Glob(examples.FS, "*.yaml")
	if err != nil {
		return err
	}
	sort.Strings(names)
	var flows []*flow.Flow
	var entry *flow.Flow
	for _, name := range names {
		if name == "tandem.yaml" {
			continue
		}
		b, err := fs.ReadFile(examples.FS, name)
		if err != nil {
			return err
		}
		f, findings := flow.Parse(path.Join("examples", name), b)
		if f == nil {
			return fmt.Errorf("bundled example %s is invalid: %v", name, findings)
		}
		if f.ID == "main-menu" {
			entry = f
			continue
		}
		flows = append(flows, f)
	}
	if entry != nil {
		flows = append([]*flow.Flow{entry}, flows...)
	}
	fmt.Fprintln(m.Stdout, "Tandem demo: the example flows in a terminal chat, offline. Say hi!")
	return m.chat(ctx, cfg, flows, true, "api", tandem.Contact{Name: "Ana Souza", Phone: "+5511999990000"})
}
