// Package aihttp holds what every AI provider adapter does the same way with an HTTP answer:
// whether it says to retry, whether a 429 is a used-up quota,
// and how a server's text is cut down for an error message.
package aihttp

import (
	"net/http"
	"strings"
)

// MalformedStatus is the status given to a 2xx answer whose body is not what the API sends:
// something between Tandem and the API (a proxy, a captive portal) answered, as a bad gateway
// does, so it is reported and retried like one.
const MalformedStatus = http.StatusBadGateway

// ShouldRetry applies the server's x-should-retry header, when it sends one, to a guess.
func ShouldRetry(h http.Header, guess bool) bool {
	switch strings.ToLower(strings.TrimSpace(h.Get("X-Should-Retry"))) {
	case "true":
		return true
	case "false":
		return false
	}
	return guess
}

// QuotaExhausted reports an error text saying that a quota or credits are used up: a 429 that
// waiting a little does not fix.
func QuotaExhausted(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "quota") || strings.Contains(s, "credit")
}

// OneLine collapses runs of white space, newlines included, into single spaces.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Clip shortens s to at most n runes, the last one an ellipsis when it was cut.
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
