package inbox

import (
	"context"
	"slices"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
)

// Who sees what. An admin, and an API token, sees every conversation. An agent (role agent)
// sees a conversation when
//
//   - it is in the inbox (queued or assigned, not handed to another desk) and assigned to them,
//     or belongs to one of their teams, or to no team (the shared queue); or
//   - they handled it before: it was assigned to them once, or they wrote in it
//     (conversation_agents), whatever its status now.
//
// Seeing a conversation is reading it, its messages, notes, runs and contact, and acting on it
// (taking, answering, transferring, closing). The same rule filters the inbox's lists and its
// event stream. A conversation the bot handles (status bot), a closed one the agent never
// handled and one of another team are not theirs: they answer 403.

// Sees reports whether the actor may see the conversation.
func (s *Service) Sees(ctx context.Context, by Actor, info *store.ConversationInfo) (bool, error) {
	if by.Admin {
		return true, nil
	}
	if by.inbox(info) {
		return true, nil
	}
	return s.db.ConversationHandled(ctx, info.ID, by.Agent)
}

// inbox reports whether the conversation is in the agent's inbox: in the inbox, and assigned
// to them, or in one of their teams or in none.
func (by Actor) inbox(info *store.ConversationInfo) bool {
	if !inInbox(info) {
		return false
	}
	if info.Status == tandem.ConversationAssigned && info.Assignee == by.Agent {
		return true
	}
	return info.Team == "" || slices.Contains(by.Teams, info.Team)
}

// errHidden is the answer to an agent acting on a conversation they may not see.
func errHidden(id string) error {
	return tandem.Errorf(tandem.EFORBIDDEN, "Conversation %q is not in your inbox (queued for your teams, assigned to you, or handled by you before); ask an admin.", id)
}

// Check returns a forbidden error unless the actor may see the conversation.
func (s *Service) Check(ctx context.Context, by Actor, info *store.ConversationInfo) error {
	ok, err := s.Sees(ctx, by, info)
	if err != nil {
		return err
	}
	if !ok {
		return errHidden(info.ID)
	}
	return nil
}

// Filter returns the test an event stream applies for the actor: admins get every event; an
// agent gets the events of the conversations they see, and one last conversation event when a
// conversation leaves their sight (so the lists can drop it). It remembers what it decided per
// conversation; the stream calls it from one goroutine.
func (s *Service) Filter(by Actor) func(ctx context.Context, ev *Event) bool {
	if by.Admin {
		return func(context.Context, *Event) bool { return true }
	}
	seen := map[string]bool{}    // conversation → visible, as last decided
	handled := map[string]bool{} // conversations the agent handled: they stay visible
	const maxRemembered = 10000
	decide := func(ctx context.Context, info *store.ConversationInfo) bool {
		if handled[info.ID] || by.inbox(info) {
			return true
		}
		ok, err := s.db.ConversationHandled(ctx, info.ID, by.Agent)
		if err != nil {
			s.log.Warn("inbox: cannot tell whether an agent handled a conversation; its event is not streamed", "conversation", info.ID, "err", err)
			return false
		}
		if ok {
			handled[info.ID] = true
		}
		return ok
	}
	return func(ctx context.Context, ev *Event) bool {
		if len(seen) > maxRemembered {
			clear(seen)
			clear(handled)
		}
		var id string
		switch {
		case ev.Conversation != nil:
			was := seen[ev.Conversation.ID]
			now := decide(ctx, ev.Conversation)
			seen[ev.Conversation.ID] = now
			return was || now
		case ev.Message != nil:
			id = ev.Message.ConversationID
		case ev.Note != nil:
			id = ev.Note.ConversationID
		case ev.Typing != nil:
			id = ev.Typing.ConversationID
		default:
			return true // presence: every agent sees who is online
		}
		v, ok := seen[id]
		if !ok {
			info, err := s.db.ConversationGet(ctx, id)
			if err != nil {
				return false
			}
			v = decide(ctx, info)
			seen[id] = v
		}
		return v
	}
}
