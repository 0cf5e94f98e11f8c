// Package ratelimit is a token bucket per key (a credential, a session, a client address), in
// memory, with the time passed in: Rate tokens a second, up to Burst. It bounds its memory by
// forgetting buckets that refilled. It knows nothing of HTTP.
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// maxBuckets bounds a Limiter's memory: past it, buckets that refilled are forgotten (a full
// bucket behaves as a new one).
const maxBuckets = 10000

// Limiter is a token bucket per key. A negative Rate lets everything through.
type Limiter struct {
	rate, burst float64
	mu          sync.Mutex
	b           map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter of rate tokens a second, holding at most burst.
func New(rate, burst float64) *Limiter {
	return &Limiter{rate: rate, burst: burst, b: map[string]*bucket{}}
}

// Allow takes one token of key's bucket, or says how long until one is there.
func (l *Limiter) Allow(key string, now time.Time) (time.Duration, bool) {
	if l.rate < 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.b) >= maxBuckets {
		for k, b := range l.b {
			if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
				delete(l.b, k)
			}
		}
	}
	b, ok := l.b[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.b[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+max(0, now.Sub(b.last).Seconds())*l.rate)
	b.last = now
	if b.tokens < 1 {
		if l.rate == 0 {
			return time.Hour, false
		}
		return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
	}
	b.tokens--
	return 0, true
}

// Give puts one token back in key's bucket (what Allow took for something that did not count).
func (l *Limiter) Give(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.b[key]; ok {
		b.tokens = math.Min(l.burst, b.tokens+1)
	}
}
