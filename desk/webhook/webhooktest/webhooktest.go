// Package webhooktest is a fake webhook desk for tests (contracts/handoff-webhook.md §9): an
// HTTP server on 127.0.0.1 that records every request and answers 200 {"code":0,"message":"ok"}
// unless told otherwise, per path: any status (with Retry-After), a stall, a dropped connection.
// It also serves GET /health with a status that can be switched.
package webhooktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Request is one request the fake desk got.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	At     time.Time
}

// JSON decodes the request's body as an object.
func (r Request) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		tb.Fatalf("%s %s: the body is not a JSON object (%v): %s", r.Method, r.Path, err, r.Body)
	}
	return v
}

// Reply is how the fake desk answers one request.
type Reply struct {
	Status     int    // default 200
	RetryAfter string // the Retry-After header, when set
	// Stall holds the answer this long (or until the client gives up, or the test ends).
	Stall time.Duration
	// Hangup closes the connection without an answer.
	Hangup bool
}

// Desk is a fake webhook desk.
type Desk struct {
	URL string // the base URL: configure it as the desk's url
	srv *httptest.Server

	mu      sync.Mutex
	reqs    []Request
	scripts map[string][]Reply
	health  int
	done    chan struct{}
	notify  chan struct{}
}

// New starts a fake desk on 127.0.0.1; it stops when the test ends.
func New(tb testing.TB) *Desk {
	tb.Helper()
	d := &Desk{scripts: map[string][]Reply{}, health: http.StatusOK, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	d.URL = d.srv.URL
	tb.Cleanup(func() {
		close(d.done)
		d.srv.Close()
	})
	return d
}

// Client returns a client for the fake desk.
func (d *Desk) Client() *http.Client { return d.srv.Client() }

// Script queues replies for the next requests on path (e.g. "/chat"); after them, 200.
func (d *Desk) Script(path string, replies ...Reply) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.scripts[path] = append(d.scripts[path], replies...)
}

// SetHealth sets the status of GET /health.
func (d *Desk) SetHealth(status int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.health = status
}

// Requests returns the requests received on path, in order ("" for all of them).
func (d *Desk) Requests(path string) []Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Request
	for _, r := range d.reqs {
		if path == "" || r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// Wait waits until the desk got n requests on path, or fails the test after d.
func (d *Desk) Wait(tb testing.TB, path string, n int, within time.Duration) []Request {
	tb.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		if got := d.Requests(path); len(got) >= n {
			return got
		}
		select {
		case <-d.notify:
		case <-deadline.C:
			tb.Fatalf("fake desk: %d requests on %s after %s, want %d", len(d.Requests(path)), path, within, n)
		}
	}
}

func (d *Desk) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	d.reqs = append(d.reqs, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: time.Now()})
	reply := Reply{Status: http.StatusOK}
	if r.Method == http.MethodGet && r.URL.Path == "/health" {
		reply.Status = d.health
	} else if q := d.scripts[r.URL.Path]; len(q) > 0 {
		reply, d.scripts[r.URL.Path] = q[0], q[1:]
	}
	d.mu.Unlock()
	select {
	case d.notify <- struct{}{}:
	default:
	}
	if reply.Stall > 0 {
		t := time.NewTimer(reply.Stall)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-d.done:
		}
		t.Stop()
	}
	if reply.Hangup {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if reply.Status == 0 {
		reply.Status = http.StatusOK
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(reply.Status)
	code, msg := 0, "ok"
	if reply.Status >= 300 {
		code, msg = reply.Status*100, http.StatusText(reply.Status)
	}
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg})
}
