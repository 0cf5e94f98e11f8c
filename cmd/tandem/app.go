package main

import (
	"context"

	"errors"
	"flag"
	"fmt"
	"github.com/tandemchat/tandem/runner"
	"io"
	"strings"
)

// Main is the program: its subcommands, wired to standard streams. End-to-end tests run it.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (tests replace it).
	Getenv func(string) string
	// chatHTTP carries out http steps in `tandem chat` and `tandem demo --chat`.
	chatHTTP runner.HTTPDoer
}

// NewMain returns a Main on the given streams.
func NewMain(stdin io.Reader, stdout, stderr io.Writer) *Main {
	return &Main{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: getenv}
}

// usageError is a mistake in how a command was called: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errSilent is an error already reported to the user (for example failing tests): exit 1.
var errSilent = errors.New("reported")

const usage = `tandem: a chatbot flow server with AI steps and human handoff.

Usage:
  tandem serve [--config tandem.yaml] [--addr :8080] [--data ./tandem-data]
  tandem init [DIR]                          write a starter project (a flow, its tests, tandem.yaml)
  tandem demo [--addr 127.0.0.1:8080]        run the demo workspace (offline)
  tandem chat FLOW.yaml [--config FILE] [--at TIME]   talk to a flow in the terminal
  tandem test PATH... [--run REGEX] [-v]     run conversation tests (*.test.yaml)
  tandem flow validate FILE... [--strict] [--config FILE]
  tandem flow schema                         print the flow JSON Schema
  tandem flow push FILE... | publish ID... | list | pull ID...   against a server (TANDEM_URL, TANDEM_TOKEN)
  tandem migrate [--data DIR]                apply database migrations
  tandem token create [--name NAME] [--data DIR]   mint an API token
  tandem secret set NAME | list | delete NAME | rotate | key   secrets stored in the database, sealed
  tandem agent create --email E --password-stdin [--name N] [--role agent|admin] [--teams T]   an inbox login
  tandem channel telegram set-webhook [--url https://bot.acme.com]   register a Telegram bot's webhook
  tandem desk connect livechat DESK_ID [--url https://tandem.acme.com]   authorize Tandem in LiveChat
  tandem bench w1|w2|w3 [--duration 10s] [--concurrency 64] [--baseline] [--json]
  tandem version                             the version and the commit it was built from

Run "tandem COMMAND --help" for a command's options.
`

// Run runs the command line and returns the exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	err := m.dispatch(ctx, args)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(m.Stderr, "tandem: "+ue.msg)
		return 2
	case errors.Is(err, errSilent):
		return 1
	}
	fmt.Fprintln(m.Stderr, "tandem: "+oneLine(err.Error()))
	return 1
}

func oneLine(s string) string {
	return strings.TrimSpace(s)
}

func (m *Main) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return &usageError{"name a command"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version":
		fs := m.newFlags("version", "version   (prints the version, the commit it was built from, the Go release and the platform)")
		pos, err := m.parse(fs, rest)
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usagef("version takes no arguments")
		}
		fmt.Fprintln(m.Stdout, versionLine())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	case "init":
		return m.runInit(ctx, rest)
	case "test":
		return m.runTest(ctx, rest)
	case "flow":
		return m.runFlow(ctx, rest)
	case "chat":
		return m.runChat(ctx, rest)
	case "demo":
		return m.runDemo(ctx, rest)
	case "migrate":
		return m.runMigrate(ctx, rest)
	case "serve":
		return m.runServe(ctx, rest)
	case "token":
		return m.runToken(ctx, rest)
	case "agent":
		return m.runAgent(ctx, rest)
	case "secret":
		return m.runSecret(ctx, rest)
	case "desk":
		return m.runDesk(ctx, rest)
	case "bench":
		return m.runBench(ctx, rest)
	case "channel":
		return m.runChannel(ctx, rest)
	}
	fmt.Fprint(m.Stderr, usage)
	return usagef("unknown command %q", cmd)
}

// newFlags returns a flag set that reports errors as usage errors and prints help to stdout.
func (m *Main) newFlags(name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(m.Stdout, "Usage: tandem %s\n", summary)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(m.Stdout, "\nOptions:\n")
			fs.SetOutput(m.Stdout)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	return fs
}

// parse parses flags that may come before or after the positional arguments. --help prints
// the usage to stdout; a bad flag is a usage error, one sentence on stderr (the usage is not
// dumped with it).
func (m *Main) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	usage := fs.Usage
	fs.Usage = func() {} // the flag package calls it on errors too
	defer func() { fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, flag.ErrHelp
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
