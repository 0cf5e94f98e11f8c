package runner

import (
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/engine"
)

// Only a safe call (GET or HEAD) that the run waits on, alone, is made before its turn's write:
// a POST, PUT, PATCH or DELETE is stored first and carried out by the outbox, so that a crash
// never repeats it with a message that was not acknowledged.
func TestEarlyCallsAreSafeMethodsOnly(t *testing.T) {
	call := func(id, method string, await bool) tandem.Effect {
		return tandem.Effect{ID: id, Kind: tandem.EffectHTTP, Await: await, HTTP: &tandem.HTTPRequest{Method: method, URL: "http://127.0.0.1/x"}}
	}
	send := tandem.Effect{ID: "s", Kind: tandem.EffectSend}
	for _, tc := range []struct {
		name    string
		effects []tandem.Effect
		want    string
	}{
		{"GET", []tandem.Effect{send, call("g", "GET", true)}, "g"},
		{"HEAD", []tandem.Effect{call("h", "HEAD", true)}, "h"},
		{"POST", []tandem.Effect{call("p", "POST", true)}, ""},
		{"PUT", []tandem.Effect{call("p", "PUT", true)}, ""},
		{"PATCH", []tandem.Effect{call("p", "PATCH", true)}, ""},
		{"DELETE", []tandem.Effect{call("p", "DELETE", true)}, ""},
		{"a GET not waited on", []tandem.Effect{call("g", "GET", false)}, ""},
		{"two calls waited on", []tandem.Effect{call("g", "GET", true), call("g2", "GET", true)}, ""},
		{"an AI call waited on", []tandem.Effect{{ID: "a", Kind: tandem.EffectAI, Await: true}}, ""},
	} {
		got := ""
		if e := earlyOf(&engine.Output{Effects: tc.effects}); e != nil {
			got = e.ID
		}
		if got != tc.want {
			t.Errorf("%s: the early call is %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The calls handed over to the outbox that it never took (another process claimed the
// effect, or the turn's lane held it back) are forgotten a while after they finished, so the
// runner's memory stays bounded; a call still in flight is kept.
func TestEarlyCallsHandedOverAreForgotten(t *testing.T) {
	var ec earlyCalls
	old := &earlyCall{done: make(chan struct{}), finished: time.Now().Add(-2 * earlyKeep)}
	close(old.done)
	recent := &earlyCall{done: make(chan struct{}), finished: time.Now()}
	close(recent.done)
	flying := &earlyCall{done: make(chan struct{})}
	ec.put("old", old)
	ec.put("recent", recent)
	ec.put("flying", flying)
	ec.swept = time.Time{} // the next put sweeps
	ec.put("new", &earlyCall{done: make(chan struct{})})
	if ec.take("old") != nil {
		t.Error("a call finished long ago is still held")
	}
	for _, id := range []string{"recent", "flying", "new"} {
		if ec.take(id) == nil {
			t.Errorf("call %q was forgotten", id)
		}
	}
	if n := len(ec.calls); n != 0 {
		t.Errorf("%d calls held after taking them all, want 0", n)
	}
}
