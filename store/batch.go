package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
}

type job struct {
	ctx context.Context
	db  *DB
	fn  func(q) error
	err chan error
}

func newBatcher(w *sql.DB) *batcher {
	b := &batcher{w: w, jobs: make(chan *job, maxBatch), finished: make(chan struct{})}
	stop := make(chan struct{})
	var once sync.Once
	b.close = func() {
		once.Do(func() { close(stop) })
		<-b.finished
	}
	go func() {
		defer close(b.finished)
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
			fill:
				for len(batch) < maxBatch {
					select {
					case j := <-b.jobs:
						batch = append(batch, j)
					default:
						break fill
					}
				}
				b.commit(batch)
			}
		}
	}()
	return b
}

var errClosed = errors.New("the database is closed")

func (b *batcher) do(ctx context.Context, db *DB, fn func(q) error) error {
	j := &job{ctx: ctx, db: db, fn: fn, err: make(chan error, 1)}
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.finished:
		return errClosed
	}
	// Once queued, the job's outcome must be waited for: it may already be committed.
	select {
	case err := <-j.err:
		return err
	case <-b.finished:
		select {
		case err := <-j.err:
			return err
		default:
			return errClosed
		}
	}
}

var DebugBatches, DebugJobs atomic.Int64

func (b *batcher) commit(batch []*job) {
	DebugBatches.Add(1)
	DebugJobs.Add(int64(len(batch)))
	ctx := context.Background()
	conn, err := b.w.Conn(ctx)
	if err != nil {
		fail(batch, err)
		return
	}
	defer conn.Close()
	for len(batch) > 0 {
		batch = commitOnce(ctx, conn, batch)
	}
}

// commitOnce runs jobs in one transaction and answers them. When a failing job ended the whole
// transaction (SQLite rolls back everything on some errors), the jobs before it are answered
// with an error, since their work is lost, and the jobs after it, not run yet, are returned to
// be run in a transaction of their own; they must never run outside a transaction.
func commitOnce(ctx context.Context, conn *sql.Conn, batch []*job) (rest []*job) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(batch, fmt.Errorf("begin: %w", err))
		return nil
	}
	results := make([]error, len(batch))
	single := len(batch) == 1
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if single {
			results[i] = j.fn(q{db: j.db, x: conn, ctx: ctx})
			break
		}
		if _, err := conn.ExecContext(ctx, "SAVEPOINT job"); err != nil {
			return abort(ctx, conn, batch, results, i, err)
		}
		err := j.fn(q{db: j.db, x: conn, ctx: ctx})
		results[i] = err
		if err != nil {
			if _, rerr := conn.ExecContext(ctx, "ROLLBACK TO job"); rerr != nil {
				return abort(ctx, conn, batch, results, i+1, rerr)
			}
		}
		if _, rerr := conn.ExecContext(ctx, "RELEASE job"); rerr != nil {
			return abort(ctx, conn, batch, results, i+1, rerr)
		}
	}
	if single && results[0] != nil {
		conn.ExecContext(ctx, "ROLLBACK")
		batch[0].err <- results[0]
		return nil
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		conn.ExecContext(ctx, "ROLLBACK")
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
func abort(ctx context.Context, conn *sql.Conn, batch []*job, results []error, done int, cause error) []*job {
	conn.ExecContext(ctx, "ROLLBACK")
	for i, j := range batch[:done] {
		if results[i] == nil {
			results[i] = fmt.Errorf("the write was rolled back with its batch: %w", cause)
		}
		j.err <- results[i]
	}
	return batch[done:]
}

func fail(batch []*job, err error) {
	for _, j := range batch {
		j.err <- err
	}
}
