package store

import (
	"context"
	"database/sql"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointer copies the pages the WAL holds into the database file in the background, on a
// connection of its own: SQLite's automatic checkpoint would do it in the connection that
// commits, the writer, with a sync of the database file every 1,000 pages.
//
// A WAL starts again from its beginning only when a write begins after a checkpoint copied all
// of it; under a steady stream of commits the background checkpoint never quite catches up, and
// the file would grow without end. So past walCapFrames, the writer finishes the copy itself
// between two batches (the few pages the background left, and one sync), and its next commit
// restarts the WAL: the file stays around walCapFrames pages, and the writer syncs once per
// walCapFrames instead of every 1,000 pages. Should the checkpointer fall behind (a slow disk),
// SQLite's automatic checkpoint on the writer takes over at four times the cap.
type checkpointer struct {
	db   *sql.DB
	stop chan struct{}
	done chan struct{}
	// full asks the writer to finish the checkpoint between two batches.
	full atomic.Bool
	// last is the WAL's size, in frames, at the last background checkpoint (statistics).
	last   atomic.Int64
	closed sync.Once
	// mu keeps the background checkpoint and the writer's from running at once (the second
	// would find the checkpoint busy and do nothing).
	mu sync.Mutex
}

// How often the background checkpoint runs, and the WAL's size past which the writer finishes
// one (variables for tests).
var (
	checkpointEvery       = 100 * time.Millisecond
	walCapFrames    int64 = 16384 // 64 MB of 4 KB pages
)

func newCheckpointer(dsn string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

func (c *checkpointer) loop() {
	defer close(c.done)
	t := time.NewTimer(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if c.full.Load() {
			// The writer finishes this one after its next batch: a pass started now would hold
			// the lock it tries for, and under a steady stream of passes it would never get it.
			t.Reset(checkpointEvery / 20)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var busy, log, copied int64
		c.mu.Lock()
		err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &copied)
		c.mu.Unlock()
		cancel()
		if err != nil {
			t.Reset(checkpointEvery) // tried again at the next tick
			continue
		}
		c.last.Store(log)
		next := checkpointEvery
		if log > walCapFrames {
			c.full.Store(true)
		}
		if log > walCapFrames/2 {
			next = checkpointEvery / 20 // busy: look again soon, so the WAL stays near its cap
		}
		t.Reset(next)
	}
}

// finish runs, on the writer between two batches, when the WAL passed its cap: a RESTART
// checkpoint there copies what the background left and waits for the readers still on the WAL
// (for at most restartWait: readers take milliseconds), so that the next commit writes the WAL
// from its beginning. If a long read outlasts the wait, the next batch tries again.
func (c *checkpointer) finish(w *sql.DB) {
	if c == nil || !c.full.Swap(false) {
		return
	}
	// A background checkpoint in progress copies pages and syncs the file: the writer does not
	// wait for it (milliseconds with the writer's queue stopped) but tries after its next batch.
	if !c.mu.TryLock() {
		c.full.Store(true)
		return
	}
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := w.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	// The writer's busy timeout is long (it waits for other processes' locks); this wait is not.
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = `+strconv.Itoa(int(restartWait/time.Millisecond))); err != nil {
		return
	}
	defer conn.ExecContext(ctx, `PRAGMA busy_timeout = 10000`)
	var busy, log, copied int64
	err = conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &log, &copied)
	if err != nil || busy != 0 {
		c.full.Store(true) // the next batch tries again
	}
}

// restartWait bounds how long the writer waits for readers to leave the WAL.
const restartWait = 50 * time.Millisecond

func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	var err error
	c.closed.Do(func() {
		close(c.stop)
		<-c.done
		err = c.db.Close()
	})
	return err
}
