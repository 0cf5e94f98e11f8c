// Package safehttp builds the HTTP client for calls whose URLs users configure (http steps,
// tools, webhooks): timeouts on every phase, a cap on response bodies, and a guard that refuses
// addresses that are not the public internet — private, loopback, link-local, carrier-grade
// NAT, benchmarking, reserved, and the IPv6 ranges that reach IPv4 or private hosts in disguise
// (NAT64, 6to4, Teredo) — at dial time, after DNS resolution (so a name that resolves to
// 127.0.0.1 is refused too), unless they are explicitly allowed.
//
// A guarded client ignores HTTP_PROXY and HTTPS_PROXY: a proxy dials the target itself, where
// the guard cannot see. A proxy given in Options carries every call; the target is then checked
// before the request is handed to it (its name resolved here; the proxy resolves it again, so
// it should refuse private ranges too).
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// MaxBody is the default cap on a response body.
const MaxBody = 4 << 20

// Options configure a client.
type Options struct {
	// AllowPrivate lets calls reach every address: the guard is off. Such a client uses the
	// environment's proxy (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) unless Proxy is set.
	AllowPrivate bool
	// Allow lists networks that are reachable even when guarded ("10.1.0.0/16", "127.0.0.1/32").
	Allow []netip.Prefix
	// Timeout bounds a whole call when the caller's context has no deadline.
	Timeout time.Duration
	// Proxy, when set, carries every call. The proxy's own address is not guarded (it is the
	// operator's); the target's is, before the request goes to the proxy.
	Proxy *url.URL
}

// ErrBlocked is returned when the guard refuses an address.
var ErrBlocked = errors.New("the address is not on the public internet and is not allowed")

// BlockedError is the guard's refusal of one address; errors.Is(err, ErrBlocked) holds.
type BlockedError struct {
	Addr netip.Addr
	// What kind of address it is ("private (RFC 1918)", "NAT64 (RFC 6052)").
	What string
}

func (e *BlockedError) Error() string {
	article := "a"
	if e.What != "" && strings.ContainsRune("aeiouAEIOU", rune(e.What[0])) {
		article = "an"
	}
	return fmt.Sprintf("%s is %s %s address, which is not allowed", e.Addr, article, e.What)
}

// Unwrap implements errors.Is for ErrBlocked.
func (e *BlockedError) Unwrap() error { return ErrBlocked }

// BlockedAddr returns the address the guard refused, when err is such a refusal.
func BlockedAddr(err error) (netip.Addr, bool) {
	var be *BlockedError
	if errors.As(err, &be) {
		return be.Addr, true
	}
	return netip.Addr{}, false
}

// NewClient returns a guarded client.
func NewClient(o Options) *http.Client {
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	guard := func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("safehttp: %q is not an IP address", host)
		}
		return check(ip, o.Allow)
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	proxy := http.ProxyFromEnvironment
	if !o.AllowPrivate {
		guarded := &net.Dialer{Timeout: dialer.Timeout, KeepAlive: dialer.KeepAlive, Control: guard}
		proxy = func(*http.Request) (*url.URL, error) { return nil, nil } // never the environment's
		dial = guarded.DialContext
		if o.Proxy != nil {
			proxyAddr := hostPort(o.Proxy)
			dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr == proxyAddr {
					return dialer.DialContext(ctx, network, addr)
				}
				return guarded.DialContext(ctx, network, addr)
			}
		}
	}
	if o.Proxy != nil {
		p := o.Proxy
		proxy = func(req *http.Request) (*url.URL, error) {
			if !o.AllowPrivate {
				if err := checkHost(req.Context(), req.URL.Hostname(), o.Allow); err != nil {
					return nil, err
				}
			}
			return p, nil
		}
	}
	t := &http.Transport{
		Proxy:                 proxy,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: o.Timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: t,
		Timeout:   o.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			return nil
		},
	}
}

// hostPort is the address the transport dials for a proxy URL.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// checkHost checks every address a request's host resolves to (or the address it is).
func checkHost(ctx context.Context, host string, allow []netip.Prefix) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		return check(ip, allow)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("safehttp: %s cannot be resolved: %w", host, err)
	}
	for _, ip := range ips {
		if err := check(ip, allow); err != nil {
			return err
		}
	}
	return nil
}

// check refuses an address that is not on the public internet, unless allow holds it.
func check(ip netip.Addr, allow []netip.Prefix) error {
	ip = plain(ip)
	if what, ok := blockedRange(ip, allow); ok {
		return &BlockedError{Addr: ip, What: what}
	}
	return nil
}

func blocked(ip netip.Addr, allow []netip.Prefix) bool {
	_, ok := blockedRange(plain(ip), allow)
	return ok
}

// plain is the address the guard judges: without its IPv6 zone (fe80::1%eth0 is fe80::1, and
// netip's prefixes never contain a zoned address) and an IPv4-mapped one as its IPv4 address.
func plain(ip netip.Addr) netip.Addr { return ip.WithZone("").Unmap() }

// ranges are the networks the guard refuses, with what they are.
var ranges = func() []struct {
	p    netip.Prefix
	what string
} {
	var out []struct {
		p    netip.Prefix
		what string
	}
	for _, r := range [][2]string{
		{"0.0.0.0/8", `"this network" (RFC 1122)`},
		{"10.0.0.0/8", "private (RFC 1918)"},
		{"100.64.0.0/10", "carrier-grade NAT (RFC 6598)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private (RFC 1918)"},
		{"192.0.0.0/24", "IETF protocol assignment (RFC 6890)"},
		{"192.0.2.0/24", "documentation (RFC 5737)"},
		{"192.168.0.0/16", "private (RFC 1918)"},
		{"198.18.0.0/15", "benchmarking (RFC 2544)"},
		{"198.51.100.0/24", "documentation (RFC 5737)"},
		{"203.0.113.0/24", "documentation (RFC 5737)"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved (RFC 1112)"},
		{"::/96", "unspecified, loopback or IPv4-compatible"},
		{"64:ff9b::/96", "NAT64 (RFC 6052)"},
		{"64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"},
		{"100::/64", "discard-only (RFC 6666)"},
		{"2001::/32", "Teredo (RFC 4380)"},
		{"2001:2::/48", "benchmarking (RFC 5180)"},
		{"2001:db8::/32", "documentation (RFC 3849)"},
		{"2002::/16", "6to4 (RFC 3056)"},
		{"fc00::/7", "unique local (private)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	} {
		out = append(out, struct {
			p    netip.Prefix
			what string
		}{netip.MustParsePrefix(r[0]), r[1]})
	}
	return out
}()

// blockedRange says what kind of address ip is when the guard refuses it.
func blockedRange(ip netip.Addr, allow []netip.Prefix) (string, bool) {
	for _, p := range allow {
		if p.Contains(ip) {
			return "", false
		}
	}
	for _, r := range ranges {
		if r.p.Contains(ip) {
			return r.what, true
		}
	}
	return "", false
}

// IsBlocked reports whether err came from the guard.
func IsBlocked(err error) bool { return errors.Is(err, ErrBlocked) }

// WithTimeout returns ctx bounded by d unless it already has an earlier deadline.
func WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
