package runner

import (
	"testing"
	"time"

	"github.com/tandemchat/tandem"
)

// A turn that sets a timer due after the timer loop's next look does not wake the loop (a
// question's timeout, set by nearly every turn, would cost the loop two reads a turn); one due
// before it does, and so does any timer while the loop is awake reading.
func TestTimerSetWakesTheLoopOnlyForEarlierTimers(t *testing.T) {
	r := &Runner{wakeTim: make(chan struct{}, 1)}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	woken := func() bool {
		select {
		case <-r.wakeTim:
			return true
		default:
			return false
		}
	}
	r.timerWakeAt.Store(now.Add(time.Second).UnixNano())
	r.timerSet([]tandem.Timer{{ID: "t1", Due: now.Add(24 * time.Hour)}})
	if woken() {
		t.Error("a timer due in 24 h woke the loop that looks again in 1 s")
	}
	r.timerSet([]tandem.Timer{{ID: "t2", Due: now.Add(24 * time.Hour)}, {ID: "t3", Due: now.Add(500 * time.Millisecond)}})
	if !woken() {
		t.Error("a timer due in 500 ms did not wake the loop that looks again in 1 s")
	}
	r.timerWakeAt.Store(0)
	r.timerSet([]tandem.Timer{{ID: "t4", Due: now.Add(24 * time.Hour)}})
	if !woken() {
		t.Error("a timer set while the loop was reading did not wake it: the read may have missed it")
	}
}
