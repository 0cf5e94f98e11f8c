package safehttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestGuard(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	tests := []struct {
		name    string
		opts    Options
		blocked bool
	}{
		{"loopback refused by default", Options{}, true},
		{"allowed with AllowPrivate", Options{AllowPrivate: true}, false},
		{"allowed by an allow-list entry", Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL, nil)
			resp, err := NewClient(tt.opts).Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			if got := IsBlocked(err); got != tt.blocked {
				t.Errorf("blocked = %v (err %v), want %v", got, err, tt.blocked)
			}
			if addr, ok := BlockedAddr(err); ok != tt.blocked || (ok && addr.String() != "127.0.0.1") {
				t.Errorf("BlockedAddr = %v, %v; want 127.0.0.1, %v", addr, ok, tt.blocked)
			}
		})
	}
}

func TestBlockedRanges(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "10.0.0.5": true, "192.168.1.1": true, "169.254.169.254": true, "::1": true,
		"fd00::1": true, "100.64.1.1": true, "0.0.0.0": true, "8.8.8.8": false, "2001:4860:4860::8888": false,
	} {
		if got := blocked(netip.MustParseAddr(addr), nil); got != want {
			t.Errorf("blocked(%s) = %v, want %v", addr, got, want)
		}
	}
}
