package store

import (
	"container/list"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/tandemchat/tandem"
)

// snapCache keeps, for the conversations this process committed last, what their next turn
// reads: a turn computed at an event's arrival (Direct) then reads nothing. An entry is written
// only after its commit succeeded, with the version that commit gave; an entry that went stale
// (an API action, another replica) only fails the commit's check, and the event is then queued
// and processed from a fresh read. Bounded in bytes, least recently used out first: a waiting
// conversation costs nothing here once others were active.
type snapCache struct {
	mu    sync.Mutex
	m     map[string]*list.Element
	lru   list.List
	bytes int
	max   int
	// convOf maps a channel's contact to its open conversation (a hint, checked by Inbound).
	convOf map[contactKey]string
}

type contactKey struct{ channel, external string }

// snap is a conversation as a turn reads it, in the columns' form (decoded at each use: the
// engine may change what it is given).
type snap struct {
	id                               string
	conv                             tandem.Conversation // without Attributes and Tags
	convData, contactData            string
	state                            []byte
	decoded                          any // taken by the turn that reads the entry
	version, contactVersion, doneSeq int64
}

// size estimates an entry's memory: the decoded state takes a few times its JSON.
func (s *snap) size() int { return 1024 + len(s.convData) + len(s.contactData) + 4*len(s.state) }

// The cache's bounds: what W1's customers and a burst of timers need, and a few MB at most
// however many conversations wait (they cost disk, not memory).
const (
	snapCacheBytes   = 8 << 20
	snapCacheEntries = 2048
)

func newSnapCache(max int) *snapCache {
	return &snapCache{m: map[string]*list.Element{}, max: max, convOf: map[contactKey]string{}}
}

// get returns the entry of id; its decoded state is handed over with it (the next get has
// none): one turn at a time may change it.
func (c *snapCache) get(id string) (snap, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok {
		return snap{}, false
	}
	c.lru.MoveToFront(e)
	s := e.Value.(*snap)
	out := *s
	s.decoded = nil
	return out, true
}

func (c *snapCache) put(s *snap) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[s.id]; ok {
		c.bytes -= e.Value.(*snap).size()
		e.Value = s
		c.lru.MoveToFront(e)
	} else {
		c.m[s.id] = c.lru.PushFront(s)
	}
	c.bytes += s.size()
	for (c.bytes > c.max || c.lru.Len() > snapCacheEntries) && c.lru.Len() > 1 {
		e := c.lru.Back()
		old := e.Value.(*snap)
		c.lru.Remove(e)
		delete(c.m, old.id)
		c.bytes -= old.size()
	}
}

// version returns the version of a conversation's entry: the version its last commit here gave.
func (c *snapCache) version(id string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		return e.Value.(*snap).version, true
	}
	return 0, false
}

func (c *snapCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		c.bytes -= e.Value.(*snap).size()
		c.lru.Remove(e)
		delete(c.m, id)
	}
}

func (c *snapCache) conversationOf(channel, external string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.convOf[contactKey{channel, external}]
}

func (c *snapCache) setConversationOf(channel, external, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.convOf) >= 4*snapCacheEntries {
		clear(c.convOf) // hints only: dropped wholesale rather than tracked per entry
	}
	c.convOf[contactKey{channel, external}] = id
}

// batch decodes a snapshot into a batch without events.
func (s *snap) batch() (*Batch, error) {
	c := s.conv
	var d convData
	if err := json.Unmarshal([]byte(s.convData), &d); err != nil {
		return nil, fmt.Errorf("conversation %s: %w", s.id, err)
	}
	d.apply(&c)
	var contact tandem.Contact
	if err := json.Unmarshal([]byte(s.contactData), &contact); err != nil {
		return nil, fmt.Errorf("contact %s: %w", c.ContactID, err)
	}
	return &Batch{Conversation: &c, Contact: &contact, State: s.state, Decoded: s.decoded, version: s.version, contactVersion: s.contactVersion,
		doneSeq: s.doneSeq, convData: s.convData, contactData: s.contactData}, nil
}

// remember caches a conversation as a committed turn left it, and forgets the completions the
// commit wrote.
func (db *DB) remember(b *Batch, ch *Changes) {
	db.later.drop(ch.Conversation.ID, ch.folded)
	if db.snaps == nil || ch.convData == "" || b.contactData == "" && ch.contactData == "" {
		return
	}
	c := *ch.Conversation
	c.Attributes, c.Tags, c.Variables = nil, nil, nil // kept in convData
	s := &snap{id: c.ID, conv: c, convData: ch.convData, contactData: b.contactData, state: ch.State, decoded: ch.Decoded,
		version: b.version + 1, contactVersion: b.contactVersion, doneSeq: ch.DoneSeq}
	if ch.contactData != "" {
		s.contactData, s.contactVersion = ch.contactData, b.contactVersion+1
	}
	db.snaps.put(s)
}
