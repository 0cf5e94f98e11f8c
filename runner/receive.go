package runner

import (
	"context"
	"fmt"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/store"
)

// Receive implements channel.Inbox: it stores what a channel received and queues it for the
// conversations. Each message is durable when Receive returns (a platform's retry of a message
// id is recognised and stored once); delivery reports move their message's status forward and
// reach a message step that waits on them; blocked and unblocked customers are recorded. An
// error means something was not stored: the channel answers so that the platform retries.
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
	now := r.cfg.Clock.Now()
	rc := &channel.Receipt{Messages: make([]channel.Received, 0, len(b.Messages))}
	for _, in := range b.Messages {
		res, err := r.Inbound(ctx, store.InboundParams{ChannelID: channelID, ChannelKind: kind, Contact: in.Contact, Message: in.Message, ClientID: in.ClientID, Variables: in.Variables})
		if err != nil {
			return nil, err
		}
		if !res.Duplicate && r.cfg.Notify != nil {
			r.cfg.Notify(res.ConversationID)
		}
		rc.Messages = append(rc.Messages, channel.Received{ConversationID: res.ConversationID, MessageID: res.MessageID, Duplicate: res.Duplicate})
	}
	for _, st := range b.Statuses {
		if (st.ConversationID == "" || st.MessageID == "") && st.ChannelMessageID != "" {
			conv, msg, err := r.db.MessageByPlatformID(ctx, channelID, st.ChannelMessageID)
			if err != nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
				return nil, err
			}
			st.ConversationID, st.MessageID = conv, msg
		}
		if st.ConversationID == "" || st.MessageID == "" {
			r.log.Debug("delivery report of a message Tandem did not send; ignored", "channel", channelID, "platform_id", st.ChannelMessageID, "status", st.Status)
			continue
		}
		changed, err := r.db.Delivery(ctx, store.DeliveryParams{ChannelID: channelID, ConversationID: st.ConversationID, MessageID: st.MessageID, Status: st.Status, Code: st.Code, Error: st.Error, Now: now})
		switch {
		case tandem.ErrorCode(err) == tandem.ENOTFOUND || tandem.ErrorCode(err) == tandem.EINVALID:
			r.log.Info("delivery report ignored", "channel", channelID, "conversation", st.ConversationID, "message", st.MessageID, "status", st.Status, "err", err)
		case err != nil:
			return nil, err
		case changed:
			r.Kick(st.ConversationID)
			if r.cfg.Notify != nil {
				r.cfg.Notify(st.ConversationID)
			}
		}
	}
	for _, cs := range b.Contacts {
		if err := r.db.ContactStop(ctx, channelID, cs.ExternalID, cs.Stopped, now); err != nil {
			return nil, err
		}
	}
	return rc, nil
}
