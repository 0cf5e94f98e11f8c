package runner_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/runner"
)

// aiTurnFlows are one turn per AI step type, each sending one message, and a baseline turn with
// the message alone: the difference is what the AI step costs, its durable effect round trip
// included. They are the flows of the engine's BenchmarkAIStep; calls is the AI calls of a turn.
var aiTurnFlows = []struct {
	name, flow string
	calls      int64
}{
	{"baseline-message", `format: 1
id: bench
trigger: {on: message, match: any}
steps:
  - {id: reply, type: message, text: "Your order ships tomorrow."}
`, 0},
	{"llm", `format: 1
id: bench
trigger: {on: message, match: any}
steps:
  - {id: reply, type: llm, system: "You are the support assistant of ACME.", prompt: "{{message.text}}", send: true}
`, 1},
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
`, 1},
	{"assistant", `format: 1
id: bench
trigger: {on: message, match: any}
steps:
  - {id: reply, type: assistant, input: "{{message.text}}", send: true}
`, 1},
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
`, 2},
}

// instantProvider answers at once: the intent "order" to a classification, a call of the
// order_status tool to a model offered tools that has not called one yet, else a short text.
type instantProvider struct{ calls atomic.Int64 }

func (p *instantProvider) Call(_ context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	p.calls.Add(1)
	u := tandem.Usage{Calls: 1, InputTokens: 120, OutputTokens: 20}
	if req.Op == tandem.AIClassify {
		return &tandem.AIResult{Text: "#order", Intent: "order", Usage: u}, nil
	}
	called := false
	for _, m := range req.Messages {
		called = called || m.Role == "tool"
	}
	if len(req.Tools) > 0 && !called {
		return &tandem.AIResult{FinishReason: "tool_calls", Usage: u,
			ToolCalls: []tandem.ToolCall{{ID: "call-1", Name: "order_status", Arguments: json.RawMessage(`{"order_id":"10234"}`)}}}, nil
	}
	return &tandem.AIResult{Text: "Your order 10234 ships tomorrow.", Model: "instant", FinishReason: "stop", Usage: u}, nil
}

// instantHTTP answers every request at once.
type instantHTTP struct{}

func (instantHTTP) Do(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"id": "10234", "status": "shipped"}`)), Request: req}, nil
}

// countingChannel delivers at once and counts.
type countingChannel struct{ sent atomic.Int64 }

func (c *countingChannel) Kind() string      { return "api" }
func (c *countingChannel) Caps() tandem.Caps { return tandem.Caps{} }

func (c *countingChannel) Send(_ context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	c.sent.Add(1)
	return tandem.SendResult{ChannelMessageID: "ch-" + out.IdempotencyKey}, nil
}

// BenchmarkAIStepTurn measures one customer turn through the runner on SQLite in a temporary
// folder, with a provider that answers at once: Inbound stores the message, Drain processes it
// (the AI step emits its effect, committed to the outbox), carries out the call, processes the
// result and delivers the message. Each iteration is a new contact. Compare with
// baseline-message, the same turn without the AI step; engine's BenchmarkAIStep is the
// engine's share.
func BenchmarkAIStepTurn(b *testing.B) {
	ctx := context.Background()
	for _, tc := range aiTurnFlows {
		b.Run(tc.name, func(b *testing.B) {
			db := openDB(b, b.TempDir())
			ch, prov := &countingChannel{}, &instantProvider{}
			r := runner.New(runner.Config{
				DB: db, Env: &engine.Env{}, Clock: clock.NewVirtual(t0), HTTP: instantHTTP{},
				Channel:  func(string) (tandem.Channel, bool) { return ch, true },
				Provider: func(string) (tandem.Provider, bool) { return prov, true },
				Sleep:    func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
			})
			if _, _, err := r.Publish(ctx, mustFlow(b, tc.flow), "yaml"); err != nil {
				b.Fatal(err)
			}
			n := 0
			turn := func() {
				n++
				id := strconv.Itoa(n)
				if _, err := r.Inbound(ctx, inboundParams("u-"+id, "p-"+id, "Where is my order 10234?")); err != nil {
					b.Fatal(err)
				}
				if err := r.Drain(ctx); err != nil {
					b.Fatal(err)
				}
			}
			// Check once that a turn is what it says: one message out, the AI calls made.
			turn()
			if got := ch.sent.Load(); got != 1 {
				b.Fatalf("the turn delivered %d messages, want 1", got)
			}
			if got := prov.calls.Load(); got != tc.calls {
				b.Fatalf("the turn made %d AI calls, want %d", got, tc.calls)
			}
			b.ReportAllocs()
			for b.Loop() {
				turn()
			}
			b.StopTimer()
			if got, want := ch.sent.Load(), int64(n); got != want {
				b.Fatalf("%d turns delivered %d messages", want, got)
			}
		})
	}
}
