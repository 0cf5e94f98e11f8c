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
	for i := range 20000 {
		c.put(&snap{id: fmt.Sprint(i), convData: "{}", contactData: "{}", state: state})
		c.setConversationOf("api", fmt.Sprint(i), fmt.Sprint(i))
	}
	if n := c.lru.Len(); n > snapCacheEntries {
		t.Errorf("%d entries, want at most %d", n, snapCacheEntries)
	}
	if c.bytes > snapCacheBytes {
		t.Errorf("%d bytes, want at most %d", c.bytes, snapCacheBytes)
	}
	if n := len(c.convOf); n > 4*snapCacheEntries {
		t.Errorf("%d contact hints, want at most %d", n, 4*snapCacheEntries)
	}
	// The most recent entries are the ones kept.
	if _, ok := c.get("19999"); !ok {
		t.Error("the last entry put is not cached")
	}
	if _, ok := c.get("0"); ok {
		t.Error("the first entry put is still cached")
	}
}
