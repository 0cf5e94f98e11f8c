// Package store keeps Tandem's state in SQLite (embedded, pure Go, WAL) or PostgreSQL behind
// one implementation: the SQL is written once where the two agree, with a small dialect for the
// rest. Every public method is one transaction; time always comes in from the caller.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"             // SQLite driver "sqlite"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/seal"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DB is a Tandem database.
type DB struct {
	dialect string
	// w takes writes; for SQLite it is one connection (SQLite has one writer), fed by the
	// batcher so that many conversations commit together.
	w *sql.DB
	// r serves reads; for SQLite a pool of read-only connections beside the writer (WAL).
	r     *sql.DB
	batch *batcher
	// pg is PostgreSQL's group commit of the writes that may run again.
	pg *pgBatcher
	// rewrite caches queries with ? placeholders rewritten for PostgreSQL.
	rewrite sync.Map
	// rstmts caches the read pool's prepared statements by query text; rcount counts them.
	rstmts sync.Map
	rcount atomic.Int64
	path   string
	// snaps caches the conversations this process committed last (Direct turns read them).
	snaps *snapCache
	// ckpt checkpoints a SQLite file's WAL off the writer's path.
	ckpt *checkpointer
	// callKeys seal the http calls the outbox keeps (SealCalls); nil: in clear.
	callKeys *seal.Keyring
	// later holds completions of sends not written yet (OutboxDoneLater).
	later later
	// trips and stmts count the round trips of PostgreSQL writes and the statements they
	// carried, commits their COMMITs.
	trips, stmts, commits atomic.Int64
}

// Open opens the database named by url: "postgres://..." for PostgreSQL, otherwise a SQLite
// file path, or ":memory:" for a private in-memory database.
func Open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	case dsn == ":memory:":
		return openSQLite(ctx, "", true)
	}
	return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite://"), false)
}

// OpenDir opens (creating it if needed) the SQLite database in a data folder.
func OpenDir(ctx context.Context, dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder %s cannot be created: %w", dir, err)
	}
	return openSQLite(ctx, filepath.Join(dir, "tandem.db"), false)
}

func openSQLite(ctx context.Context, path string, memory bool) (*DB, error) {
	// busy_timeout first: every later pragma may need to wait for a lock. WAL lets readers run
	// beside the one writer; synchronous=NORMAL is durable in WAL mode across process crashes
	// (only an OS crash can lose the last commits); foreign keys are not used but kept on.
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=cache_size(-16000)&_pragma=temp_store(MEMORY)"
	var wdsn, rdsn, cdsn string
	if memory {
		// A private in-memory database lives in its one connection.
		wdsn = "file::memory:?_txlock=immediate&" + strings.Replace(pragmas, "_pragma=journal_mode(WAL)&", "", 1)
	} else {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		path = abs
		u := (&url.URL{Scheme: "file", Path: path}).String()
		// The checkpointer copies the WAL into the file off the writer's path; SQLite's own
		// checkpoint, on the writer, is left as a backstop at four times the WAL's cap, should
		// the checkpointer fall behind.
		// The VFS "tandem" writes a commit's WAL frames with one write (walvfs_linux.go).
		vfs := walVFSParam()
		wdsn = u + "?" + vfs + "_txlock=immediate&" + pragmas + "&_pragma=wal_autocheckpoint(" + strconv.FormatInt(4*walCapFrames, 10) + ")&_pragma=journal_size_limit(" + strconv.FormatInt((walCapFrames+1024)*4096, 10) + ")"
		rdsn = u + "?" + vfs + "mode=ro&" + pragmas
		cdsn = u + "?" + vfs + pragmas
	}
	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("database %s cannot be opened: %w", path, err)
	}
	db := &DB{dialect: SQLite, w: w, r: w, path: path, snaps: newSnapCache(snapCacheBytes)}
	if !memory {
		r, err := sql.Open("sqlite", rdsn)
		if err != nil {
			w.Close()
			return nil, err
		}
		// Readers never wait on the writer (WAL); keep them all open rather than dialing a new
		// connection for most reads.
		r.SetMaxOpenConns(4)
		r.SetMaxIdleConns(4)
		r.SetConnMaxIdleTime(0)
		db.r = r
		if db.ckpt, err = newCheckpointer(cdsn); err != nil {
			r.Close()
			w.Close()
			return nil, err
		}
	}
	db.batch = newBatcher(w, db.ckpt)
	return db, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	// Reads get a pool of their own: the runner reads (a flow version, on a cache miss) from
	// inside a Process callback, which holds a write connection; with one shared pool, as many
	// callbacks as connections would each wait for a connection that never frees.
	var pools [2]*sql.DB
	for i := range pools {
		p, err := sql.Open("pgx", dsn)
		if err != nil {
			closeAll(pools[:i])
			return nil, err
		}
		p.SetMaxOpenConns(16)
		p.SetMaxIdleConns(16)
		p.SetConnMaxIdleTime(5 * time.Minute)
		pools[i] = p
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pools[0].PingContext(pctx); err != nil {
		closeAll(pools[:])
		return nil, fmt.Errorf("PostgreSQL at %s cannot be reached: %w", redact(dsn), err)
	}
	db := &DB{dialect: Postgres, w: pools[0], r: pools[1], snaps: newSnapCache(snapCacheBytes)}
	db.pg = newPgBatcher(db)
	return db, nil
}

func closeAll(pools []*sql.DB) {
	for _, p := range pools {
		p.Close()
	}
}

// redact hides a password in a connection URL.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(the configured URL)"
	}
	return u.Redacted()
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Path returns the SQLite file, or "".
func (db *DB) Path() string { return db.path }

// Close closes the database.
func (db *DB) Close() error {
	if db.batch != nil {
		db.batch.close()
	}
	if db.pg != nil {
		db.pg.close()
	}
	cerr := db.ckpt.close()
	var err error
	if db.r != db.w {
		err = db.r.Close()
	}
	return errors.Join(cerr, err, db.w.Close())
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

// q runs queries written with ? placeholders on a transaction or a pool.
type q struct {
	db *DB
	x  interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}
	ctx context.Context
	// p, on a PostgreSQL write, holds the statements waiting for the next pipeline.
	p *pipe
	// atEnd, when set, gathers the rows of messages, runs and trace for the end of the write.
	atEnd *rowsAtEnd
	// conv, on PostgreSQL, is the key of the committer that runs the write (writeConv): a
	// conversation's id when the write is in that conversation's queue.
	conv string
}

func (db *DB) sqlText(query string) string {
	if db.dialect != Postgres {
		return query
	}
	if s, ok := db.rewrite.Load(query); ok {
		return s.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	s := b.String()
	db.rewrite.Store(query, s)
	return s
}

// exec runs a statement; on a PostgreSQL write it waits for the next pipeline, and the result's
// RowsAffected sends it (its error, if any, comes from a later statement or the commit).
func (q q) exec(query string, args ...any) (sql.Result, error) {
	if q.p != nil {
		if q.p.err != nil {
			return nil, q.p.err
		}
		r := &lazyResult{p: q.p}
		q.p.queue(q.db.sqlText(query), args, r)
		return r, nil
	}
	return q.x.ExecContext(q.ctx, q.db.sqlText(query), args...)
}

// execOne runs an INSERT, UPDATE or DELETE that must change a row; none is its error when it
// changes none (and then it changed nothing). On a PostgreSQL write it waits for the next
// pipeline, as exec, and checks there, so the check costs no round trip: the statement is sent
// as a count of its rows that divides by zero when there is none, which fails the transaction,
// and the pipeline reports none. Its caller must then not go on as if it had changed the row
// (the transaction is lost): a row gone makes the whole write moot.
func (q q) execOne(none error, query string, args ...any) error {
	if q.p != nil {
		if q.p.err != nil {
			return q.p.err
		}
		q.p.queue(q.db.sqlText(`WITH one AS (`+query+` RETURNING 1) SELECT 1 / COUNT(*) FROM one`), args, &lazyResult{p: q.p, none: none})
		return nil
	}
	r, err := q.x.ExecContext(q.ctx, q.db.sqlText(query), args...)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return none
	}
	return nil
}

// rowLater runs a statement that returns at most one row, which scan reads (sql.ErrNoRows for
// none). On a PostgreSQL write it waits for the next pipeline and scan runs when that is read,
// at the commit at the latest: scan only records what it reads, for after the write.
func (q q) rowLater(scan func(scanner) error, query string, args ...any) error {
	if q.p != nil {
		if q.p.err != nil {
			return q.p.err
		}
		q.p.queue(q.db.sqlText(query), args, &lazyResult{p: q.p, scan: scan})
		return nil
	}
	return scan(q.row(query, args...))
}

// returning runs a statement that returns one row, sent with the statements waiting for the
// next pipeline on a PostgreSQL write.
func (q q) returning(query string, args ...any) scanner {
	if q.p != nil {
		return q.p.returning(q.db.sqlText(query), args)
	}
	return q.row(query, args...)
}

func (q q) query(query string, args ...any) (*sql.Rows, error) {
	if st := q.readStmt(query); st != nil {
		return st.QueryContext(q.ctx, args...)
	}
	return q.x.QueryContext(q.ctx, q.db.sqlText(query), args...)
}

func (q q) row(query string, args ...any) *sql.Row {
	if st := q.readStmt(query); st != nil {
		return st.QueryRowContext(q.ctx, args...)
	}
	return q.x.QueryRowContext(q.ctx, q.db.sqlText(query), args...)
}

// readStmt returns the read pool's prepared statement of a query (prepared at first use and
// kept: parsing was a large part of every read), or nil for queriers that are not the read pool.
func (q q) readStmt(query string) *sql.Stmt {
	if q.x != q.db.r || q.db.r == q.db.w {
		return nil
	}
	if debugBatches {
		readCount.Add(1)
	}
	if st, ok := q.db.rstmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	if q.db.rcount.Load() >= maxReadStmts {
		return nil
	}
	st, err := q.db.r.PrepareContext(q.ctx, q.db.sqlText(query))
	if err != nil {
		return nil
	}
	if prev, loaded := q.db.rstmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt)
	}
	q.db.rcount.Add(1)
	return st
}

// maxReadStmts bounds the read statement cache (queries built with a variable number of ? are
// distinct texts).
const maxReadStmts = 500

// read returns a querier on the read pool.
func (db *DB) read(ctx context.Context) q { return q{db: db, x: db.r, ctx: ctx} }

// write runs fn in a write transaction. On SQLite, concurrent writes share one transaction
// (group commit), each in its own savepoint so that one failing leaves the others intact; fn
// must not block on anything but the database. fn must not write through other DB methods (on
// SQLite the batcher would wait for itself) nor, on ":memory:", read through them (its one
// connection serves reads and writes, and fn holds it).
func (db *DB) write(ctx context.Context, fn func(q) error) error {
	return db.writeTx(ctx, fn, false)
}

// writeAgain is write for an fn that sets everything it returns from scratch: it may run a
// second time after its first run was rolled back, which spares SQLite's group commit a
// savepoint for it (the writes of every turn are of this kind).
func (db *DB) writeAgain(ctx context.Context, fn func(q) error) error {
	return db.writeTx(ctx, fn, true)
}

// writeConv is writeAgain for a write of one conversation (its id, or for a message that opens
// one, the contact's channel and id): on PostgreSQL it is committed with the writes waiting
// with it in its committer's queue (see pgBatcher), where the other writes of the conversation
// go too.
func (db *DB) writeConv(ctx context.Context, key string, fn func(q) error) error {
	if db.pg != nil {
		return db.pg.do(ctx, key, func(x q) error {
			x.conv = key
			return fn(x)
		})
	}
	return db.writeTx(ctx, fn, true)
}

func (db *DB) writeTx(ctx context.Context, fn func(q) error, again bool) error {
	if db.batch != nil {
		return db.batch.do(ctx, db, fn, again)
	}
	if db.dialect == Postgres {
		return db.writePipelined(ctx, fn)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(q{db: db, x: tx, ctx: ctx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// micros converts a time to stored Unix microseconds.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros converts stored Unix microseconds to a UTC time.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// ---- migrations ----

type migration struct {
	version int
	name    string
	sql     string
}

func (db *DB) migrations() ([]migration, error) {
	entries, err := migrationFS.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		if strings.Count(string(b), "-- sqlite:begin") != strings.Count(string(b), "-- sqlite:end") {
			return nil, fmt.Errorf("migration %s: each \"-- sqlite:begin\" needs its \"-- sqlite:end\"", e.Name())
		}
		out = append(out, migration{version: n, name: e.Name(), sql: db.dialectSQL(string(b))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	// Migrate applies the versions above the newest applied one, so a gap (or two files of one
	// number) would let a later-added migration be skipped on a database already past it.
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: numbered %d where %d was expected; migrations are numbered 1, 2, 3... without gaps or repeats", m.name, m.version, i+1)
		}
	}
	return out, nil
}

func (db *DB) dialectSQL(s string) string {
	blob := "BLOB"
	if db.dialect == Postgres {
		blob = "BYTEA"
	}
	kbIndex := `CREATE VIRTUAL TABLE kb_fts USING fts5(norm, kb_id UNINDEXED, generation UNINDEXED, seq UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');`
	if db.dialect == Postgres {
		kbIndex = `CREATE INDEX kb_chunks_fts ON kb_chunks USING GIN (to_tsvector('simple', norm));`
	}
	s = strings.ReplaceAll(s, "{{KB_INDEX}}", kbIndex)
	if db.dialect == Postgres {
		s = withoutSQLiteOnly(s)
	}
	return strings.ReplaceAll(s, "{{BLOB}}", blob)
}

// withoutSQLiteOnly removes a migration's SQLite-only parts, between "-- sqlite:begin" and
// "-- sqlite:end" lines; a migration left without a statement still takes its number.
func withoutSQLiteOnly(s string) string {
	for {
		i := strings.Index(s, "-- sqlite:begin")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "-- sqlite:end") // there is one: migrations checks
		s = s[:i] + s[i+j+len("-- sqlite:end"):]
	}
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
			return s
		}
	}
	return s + "\nSELECT 1;\n"
}

// Migrate applies the embedded migrations that are not applied yet, each in one transaction.
// It refuses a database whose schema is newer than this binary. On PostgreSQL, replicas that
// start together take turns.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := db.migrations()
	if err != nil {
		return err
	}
	var current int
	err = db.migrateTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current)
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("the database schema is at version %d but this tandem binary knows only up to %d: upgrade tandem", current, latest)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		err := db.migrateTx(ctx, func(tx *sql.Tx) error {
			// Another replica may have applied it while this one waited for the lock.
			var done bool
			if err := tx.QueryRowContext(ctx, db.sqlText(`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`), m.version).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, db.sqlText(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`), m.version, m.name, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// migrateTx runs fn in a transaction that, on PostgreSQL, holds the schema's migration lock:
// CREATE TABLE IF NOT EXISTS and the migrations themselves are not safe to run twice at once.
// A transaction-level advisory lock is released by the commit, so no connection keeps it.
func (db *DB) migrateTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if db.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('tandem migrate ' || current_schema()))`); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// SchemaVersion returns the applied schema version and the binary's latest.
func (db *DB) SchemaVersion(ctx context.Context) (applied, latest int, err error) {
	ms, err := db.migrations()
	if err != nil {
		return 0, 0, err
	}
	err = db.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&applied)
	return applied, ms[len(ms)-1].version, err
}

func notFound(what, id string) error {
	return tandem.Errorf(tandem.ENOTFOUND, "%s %q does not exist.", what, id)
}
