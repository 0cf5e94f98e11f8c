package runner_test

import (
	"testing"
	"time"
	"slices"
	"context"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/runner"
)

func TestTmpLatency(t *testing.T) {
	for _, poll := range []time.Duration{0, 50 * time.Millisecond} {
		h := newHarness(t, true, func(c *runner.Config) { c.Poll = poll })
		h.publish(h.r, threeFlow)
		st := time.Now()
		h.ch.setHook(func(_ context.Context, out tandem.Outbound) error { t.Logf("%v send %s", time.Since(st), out.Message.Text)
			rows, _ := rawDB(t, h.db).Query(`SELECT id, lane, seq, next_at, claimed_until, status FROM outbox`)
			for rows.Next() { var id, lane, status string; var seq, next, cl int64; rows.Scan(&id, &lane, &seq, &next, &cl, &status); t.Log(id, lane, seq, next, cl, status) }
			rows.Close()
			var m int64
			err := rawDB(t, h.db).QueryRow(`SELECT MIN(CASE WHEN claimed_until > next_at THEN claimed_until ELSE next_at END) FROM outbox WHERE status = 'pending'`).Scan(&m)
			nx, _, _ := h.db.OutboxNext(context.Background())
			t.Log("MIN", m, err, nx.UnixMicro())
			db2, _ := store.OpenDir(context.Background(), h.dir)
			nx2, _, _ := db2.OutboxNext(context.Background())
			db2.Close()
			var cnt int
			rawDB(t, h.db).QueryRow(`SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND claimed_until > next_at`).Scan(&cnt)
			var m2 int64
			rawDB(t, h.db).QueryRow(`SELECT MIN(CASE WHEN claimed_until > next_at THEN claimed_until ELSE next_at END) FROM outbox WHERE status = ?`, "pending").Scan(&m2)
			var m3 int64
			rawDB(t, h.db).QueryRow(`SELECT MIN(CASE WHEN claimed_until > next_at THEN claimed_until ELSE next_at END) FROM outbox WHERE status = 'pending'`).Scan(&m3)
			t.Log("fresh", nx2.UnixMicro(), cnt, m2, m3)
			return nil })
		h.start(h.r)
		start := time.Now()
		h.say(h.r, "x", "p1", "go")
		waitFor(t, 20*time.Second, "3", func() bool { return h.ch.count() == 3 }, h.ch.changed)
		t.Logf("poll %v: three sends took %v", poll, time.Since(start))
		if !slices.Equal(h.ch.texts("x"), []string{"one", "two", "three"}) { t.Fatal(h.ch.texts("x")) }
	}
}
