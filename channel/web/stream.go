package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/internal/park"
)

// Stream timing and limits.
const (
	pingEvery     = 20 * time.Second // a ": ping" comment keeps proxies from closing an idle stream
	writeTimeout  = 10 * time.Second // each write must get through within this
	historyLimit  = 200              // events (messages, status changes) replayed to a stream that has no cursor
	readBatch     = 100              // events read per query
	maxDeliveries = 64               // deliveries (database reads and writes) at once per channel
	maxPerSession = 5                // open streams per session; a sixth ends the oldest
	changesLimit  = 1000             // conversations one look for other replicas' changes reads
	changesLag    = 2 * time.Second  // how far back each look starts again (commits out of order)
)

// An idle stream costs no goroutine and no timer: a hijacked connection and a small record in
// the channel's streams, which one goroutine pings and the channel's notifications wake. Only
// a delivery (new messages, a status change) runs a goroutine, until the stream is caught up.
// When the connection cannot be hijacked (HTTP/2), the handler's goroutine holds it open, and
// everything else works the same.

// sink is where a stream's bytes go: a hijacked connection or a ResponseWriter.
type sink interface {
	write(p []byte) error
	close()
}

type connSink struct{ conn net.Conn }

func (s connSink) write(p []byte) error {
	s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := s.conn.Write(p)
	return err
}

func (s connSink) close() { s.conn.Close() }

// writerSink writes through the handler's ResponseWriter; close waits for a write in flight,
// so that nothing writes after the handler returned.
type writerSink struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	mu   sync.Mutex
	dead bool
}

func (s *writerSink) write(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return net.ErrClosed
	}
	s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := s.w.Write(p); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *writerSink) close() {
	s.mu.Lock()
	s.dead = true
	s.mu.Unlock()
}

// convPos is how far a stream has told one conversation.
type convPos struct {
	id       string
	seq      int64
	status   string
	assignee string
	told     bool // the conversation event was sent
}

// stream is one open event stream of a session. Its fields are guarded by streams.mu, except
// pos, which only the delivery running for it (busy) touches.
type stream struct {
	sessionID string
	contactID string
	out       sink
	pos       []convPos
	fresh     bool   // no delivery yet: the first replays from the cursor
	cursor    string // Last-Event-ID at connect
	busy      bool   // a delivery runs
	dirty     bool   // something changed since the running delivery began
	ping      bool
	extra     []byte // ephemeral events (typing) to write with the next delivery
	closed    bool
	ended     chan struct{} // closed when the stream ends
	// wait is its place among the server's waiting requests, given back when it ends.
	wait channel.Wait
}

// streams are a channel's open event streams and long polls: the one structure its
// notifications wake.
type streams struct {
	c  *Channel
	mu sync.Mutex
	// byContact finds the streams of a contact (every conversation of a web contact is theirs).
	byContact map[string]map[*stream]struct{}
	// convContact maps a conversation to its contact, learnt as streams read them.
	convContact map[string]string
	// lot holds the long polls waiting, by contact, without a goroutine each.
	lot     *park.Lot
	count   map[string][]*stream // open streams by session, oldest first
	sem     chan struct{}
	stopC   chan struct{}
	started bool
	stopped bool
	wg      sync.WaitGroup
}

func newStreams(c *Channel) *streams {
	return &streams{c: c, byContact: map[string]map[*stream]struct{}{}, convContact: map[string]string{},
		lot: park.New(maxDeliveries), count: map[string][]*stream{}, sem: make(chan struct{}, maxDeliveries), stopC: make(chan struct{})}
}

// start runs the pinger and, with poll > 0, the look for other replicas' changes.
func (s *streams) start(poll time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	s.wg.Add(1)
	go s.pinger()
	if poll > 0 {
		s.wg.Add(1)
		go s.changes(poll)
	}
}

// stop ends every stream and the background loops.
func (s *streams) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	close(s.stopC)
	var all []*stream
	for _, m := range s.byContact {
		for st := range m {
			all = append(all, st)
		}
	}
	s.mu.Unlock()
	s.lot.Stop() // parked long polls get their answer now
	for _, st := range all {
		s.end(st)
	}
	s.wg.Wait()
}

// add registers a stream, ending the oldest of its session past maxPerSession; false when the
// channel is stopping.
func (s *streams) add(st *stream) bool {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return false
	}
	m := s.byContact[st.contactID]
	if m == nil {
		m = map[*stream]struct{}{}
		s.byContact[st.contactID] = m
	}
	m[st] = struct{}{}
	list := append(s.count[st.sessionID], st)
	var old *stream
	if len(list) > maxPerSession {
		old, list = list[0], list[1:]
	}
	s.count[st.sessionID] = list
	s.mu.Unlock()
	if old != nil {
		s.end(old)
	}
	return true
}

// end closes a stream and forgets it.
func (s *streams) end(st *stream) {
	s.mu.Lock()
	if st.closed {
		s.mu.Unlock()
		return
	}
	st.closed = true
	if m := s.byContact[st.contactID]; m != nil {
		delete(m, st)
		if len(m) == 0 {
			delete(s.byContact, st.contactID)
			for conv, contact := range s.convContact {
				if contact == st.contactID {
					delete(s.convContact, conv)
				}
			}
		}
	}
	list := s.count[st.sessionID]
	for i, x := range list {
		if x == st {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.count, st.sessionID)
	} else {
		s.count[st.sessionID] = list
	}
	s.mu.Unlock()
	st.out.close()
	close(st.ended)
	if st.wait != nil {
		st.wait.Done()
	}
}

// notify wakes what follows a conversation: its contact's streams and long polls.
func (s *streams) notify(conversationID string) {
	s.mu.Lock()
	contact, ok := s.convContact[conversationID]
	if !ok {
		s.mu.Unlock()
		return
	}
	s.wakeLocked(contact)
	s.mu.Unlock()
}

// wakeContact wakes a contact's streams and long polls (a conversation of theirs opened).
func (s *streams) wakeContact(contactID string) {
	s.mu.Lock()
	s.wakeLocked(contactID)
	s.mu.Unlock()
}

func (s *streams) wakeLocked(contactID string) {
	s.lot.Wake(contactID)
	for st := range s.byContact[contactID] {
		st.dirty = true
		s.scheduleLocked(st)
	}
}

// rebind moves a session's streams to another contact (the visitor logged in) and wakes them.
func (s *streams) rebind(sessionID, contactID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.count[sessionID] {
		if st.contactID == contactID || st.closed {
			continue
		}
		if m := s.byContact[st.contactID]; m != nil {
			delete(m, st)
			if len(m) == 0 {
				delete(s.byContact, st.contactID)
			}
		}
		st.contactID = contactID
		m := s.byContact[contactID]
		if m == nil {
			m = map[*stream]struct{}{}
			s.byContact[contactID] = m
		}
		m[st] = struct{}{}
		st.dirty = true
		s.scheduleLocked(st)
	}
}

// endSession ends a session's streams (the session was deleted).
func (s *streams) endSession(sessionID string) {
	s.mu.Lock()
	list := append([]*stream(nil), s.count[sessionID]...)
	s.mu.Unlock()
	for _, st := range list {
		s.end(st)
	}
}

// typing queues an agent's typing event for the streams of a conversation.
func (s *streams) typing(conversationID, name string) {
	b, _ := json.Marshal(map[string]any{"conversation_id": conversationID, "typing": true, "name": name, "author": tandem.AuthorAgent})
	ev := []byte("event: typing\ndata: " + string(b) + "\n\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	contact, ok := s.convContact[conversationID]
	if !ok {
		return
	}
	for st := range s.byContact[contact] {
		if len(st.extra) < 4096 {
			st.extra = append(st.extra, ev...)
		}
		s.scheduleLocked(st)
	}
}

// scheduleLocked starts a delivery for st unless one runs (which then goes round again).
func (s *streams) scheduleLocked(st *stream) {
	if st.closed || st.busy || s.stopped {
		return
	}
	st.busy = true
	s.wg.Add(1)
	go s.deliver(st)
}

// deliver writes what a stream has not seen yet, until nothing more changed meanwhile.
func (s *streams) deliver(st *stream) {
	defer s.wg.Done()
	select {
	case s.sem <- struct{}{}:
	case <-s.stopC:
		return
	}
	defer func() { <-s.sem }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var buf bytes.Buffer
	for {
		s.mu.Lock()
		if st.closed {
			s.mu.Unlock()
			return
		}
		dirty, ping, contact := st.dirty || st.fresh, st.ping, st.contactID
		st.dirty, st.ping = false, false
		buf.Reset()
		buf.Write(st.extra)
		st.extra = nil
		s.mu.Unlock()
		var err error
		if dirty {
			err = s.collect(ctx, st, contact, &buf)
		}
		if err != nil && ctx.Err() == nil {
			s.c.log.Warn("widget stream: events cannot be read; the visitor's frame reconnects", "err", err)
			s.end(st)
			return
		}
		if buf.Len() == 0 && ping {
			buf.WriteString(": ping\n\n")
		}
		if buf.Len() > 0 {
			if err := st.out.write(buf.Bytes()); err != nil {
				s.end(st)
				return
			}
		}
		s.mu.Lock()
		if !st.dirty && len(st.extra) == 0 || st.closed {
			st.busy = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// collect appends to buf the events of a contact's conversations that the stream has not told.
func (s *streams) collect(ctx context.Context, st *stream, contact string, buf *bytes.Buffer) error {
	be, err := s.c.be()
	if err != nil {
		return err
	}
	convs, err := be.Conversations(ctx, contact, s.c.id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	for _, cv := range convs {
		if _, known := s.convContact[cv.ID]; !known {
			// A notification of this conversation between the read above and now found no
			// contact to wake (a greeting committed as its conversation opened): read once
			// more, now that it will reach this stream.
			st.dirty = true
		}
		s.convContact[cv.ID] = contact
	}
	s.mu.Unlock()
	if st.fresh {
		st.pos = startPositions(convs, st.cursor)
		st.fresh = false
	}
	for i, cv := range convs {
		p := findPos(st.pos, cv.ID)
		if p == nil {
			st.pos = append(st.pos, convPos{id: cv.ID})
			p = &st.pos[len(st.pos)-1]
		}
		for p.seq < cv.MsgSeq {
			evs, err := be.Events(ctx, cv.ID, p.seq, readBatch)
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				break
			}
			for j := range evs {
				e := &evs[j]
				p.seq = e.Seq
				name, data := s.c.eventJSON(ctx, be, cv.ID, e)
				writeEvent(buf, cursor(cv.ID, e.Seq), name, data)
			}
		}
		last := i == len(convs)-1
		if (last && !p.told) || (p.told && (p.status != cv.Status || p.assignee != cv.Assignee)) {
			p.status, p.assignee, p.told = cv.Status, cv.Assignee, true
			writeEvent(buf, cursor(cv.ID, p.seq), "conversation", s.c.conversationJSON(ctx, be, &cv, p.seq))
		}
	}
	return nil
}

func findPos(ps []convPos, id string) *convPos {
	for i := range ps {
		if ps[i].id == id {
			return &ps[i]
		}
	}
	return nil
}

// startPositions says where a new stream starts in each conversation: after the cursor (the
// conversations before the cursor's are told, those after are not); without a cursor, at the
// last historyLimit events.
func startPositions(convs []Conversation, cur string) []convPos {
	ps := make([]convPos, len(convs))
	for i, cv := range convs {
		ps[i] = convPos{id: cv.ID}
	}
	if conv, seq, ok := parseCursor(cur); ok {
		at := -1
		for i, cv := range convs {
			if cv.ID == conv {
				at = i
			}
		}
		if at >= 0 {
			for i := 0; i < at; i++ {
				ps[i].seq, ps[i].status, ps[i].assignee, ps[i].told = convs[i].MsgSeq, convs[i].Status, convs[i].Assignee, true
			}
			ps[at].seq = min(seq, convs[at].MsgSeq)
			return ps
		}
	}
	left := int64(historyLimit)
	for i := len(convs) - 1; i >= 0; i-- {
		n := convs[i].MsgSeq
		if n <= left {
			left -= n
			continue
		}
		ps[i].seq = n - left
		for j := 0; j < i; j++ {
			ps[j].seq = convs[j].MsgSeq
		}
		break
	}
	return ps
}

// cursor is a stream position: the last event (message or status change) told of a
// conversation. Clients only store it and send it back.
func cursor(conversationID string, seq int64) string {
	return conversationID + "." + strconv.FormatInt(seq, 10)
}

func parseCursor(c string) (conversationID string, seq int64, ok bool) {
	i := strings.LastIndexByte(c, '.')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(c[i+1:], 10, 64)
	if err != nil || n < 0 {
		return "", 0, false
	}
	return c[:i], n, true
}

// writeEvent appends one SSE event; data is one line of JSON.
func writeEvent(buf *bytes.Buffer, id, event string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		return
	}
	if id != "" {
		buf.WriteString("id: " + id + "\n")
	}
	buf.WriteString("event: " + event + "\ndata: ")
	buf.Write(b)
	buf.WriteString("\n\n")
}

// pinger writes ": ping" to every idle stream every pingEvery: one goroutine and one ticker for
// all streams. A failed write ends the stream: that is also how a hijacked stream learns its
// visitor left.
func (s *streams) pinger() {
	defer s.wg.Done()
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopC:
			return
		case <-t.C:
		}
		s.mu.Lock()
		for _, m := range s.byContact {
			for st := range m {
				st.ping = true
				s.scheduleLocked(st)
			}
		}
		s.mu.Unlock()
	}
}

// changes looks every poll for web conversations other replicas changed, and wakes their
// streams here.
func (s *streams) changes(poll time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(poll)
	defer t.Stop()
	since := s.c.deps.Now()
	for {
		select {
		case <-s.stopC:
			return
		case <-t.C:
		}
		be, err := s.c.be()
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), poll+5*time.Second)
		ids, last, err := be.Changed(ctx, since.Add(-changesLag), changesLimit)
		cancel()
		if err != nil {
			s.c.log.Warn("widget streams: changes cannot be read", "err", err)
			continue
		}
		if last.After(since) {
			since = last
		}
		for _, id := range ids {
			s.notify(id)
		}
	}
}

// learn records which contact a long poll's conversations belong to, so that their
// notifications reach it.
func (s *streams) learn(contactID string, convs []Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cv := range convs {
		s.convContact[cv.ID] = contactID
	}
}

// events is GET /widget/v1/{channel_id}/events: the session's Server-Sent Events. It replays,
// from the database, everything after Last-Event-ID (or the recent history without it), then
// streams what comes: `message` events (the visitor's own, the bot's and agents') and `status`
// events (a change of the conversation's status), numbered together by seq; `conversation`
// events (the current status and agent: at the start and after each change); `typing`. A
// ": ping" comment comes every 20 s.
func (c *Channel) events(w http.ResponseWriter, r *http.Request) error {
	_, s, err := c.session(r)
	if err != nil {
		return err
	}
	cur := r.Header.Get("Last-Event-ID")
	if v := r.URL.Query().Get("after"); v != "" {
		cur = v
	}
	// The stream waits among the server's waiting requests (limits.long_polls): past them, 503.
	wt, err := channel.EnterWait(w, r)
	if err != nil {
		return err
	}
	// busy until the response's head is written: no delivery writes before it. The stream is
	// registered first, so that a session forgotten once the client has the head ends it.
	st := &stream{sessionID: s.ID, contactID: s.ContactID, fresh: true, busy: true, cursor: cur, ended: make(chan struct{}), wait: wt}
	head := "Content-Type: text/event-stream\r\nCache-Control: no-store\r\nX-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\n"
	rc := http.NewResponseController(w)
	conn, brw, err := rc.Hijack()
	if err == nil {
		// An HTTP/1.1 connection of our own: the handler returns, and the idle stream costs no
		// goroutine. The body ends when the connection closes; until then the server counts
		// the connection as open.
		wt.Detach()
		conn.SetDeadline(time.Time{})
		st.out = connSink{conn}
		if brw != nil && brw.Reader.Buffered() > 0 {
			conn.Close() // a pipelined request: not an event stream client
			wt.Done()
			return nil
		}
		if !c.streams.add(st) {
			conn.Close()
			wt.Done()
			return nil
		}
		if err := st.out.write([]byte("HTTP/1.1 200 OK\r\n" + head + "Connection: close\r\n\r\nretry: 3000\n\n")); err != nil {
			c.streams.end(st)
			return nil
		}
	} else if errors.Is(err, http.ErrNotSupported) {
		ws := &writerSink{w: w, rc: rc}
		st.out = ws
		if !c.streams.add(st) {
			wt.Done()
			return nil
		}
		for _, line := range strings.Split(strings.TrimSpace(head), "\r\n") {
			k, v, _ := strings.Cut(line, ": ")
			w.Header().Set(k, v)
		}
		w.WriteHeader(http.StatusOK)
		if ws.write([]byte("retry: 3000\n\n")) != nil {
			c.streams.end(st)
			return nil
		}
	} else {
		wt.Done()
		return err
	}
	c.streams.mu.Lock()
	st.busy = false
	c.streams.scheduleLocked(st)
	c.streams.mu.Unlock()
	if _, ok := st.out.(connSink); ok {
		return nil
	}
	select {
	case <-r.Context().Done():
		c.streams.end(st)
	case <-st.ended:
	}
	return nil
}
