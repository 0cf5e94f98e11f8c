package runner

import (
	"context"
	"fmt"

	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/store"
)

// Receive implements channel.Inbox: it stores what a channel received, each message durably
// (a platform's retry of a message id is recognised and stored once), and queues the messages
// for their conversations.
func (r *Runner) Receive(ctx context.Context, channelID string, b *channel.Batch) (*channel.Receipt, error) {
	kind := ""
	if r.cfg.Channel != nil {
		if ch, ok := r.cfg.Channel(channelID); ok {
			kind = ch.Kind()
		}
	}
	if kind == "" {
		return nil, fmt.Errorf("receive: channel %q is not configured", channelID)
	}
	rc := &channel.Receipt{Messages: make([]channel.Received, 0, len(b.Messages))}
	for _, in := range b.Messages {
		res, err := r.Inbound(ctx, store.InboundParams{ChannelID: channelID, ChannelKind: kind, Contact: in.Contact, Message: in.Message, ClientID: in.ClientID})
		if err != nil {
			return nil, err
		}
		if !res.Duplicate && r.cfg.Notify != nil {
			r.cfg.Notify(res.ConversationID)
		}
		rc.Messages = append(rc.Messages, channel.Received{ConversationID: res.ConversationID, MessageID: res.MessageID, Duplicate: res.Duplicate})
	}
	if len(b.Statuses) > 0 {
		return nil, fmt.Errorf("receive: delivery statuses are not stored yet")
	}
	return rc, nil
}
