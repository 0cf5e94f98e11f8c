package main

import (
	"context"
	"fmt"

	"github.com/tandemchat/tandem/store"
)

// runMigrate is `tandem migrate [--data DIR]`.
func (m *Main) runMigrate(ctx context.Context, args []string) error {
	fs := m.newFlags("migrate", "migrate [--data DIR]")
	data := fs.String("data", "./tandem-data", "data folder (SQLite); TANDEM_DATABASE_URL=postgres://... selects PostgreSQL")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	db, err := m.openDB(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	applied, _, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "database schema at version %d\n", applied)
	return nil
}

// openDB opens the database of TANDEM_DATABASE_URL, or SQLite in the data folder.
func (m *Main) openDB(ctx context.Context, data string) (*store.DB, error) {
	if url := m.Getenv("TANDEM_DATABASE_URL"); url != "" {
		return store.Open(ctx, url)
	}
	return store.OpenDir(ctx, data)
}
