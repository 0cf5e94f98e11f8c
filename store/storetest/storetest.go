// Package storetest opens real, isolated, migrated Tandem databases for tests: SQLite in a file
// under the test's temporary folder, and PostgreSQL in a schema of its own when
// TANDEM_TEST_POSTGRES_URL is set. Every store test, and every test of another package that
// needs a database, runs through it, so that both databases are exercised the same way.
// It must not be imported by non-test code.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx", for creating and dropping schemas

	"github.com/tandemchat/tandem/store"
)

// EnvPostgres names the environment variable holding the PostgreSQL URL the tests use.
const EnvPostgres = "TANDEM_TEST_POSTGRES_URL"

// SkipPostgres is the message a PostgreSQL test skips with when EnvPostgres is unset.
const SkipPostgres = "set " + EnvPostgres + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run the PostgreSQL tests"

// SQLite returns a migrated SQLite database in a file under tb.TempDir(); it is closed when the
// test ends. Its file is db.Path(), for tests that reopen it.
func SQLite(tb testing.TB) *store.DB {
	tb.Helper()
	db := OpenSQLite(tb, filepath.Join(tb.TempDir(), "tandem.db"))
	return db
}

// OpenSQLite opens and migrates the SQLite file at path (creating it); it is closed when the test
// ends. Tests of durability use it to reopen a file after closing it.
func OpenSQLite(tb testing.TB, path string) *store.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, path)
	if err != nil {
		tb.Fatalf("storetest: open %s: %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("storetest: migrate %s: %v", path, err)
	}
	return db
}

// Postgres returns a migrated PostgreSQL database living in a fresh schema t_<random> of the
// database named by TANDEM_TEST_POSTGRES_URL; the schema is dropped when the test ends. It skips
// the test when the variable is unset.
func Postgres(tb testing.TB) *store.DB {
	tb.Helper()
	dsn := PostgresURL(tb)
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("storetest: open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("storetest: migrate: %v", err)
	}
	return db
}

// PostgresURL creates a fresh empty schema t_<random> and returns a URL whose search_path is
// that schema, for tests that open the store themselves; the schema is dropped with everything
// in it when the test ends. It skips the test when TANDEM_TEST_POSTGRES_URL is unset.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		tb.Skip(SkipPostgres)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("storetest: %s is not a URL: %v", EnvPostgres, err)
	}
	var b [8]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	admin.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The schema name is ours (hex), so it is safe to write into the statement.
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		tb.Fatalf("storetest: PostgreSQL at %s: create schema: %v", u.Redacted(), err)
	}
	// Registered before the store's own cleanup, so it runs after the store is closed.
	tb.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Each runs fn as parallel subtests "sqlite" and "postgres", each on a fresh migrated database;
// the PostgreSQL one skips when TANDEM_TEST_POSTGRES_URL is unset.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{
		{store.SQLite, SQLite},
		{store.Postgres, Postgres},
	} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			fn(t, d.open(t))
		})
	}
}
