package workspace

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

// WidgetBackend gives web widget channels the database, the runner and the inbox
// (web.Backend): channels import none of them. Inbox may be nil (no typing shown to agents).
type WidgetBackend struct {
	DB     *store.DB
	Runner *runner.Runner
	Inbox  *inbox.Service
}

func (b *WidgetBackend) SessionCreate(ctx context.Context, s *tandem.WidgetSession, tokenHash string) error {
	return b.DB.WidgetSessionCreate(ctx, s, tokenHash)
}

func (b *WidgetBackend) SessionByToken(ctx context.Context, channelID, tokenHash string, now time.Time) (*tandem.WidgetSession, error) {
	return b.DB.WidgetSessionByToken(ctx, channelID, tokenHash, now)
}

func (b *WidgetBackend) SessionUpdate(ctx context.Context, s *tandem.WidgetSession) error {
	return b.DB.WidgetSessionUpdate(ctx, s)
}

func (b *WidgetBackend) SessionDelete(ctx context.Context, id string) error {
	return b.DB.WidgetSessionDelete(ctx, id)
}

func (b *WidgetBackend) Identify(ctx context.Context, sessionID, channelID string, c tandem.Contact, now time.Time) (string, error) {
	return b.DB.WidgetIdentify(ctx, store.WidgetIdentifyParams{SessionID: sessionID, ChannelID: channelID, Contact: c, Now: now})
}

func (b *WidgetBackend) ContactAttributes(ctx context.Context, contactID string, attrs map[string]any, now time.Time) error {
	_, err := b.DB.ContactUpdate(ctx, contactID, store.ContactPatch{Attributes: attrs}, now)
	return err
}

func (b *WidgetBackend) ContactLocale(ctx context.Context, contactID, locale string, now time.Time) error {
	_, err := b.DB.ContactUpdate(ctx, contactID, store.ContactPatch{Language: &locale, Attributes: map[string]any{"locale": locale}}, now)
	return err
}

func (b *WidgetBackend) ConversationAttributes(ctx context.Context, id string, attrs map[string]any, now time.Time) error {
	return b.DB.ConversationAttributesSet(ctx, id, attrs, now)
}

func (b *WidgetBackend) ConversationVariables(ctx context.Context, id string, vars map[string]any, now time.Time) error {
	return b.DB.ConversationVariablesSet(ctx, id, vars, now)
}

func (b *WidgetBackend) Conversations(ctx context.Context, contactID, channelID string) ([]web.Conversation, error) {
	list, err := b.DB.WidgetConversations(ctx, contactID, channelID)
	if err != nil {
		return nil, err
	}
	out := make([]web.Conversation, len(list))
	for i, c := range list {
		out[i] = web.Conversation{ID: c.ID, Status: c.Status, Assignee: c.Assignee, MsgSeq: c.MsgSeq}
	}
	return out, nil
}

func (b *WidgetBackend) Events(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]web.Event, error) {
	list, err := b.DB.WidgetEvents(ctx, conversationID, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	out := make([]web.Event, len(list))
	for i, e := range list {
		out[i] = web.Event{Seq: e.Seq, Message: e.Message, Status: e.Status, Assignee: e.Assignee, At: e.At}
	}
	return out, nil
}

func (b *WidgetBackend) MessageSeq(ctx context.Context, conversationID, messageID string) (int64, error) {
	return b.DB.WidgetMessageSeq(ctx, conversationID, messageID)
}

// Open returns the contact's open conversation, or opens one with the session's variables
// (var.<name> of every run started in it) and starts its conversation_start flow (the greeting).
func (b *WidgetBackend) Open(ctx context.Context, channelID, contactID, externalID string, vars map[string]any, now time.Time) (string, error) {
	if list, err := b.DB.WidgetConversations(ctx, contactID, channelID); err != nil {
		return "", err
	} else if n := len(list); n > 0 && list[n-1].Status != tandem.ConversationClosed {
		return list[n-1].ID, nil
	}
	id, _, err := b.DB.ConversationOpen(ctx, store.ConversationCreateParams{ChannelID: channelID, ChannelKind: web.Kind,
		Contact: tandem.Contact{ExternalID: externalID}, Variables: vars, Now: now, NewID: runner.NewID})
	if err != nil {
		return "", err
	}
	err = b.Runner.Enqueue(ctx, tandem.Event{ConversationID: id, Kind: tandem.EventStart, At: now,
		Start: &tandem.StartRun{Source: flow.OnConversationStart}})
	return id, err
}

// Agent returns an agent's name as customers see it: never their e-mail.
func (b *WidgetBackend) Agent(ctx context.Context, id string) (string, string) {
	if a, err := b.DB.AgentGet(ctx, id); err == nil && a.Name != "" {
		return a.Name, ""
	}
	for i := 0; i < len(id); i++ {
		if id[i] == '@' {
			return "", ""
		}
	}
	return id, "" // an external desk's agent name
}

func (b *WidgetBackend) CustomerTyping(conversationID string) {
	if b.Inbox != nil {
		b.Inbox.Typing(conversationID, tandem.AuthorContact, "")
	}
}

func (b *WidgetBackend) Changed(ctx context.Context, since time.Time, limit int) ([]string, time.Time, error) {
	return b.DB.ConversationsChanged(ctx, web.Kind, since, limit)
}

// WidgetChannels returns the web channels among channels, wired to the database; poll > 0
// also looks every poll for conversations other replicas changed.
func WidgetChannels(channels map[string]channel.Channel, b *WidgetBackend, poll time.Duration) []*web.Channel {
	var out []*web.Channel
	for _, ch := range channels {
		if wc, ok := ch.(*web.Channel); ok {
			wc.SetBackend(b, poll)
			out = append(out, wc)
		}
	}
	return out
}
