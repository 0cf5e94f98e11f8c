package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// usageFlow classifies the message, then answers it with a model: two AI calls per run.
const usageFlow = `format: 1
id: ai
trigger: {on: message, match: any, priority: 1}
steps:
  - id: intent
    type: classify
    provider: fake
    intents:
      - {id: order, description: "Asks about an order"}
  - id: reply
    type: llm
    provider: fake
    prompt: "{{message.text}}"
    send: true
`

// tokenProvider answers at once and reports fixed tokens: a classification 20 in and 2 out,
// a completion 100 in and 25 out.
type tokenProvider struct{}

func (tokenProvider) Call(_ context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	if req.Op == tandem.AIClassify {
		return &tandem.AIResult{Text: "#order", Intent: "order", Usage: tandem.Usage{Calls: 1, InputTokens: 20, OutputTokens: 2}}, nil
	}
	return &tandem.AIResult{Text: "It ships tomorrow.", Model: "fake-1", FinishReason: "stop", Usage: tandem.Usage{Calls: 1, InputTokens: 100, OutputTokens: 25}}, nil
}

// GET /conversations/{id} shows the usage of all the conversation's runs summed; each run
// keeps its own (GET /runs/{id}); another conversation's runs do not count.
func TestConversationUsage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, options{db: db, flows: []string{usageFlow}, provider: func(id string) (tandem.Provider, bool) {
			return tokenProvider{}, id == "fake"
		}})
		conv, _ := e.say("u-1", "m-1", "where is my order?")
		e.drain()
		var first conversationJSON
		e.do(request{method: "GET", path: "/api/v1/conversations/" + conv}).mustStatus(t, http.StatusOK).json(t, &first)
		if first.LastRun == nil || first.LastRun.Status != tandem.RunCompleted {
			t.Fatalf("first run %+v, want completed", first.LastRun)
		}
		if again, _ := e.say("u-1", "m-2", "and the invoice?"); again != conv {
			t.Fatalf("the second message went to conversation %s, want %s", again, conv)
		}
		other, _ := e.say("u-2", "m-3", "hello")
		e.drain()

		var c conversationJSON
		e.do(request{method: "GET", path: "/api/v1/conversations/" + conv}).mustStatus(t, http.StatusOK).json(t, &c)
		if c.LastRun == nil || c.LastRun.ID == first.LastRun.ID || c.LastRun.Status != tandem.RunCompleted {
			t.Fatalf("last run %+v, want a second completed run", c.LastRun)
		}
		want := tandem.Usage{Calls: 4, InputTokens: 240, OutputTokens: 54}
		if c.Usage == nil || *c.Usage != want {
			t.Errorf("conversation usage %+v, want %+v (two runs of 2 calls, 120 in and 27 out each)", c.Usage, want)
		}
		for _, id := range []string{first.LastRun.ID, c.LastRun.ID} {
			var run runJSON
			e.do(request{method: "GET", path: "/api/v1/runs/" + id}).mustStatus(t, http.StatusOK).json(t, &run)
			if want := (tandem.Usage{Calls: 2, InputTokens: 120, OutputTokens: 27}); run.Usage != want {
				t.Errorf("run %s usage %+v, want %+v", id, run.Usage, want)
			}
		}
		var o conversationJSON
		e.do(request{method: "GET", path: "/api/v1/conversations/" + other}).mustStatus(t, http.StatusOK).json(t, &o)
		if want := (tandem.Usage{Calls: 2, InputTokens: 120, OutputTokens: 27}); o.Usage == nil || *o.Usage != want {
			t.Errorf("other conversation usage %+v, want %+v", o.Usage, want)
		}
	})
}
