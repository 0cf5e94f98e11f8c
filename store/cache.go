package store

import (
	"bytes"
	"container/list"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

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
// with its columns only, which is large enough for a burst of timers due at once (W2's
// 10,000): their turns then read nothing either, and decode the state themselves.
//
// The cold tier copies its entries' columns into blocks of coldBlock bytes, oldest out first,
// and counts the blocks, not the entries: its bound is the memory it takes. An entry kept as
// the turn left it (its strings and state, each allocated among the turn's garbage) cost twice
// its bytes in the heap, the spans it kept half empty (W2 with 100,000 waiting: 16,384 cold
// entries of 1.5 KB grew the heap in use by 47 MB).
type snapCache struct {
	mu  sync.Mutex
	m   map[string]*list.Element // the hot tier's entries
	hot list.List
	// hotBytes is the hot tier's estimated size; maxHot bounds it.
	hotBytes int
	maxHot   int
	cold     coldTier
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
}

// size estimates a hot entry's memory: the decoded state takes a few times its JSON.
func (s *snap) size() int {
	return 1024 + len(s.convData) + len(s.contactData) + 4*len(s.state)
}

// The cache's bounds: the hot tier what W1's customers need; the cold tier a burst of timers due
// at once (a W2 conversation takes 1.1 KB there). Some 25 MB at most however many conversations
// wait (they cost disk, not memory).
const (
	snapCacheBytes       = 8 << 20
	snapCacheEntries     = 2048
	snapColdCacheBytes   = 16 << 20
	snapColdCacheEntries = 16384
	// coldBlock is the size of the cold tier's blocks: large enough to be a span of its own.
	coldBlock = 64 << 10
	// coldEntryIndex is what an entry costs in the cold tier's index besides its bytes: the
	// map's slot and the id's string.
	coldEntryIndex = 96
)

func newSnapCache(maxHot int) *snapCache {
	return &snapCache{m: map[string]*list.Element{}, maxHot: maxHot, cold: coldTier{idx: map[string]coldRef{}}, convOf: map[contactKey]string{}}
}

// get returns the entry of id; its decoded state is handed over with it (the next get has
// none): one turn at a time may change it.
func (c *snapCache) get(id string) (snap, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok {
		return c.cold.get(id)
	}
	s := e.Value.(*snap)
	c.hot.MoveToFront(e)
	out := *s
	s.decoded = nil
	return out, true
}

func (c *snapCache) put(s *snap) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(s.id)
	c.m[s.id] = c.hot.PushFront(s)
	c.hotBytes += s.size()
	// The hot tier's oldest entries go cold, without their decoded state.
	for (c.hotBytes > c.maxHot || c.hot.Len() > snapCacheEntries) && c.hot.Len() > 1 {
		e := c.hot.Back()
		old := e.Value.(*snap)
		c.hot.Remove(e)
		delete(c.m, old.id)
		c.hotBytes -= old.size()
		c.cold.put(old)
	}
}

// removeLocked drops id's entry from whichever tier holds it.
func (c *snapCache) removeLocked(id string) {
	if e, ok := c.m[id]; ok {
		c.hot.Remove(e)
		c.hotBytes -= e.Value.(*snap).size()
		delete(c.m, id)
		return
	}
	c.cold.remove(id)
}

// version returns the version of a conversation's entry: the version its last commit here gave.
func (c *snapCache) version(id string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		return e.Value.(*snap).version, true
	}
	return c.cold.version(id)
}

func (c *snapCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(id)
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

// coldTier holds entries without their decoded state, each encoded in a block, the blocks
// oldest first: a full tier drops its oldest block, with the entries in it. A block whose
// entries all went (made hot again, forgotten) is dropped at once.
type coldTier struct {
	idx    map[string]coldRef
	blocks []*coldBlockBuf // oldest first; a dropped one is nil until it is the oldest
	// bytes is the blocks' size, what the tier takes besides its index.
	bytes int
}

type coldBlockBuf struct {
	buf  []byte
	live int // entries of this block still indexed
}

type coldRef struct {
	b        *coldBlockBuf
	off, end int32
}

// size is the tier's memory: its blocks and its index.
func (t *coldTier) size() int { return t.bytes + coldEntryIndex*len(t.idx) }

func (t *coldTier) get(id string) (snap, bool) {
	r, ok := t.idx[id]
	if !ok {
		return snap{}, false
	}
	return decodeCold(r.b.buf[r.off:r.end]), true
}

// version returns the version of id's entry.
func (t *coldTier) version(id string) (int64, bool) {
	r, ok := t.idx[id]
	if !ok {
		return 0, false
	}
	_, nums, _ := coldHead(r.b.buf[r.off:r.end])
	return nums[0], true
}

func (t *coldTier) remove(id string) {
	r, ok := t.idx[id]
	if !ok {
		return
	}
	delete(t.idx, id)
	if r.b.live--; r.b.live == 0 && (len(t.blocks) == 0 || r.b != t.blocks[len(t.blocks)-1]) {
		t.bytes -= cap(r.b.buf)
		r.b.buf = nil
	}
}

// put encodes s into the newest block (a new one when it is full), then drops the oldest
// blocks until the tier is within its bounds.
func (t *coldTier) put(s *snap) {
	n := coldLen(s)
	var b *coldBlockBuf
	if k := len(t.blocks); k > 0 && t.blocks[k-1].buf != nil && len(t.blocks[k-1].buf)+n <= cap(t.blocks[k-1].buf) {
		b = t.blocks[k-1]
	} else {
		if k > 0 && t.blocks[k-1].live == 0 && t.blocks[k-1].buf != nil {
			t.bytes -= cap(t.blocks[k-1].buf) // the newest block, emptied while it was being filled
			t.blocks[k-1].buf = nil
		}
		b = &coldBlockBuf{buf: make([]byte, 0, max(coldBlock, n))}
		t.blocks = append(t.blocks, b)
		t.bytes += cap(b.buf)
	}
	off := len(b.buf)
	b.buf = appendCold(b.buf, s)
	b.live++
	t.idx[s.id] = coldRef{b: b, off: int32(off), end: int32(len(b.buf))}
	for len(t.blocks) > 1 && (t.size() > snapColdCacheBytes || len(t.idx) > snapColdCacheEntries) {
		t.dropOldest()
	}
	for len(t.blocks) > 0 && t.blocks[0].buf == nil {
		t.blocks[0] = nil
		t.blocks = t.blocks[1:]
	}
}

// dropOldest drops the oldest block and the entries still indexed in it.
func (t *coldTier) dropOldest() {
	b := t.blocks[0]
	t.blocks[0] = nil
	t.blocks = t.blocks[1:]
	if b.buf == nil {
		return
	}
	for off := 0; off < len(b.buf); {
		n, _, rest := coldHead(b.buf[off:])
		id, _ := coldString(rest)
		if r, ok := t.idx[string(id)]; ok && r.b == b && int(r.off) == off {
			delete(t.idx, string(id))
		}
		off += n
	}
	t.bytes -= cap(b.buf)
	b.buf, b.live = nil, 0
}

// coldLen is the length of s encoded by appendCold, at most.
func coldLen(s *snap) int {
	c := &s.conv
	return 4 + (len(coldNums{})+10)*binary.MaxVarintLen64 + len(s.id) + len(c.ContactID) + len(c.ChannelID) + len(c.ChannelKind) +
		len(c.Status) + len(c.Team) + len(c.Assignee) + len(s.convData) + len(s.contactData) + len(s.state)
}

// coldNums are a cold entry's numbers, in the order it stores them.
type coldNums [10]int64

// appendCold encodes a cold entry: its length, its numbers, then its strings, each after its
// length.
func appendCold(b []byte, s *snap) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0) // the entry's length, set last
	c := &s.conv
	paused := int64(0)
	if c.BotPaused {
		paused = 1
	}
	nums := coldNums{s.version, s.contactVersion, s.doneSeq, s.msgSeq, s.outSeq, paused,
		c.CreatedAt.Unix(), int64(c.CreatedAt.Nanosecond()), c.UpdatedAt.Unix(), int64(c.UpdatedAt.Nanosecond())}
	for _, v := range nums {
		b = binary.AppendVarint(b, v)
	}
	for _, v := range [...]string{s.id, c.ContactID, c.ChannelID, c.ChannelKind, c.Status, c.Team, c.Assignee, s.convData, s.contactData} {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	b = binary.AppendUvarint(b, uint64(len(s.state)))
	b = append(b, s.state...)
	binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// coldHead reads the start of the entry at the start of b: its length, its numbers, and the
// rest (its strings).
func coldHead(b []byte) (n int, nums coldNums, rest []byte) {
	n = int(binary.LittleEndian.Uint32(b))
	b = b[4:n]
	for i := range nums {
		v, k := binary.Varint(b)
		nums[i], b = v, b[k:]
	}
	return n, nums, b
}

// coldString reads a string of an entry: its bytes and the rest.
func coldString(b []byte) (v, rest []byte) {
	l, k := binary.Uvarint(b)
	return b[k : k+int(l)], b[k+int(l):]
}

// decodeCold decodes the entry at the start of b. Its strings are copies: the entry outlives
// its block.
func decodeCold(b []byte) snap {
	_, nums, b := coldHead(b)
	var strs [10][]byte
	for i := range strs {
		strs[i], b = coldString(b)
	}
	// The conversation's short strings share one allocation.
	short := string(bytes.Join(strs[:7], nil))
	var f [7]string
	for i, at := 0, 0; i < len(f); i++ {
		f[i], at = short[at:at+len(strs[i])], at+len(strs[i])
	}
	s := snap{id: f[0], convData: string(strs[7]), contactData: string(strs[8]), state: bytes.Clone(strs[9]),
		version: nums[0], contactVersion: nums[1], doneSeq: nums[2], msgSeq: nums[3], outSeq: nums[4]}
	s.conv = tandem.Conversation{ID: f[0], ContactID: f[1], ChannelID: f[2], ChannelKind: f[3], Status: f[4], Team: f[5], Assignee: f[6],
		BotPaused: nums[5] != 0, CreatedAt: time.Unix(nums[6], nums[7]).UTC(), UpdatedAt: time.Unix(nums[8], nums[9]).UTC()}
	return s
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
		doneSeq: s.doneSeq, msgSeq: s.msgSeq, outSeq: s.outSeq, convData: s.convData, contactData: s.contactData,
		readStatus: c.Status, readTeam: c.Team, readAssignee: c.Assignee}, nil
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
