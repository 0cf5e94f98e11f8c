package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/workspace"
)

const deskUsage = `Usage: tandem desk connect KIND DESK_ID [--config tandem.yaml] [--url https://tandem.acme.com] [--wait] [--data DIR]
  authorize Tandem in a help desk that needs an administrator's approval (livechat): prints the
  address to open; the running server stores the authorization it gets back (sealed)`

// runDesk is `tandem desk connect`.
func (m *Main) runDesk(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(m.Stdout, deskUsage)
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "connect" {
		return usagef("desk: use `tandem desk connect livechat DESK_ID`")
	}
	fs := m.newFlags("desk connect", "desk connect KIND DESK_ID [--config tandem.yaml] [--url https://tandem.acme.com] [--wait] [--data DIR]")
	cfgPath := fs.String("config", "tandem.yaml", "the workspace configuration that defines the desk")
	public := fs.String("url", "", "the server's public address, where the desk's service sends the browser back (default: $TANDEM_URL)")
	wait := fs.Bool("wait", false, "wait (up to 15 minutes) until the server has stored the authorization")
	data := dataFlag(fs)
	pos, err := m.parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("desk connect: name the kind and the desk: tandem desk connect livechat DESK_ID")
	}
	kind, id := pos[0], pos[1]
	if *public == "" {
		*public = m.Getenv("TANDEM_URL")
	}
	if *public == "" {
		return usagef("desk connect: give the server's public address with --url https://tandem.example.com (or TANDEM_URL)")
	}
	cfg, err := m.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	dc, ok := cfg.Desk(id)
	if !ok || dc.Kind == config.InboxDesk {
		return fmt.Errorf("%s defines no desk %q", *cfgPath, id)
	}
	if dc.Kind != kind {
		return fmt.Errorf("desk %q is of kind %s, not %s", id, dc.Kind, kind)
	}
	db, err := m.openMigrated(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	keys, err := m.secretKeys(db, *data, true, false, log)
	if err != nil {
		return err
	}
	if keys == nil {
		return fmt.Errorf("the authorization cannot be stored: set %s (the same value as the server's)", envSecretKey)
	}
	built, err := workspace.Desks(&config.Config{Desks: []config.Desk{*dc}}, desk.Deps{Store: db, Logger: log,
		Secrets: &store.Secrets{DB: db, Keys: keys, Clock: clock.Wall{}}})
	if err != nil {
		return err
	}
	c, ok := built[id].(desk.Connector)
	if !ok {
		return fmt.Errorf("desks of kind %s need no authorization: their credentials are in %s", kind, *cfgPath)
	}
	if c.Connected(ctx) {
		fmt.Fprintf(m.Stdout, "Desk %s already has an authorization; approving again replaces it.\n", id)
	}
	addr, err := c.Connect(ctx, *public)
	if err != nil {
		return err
	}
	redirect := strings.TrimRight(*public, "/") + "/hooks/" + kind + "/" + id + "/oauth"
	fmt.Fprintf(m.Stdout, `Open this address as a %s administrator and approve Tandem (within 15 minutes):

  %s

The browser then comes back to %s, where the running server stores the
authorization (sealed). That address must be among the app's redirect URIs (Developer Console →
your app → Authorization).
`, kind, addr, redirect)
	if !*wait {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-wctx.Done():
			return fmt.Errorf("no authorization came back within 15 minutes; run tandem desk connect again")
		case <-t.C:
			if c.Connected(wctx) {
				fmt.Fprintf(m.Stdout, "Connected: desk %s can take handoffs.\n", id)
				return nil
			}
		}
	}
}
