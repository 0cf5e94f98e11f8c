package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// shopFlow greets, asks what the customer wants, and then: "human" goes to the inbox, "ai" asks
// a model (retried once), anything else says goodbye. The question expires after 10 minutes.
const shopFlow = `format: 1
id: shop
trigger: {on: message, match: any, priority: 1}
settings: {wait_timeout: 10m}
steps:
  - {id: hello, type: message, text: "Hi!"}
  - {id: ask, type: question, text: "What do you need?", answer: text}
  - id: route
    type: condition
    branches:
      - {when: {left: "{{step.ask}}", op: equals, right: human}, next: human}
      - {when: {left: "{{step.ask}}", op: equals, right: ai}, next: ai}
    else: bye
  - {id: ai, type: llm, provider: openai, prompt: "{{step.ask}}", send: true, retry: {attempts: 2, backoff: 1s}, next: bye}
  - {id: human, type: handoff, desk: inbox, next: bye}
  - {id: bye, type: message, text: "Bye!"}
`

// slowProvider answers after moving the virtual clock by its latency; while failing is set it
// fails with a 500 (temporary: the step's retry tries again).
type slowProvider struct {
	clock   *clock.Virtual
	latency time.Duration
	failing *bool
}

func (p slowProvider) Call(_ context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	p.clock.Advance(p.latency)
	if *p.failing {
		return nil, &tandem.AIError{Status: 500, Message: "openai: the server had an error", Temporary: true}
	}
	return &tandem.AIResult{Text: "Here you are.", Model: "gpt-test", Usage: tandem.Usage{Calls: 1, InputTokens: 100, OutputTokens: 20}}, nil
}

// acceptingDesk takes every handoff.
type acceptingDesk struct{}

func (acceptingDesk) NeedsEmail() bool             { return false }
func (acceptingDesk) Health(context.Context) error { return nil }
func (acceptingDesk) Start(_ context.Context, s tandem.DeskStart) (string, error) {
	return s.Session, nil
}
func (acceptingDesk) Send(context.Context, string, *tandem.Message) error { return nil }
func (acceptingDesk) Close(context.Context, string, string) error         { return nil }

// analyticsAnswer is GET /flows/{id}/analytics's answer.
type analyticsAnswer struct {
	FlowID  string         `json:"flow_id"`
	Version *int           `json:"version"`
	Runs    map[string]int `json:"runs"`
	Steps   []struct {
		ID      string `json:"id"`
		Reached int    `json:"reached"`
		Dropped int    `json:"dropped"`
	} `json:"steps"`
	Handoff struct {
		Count          int      `json:"count"`
		FirstReplyP50S *float64 `json:"first_reply_p50_s"`
	} `json:"handoff"`
	AI []map[string]any `json:"ai"`
}

// Five customers meet the shop flow: one completes, one lets the question expire, one is
// handed to an agent who answers after 30 s and closes, one asks the model while it fails
// (two calls, the retry included: the run fails at the AI step), one asks once it works. The
// analytics show those numbers, for all versions, for version 1, and for a period.
func TestFlowAnalytics(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		failing := false
		var e *env
		e = newEnv(t, options{db: db, flows: []string{shopFlow},
			provider: func(id string) (tandem.Provider, bool) {
				return slowProvider{clock: e.clock, latency: 800 * time.Millisecond, failing: &failing}, id == "openai"
			},
			desk: func(id string) (tandem.Desk, bool) { return acceptingDesk{}, id == "inbox" },
		})
		ctx := context.Background()
		turn := func(user, msg, text string) string {
			t.Helper()
			conv, _ := e.say(user, msg, text)
			e.drain()
			return conv
		}
		advance := func(d time.Duration) {
			t.Helper()
			if err := e.run.AdvanceTo(ctx, e.clock.Now().Add(d)); err != nil {
				t.Fatal(err)
			}
		}

		turn("u-done", "d1", "hi")
		turn("u-done", "d2", "just looking")

		turn("u-gone", "g1", "hi")

		conv := turn("u-human", "h1", "hi")
		turn("u-human", "h2", "human")
		advance(30 * time.Second)
		for _, a := range []tandem.AgentAction{
			{Action: tandem.AgentMessage, Agent: "ana@acme.com", Desk: "inbox", Message: &tandem.Message{Type: tandem.MessageText, Text: "Hi, Ana here."}},
			{Action: tandem.AgentClose, Agent: "ana@acme.com", Desk: "inbox"},
		} {
			if err := e.run.Enqueue(ctx, tandem.Event{ConversationID: conv, Kind: tandem.EventAgent, At: e.clock.Now(), Agent: &a}); err != nil {
				t.Fatal(err)
			}
			e.drain()
		}

		failing = true
		turn("u-fail", "f1", "hi")
		turn("u-fail", "f2", "ai")
		failing = false
		turn("u-ai", "a1", "hi")
		turn("u-ai", "a2", "ai")

		// The question of u-gone expires.
		advance(11 * time.Minute)

		get := func(query string) analyticsAnswer {
			t.Helper()
			var a analyticsAnswer
			r := e.do(request{method: "GET", path: "/api/v1/flows/shop/analytics" + query}).mustStatus(t, http.StatusOK)
			r.json(t, &a)
			return a
		}
		a := get("")
		if a.FlowID != "shop" || a.Version != nil {
			t.Errorf("flow_id %q, version %v; want shop, null", a.FlowID, a.Version)
		}
		wantRuns := map[string]int{"started": 5, "completed": 3, "expired": 1, "failed": 1, "canceled": 0, "handed_over": 1}
		if !reflect.DeepEqual(a.Runs, wantRuns) {
			t.Errorf("runs %v, want %v", a.Runs, wantRuns)
		}
		steps := map[string][2]int{}
		var order []string
		for _, s := range a.Steps {
			steps[s.ID] = [2]int{s.Reached, s.Dropped}
			order = append(order, s.ID)
		}
		wantSteps := map[string][2]int{"hello": {5, 0}, "ask": {5, 1}, "route": {4, 0}, "ai": {2, 1}, "human": {1, 0}, "bye": {3, 0}}
		if !reflect.DeepEqual(steps, wantSteps) {
			t.Errorf("steps (reached, dropped) %v, want %v", steps, wantSteps)
		}
		if want := []string{"hello", "ask", "route", "ai", "human", "bye"}; !reflect.DeepEqual(order, want) {
			t.Errorf("steps in order %v, want the flow's order %v", order, want)
		}
		if a.Handoff.Count != 1 || a.Handoff.FirstReplyP50S == nil || *a.Handoff.FirstReplyP50S != 30 {
			t.Errorf("handoff count %d, first reply p50 %v; want 1, 30 s", a.Handoff.Count, a.Handoff.FirstReplyP50S)
		}
		wantAI := []map[string]any{{"provider": "openai", "calls": 3.0, "errors": 2.0, "input_tokens": 100.0, "output_tokens": 20.0, "p50_ms": 800.0}}
		if !reflect.DeepEqual(a.AI, wantAI) {
			t.Errorf("ai %v, want %v", a.AI, wantAI)
		}

		// Version 1 is every run; a version the flow does not have is 404.
		if v1 := get("?version=1"); v1.Version == nil || *v1.Version != 1 || !reflect.DeepEqual(v1.Runs, wantRuns) {
			t.Errorf("version 1: version %v, runs %v; want 1, %v", v1.Version, v1.Runs, wantRuns)
		}
		e.do(request{method: "GET", path: "/api/v1/flows/shop/analytics?version=2"}).mustStatus(t, http.StatusNotFound)
		e.do(request{method: "GET", path: "/api/v1/flows/nope/analytics"}).mustStatus(t, http.StatusNotFound)

		// A period before the first run counts nothing, steps still listed; one from the
		// failing customer's start counts the last two runs.
		before := get("?to=" + t0.Format(time.RFC3339))
		if before.Runs["started"] != 0 || len(before.Steps) != 6 || before.Steps[0].Reached != 0 || len(before.AI) != 0 || before.Handoff.FirstReplyP50S != nil {
			t.Errorf("before the first run: %+v; want zeros, the six steps, no AI, a null first reply", before)
		}
		late := get("?from=" + t0.Add(30*time.Second).Format(time.RFC3339Nano))
		if want := map[string]int{"started": 2, "completed": 1, "expired": 0, "failed": 1, "canceled": 0, "handed_over": 0}; !reflect.DeepEqual(late.Runs, want) {
			t.Errorf("from 30 s: runs %v, want %v", late.Runs, want)
		}

		// Bad parameters name themselves.
		for _, q := range []string{"?version=0", "?version=two", "?from=yesterday", "?to=2026-01-05", "?from=2026-01-06T00:00:00Z&to=2026-01-05T00:00:00Z"} {
			r := e.do(request{method: "GET", path: "/api/v1/flows/shop/analytics" + q}).mustStatus(t, http.StatusBadRequest)
			var body errorBody
			if err := json.Unmarshal(r.body, &body); err != nil || body.Error.Code != tandem.EINVALID {
				t.Errorf("%s: %s, want an invalid error", q, r.body)
			}
		}
	})
}
