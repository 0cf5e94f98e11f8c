package store

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// PostgreSQL's group commit. The writes of one conversation that may run again (writeConv:
// every turn's) wait in the queue of one of a few committers, chosen by the conversation; each
// committer takes every write waiting in its queue at that moment and runs them in one
// pipelined transaction on its connection: one BEGIN, one COMMIT and one WAL flush for all of
// them, and the statements of one write go in the round trips of the next. A write that fails
// (its own error or a statement's) rolls the shared transaction back, and each of its writes
// then runs alone, as it would have without the group: one failing write costs the others a
// second run, never their outcome. Other writes run alone as before.
//
// A conversation's writes always meet in the same committer, one after the other: two groups
// never wait for each other's locks on a conversation's rows. With writes of one conversation
// in two groups at once, each group holding the lock the other's next write wants would be a
// deadlock, which PostgreSQL breaks only after deadlock_timeout (1 s) — it did, twice in 5 s of
// W1, when the queue was one for all.

// pgCommitters is how many group commits run at once: each holds one of the write pool's 16
// connections while it runs, leaving the rest to the writes that run alone; with more of them,
// fewer writes wait and the groups are smaller.
const pgCommitters = 6

// maxPgGroup bounds how many writes share one transaction: the first waits for the last.
const maxPgGroup = 16

// pgGroupTimeout bounds a group's transaction (it is no caller's: each waits for the outcome).
const pgGroupTimeout = time.Minute

type pgBatcher struct {
	db       *DB
	queues   []chan *job
	stop     chan struct{}
	finished chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

func newPgBatcher(db *DB) *pgBatcher {
	b := &pgBatcher{db: db, stop: make(chan struct{}), finished: make(chan struct{})}
	b.wg.Add(pgCommitters)
	for range pgCommitters {
		jobs := make(chan *job, 4*maxPgGroup)
		b.queues = append(b.queues, jobs)
		go b.run(jobs)
	}
	go func() {
		b.wg.Wait()
		close(b.finished)
	}()
	return b
}

func (b *pgBatcher) close() {
	b.once.Do(func() { close(b.stop) })
	<-b.finished
}

// do runs fn, a write of conversation key, in the next group of its committer and returns its
// outcome.
func (b *pgBatcher) do(ctx context.Context, key string, fn func(q) error) error {
	return b.doAt(ctx, b.committer(key), fn)
}

// committer returns the index of the committer whose queue takes the writes of key.
func (b *pgBatcher) committer(key string) int {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return int(h % uint32(len(b.queues)))
}

// doAt runs fn in the next group of committer i and returns its outcome.
func (b *pgBatcher) doAt(ctx context.Context, i int, fn func(q) error) error {
	j := &job{ctx: ctx, db: b.db, fn: fn, err: make(chan error, 1), again: true}
	return submit(ctx, b.queues[i], j, b.finished)
}

func (b *pgBatcher) run(jobs chan *job) {
	defer b.wg.Done()
	for {
		select {
		case <-b.stop:
			for {
				select {
				case j := <-jobs:
					j.err <- errClosed
				default:
					return
				}
			}
		case j := <-jobs:
			group := []*job{j}
			yielded := false
		fill:
			for len(group) < maxPgGroup {
				select {
				case j := <-jobs:
					group = append(group, j)
				default:
					if !yielded {
						// Let the goroutines about to queue a write do so: a commit costs its
						// round trip and its WAL flush whatever the number of writes in it.
						yielded = true
						runtime.Gosched()
						continue
					}
					break fill
				}
			}
			b.commit(group)
		}
	}
}

// commit runs a group in one transaction, or, when that fails, each of its writes alone.
func (b *pgBatcher) commit(group []*job) {
	if debugBatches {
		pgGroups.Add(1)
		pgGroupJobs.Add(int64(len(group)))
	}
	if len(group) > 1 && b.together(group) {
		return
	}
	for _, j := range group {
		if err := j.ctx.Err(); err != nil {
			j.err <- err
			continue
		}
		j.err <- b.db.writePipelined(j.ctx, j.fn)
	}
}

// together runs the group's writes in one transaction and answers them; it reports false,
// having answered none, when the transaction was rolled back: a write failed (or a statement of
// one), and each is to run alone. A COMMIT whose outcome is unknown (the connection broke)
// answers every write with its error.
func (b *pgBatcher) together(group []*job) bool {
	ctx, cancel := context.WithTimeout(context.Background(), pgGroupTimeout)
	defer cancel()
	c, p, err := b.db.pipeBegin(ctx)
	if err != nil {
		return false
	}
	defer c.Close()
	results := make([]error, len(group))
	x := p.q(c)
	for i, j := range group {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := j.fn(x); err != nil {
			p.abandon()
			return false
		}
	}
	if err := p.commit(); err != nil {
		if p.conn.IsClosed() {
			fail(group, err)
			return true
		}
		// The server answered: the transaction was rolled back (COMMIT answers ROLLBACK after a
		// failed statement).
		p.abandon()
		return false
	}
	if debugBatches {
		pgShared.Add(int64(len(group)))
	}
	for i, j := range group {
		j.err <- results[i]
	}
	return true
}

// pgGroups and pgGroupJobs count, with TANDEM_DEBUG_BATCHES set, the groups PostgreSQL's group
// commit formed and the writes in them; pgShared the writes committed in a shared transaction.
var pgGroups, pgGroupJobs, pgShared atomic.Int64

// GroupStats returns how many groups PostgreSQL's group commit formed, how many writes they
// held and how many of those were committed together (with TANDEM_DEBUG_BATCHES set).
func GroupStats() (groups, writes, shared int64) {
	return pgGroups.Load(), pgGroupJobs.Load(), pgShared.Load()
}
