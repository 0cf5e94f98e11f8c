package runner_test

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/runner"
)

const askFlow = `format: 1
id: ask
trigger: {on: message, match: any}
steps:
  - {id: got, type: message, text: "got {{message.text}}"}
  - {id: ask, type: question, text: "and?", answer: text}
  - {id: done, type: message, text: "done {{step.ask}}"}
`

// crashOn makes the runner's step crash on a customer message with the text, after the engine
// handled it (the state is half-changed when it panics, as in a real bug); it counts the crashes.
func crashOn(r *runner.Runner, text string) *atomic.Int64 {
	n := &atomic.Int64{}
	r.WrapStep(func(next func(*engine.Input) *engine.Output) func(*engine.Input) *engine.Output {
		return func(in *engine.Input) *engine.Output {
			out := next(in)
			if ev := in.Event; ev.Kind == tandem.EventMessage && ev.Message != nil && ev.Message.Text == text {
				n.Add(1)
				var m map[string]int
				m["boom"]++ // a nil map write: a runtime panic, as bugs make them
			}
			return out
		}
	})
	return n
}

// A step that panics fails its run with reason internal_error, the stack goes to the log, and
// nothing of the crashed attempt is kept (the message it was about to send is not sent). The
// events queued before it in the same batch are handled as usual, and the conversation goes
// on: the next message starts a new run.
func TestPanickingStepFailsItsRun(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	h := newHarness(t, false, func(c *runner.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.Env = &engine.Env{Secrets: map[string]string{"KEY": "s3cret-value"}}
	})
	crashes := crashOn(h.r, "boom s3cret-value")
	h.publish(h.r, askFlow)
	conv := h.say(h.r, "ana", "m1", "hello").ConversationID
	h.drain(h.r)
	// Three messages in one batch: the answer ends the run; the crash is in the run the second
	// one starts; the third starts another.
	h.say(h.r, "ana", "m2", "x1")
	h.say(h.r, "ana", "m3", "boom s3cret-value")
	h.say(h.r, "ana", "m4", "after")
	h.drain(h.r)

	if crashes.Load() == 0 {
		t.Fatal("the step never crashed: the test tests nothing")
	}
	want := []string{"got hello", "and?", "done x1", "got after", "and?"}
	if got := h.ch.texts("ana"); !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q (nothing of the crashed attempt)", got, want)
	}
	runs, err := h.db.Runs(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	var failed []tandem.Run
	for _, run := range runs {
		if run.Status == tandem.RunFailed {
			failed = append(failed, run)
		}
	}
	if len(runs) != 3 || len(failed) != 1 || failed[0].Reason != tandem.ReasonInternalError {
		t.Fatalf("runs %+v; want 3, the second failed with internal_error", runs)
	}
	if !strings.Contains(failed[0].Error, "internal error") || strings.Contains(failed[0].Error, "nil map") {
		t.Errorf("the run's error is %q; want a public message, the details in the log", failed[0].Error)
	}
	trace, err := h.db.RunTrace(context.Background(), conv, failed[0].ID)
	if err != nil || len(trace) == 0 || !strings.HasSuffix(trace[len(trace)-1].Type, tandem.ReasonInternalError) {
		t.Errorf("the failed run's trace %+v (%v) does not end with the internal error", trace, err)
	}
	_, st := h.state(conv)
	if st.Run == nil || st.Run.Step != "ask" {
		t.Errorf("the conversation's run after the crash: %+v; want the new run waiting at ask", st.Run)
	}
	log := logs.String()
	for _, want := range []string{"handling an event crashed", "internal_error", "assignment to entry in nil map", "panic_test.go"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "s3cret-value") {
		t.Errorf("the log shows a workspace secret:\n%s", log)
	}
}

// A crash is not replayed: a server restarted after a step crashed (its event consumed) does not
// crash again on it, and the conversation's next message is answered as usual.
func TestPanickingStepNoCrashLoop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	first := crashOn(h.r, "boom")
	h.publish(h.r, askFlow)
	h.start(h.r)
	conv := h.say(h.r, "bob", "m1", "boom").ConversationID
	waitFor(t, scaled(10*time.Second), "the crashed run to fail", func() bool {
		runs, err := h.db.Runs(context.Background(), conv)
		return err == nil && len(runs) == 1 && runs[0].Reason == tandem.ReasonInternalError
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := h.db.Pending(ctx, 10); err != nil || len(n) != 0 {
		t.Errorf("after the crash, conversations with queued events: %v, %v; want none", n, err)
	}

	restarted := h.newRunner()
	again := crashOn(restarted, "boom")
	if err := restarted.LoadFlows(ctx); err != nil {
		t.Fatal(err)
	}
	h.start(restarted)
	h.say(restarted, "bob", "m2", "hello")
	waitFor(t, scaled(10*time.Second), "the answers after the restart", func() bool {
		return slices.Equal(h.ch.texts("bob"), []string{"got hello", "and?"})
	}, h.ch.changed)
	if first.Load() == 0 || again.Load() != 0 {
		t.Errorf("crashes: %d before the restart, %d after; want some, then none", first.Load(), again.Load())
	}
}

// panicky is an HTTP client with a bug: it panics.
type panicky struct{}

func (panicky) Do(*http.Request) (*http.Response, error) { panic("the HTTP client has a bug") }

// An effect whose execution panics (a bug in a channel, a desk, a provider or the HTTP client)
// fails for good without killing the server: an http step takes its on_error branch, a send is
// marked failed, and what follows still happens.
func TestPanickingEffectFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, func(c *runner.Config) { c.HTTP = panicky{} })
	h.publish(h.r, `format: 1
id: call
trigger: {on: message, match: any}
steps:
  - {id: c, type: http, url: "https://api.example.com/x", on_error: oops}
  - {id: fine, type: message, text: "fine", next: end}
  - {id: oops, type: message, text: "the call failed: {{step.c.error}}"}
  - {id: next, type: message, text: "still here"}
`)
	var once sync.Once
	h.ch.setHook(func(ctx context.Context, out tandem.Outbound) error {
		if strings.HasPrefix(out.Message.Text, "the call failed") {
			once.Do(func() { panic("the channel has a bug") })
		}
		return nil
	})
	conv := h.say(h.r, "cy", "m1", "go").ConversationID
	h.drain(h.r)
	if got := h.ch.texts("cy"); !slices.Equal(got, []string{"still here"}) {
		t.Errorf("delivered %q; want the message after the crashed send", got)
	}
	var tried []string
	for _, s := range h.ch.tries() {
		tried = append(tried, s.Text)
	}
	if len(tried) != 2 || !strings.Contains(tried[0], "the call failed: an internal error") {
		t.Errorf("send attempts %q; want the crashed call's error once (not retried), then the next message", tried)
	}
	if n := len(h.messages(conv, tandem.DirectionOut)); n != 2 {
		t.Errorf("%d messages stored, want 2", n)
	}
}
