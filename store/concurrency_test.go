package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// TestConcurrentConversations sends messages from many goroutines to a few contacts, while
// other goroutines process them. Half the contacts are new; the others exist with only a
// closed conversation, so every first message races to open a conversation. Every message is
// processed exactly once, each conversation's events in order, one open conversation per
// contact, with no deadlock. On PostgreSQL the goroutines use different connections, so the
// database's locks are what serialises.
func TestConcurrentConversations(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const (
			senders    = 8
			perSender  = 25
			contacts   = 4
			processors = 4
		)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		newID := newIDs("id")
		for i := range contacts / 2 {
			fx := fixtureWith(t, db, ctx)
			fx.id = newID
			conv := fx.inbound(fmt.Sprintf("c%d", i), "old", "")
			fx.process(conv.ConversationID, func(_ *store.Batch, ch *store.Changes) { ch.Conversation.Status = tandem.ConversationClosed })
		}

		var mu sync.Mutex
		seen := map[string][]tandem.Event{} // by conversation, in the order the callbacks saw them
		convs := map[string]bool{}
		errs := make(chan error, senders+processors)

		var senderWG sync.WaitGroup
		for g := range senders {
			senderWG.Add(1)
			go func() {
				defer senderWG.Done()
				for i := range perSender {
					ext := fmt.Sprintf("c%d", (g+i)%contacts)
					res, err := db.Inbound(ctx, store.InboundParams{
						ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: ext},
						Message: tandem.Message{Text: fmt.Sprintf("%d/%03d", g, i), ChannelMessageID: fmt.Sprintf("p%d-%d", g, i)},
						Now:     t0, NewID: newID,
					})
					if err != nil {
						errs <- fmt.Errorf("Inbound %d/%d: %w", g, i, err)
						return
					}
					mu.Lock()
					convs[res.ConversationID] = true
					mu.Unlock()
				}
			}()
		}
		sendersDone := make(chan struct{})
		go func() { senderWG.Wait(); close(sendersDone) }()

		var procWG sync.WaitGroup
		for range processors {
			procWG.Add(1)
			go func() {
				defer procWG.Done()
				for {
					finished := false
					select {
					case <-sendersDone:
						finished = true
					default:
					}
					ids, err := db.Pending(ctx, 100)
					if err != nil {
						errs <- err
						return
					}
					if len(ids) == 0 && finished {
						return
					}
					for _, id := range ids {
						// fn may run again when another processor committed first: only the
						// batch that Process committed counts.
						var last []tandem.Event
						n, _, err := db.Process(ctx, id, 5, func(b *store.Batch) (*store.Changes, error) {
							last = b.Events
							return &store.Changes{Conversation: b.Conversation, State: []byte(fmt.Sprintf(`{"last":%d}`, b.Events[len(b.Events)-1].Seq)),
								DoneSeq: b.Events[len(b.Events)-1].Seq}, nil
						})
						if err != nil {
							errs <- fmt.Errorf("Process %s: %w", id, err)
							return
						}
						mu.Lock()
						seen[id] = append(seen[id], last[:n]...)
						mu.Unlock()
					}
				}
			}()
		}
		procWG.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}

		if len(convs) != contacts {
			t.Errorf("%d conversations for %d contacts", len(convs), contacts)
		}
		texts := map[string]int{}
		for conv, evs := range seen {
			// Batches are recorded after their commit, by whichever processor committed them,
			// so the record is in commit order only per batch: order it by seq, then every seq
			// must appear exactly once (a gap is a lost event, a repeat a duplicate).
			sort.Slice(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
			last := map[int]int{} // sender → last index seen
			for i, ev := range evs {
				if ev.Seq != int64(i+1) {
					t.Errorf("conversation %s: event #%d has seq %d", conv, i+1, ev.Seq)
					break
				}
				texts[ev.Message.Text]++
				var g, n int
				fmt.Sscanf(ev.Message.Text, "%d/%d", &g, &n)
				if prev, ok := last[g]; ok && n <= prev {
					t.Errorf("conversation %s: sender %d's message %d processed after %d", conv, g, n, prev)
				}
				last[g] = n
			}
			if got := string(fixtureWith(t, db, ctx).conversation(conv).State); got != fmt.Sprintf(`{"last":%d}`, len(evs)) {
				t.Errorf("conversation %s: state %s after %d events", conv, got, len(evs))
			}
		}
		if len(texts) != senders*perSender {
			t.Errorf("%d distinct messages processed, want %d", len(texts), senders*perSender)
		}
		for text, n := range texts {
			if n != 1 {
				t.Errorf("message %s processed %d times", text, n)
			}
		}
	})
}

func fixtureWith(t *testing.T, db *store.DB, ctx context.Context) *fixture {
	return &fixture{t: t, db: db, ctx: ctx, id: newIDs("x")}
}

// TestGroupCommit: concurrent writes on SQLite share transactions, and each is durable when it
// returns.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := testCtx(t)
	const n = 200
	results := inboundAtOnce(t, ctx, db, n, 50, newIDs("id"))
	path := db.Path()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = storetest.OpenSQLite(t, path)
	fx := newFixture(t, db)
	stored := map[string]string{} // message id → text
	for _, res := range results {
		if _, ok := stored[res.MessageID]; ok {
			continue
		}
		for _, m := range fx.messages(res.ConversationID) {
			stored[m.ID] = m.Text
		}
	}
	for i, res := range results {
		if got, want := stored[res.MessageID], fmt.Sprintf("m%03d", i); got != want {
			t.Errorf("message %s after reopening: %q, want %q", res.MessageID, got, want)
		}
	}
	if got := fx.count(`SELECT COUNT(*) FROM messages`); got != n {
		t.Errorf("%d messages after reopening, want %d", got, n)
	}
	if got := fx.count(`SELECT COUNT(*) FROM conversations`); got != 50 {
		t.Errorf("%d conversations after reopening, want 50", got)
	}
}

// inboundAtOnce stores n messages ("m000", "m001"...) from contacts c0 to c<contacts-1> at once,
// each from its own goroutine, and returns where each went.
func inboundAtOnce(t *testing.T, ctx context.Context, db *store.DB, n, contacts int, newID func() string) []store.InboundResult {
	t.Helper()
	results := make([]store.InboundResult, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := db.Inbound(ctx, store.InboundParams{
				ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: fmt.Sprintf("c%d", i%contacts)},
				Message: tandem.Message{Text: fmt.Sprintf("m%03d", i), ChannelMessageID: fmt.Sprintf("p%d", i)},
				Now:     t0, NewID: newID,
			})
			results[i] = res
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return results
}

// TestGroupCommitIsolation: in one SQLite batch, a job that fails is rolled back alone. Twice:
// the second time the batcher's savepoint statements are prepared ones; then twice more with
// jobs that may run again, which share a transaction without savepoints until one fails.
func TestGroupCommitIsolation(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	fx := newFixture(t, db)
	failing := fx.inbound("c1", "hi", "").ConversationID
	for round := range 4 {
		// Rounds 2 and 3: jobs that may run again, batched without savepoints until one fails.
		groupCommitIsolation(t, db, fx, failing, round, round >= 2)
	}
}

func groupCommitIsolation(t *testing.T, db *store.DB, fx *fixture, failing string, round int, again bool) {
	write := db.WriteTest
	if again {
		write = db.WriteAgainTest
	}

	// The first job holds the writer until the two others wait behind it, so that those two
	// are committed in one batch.
	release := make(chan struct{})
	inside := make(chan struct{})
	blocked := make(chan error, 1)
	go func() {
		blocked <- db.WriteTest(fx.ctx, func(exec func(string) error) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	boom := errors.New("boom")
	failed := make(chan error, 1)
	go func() {
		failed <- write(fx.ctx, func(exec func(string) error) error {
			if err := exec(`UPDATE conversations SET state = '{"failing":1}' WHERE id = '` + failing + `'`); err != nil {
				return err
			}
			if err := exec(`DELETE FROM events WHERE conversation_id = '` + failing + `'`); err != nil {
				return err
			}
			return boom
		})
	}()
	type result struct {
		res store.InboundResult
		err error
	}
	stored := make(chan result, 1)
	go func() {
		res, err := db.Inbound(fx.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: fmt.Sprintf("c2-%d", round)},
			Message: tandem.Message{Text: "kept", ChannelMessageID: fmt.Sprintf("p-kept-%d", round)}, Now: t0, NewID: fx.id})
		stored <- result{res, err}
	}()
	waitFor(t, fx.ctx, "two queued writes", func() bool { return db.QueuedWrites() == 2 })
	close(release)

	if err := <-blocked; err != nil {
		t.Errorf("blocking job: %v", err)
	}
	if err := <-failed; !errors.Is(err, boom) {
		t.Errorf("failing job: %v, want boom", err)
	}
	r := <-stored
	if r.err != nil {
		t.Fatalf("job beside the failing one: %v", r.err)
	}
	if ms := fx.messages(r.res.ConversationID); len(ms) != 1 || ms[0].Text != "kept" {
		t.Errorf("messages of the kept job = %+v", ms)
	}
	if got := string(fx.conversation(failing).State); got != `{}` {
		t.Errorf("the failing job wrote state %s", got)
	}
	if got := len(fx.queued(failing)); got != 1 {
		t.Errorf("the failing job's conversation has %d queued events, want 1", got)
	}
}

// waitFor waits until cond holds, failing the test at the context's deadline.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// TestDurable closes a SQLite file and opens it again: everything committed is there.
func TestDurable(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	fx := newFixture(t, db)
	in := fx.inbound("c1", "hello", "p1")
	conv := in.ConversationID
	fx.process(conv, func(_ *store.Batch, ch *store.Changes) {
		ch.State = []byte(`{"step":"ask"}`)
		ch.Effects = []tandem.Effect{sendEffect("s1"), httpEffect("h1", true)}
		ch.Timers = []tandem.Timer{{ID: "t1", Due: t0.Add(time.Hour), Key: "wait"}}
		ch.Runs = []tandem.Run{{ID: "r1", ConversationID: conv, FlowID: "f", FlowVersion: 1, Status: tandem.RunWaiting, StartedAt: t0, UpdatedAt: t0}}
	})
	fx.inbound("c1", "queued, not processed", "p2")
	if _, _, err := db.FlowPublish(fx.ctx, "f", "F", "src", "yaml", "h", t0); err != nil {
		t.Fatal(err)
	}
	path := db.Path()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Messages(fx.ctx, store.MessagesParams{ConversationID: conv}); err == nil {
		t.Errorf("a closed database still answers")
	}
	if err := db.Enqueue(fx.ctx, tandem.Event{ConversationID: conv, Kind: tandem.EventStart}); err == nil {
		t.Errorf("a closed database still takes writes")
	}

	db = storetest.OpenSQLite(t, path)
	fx = newFixture(t, db)
	if got := string(fx.conversation(conv).State); got != `{"step":"ask"}` {
		t.Errorf("state after reopening = %s", got)
	}
	if ms := fx.messages(conv); len(ms) != 3 {
		t.Errorf("%d messages after reopening, want 3", len(ms))
	}
	if evs := fx.queued(conv); len(evs) != 1 || evs[0].Message.Text != "queued, not processed" {
		t.Errorf("queued after reopening = %+v", evs)
	}
	if ids, err := db.Pending(fx.ctx, 10); err != nil || len(ids) != 1 || ids[0] != conv {
		t.Errorf("Pending after reopening = %v, %v", ids, err)
	}
	if got := claimedIDs(fx.claim(t0, 10)); strings.Join(got, ",") != "h1,s1" {
		t.Errorf("outbox after reopening = %v", got)
	}
	if next, ok, err := db.TimerNext(fx.ctx); err != nil || !ok || !next.Equal(t0.Add(time.Hour)) {
		t.Errorf("TimerNext after reopening = %v, %v, %v", next, ok, err)
	}
	if r, err := db.RunGet(fx.ctx, "r1"); err != nil || r.Status != tandem.RunWaiting {
		t.Errorf("run after reopening = %+v, %v", r, err)
	}
	if v, err := db.FlowVersionGet(fx.ctx, "f", 1); err != nil || v.Source != "src" {
		t.Errorf("flow after reopening = %+v, %v", v, err)
	}
	// A duplicate is still recognised after a restart.
	if res := fx.inbound("c1", "hello", "p1"); !res.Duplicate || res.MessageID != in.MessageID {
		t.Errorf("provider retry after reopening = %+v", res)
	}
}

// TestReadInsideProcess: the runner loads flow versions from inside a Process callback. Reads
// must not wait for the connections the writes hold: on PostgreSQL, as many callbacks as the
// writer pool has connections each make a read.
func TestReadInsideProcess(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fx := newFixture(t, db)
		if _, _, err := db.FlowPublish(fx.ctx, "f", "F", "src", "yaml", "h", t0); err != nil {
			t.Fatal(err)
		}
		n := 1
		if db.Dialect() == store.Postgres {
			n = db.WriteConns()
		}
		var convs []string
		for i := range n {
			convs = append(convs, fx.inbound(fmt.Sprintf("c%d", i), "hi", "").ConversationID)
		}
		ctx, cancel := context.WithTimeout(fx.ctx, 10*time.Second)
		defer cancel()
		var arrived sync.WaitGroup
		arrived.Add(n)
		errs := make(chan error, n)
		for _, conv := range convs {
			go func() {
				_, _, err := db.Process(ctx, conv, 10, func(b *store.Batch) (*store.Changes, error) {
					// every callback holds a write connection before any reads
					arrived.Done()
					arrived.Wait()
					if _, err := db.FlowVersionGet(ctx, "f", 1); err != nil {
						return nil, err
					}
					return &store.Changes{Conversation: b.Conversation, State: b.State, DoneSeq: b.Events[0].Seq}, nil
				})
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Errorf("Process reading inside its callback: %v", err)
			}
		}
	})
}

// TestTimerFireBesideProcess: a conversation being processed cancels a timer that TimerFire is
// firing at the same moment, on PostgreSQL. Neither deadlocks, and the timer fires at most once:
// its event, queued while the turn was computed, reaches the conversation after the cancel (the
// engine then ignores it as stale).
func TestTimerFireBesideProcess(t *testing.T) {
	t.Parallel()
	db := storetest.Postgres(t)
	fx := newFixture(t, db)
	conv := fx.inbound("c1", "hi", "").ConversationID
	fx.process(conv, func(_ *store.Batch, ch *store.Changes) {
		ch.Timers = []tandem.Timer{{ID: "t1", Due: t0.Add(time.Minute), Key: "wait"}}
	})
	fx.inbound("c1", "answer", "")

	inside := make(chan struct{})
	release := make(chan struct{})
	processed := make(chan error, 1)
	go func() {
		_, _, err := db.Process(fx.ctx, conv, 10, func(b *store.Batch) (*store.Changes, error) {
			close(inside)
			<-release
			return &store.Changes{Conversation: b.Conversation, State: b.State, DoneSeq: b.Events[0].Seq, CancelTimers: []string{"t1"}}, nil
		})
		processed <- err
	}()
	<-inside
	fired := make(chan error, 1)
	var convs []string
	go func() {
		var err error
		convs, err = db.TimerFire(fx.ctx, t0.Add(time.Hour), 10)
		fired <- err
	}()
	// The turn is computed outside any transaction: TimerFire does not wait for it.
	if err := <-fired; err != nil {
		t.Errorf("TimerFire: %v", err)
	}
	close(release)
	if err := <-processed; err != nil {
		t.Errorf("Process: %v", err)
	}
	timerEvents := 0
	for _, ev := range fx.queued(conv) {
		if ev.Kind == tandem.EventTimer {
			timerEvents++
		}
	}
	// The timer fired once, before the cancel committed: its row is gone, its one event waits.
	if got := fx.count(`SELECT COUNT(*) FROM timers`); got != 0 || timerEvents != 1 || len(convs) != 1 {
		t.Errorf("after the race, %d timer rows, %d timer events, TimerFire woke %v; want 0, 1 and the conversation", got, timerEvents, convs)
	}
}

// TestGroupCommitTransactionLost: in one SQLite batch, a job fails in a way that ends the whole
// transaction (as SQLite does on some errors; here it rolls back itself). The writes before it
// are lost and must say so; the writes after it must not run outside a transaction: every write
// that returns nil is durable, every write that returns an error left nothing.
func TestGroupCommitTransactionLost(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	fx := newFixture(t, db)
	release := make(chan struct{})
	inside := make(chan struct{})
	go func() {
		db.WriteTest(fx.ctx, func(exec func(string) error) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside

	inbound := func(text string, out chan<- error) {
		_, err := db.Inbound(fx.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: text},
			Message: tandem.Message{Text: text, ChannelMessageID: text}, Now: t0, NewID: fx.id})
		out <- err
	}
	before, lost, after := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go inbound("before", before)
	waitFor(t, fx.ctx, "the first write to queue", func() bool { return db.QueuedWrites() == 1 })
	go func() {
		lost <- db.WriteTest(fx.ctx, func(exec func(string) error) error {
			exec("ROLLBACK")
			return errors.New("disk full")
		})
	}()
	waitFor(t, fx.ctx, "the second write to queue", func() bool { return db.QueuedWrites() == 2 })
	go inbound("after", after)
	waitFor(t, fx.ctx, "the third write to queue", func() bool { return db.QueuedWrites() == 3 })
	close(release)

	if err := <-lost; err == nil {
		t.Errorf("the failing write returned nil")
	}
	for text, ch := range map[string]chan error{"before": before, "after": after} {
		err := <-ch
		stored := fx.count(`SELECT COUNT(*) FROM messages WHERE text = ?`, text)
		if (err == nil) != (stored == 1) {
			t.Errorf("write %q returned %v and stored %d messages", text, err, stored)
		}
		if text == "after" && err != nil {
			t.Errorf("the write after the failing one: %v, want it committed on its own", err)
		}
	}
}
