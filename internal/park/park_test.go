package park

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pollServer serves long-polls on key "k": the answer is "news" once news is set, and
// "nothing" at the deadline.
type pollServer struct {
	lot   *Lot
	news  atomic.Bool
	wait  time.Duration
	ended chan int // statuses of ended parked requests
	// beforePark runs between Watch and Park.
	beforePark func()
}

func newPollServer(t *testing.T, wait time.Duration) (*pollServer, *httptest.Server) {
	p := &pollServer{lot: New(4), wait: wait, ended: make(chan int, 100)}
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		p.lot.Stop()
		srv.Close()
	})
	return p, srv
}

func (p *pollServer) answer(_ context.Context, last bool) (*Answer, bool) {
	if p.news.Load() {
		return &Answer{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("news")}, true
	}
	if last {
		return &Answer{Status: 200, Body: []byte("nothing")}, true
	}
	return nil, false
}

func (p *pollServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := p.lot.Watch("k")
	if a, done := p.answer(r.Context(), false); done {
		t.Cancel()
		w.Write(a.Body)
		return
	}
	if p.beforePark != nil {
		p.beforePark()
	}
	w.Header().Set("X-Request-Id", "r1")
	parked, err := t.Park(w, Request{Deadline: time.Now().Add(p.wait), Answer: p.answer, Done: func(s int) { p.ended <- s }})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	if !parked {
		select {
		case <-t.Woken():
		case <-time.After(p.wait):
			t.Cancel()
		}
		a, _ := p.answer(r.Context(), true)
		io.WriteString(w, "fallback "+string(a.Body))
	}
}

func get(t *testing.T, c *http.Client, url string) (string, *http.Response) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp
}

// A parked request is answered when its key is woken, with the handler's headers, and its
// connection is closed after the answer.
func TestWakeAnswers(t *testing.T) {
	t.Parallel()
	p, srv := newPollServer(t, 30*time.Second)
	got := make(chan string, 1)
	var resp *http.Response
	go func() {
		var body string
		body, resp = get(t, srv.Client(), srv.URL)
		got <- body
	}()
	waitFor(t, "the request to park", 5*time.Second, func() bool { return p.lot.Waiting() == 1 })
	p.news.Store(true)
	p.lot.Wake("k")
	select {
	case body := <-got:
		if body != "news" || resp.Header.Get("X-Request-Id") != "r1" || resp.Header.Get("Content-Type") != "text/plain" || !resp.Close {
			t.Errorf("answer %q, headers %v, close %v; want news, the handler's headers, Connection: close", body, resp.Header, resp.Close)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer after the wake-up")
	}
	if s := <-p.ended; s != 200 {
		t.Errorf("Done got %d, want 200", s)
	}
	if n := p.lot.Waiting(); n != 0 {
		t.Errorf("%d still parked", n)
	}
}

// A wake-up with nothing new leaves the request waiting; at its deadline it gets the last
// answer.
func TestNothingNewWaitsForTheDeadline(t *testing.T) {
	t.Parallel()
	p, srv := newPollServer(t, 300*time.Millisecond)
	start := time.Now()
	got := make(chan string, 1)
	go func() {
		body, _ := get(t, srv.Client(), srv.URL)
		got <- body
	}()
	waitFor(t, "the request to park", 5*time.Second, func() bool { return p.lot.Waiting() == 1 })
	p.lot.Wake("k")
	waitFor(t, "the request to park again", 5*time.Second, func() bool { return p.lot.Watching("k") == 1 })
	if body := <-got; body != "nothing" || time.Since(start) < 300*time.Millisecond {
		t.Errorf("answer %q after %s; want nothing after the 300ms wait", body, time.Since(start))
	}
}

// A wake-up between Watch and Park is not lost.
func TestWakeBeforeParkIsKept(t *testing.T) {
	t.Parallel()
	p, srv := newPollServer(t, 30*time.Second)
	p.beforePark = func() {
		p.news.Store(true)
		p.lot.Wake("k")
	}
	done := make(chan string, 1)
	go func() {
		body, _ := get(t, srv.Client(), srv.URL)
		done <- body
	}()
	select {
	case body := <-done:
		if body != "news" {
			t.Errorf("answer %q, want news", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wake-up before Park was lost")
	}
}

// A client that leaves is forgotten without waiting for its deadline.
func TestClientGoneIsForgotten(t *testing.T) {
	t.Parallel()
	p, srv := newPollServer(t, time.Minute)
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "the request to park", 5*time.Second, func() bool { return p.lot.Waiting() == 1 })
	conn.Close()
	select {
	case s := <-p.ended:
		if s != 0 {
			t.Errorf("Done got %d, want 0 (the client left)", s)
		}
	case <-time.After(3 * sweepEvery):
		t.Fatal("the parked request of a client that left was kept")
	}
	if n := p.lot.Watching("k"); n != 0 {
		t.Errorf("%d still watching", n)
	}
}

// Stop answers every parked request as at its deadline.
func TestStopAnswers(t *testing.T) {
	t.Parallel()
	p, srv := newPollServer(t, time.Minute)
	got := make(chan string, 3)
	for range 3 {
		go func() {
			body, _ := get(t, srv.Client(), srv.URL)
			got <- body
		}()
	}
	waitFor(t, "the requests to park", 5*time.Second, func() bool { return p.lot.Waiting() == 3 })
	p.lot.Stop()
	for range 3 {
		select {
		case body := <-got:
			if body != "nothing" {
				t.Errorf("answer %q at stop, want nothing", body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a parked request was not answered at stop")
		}
	}
}

// Parked requests hold no goroutine: a hundred of them leave the count where it was.
func TestParkedHoldNoGoroutine(t *testing.T) {
	p, srv := newPollServer(t, time.Minute)
	before := runtime.NumGoroutine()
	var conns []net.Conn
	for range 100 {
		c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	waitFor(t, "the requests to park", 10*time.Second, func() bool { return p.lot.Waiting() == 100 })
	// The server's connection goroutines end once their requests are taken over.
	waitFor(t, "the handlers to return", 10*time.Second, func() bool { return runtime.NumGoroutine() <= before+5 })
	p.news.Store(true)
	p.lot.Wake("k")
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "news" {
			t.Fatalf("answer %q, want news", b)
		}
		c.Close()
	}
}

// Over HTTP/2 the connection cannot be taken over: Park says so and the handler waits itself.
func TestHTTP2WaitsInTheHandler(t *testing.T) {
	t.Parallel()
	p := &pollServer{lot: New(4), wait: 30 * time.Second, ended: make(chan int, 10)}
	srv := httptest.NewUnstartedServer(p)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(func() {
		p.lot.Stop()
		srv.Close()
	})
	got := make(chan string, 1)
	go func() {
		body, resp := get(t, srv.Client(), srv.URL)
		got <- resp.Proto + " " + body
	}()
	waitFor(t, "the handler to wait", 5*time.Second, func() bool { return p.lot.Watching("k") == 1 })
	p.news.Store(true)
	p.lot.Wake("k")
	select {
	case s := <-got:
		if s != "HTTP/2.0 fallback news" {
			t.Errorf("got %q, want HTTP/2.0 fallback news", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer over HTTP/2")
	}
}
