package web

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

func TestIdentityHashIsChatwoots(t *testing.T) {
	t.Parallel()
	// Chatwoot's identifier_hash: OpenSSL::HMAC.hexdigest('sha256', key, identifier).
	if got, want := IdentityHash("key", "The quick brown fox jumps over the lazy dog"), "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"; got != want {
		t.Errorf("IdentityHash = %s, want %s", got, want)
	}
	c := New(channel.Config{ID: "web", Kind: Kind, IdentitySecret: "new", IdentitySecretPrevious: "old"}, channel.Deps{})
	for _, tc := range []struct {
		id, hash string
		want     bool
	}{
		{"u-42", IdentityHash("new", "u-42"), true},
		{"u-42", strings.ToUpper(IdentityHash("new", "u-42")), true},
		{"u-42", IdentityHash("old", "u-42"), true}, // the rotation window
		{"u-42", IdentityHash("other", "u-42"), false},
		{"u-43", IdentityHash("new", "u-42"), false},
		{"u-42", "", false},
		{"", IdentityHash("new", ""), false},
	} {
		if got := c.verified(tc.id, tc.hash); got != tc.want {
			t.Errorf("verified(%q, %q) = %v, want %v", tc.id, tc.hash, got, tc.want)
		}
	}
	if New(channel.Config{ID: "web", Kind: Kind}, channel.Deps{}).verified("u-42", IdentityHash("", "u-42")) {
		t.Error("a channel without identity_secret verified a hash made with an empty key")
	}
}

func TestOrigins(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("POST", "http://bot.acme.com/widget/v1/web/sessions", nil)
	r.Header.Set("Origin", "http://bot.acme.com")
	c := New(channel.Config{ID: "web", Kind: Kind, AllowedOrigins: []string{"https://acme.com/"}}, channel.Deps{})
	for origin, want := range map[string]bool{"https://acme.com": true, "https://ACME.com": true, "http://bot.acme.com": true,
		"https://evil.com": false, "https://acme.com.evil.com": false, "": false} {
		if got := c.originAllowed(origin, r); got != want {
			t.Errorf("originAllowed(%q) = %v, want %v", origin, got, want)
		}
	}
	if got := c.frameAncestors(); got != "'self' https://acme.com" {
		t.Errorf("frame-ancestors %q", got)
	}
	if got := New(channel.Config{ID: "web", Kind: Kind}, channel.Deps{}).frameAncestors(); got != "*" {
		t.Errorf("frame-ancestors without allowed_origins: %q", got)
	}
}

func TestCheckValues(t *testing.T) {
	t.Parallel()
	many := map[string]any{}
	for i := range 51 {
		many["k"+strings.Repeat("x", i)] = 1.0
	}
	for _, tc := range []struct {
		m    map[string]any
		code string
	}{
		{map[string]any{"plan": "pro", "seats": 3.0, "trial": true, "gone": nil}, ""},
		{map[string]any{"Plan": "pro"}, tandem.EINVALID},
		{map[string]any{"1plan": "pro"}, tandem.EINVALID},
		{map[string]any{"plan": []any{"a"}}, tandem.EINVALID},
		{map[string]any{"plan": map[string]any{}}, tandem.EINVALID},
		{map[string]any{"plan": strings.Repeat("é", 1025)}, tandem.ETOOLARGE},
		{many, tandem.ETOOLARGE},
	} {
		if got := tandem.ErrorCode(checkValues("variables", tc.m)); got != tc.code {
			t.Errorf("checkValues(%v) = %q, want %q", tc.m, got, tc.code)
		}
	}
}

func TestStartPositions(t *testing.T) {
	t.Parallel()
	convs := []Conversation{{ID: "a", MsgSeq: 150, Status: "closed"}, {ID: "b", MsgSeq: 120, Status: "bot"}}
	seqs := func(ps []convPos) []int64 {
		var out []int64
		for _, p := range ps {
			out = append(out, p.seq)
		}
		return out
	}
	for _, tc := range []struct {
		cursor string
		want   []int64
	}{
		{"", []int64{70, 0}}, // the last 200 messages: 80 of a, all of b
		{cursor("b", 100), []int64{150, 100}},
		{cursor("a", 10), []int64{10, 0}},
		{cursor("b", 999), []int64{150, 120}}, // past the end: nothing to replay
		{cursor("gone", 3), []int64{70, 0}},   // an unknown conversation: the recent history
		{"garbage", []int64{70, 0}},
	} {
		if got := seqs(startPositions(convs, tc.cursor)); !equal(got, tc.want) {
			t.Errorf("startPositions(%q) = %v, want %v", tc.cursor, got, tc.want)
		}
	}
	if got := seqs(startPositions([]Conversation{{ID: "a", MsgSeq: 5}}, "")); !equal(got, []int64{0}) {
		t.Errorf("a short history: %v", got)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCursor(t *testing.T) {
	t.Parallel()
	conv, seq, ok := parseCursor(cursor("01J.X", 17))
	if !ok || conv != "01J.X" || seq != 17 {
		t.Errorf("parseCursor: %q %d %v", conv, seq, ok)
	}
	for _, bad := range []string{"", "17", ".17", "a.-1", "a.b"} {
		if _, _, ok := parseCursor(bad); ok {
			t.Errorf("parseCursor(%q) accepted", bad)
		}
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	c := New(channel.Config{ID: "web", Kind: Kind}, channel.Deps{})
	now := timeZero
	for i := range DefaultRateLimit {
		if _, ok := c.limiter.Allow("s", now); !ok {
			t.Fatalf("message %d refused", i+1)
		}
	}
	wait, ok := c.limiter.Allow("s", now)
	if ok || wait <= 0 || wait > RatePeriod {
		t.Errorf("the 11th message: %v %v, want a wait of at most %s", ok, wait, RatePeriod)
	}
	if _, ok := c.limiter.Allow("other", now); !ok {
		t.Error("another session was limited")
	}
	if _, ok := c.limiter.Allow("s", now.Add(wait)); !ok {
		t.Error("refused after the wait it gave")
	}
}

var timeZero = mustTime("2026-01-01T00:00:00Z")

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
