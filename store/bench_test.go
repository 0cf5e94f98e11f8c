package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// BenchmarkProcess measures durable turns: a customer message stored (Inbound), then processed
// (Process) into a new state and one send effect, both committed before the next step. Parallel
// goroutines work on their own conversations, so SQLite's group commit and PostgreSQL's
// connection pool both show. One op is one turn.
//
//	go test ./store -run '^$' -bench Process -benchtime 2000x
func BenchmarkProcess(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{
		{store.SQLite, storetest.SQLite},
		{store.Postgres, storetest.Postgres},
	} {
		b.Run(d.name, func(b *testing.B) {
			db := d.open(b)
			ctx := context.Background()
			newID := newIDs("id")
			var g atomic.Int64
			state := []byte(`{"run":{"id":"r1","flow":"f","step":"ask","vars":{"name":"Ann","plan":"gold"}}}`)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				contact := fmt.Sprintf("c%d", g.Add(1))
				i := 0
				for pb.Next() {
					i++
					res, err := db.Inbound(ctx, store.InboundParams{
						ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: contact},
						Message: tandem.Message{Text: "hello", ChannelMessageID: fmt.Sprintf("%s-%d", contact, i)},
						Now:     t0, NewID: newID,
					})
					if err != nil {
						b.Error(err)
						return
					}
					_, _, err = db.Process(ctx, res.ConversationID, 16, func(bt *store.Batch) (*store.Changes, error) {
						id := newID()
						return &store.Changes{Conversation: bt.Conversation, State: state, DoneSeq: bt.Events[len(bt.Events)-1].Seq,
							Effects: []tandem.Effect{{ID: id, Kind: tandem.EffectSend, Send: &tandem.Message{ID: id, Direction: tandem.DirectionOut,
								Author: tandem.AuthorBot, Type: tandem.MessageText, Text: "Hi! How can I help?", CreatedAt: t0}}}}, nil
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
