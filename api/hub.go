package api

import "sync"

// Hub wakes long-polls waiting on a conversation when it gets messages. Replicas do not share
// it: a long-poll also re-reads the database on a short tick, so a message committed by another
// process is seen too.
type Hub struct {
	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

// NewHub returns a hub.
func NewHub() *Hub { return &Hub{waiters: map[string][]chan struct{}{}} }

// Notify wakes everyone waiting on the conversation.
func (h *Hub) Notify(conversationID string) {
	h.mu.Lock()
	ws := h.waiters[conversationID]
	delete(h.waiters, conversationID)
	h.mu.Unlock()
	for _, c := range ws {
		close(c)
	}
}

// wait returns a channel closed at the conversation's next notification.
func (h *Hub) wait(conversationID string) chan struct{} {
	c := make(chan struct{})
	h.mu.Lock()
	h.waiters[conversationID] = append(h.waiters[conversationID], c)
	h.mu.Unlock()
	return c
}

// cancel forgets a wait that ended without a notification.
func (h *Hub) cancel(conversationID string, c chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ws := h.waiters[conversationID]
	for i, w := range ws {
		if w == c {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(h.waiters, conversationID)
	} else {
		h.waiters[conversationID] = ws
	}
}
