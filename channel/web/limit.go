package web

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per session: rate tokens a second, up to burst.
type limiter struct {
	rate, burst float64
	mu          sync.Mutex
	b           map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds a limiter's memory: past it, buckets that refilled are forgotten (one that
// is full behaves as a new one).
const maxBuckets = 10000

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, b: map[string]*bucket{}}
}

// allow takes one token of id's bucket, or says how long until one is there.
func (l *limiter) allow(id string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.b) >= maxBuckets {
		for k, b := range l.b {
			if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
				delete(l.b, k)
			}
		}
	}
	b, ok := l.b[id]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.b[id] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
	}
	b.tokens--
	return 0, true
}

// allowOne reports whether id may act now (a bucket of one token).
func (l *limiter) allowOne(id string, now time.Time) bool {
	_, ok := l.allow(id, now)
	return ok
}
