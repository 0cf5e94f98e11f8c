package store_test

import (
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// ConversationUsage sums the usage of the conversation's runs only, updates included; a
// conversation without runs has none.
func TestConversationUsage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "hi", "").ConversationID
		other := f.inbound("c2", "hi", "").ConversationID
		empty := f.inbound("c3", "hi", "").ConversationID

		ended := t0.Add(time.Minute)
		r1 := tandem.Run{ID: "r1", ConversationID: conv, FlowID: "a", FlowVersion: 1, Status: tandem.RunCompleted, StartedAt: t0, UpdatedAt: ended, EndedAt: &ended,
			Usage: tandem.Usage{Calls: 2, InputTokens: 120, OutputTokens: 30}}
		r2 := tandem.Run{ID: "r2", ConversationID: conv, FlowID: "a", FlowVersion: 1, Status: tandem.RunWaiting, StartedAt: ended, UpdatedAt: ended,
			Usage: tandem.Usage{Calls: 1, InputTokens: 7, OutputTokens: 3}}
		r3 := tandem.Run{ID: "r3", ConversationID: conv, FlowID: "b", FlowVersion: 1, Status: tandem.RunCompleted, StartedAt: ended, UpdatedAt: ended, EndedAt: &ended}
		f.process(conv, func(_ *store.Batch, ch *store.Changes) { ch.Runs = []tandem.Run{r1, r2, r3} })
		f.process(other, func(_ *store.Batch, ch *store.Changes) {
			ch.Runs = []tandem.Run{{ID: "r4", ConversationID: other, FlowID: "a", FlowVersion: 1, Status: tandem.RunRunning, StartedAt: t0, UpdatedAt: t0,
				Usage: tandem.Usage{Calls: 5, InputTokens: 1000, OutputTokens: 500}}}
		})

		check := func(id string, want tandem.Usage) {
			t.Helper()
			got, err := db.ConversationUsage(f.ctx, id)
			if err != nil || got != want {
				t.Errorf("ConversationUsage(%s) = %+v, %v; want %+v", id, got, err, want)
			}
		}
		check(conv, tandem.Usage{Calls: 3, InputTokens: 127, OutputTokens: 33})
		check(empty, tandem.Usage{})

		// A later turn of r2 adds a call: the sum follows the run's new usage.
		f.turn(conv, func(_ *store.Batch, ch *store.Changes) {
			r := r2
			r.Usage = r.Usage.Add(tandem.Usage{Calls: 1, InputTokens: 10, OutputTokens: 4})
			ch.Runs = []tandem.Run{r}
		})
		check(conv, tandem.Usage{Calls: 4, InputTokens: 137, OutputTokens: 37})
		check(other, tandem.Usage{Calls: 5, InputTokens: 1000, OutputTokens: 500})
	})
}
