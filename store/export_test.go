package store

import "context"

// Test hooks: the store_test package reaches into the database through these only.

// ExecTest runs a statement written with ? placeholders, outside any store method.
func (db *DB) ExecTest(ctx context.Context, query string, args ...any) error {
	return db.write(ctx, func(q q) error {
		_, err := q.exec(query, args...)
		return err
	})
}

// IntTest runs a query returning one integer on the read pool.
func (db *DB) IntTest(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := db.read(ctx).row(query, args...).Scan(&n)
	return n, err
}

// StringTest runs a query returning one string on the read pool.
func (db *DB) StringTest(ctx context.Context, query string, args ...any) (string, error) {
	var s string
	err := db.read(ctx).row(query, args...).Scan(&s)
	return s, err
}

// QueuedWrites returns how many write jobs wait for SQLite's batcher.
func (db *DB) QueuedWrites() int {
	if db.batch == nil {
		return 0
	}
	return len(db.batch.jobs)
}

// WriteConns returns the most connections the writer pool opens.
func (db *DB) WriteConns() int { return db.w.Stats().MaxOpenConnections }

// WriteTest runs fn as a write job; fn executes statements on the job's transaction.
func (db *DB) WriteTest(ctx context.Context, fn func(exec func(query string) error) error) error {
	return db.write(ctx, func(q q) error {
		return fn(func(query string) error {
			_, err := q.exec(query)
			return err
		})
	})
}

// WriteAgainTest is WriteTest for a job that may run again (no savepoint in a batch of such).
func (db *DB) WriteAgainTest(ctx context.Context, fn func(exec func(query string) error) error) error {
	return db.writeAgain(ctx, func(q q) error {
		return fn(func(query string) error {
			_, err := q.exec(query)
			return err
		})
	})
}

// WriteJobsTest returns how many write jobs SQLite's batcher ran.
func (db *DB) WriteJobsTest() int64 {
	if db.batch == nil {
		return 0
	}
	return db.batch.ran.Load()
}

// RoundTripsTest returns how many round trips this database's PostgreSQL writes made, and how
// many statements they carried (BEGIN and COMMIT included).
func (db *DB) RoundTripsTest() (trips, statements int64) { return db.trips.Load(), db.stmts.Load() }

// CommitsTest returns how many COMMITs this database's PostgreSQL writes sent.
func (db *DB) CommitsTest() int64 { return db.commits.Load() }

// GroupTest commits writes (each may run again) as one group of PostgreSQL's group commit, and
// returns their outcomes.
func (db *DB) GroupTest(ctx context.Context, fns ...func(exec func(query string) error) error) []error {
	group := make([]*job, len(fns))
	for i, fn := range fns {
		group[i] = &job{ctx: ctx, db: db, err: make(chan error, 1), again: true, fn: func(q q) error {
			return fn(func(query string) error {
				_, err := q.exec(query)
				return err
			})
		}}
	}
	db.pg.commit(group)
	out := make([]error, len(fns))
	for i, j := range group {
		out[i] = <-j.err
	}
	return out
}

// CommittersTest returns how many of PostgreSQL's committers take the writes of the
// conversations (0 on SQLite).
func (db *DB) CommittersTest(convs ...string) int {
	if db.pg == nil {
		return 0
	}
	seen := map[int]bool{}
	for _, c := range convs {
		seen[db.pg.committer(c)] = true
	}
	return len(seen)
}
