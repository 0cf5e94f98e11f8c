package chatbase

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// malformedStatus is the status given to a 2xx answer whose body is not what the API sends:
// something between Tandem and the API (a proxy, a captive portal) answered, as a bad gateway
// does, so it is reported and retried like one.
const malformedStatus = http.StatusBadGateway

// retryAfter reads how long the server asks to wait: retry-after-ms (milliseconds), else
// Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if ms, err := strconv.ParseFloat(strings.TrimSpace(h.Get("Retry-After-Ms")), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// shouldRetry applies the server's x-should-retry header, when it sends one, to a guess.
func shouldRetry(h http.Header, guess bool) bool {
	switch strings.ToLower(strings.TrimSpace(h.Get("X-Should-Retry"))) {
	case "true":
		return true
	case "false":
		return false
	}
	return guess
}

// quotaExhausted reports an error text saying that a quota or credits are used up: a 429 that
// waiting a little does not fix.
func quotaExhausted(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "quota") || strings.Contains(s, "credit")
}
