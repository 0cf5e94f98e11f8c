package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// atMigration opens a new SQLite database migrated up to, not including, the migration whose
// name starts with prefix, and returns it with a helper that runs a statement on its writer.
func atMigration(t *testing.T, prefix string) (*DB, func(query string, args ...any)) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ms, err := db.migrations()
	if err != nil {
		t.Fatal(err)
	}
	before := -1
	for i, m := range ms {
		if strings.HasPrefix(m.name, prefix) {
			before = i
		}
	}
	if before < 0 {
		t.Fatalf("no migration %s", prefix)
	}
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.w.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", strings.Fields(query)[:3], err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
	for _, m := range ms[:before] {
		exec(m.sql)
		exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, m.version, m.name, time.Now().UnixMicro())
	}
	return db, exec
}

// Migration 0020 rebuilds SQLite's tables keyed by conversation as WITHOUT ROWID tables: a
// database written by an earlier version keeps every row and index, and its dedupe keys still
// refuse a repeated provider id. (0023 gives the trace its rowid back.)
func TestMigrationWithoutRowidKeepsRows(t *testing.T) {
	ctx := context.Background()
	db, exec := atMigration(t, "0020_")
	// What an earlier version wrote: a row in each table the migration rebuilds.
	exec(`INSERT INTO messages (conversation_id, id, seq, direction, author, type, text, data, channel_message_id, status, created_at)
 VALUES ('c1', 'm1', 1, 'in', 'contact', 'text', 'hello', '{}', 'wamid.1', '', 1), ('c1', 'm2', 2, 'out', 'bot', 'text', 'Hi!', '{}', 'wamid.2', 'delivered', 2)`)
	exec(`INSERT INTO run_steps (conversation_id, run_id, seq, step, type, data, started_at, duration_us) VALUES ('c1', 'r1', 1, 'ask', 'question', '{}', 1, 5)`)
	exec(`INSERT INTO inbound_keys (channel_id, provider_id, conversation_id, message_id, created_at, content_hash) VALUES ('wa', 'wamid.1', 'c1', 'm1', 1, 'h')`)
	exec(`INSERT INTO outbox (conversation_id, id, lane, seq, kind, data, next_at, created_at, claimed_by) VALUES ('c1', 'e1', 'send', 1, 'send', '{}', 3, 3, 'r')`)
	exec(`INSERT INTO timers (conversation_id, id, due_at, key) VALUES ('c1', 't1', 99, 'wait')`)
	exec(`INSERT INTO runs (conversation_id, id, flow_id, flow_version, status, started_at, updated_at) VALUES ('c1', 'r1', 'f', 1, 'waiting', 1, 2)`)
	exec(`INSERT INTO events (conversation_id, seq, kind, data, created_at) VALUES ('c1', 3, 'message', '{}', 3)`)
	exec(`INSERT INTO status_events (conversation_id, seq, status, assignee, created_at) VALUES ('c1', 4, 'queued', '', 4)`)

	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for table, want := range map[string]int{"messages": 2, "inbound_keys": 1, "outbox": 1, "timers": 1, "runs": 1, "events": 1, "status_events": 1} {
		var n int
		var schema string
		if err := db.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
		if err := db.w.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&schema); err != nil || !strings.Contains(schema, "WITHOUT ROWID") {
			t.Errorf("%s is not a WITHOUT ROWID table: %q, %v", table, schema, err)
		}
	}
	var steps int
	if err := db.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM run_steps`).Scan(&steps); err != nil || steps != 1 {
		t.Errorf("run_steps: %d rows (%v), want 1", steps, err)
	}
	var text, status string
	if err := db.w.QueryRowContext(ctx, `SELECT text, status FROM messages WHERE conversation_id = 'c1' AND seq = 2`).Scan(&text, &status); err != nil || text != "Hi!" || status != "delivered" {
		t.Errorf("message 2: %q, %q, %v; want Hi!, delivered", text, status, err)
	}
	for _, index := range []string{"messages_order", "messages_platform_id", "outbox_pending", "outbox_lane", "timers_due", "runs_id", "runs_status", "runs_flow"} {
		var n int
		if err := db.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND name = ?`, index).Scan(&n); err != nil || n != 1 {
			t.Errorf("index %s: %d (%v), want it kept", index, n, err)
		}
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO inbound_keys (channel_id, provider_id, conversation_id, message_id, created_at) VALUES ('wa', 'wamid.1', 'c1', 'm9', 9)`); err == nil {
		t.Error("a repeated provider id was stored again after the migration")
	}
}

// Migration 0023 gives SQLite's trace its rowid back: the steps an earlier version wrote are
// all read again in order, and a turn's trace of 1.2 KB (a W1 turn's) is stored within its page,
// where a WITHOUT ROWID table spilled it to an overflow page of its own (4 KB written a turn).
func TestMigrationTraceRowsFitTheirPage(t *testing.T) {
	ctx := context.Background()
	db, exec := atMigration(t, "0023_")
	big := `{"input":{"text":"` + strings.Repeat("x", 1200) + `"}}`
	exec(`INSERT INTO run_steps (conversation_id, run_id, seq, step, type, data, started_at, duration_us) VALUES
 ('c1', 'r1', 1, 'ask', 'question', '{}', 1, 5), ('c1', 'r1', 2, 'ask', 'question', ?, 2, 0), ('c2', 'r2', 1, 'ask', 'question', '{}', 3, 0)`, big)
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	steps, err := db.RunTrace(ctx, "c1", "r1")
	if err != nil || len(steps) != 2 || steps[0].Seq != 1 || steps[1].Seq != 2 {
		t.Fatalf("the run's steps after the migration: %+v, %v", steps, err)
	}
	var schema string
	if err := db.w.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'run_steps'`).Scan(&schema); err != nil || strings.Contains(schema, "WITHOUT ROWID") {
		t.Errorf("run_steps: %q, %v; want a table with a rowid", schema, err)
	}
	// A step of the same run and seq is still refused: the primary key holds.
	if _, err := db.w.ExecContext(ctx, `INSERT INTO run_steps (conversation_id, run_id, seq, step, type, data, started_at) VALUES ('c1', 'r1', 2, 'x', 'set', '{}', 9)`); err == nil {
		t.Error("a step was stored twice under one (conversation, run, seq)")
	}
	for i := range 40 {
		exec(`INSERT INTO run_steps (conversation_id, run_id, seq, step, type, data, started_at, duration_us) VALUES (?, 'r', 1, 'ask', 'question', ?, 9, 0)`, "conv"+strings.Repeat("x", i), big)
	}
	var overflow int
	if err := db.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM dbstat WHERE name = 'run_steps' AND pagetype = 'overflow'`).Scan(&overflow); err != nil || overflow != 0 {
		t.Errorf("the trace's rows of %d bytes took %d overflow pages (%v), want none", len(big), overflow, err)
	}
}

// On PostgreSQL, the SQLite-only migrations (0020 and 0023: SQLite's tables rebuilt) are a
// statement that does nothing, and still take their number.
func TestMigrationSQLiteOnlyIsEmptyOnPostgres(t *testing.T) {
	ms, err := (&DB{dialect: Postgres}).migrations()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, m := range ms {
		if !strings.HasPrefix(m.name, "0020_") && !strings.HasPrefix(m.name, "0023_") {
			continue
		}
		found++
		if strings.Contains(m.sql, "CREATE") || strings.Contains(m.sql, "DROP") || !strings.Contains(m.sql, "SELECT 1;") {
			t.Errorf("migration %s on PostgreSQL:\n%s\nwant no statement but SELECT 1", m.name, m.sql)
		}
	}
	if found != 2 {
		t.Fatalf("found %d of the migrations 0020 and 0023", found)
	}
}
