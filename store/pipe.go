package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// pipe is a PostgreSQL write transaction sent in pipelines: the statements whose outcome is not
// read at once (q.later, and q.execLazy until its count is asked) wait in a batch, which goes to
// the server in one round trip with the next statement whose answer is read (q.returning, or any
// query) or with the COMMIT. A turn's transaction was a round trip per statement — BEGIN, a
// dozen statements, COMMIT — each a write and a read on the socket on both sides; it is now two
// or three. Statements run in the order they were written, so locks are taken in the same order.
type pipe struct {
	db    *DB
	conn  *pgx.Conn
	batch pgx.Batch
	// lazy are the results waiting in batch, in its order (nil for statements nobody reads).
	lazy []*lazyResult
	// err is the first failure: the transaction is aborted, and every later use returns it.
	err error
	ctx context.Context
}

// lazyResult is the outcome of a statement sent with the next pipeline.
type lazyResult struct {
	p    *pipe
	n    int64
	done bool
	// none, when set, is what the statement's failure for want of a row reports (see q.execOne).
	none error
	// scan, when set, reads the statement's row (see q.later).
	scan func(scanner) error
}

func (r *lazyResult) LastInsertId() (int64, error) {
	return 0, errors.New("LastInsertId is not supported by PostgreSQL")
}

// RowsAffected sends the pipeline the statement waits in, if it has not gone yet.
func (r *lazyResult) RowsAffected() (int64, error) {
	if !r.done {
		if err := r.p.flush(); err != nil {
			return 0, err
		}
	}
	return r.n, nil
}

// queue adds a statement to the next pipeline; res, when set, receives its row count.
func (p *pipe) queue(query string, args []any, res *lazyResult) {
	p.batch.Queue(query, args...)
	p.lazy = append(p.lazy, res)
}

// flush sends the waiting statements and reads their outcomes.
func (p *pipe) flush() error {
	if p.err != nil {
		return p.err
	}
	if p.batch.Len() == 0 {
		return nil
	}
	return p.roundTrip(nil)
}

// roundTrip sends the waiting statements and reads their outcomes; last, when set, reads the
// outcome of the statement queued after them. A failure aborts the transaction: p.err keeps it
// (a row that is not there is no failure).
func (p *pipe) roundTrip(last func(pgx.BatchResults) error) error {
	br := p.send()
	err := p.read(br, len(p.lazy))
	if err == nil && last != nil {
		err = last(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	p.reset()
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		p.err = err
	}
	return err
}

// send sends the pipeline.
func (p *pipe) send() pgx.BatchResults {
	p.db.trips.Add(1)
	p.db.stmts.Add(int64(p.batch.Len()))
	if debugBatches {
		pipeTrips.Add(1)
		pipeStmts.Add(int64(p.batch.Len()))
	}
	return p.conn.SendBatch(p.ctx, &p.batch)
}

// read reads the outcomes of the first n statements of a sent pipeline.
func (p *pipe) read(br pgx.BatchResults, n int) error {
	for i := 0; i < n; i++ {
		r := p.lazy[i]
		if r != nil && r.scan != nil {
			if err := r.scan(pgxRow{br.QueryRow()}); err != nil {
				return err
			}
			r.done = true
			continue
		}
		tag, err := br.Exec()
		if err != nil {
			var pe *pgconn.PgError
			if r != nil && r.none != nil && errors.As(err, &pe) && pe.Code == pgDivisionByZero {
				return r.none
			}
			return err
		}
		if r != nil {
			r.n, r.done = tag.RowsAffected(), true
		}
	}
	return nil
}

// pgDivisionByZero is the error of a statement that q.execOne made fail for want of a row.
const pgDivisionByZero = "22012"

// pgxRow is a pipeline's row that reports no row as database/sql does.
type pgxRow struct{ r pgx.Row }

func (r pgxRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}

func (p *pipe) reset() {
	p.batch = pgx.Batch{}
	p.lazy = p.lazy[:0]
}

// commit sends the waiting statements with COMMIT.
func (p *pipe) commit() error {
	if p.err != nil {
		return p.err
	}
	p.batch.Queue("COMMIT")
	p.db.commits.Add(1)
	if debugBatches {
		pipeCommits.Add(1)
	}
	return p.roundTrip(func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err == nil && tag.String() == "ROLLBACK" {
			err = errors.New("store: PostgreSQL rolled the transaction back")
		}
		return err
	})
}

// returning sends the waiting statements with query, whose one row (if any) row scans.
func (p *pipe) returning(query string, args []any) pipeRow {
	if p.err != nil {
		return pipeRow{err: p.err}
	}
	p.batch.Queue(query, args...)
	return pipeRow{p: p}
}

// pipeRow is the row of a statement that ends a pipeline, read by Scan.
type pipeRow struct {
	p   *pipe
	err error
}

func (r pipeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.p.roundTrip(func(br pgx.BatchResults) error { return br.QueryRow().Scan(dest...) })
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows // the transaction goes on
	}
	return err
}

// scanner is a row to scan: *sql.Row, or a pipeline's.
type scanner interface{ Scan(dest ...any) error }

// pipeConn runs a pipe's immediate statements on its connection, after the waiting ones.
type pipeConn struct {
	c *sql.Conn
	p *pipe
}

func (x pipeConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	x.p.count()
	if err := x.p.flush(); err != nil {
		return nil, err
	}
	return x.c.ExecContext(ctx, query, args...)
}

func (x pipeConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	x.p.count()
	if err := x.p.flush(); err != nil {
		return nil, err
	}
	return x.c.QueryContext(ctx, query, args...)
}

// QueryRowContext cannot report a failed flush through *sql.Row: it runs the query anyway, on a
// transaction PostgreSQL has aborted, which answers an error that Scan returns.
func (x pipeConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	x.p.count()
	x.p.flush()
	return x.c.QueryRowContext(ctx, query, args...)
}

// count counts an immediate statement: one round trip of its own.
func (p *pipe) count() {
	p.db.trips.Add(1)
	p.db.stmts.Add(1)
	if debugBatches {
		pipeTrips.Add(1)
		pipeStmts.Add(1)
	}
}

// pipeTrips and pipeStmts count, with TANDEM_DEBUG_BATCHES set, the round trips of PostgreSQL
// writes and the statements they carried (BEGIN and COMMIT included); pipeCommits their COMMITs.
var pipeTrips, pipeStmts, pipeCommits atomic.Int64

// PipeStats returns how many round trips PostgreSQL's writes made, how many statements they
// carried and how many transactions they committed or tried to (with TANDEM_DEBUG_BATCHES
// set): without pipelines, each statement is a round trip.
func PipeStats() (trips, statements, commits int64) {
	return pipeTrips.Load(), pipeStmts.Load(), pipeCommits.Load()
}

// writePipelined runs fn in a PostgreSQL transaction sent in pipelines (see pipe): BEGIN goes
// with the first statements, COMMIT with the last ones.
func (db *DB) writePipelined(ctx context.Context, fn func(q) error) error {
	c, p, err := db.pipeBegin(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	err = fn(p.q(c))
	if err == nil {
		err = p.commit()
	} else if p.err != nil && !errors.Is(err, p.err) {
		// A statement sent with a later one failed: its error is the cause.
		err = fmt.Errorf("%w (then: %v)", p.err, err)
	}
	if err != nil {
		p.abandon()
		return err
	}
	return nil
}

// pipeBegin takes a write connection for a pipelined transaction, with BEGIN queued. The
// connection is the caller's until it closes c: database/sql lends it to no one else meanwhile.
func (db *DB) pipeBegin(ctx context.Context) (*sql.Conn, *pipe, error) {
	c, err := db.w.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	p := &pipe{db: db, ctx: ctx}
	if err := c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: a PostgreSQL connection of type %T", dc)
		}
		p.conn = sc.Conn()
		return nil
	}); err != nil {
		c.Close()
		return nil, nil, err
	}
	p.queue("BEGIN", nil, nil)
	return c, p, nil
}

// q returns the querier of the pipe's transaction on c.
func (p *pipe) q(c *sql.Conn) q { return q{db: p.db, x: pipeConn{c: c, p: p}, ctx: p.ctx, p: p} }

// abandon rolls back a failed or unfinished transaction; if even that fails, the connection is
// closed and database/sql discards it.
func (p *pipe) abandon() {
	p.reset()
	ctx := context.WithoutCancel(p.ctx)
	if st := p.conn.PgConn().TxStatus(); st != 'I' && !p.conn.IsClosed() {
		if _, rerr := p.conn.Exec(ctx, "ROLLBACK"); rerr != nil {
			p.conn.Close(ctx)
		}
	}
}
