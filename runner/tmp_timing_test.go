package runner_test

import (
	"testing"
	"time"
	"slices"
	"github.com/tandemchat/tandem/runner"
)

func TestTmpLatency(t *testing.T) {
	for _, poll := range []time.Duration{0, 50 * time.Millisecond} {
		h := newHarness(t, true, func(c *runner.Config) { c.Poll = poll })
		h.publish(h.r, threeFlow)
		h.start(h.r)
		start := time.Now()
		h.say(h.r, "x", "p1", "go")
		waitFor(t, 20*time.Second, "3", func() bool { return h.ch.count() == 3 }, h.ch.changed)
		t.Logf("poll %v: three sends took %v", poll, time.Since(start))
		if !slices.Equal(h.ch.texts("x"), []string{"one", "two", "three"}) { t.Fatal(h.ch.texts("x")) }
	}
}
