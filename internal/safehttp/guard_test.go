package safehttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// The guard refuses every range that is not the public internet, including the IPv6 ranges that
// reach IPv4 or private hosts in disguise, and says what kind of address it refused.
func TestGuardRanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		what string // "" when allowed
	}{
		{"198.18.0.1", "benchmarking"}, {"198.19.255.255", "benchmarking"}, {"198.20.0.1", ""},
		{"192.0.0.1", "IETF protocol assignment"}, {"192.0.0.170", "IETF protocol assignment"}, {"192.0.1.1", ""},
		{"100.64.0.1", "carrier-grade NAT"}, {"100.127.255.254", "carrier-grade NAT"}, {"100.128.0.1", ""},
		{"64:ff9b::7f00:1", "NAT64"}, {"64:ff9b::a9fe:a9fe", "NAT64"}, {"64:ff9b:1::a00:1", "local-use NAT64"},
		{"2002:7f00:1::1", "6to4"}, {"2002:a9fe:a9fe::1", "6to4"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"::127.0.0.1", "IPv4-compatible"}, {"::ffff:127.0.0.1", "loopback"}, {"::ffff:10.1.2.3", "private"},
		{"0.1.2.3", "this network"}, {"240.0.0.1", "reserved"}, {"255.255.255.255", "reserved"},
		{"169.254.169.254", "link-local"}, {"fe80::1", "link-local"}, {"fec0::1", "site-local"}, {"fd12::1", "unique local"},
		{"192.0.2.1", "documentation"}, {"2001:db8::1", "documentation"}, {"100::1", "discard-only"},
		{"127.0.0.1", "loopback"}, {"::1", "loopback"}, {"10.0.0.5", "private (RFC 1918)"}, {"172.31.0.1", "private"},
		{"192.168.1.1", "private"}, {"224.0.0.1", "multicast"}, {"ff02::1", "multicast"},
		{"8.8.8.8", ""}, {"1.1.1.1", ""}, {"93.184.216.34", ""}, {"2001:4860:4860::8888", ""}, {"2606:4700::1111", ""},
		{"2001:1::1", ""}, {"2001:2::1", "benchmarking"}, {"2003::1", ""},
	}
	for _, tt := range tests {
		err := check(netip.MustParseAddr(tt.addr), nil)
		var be *BlockedError
		switch {
		case tt.what == "" && err != nil:
			t.Errorf("%s refused: %v", tt.addr, err)
		case tt.what != "" && (!errors.As(err, &be) || !strings.Contains(be.What, tt.what)):
			t.Errorf("%s: %v; want it refused as %s", tt.addr, err, tt.what)
		case tt.what != "" && !IsBlocked(err):
			t.Errorf("%s: IsBlocked(%v) is false", tt.addr, err)
		}
	}
	// http.allow lifts the refusal for what it names, and only that.
	allow := []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("198.18.0.7/32")}
	for addr, want := range map[string]bool{"64:ff9b::7f00:1": false, "198.18.0.7": false, "198.18.0.8": true, "2002::1": true} {
		if got := check(netip.MustParseAddr(addr), allow) != nil; got != want {
			t.Errorf("with %v, %s blocked = %v, want %v", allow, addr, got, want)
		}
	}
}

// A call to a NAT64 address that embeds 127.0.0.1 is refused at dial time, with the address and
// its kind in the error.
func TestGuardDialsNAT64(t *testing.T) {
	t.Parallel()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://[64:ff9b::7f00:1]:9/", nil)
	_, err := NewClient(Options{Timeout: 5 * time.Second}).Do(req)
	if a, ok := BlockedAddr(err); !ok || a.String() != "64:ff9b::7f00:1" || !strings.Contains(err.Error(), "NAT64 (RFC 6052) address") {
		t.Errorf("err = %v; want the NAT64 address refused", err)
	}
}

// forwardProxy is an HTTP forward proxy that records what it was asked for and answers itself.
type forwardProxy struct {
	mu   sync.Mutex
	urls []string
}

func (p *forwardProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.urls = append(p.urls, r.Method+" "+r.URL.String())
	p.mu.Unlock()
	fmt.Fprint(w, "via proxy")
}

func (p *forwardProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.urls...)
}

// With a proxy configured (http.proxy), the guard checks the target before the request goes to
// the proxy — an address, or every address a name resolves to — while the proxy itself, the
// operator's, may be anywhere (here on loopback).
func TestGuardChecksTargetThroughProxy(t *testing.T) {
	t.Parallel()
	fp := &forwardProxy{}
	srv := httptest.NewServer(fp)
	t.Cleanup(srv.Close)
	pu, _ := url.Parse(srv.URL)
	client := NewClient(Options{Proxy: pu, Timeout: 5 * time.Second})
	get := func(target string) (string, error) {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", target, nil)
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		return string(b[:n]), nil
	}
	for _, target := range []string{"http://10.0.0.1/admin", "http://[64:ff9b::a00:1]/", "http://198.18.0.1/", "http://localhost:8080/"} {
		if _, err := get(target); !IsBlocked(err) {
			t.Errorf("%s through the proxy: %v; want it refused", target, err)
		}
	}
	if got := fp.seen(); len(got) != 0 {
		t.Errorf("the proxy was asked for refused targets: %q", got)
	}
	body, err := get("http://93.184.216.34/page")
	if err != nil || body != "via proxy" {
		t.Fatalf("a public address through the proxy: %q, %v", body, err)
	}
	if got := fp.seen(); len(got) != 1 || got[0] != "GET http://93.184.216.34/page" {
		t.Errorf("the proxy saw %q", got)
	}
}

const envGuardChild = "SAFEHTTP_GUARD_CHILD"

// HTTP_PROXY does not carry a guarded client's calls past the guard: run with it pointing at an
// allowed proxy, a call to a private address is refused and the proxy sees nothing. (Before,
// the client dialed the proxy, which is allowed, and the proxy reached the private target.) The
// environment is read once per process, so the check runs in a child process.
func TestGuardIgnoresEnvironmentProxy(t *testing.T) {
	if os.Getenv(envGuardChild) == "1" {
		allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} // the proxy's address
		req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://10.255.255.1/secret", nil)
		_, err := NewClient(Options{Allow: allow, Timeout: 5 * time.Second}).Do(req)
		if !IsBlocked(err) {
			fmt.Printf("NOT BLOCKED: %v\n", err)
			os.Exit(1)
		}
		fmt.Println("BLOCKED")
		os.Exit(0)
	}
	t.Parallel()
	fp := &forwardProxy{}
	srv := httptest.NewServer(fp)
	t.Cleanup(srv.Close)
	cmd := exec.Command(os.Args[0], "-test.run=^TestGuardIgnoresEnvironmentProxy$", "-test.count=1")
	cmd.Env = append(os.Environ(), envGuardChild+"=1", "HTTP_PROXY="+srv.URL, "http_proxy="+srv.URL, "NO_PROXY=", "no_proxy=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "BLOCKED") {
		t.Errorf("child: %v\n%s", err, out)
	}
	if got := fp.seen(); len(got) != 0 {
		t.Errorf("HTTP_PROXY carried the call past the guard: the proxy was asked for %q", got)
	}
}

// An IPv6 address with a zone (fe80::1%eth0) is the address without it: netip's prefixes never
// contain a zoned address, so the guard once let every zoned link-local, loopback or private
// address through and the call reached the network.
func TestGuardRefusesZonedAddresses(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"fe80::1%lo", "fe80::1%eth0", "::1%lo", "fd00:ec2::254%1", "::ffff:127.0.0.1%lo"} {
		err := check(netip.MustParseAddr(addr), nil)
		if !IsBlocked(err) {
			t.Errorf("%s: %v; want it refused", addr, err)
		}
		if !blocked(netip.MustParseAddr(addr), nil) {
			t.Errorf("blocked(%s) is false", addr)
		}
	}
	// Through the client: the call is refused before it connects, naming the address.
	c := NewClient(Options{Timeout: 5 * time.Second})
	_, err := c.Get("http://[fe80::1%25lo]:9/")
	if !IsBlocked(err) {
		t.Fatalf("GET http://[fe80::1%%25lo]:9/: %v; want the guard's refusal", err)
	}
	if !strings.Contains(err.Error(), "link-local") {
		t.Errorf("the refusal %q does not say link-local", err)
	}
	// An allowed prefix still allows the zoned form of its addresses.
	if err := check(netip.MustParseAddr("fe80::1%lo"), []netip.Prefix{netip.MustParsePrefix("fe80::/10")}); err != nil {
		t.Errorf("fe80::1%%lo with http.allow fe80::/10: %v", err)
	}
}

// The refusal reads as English: "an unspecified", "a private".
func TestBlockedErrorArticle(t *testing.T) {
	t.Parallel()
	for what, want := range map[string]string{"unspecified, loopback or IPv4-compatible": "::1 is an unspecified", "private (RFC 1918)": "::1 is a private"} {
		err := &BlockedError{Addr: netip.MustParseAddr("::1"), What: what}
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q, want it to start with %q", err.Error(), want)
		}
	}
}
