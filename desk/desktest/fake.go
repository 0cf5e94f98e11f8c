package desktest

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request a fake API got.
type Request struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// Route is "METHOD /path" of the request.
func (r Request) Route() string { return r.Method + " " + r.Path }

// JSON decodes the body as an object.
func (r Request) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		tb.Fatalf("%s: the body is not a JSON object (%v): %s", r.Route(), err, r.Body)
	}
	return v
}

// Reply overrides how a fake answers one request.
type Reply struct {
	Status int               // the status (with Body, default the desk's error body or "{}")
	Header map[string]string // e.g. Retry-After
	Body   string
	// Stall holds the answer this long (or until the client gives up or the test ends).
	Stall time.Duration
	// Hangup closes the connection without an answer; with Handled, after the fake handled the
	// request normally (a lost answer to a call that took effect).
	Hangup  bool
	Handled bool
}

// Fake is an HTTP server on 127.0.0.1 standing in for a desk's API: it records every request
// and hands it to Handler, unless a scripted Reply for its route comes first.
type Fake struct {
	URL string
	srv *httptest.Server
	// Handler serves the API; body is the request's body, already read.
	Handler func(w http.ResponseWriter, r *http.Request, body []byte)

	mu      sync.Mutex
	reqs    []Request
	scripts []script
	down    bool
	done    chan struct{}
	notify  chan struct{}
}

type script struct {
	pattern string
	replies []Reply
}

// NewFake starts a fake; it stops when the test ends.
func NewFake(tb testing.TB, h func(w http.ResponseWriter, r *http.Request, body []byte)) *Fake {
	tb.Helper()
	f := &Fake{Handler: h, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	tb.Cleanup(func() {
		close(f.done)
		f.srv.Close()
	})
	return f
}

// Client returns a client for the fake.
func (f *Fake) Client() *http.Client { return f.srv.Client() }

// Script queues replies for the next requests whose "METHOD /path" matches pattern (path.Match
// syntax: "POST /conversations/*/reply"); after them the Handler answers again.
func (f *Fake) Script(pattern string, replies ...Reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.scripts {
		if f.scripts[i].pattern == pattern {
			f.scripts[i].replies = append(f.scripts[i].replies, replies...)
			return
		}
	}
	f.scripts = append(f.scripts, script{pattern, replies})
}

// SetDown makes every request answer 503 (the service is down) until SetDown(false).
func (f *Fake) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// Requests returns the requests whose route matches pattern, in order ("" for all).
func (f *Fake) Requests(pattern string) []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Request
	for _, r := range f.reqs {
		if pattern == "" || match(pattern, r.Route()) {
			out = append(out, r)
		}
	}
	return out
}

// Wait waits until n requests match pattern, or fails the test after within.
func (f *Fake) Wait(tb testing.TB, pattern string, n int, within time.Duration) []Request {
	tb.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		if got := f.Requests(pattern); len(got) >= n {
			return got
		}
		select {
		case <-f.notify:
		case <-deadline.C:
			tb.Fatalf("fake: %d requests %s after %s, want %d", len(f.Requests(pattern)), pattern, within, n)
		}
	}
}

func match(pattern, route string) bool {
	if ok, _ := path.Match(pattern, route); ok {
		return true
	}
	return pattern == route
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	var reply *Reply
	if f.down {
		reply = &Reply{Status: http.StatusServiceUnavailable, Body: `{"error":"service unavailable"}`}
	}
	for i := range f.scripts {
		if reply != nil {
			break
		}
		if s := &f.scripts[i]; len(s.replies) > 0 && match(s.pattern, req.Route()) {
			rp := s.replies[0]
			s.replies = s.replies[1:]
			reply = &rp
			break
		}
	}
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
	if reply == nil {
		f.Handler(w, r, body)
		return
	}
	if reply.Stall > 0 {
		t := time.NewTimer(reply.Stall)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-f.done:
		}
		t.Stop()
	}
	if reply.Hangup {
		if reply.Handled {
			f.Handler(httptest.NewRecorder(), r, body)
		}
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if reply.Status == 0 {
		f.Handler(w, r, body)
		return
	}
	for k, v := range reply.Header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(reply.Status)
	b := reply.Body
	if b == "" {
		b = "{}"
	}
	io.WriteString(w, b)
}

// WriteJSON answers with a JSON body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	switch b := v.(type) {
	case []byte:
		w.Write(b)
	case string:
		io.WriteString(w, b)
	default:
		json.NewEncoder(w).Encode(v)
	}
}

// Post sends a webhook to Tandem and returns its answer's status and body.
func Post(tb testing.TB, client *http.Client, url string, header http.Header, body []byte) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		tb.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Fixtures reads the fixture files a fake embeds (its testdata/, copied from the service's
// documentation and SDKs).
type Fixtures struct{ FS fs.FS }

// Bytes returns a fixture file.
func (f Fixtures) Bytes(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := fs.ReadFile(f.FS, "testdata/"+name)
	if err != nil {
		tb.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// Map returns a JSON object fixture, decoded.
func (f Fixtures) Map(tb testing.TB, name string) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(f.Bytes(tb, name), &m); err != nil {
		tb.Fatalf("fixture %s: %v", name, err)
	}
	return m
}
