// Package park holds HTTP/1.1 long-polls without a goroutine while they wait. A waiting
// request's connection is taken over from net/http and kept in one shared structure, a Lot: a
// map from keys (a conversation, a contact) to what waits on them and a heap of deadlines,
// served by one goroutine and one timer. When its key is woken, its deadline passes or the lot
// stops, a worker (at most Workers at once) computes the answer, writes it and closes the
// connection. A parked request costs its socket and a small record, not a goroutine, its stack
// and net/http's buffers.
//
// It knows nothing of what is waited for: callers say what a key is and compute answers.
package park

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Answer is the response a parked request gets.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Answerer computes a parked request's answer. With last false it may find nothing new (a
// wake-up for something else) and return done false: the request waits again until its
// deadline. With last true (the deadline passed, the lot stops) it must answer.
type Answerer func(ctx context.Context, last bool) (a *Answer, done bool)

// Request is what a parked request needs.
type Request struct {
	// Deadline is when it is answered with last true.
	Deadline time.Time
	Answer   Answerer
	// Done, when set, is called once the request is over: with the status written, or 0 when
	// the client went away first.
	Done func(status int)
}

// Defaults.
const (
	DefaultWorkers = 64
	// answerTimeout bounds the computing and writing of one answer.
	answerTimeout = 30 * time.Second
	// sweepEvery is how often parked connections are checked for clients that left: a parked
	// connection is not read, so a client's close is seen by looking.
	sweepEvery = 2 * time.Second
)

// Lot is where long-polls wait. The zero value is not usable; call New.
type Lot struct {
	workers chan struct{}
	mu      sync.Mutex
	byKey   map[string][]*Ticket // few per key: a slice costs less than a map
	due     deadlines
	timer   *time.Timer
	kick    chan struct{}
	stopC   chan struct{}
	stopped bool
	parked  int
	wg      sync.WaitGroup
}

// New returns a lot whose answers run on at most workers goroutines at once (DefaultWorkers
// when workers <= 0), and starts its one goroutine.
func New(workers int) *Lot {
	if workers <= 0 {
		workers = DefaultWorkers
	}
	l := &Lot{workers: make(chan struct{}, workers), byKey: map[string][]*Ticket{},
		kick: make(chan struct{}, 1), stopC: make(chan struct{})}
	l.timer = time.NewTimer(time.Hour)
	l.timer.Stop()
	l.wg.Add(1)
	go l.loop()
	return l
}

// Ticket is one request's wait on a key.
type Ticket struct {
	lot *Lot
	key string
	// woken is closed by a wake-up of the key (for a caller that waits by itself).
	woken  chan struct{}
	closed bool // woken is closed
	// Set while parked.
	conn     net.Conn
	head     []byte // the response head's fixed lines (the handler's headers)
	deadline time.Time
	answer   Answerer
	done     func(status int)
	index    int // in the deadline heap; -1 when not in it
	running  bool
	again    bool // woken while its answer was being computed
}

// Watch starts a wait on key. Call it before reading what the request waits for, so that a
// wake-up between the read and Park is not lost; then Park, wait on Woken, or Cancel.
func (l *Lot) Watch(key string) *Ticket {
	t := &Ticket{lot: l, key: key, woken: make(chan struct{}), index: -1}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		t.closed = true
		close(t.woken)
		return t
	}
	l.watchLocked(t)
	return t
}

func (l *Lot) watchLocked(t *Ticket) {
	l.byKey[t.key] = append(l.byKey[t.key], t)
}

func (l *Lot) unwatchLocked(t *Ticket) {
	ts := l.byKey[t.key]
	for i, x := range ts {
		if x == t {
			ts = append(ts[:i:i], ts[i+1:]...)
			break
		}
	}
	if len(ts) == 0 {
		delete(l.byKey, t.key)
	} else {
		l.byKey[t.key] = ts
	}
}

// Woken is closed when the key is woken after Watch (or the lot stops).
func (t *Ticket) Woken() <-chan struct{} { return t.woken }

// Cancel ends a wait that was not parked (the caller answered by itself).
func (t *Ticket) Cancel() {
	t.lot.mu.Lock()
	defer t.lot.mu.Unlock()
	if t.conn == nil {
		t.lot.unwatchLocked(t)
	}
}

// Wake wakes everything waiting on key: parked requests get their answer computed again.
func (l *Lot) Wake(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.byKey[key]
	delete(l.byKey, key)
	for _, t := range ts {
		l.wakeLocked(t)
	}
}

func (l *Lot) wakeLocked(t *Ticket) {
	if !t.closed {
		t.closed = true
		close(t.woken)
	}
	switch {
	case t.conn == nil: // the caller waits by itself
	case t.running:
		t.again = true
	default:
		if t.index >= 0 {
			heap.Remove(&l.due, t.index)
		}
		l.runLocked(t, false)
	}
}

// Waiting returns how many requests are parked.
func (l *Lot) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.parked
}

// ErrStopped is Park's answer once the lot stops.
var ErrStopped = errors.New("park: the lot is stopped")

// Park takes the request's connection over from net/http: the handler must return at once and
// write nothing more. The answer is computed when the key is woken (last false) and when the
// deadline passes (last true), and is sent with the headers set on w so far and
// "Connection: close". Park returns false, and changes nothing, when the connection cannot be
// taken over (HTTP/2): the caller then waits by itself on Woken.
func (t *Ticket) Park(w http.ResponseWriter, p Request) (bool, error) {
	l := t.lot
	rc := http.NewResponseController(w)
	// The head first: after Hijack the ResponseWriter's headers are no longer ours to read.
	var head bytes.Buffer
	w.Header().Write(&head)
	conn, brw, err := rc.Hijack()
	if errors.Is(err, http.ErrNotSupported) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	conn.SetDeadline(time.Time{})
	t.head, t.answer, t.done, t.deadline = head.Bytes(), p.Answer, p.Done, p.Deadline
	l.mu.Lock()
	if l.stopped || (brw != nil && brw.Reader.Buffered() > 0) {
		// Stopping; or the client already sent its next request, which cannot wait behind a
		// parked answer: answer now.
		l.unwatchLocked(t)
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), answerTimeout)
		defer cancel()
		a, _ := t.answer(ctx, true)
		t.end(conn, a)
		return true, nil
	}
	t.conn = conn
	l.parked++
	if t.closed {
		// Woken between Watch and Park: look again now.
		l.runLocked(t, false)
	} else {
		heap.Push(&l.due, t)
		if t.index == 0 {
			l.kickLocked()
		}
	}
	l.mu.Unlock()
	return true, nil
}

// end writes an answer on a taken-over connection and closes it.
func (t *Ticket) end(conn net.Conn, a *Answer) {
	status := write(conn, t.head, a)
	conn.Close()
	if t.done != nil {
		t.done(status)
	}
}

// runLocked computes a parked request's answer on a worker.
func (l *Lot) runLocked(t *Ticket, last bool) {
	t.running = true
	l.unwatchLocked(t)
	l.wg.Add(1)
	go l.run(t, last)
}

func (l *Lot) run(t *Ticket, last bool) {
	defer l.wg.Done()
	l.workers <- struct{}{}
	defer func() { <-l.workers }()
	for {
		l.mu.Lock()
		t.again = false
		if !last {
			// Watch again while the answer is computed: a wake-up meanwhile is not lost.
			l.watchLocked(t)
		}
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), answerTimeout)
		a, done := t.answer(ctx, last)
		cancel()
		l.mu.Lock()
		if !done && !last && !l.stopped {
			if t.again {
				l.unwatchLocked(t)
				l.mu.Unlock()
				continue
			}
			if !time.Now().Before(t.deadline) {
				last = true
				l.unwatchLocked(t)
				l.mu.Unlock()
				continue
			}
			// Nothing new: wait again until the deadline.
			t.running = false
			heap.Push(&l.due, t)
			if t.index == 0 {
				l.kickLocked()
			}
			l.mu.Unlock()
			return
		}
		l.unwatchLocked(t)
		l.parked--
		l.mu.Unlock()
		if a == nil && !last {
			// The lot stopped while it computed: answer as at the deadline.
			ctx, cancel := context.WithTimeout(context.Background(), answerTimeout)
			a, _ = t.answer(ctx, true)
			cancel()
		}
		t.end(t.conn, a)
		return
	}
}

// write sends an answer on a taken-over connection and returns its status; a nil answer is a
// 503.
func write(conn net.Conn, head []byte, a *Answer) int {
	if a == nil {
		a = &Answer{Status: http.StatusServiceUnavailable, Body: []byte(`{"error":{"code":"unavailable","message":"The server is shutting down; retry."}}`)}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", a.Status, http.StatusText(a.Status))
	b.Write(head)
	if a.Header != nil {
		a.Header.Write(&b)
	}
	b.WriteString("Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(a.Body)) + "\r\nConnection: close\r\n\r\n")
	b.Write(a.Body)
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	conn.Write(b.Bytes())
	return a.Status
}

// loop answers the requests whose deadline passed and forgets those whose client left: one
// goroutine and one timer for the lot, and a ticker for the sweep.
func (l *Lot) loop() {
	defer l.wg.Done()
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	for {
		select {
		case <-l.stopC:
			return
		case <-l.timer.C:
		case <-l.kick:
		case <-sweep.C:
			l.sweep()
			continue
		}
		l.mu.Lock()
		now := time.Now()
		for len(l.due) > 0 && !l.due[0].deadline.After(now) {
			t := heap.Pop(&l.due).(*Ticket)
			l.runLocked(t, true)
		}
		if len(l.due) > 0 {
			l.timer.Reset(l.due[0].deadline.Sub(now))
		}
		l.mu.Unlock()
	}
}

// sweep closes the parked connections whose client closed its end.
func (l *Lot) sweep() {
	l.mu.Lock()
	parked := make([]*Ticket, len(l.due))
	copy(parked, l.due)
	l.mu.Unlock()
	var gone []*Ticket
	for _, t := range parked {
		if closedByPeer(t.conn) {
			gone = append(gone, t)
		}
	}
	if len(gone) == 0 {
		return
	}
	l.mu.Lock()
	var ended []*Ticket
	for _, t := range gone {
		if t.index < 0 || t.running {
			continue // answered meanwhile
		}
		heap.Remove(&l.due, t.index)
		l.unwatchLocked(t)
		l.parked--
		ended = append(ended, t)
	}
	l.mu.Unlock()
	for _, t := range ended {
		t.conn.Close()
		if t.done != nil {
			t.done(0)
		}
	}
}

func (l *Lot) kickLocked() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Stop answers every parked request as at its deadline and waits for the answers.
func (l *Lot) Stop() {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	close(l.stopC)
	for len(l.due) > 0 {
		t := heap.Pop(&l.due).(*Ticket)
		l.runLocked(t, true)
	}
	for key, ts := range l.byKey {
		delete(l.byKey, key)
		for _, t := range ts {
			if !t.closed {
				t.closed = true
				close(t.woken)
			}
		}
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// deadlines is a min-heap of parked tickets by deadline.
type deadlines []*Ticket

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].deadline.Before(d[j].deadline) }
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].index, d[j].index = i, j
}
func (d *deadlines) Push(x any) {
	t := x.(*Ticket)
	t.index = len(*d)
	*d = append(*d, t)
}
func (d *deadlines) Pop() any {
	old := *d
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*d = old[:len(old)-1]
	return t
}

// Watching returns how many requests wait on key, parked or not.
func (l *Lot) Watching(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byKey[key])
}

// Empty reports whether nothing waits.
func (l *Lot) Empty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byKey) == 0
}

// Recorder is an http.ResponseWriter that keeps a response as an Answer: a handler's encoders
// write a parked request's answer through it.
type Recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{h: http.Header{}} }

// Header returns the answer's headers.
func (r *Recorder) Header() http.Header { return r.h }

// WriteHeader sets the answer's status (the first one counts).
func (r *Recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// Write appends to the answer's body.
func (r *Recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// Answer returns what was written.
func (r *Recorder) Answer() *Answer {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return &Answer{Status: r.status, Header: r.h, Body: r.body.Bytes()}
}
