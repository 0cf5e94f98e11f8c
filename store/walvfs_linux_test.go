//go:build amd64 || arm64

package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSyscalls is the process's count of write system calls so far (/proc/self/io).
func writeSyscalls(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var n int64
		if _, err := fmt.Sscanf(line, "syscw: %d", &n); err == nil {
			return n
		}
	}
	t.Fatal("/proc/self/io has no syscw")
	return 0
}

// A commit that changes many pages reaches the WAL in one write (two past 128 KB), not two
// for each page: SQLite writes a frame's header and its page apart.
func TestWALCommitIsOneWrite(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	// 20 rows of 3 KB: 20 pages, about 82 KB of frames.
	insert := func() {
		t.Helper()
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, strings.Repeat("v", 3000)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	insert() // the WAL's header and first frames
	before := writeSyscalls(t)
	insert()
	if n := writeSyscalls(t) - before; n > 2 {
		t.Errorf("a commit of 20 pages took %d write system calls, want at most 2 (44 before the VFS)", n)
	}
}

// What the VFS writes is SQLite's WAL, byte for byte: a copy of the database and its WAL taken
// while it is open (as after a crash: nothing checkpointed) is read back whole by SQLite's own
// VFS, commits of one page, of many and of more than 128 KB alike.
func TestWALWrittenByTheVFSIsRecovered(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.ckpt.close() // nothing copied from the WAL into the file: the copy needs all of it
	db.ckpt = nil
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	want := 0
	for i, rows := range []int{1, 3, 60, 1, 200, 7} { // 60 and 200 rows of 3 KB: 180 and 600 KB
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for r := range rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, strings.Repeat(string(rune('a'+i)), 3000)+fmt.Sprint(r)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		want += rows
	}
	copyDir := t.TempDir()
	for _, name := range []string{"w.db", "w.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plain, err := sql.Open("sqlite", "file:"+filepath.Join(copyDir, "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	var n int
	var sum []byte
	if err := plain.QueryRowContext(ctx, `SELECT COUNT(*), group_concat(substr(v, 1, 1), '') FROM t`).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != want || !bytes.Equal(sum, []byte("a"+strings.Repeat("b", 3)+strings.Repeat("c", 60)+"d"+strings.Repeat("e", 200)+strings.Repeat("f", 7))) {
		t.Errorf("the copy holds %d rows (%q), want %d", n, sum, want)
	}
	var check string
	if err := plain.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q, %v", check, err)
	}
}
