package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/seal"
	"github.com/tandemchat/tandem/store"
)

// The environment variables that hold the keys of secrets stored in the database.
const (
	envSecretKey    = "TANDEM_SECRET_KEY"     // seals and opens
	envSecretKeyOld = "TANDEM_SECRET_KEY_OLD" // open only: keys being rotated out, comma-separated
)

// keyFileName is where, without TANDEM_SECRET_KEY, a SQLite server keeps its generated key.
const keyFileName = "secret.key"

// secretKeys returns the keyring of the secrets stored in the database: TANDEM_SECRET_KEY seals
// and opens, the keys of TANDEM_SECRET_KEY_OLD only open. Without TANDEM_SECRET_KEY, a SQLite
// database uses the key kept in its data folder (made there when create is set, with a log line
// saying so); PostgreSQL, shared by replicas that share no folder, gets no keyring (nil), and
// secrets cannot be stored. With TANDEM_SECRET_KEY set, a key left in the data folder still
// opens (so moving from it to TANDEM_SECRET_KEY is a rotation).
func (m *Main) secretKeys(db *store.DB, data string, create, ephemeral bool, log *slog.Logger) (*seal.Keyring, error) {
	var old []*seal.Key
	for i, text := range strings.FieldsFunc(m.Getenv(envSecretKeyOld), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		k, err := seal.ParseKey(text)
		if err != nil {
			return nil, fmt.Errorf("%s: key %d: %w", envSecretKeyOld, i+1, err)
		}
		old = append(old, k)
	}
	var fileKey *seal.Key
	path := filepath.Join(data, keyFileName)
	if db.Dialect() == store.SQLite && data != "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			if fileKey, err = seal.ParseKey(string(b)); err != nil {
				return nil, fmt.Errorf("the secret key in %s: %w", path, err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("the secret key in %s cannot be read: %w", path, err)
		}
	}
	if text := m.Getenv(envSecretKey); strings.TrimSpace(text) != "" {
		k, err := seal.ParseKey(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envSecretKey, err)
		}
		return seal.NewKeyring(k, append(old, fileKey)...), nil
	}
	if fileKey != nil {
		log.Info(envSecretKey+" is not set: secrets stored in the database are sealed with the key in the data folder", "file", path)
		return seal.NewKeyring(fileKey, old...), nil
	}
	if db.Dialect() != store.SQLite || data == "" || !create {
		return nil, nil
	}
	text := seal.NewKeyText()
	if err := writeKeyFile(path, text); err != nil {
		return nil, err
	}
	k, err := seal.ParseKey(text)
	if err != nil {
		return nil, err
	}
	if ephemeral {
		log.Info(envSecretKey+" is not set: generated a key for the secrets stored in the (temporary) data folder", "file", path)
	} else {
		log.Warn(envSecretKey+" is not set: generated a key for the secrets stored in the database and kept it in the data folder; back it up with the database, or set "+envSecretKey+" (docs/security.md)", "file", path)
	}
	return seal.NewKeyring(k, old...), nil
}

// writeKeyFile writes a new key file readable by its owner only; it never replaces one.
func writeKeyFile(path, text string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("data folder %s cannot be created: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("the secret key cannot be written to %s: %w", path, err)
	}
	if _, err := f.WriteString(text + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("the secret key cannot be written to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkSecretKeys makes sure every secret stored in the database opens with the keyring, and
// says when some wait for `tandem secret rotate`.
func checkSecretKeys(ctx context.Context, db *store.DB, keys *seal.Keyring, log *slog.Logger) error {
	ids, err := db.SecretKeyIDs(ctx)
	if err != nil {
		return err
	}
	var missing []string
	stale := 0
	total := 0
	for id, n := range ids {
		total += n
		switch {
		case keys == nil || !keys.Has(id):
			missing = append(missing, fmt.Sprintf("%d with key %s", n, id))
		case id != keys.KeyID():
			stale += n
		}
	}
	sort.Strings(missing)
	switch {
	case len(missing) > 0 && keys == nil:
		return fmt.Errorf("the database holds %d secrets sealed with a key, but %s is not set: set it to the key they were sealed with (%s)", total, envSecretKey, strings.Join(missing, ", "))
	case len(missing) > 0:
		return fmt.Errorf("the database holds secrets sealed with a key that neither %s nor %s holds (%s): give the key they were sealed with", envSecretKey, envSecretKeyOld, strings.Join(missing, ", "))
	case stale > 0:
		log.Warn(fmt.Sprintf("%d secrets in the database are sealed with an old key; run `tandem secret rotate` to reseal them with %s, then drop the old key", stale, envSecretKey), "key", keys.KeyID())
	}
	return nil
}

// workspaceSecrets returns the secrets flows read as {{secret.NAME}}: the configuration's, and
// those stored in the database with `tandem secret set` (the configuration wins a name both have).
func workspaceSecrets(ctx context.Context, db *store.DB, keys *seal.Keyring, fromConfig map[string]string, log *slog.Logger) (map[string]string, error) {
	if keys == nil {
		return fromConfig, nil
	}
	stored, err := db.SecretValues(ctx, keys, store.ScopeWorkspace)
	if err != nil {
		return nil, publicError(err)
	}
	if len(stored) == 0 {
		return fromConfig, nil
	}
	out := make(map[string]string, len(fromConfig)+len(stored))
	for name, v := range stored {
		out[name] = v
	}
	for name, v := range fromConfig {
		if _, ok := stored[name]; ok {
			log.Warn("secret "+name+" is set both in the configuration and in the database; the configuration's value is used", "secret", name)
		}
		out[name] = v
	}
	return out, nil
}

// publicError turns a tandem.Error into its message, for the command line.
func publicError(err error) error {
	if err != nil && tandem.ErrorCode(err) != tandem.EINTERNAL {
		return errors.New(tandem.ErrorMessage(err))
	}
	return err
}

const secretUsage = `Usage: tandem secret COMMAND [--data DIR]

Secrets stored in the database, sealed with TANDEM_SECRET_KEY (see docs/security.md):

  tandem secret set NAME [--scope workspace]   store a secret read from standard input; flows read it as {{secret.NAME}}
  tandem secret list                           list the stored secrets (names and key ids, never values)
  tandem secret delete NAME [--scope workspace]
  tandem secret rotate                         reseal every secret with TANDEM_SECRET_KEY (the old key in TANDEM_SECRET_KEY_OLD)
  tandem secret key                            print a new random key for TANDEM_SECRET_KEY

A server reads the workspace's secrets when it starts: restart it after a change.
`

// runSecret is `tandem secret set|list|delete|rotate|key`.
func (m *Main) runSecret(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(m.Stdout, secretUsage)
		if len(args) == 0 {
			return usagef("secret: name a command: set, list, delete, rotate or key")
		}
		return flag.ErrHelp
	}
	sub := args[0]
	if sub == "key" {
		fmt.Fprintln(m.Stdout, seal.NewKeyText())
		return nil
	}
	summary := map[string]string{
		"set":    "secret set NAME [--scope workspace] [--data DIR]   (the value on standard input)",
		"list":   "secret list [--scope SCOPE] [--data DIR]",
		"delete": "secret delete NAME [--scope workspace] [--data DIR]",
		"rotate": "secret rotate [--data DIR]",
	}[sub]
	if summary == "" {
		fmt.Fprint(m.Stderr, secretUsage)
		return usagef("secret: unknown command %q", sub)
	}
	fs := m.newFlags("secret "+sub, summary)
	scope := fs.String("scope", store.ScopeWorkspace, "whose secret: workspace, or desk:ID / channel:ID for an adapter's credentials")
	if sub == "list" {
		*scope = ""
	}
	data := fs.String("data", "./tandem-data", "data folder (SQLite); TANDEM_DATABASE_URL=postgres://... selects PostgreSQL")
	pos, err := m.parse(fs, args[1:])
	if err != nil {
		return err
	}
	wantNames := map[string]int{"set": 1, "delete": 1, "list": 0, "rotate": 0}[sub]
	if len(pos) != wantNames {
		return usagef("%s", summary)
	}
	var value string
	if sub == "set" {
		if value, err = readSecretValue(m.Stdin); err != nil {
			return err
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
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	keys, err := m.secretKeys(db, *data, sub == "set", false, log)
	if err != nil {
		return err
	}
	now := time.Now()
	switch sub {
	case "set":
		if err := db.SecretPut(ctx, keys, *scope, pos[0], value, now); err != nil {
			return publicError(err)
		}
		fmt.Fprintf(m.Stdout, "secret %s of %s stored (sealed with key %s); restart the server to use it\n", pos[0], *scope, keys.KeyID())
	case "delete":
		if err := db.SecretDelete(ctx, *scope, pos[0]); err != nil {
			return publicError(err)
		}
		fmt.Fprintf(m.Stdout, "secret %s of %s deleted\n", pos[0], *scope)
	case "list":
		list, err := db.SecretList(ctx, *scope)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SCOPE\tNAME\tKEY\tUPDATED")
		for _, s := range list {
			key := s.KeyID
			if keys != nil && key != keys.KeyID() {
				key += " (old: run `tandem secret rotate`)"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.Scope, s.Name, key, s.UpdatedAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	case "rotate":
		if keys == nil {
			return fmt.Errorf("set %s to the new key (and %s to the old one) to rotate", envSecretKey, envSecretKeyOld)
		}
		n, err := db.SecretRotate(ctx, keys, now)
		if err != nil {
			return publicError(err)
		}
		fmt.Fprintf(m.Stdout, "%d secrets resealed with key %s; every secret now opens with %s alone\n", n, keys.KeyID(), envSecretKey)
	}
	return nil
}

// readSecretValue reads a secret from standard input: all of it, less one final line break.
func readSecretValue(in io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(in), store.MaxSecretSize+2))
	if err != nil {
		return "", fmt.Errorf("standard input: %w", err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", errors.New("give the secret's value on standard input (for example: printf %s \"$VALUE\" | tandem secret set NAME)")
	}
	return v, nil
}
