package aihttp

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		h    map[string]string
		want time.Duration
	}{
		{nil, 0},
		{map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond},
		{map[string]string{"Retry-After": "-1"}, 0},
		{map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, 250 * time.Millisecond},
		{map[string]string{"Retry-After-Ms": "x", "Retry-After": "2"}, 2 * time.Second},
		{map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0},
		{map[string]string{"Retry-After": "soon"}, 0},
	} {
		h := http.Header{}
		for k, v := range tt.h {
			h.Set(k, v)
		}
		if got := RetryAfter(h, now); got != tt.want {
			t.Errorf("RetryAfter(%v) = %v, want %v", tt.h, got, tt.want)
		}
	}
}

func TestShouldRetry(t *testing.T) {
	h := http.Header{}
	if !ShouldRetry(h, true) || ShouldRetry(h, false) {
		t.Error("without the header the guess stands")
	}
	h.Set("X-Should-Retry", "false")
	if ShouldRetry(h, true) {
		t.Error("x-should-retry: false is not obeyed")
	}
	h.Set("X-Should-Retry", "TRUE")
	if !ShouldRetry(h, false) {
		t.Error("x-should-retry: true is not obeyed")
	}
}

func TestText(t *testing.T) {
	if !QuotaExhausted("You exceeded your current QUOTA") || !QuotaExhausted("credits exhausted") || QuotaExhausted("slow down") {
		t.Error("QuotaExhausted")
	}
	if got := OneLine(" a\n\tb  c "); got != "a b c" {
		t.Errorf("OneLine = %q", got)
	}
	if got := Clip("héllo world", 5); got != "héll…" {
		t.Errorf("Clip = %q", got)
	}
	if got := Clip("short", 5); got != "short" {
		t.Errorf("Clip = %q", got)
	}
}
