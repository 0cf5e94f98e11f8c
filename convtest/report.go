package convtest

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"sync"
)

// Options control a test run.
type Options struct {
	// Verbose prints every turn.
	Verbose bool
	// Run selects tests by name.
	Run *regexp.Regexp
	// Parallel is how many tests run at once (default GOMAXPROCS).
	Parallel int
	Out      io.Writer
}

// RunPaths runs the tests found under paths, prints one line per test and the closing
// `N passed, N failed` line, and returns the counts.
func RunPaths(ctx context.Context, paths []string, o Options) (passed, failed int, err error) {
	files, err := Find(paths)
	if err != nil {
		return 0, 0, err
	}
	if len(files) == 0 {
		return 0, 0, fmt.Errorf("no *.test.yaml files under %s", strings.Join(paths, ", "))
	}
	type item struct {
		test *Test
		err  error
		file string
	}
	var items []item
	for _, f := range files {
		tests, err := ParseFile(f)
		if err != nil {
			items = append(items, item{err: err, file: f})
			continue
		}
		for _, t := range tests {
			if o.Run != nil && !o.Run.MatchString(t.Name) {
				continue
			}
			items = append(items, item{test: t})
		}
	}
	n := o.Parallel
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	results := make([]chan *Result, len(items))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range items {
		results[i] = make(chan *Result, 1)
		if items[i].test == nil {
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] <- RunTest(ctx, items[i].test, o.Verbose)
		}(i)
	}
	for i, it := range items {
		if it.err != nil {
			failed++
			fmt.Fprintf(o.Out, "FAIL %s\n     %v\n", it.file, it.err)
			continue
		}
		r := <-results[i]
		printResult(o.Out, r, o.Verbose)
		if r.Passed {
			passed++
		} else {
			failed++
		}
	}
	wg.Wait()
	fmt.Fprintf(o.Out, "%d passed, %d failed\n", passed, failed)
	return passed, failed, nil
}

func printResult(w io.Writer, r *Result, verbose bool) {
	t := r.Test
	switch {
	case r.Skipped:
		fmt.Fprintf(w, "ok %s (%s:%d) (skipped: %s)\n", t.Name, t.File, t.Line, t.Skip)
	case r.Passed:
		fmt.Fprintf(w, "ok %s (%s:%d)\n", t.Name, t.File, t.Line)
	default:
		fmt.Fprintf(w, "FAIL %s (%s:%d)\n", t.Name, t.File, r.Line)
	}
	if verbose || !r.Passed {
		for _, l := range r.Log {
			fmt.Fprintln(w, "   "+l)
		}
	}
	if !r.Passed {
		for _, l := range strings.Split(r.Failure, "\n") {
			fmt.Fprintln(w, "     "+strings.TrimLeft(l, " "))
		}
	}
}
