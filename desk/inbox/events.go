package inbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
)

// Event kinds of the inbox's stream.
const (
	EventConversation = "conversation" // a conversation entered the inbox, left it, or changed status, team, assignee, bot or handoff
	EventMessage      = "message"      // a message of an inbox conversation, either direction (never a note)
	EventNote         = "note"         // an internal note
	EventPresence     = "presence"     // an agent's presence changed (also by going unseen)
)

// Event is one change the inbox's stream reports. ID orders events within this process; a
// client resumes after it (Since).
type Event struct {
	ID           string
	Kind         string
	Conversation *store.ConversationInfo
	Message      *tandem.Message
	Note         *tandem.Note
	Agent        *AgentView
	Typing       *TypingView

	n uint64
}

// Stream limits.
const (
	ringSize = 1024 // events kept for clients that reconnect with Last-Event-ID
	subSize  = 256  // events a slow client may lag behind before its stream is ended
	overlap  = 2 * time.Second
	// maxChanges bounds the conversations one poll reads.
	maxChanges = 1000
)

// broker turns database changes into events and fans them out to subscribers. One goroutine
// polls: at every Poll, and at once when woken (the runner's Notify, the inbox's own writes).
// It compares what it reads with what it saw, so it also sees what another replica committed.
type broker struct {
	s     *Service
	epoch string
	wakeC chan struct{}

	mu   sync.Mutex
	next uint64
	ring []Event
	subs map[*Subscription]struct{}
	done bool

	// Poll state, owned by the polling goroutine.
	ready  bool
	cursor time.Time
	// failCursor is the latest failure of a message seen; failed the messages of inbox
	// conversations reported failed, by conversation/message id, with when.
	failCursor time.Time
	failed     map[string]time.Time
	convs      map[string]*snapshot
	agents     map[string]string

	// learned are conversations a list read showed in the inbox, by id, for the polling
	// goroutine to take as seen when it has not (learn).
	lmu     sync.Mutex
	learned map[string]*snapshot
}

// snapshot is what the stream last reported of a conversation.
type snapshot struct {
	status, team, assignee, handoff string
	paused                          bool
	msgSeq                          int64
	updated                         time.Time
	inbox                           bool
	notes                           map[string]time.Time
}

func newBroker(s *Service) *broker {
	var b [4]byte
	rand.Read(b[:])
	return &broker{s: s, epoch: hex.EncodeToString(b[:]), wakeC: make(chan struct{}, 1), subs: map[*Subscription]struct{}{},
		convs: map[string]*snapshot{}, agents: map[string]string{}, failed: map[string]time.Time{}}
}

func (b *broker) wake() {
	select {
	case b.wakeC <- struct{}{}:
	default:
	}
}

// run polls until ctx ends, then ends every subscription.
func (b *broker) run(ctx context.Context) {
	defer b.shutdown()
	t := time.NewTicker(b.s.cfg.Poll)
	defer t.Stop()
	for {
		if err := b.poll(ctx); err != nil && ctx.Err() == nil {
			b.s.log.Warn("inbox: changes cannot be read; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.wakeC:
			// Busy conversations wake the broker at every turn: read changes at most every
			// 100 ms, so a burst costs one read.
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

func (b *broker) shutdown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	for sub := range b.subs {
		sub.end()
	}
	clear(b.subs)
}

// learn takes note of conversations a client read in the inbox's list. The stream reports a
// conversation's changes against what it last saw of it, and one that entered the inbox and left
// it between two of its looks was never seen there: its leaving was no news, and a client that
// read it in the list meanwhile kept showing it. Taken as seen as the list showed it, its
// leaving is reported (or its change, when it did not leave).
func (b *broker) learn(items []store.InboxItem) {
	if len(items) == 0 {
		return
	}
	b.lmu.Lock()
	defer b.lmu.Unlock()
	if b.learned == nil {
		b.learned = map[string]*snapshot{}
	}
	for i := range items {
		ch := store.InboxChange{ConversationInfo: items[i].ConversationInfo}
		if m := items[i].LastMessage; m != nil {
			ch.MsgSeq = m.Seq
		}
		b.learned[ch.ID] = conversationSnapshot(&ch)
	}
}

// conversationSnapshot is what the stream compares of a conversation.
func conversationSnapshot(ch *store.InboxChange) *snapshot {
	return &snapshot{status: ch.Status, team: ch.Team, assignee: ch.Assignee, handoff: ch.Handoff, paused: ch.BotPaused,
		msgSeq: ch.MsgSeq, updated: ch.UpdatedAt, inbox: inInbox(&ch.ConversationInfo), notes: map[string]time.Time{}}
}

func (p *snapshot) differs(q *snapshot) bool {
	return p.status != q.status || p.team != q.team || p.assignee != q.assignee || p.handoff != q.handoff || p.paused != q.paused || p.inbox != q.inbox
}

// poll reads what changed since the last poll and emits it.
func (b *broker) poll(ctx context.Context) error {
	db := b.s.db
	if !b.ready {
		// The baseline: what is in the inbox now is not news.
		list, err := db.InboxChanges(ctx, time.Time{}, nil, 100000)
		if err != nil {
			return err
		}
		for i := range list {
			sn := conversationSnapshot(&list[i])
			if sn.inbox {
				b.convs[list[i].ID] = sn
			}
			if list[i].UpdatedAt.After(b.cursor) {
				b.cursor = list[i].UpdatedAt
			}
		}
		agents, err := b.s.Agents(ctx)
		if err != nil {
			return err
		}
		for _, a := range agents {
			b.agents[a.Email] = a.Status
		}
		b.ready = true
		b.failCursor = b.s.clock.Now()
		return nil
	}
	b.lmu.Lock()
	for id, sn := range b.learned {
		// What the list read is taken when it is newer than what the stream saw (nothing, or
		// an earlier state); the notes and messages already reported stay reported.
		if cur := b.convs[id]; cur == nil {
			b.convs[id] = sn
		} else if sn.updated.After(cur.updated) {
			sn.notes, sn.msgSeq = cur.notes, max(sn.msgSeq, cur.msgSeq)
			b.convs[id] = sn
		}
	}
	clear(b.learned)
	b.lmu.Unlock()
	since := b.cursor.Add(-overlap)
	var known []string
	for id, sn := range b.convs {
		if sn.inbox {
			known = append(known, id)
		}
	}
	list, err := db.InboxChanges(ctx, since, known, maxChanges)
	if err != nil {
		return err
	}
	for i := range list {
		ch := &list[i]
		cur := conversationSnapshot(ch)
		prev := b.convs[ch.ID]
		if prev == nil && !cur.inbox {
			continue // never in the inbox while this stream watched
		}
		if prev == nil || prev.differs(cur) {
			info := ch.ConversationInfo
			b.emit(Event{Kind: EventConversation, Conversation: &info})
		}
		// Messages: after the last one reported; for a conversation new to the stream, its
		// latest ones from the window (those that came with its handoff).
		from, recent := ch.MsgSeq, false
		if prev != nil {
			from = prev.msgSeq
			cur.notes = prev.notes
		} else {
			from, recent = max(0, ch.MsgSeq-20), true
		}
		if ch.MsgSeq > from {
			msgs, last, err := db.MessagesAfterSeq(ctx, ch.ID, from, 100)
			if err != nil {
				return err
			}
			for j := range msgs {
				if recent && msgs[j].CreatedAt.Before(since) {
					continue
				}
				b.emit(Event{Kind: EventMessage, Message: &msgs[j]})
			}
			cur.msgSeq = last
		}
		notes, err := db.NotesSince(ctx, ch.ID, since)
		if err != nil {
			return err
		}
		for j := range notes {
			if _, seen := cur.notes[notes[j].ID]; !seen {
				cur.notes[notes[j].ID] = notes[j].CreatedAt
				b.emit(Event{Kind: EventNote, Note: &notes[j]})
			}
		}
		b.convs[ch.ID] = cur
		if ch.UpdatedAt.After(b.cursor) {
			b.cursor = ch.UpdatedAt
		}
	}
	// Messages of inbox conversations that failed since the last look are sent again, with their
	// status and error: a failure changes no conversation row.
	failed, err := db.MessagesFailedSince(ctx, b.failCursor.Add(-overlap), maxChanges)
	if err != nil {
		return err
	}
	for i := range failed {
		f := &failed[i]
		if f.FailedAt.After(b.failCursor) {
			b.failCursor = f.FailedAt
		}
		key := f.ConversationID + "/" + f.ID
		if sn := b.convs[f.ConversationID]; sn == nil || !sn.inbox {
			continue
		}
		if _, seen := b.failed[key]; !seen {
			b.failed[key] = f.FailedAt
			b.emit(Event{Kind: EventMessage, Message: &f.Message})
		}
	}
	for key, at := range b.failed {
		if at.Before(b.failCursor.Add(-overlap)) {
			delete(b.failed, key)
		}
	}
	// Forget what can no longer come back in a window: conversations out of the inbox, notes.
	since = b.cursor.Add(-overlap)
	for id, sn := range b.convs {
		for nid, at := range sn.notes {
			if at.Before(since) {
				delete(sn.notes, nid)
			}
		}
		if !sn.inbox && sn.updated.Before(since) {
			delete(b.convs, id)
		}
	}
	agents, err := b.s.Agents(ctx)
	if err != nil {
		return err
	}
	for i := range agents {
		a := &agents[i]
		if b.agents[a.Email] != a.Status {
			b.agents[a.Email] = a.Status
			b.emit(Event{Kind: EventPresence, Agent: a})
		}
	}
	return nil
}

// emit numbers an event, keeps it for replay and hands it to every subscriber; a subscriber
// that lags subSize events behind is dropped (its client reconnects and resumes).
func (b *broker) emit(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	ev.n = b.next
	ev.ID = b.epoch + "-" + strconv.FormatUint(ev.n, 10)
	if len(b.ring) == ringSize {
		copy(b.ring, b.ring[1:])
		b.ring = b.ring[:ringSize-1]
	}
	b.ring = append(b.ring, ev)
	for sub := range b.subs {
		select {
		case sub.c <- ev:
		default:
			sub.Lagged = true
			sub.end()
			delete(b.subs, sub)
		}
	}
}

// Subscription is one client's feed of events. C is closed when the stream must end: the
// inbox stops, or the client lagged too far behind (Lagged).
type Subscription struct {
	C      <-chan Event
	Lagged bool
	c      chan Event
	b      *broker
	ended  bool
}

func (sub *Subscription) end() {
	if !sub.ended {
		sub.ended = true
		close(sub.c)
	}
}

// Close ends the subscription.
func (sub *Subscription) Close() {
	sub.b.mu.Lock()
	defer sub.b.mu.Unlock()
	delete(sub.b.subs, sub)
	sub.end()
}

// Subscribe returns a feed of the events emitted from now on.
func (s *Service) Subscribe() *Subscription {
	b := s.b
	c := make(chan Event, subSize)
	sub := &Subscription{C: c, c: c, b: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		sub.end()
		return sub
	}
	b.subs[sub] = struct{}{}
	return sub
}

// Since returns the kept events after the one with the id, for a client resuming its stream;
// ok is false when they cannot be told (the id is of another process, or too old): the client
// must reload its lists.
func (s *Service) Since(id string) (events []Event, ok bool) {
	b := s.b
	epoch, num, found := strings.Cut(id, "-")
	n, err := strconv.ParseUint(num, 10, 64)
	if !found || err != nil || epoch != b.epoch {
		return nil, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.next {
		return nil, false
	}
	if n == b.next {
		return nil, true
	}
	if len(b.ring) == 0 || b.ring[0].n > n+1 {
		return nil, false
	}
	for _, ev := range b.ring {
		if ev.n > n {
			events = append(events, ev)
		}
	}
	return events, true
}

// Seq returns the number of an event id of this process (0 for another's): what a client has
// seen, to skip duplicates between a replay and its subscription.
func (s *Service) Seq(id string) uint64 {
	epoch, num, found := strings.Cut(id, "-")
	n, err := strconv.ParseUint(num, 10, 64)
	if !found || err != nil || epoch != s.b.epoch {
		return 0
	}
	return n
}

// Num returns an event's number within this process.
func (ev *Event) Num() uint64 { return ev.n }

// EventTyping is someone typing in a conversation: the customer (from the web widget) or an
// agent. It is not stored, and not replayed to streams that resume.
const EventTyping = "typing"

// TypingView is who types in a conversation.
type TypingView struct {
	ConversationID string `json:"conversation_id"`
	// Author is contact or agent; Agent is the agent's e-mail.
	Author string `json:"author"`
	Agent  string `json:"agent,omitempty"`
}

// Typing tells the inbox's streams that someone types in a conversation.
func (s *Service) Typing(conversationID, author, agent string) {
	b := s.b
	ev := Event{Kind: EventTyping, Typing: &TypingView{ConversationID: conversationID, Author: author, Agent: agent}}
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		select {
		case sub.c <- ev:
		default: // a lagging client misses a typing event; nothing else
		}
	}
}

// AgentTyping checks that an agent may act on a conversation and returns it, so that its
// channel can show the customer that the agent types.
func (s *Service) AgentTyping(ctx context.Context, by Actor, id string) (*store.ConversationInfo, error) {
	info, _, err := s.conversation(ctx, by, id)
	if err != nil {
		return nil, err
	}
	if err := open(info); err != nil {
		return nil, err
	}
	if err := mayAct(by, info); err != nil {
		return nil, err
	}
	s.Typing(id, tandem.AuthorAgent, by.Agent)
	return info, nil
}
