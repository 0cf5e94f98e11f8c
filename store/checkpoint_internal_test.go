package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The writer never checkpoints by itself, yet the WAL stays near its cap under a steady stream
// of commits with readers beside them: without the writer finishing a checkpoint between
// batches, it would hold every page written.
func TestWALStaysNearItsCap(t *testing.T) {
	checkpointEvery, walCapFrames = 10*time.Millisecond, 64
	t.Cleanup(func() { checkpointEvery, walCapFrames = 100*time.Millisecond, 16384 })
	dir := t.TempDir()
	ctx := context.Background()
	db, err := OpenDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.write(ctx, func(q q) error {
		_, err := q.exec(`CREATE TABLE blobs (id INTEGER PRIMARY KEY, data TEXT NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	readers := make(chan struct{})
	go func() {
		defer close(readers)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// A short read, as the server's are (a conversation, its messages): a read that
			// outlasts restartWait delays the WAL's restart (a scan of the whole table did, by
			// seconds on a loaded machine, and the WAL grew past this test's bound).
			var n int
			db.read(ctx).row(`SELECT length(data) FROM blobs WHERE id = (SELECT MAX(id) FROM blobs)`).Scan(&n)
		}
	}()
	wal := filepath.Join(dir, "tandem.db-wal")
	row := strings.Repeat("x", 3000) // about a page a row
	var biggest int64
	const rows = 2500 // about 100 times the cap in pages
	for i := range rows {
		if err := db.write(ctx, func(q q) error {
			_, err := q.exec(`INSERT INTO blobs (data) VALUES (?)`, row)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if fi, err := os.Stat(wal); err == nil {
				biggest = max(biggest, fi.Size())
			}
		}
	}
	close(stop)
	<-readers
	// About three pages a row: the WAL would hold them all if it never started again.
	if limit := int64(rows) * 4096; biggest > limit {
		t.Errorf("the WAL grew to %d bytes for %d rows written; want under %d", biggest, rows, limit)
	}
	t.Logf("largest WAL: %d KB", biggest/1024)
}
