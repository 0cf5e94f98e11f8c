// Command tandem is Tandem's one binary: the server, the demo, the flow tools, the conversation
// test runner and the terminal simulator.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	_ "time/tzdata" // schedules and workspaces name time zones; the binary carries their data

	// Mozilla's CA roots, used only where the system has none (the FROM scratch image), so
	// HTTPS to providers, desks and channels works in a container with nothing but the binary.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(os.Stdin, os.Stdout, os.Stderr)
	os.Exit(m.Run(ctx, os.Args[1:]))
}
