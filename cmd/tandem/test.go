package main

import (
	"context"
	"regexp"

	"github.com/tandemchat/tandem/convtest"
)

// runTest is `tandem test PATH... [--run REGEX] [-v]`.
func (m *Main) runTest(ctx context.Context, args []string) error {
	fs := m.newFlags("test", "test PATH... [--run REGEX] [-v]")
	run := fs.String("run", "", "run only the tests whose name matches this regular expression")
	verbose := fs.Bool("v", false, "print every turn")
	parallel := fs.Int("parallel", 0, "tests run at once (default: the number of CPUs)")
	paths, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("test: name test files or folders, e.g. tandem test examples/")
	}
	o := convtest.Options{Verbose: *verbose, Out: m.Stdout, Parallel: *parallel}
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			return usagef("test: --run %q is not a regular expression: %v", *run, err)
		}
		o.Run = re
	}
	_, failed, err := convtest.RunPaths(ctx, paths, o)
	if err != nil {
		return err
	}
	if failed > 0 {
		return errSilent
	}
	return nil
}
