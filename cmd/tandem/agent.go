package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk/inbox"
)

// runAgent is `tandem agent create --email E [--name N] [--role agent|admin] [--teams a,b]
// --password-stdin [--config tandem.yaml] [--data DIR]`: an inbox login, with its password read
// from standard input (never from the command line, where other users could see it).
func (m *Main) runAgent(ctx context.Context, args []string) error {
	const summary = "agent create --email E [--name N] [--role agent|admin] [--teams T1,T2] --password-stdin [--config FILE] [--data DIR]"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(m.Stdout, "Usage: tandem "+summary+"   create an agent of the inbox")
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "create" {
		return usagef("agent: use `tandem %s`", summary)
	}
	fs := m.newFlags("agent create", summary)
	email := fs.String("email", "", "the agent's e-mail: its login")
	name := fs.String("name", "", "the agent's name (default: the e-mail's local part)")
	role := fs.String("role", config.RoleAgent, "agent or admin")
	teams := fs.String("teams", "", "comma-separated team ids of the configuration")
	stdin := fs.Bool("password-stdin", false, "read the password from standard input (required)")
	cfgPath := fs.String("config", "", "the workspace configuration, to check --teams against")
	data := fs.String("data", "./tandem-data", "data folder (SQLite); TANDEM_DATABASE_URL=postgres://... selects PostgreSQL")
	if _, err := m.parse(fs, args[1:]); err != nil {
		return err
	}
	if strings.TrimSpace(*email) == "" {
		return usagef("agent create: --email is required")
	}
	if !*stdin {
		return usagef("agent create: give the password on standard input with --password-stdin")
	}
	line, err := bufio.NewReader(m.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("no password on standard input")
	}
	password := strings.TrimRight(line, "\r\n")
	cfg := config.Default()
	if *cfgPath != "" {
		if cfg, err = m.loadConfig(*cfgPath); err != nil {
			return err
		}
	}
	var teamList []string
	for _, t := range strings.Split(*teams, ",") {
		if t = strings.TrimSpace(t); t != "" {
			teamList = append(teamList, t)
		}
	}
	db, err := m.openDB(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	ib := inbox.New(inbox.Config{DB: db, Workspace: cfg, Clock: clock.Wall{}})
	a, err := ib.CreateAgent(ctx, inbox.Actor{Admin: true, Token: "cli"}, inbox.NewAgent{Email: *email, Name: *name, Password: password, Role: *role, Teams: teamList})
	if err != nil {
		if tandem.ErrorCode(err) != tandem.EINTERNAL {
			return errors.New(tandem.ErrorMessage(err))
		}
		return err
	}
	fmt.Fprintf(m.Stdout, "agent %s (%s) created; log in with POST /api/v1/inbox/login\n", a.Email, a.Role)
	return nil
}
