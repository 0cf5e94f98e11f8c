package main

import (
	"context"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/channel/web"
	"github.com/tandemchat/tandem/desk/inbox"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
)

// widgetBackend gives web widget channels the database, the runner and the inbox
// (web.Backend): channels import none of them.
type widgetBackend struct {
	db    *store.DB
	run   *runner.Runner
	inbox *inbox.Service
}

func (b *widgetBackend) SessionCreate(ctx context.Context, s *tandem.WidgetSession, tokenHash string) error {
	return b.db.WidgetSessionCreate(ctx, s, tokenHash)
}

func (b *widgetBackend) SessionByToken(ctx context.Context, channelID, tokenHash string, now time.Time) (*tandem.WidgetSession, error) {
	return b.db.WidgetSessionByToken(ctx, channelID, tokenHash, now)
}

func (b *widgetBackend) SessionUpdate(ctx context.Context, s *tandem.WidgetSession) error {
	return b.db.WidgetSessionUpdate(ctx, s)
}

func (b *widgetBackend) SessionDelete(ctx context.Context, id string) error {
	return b.db.WidgetSessionDelete(ctx, id)
}

func (b *widgetBackend) Identify(ctx context.Context, sessionID, channelID string, c tandem.Contact, now time.Time) (string, error) {
	return b.db.WidgetIdentify(ctx, store.WidgetIdentifyParams{SessionID: sessionID, ChannelID: channelID, Contact: c, Now: now})
}

func (b *widgetBackend) ContactAttributes(ctx context.Context, contactID string, attrs map[string]any, now time.Time) error {
	_, err := b.db.ContactUpdate(ctx, contactID, store.ContactPatch{Attributes: attrs}, now)
	return err
}

func (b *widgetBackend) ContactLocale(ctx context.Context, contactID, locale string, now time.Time) error {
	_, err := b.db.ContactUpdate(ctx, contactID, store.ContactPatch{Language: &locale, Attributes: map[string]any{"locale": locale}}, now)
	return err
}

func (b *widgetBackend) ConversationAttributes(ctx context.Context, id string, attrs map[string]any, now time.Time) error {
	return b.db.ConversationAttributesSet(ctx, id, attrs, now)
}

func (b *widgetBackend) ConversationVariables(ctx context.Context, id string, vars map[string]any, now time.Time) error {
	return b.db.ConversationVariablesSet(ctx, id, vars, now)
}

func (b *widgetBackend) Conversations(ctx context.Context, contactID, channelID string) ([]web.Conversation, error) {
	list, err := b.db.WidgetConversations(ctx, contactID, channelID)
	if err != nil {
		return nil, err
	}
	out := make([]web.Conversation, len(list))
	for i, c := range list {
		out[i] = web.Conversation{ID: c.ID, Status: c.Status, Assignee: c.Assignee, MsgSeq: c.MsgSeq}
	}
	return out, nil
}

func (b *widgetBackend) Messages(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]tandem.Message, error) {
	return b.db.WidgetMessages(ctx, conversationID, afterSeq, limit)
}

func (b *widgetBackend) MessageSeq(ctx context.Context, conversationID, messageID string) (int64, error) {
	return b.db.WidgetMessageSeq(ctx, conversationID, messageID)
}

// Open returns the contact's open conversation, or opens one with the session's variables
// (var.<name> of every run started in it) and starts its conversation_start flow (the greeting).
func (b *widgetBackend) Open(ctx context.Context, channelID, contactID, externalID string, vars map[string]any, now time.Time) (string, error) {
	if list, err := b.db.WidgetConversations(ctx, contactID, channelID); err != nil {
		return "", err
	} else if n := len(list); n > 0 && list[n-1].Status != tandem.ConversationClosed {
		return list[n-1].ID, nil
	}
	id, _, err := b.db.ConversationOpen(ctx, store.ConversationCreateParams{ChannelID: channelID, ChannelKind: web.Kind,
		Contact: tandem.Contact{ExternalID: externalID}, Variables: vars, Now: now, NewID: runner.NewID})
	if err != nil {
		return "", err
	}
	err = b.run.Enqueue(ctx, tandem.Event{ConversationID: id, Kind: tandem.EventStart, At: now,
		Start: &tandem.StartRun{Source: flow.OnConversationStart}})
	return id, err
}

// Agent returns an agent's name as customers see it: never their e-mail.
func (b *widgetBackend) Agent(ctx context.Context, id string) (string, string) {
	if a, err := b.db.AgentGet(ctx, id); err == nil && a.Name != "" {
		return a.Name, ""
	}
	for i := 0; i < len(id); i++ {
		if id[i] == '@' {
			return "", ""
		}
	}
	return id, "" // an external desk's agent name
}

func (b *widgetBackend) CustomerTyping(conversationID string) {
	if b.inbox != nil {
		b.inbox.Typing(conversationID, tandem.AuthorContact, "")
	}
}

func (b *widgetBackend) Changed(ctx context.Context, since time.Time, limit int) ([]string, time.Time, error) {
	return b.db.ConversationsChanged(ctx, web.Kind, since, limit)
}

// widgetChannels returns the web channels among channels, wired to the database.
func widgetChannels(channels map[string]channel.Channel, b *widgetBackend, poll time.Duration) []*web.Channel {
	var out []*web.Channel
	for _, ch := range channels {
		if wc, ok := ch.(*web.Channel); ok {
			wc.SetBackend(b, poll)
			out = append(out, wc)
		}
	}
	return out
}
