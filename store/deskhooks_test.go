package store_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// A desk callback is recorded once with its events, atomically: a repeat queues nothing, even
// when the two arrive at once; an unknown conversation records nothing.
func TestDeskEvent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		in, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api",
			Contact: tandem.Contact{ExternalID: "c1"}, Message: tandem.Message{Text: "hi"}, Now: t0, NewID: f.id})
		if err != nil {
			t.Fatal(err)
		}
		conv := in.ConversationID
		ev := tandem.Event{Kind: tandem.EventAgent, Agent: &tandem.AgentAction{Action: tandem.AgentMessage, Desk: "desk",
			Message: &tandem.Message{Type: tandem.MessageText, Text: "Hello from Ana"}}}
		p := store.DeskEventParams{ConversationID: conv, Desk: "desk", EventID: "msg:hf_x:1", Events: []tandem.Event{ev, ev}, Now: t0}
		if seen, err := db.DeskEventSeen(f.ctx, conv, "desk", p.EventID); err != nil || seen {
			t.Fatalf("DeskEventSeen before = %v, %v", seen, err)
		}
		var firsts atomic.Int32
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				first, err := db.DeskEventAdd(f.ctx, p)
				if err != nil {
					t.Error(err)
				}
				if first {
					firsts.Add(1)
				}
			})
		}
		wg.Wait()
		if n := firsts.Load(); n != 1 {
			t.Errorf("%d adds were first, want 1", n)
		}
		if seen, err := db.DeskEventSeen(f.ctx, conv, "desk", p.EventID); err != nil || !seen {
			t.Errorf("DeskEventSeen after = %v, %v", seen, err)
		}
		if seen, _ := db.DeskEventSeen(f.ctx, conv, "other", p.EventID); seen {
			t.Error("another desk's callback is seen")
		}
		var agent int
		_, _, err = db.Process(f.ctx, conv, 100, func(b *store.Batch) (*store.Changes, error) {
			for _, e := range b.Events {
				if e.Kind == tandem.EventAgent && e.Agent != nil && e.Agent.Message.Text == "Hello from Ana" {
					agent++
				}
			}
			return nil, store.ErrNothing
		})
		if err != nil && err != store.ErrNothing {
			t.Fatal(err)
		}
		if agent != 2 {
			t.Errorf("%d agent events queued, want the 2 of the first add", agent)
		}
		bad := p
		bad.ConversationID, bad.EventID = "nope", "msg:hf_nope:1"
		if _, err := db.DeskEventAdd(f.ctx, bad); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("add for an unknown conversation: %v, want not_found", err)
		}
		if seen, _ := db.DeskEventSeen(f.ctx, "nope", "desk", bad.EventID); seen {
			t.Error("a failed add left its record")
		}
	})
}
