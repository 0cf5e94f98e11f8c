// Package clientaddr tells the address of the client a request comes from: the connection's
// peer, or, when the peer is a reverse proxy the configuration trusts, the address that proxy
// (and any trusted proxy before it) wrote into X-Forwarded-For. A header from anyone else is
// ignored, so a client cannot choose the address it is throttled by.
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver reads client addresses behind the trusted proxies. The zero value trusts none.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver that trusts X-Forwarded-For from peers in trusted.
func New(trusted []netip.Prefix) Resolver { return Resolver{trusted: trusted} }

// Addr returns the client's address of r, as text ("203.0.113.7", "2001:db8::1").
func (res Resolver) Addr(r *http.Request) string {
	peer := hostOf(r.RemoteAddr)
	a, err := netip.ParseAddr(peer)
	if err != nil || !res.trusts(a) {
		return peer
	}
	// The right-most address a trusted proxy did not write is the client: entries to its left
	// came from the client itself and may be anything.
	client := a
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(hostOf(strings.TrimSpace(parts[j])))
			if err != nil {
				return client.Unmap().String() // garbage: stop at the last address known good
			}
			client = hop
			if !res.trusts(hop) {
				return hop.Unmap().String()
			}
		}
	}
	return client.Unmap().String()
}

func (res Resolver) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hostOf drops a port ("1.2.3.4:80", "[::1]:80") and the brackets of an IPv6 address.
func hostOf(s string) string {
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return strings.Trim(s, "[]")
}
