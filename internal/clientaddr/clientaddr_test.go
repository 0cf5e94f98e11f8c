package clientaddr

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestAddr(t *testing.T) {
	t.Parallel()
	proxies := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")})
	for _, c := range []struct {
		name string
		res  Resolver
		peer string
		xff  []string
		want string
	}{
		{"no trusted proxy: the peer, whatever the header says", Resolver{}, "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"an untrusted peer's header is ignored", proxies, "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"a trusted proxy names the client", proxies, "10.0.0.2:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a forged entry left of the client is not taken", proxies, "10.0.0.2:443", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies in a row", proxies, "10.0.0.2:443", []string{"198.51.100.1, 10.0.0.9"}, "198.51.100.1"},
		{"the header written twice", proxies, "10.0.0.2:443", []string{"1.2.3.4", "198.51.100.1"}, "198.51.100.1"},
		{"a port on an entry", proxies, "10.0.0.2:443", []string{"198.51.100.1:7000"}, "198.51.100.1"},
		{"IPv6 peer and client", proxies, "[::1]:443", []string{"2001:db8::7"}, "2001:db8::7"},
		{"no header: the proxy itself", proxies, "10.0.0.2:443", nil, "10.0.0.2"},
		{"garbage stops at the last good address", proxies, "10.0.0.2:443", []string{"nonsense, 10.0.0.9"}, "10.0.0.9"},
		{"only trusted addresses: the left-most", proxies, "10.0.0.2:443", []string{"10.0.0.5, 10.0.0.9"}, "10.0.0.5"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := c.res.Addr(r); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
