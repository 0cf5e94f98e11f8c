package channeltest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Platform is a fake of a messaging platform's API on 127.0.0.1: it records every request,
// answers sends with the responses a test queued (else the suite's SendOK), and passes other
// requests to the suite's Platform function.
type Platform struct {
	*httptest.Server
	suite    *Suite
	mu       sync.Mutex
	requests []Request
	queue    []Response
}

// Request is a request the platform received.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	Send   bool
}

func newPlatform(t *testing.T, s *Suite) *Platform {
	p := &Platform{suite: s}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

func (p *Platform) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	send := p.suite.IsSend != nil && p.suite.IsSend(r, body)
	p.mu.Lock()
	p.requests = append(p.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, Send: send})
	var res *Response
	if send && len(p.queue) > 0 {
		res = &p.queue[0]
		p.queue = p.queue[1:]
	}
	p.mu.Unlock()
	if !send {
		r.Body = io.NopCloser(bytesReader(body))
		if p.suite.Platform != nil && p.suite.Platform(p, w, r) {
			return
		}
		if p.suite.IsSend == nil {
			http.NotFound(w, r)
			return
		}
	}
	if res == nil {
		res = &p.suite.SendOK
	}
	Write(w, *res)
}

// Write answers with a response.
func Write(w http.ResponseWriter, res Response) {
	for k, vs := range res.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	status := res.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(res.Body)
}

// Queue makes the next sends answer these responses, in order.
func (p *Platform) Queue(rs ...Response) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue = append(p.queue, rs...)
}

// Requests returns the requests received so far.
func (p *Platform) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Sends returns the send requests received so far.
func (p *Platform) Sends() []Request {
	var out []Request
	for _, r := range p.Requests() {
		if r.Send {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets the requests received so far.
func (p *Platform) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// Answers scripts a fake platform's answers to one kind of request (a file's download, say):
// each request takes the next response queued, and after them the platform's own answer; all
// are counted.
type Answers struct {
	mu    sync.Mutex
	queue []Response
	calls int
}

// NewAnswers queues responses, in order.
func NewAnswers(rs ...Response) *Answers { return &Answers{queue: rs} }

// Serve counts a request and answers it with the next response queued; false when none is
// left (the platform answers).
func (a *Answers) Serve(w http.ResponseWriter) bool {
	a.mu.Lock()
	a.calls++
	if len(a.queue) == 0 {
		a.mu.Unlock()
		return false
	}
	res := a.queue[0]
	a.queue = a.queue[1:]
	a.mu.Unlock()
	Write(w, res)
	return true
}

// Calls is how many requests Serve saw.
func (a *Answers) Calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}
