package store

import (
	"fmt"
	"strings"
	"testing"
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
	if n := c.cold.Len(); n > snapColdCacheEntries {
		t.Errorf("%d cold entries, want at most %d", n, snapColdCacheEntries)
	}
	if c.hotBytes > snapCacheBytes || c.coldBytes > snapColdCacheBytes {
		t.Errorf("%d and %d bytes, want at most %d and %d", c.hotBytes, c.coldBytes, snapCacheBytes, snapColdCacheBytes)
	}
	if len(c.m) != c.hot.Len()+c.cold.Len() {
		t.Errorf("%d entries indexed, %d in the tiers", len(c.m), c.hot.Len()+c.cold.Len())
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

// A burst of timers due at once finds all its conversations cached: the 10,000 conversations
// committed last are kept, those out of the hot tier without their decoded state (a few KB
// each), and an entry replaced or forgotten leaves no trace in either tier.
func TestSnapCacheHoldsADueBurst(t *testing.T) {
	c := newSnapCache(snapCacheBytes)
	state := []byte(`{"cursor":{"flow":"bench-w2","step":"due"},"vars":{"x":"` + strings.Repeat("y", 700) + `"}}`)
	const waiting, due = 30000, 10000
	for i := range waiting + due {
		c.put(&snap{id: fmt.Sprint(i), convData: strings.Repeat("c", 300), contactData: strings.Repeat("k", 200), state: state, decoded: map[string]any{}})
	}
	hot := c.hot.Len()
	if hot < snapCacheEntries/2 {
		t.Fatalf("%d hot entries, want about %d", hot, snapCacheEntries)
	}
	for i := waiting; i < waiting+due; i++ {
		s, ok := c.get(fmt.Sprint(i))
		if !ok {
			t.Fatalf("conversation %d of the %d committed last is not cached", i-waiting+1, due)
		}
		if string(s.state) != string(state) || s.cold {
			t.Fatalf("conversation %d: state %q, cold %v", i, s.state, s.cold)
		}
		if cold := i < waiting+due-hot; cold != (s.decoded == nil) {
			t.Fatalf("conversation %d: decoded %v, want it only in the hot tier", i, s.decoded)
		}
	}
	// A cold entry put again is hot, once; forgotten, it is gone.
	id := fmt.Sprint(waiting)
	c.put(&snap{id: id, state: state, decoded: 1})
	if s, _ := c.get(id); s.decoded != 1 {
		t.Errorf("an entry put again: decoded %v, want 1", s.decoded)
	}
	c.forget(id)
	if _, ok := c.get(id); ok {
		t.Error("a forgotten entry is still cached")
	}
	if len(c.m) != c.hot.Len()+c.cold.Len() {
		t.Errorf("%d entries indexed, %d in the tiers", len(c.m), c.hot.Len()+c.cold.Len())
	}
}
