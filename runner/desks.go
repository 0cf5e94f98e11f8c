package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/store"
)

// DeskDeliver takes what an external desk's agents did in one handoff (a webhook's agent
// message or close, or one found by a poll) into its conversation: it finds the handoff by
// its session or by the desk's own id of it (its DeskLink), recognises a repeat by the
// delivery's key, refuses a handoff that is over, and records the delivery with its events in
// one transaction before returning Stored — nothing is acknowledged to a desk that is not
// durable. It implements desk.Sink.
func (r *Runner) DeskDeliver(ctx context.Context, d desk.Delivery) (desk.Outcome, error) {
	session := d.Session
	conv := ""
	if session == "" {
		l, err := r.db.DeskLinkByRef(ctx, d.Desk, d.Ref)
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			return desk.Unknown, nil
		} else if err != nil {
			return 0, err
		}
		session, conv = l.Session, l.ConversationID
	} else {
		var ok bool
		if conv, ok = SessionConversation(session); !ok {
			return desk.Unknown, nil
		}
	}
	info, err := r.db.ConversationGet(ctx, conv)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return desk.Unknown, nil
	} else if err != nil {
		return 0, fmt.Errorf("desk %s: read the conversation: %w", d.Desk, err)
	}
	st, err := State(info)
	if err != nil {
		return 0, fmt.Errorf("desk %s: read the conversation's state: %w", d.Desk, err)
	}
	h := st.Handoff
	if h == nil || h.Desk != d.Desk {
		return desk.Unknown, nil // this desk never had this conversation
	}
	key := d.Key
	if d.Close {
		key = desk.CloseKey(session)
	}
	if key == "" {
		return 0, fmt.Errorf("desk %s: a delivery without a key", d.Desk)
	}
	seen, err := r.db.DeskEventSeen(ctx, conv, d.Desk, key)
	if err != nil {
		return 0, fmt.Errorf("desk %s: look the delivery up: %w", d.Desk, err)
	}
	if seen {
		return desk.Repeat, nil
	}
	// Open: the current handoff, waiting for an agent or talking with one (its session is
	// empty only in states written before sessions were minted by the engine).
	open := h.Active() && (h.Session == session || h.Session == "")
	if open && !d.Close {
		// A message after the desk's close, before the conversation processed the close.
		closed, err := r.db.DeskEventSeen(ctx, conv, d.Desk, desk.CloseKey(session))
		if err != nil {
			return 0, fmt.Errorf("desk %s: look the delivery up: %w", d.Desk, err)
		}
		open = !closed
	}
	if !open {
		return desk.Closed, nil
	}
	now := r.cfg.Clock.Now()
	events := make([]tandem.Event, len(d.Events))
	for i, ev := range d.Events {
		if ev.At.IsZero() {
			ev.At = now
		}
		if ev.Kind == "" {
			ev.Kind = tandem.EventAgent
		}
		if ev.Agent != nil && ev.Agent.Desk == "" {
			a := *ev.Agent
			a.Desk = d.Desk
			ev.Agent = &a
		}
		events[i] = ev
	}
	first, err := r.db.DeskEventAdd(ctx, store.DeskEventParams{ConversationID: conv, Desk: d.Desk, EventID: key, Events: events, Now: now})
	if err != nil {
		return 0, fmt.Errorf("desk %s: store the delivery: %w", d.Desk, err)
	}
	if !first {
		return desk.Repeat, nil
	}
	r.Kick(conv)
	return desk.Stored, nil
}

// sessionPrefix starts every handoff session the engine mints: "hf_<conversation id>_<tag>".
const sessionPrefix = "hf_"

// SessionConversation returns the conversation id inside a handoff session.
func SessionConversation(session string) (string, bool) {
	rest, ok := strings.CutPrefix(session, sessionPrefix)
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '_')
	if i <= 0 || i == len(rest)-1 {
		return "", false
	}
	return rest[:i], true
}

var _ desk.Sink = (*Runner)(nil)
