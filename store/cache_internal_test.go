package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
)

// The snapshot cache stays within its bounds however many conversations pass through it:
// waiting conversations cost disk, not memory.
func TestSnapCacheBounded(t *testing.T) {
	c := newSnapCache(snapCacheBytes)
	state := []byte(`{"vars":{"x":"` + strings.Repeat("y", 500) + `"}}`)
	const n = 40000
	for i := range n {
		c.put(&snap{id: fmt.Sprint(i), convData: "{}", contactData: "{}", state: state, decoded: map[string]any{"x": i}})
		c.setConversationOf("api", fmt.Sprint(i), fmt.Sprint(i))
	}
	if n := c.hot.Len(); n > snapCacheEntries {
		t.Errorf("%d hot entries, want at most %d", n, snapCacheEntries)
	}
	if n := len(c.cold.idx); n > snapColdCacheEntries {
		t.Errorf("%d cold entries, want at most %d", n, snapColdCacheEntries)
	}
	if c.hotBytes > snapCacheBytes || c.cold.size() > snapColdCacheBytes {
		t.Errorf("%d and %d bytes, want at most %d and %d", c.hotBytes, c.cold.size(), snapCacheBytes, snapColdCacheBytes)
	}
	if len(c.m) != c.hot.Len() {
		t.Errorf("%d hot entries indexed, %d in the tier", len(c.m), c.hot.Len())
	}
	live := 0
	for _, b := range c.cold.blocks {
		live += b.live
	}
	if live != len(c.cold.idx) {
		t.Errorf("%d cold entries indexed, %d counted in the blocks", len(c.cold.idx), live)
	}
	if n := len(c.convOf); n > 4*snapCacheEntries {
		t.Errorf("%d contact hints, want at most %d", n, 4*snapCacheEntries)
	}
	// The most recent entries are the ones kept; the hot ones with their decoded state.
	if s, ok := c.get(fmt.Sprint(n - 1)); !ok || s.decoded == nil {
		t.Errorf("the last entry put: cached %v, decoded %v; want both", ok, s.decoded)
	}
	if _, ok := c.get("0"); ok {
		t.Error("the first entry put is still cached")
	}
}

// w2Snap is a conversation of W2 waiting on its timer as a turn's commit leaves it in the cache,
// each of its strings allocated apart, as a turn's are.
func w2Snap(i int) *snap {
	now := time.Date(2026, 12, 7, 12, 9, 8, 207003062, time.UTC).Add(time.Duration(i) * time.Millisecond)
	id, contact := fmt.Sprintf("01M986GRVDH9AQA3C7F6%06d", i), fmt.Sprintf("01M986GRVCQ2MH0CVW0G%06d", i)
	st := map[string]any{"run": map[string]any{"id": "01M986GRVFFVBFJFN0009ZGVSN", "flow_id": "bench-w2", "version": 1, "status": "waiting",
		"step": "hold", "started_at": now, "vars": map[string]any{}, "outputs": map[string]any{"route": map[string]any{"branch": "#1", "next": "hold"}},
		"message": map[string]any{"id": "01M986GRVCQ2MH0CVW0EEY8PC0", "conversation_id": id, "seq": 1, "direction": "in", "author": "contact",
			"type": "text", "text": "hold", "channel_message_id": fmt.Sprintf("w-01m986grvcq2mh0cvw0e6ajrb1-%d", i), "created_at": now},
		"wait": map[string]any{"timer_id": "01M986GRVFFVBFJFN002PGTCDJ", "due": now.Add(48 * time.Hour)}, "entered": now, "steps": 2,
		"usage": map[string]any{"calls": 0, "input_tokens": 0, "output_tokens": 0}, "path": []string{"route", "hold"}}, "seq": 2, "started": true}
	state, _ := json.Marshal(st)
	cd, _ := json.Marshal(map[string]any{"id": contact, "channel_id": "api", "external_id": fmt.Sprintf("w-01m986grvcq2mh0cvw0e6ajrb1-%d", i),
		"created_at": now, "updated_at": now})
	c := tandem.Conversation{ID: id, ContactID: contact, ChannelID: strings.Clone("api"), ChannelKind: strings.Clone("api"),
		Status: strings.Clone("bot"), CreatedAt: now, UpdatedAt: now.Add(2 * time.Millisecond)}
	return &snap{id: id, conv: c, convData: strings.Clone("{}"), contactData: string(cd), state: state, decoded: st,
		version: 2, contactVersion: 1, doneSeq: 1, msgSeq: 1, outSeq: int64(i % 3)}
}

// The cold tier's bound is the memory it takes: filled with W2's conversations the way turns
// fill it (each entry's strings allocated among the turn's garbage), the heap in use grows by
// about what the tier counts, not twice that (its entries, as the turns left them, kept the
// spans they were made in half empty). Not parallel: it measures the heap.
func TestSnapCacheColdTierMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newSnapCache(0)  // every entry but the last goes cold at once
	var garbage [64][]any // the last turns' garbage, in the size classes of the entries'
	const n = 3 * snapColdCacheEntries / 2
	for i := range n {
		s := w2Snap(i)
		garbage[i%len(garbage)] = []any{w2Snap(i), string(s.state), []byte(s.contactData), strings.Clone(s.id)}
		c.put(s)
	}
	clear(garbage[:])
	runtime.GC()
	runtime.ReadMemStats(&after)
	entries := len(c.cold.idx)
	if entries < 10000 {
		t.Fatalf("the cold tier holds %d of W2's conversations, want the 10,000 due at once at least", entries)
	}
	grew, counted := int(after.HeapInuse)-int(before.HeapInuse), c.cold.size()
	t.Logf("%d cold entries: the heap in use grew %d B an entry, the tier counts %d B (%.1f MB of %.1f MB)",
		entries, grew/entries, counted/entries, float64(counted)/(1<<20), float64(snapColdCacheBytes)/(1<<20))
	if counted > snapColdCacheBytes {
		t.Errorf("the cold tier counts %d bytes, want at most %d", counted, snapColdCacheBytes)
	}
	if grew > counted*5/4+1<<20 {
		t.Errorf("the heap in use grew %.1f MB for a cold tier that counts %.1f MB: the count is too low", float64(grew)/(1<<20), float64(counted)/(1<<20))
	}
	runtime.KeepAlive(c)
}

// A cold entry reads back as it was put, without its decoded state.
func TestSnapCacheColdEntryRoundTrip(t *testing.T) {
	t.Parallel()
	c := newSnapCache(0)
	want := w2Snap(7)
	want.conv.Team, want.conv.Assignee, want.conv.BotPaused = "sales", "ana", true
	c.put(want)
	c.put(w2Snap(8)) // pushes the first one cold
	got, ok := c.get(want.id)
	if !ok {
		t.Fatal("the cold entry is not cached")
	}
	want.decoded = nil
	if !reflect.DeepEqual(got, *want) {
		t.Errorf("cold entry:\n got %+v\nwant %+v", got, *want)
	}
	if v, ok := c.version(want.id); !ok || v != want.version {
		t.Errorf("version %d, %v; want %d", v, ok, want.version)
	}
	var zero snap
	zero.id = "z"
	c.put(&zero)
	c.put(w2Snap(9))
	if got, _ := c.get("z"); !got.conv.CreatedAt.IsZero() || !got.conv.UpdatedAt.IsZero() {
		t.Errorf("zero times read back as %v and %v", got.conv.CreatedAt, got.conv.UpdatedAt)
	}
}

// A burst of timers due at once finds all its conversations cached: the 10,000 conversations
// committed last are kept, those out of the hot tier without their decoded state, and an entry
// replaced or forgotten leaves no trace in either tier.
func TestSnapCacheHoldsADueBurst(t *testing.T) {
	t.Parallel()
	c := newSnapCache(snapCacheBytes)
	const waiting, due = 30000, 10000
	for i := range waiting + due {
		c.put(w2Snap(i))
	}
	hot := c.hot.Len()
	if hot < snapCacheEntries/2 {
		t.Fatalf("%d hot entries, want about %d", hot, snapCacheEntries)
	}
	for i := waiting; i < waiting+due; i++ {
		s, ok := c.get(w2Snap(i).id)
		if !ok {
			t.Fatalf("conversation %d of the %d committed last is not cached", i-waiting+1, due)
		}
		if want := w2Snap(i).state; string(s.state) != string(want) {
			t.Fatalf("conversation %d: state %q, want %q", i, s.state, want)
		}
		if cold := i < waiting+due-hot; cold != (s.decoded == nil) {
			t.Fatalf("conversation %d: decoded %v, want it only in the hot tier", i, s.decoded != nil)
		}
	}
	// A cold entry put again is hot, once; forgotten, it is gone.
	s := w2Snap(waiting)
	s.decoded = 1
	c.put(s)
	if got, _ := c.get(s.id); got.decoded != 1 {
		t.Errorf("an entry put again: decoded %v, want 1", got.decoded)
	}
	if _, ok := c.cold.idx[s.id]; ok {
		t.Error("an entry put again is still in the cold tier")
	}
	c.forget(s.id)
	if _, ok := c.get(s.id); ok {
		t.Error("a forgotten entry is still cached")
	}
	// Forgetting every cold entry frees the tier's blocks but the one being filled.
	for id := range c.cold.idx {
		c.forget(id)
	}
	if c.cold.bytes > coldBlock {
		t.Errorf("the cold tier emptied still takes %d bytes", c.cold.bytes)
	}
}
