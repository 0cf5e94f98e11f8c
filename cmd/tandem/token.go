package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
)

const tokenUsage = `Usage: tandem token create [--name NAME] [--expires 90d] [--data DIR]   mint an API token (printed once)
       tandem token list [--all] [--data DIR]                             API tokens and agents' logins
       tandem token revoke ID [--data DIR]                                end a token or a login`

// runToken is `tandem token create|list|revoke`.
func (m *Main) runToken(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(m.Stdout, tokenUsage)
		return flag.ErrHelp
	}
	if len(args) == 0 {
		return usagef("token: use `tandem token create [--name NAME]`, `tandem token list` or `tandem token revoke ID`")
	}
	switch args[0] {
	case "create":
		return m.tokenCreate(ctx, args[1:])
	case "list":
		return m.tokenList(ctx, args[1:])
	case "revoke":
		return m.tokenRevoke(ctx, args[1:])
	}
	return usagef("token: unknown command %q; use `tandem token create [--name NAME]`, `tandem token list` or `tandem token revoke ID`", args[0])
}

// dataFlag is the --data flag of the commands that touch storage.
func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", "./tandem-data", "data folder (SQLite); TANDEM_DATABASE_URL=postgres://... selects PostgreSQL")
}

// openMigrated opens the database of a data folder (or TANDEM_DATABASE_URL) and migrates it.
func (m *Main) openMigrated(ctx context.Context, data string) (*store.DB, error) {
	db, err := m.openDB(ctx, data)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (m *Main) tokenCreate(ctx context.Context, args []string) error {
	fs := m.newFlags("token create", "token create [--name NAME] [--expires 90d] [--data DIR]")
	name := fs.String("name", "default", "what the token is for (shown in listings)")
	expires := fs.String("expires", "", "when the token stops working, from now (90d, 12h); without: never")
	data := dataFlag(fs)
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return usagef("token create: --name must not be empty")
	}
	now := time.Now()
	var until time.Time
	if *expires != "" {
		d, err := tandem.ParseDuration(*expires)
		if err != nil || d <= 0 {
			return usagef("token create: --expires %q is not a duration such as 90d or 12h", *expires)
		}
		until = now.Add(d)
	}
	db, err := m.openMigrated(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	token, _, err := db.TokenMint(ctx, store.TokenParams{Name: strings.TrimSpace(*name), ExpiresAt: until, Now: now, NewID: runner.NewID})
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, token)
	fmt.Fprintln(m.Stderr, "Keep it safe: only its hash is stored, so it cannot be shown again.")
	return nil
}

func (m *Main) tokenList(ctx context.Context, args []string) error {
	fs := m.newFlags("token list", "token list [--all] [--data DIR]")
	all := fs.Bool("all", false, "also revoked and expired tokens")
	data := dataFlag(fs)
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	db, err := m.openMigrated(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now()
	list, err := db.TokenList(ctx, store.TokenListParams{Live: !*all, Now: now})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKIND\tAGENT\tCREATED\tLAST USED\tEXPIRES\tSTATE")
	day := func(t time.Time, none string) string {
		if t.IsZero() {
			return none
		}
		return t.Local().Format("2006-01-02 15:04")
	}
	for _, t := range list {
		state := "live"
		switch {
		case !t.RevokedAt.IsZero():
			state = "revoked " + day(t.RevokedAt, "")
		case !t.Live(now):
			state = "expired"
		}
		agent := t.Agent
		if agent == "" {
			agent = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Kind, agent, day(t.CreatedAt, "-"), day(t.LastUsedAt, "never"), day(t.ExpiresAt, "never"), state)
	}
	return tw.Flush()
}

func (m *Main) tokenRevoke(ctx context.Context, args []string) error {
	fs := m.newFlags("token revoke", "token revoke ID [--data DIR]")
	data := dataFlag(fs)
	rest, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("token revoke: give one token id (see `tandem token list`)")
	}
	db, err := m.openMigrated(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.TokenRevoke(ctx, rest[0], time.Now()); err != nil {
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			return fmt.Errorf("token %q does not exist or is already revoked; see `tandem token list --all`", rest[0])
		}
		return err
	}
	fmt.Fprintf(m.Stderr, "Token %s revoked: servers refuse it within 30 seconds.\n", rest[0])
	return nil
}
