// Package safehttp builds the HTTP client for calls whose URLs users configure (http steps,
// tools, webhooks): timeouts on every phase, a cap on response bodies, and a guard that refuses
// private, loopback and link-local addresses at dial time (after DNS resolution, so a name that
// resolves to 127.0.0.1 is refused too), unless they are explicitly allowed.
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// MaxBody is the default cap on a response body.
const MaxBody = 4 << 20

// Options configure a client.
type Options struct {
	// AllowPrivate lets calls reach private, loopback and link-local addresses.
	AllowPrivate bool
	// Allow lists networks that are reachable even when private ("10.1.0.0/16", "127.0.0.1/32").
	Allow []netip.Prefix
	// Timeout bounds a whole call when the caller's context has no deadline.
	Timeout time.Duration
}

// ErrBlocked is returned when the guard refuses an address.
var ErrBlocked = errors.New("the address is private, loopback or link-local and is not allowed")

// BlockedError is the guard's refusal of one address; errors.Is(err, ErrBlocked) holds.
type BlockedError struct{ Addr netip.Addr }

func (e *BlockedError) Error() string { return e.Addr.String() + ": " + ErrBlocked.Error() }

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
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			if o.AllowPrivate {
				return nil
			}
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return fmt.Errorf("safehttp: %q is not an IP address", host)
			}
			if blocked(ip.Unmap(), o.Allow) {
				return &BlockedError{Addr: ip.Unmap()}
			}
			return nil
		},
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
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

func blocked(ip netip.Addr, allow []netip.Prefix) bool {
	for _, p := range allow {
		if p.Contains(ip) {
			return false
		}
	}
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(ip) // carrier-grade NAT
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
