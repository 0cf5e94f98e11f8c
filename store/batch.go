package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatch bounds how many write jobs share one SQLite transaction.
const maxBatch = 256

// batcher is SQLite's group commit: one goroutine owns the writer connection and commits every
// write job waiting at that moment in one transaction. Each job runs in a savepoint, so a job
// that fails is rolled back alone and the others still commit. Callers wait for the commit:
// nothing is acknowledged before it is durable.
type batcher struct {
	w        *sql.DB
	jobs     chan *job
	finished chan struct{}
	close    func()
	// stmts holds the writer's prepared statements by query text; only the batcher's goroutine
	// uses it. Without them SQLite parses every statement at every execution, which was the
	// largest cost of a write. A query is prepared after the batch that first ran it, when the
	// writer connection is free again; database/sql then keeps it prepared on that connection.
	// nil marks a query that is not prepared (it failed, or the cache is full).
	stmts  map[string]*sql.Stmt
	wanted []string
	// ckpt, when set, checkpoints the WAL in the background and asks the writer, between
	// batches, to finish a checkpoint once the WAL passed its cap.
	ckpt *checkpointer
	// ran counts the jobs run (tests count the writes an operation costs).
	ran atomic.Int64
}

// batchYields is how many times the writer lets other goroutines run before it commits a
// batch that could grow: on a busy machine a batch then takes the jobs of the turns that were a
// few microseconds from queueing one (W1: 2.3 → 3 jobs a commit, WAL writes −25 % a turn).
const batchYields = 3

// maxStmts bounds the statement cache (queries with a variable number of ? are distinct).
const maxStmts = 200

type job struct {
	ctx context.Context
	db  *DB
	fn  func(q) error
	err chan error
	// again: fn sets everything it returns from scratch, so it may run a second time after a
	// rolled-back first run. A batch of such jobs runs without a savepoint per job.
	again bool
}

func newBatcher(w *sql.DB, ckpt *checkpointer) *batcher {
	b := &batcher{w: w, ckpt: ckpt, jobs: make(chan *job, maxBatch), finished: make(chan struct{}), stmts: map[string]*sql.Stmt{}}
	stop := make(chan struct{})
	var once sync.Once
	b.close = func() {
		once.Do(func() { close(stop) })
		<-b.finished
	}
	go func() {
		defer close(b.finished)
		defer func() {
			for _, st := range b.stmts {
				if st != nil {
					st.Close()
				}
			}
		}()
		for {
			select {
			case <-stop:
				for {
					select {
					case j := <-b.jobs:
						j.err <- errClosed
					default:
						return
					}
				}
			case j := <-b.jobs:
				batch := []*job{j}
				yields := 0
			fill:
				for len(batch) < maxBatch {
					select {
					case j := <-b.jobs:
						batch = append(batch, j)
					default:
						if yields < batchYields {
							// Let the goroutines that are about to queue a job do so: a commit
							// costs its pages, whatever the number of jobs that share them.
							yields++
							runtime.Gosched()
							continue
						}
						break fill
					}
				}
				b.ran.Add(int64(len(batch)))
				if debugBatches {
					batchCount.Add(1)
					jobCount.Add(int64(len(batch)))
				}
				var t0 time.Time
				if debugBatches {
					t0 = time.Now()
				}
				b.commit(batch)
				b.prepare()
				b.ckpt.finish(b.w)
				if debugBatches {
					writerBusy.Add(int64(time.Since(t0)))
				}
			}
		}
	}()
	return b
}

var errClosed = errors.New("the database is closed")

var (
	debugBatches         = os.Getenv("TANDEM_DEBUG_BATCHES") != ""
	batchCount, jobCount atomic.Int64
	// writeCount and readCount count the statements run by the writer and on the read pool.
	writeCount, readCount atomic.Int64
	// writerBusy is the time the writer spent on batches (committing, checkpointing), in ns.
	writerBusy atomic.Int64
)

// WriterBusy returns the time SQLite's writer spent on batches (with TANDEM_DEBUG_BATCHES set):
// beside the run's duration, how close the single writer is to being the bound.
func WriterBusy() time.Duration { return time.Duration(writerBusy.Load()) }

// Debug reports whether TANDEM_DEBUG_BATCHES asks for the writer's statistics.
func Debug() bool { return debugBatches }

// BatchStats returns how many write batches and jobs SQLite's batcher committed, and how many
// statements were written and read (with TANDEM_DEBUG_BATCHES set).
func BatchStats() (batches, jobs, writes, reads int64) {
	return batchCount.Load(), jobCount.Load(), writeCount.Load(), readCount.Load()
}

func (b *batcher) do(ctx context.Context, db *DB, fn func(q) error, again bool) error {
	return submit(ctx, b.jobs, &job{ctx: ctx, db: db, fn: fn, err: make(chan error, 1), again: again}, b.finished)
}

// submit queues j and returns its outcome; finished closes when the queue's writer stops.
func submit(ctx context.Context, queue chan<- *job, j *job, finished <-chan struct{}) error {
	select {
	case queue <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-finished:
		return errClosed
	}
	// Once queued, the job's outcome must be waited for: it may already be committed.
	select {
	case err := <-j.err:
		return err
	case <-finished:
		select {
		case err := <-j.err:
			return err
		default:
			return errClosed
		}
	}
}

func (b *batcher) commit(batch []*job) {
	if len(batch) > 1 && b.commitFast(batch) {
		return
	}
	for len(batch) > 0 {
		batch = b.commitOnce(batch)
	}
}

// commitFast runs a batch of jobs that may run again in one transaction without savepoints
// (two statements a job fewer). It reports false when it did not answer the jobs: one is not
// of that kind, or one failed, and the transaction was rolled back; the batch is then run with
// a savepoint per job, so that the failing one does not take the others down with it.
func (b *batcher) commitFast(batch []*job) bool {
	for _, j := range batch {
		if !j.again {
			return false
		}
	}
	ctx := context.Background()
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		return false
	}
	x := stmtTx{tx: tx, b: b}
	results := make([]error, len(batch))
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := j.fn(q{db: j.db, x: x, ctx: ctx}); err != nil {
			b.rollback(tx)
			return false
		}
	}
	if err := tx.Commit(); err != nil {
		b.rollback(nil)
		fail(batch, fmt.Errorf("commit: %w", err))
		return true
	}
	for i, j := range batch {
		j.err <- results[i]
	}
	return true
}

// commitOnce runs jobs in one transaction and answers them. When a failing job ended the whole
// transaction (SQLite rolls back everything on some errors), the jobs before it are answered
// with an error, since their work is lost, and the jobs after it, not run yet, are returned to
// be run in a transaction of their own; they must never run outside a transaction.
func (b *batcher) commitOnce(batch []*job) (rest []*job) {
	ctx := context.Background()
	// BEGIN IMMEDIATE (the DSN's _txlock): the write lock is taken now, not at the first write.
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		fail(batch, fmt.Errorf("begin: %w", err))
		return nil
	}
	x := stmtTx{tx: tx, b: b}
	results := make([]error, len(batch))
	single := len(batch) == 1
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if single {
			results[i] = j.fn(q{db: j.db, x: x, ctx: ctx})
			break
		}
		if _, err := x.ExecContext(ctx, "SAVEPOINT job"); err != nil {
			return b.abort(tx, batch, results, i, err)
		}
		err := j.fn(q{db: j.db, x: x, ctx: ctx})
		results[i] = err
		if err != nil {
			if _, rerr := x.ExecContext(ctx, "ROLLBACK TO job"); rerr != nil {
				return b.abort(tx, batch, results, i+1, rerr)
			}
		}
		if _, rerr := x.ExecContext(ctx, "RELEASE job"); rerr != nil {
			return b.abort(tx, batch, results, i+1, rerr)
		}
	}
	if single && results[0] != nil {
		b.rollback(tx)
		batch[0].err <- results[0]
		return nil
	}
	if err := tx.Commit(); err != nil {
		b.rollback(nil)
		fail(batch, fmt.Errorf("commit: %w", err))
		return nil
	}
	for i, j := range batch {
		j.err <- results[i]
	}
	return nil
}

// abort rolls back a transaction that can no longer be trusted: the first done jobs are
// answered (with an error when they had succeeded: their work is gone) and the others returned.
func (b *batcher) abort(tx *sql.Tx, batch []*job, results []error, done int, cause error) []*job {
	b.rollback(tx)
	for i, j := range batch[:done] {
		if results[i] == nil {
			results[i] = fmt.Errorf("the write was rolled back with its batch: %w", cause)
		}
		j.err <- results[i]
	}
	return batch[done:]
}

// rollback ends a transaction whatever state SQLite left it in. database/sql forgets a
// transaction whose COMMIT failed, but SQLite may still hold it open on the connection; the
// writer pool has that one connection, so a plain ROLLBACK on the pool reaches it.
func (b *batcher) rollback(tx *sql.Tx) {
	if tx != nil && tx.Rollback() == nil {
		return
	}
	b.w.ExecContext(context.Background(), "ROLLBACK")
}

// prepare prepares the queries the last batch ran unprepared, now that the writer is free.
func (b *batcher) prepare() {
	for _, query := range b.wanted {
		if _, ok := b.stmts[query]; ok {
			continue
		}
		st, err := b.w.PrepareContext(context.Background(), query)
		if err != nil || len(b.stmts) >= maxStmts {
			if st != nil {
				st.Close()
			}
			st = nil
		}
		b.stmts[query] = st
	}
	b.wanted = b.wanted[:0]
}

// stmtTx runs a batch's statements in its transaction, prepared when the batcher has them.
type stmtTx struct {
	tx *sql.Tx
	b  *batcher
}

func (s stmtTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if debugBatches {
		writeCount.Add(1)
	}
	st, ok := s.b.stmts[query]
	if !ok {
		s.b.wanted = append(s.b.wanted, query)
	}
	if st == nil {
		return nil
	}
	return s.tx.StmtContext(ctx, st)
}

func (s stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := s.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return s.tx.ExecContext(ctx, query, args...)
}

func (s stmtTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.tx.QueryContext(ctx, query, args...)
}

func (s stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := s.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.tx.QueryRowContext(ctx, query, args...)
}

func fail(batch []*job, err error) {
	for _, j := range batch {
		j.err <- err
	}
}
