package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/tandemchat/tandem/runner"
)

// runToken is `tandem token create [--name NAME] [--data DIR]`.
func (m *Main) runToken(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(m.Stdout, "Usage: tandem token create [--name NAME] [--data DIR]   mint an API token (printed once)")
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "create" {
		return usagef("token: use `tandem token create [--name NAME]`")
	}
	fs := m.newFlags("token create", "token create [--name NAME] [--data DIR]")
	name := fs.String("name", "default", "what the token is for (shown in listings)")
	data := fs.String("data", "./tandem-data", "data folder (SQLite); TANDEM_DATABASE_URL=postgres://... selects PostgreSQL")
	if _, err := m.parse(fs, args[1:]); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return usagef("token create: --name must not be empty")
	}
	db, err := m.openDB(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	token, _, err := db.TokenCreate(ctx, *name, "", time.Now(), runner.NewID)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, token)
	fmt.Fprintln(m.Stderr, "Keep it safe: only its hash is stored, so it cannot be shown again.")
	return nil
}
