package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// A limiter forgets buckets that have refilled once it holds maxBuckets, so that requests
// naming ever new keys (login attempts for made-up e-mails) cannot grow it without bound, while
// a bucket still being drained is kept.
func TestLimiterBounded(t *testing.T) {
	t.Parallel()
	l := New(1, 2)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.Allow("busy", now)
	l.Allow("busy", now)
	for i := range maxBuckets {
		l.Allow(fmt.Sprintf("id%d", i), now)
	}
	later := now.Add(1500 * time.Millisecond) // every bucket refilled but "busy" (1.5 of 2)
	l.Allow("new", later)
	if len(l.b) != 2 {
		t.Errorf("after pruning the limiter holds %d buckets, want 2 (the drained one and the new one)", len(l.b))
	}
	if _, ok := l.b["busy"]; !ok {
		t.Error("a bucket still being drained was forgotten")
	}
}
