package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/flow"
)

// TestStepTypes fails when a step type the engine runs has no conversation test and golden trace
// in testdata/steps (goflow's TestActionTypes): a new step type comes with its specification.
func TestStepTypes(t *testing.T) {
	t.Parallel()
	if len(handlers) == 0 {
		t.Fatal("no step type is registered")
	}
	types := make([]string, 0, len(handlers))
	for typ := range handlers {
		types = append(types, typ)
	}
	slices.Sort(types)
	for _, typ := range types {
		for _, name := range []string{typ + ".test.yaml", typ + ".golden"} {
			path := filepath.Join("testdata", "steps", name)
			if _, err := os.Stat(path); err != nil {
				t.Errorf("step type %q has no %s: write its conversation test (see testdata/steps/message.test.yaml), then go test ./engine -run TestGolden -update", typ, path)
			}
		}
		if _, ok := flow.Types[typ]; !ok {
			t.Errorf("step type %q runs in the engine but flow.Types cannot parse it", typ)
		}
	}
	// Every declared type runs: a type without a handler would pass validation and fail at run
	// time.
	for _, st := range flow.StepTypes {
		if _, ok := handlers[st.Name]; !ok {
			t.Errorf("step type %q is declared in flow.StepTypes but the engine has no handler: write engine/step_*.go with register(%q, ...)", st.Name, st.Name)
		}
	}
	// The other way round: a step-type file whose type the engine does not run is stale.
	files, _ := filepath.Glob(filepath.Join("testdata", "steps", "*.test.yaml"))
	for _, f := range files {
		typ := strings.TrimSuffix(filepath.Base(f), ".test.yaml")
		if _, ok := handlers[typ]; !ok {
			t.Errorf("%s tests step type %q, which the engine does not register", f, typ)
		}
	}
}

// ---- the engine alone, with an in-memory Flows ----

// memFlows is a Flows over parsed flows, each published as version 1.
type memFlows map[string]*flow.Flow

func (m memFlows) Version(id string, version int) (*flow.Flow, error) {
	if f, ok := m[id]; ok && f.Version == version {
		return f, nil
	}
	return nil, fmt.Errorf("flow %s version %d is not published", id, version)
}

func (m memFlows) Latest(id string) (*flow.Flow, error) {
	if f, ok := m[id]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("flow %s is not published", id)
}

func (m memFlows) Triggerable() []*flow.Flow {
	out := make([]*flow.Flow, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *flow.Flow) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func mustFlows(tb testing.TB, docs ...string) memFlows {
	tb.Helper()
	m := memFlows{}
	for i, doc := range docs {
		f, findings := flow.Parse(fmt.Sprintf("flow%d.yaml", i), []byte(doc))
		if f == nil {
			tb.Fatalf("flow %d: %v", i, findings)
		}
		f.Version = 1
		m[f.ID] = f
	}
	return m
}

// counterIDs returns an id generator giving id-1, id-2, ...
func counterIDs() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("id-%d", n) }
}

// conv is one conversation processed by the engine alone.
type conv struct {
	env     *Env
	now     time.Time
	conv    *tandem.Conversation
	contact *tandem.Contact
	state   *State
	timers  map[string]tandem.Timer
}

func newConv(env *Env) *conv {
	return &conv{env: env, now: time.Date(2026, 1, 5, 13, 0, 0, 0, time.UTC),
		conv:    &tandem.Conversation{ID: "conv-1", ContactID: "contact-1", ChannelID: "api", ChannelKind: "api", Status: tandem.ConversationBot},
		contact: &tandem.Contact{ID: "contact-1", Name: "Ana Souza"},
		state:   &State{}, timers: map[string]tandem.Timer{}}
}

func (c *conv) process(ev *tandem.Event) *Output {
	ev.At = c.now
	out := c.env.Process(&Input{Now: c.now, Conversation: c.conv, Contact: c.contact, State: c.state, Event: ev})
	for _, id := range out.CancelTimers {
		delete(c.timers, id)
	}
	for _, tm := range out.Timers {
		c.timers[tm.ID] = tm
	}
	return out
}

func (c *conv) say(text string) *Output {
	return c.process(&tandem.Event{Kind: tandem.EventMessage, Message: &tandem.Message{Type: tandem.MessageText, Text: text}})
}

// sent returns the texts of the messages an output sends.
func sent(out *Output) []string {
	var texts []string
	for _, e := range out.Effects {
		if e.Kind == tandem.EffectSend {
			texts = append(texts, e.Send.Text)
		}
	}
	return texts
}

// TestMessageOnFailed covers what a conversation test cannot: the channel reporting a failed
// delivery sends the run to on_failed, with status and error outputs.
func TestMessageOnFailed(t *testing.T) {
	t.Parallel()
	flows := mustFlows(t, `
format: 1
id: notice
trigger: {on: message, match: any}
steps:
  - {id: tracked, type: message, text: "Your code is 1234", on_failed: fallback}
  - {id: ok, type: message, text: "delivered: {{step.tracked.status}}", next: end}
  - {id: fallback, type: message, text: "failed: {{step.tracked.status}} ({{step.tracked.error}})"}
`)
	for _, tc := range []struct {
		name   string
		result tandem.EffectResult
		want   string
	}{
		{"delivered", tandem.EffectResult{Kind: tandem.EffectSend, Send: &tandem.SendResult{ChannelMessageID: "wamid.1"}}, "delivered: sent"},
		{"provider said failed", tandem.EffectResult{Kind: tandem.EffectSend, Send: &tandem.SendResult{Failed: true, Error: "131026 undeliverable"}}, "failed: failed (131026 undeliverable)"},
		{"send failed for good", tandem.EffectResult{Kind: tandem.EffectSend, Error: "channel down"}, "failed: failed (channel down)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newConv(&Env{Flows: flows, NewID: counterIDs()})
			out := c.say("hi")
			if got := sent(out); !slices.Equal(got, []string{"Your code is 1234"}) {
				t.Fatalf("sent %q", got)
			}
			e := out.Effects[0]
			if !e.Await {
				t.Fatal("a message with on_failed must await its delivery")
			}
			if r := c.state.Run; r == nil || r.Status != tandem.RunWaiting || r.Wait == nil || r.Wait.EffectID != e.ID {
				t.Fatalf("the run does not wait on the send: %+v", c.state.Run)
			}
			res := tc.result
			res.EffectID = e.ID
			out = c.process(&tandem.Event{Kind: tandem.EventResult, Result: &res})
			if got := sent(out); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("after the result sent %q, want %q", got, tc.want)
			}
			if c.state.Run != nil || c.state.Last.Status != tandem.RunCompleted {
				t.Errorf("run = %+v, last = %+v; want completed", c.state.Run, c.state.Last)
			}
		})
	}
}

// A phone answer without a country code is read in the country of the customer's own phone (a
// WhatsApp sender's), in the server as in tandem test; without a phone it is invalid.
func TestPhoneAnswerRegion(t *testing.T) {
	t.Parallel()
	flows := mustFlows(t, `
format: 1
id: phone
trigger: {on: message, match: any}
steps:
  - {id: ask, type: question, text: "Your number?", answer: phone, retries: 1, invalid_text: "A phone number, please."}
  - {id: got, type: message, text: "Saved {{step.ask}}"}
`)
	for _, tc := range []struct{ phone, want string }{
		{"+5511988887777", "Saved +5511999990000"},
		{"", "A phone number, please."},
	} {
		c := newConv(&Env{Flows: flows, NewID: counterIDs()})
		c.contact.Phone = tc.phone
		c.say("hi")
		if got := sent(c.say("(11) 99999-0000")); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("contact phone %q: sent %q, want %q", tc.phone, got, tc.want)
		}
	}
}

// TestMessageSplit checks that a text longer than the channel allows is split at sentence ends.
func TestMessageSplit(t *testing.T) {
	t.Parallel()
	sentence := "This sentence has exactly forty-four chars. "
	text := strings.Repeat(sentence, 3) + "End"
	got := splitText(text, 100)
	want := []string{strings.TrimSpace(strings.Repeat(sentence, 2)), strings.TrimSpace(sentence) + " End"}
	if !slices.Equal(got, want) {
		t.Errorf("splitText = %q\nwant %q", got, want)
	}
	for _, p := range splitText(strings.Repeat("x", 250), 100) {
		if n := len(p); n > 100 {
			t.Errorf("a part of %d characters exceeds 100", n)
		}
	}
}

// ---- benchmark ----

// turnFlow is a 10-step turn: set, condition, set, message, tag, set, condition, note, set,
// question (the turn ends waiting on the question).
const turnFlow = `
format: 1
id: bench
trigger: {on: message, match: any}
variables: {n: 0}
steps:
  - {id: s1, type: set, assign: [{target: var.text, value: "{{message.text}}"}, {target: var.n, mode: increment}]}
  - id: c1
    type: condition
    branches:
      - {name: order, when: {left: "{{var.text}}", op: contains, right: order, ignore_case: true}, next: s2}
    else: s2
  - {id: s2, type: set, assign: [{target: contact.last_text, value: "{{var.text}}"}]}
  - {id: m1, type: message, text: "Hi {{contact.first_name}}, you said: {{var.text}}"}
  - {id: t1, type: tag, add: [lead]}
  - {id: s3, type: set, assign: [{target: var.n, mode: increment}]}
  - id: c2
    type: condition
    branches:
      - {when: {all: [{left: "{{var.n}}", op: gte, right: 2}, {left: "{{contact.last_text}}", op: not_empty}]}, next: n1}
    else: n1
  - {id: n1, type: note, text: "{{contact.name}} wrote {{var.text | truncate: 40}}"}
  - {id: s4, type: set, assign: [{target: var.buffer, value: "{{message.text}}", mode: append}]}
  - {id: q1, type: question, text: "Anything else, {{contact.first_name}}?", answer: text}
`

// BenchmarkTurn10Steps measures the engine alone on a turn of 10 steps (a message starting a run
// that ends waiting on a question). Target: at most 5 µs per step.
func BenchmarkTurn10Steps(b *testing.B) {
	flows := mustFlows(b, turnFlow)
	n := 0
	env := &Env{Flows: flows, Location: time.UTC, NewID: func() string { n++; return "id" }}
	now := time.Date(2026, 1, 5, 13, 0, 0, 0, time.UTC)
	msg := &tandem.Message{ID: "m1", Type: tandem.MessageText, Text: "Where is my order 10234?"}
	// Check once that the turn is what it says.
	{
		in := &Input{Now: now, Conversation: &tandem.Conversation{ID: "c"}, Contact: &tandem.Contact{Name: "Ana Souza"}, State: &State{},
			Event: &tandem.Event{Kind: tandem.EventMessage, Message: msg, At: now}}
		out := env.Process(in)
		if len(out.Trace) != 10 || in.State.Run == nil || in.State.Run.Step != "q1" || in.State.Run.Status != tandem.RunWaiting {
			b.Fatalf("the turn ran %d steps and left the run %+v", len(out.Trace), in.State.Run)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		in := &Input{Now: now, Conversation: &tandem.Conversation{ID: "c"}, Contact: &tandem.Contact{Name: "Ana Souza"}, State: &State{},
			Event: &tandem.Event{Kind: tandem.EventMessage, Message: msg, At: now}}
		env.Process(in)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/step")
}

// ---- fuzz ----

// fuzzFlow asks one question of every answer type; each invalid answer is asked again once,
// then the run goes on.
const fuzzFlow = `
format: 1
id: fuzz
trigger: {on: message, match: any}
settings: {wait_timeout: 10m, debounce: 0s}
steps:
  - {id: text, type: question, text: "text?", answer: text, retries: 1, save: var.text}
  - {id: number, type: question, text: "number?", answer: number, retries: 1, save: contact.number}
  - {id: email, type: question, text: "email?", answer: email, retries: 1, save: contact.email}
  - {id: phone, type: question, text: "phone?", answer: phone, retries: 1, save: contact.phone}
  - {id: date, type: question, text: "date?", answer: date, retries: 1}
  - {id: url, type: question, text: "url?", answer: url, retries: 1, on_timeout: any}
  - id: option
    type: question
    text: "option?"
    options:
      - {id: sales, title: "Sales", synonyms: [buy, price], next: image}
      - {id: support, title: "Suporte técnico", next: file}
      - {id: "yes", title: "Sí"}
    retries: 1
  - {id: image, type: question, text: "image?", answer: image, retries: 0}
  - {id: file, type: question, text: "file?", answer: file, retries: 0}
  - {id: location, type: question, text: "location?", answer: location, retries: 0, on_invalid: any}
  - {id: any, type: question, text: "any?", answer: any}
  - {id: echo, type: message, text: "{{var.text}} {{step.number}} {{step.email}} {{step.phone}} {{step.date}} {{step.url}} {{step.option}} {{step.any}}"}
  - id: again
    type: condition
    branches:
      - {when: {left: "{{step.any}}", op: matches, right: "(?i)again"}, next: text}
`

// FuzzProcess sends random customer messages (and timer firings) through a flow with a question
// of every answer type: Process never panics, the state always serialises, and the run is always
// left waiting (on a message or a timer) or ended as completed, expired, or failed with a reason.
func FuzzProcess(f *testing.F) {
	for _, s := range []string{
		"hello\x00Ana\x00150\x00ana@example.com\x00+55 11 98765-4321\x002026-01-07\x00example.com\x00buy\x00\x01\x00again",
		"hi\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
		"\x01\x01\x01\x01",
		"x\x00R$ 1.234,56\x00not an email\x00123\x0031/02/2026\x00http://[::1]:80/\x00what's the PRICE?\x00\x02",
		"\xff\xfe\x00\u200b\x002️⃣\x00Suporte Tecnico\x00\x03",
		"a\x00" + strings.Repeat("9", 400) + "\x00-0\x00NaN\x00Inf\x00 \x00 ",
	} {
		f.Add(s)
	}
	flows := mustFlows(f, fuzzFlow)
	f.Fuzz(func(t *testing.T, script string) {
		c := newConv(&Env{Flows: flows, Location: time.UTC, Region: "BR", NewID: counterIDs()})
		turns := strings.Split(script, "\x00")
		if len(turns) > 64 {
			turns = turns[:64]
		}
		for i, turn := range turns {
			var ev *tandem.Event
			switch {
			case turn == "\x01": // the timer the run waits on fires
				c.now = c.now.Add(11 * time.Minute)
				if r := c.state.Run; r != nil && r.Wait != nil && r.Wait.TimerID != "" {
					tm := c.timers[r.Wait.TimerID]
					ev = &tandem.Event{Kind: tandem.EventTimer, Timer: &tandem.TimerFired{ID: tm.ID, Key: tm.Key, Due: tm.Due}}
				}
			case turn == "\x02":
				ev = &tandem.Event{Kind: tandem.EventMessage, Message: &tandem.Message{Type: tandem.MessageImage, Media: &tandem.Media{Type: "image", URL: "https://example.com/a.jpg", Mime: "image/jpeg"}}}
			case turn == "\x03":
				ev = &tandem.Event{Kind: tandem.EventMessage, Message: &tandem.Message{Type: tandem.MessageLocation, Location: &tandem.Location{Lat: -23.5, Lng: -46.6}}}
			case strings.HasPrefix(turn, "\x04"):
				ev = &tandem.Event{Kind: tandem.EventMessage, Message: &tandem.Message{Type: tandem.MessageOption, Option: turn[1:], Text: turn[1:]}}
			default:
				c.now = c.now.Add(time.Second)
				ev = &tandem.Event{Kind: tandem.EventMessage, Message: &tandem.Message{Type: tandem.MessageText, Text: turn}}
			}
			if ev == nil {
				continue
			}
			c.process(ev)
			if _, err := json.Marshal(c.state); err != nil {
				t.Fatalf("turn %d (%q): the state does not serialise: %v", i, turn, err)
			}
			if r := c.state.Run; r != nil {
				if r.Status != tandem.RunWaiting || r.Wait == nil {
					t.Fatalf("turn %d (%q): the run is left %s on %q without waiting", i, turn, r.Status, r.Step)
				}
				if r.Wait.Message && r.Wait.TimerID == "" {
					t.Fatalf("turn %d (%q): question %q waits without a timeout", i, turn, r.Step)
				}
				continue
			}
			last := c.state.Last
			if last == nil {
				t.Fatalf("turn %d (%q): no run was started by a message through a match-any trigger", i, turn)
			}
			switch last.Status {
			case tandem.RunCompleted, tandem.RunExpired:
			case tandem.RunFailed:
				if last.Reason == "" {
					t.Fatalf("turn %d (%q): the run failed without a reason", i, turn)
				}
			default:
				t.Fatalf("turn %d (%q): the run ended %q", i, turn, last.Status)
			}
		}
	})
}

// TestFuzzFlow checks that FuzzProcess's flow does reach every question: a script of valid
// answers walks all of them and echoes the normalised values.
func TestFuzzFlow(t *testing.T) {
	t.Parallel()
	c := newConv(&Env{Flows: mustFlows(t, fuzzFlow), Location: time.UTC, Region: "BR", NewID: counterIDs()})
	var got []string
	for _, text := range []string{"hello", "Ana", "150", "ana@example.com", "(11) 98765-4321", "2026-01-07", "example.com", "support"} {
		got = append(got, sent(c.say(text))...)
	}
	got = append(got, sent(c.process(&tandem.Event{Kind: tandem.EventMessage, Message: &tandem.Message{Type: tandem.MessageFile,
		Media: &tandem.Media{Type: "file", URL: "https://example.com/a.pdf"}}}))...)
	got = append(got, sent(c.process(&tandem.Event{Kind: tandem.EventMessage, Message: &tandem.Message{Type: tandem.MessageLocation,
		Location: &tandem.Location{Lat: 1, Lng: 2}}}))...)
	got = append(got, sent(c.say("done"))...)
	want := []string{"text?", "number?", "email?", "phone?", "date?", "url?", "option?", "file?", "location?", "any?",
		"Ana 150 ana@example.com +5511987654321 2026-01-07 https://example.com support done"}
	if !slices.Equal(got, want) {
		t.Errorf("sent %q\nwant %q", got, want)
	}
	if c.state.Run != nil || c.state.Last == nil || c.state.Last.Status != tandem.RunCompleted {
		t.Errorf("the run is not completed: %+v %+v", c.state.Run, c.state.Last)
	}
}

// restartFlows restart themselves without a waiting step: with stop then_start, and with a
// flow step in replace mode.
var restartFlows = map[string]string{
	"then_start": `
format: 1
id: restart
trigger: {on: message, match: any}
steps:
  - {id: count, type: set, assign: [{target: var.n, mode: increment}]}
  - {id: again, type: stop, then_start: restart}
`,
	"replace": `
format: 1
id: restart
trigger: {on: message, match: any}
steps:
  - {id: count, type: set, assign: [{target: var.n, mode: increment}]}
  - {id: again, type: flow, start: restart, mode: replace}
`,
}

// TestRestartLoopIsBounded: a flow that restarts itself with no waiting step is a hot loop like
// a goto loop; max_steps_per_turn must end it ("a turn that executes more steps fails the run",
// reason loop_limit). The engine runs in a child process, since an unbounded recursion is a
// fatal stack overflow that would take the test binary down.
func TestRestartLoopIsBounded(t *testing.T) {
	if mode := os.Getenv("ENGINE_RESTART_CHILD"); mode != "" {
		debug.SetMaxStack(64 << 20) // an endless recursion dies quickly
		c := newConv(&Env{Flows: mustFlows(t, restartFlows[mode]), NewID: counterIDs()})
		c.say("hi")
		if c.state.Run != nil {
			t.Fatalf("the run is left %s", c.state.Run.Status)
		}
		if l := c.state.Last; l.Status != tandem.RunFailed || l.Reason != tandem.ReasonLoopLimit {
			t.Fatalf("the last run ended %s (reason %q), want failed (loop_limit)", l.Status, l.Reason)
		}
		return
	}
	t.Parallel()
	for mode := range restartFlows {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestRestartLoopIsBounded$", "-test.count=1")
			cmd.Env = append(os.Environ(), "ENGINE_RESTART_CHILD="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil {
				if len(out) > 2000 {
					out = out[:2000]
				}
				t.Errorf("a %s loop: %v\n%s", mode, err, out)
			}
		})
	}
}

// TestAIOverrides: every AI step takes model, max_tokens and temperature, and they reach the
// provider's request; without them classify keeps its short answer bound.
func TestAIOverrides(t *testing.T) {
	t.Parallel()
	flows := mustFlows(t, `
format: 1
id: ai
trigger: {on: message, match: any}
steps:
  - {id: s, type: set, assign: [{target: var.x, value: "{{message.text}}"}]}
  - id: route
    type: condition
    branches:
      - {when: {left: "{{message.text}}", op: equals, right: llm}, next: llm}
      - {when: {left: "{{message.text}}", op: equals, right: classify}, next: classify}
      - {when: {left: "{{message.text}}", op: equals, right: assistant}, next: assistant}
      - {when: {left: "{{message.text}}", op: equals, right: plain}, next: plain}
    else: agent
  - {id: llm, type: llm, provider: p, model: m1, max_tokens: 800, temperature: 0.1, next: end}
  - {id: classify, type: classify, provider: p, model: m2, max_tokens: 30, temperature: 0, intents: [{id: a}], next: end}
  - {id: assistant, type: assistant, provider: p, model: m3, max_tokens: 500, temperature: 0.7, next: end}
  - {id: agent, type: agent, provider: p, model: m4, max_tokens: 300, temperature: 1.5, next: end}
  - {id: plain, type: classify, provider: p, intents: [{id: a}], next: end}
`)
	temp := func(f float64) *float64 { return &f }
	for _, tc := range []struct {
		say   string
		model string
		max   int
		temp  *float64
	}{
		{"llm", "m1", 800, temp(0.1)},
		{"classify", "m2", 30, temp(0)},
		{"assistant", "m3", 500, temp(0.7)},
		{"agent", "m4", 300, temp(1.5)},
		{"plain", "", classifyMaxTokens, nil},
	} {
		t.Run(tc.say, func(t *testing.T) {
			t.Parallel()
			c := newConv(&Env{Flows: flows, NewID: counterIDs()})
			out := c.say(tc.say)
			var req *tandem.AIRequest
			for _, e := range out.Effects {
				if e.Kind == tandem.EffectAI {
					req = e.AI
				}
			}
			if req == nil {
				t.Fatalf("no AI call: %+v", out.Effects)
			}
			if req.Model != tc.model || req.MaxTokens != tc.max || (req.Temperature == nil) != (tc.temp == nil) || (req.Temperature != nil && *req.Temperature != *tc.temp) {
				t.Errorf("request model %q, max_tokens %d, temperature %v; want %q, %d, %v", req.Model, req.MaxTokens, req.Temperature, tc.model, tc.max, tc.temp)
			}
		})
	}
}
