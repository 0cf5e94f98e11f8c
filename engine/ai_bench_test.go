package engine

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
)

// aiBenchCases are one turn per AI step type, each sending one message, and a baseline turn
// with the message alone: the difference is what the AI step costs the engine. The runner's
// BenchmarkAIStepTurn runs the same flows end to end.
var aiBenchCases = []struct {
	name string
	flow string
	// halves is how many events the turn takes: the message, then one result per awaited effect.
	halves int
	// status and calls are the run's status and AI calls at the end of the turn.
	status string
	calls  int
}{
	{"baseline-message", `format: 1
id: bench
trigger: {on: message, match: any}
steps:
  - {id: reply, type: message, text: "Your order ships tomorrow."}
`, 1, tandem.RunCompleted, 0},
	{"llm", `format: 1
id: bench
trigger: {on: message, match: any}
steps:
  - {id: reply, type: llm, system: "You are the support assistant of ACME.", prompt: "{{message.text}}", send: true}
`, 2, tandem.RunCompleted, 1},
	{"classify", `format: 1
id: bench
trigger: {on: message, match: any}
steps:
  - id: intent
    type: classify
    intents:
      - {id: order, description: "Asks where an order is", next: reply}
      - {id: human, description: "Wants to talk to a person", next: reply}
    other: reply
  - {id: reply, type: message, text: "Your order ships tomorrow."}
`, 2, tandem.RunCompleted, 1},
	{"assistant", `format: 1
id: bench
trigger: {on: message, match: any}
steps:
  - {id: reply, type: assistant, input: "{{message.text}}", send: true}
`, 2, tandem.RunCompleted, 1},
	// The model calls the order_status tool once, then answers; the agent then waits for the
	// customer's next message.
	{"agent-1-tool", `format: 1
id: bench
trigger: {on: message, match: any}
steps:
  - id: reply
    type: agent
    instructions: "You are the support assistant of ACME."
    tools:
      - handoff: {description: "When the customer asks for a person"}
      - http: {name: order_status, description: "Where an order is", method: GET, url: "https://shop.example/api/orders/{{args.order_id}}",
               parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}}
`, 4, tandem.RunWaiting, 2},
}

// instantAnswer is what a provider that answers at once says: the intent "order" to a
// classification, a call of the order_status tool to a model offered tools that has not
// called one yet, else a short text.
func instantAnswer(req *tandem.AIRequest) *tandem.AIResult {
	u := tandem.Usage{Calls: 1, InputTokens: 120, OutputTokens: 20}
	if req.Op == tandem.AIClassify {
		return &tandem.AIResult{Provider: req.Provider, Text: "#order", Intent: "order", Usage: u}
	}
	if len(req.Tools) > 0 {
		called := false
		for _, m := range req.Messages {
			called = called || m.Role == "tool"
		}
		if !called {
			return &tandem.AIResult{Provider: req.Provider, FinishReason: "tool_calls", Usage: u,
				ToolCalls: []tandem.ToolCall{{ID: "call-1", Name: "order_status", Arguments: json.RawMessage(`{"order_id":"10234"}`)}}}
		}
	}
	return &tandem.AIResult{Provider: req.Provider, Text: "Your order 10234 ships tomorrow.", Model: "instant", FinishReason: "stop", Usage: u}
}

// instantResult carries out an awaited effect at once.
func instantResult(e *tandem.Effect) *tandem.EffectResult {
	res := &tandem.EffectResult{EffectID: e.ID, Kind: e.Kind}
	switch e.Kind {
	case tandem.EffectAI:
		res.AI = instantAnswer(e.AI)
	case tandem.EffectHTTP:
		res.HTTP = &tandem.HTTPResult{Status: 200, Header: map[string]string{"Content-Type": "application/json"},
			Body: `{"id": "10234", "status": "shipped"}`, Attempts: 1}
	}
	return res
}

// aiTurn runs one customer turn to its end: the message, then the result of each effect the
// run waits for, as the runner feeds them back. With codec, the state goes through JSON around
// each event as the runner stores it. It returns the last event's output and the number of
// events.
func aiTurn(tb testing.TB, env *Env, now time.Time, msg *tandem.Message, codec bool) (*Output, int) {
	st := &State{}
	conv := &tandem.Conversation{ID: "c", ChannelID: "api", ChannelKind: "api", Status: tandem.ConversationBot}
	contact := &tandem.Contact{ID: "ct", Name: "Ana Souza"}
	ev := &tandem.Event{Kind: tandem.EventMessage, Message: msg, At: now}
	var stored []byte
	for n := 1; ; n++ {
		if codec && stored != nil {
			st = &State{}
			if err := json.Unmarshal(stored, st); err != nil {
				tb.Fatal(err)
			}
		}
		out := env.Process(&Input{Now: now, Conversation: conv, Contact: contact, State: st, Event: ev})
		if codec {
			var err error
			if stored, err = json.Marshal(st); err != nil {
				tb.Fatal(err)
			}
		}
		if st.Run == nil || st.Run.Wait == nil || st.Run.Wait.EffectID == "" {
			return out, n
		}
		var awaited *tandem.Effect
		for i := range out.Effects {
			if out.Effects[i].ID == st.Run.Wait.EffectID {
				awaited = &out.Effects[i]
			}
		}
		if awaited == nil {
			tb.Fatalf("event %d: the run waits for effect %s, which the turn did not emit", n, st.Run.Wait.EffectID)
		}
		ev = &tandem.Event{Kind: tandem.EventResult, Result: instantResult(awaited), At: now}
	}
}

// BenchmarkAIStep measures the engine alone on a turn with one AI step, split as the runner
// splits it: the message (the step emits its AI effect and waits), then the provider's result
// (the step records it and sends), and for the agent the tool call's round trip as well. The
// provider answers at once, so this is the engine's own cost; "+state" adds the JSON round
// trip of the state the runner does around each event. Compare with baseline-message.
func BenchmarkAIStep(b *testing.B) {
	now := time.Date(2026, 1, 5, 13, 0, 0, 0, time.UTC)
	msg := &tandem.Message{ID: "m1", Type: tandem.MessageText, Text: "Where is my order 10234?"}
	for _, tc := range aiBenchCases {
		n := 0
		env := &Env{Flows: mustFlows(b, tc.flow), Location: time.UTC, NewID: func() string { n++; return "id-" + strconv.Itoa(n) }}
		// Check once that the turn is what it says.
		out, halves := aiTurn(b, env, now, msg, true)
		sends := 0
		for _, e := range out.Effects {
			if e.Kind == tandem.EffectSend {
				sends++
			}
		}
		if len(out.Runs) == 0 {
			b.Fatalf("%s: the turn's last event changed no run", tc.name)
		}
		if r := out.Runs[len(out.Runs)-1]; halves != tc.halves || r.Status != tc.status || r.Usage.Calls != tc.calls || sends != 1 {
			b.Fatalf("%s: %d events left the run %+v and sent %d messages; want %d events, %s, %d AI calls, 1 message", tc.name, halves, r, sends, tc.halves, tc.status, tc.calls)
		}
		for _, codec := range []bool{false, true} {
			name := tc.name
			if codec {
				name += "+state"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					aiTurn(b, env, now, msg, codec)
				}
			})
		}
	}
}
