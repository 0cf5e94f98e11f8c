package api

import (
	"context"
	"time"

	"github.com/tandemchat/tandem/internal/park"
)

// Hub is where the API's long-polls wait, by conversation: a parked long-poll holds no
// goroutine (internal/park). Replicas do not share it: on PostgreSQL, Follow looks for
// conversations other replicas changed and wakes their long-polls here.
type Hub struct {
	lot  *park.Lot
	stop chan struct{}
	done chan struct{}
}

// NewHub returns a hub.
func NewHub() *Hub { return &Hub{lot: park.New(0), stop: make(chan struct{})} }

// Notify wakes everyone waiting on the conversation.
func (h *Hub) Notify(conversationID string) { h.lot.Wake(conversationID) }

// Waiting returns how many long-polls are parked.
func (h *Hub) Waiting() int { return h.lot.Waiting() }

// Changed lists the conversations changed after since and when the last of them changed.
type Changed func(ctx context.Context, since time.Time) (ids []string, last time.Time, err error)

// followLag is how far back each look starts again: commits of other replicas may land out of
// the order of their times.
const followLag = 2 * time.Second

// Follow wakes, every interval, the long-polls of conversations that changed meanwhile (other
// replicas' commits). One query per interval, whatever the number of long-polls; none while
// nothing waits. Call it once, before Stop.
func (h *Hub) Follow(changed Changed, every time.Duration, now func() time.Time) {
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		t := time.NewTicker(every)
		defer t.Stop()
		since := now()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
			if h.lot.Empty() {
				since = now()
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), every+5*time.Second)
			ids, last, err := changed(ctx, since.Add(-followLag))
			cancel()
			if err != nil {
				continue // looked again at the next tick
			}
			if last.After(since) {
				since = last
			}
			for _, id := range ids {
				h.lot.Wake(id)
			}
		}
	}()
}

// Stop answers every parked long-poll (as when its wait is up) and ends Follow.
func (h *Hub) Stop() {
	select {
	case <-h.stop:
		return
	default:
	}
	close(h.stop)
	if h.done != nil {
		<-h.done
	}
	h.lot.Stop()
}
