package aihttp

import (
	"net/http"
	"testing"
)

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
