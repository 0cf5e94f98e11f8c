package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tandemchat/tandem/flow"
)

const flowUsage = `Usage:
  tandem flow validate FILE... [--strict] [--config tandem.yaml]
  tandem flow schema                         print the flow JSON Schema
  tandem flow push FILE...                   send drafts to a server (TANDEM_URL, TANDEM_TOKEN)
  tandem flow publish ID...                  publish drafts on the server
  tandem flow list                           list the server's flows
  tandem flow pull ID...                     write the server's drafts to ID.yaml (or ID.json)
`

// runFlow is `tandem flow validate|schema|...`.
func (m *Main) runFlow(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("flow: name a subcommand: validate, schema, push, publish, list, pull")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(m.Stdout, flowUsage)
		return flag.ErrHelp
	case "validate":
		return m.runFlowValidate(args[1:])
	case "schema":
		fs := m.newFlags("flow schema", "flow schema   (prints the flow JSON Schema)")
		pos, err := m.parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usagef("flow schema takes no arguments")
		}
		_, err = m.Stdout.Write(flow.Schema())
		return err
	case "push", "publish", "list", "pull":
		return m.runFlowClient(ctx, args[0], args[1:])
	}
	return usagef("flow: unknown subcommand %q (validate, schema, push, publish, list, pull)", args[0])
}

func (m *Main) runFlowValidate(args []string) error {
	fs := m.newFlags("flow validate", "flow validate FILE_OR_FOLDER... [--strict] [--config tandem.yaml]")
	strict := fs.Bool("strict", false, "treat warnings as errors")
	cfgPath := fs.String("config", "", "check providers, schedules, teams, desks and knowledge bases against this configuration")
	files, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("flow validate: name flow files or folders")
	}
	if files, err = expandFlowFolders(files); err != nil {
		return err
	}
	env := &flow.Env{}
	if *cfgPath != "" {
		cfg, err := m.loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		env = cfg.FlowEnv()
	}
	// Flows may call each other: parse them all first so `flow` steps find their targets.
	type parsed struct {
		file     string
		src      []byte
		f        *flow.Flow
		findings []flow.Finding
	}
	var all []parsed
	env.Flows = map[string]bool{}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("flow file %s cannot be read: %w", file, err)
		}
		f, findings := flow.Parse(file, src)
		if f != nil {
			env.Flows[f.ID] = true
		}
		all = append(all, parsed{file, src, f, findings})
	}
	var flows []*flow.Flow
	for _, p := range all {
		flows = append(flows, p.f)
	}
	bad := false
	for _, p := range all {
		findings := p.findings
		if p.f != nil {
			findings = append(findings, flow.Validate(p.f, env)...)
			findings = append(findings, flow.TriggerWarnings(p.f, flows)...)
		} else if *cfgPath != "" {
			// What can be read of a flow with errors is checked against the configuration too.
			_, findings = flow.Load(p.file, p.src, env)
		}
		for _, fd := range findings {
			fmt.Fprintln(m.Stdout, fd.String())
		}
		if flow.HasErrors(findings, *strict) {
			bad = true
		} else if len(findings) == 0 {
			fmt.Fprintf(m.Stdout, "%s: ok\n", p.file)
		}
	}
	if bad {
		return errSilent
	}
	return nil
}

// readFlow reads and parses a flow file; when it does not parse, its findings are printed and
// the error says so.
func (m *Main) readFlow(file string) (*flow.Flow, []byte, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("flow file %s cannot be read: %w", file, err)
	}
	f, findings := flow.Parse(file, src)
	if f == nil {
		for _, fd := range findings {
			fmt.Fprintln(m.Stderr, fd.String())
		}
		return nil, nil, fmt.Errorf("flow %s is invalid; fix the errors above", file)
	}
	return f, src, nil
}

// flowFiles lists the flow files of a folder as the server's flows: folder reads them: its
// *.yaml, *.yml and *.json files (not subfolders, not *.test.yaml), sorted.
func flowFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && !strings.HasSuffix(n, ".test.yaml") && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".json")) {
			files = append(files, filepath.Join(dir, n))
		}
	}
	sort.Strings(files)
	return files, nil
}

// expandFlowFolders replaces each folder among paths with its flow files.
func expandFlowFolders(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			out = append(out, p) // a file, or a path whose error reading it reports
			continue
		}
		files, err := flowFiles(p)
		if err != nil {
			return nil, fmt.Errorf("flow folder %s cannot be read: %w", p, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("flow folder %s holds no flow file (*.yaml, *.yml or *.json); name the flow files or their folder", p)
		}
		out = append(out, files...)
	}
	return out, nil
}
