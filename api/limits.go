package api

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
)

// limiter is a token bucket per API token.
type limiter struct {
	rate  float64
	burst float64
	mu    sync.Mutex
	b     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64) *limiter {
	return &limiter{rate: rate, burst: math.Max(rate*2, 10), b: map[string]*bucket{}}
}

// maxBuckets bounds a limiter's memory: past it, buckets that refilled are forgotten (one
// that is full behaves as a new one).
const maxBuckets = 10000

// allow takes one request from the bucket of id, or says how long to wait.
func (l *limiter) allow(id string, now time.Time) (time.Duration, bool) {
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

// give returns one request to id's bucket.
func (l *limiter) give(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.b[id]; ok {
		b.tokens = math.Min(l.burst, b.tokens+1)
	}
}

// loginLimiter throttles failed password logins, which need no token. Only failures count: a
// login that succeeds gives its attempt back, so nobody is locked out by logging in, and a
// guesser from one address cannot lock an agent out everywhere:
//   - per e-mail and client address: 10 failures, then one every 6 seconds (no guessing at
//     speed);
//   - per client address: 30 failures, then one a second (one client cannot try many accounts);
//   - per e-mail from every address: 100 failures, then one every 2 seconds (many clients
//     cannot guess one password at speed).
type loginLimiter struct {
	pair, addr, email *limiter
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{
		pair:  &limiter{rate: 1.0 / 6, burst: 10, b: map[string]*bucket{}},
		addr:  &limiter{rate: 1, burst: 30, b: map[string]*bucket{}},
		email: &limiter{rate: 1.0 / 2, burst: 100, b: map[string]*bucket{}},
	}
}

// loginCheck is one bucket a login attempt takes from.
type loginCheck struct {
	l       *limiter
	key     string
	refusal string
}

func (l *loginLimiter) checks(r *http.Request, email string) []loginCheck {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	email = strings.ToLower(strings.TrimSpace(email))
	return []loginCheck{
		{l.addr, host, "from this address"},
		{l.pair, email + " " + host, "for this e-mail from this address"},
		{l.email, email, "for this e-mail"},
	}
}

// succeeded gives back the attempt of a login that succeeded.
func (l *loginLimiter) succeeded(r *http.Request, email string) {
	for _, c := range l.checks(r, email) {
		c.l.give(c.key)
	}
}

// allow takes one attempt for the e-mail from the client of r, or returns the 429 to answer
// (and takes nothing).
func (l *loginLimiter) allow(w http.ResponseWriter, r *http.Request, email string, now time.Time) error {
	cs := l.checks(r, email)
	for i, c := range cs {
		wait, ok := c.l.allow(c.key, now)
		if ok {
			continue
		}
		for _, d := range cs[:i] {
			d.l.give(d.key)
		}
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return tandem.Errorf(tandem.ERATELIMITED, "Too many failed logins %s; retry after %ds.", c.refusal, secs)
	}
	return nil
}
