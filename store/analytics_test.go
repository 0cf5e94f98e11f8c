package store_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// FlowAnalytics counts a flow's runs by outcome, the steps they reached and dropped at, their
// handoffs (refused ones aside) and first reply times, and their AI calls by provider; version
// and the start-time bounds select the runs, and other flows' runs never count.
func TestFlowAnalytics(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		min := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
		end := func(n int) *time.Time { e := min(n); return &e }
		type runSpec struct {
			run      tandem.Run
			calls    []tandem.AICall
			handoffs []tandem.HandoffRecord
		}
		runs := []runSpec{
			// v1: completed after a question, two AI calls (one failed and retried).
			{run: tandem.Run{ID: "r1", FlowID: "shop", FlowVersion: 1, Status: tandem.RunCompleted, StartedAt: min(0), EndedAt: end(1), Path: []string{"hello", "ask", "ai", "bye"}},
				calls: []tandem.AICall{
					{Provider: "openai", StartedAt: min(0), DurationMS: 900, Error: true, Status: 500},
					{Provider: "openai", StartedAt: min(0), DurationMS: 300, Usage: tandem.Usage{InputTokens: 100, OutputTokens: 20}},
				}},
			// v1: expired at the question.
			{run: tandem.Run{ID: "r2", FlowID: "shop", FlowVersion: 1, Status: tandem.RunExpired, Step: "ask", At: "ask", StartedAt: min(2), EndedAt: end(30), Path: []string{"hello", "ask"}}},
			// v2: handed over (an agent replied after 40 s), then completed; a local AI call.
			{run: tandem.Run{ID: "r3", FlowID: "shop", FlowVersion: 2, Status: tandem.RunCompleted, StartedAt: min(3), EndedAt: end(10), Path: []string{"hello", "human", "bye"}},
				calls:    []tandem.AICall{{Provider: "local", StartedAt: min(3), DurationMS: 5}},
				handoffs: []tandem.HandoffRecord{{ID: "h3", Desk: "inbox", Status: tandem.HandoffClosed, QueuedAt: min(3), FirstReplyAt: min(3).Add(40 * time.Second), EndedAt: min(9), ClosedBy: "agent"}}},
			// v2: failed at the AI step inside a called flow (step names the called flow's step).
			{run: tandem.Run{ID: "r4", FlowID: "shop", FlowVersion: 2, Status: tandem.RunFailed, Step: "inner", At: "ai", StartedAt: min(4), EndedAt: end(4), Path: []string{"hello", "ai"}},
				calls: []tandem.AICall{{Provider: "openai", StartedAt: min(4), DurationMS: 700, Error: true, Status: 503}}},
			// v2: still waiting in a handoff nobody answered, plus an earlier one the desk refused.
			{run: tandem.Run{ID: "r5", FlowID: "shop", FlowVersion: 2, Status: tandem.RunWaiting, Step: "human", At: "human", StartedAt: min(5), Path: []string{"hello", "human"}},
				handoffs: []tandem.HandoffRecord{
					{ID: "h5a", Desk: "desk", Status: "refused", QueuedAt: min(5), EndedAt: min(5)},
					{ID: "h5b", Desk: "inbox", Status: tandem.HandoffQueued, QueuedAt: min(6)},
				}},
			// v2: handed over, the agent replied after 20 s; then canceled by an agent's close.
			{run: tandem.Run{ID: "r6", FlowID: "shop", FlowVersion: 2, Status: tandem.RunCanceled, Step: "human", At: "human", StartedAt: min(7), EndedAt: end(8), Path: []string{"hello", "human"}},
				handoffs: []tandem.HandoffRecord{{ID: "h6", Desk: "inbox", Status: tandem.HandoffConnected, QueuedAt: min(7), FirstReplyAt: min(7).Add(20 * time.Second)}}},
			// Another flow: never counted.
			{run: tandem.Run{ID: "r7", FlowID: "other", FlowVersion: 1, Status: tandem.RunFailed, Step: "ask", At: "ask", StartedAt: min(1), EndedAt: end(1), Path: []string{"hello", "ask"}},
				calls:    []tandem.AICall{{Provider: "openai", StartedAt: min(1), DurationMS: 1}},
				handoffs: []tandem.HandoffRecord{{ID: "h7", Desk: "inbox", Status: tandem.HandoffQueued, QueuedAt: min(1)}}},
		}
		for _, rs := range runs {
			conv := f.inbound(rs.run.ID, "hi", "").ConversationID
			r := rs.run
			r.ConversationID, r.UpdatedAt = conv, r.StartedAt
			for j := range rs.calls {
				rs.calls[j].RunID = r.ID
			}
			for j := range rs.handoffs {
				rs.handoffs[j].RunID = r.ID
			}
			f.process(conv, func(_ *store.Batch, ch *store.Changes) {
				ch.Runs, ch.AICalls, ch.Handoffs = []tandem.Run{r}, rs.calls, rs.handoffs
			})
		}

		analytics := func(p store.AnalyticsParams) *store.FlowAnalytics {
			t.Helper()
			a, err := db.FlowAnalytics(f.ctx, p)
			if err != nil {
				t.Fatalf("FlowAnalytics(%+v): %v", p, err)
			}
			return a
		}
		d := func(s float64) *time.Duration { v := time.Duration(s * float64(time.Second)); return &v }

		got := analytics(store.AnalyticsParams{FlowID: "shop"})
		want := &store.FlowAnalytics{
			Runs: store.RunCounts{Started: 6, Completed: 2, Expired: 1, Failed: 1, Canceled: 1, HandedOver: 3},
			Steps: map[string]*store.StepCounts{
				"hello": {Reached: 6}, "ask": {Reached: 2, Dropped: 1}, "ai": {Reached: 2, Dropped: 1},
				"bye": {Reached: 2}, "human": {Reached: 3, Dropped: 1},
			},
			Handoffs: 3, FirstReplyP50: d(30),
			AI: []store.ProviderCounts{
				{Provider: "local", Calls: 1, P50MS: 5},
				{Provider: "openai", Calls: 3, Errors: 2, InputTokens: 100, OutputTokens: 20, P50MS: 700},
			},
		}
		if w := want; !reflect.DeepEqual(w, got) {
			t.Errorf("all versions:\n got %s\nwant %s", asJSON(got), asJSON(w))
		}

		got = analytics(store.AnalyticsParams{FlowID: "shop", Version: 1})
		want = &store.FlowAnalytics{
			Runs:  store.RunCounts{Started: 2, Completed: 1, Expired: 1},
			Steps: map[string]*store.StepCounts{"hello": {Reached: 2}, "ask": {Reached: 2, Dropped: 1}, "ai": {Reached: 1}, "bye": {Reached: 1}},
			AI:    []store.ProviderCounts{{Provider: "openai", Calls: 2, Errors: 1, InputTokens: 100, OutputTokens: 20, P50MS: 600}},
		}
		if w := want; !reflect.DeepEqual(w, got) {
			t.Errorf("version 1:\n got %s\nwant %s", asJSON(got), asJSON(w))
		}

		// From is inclusive, to exclusive: runs started at minutes 4 and 5.
		got = analytics(store.AnalyticsParams{FlowID: "shop", From: min(4), To: min(6)})
		want = &store.FlowAnalytics{
			Runs:     store.RunCounts{Started: 2, Failed: 1, HandedOver: 1},
			Steps:    map[string]*store.StepCounts{"hello": {Reached: 2}, "ai": {Reached: 1, Dropped: 1}, "human": {Reached: 1}},
			Handoffs: 1,
			AI:       []store.ProviderCounts{{Provider: "openai", Calls: 1, Errors: 1, P50MS: 700}},
		}
		if w := want; !reflect.DeepEqual(w, got) {
			t.Errorf("from minute 4 to 6:\n got %s\nwant %s", asJSON(got), asJSON(w))
		}

		// The waiting run's handoff gets its first reply 10 s after it was queued: the handoff
		// is updated, not added, and the median of 10, 20 and 40 s is 20 s.
		conv := f.conversation(f.inbound("r5", "hi", "").ConversationID).ID
		f.turn(conv, func(_ *store.Batch, ch *store.Changes) {
			ch.Handoffs = []tandem.HandoffRecord{{ID: "h5b", RunID: "r5", Desk: "inbox", Status: tandem.HandoffConnected, QueuedAt: min(6), FirstReplyAt: min(6).Add(10 * time.Second)}}
		})
		got = analytics(store.AnalyticsParams{FlowID: "shop", Version: 2})
		if got.Handoffs != 3 || got.Runs.HandedOver != 3 || got.FirstReplyP50 == nil || *got.FirstReplyP50 != 20*time.Second {
			t.Errorf("version 2 after the reply: handoffs %d, handed over %d, first reply p50 %v; want 3, 3, 20s", got.Handoffs, got.Runs.HandedOver, got.FirstReplyP50)
		}

		// A flow without runs has zeros everywhere.
		got = analytics(store.AnalyticsParams{FlowID: "none"})
		if w := (&store.FlowAnalytics{Steps: map[string]*store.StepCounts{}}); !reflect.DeepEqual(w, got) {
			t.Errorf("no runs:\n got %s\nwant %s", asJSON(got), asJSON(w))
		}
	})
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
