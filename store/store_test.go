package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// t0 is the instant every test starts at; time only moves when a test says so.
var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// testCtx bounds a test: a deadlock fails it instead of hanging the run.
func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// newIDs returns a generator of unique, sortable ids.
func newIDs(prefix string) func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("%s%06d", prefix, n.Add(1)) }
}

// fixture is a database with an id generator, shared by the helpers below.
type fixture struct {
	t   *testing.T
	db  *store.DB
	ctx context.Context
	id  func() string
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	return &fixture{t: t, db: db, ctx: testCtx(t), id: newIDs("id")}
}

// inbound stores a text message from contact ext on channel "api"; provider is the provider's
// message id ("" for none).
func (f *fixture) inbound(ext, text, provider string) store.InboundResult {
	f.t.Helper()
	res, err := f.db.Inbound(f.ctx, store.InboundParams{
		ChannelID: "api", ChannelKind: "api",
		Contact: tandem.Contact{ExternalID: ext},
		Message: tandem.Message{Text: text, ChannelMessageID: provider},
		Now:     t0, NewID: f.id,
	})
	if err != nil {
		f.t.Fatalf("Inbound(%s, %q): %v", ext, text, err)
	}
	return res
}

// queued returns the events waiting for a conversation, without processing them.
func (f *fixture) queued(conv string) []tandem.Event {
	f.t.Helper()
	var evs []tandem.Event
	_, _, err := f.db.Process(f.ctx, conv, 1000, func(b *store.Batch) (*store.Changes, error) {
		evs = b.Events
		return nil, store.ErrNothing
	})
	if err != nil {
		f.t.Fatalf("Process(%s) to read the queue: %v", conv, err)
	}
	return evs
}

// turn queues a start event for conv and processes every queued event with the changes that
// change returns (DoneSeq and Conversation are filled in when left empty).
func (f *fixture) turn(conv string, change func(b *store.Batch, ch *store.Changes)) {
	f.t.Helper()
	if err := f.db.Enqueue(f.ctx, tandem.Event{ConversationID: conv, Kind: tandem.EventStart, At: t0, Start: &tandem.StartRun{FlowID: "f"}}); err != nil {
		f.t.Fatalf("Enqueue(%s): %v", conv, err)
	}
	f.process(conv, change)
}

// process processes every queued event of conv with the changes that change returns.
func (f *fixture) process(conv string, change func(b *store.Batch, ch *store.Changes)) {
	f.t.Helper()
	_, _, err := f.db.Process(f.ctx, conv, 1000, func(b *store.Batch) (*store.Changes, error) {
		c := *b.Conversation
		c.UpdatedAt = t0
		ch := &store.Changes{Conversation: &c, State: b.State, DoneSeq: b.Events[len(b.Events)-1].Seq}
		if change != nil {
			change(b, ch)
		}
		return ch, nil
	})
	if err != nil {
		f.t.Fatalf("Process(%s): %v", conv, err)
	}
}

func (f *fixture) messages(conv string) []tandem.Message {
	f.t.Helper()
	ms, err := f.db.Messages(f.ctx, store.MessagesParams{ConversationID: conv, Limit: 1000})
	if err != nil {
		f.t.Fatalf("Messages(%s): %v", conv, err)
	}
	return ms
}

func (f *fixture) conversation(id string) *store.ConversationInfo {
	f.t.Helper()
	c, err := f.db.ConversationGet(f.ctx, id)
	if err != nil {
		f.t.Fatalf("ConversationGet(%s): %v", id, err)
	}
	return c
}

func (f *fixture) count(query string, args ...any) int64 {
	f.t.Helper()
	n, err := f.db.IntTest(f.ctx, query, args...)
	if err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// wantCode fails unless err is a tandem.Error with the code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var te *tandem.Error
	if !errors.As(err, &te) || te.Code != code {
		t.Errorf("%s: error %v, want a tandem.Error with code %s", what, err, code)
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		applied, latest, err := db.SchemaVersion(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if applied != latest || latest < 1 {
			t.Fatalf("SchemaVersion = %d, %d; want the latest applied", applied, latest)
		}
		rows := f.count(`SELECT COUNT(*) FROM schema_migrations`)
		if got, want := f.count(`SELECT COUNT(*) FROM schema_migrations WHERE name LIKE '0001_%'`), int64(1); got != want {
			t.Errorf("0001 recorded %d times, want %d", got, want)
		}

		// A second Migrate is a no-op that keeps the data.
		res := f.inbound("c1", "hello", "")
		if err := db.Migrate(f.ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if got := f.count(`SELECT COUNT(*) FROM schema_migrations`); got != rows {
			t.Errorf("after a second Migrate, %d migrations recorded, want %d", got, rows)
		}
		if got := len(f.messages(res.ConversationID)); got != 1 {
			t.Errorf("after a second Migrate, %d messages, want 1", got)
		}

		// A schema from a newer binary is refused with an error that says what to do.
		if err := db.ExecTest(f.ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, latest+1, "9999_future.sql", 0); err != nil {
			t.Fatal(err)
		}
		err = db.Migrate(f.ctx)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("version %d", latest+1)) || !strings.Contains(err.Error(), "upgrade tandem") {
			t.Errorf("Migrate on a newer schema: %v, want an error naming version %d and asking to upgrade tandem", err, latest+1)
		}
	})
}

// TestMigrateConcurrent starts two replicas on one fresh PostgreSQL schema at once.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	ctx := testCtx(t)
	const replicas = 4
	errs := make(chan error, replicas)
	for range replicas {
		go func() {
			db, err := store.Open(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(ctx)
		}()
	}
	for range replicas {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
}

// TestMemory checks the private in-memory database that `tandem test` uses.
func TestMemory(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	db, err := store.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, db)
	res := f.inbound("c1", "hi", "p1")
	f.turn(res.ConversationID, func(b *store.Batch, ch *store.Changes) {
		ch.State = []byte(`{"x":1}`)
	})
	if got := string(f.conversation(res.ConversationID).State); got != `{"x":1}` {
		t.Errorf("state = %s", got)
	}
}
