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
// and processed from a fresh read. Bounded in entries and bytes, least recently used out first:
// a waiting conversation costs nothing here once others were active.
//
// Two tiers: the hot one, the conversations active last (W1's customers), keeps each one's
// decoded state too, which takes a few KB; an entry pushed out of it moves to the cold tier
// with its columns only (about a KB), which is large enough for a burst of timers due at once
// (W2's 10,000): their turns then read nothing either, and decode the state themselves.
type snapCache struct {
	mu        sync.Mutex
	m         map[string]*list.Element
	hot, cold list.List
	// hotBytes and coldBytes are the tiers' estimated sizes; maxHot bounds the hot one.
	hotBytes, coldBytes int
	maxHot              int
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
	msgSeq, outSeq                   int64
	cold                             bool // in the cold tier, without decoded
}

// size estimates an entry's memory: the decoded state takes a few times its JSON; without it,
// the entry is its columns, the conversation's fields and the bookkeeping.
func (s *snap) size() int {
	if s.cold {
		return 512 + len(s.id) + len(s.convData) + len(s.contactData) + len(s.state)
	}
	return 1024 + len(s.convData) + len(s.contactData) + 4*len(s.state)
}

// The cache's bounds: the hot tier what W1's customers need; the cold tier a burst of timers due
// at once. Some 40 MB at most however many conversations wait (they cost disk, not memory).
const (
	snapCacheBytes       = 8 << 20
	snapCacheEntries     = 2048
	snapColdCacheBytes   = 32 << 20
	snapColdCacheEntries = 16384
)

func newSnapCache(maxHot int) *snapCache {
	return &snapCache{m: map[string]*list.Element{}, maxHot: maxHot, convOf: map[contactKey]string{}}
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
	s := e.Value.(*snap)
	if !s.cold {
		c.hot.MoveToFront(e)
	}
	out := *s
	s.decoded = nil
	out.cold = false
	return out, true
}

func (c *snapCache) put(s *snap) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.cold = false
	if e, ok := c.m[s.id]; ok {
		c.remove(e)
	}
	c.m[s.id] = c.hot.PushFront(s)
	c.hotBytes += s.size()
	// The hot tier's oldest entries go cold, without their decoded state.
	for (c.hotBytes > c.maxHot || c.hot.Len() > snapCacheEntries) && c.hot.Len() > 1 {
		e := c.hot.Back()
		old := e.Value.(*snap)
		c.hot.Remove(e)
		c.hotBytes -= old.size()
		old.decoded, old.cold = nil, true
		c.m[old.id] = c.cold.PushFront(old)
		c.coldBytes += old.size()
	}
	for c.coldBytes > snapColdCacheBytes || c.cold.Len() > snapColdCacheEntries {
		c.remove(c.cold.Back())
	}
}

// remove drops an entry from its tier and from the map.
func (c *snapCache) remove(e *list.Element) {
	s := e.Value.(*snap)
	if s.cold {
		c.cold.Remove(e)
		c.coldBytes -= s.size()
	} else {
		c.hot.Remove(e)
		c.hotBytes -= s.size()
	}
	delete(c.m, s.id)
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
		c.remove(e)
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
		doneSeq: s.doneSeq, msgSeq: s.msgSeq, outSeq: s.outSeq, convData: s.convData, contactData: s.contactData}, nil
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
		version: b.version + 1, contactVersion: b.contactVersion, doneSeq: ch.DoneSeq, msgSeq: ch.msgTop, outSeq: ch.outTop}
	if ch.contactData != "" {
		s.contactData, s.contactVersion = ch.contactData, b.contactVersion+1
	}
	db.snaps.put(s)
}
