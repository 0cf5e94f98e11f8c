package ratelimit_test

import (
	"testing"
	"time"

	"github.com/tandemchat/tandem/internal/ratelimit"
)

// A bucket lets Burst through at once, then Rate a second; keys have their own; Give returns
// one; a negative rate is no limit.
func TestLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	l := ratelimit.New(2, 4)
	for i := range 4 {
		if _, ok := l.Allow("a", t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	wait, ok := l.Allow("a", t0)
	if ok || wait != 500*time.Millisecond {
		t.Errorf("past the burst: %v, %v; want refused, wait 500ms", wait, ok)
	}
	if _, ok := l.Allow("b", t0); !ok {
		t.Error("another key shares the bucket")
	}
	l.Give("a")
	if _, ok := l.Allow("a", t0); !ok {
		t.Error("a token given back is not there")
	}
	if _, ok := l.Allow("a", t0.Add(500*time.Millisecond)); !ok {
		t.Error("half a second later at 2/s, no token")
	}
	if _, ok := l.Allow("a", t0.Add(-time.Hour)); ok {
		t.Error("a clock going back refilled the bucket")
	}
	free := ratelimit.New(-1, 0)
	for range 100 {
		if _, ok := free.Allow("a", t0); !ok {
			t.Fatal("a negative rate limited")
		}
	}
}
