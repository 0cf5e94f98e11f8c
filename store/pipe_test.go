package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tandemchat/tandem/store/storetest"
)

// A PostgreSQL write sends its statements in pipelines, several in one round trip: a statement
// that fails fails the whole write even when it went with a later statement or with the COMMIT,
// a write whose code gives up commits nothing of what it had sent, and the connection serves the
// next writes.
func TestPostgresPipelinedWriteIsWholeOrNothing(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	if err := db.ExecTest(ctx, `CREATE TABLE pipe_t (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	count := func() int64 {
		t.Helper()
		n, err := db.IntTest(ctx, `SELECT COUNT(*) FROM pipe_t`)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	err := db.WriteAgainTest(ctx, func(exec func(string) error) error {
		exec(`INSERT INTO pipe_t VALUES (1)`)
		exec(`INSERT INTO pipe_t VALUES (1)`) // a duplicate key, reported later
		return exec(`INSERT INTO pipe_t VALUES (2)`)
	})
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("a write with a failing statement answered %v; want its duplicate key error", err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d rows kept from a failed write; want 0", n)
	}
	giveUp := errors.New("given up")
	err = db.WriteAgainTest(ctx, func(exec func(string) error) error {
		exec(`INSERT INTO pipe_t VALUES (3)`)
		return giveUp
	})
	if !errors.Is(err, giveUp) {
		t.Fatalf("a write that gave up answered %v; want its own error", err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d rows kept from a write that gave up; want 0", n)
	}
	// More writes than the pool has connections: none was left in a transaction.
	for i := 10; i < 50; i++ {
		err := db.WriteAgainTest(ctx, func(exec func(string) error) error {
			return exec(fmt.Sprintf(`INSERT INTO pipe_t VALUES (%d) ON CONFLICT DO NOTHING`, 100+i%10))
		})
		if err != nil {
			t.Fatalf("write %d after the failures: %v", i, err)
		}
	}
	if n := count(); n != 10 {
		t.Fatalf("%d rows after 40 writes of 10 distinct ids; want 10", n)
	}
}
