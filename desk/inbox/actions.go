package inbox

import (
	"context"
	"io"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/internal/fields"
	"github.com/tandemchat/tandem/store"
)

// ListParams selects conversations of the inbox.
type ListParams struct {
	// Status is queued or assigned ("" for both).
	Status string
	Team   string
	// Agent keeps the conversations assigned to an agent; "me" is the acting agent.
	Agent  string
	Before string
	Limit  int
}

// List returns the conversations in the inbox (queued or assigned, not handed to another desk),
// most recently updated first, with their contact and last message, and the next cursor. A page
// may hold fewer than Limit conversations when some were handed to other desks; the cursor
// still goes on.
func (s *Service) List(ctx context.Context, by Actor, p ListParams) ([]store.InboxItem, string, error) {
	lp := store.InboxListParams{Team: p.Team, Before: p.Before, Limit: p.Limit}
	switch p.Status {
	case "":
	case tandem.ConversationQueued, tandem.ConversationAssigned:
		lp.Statuses = []string{p.Status}
	default:
		return nil, "", tandem.Errorf(tandem.EINVALID, "status: %q is not an inbox status (queued, assigned).", p.Status)
	}
	if p.Agent == "me" {
		if by.Agent == "" {
			return nil, "", errMe
		}
		p.Agent = by.Agent
	}
	lp.Assignee = p.Agent
	if !by.Admin {
		lp.SeenBy, lp.SeenByTeams = by.Agent, by.Teams
	}
	list, next, err := s.db.InboxList(ctx, lp)
	if err != nil {
		return nil, "", err
	}
	out := list[:0]
	for i := range list {
		if inInbox(&list[i].ConversationInfo) {
			out = append(out, list[i])
		}
	}
	s.b.learn(out)
	return out, next, nil
}

// ContactConversations returns a contact's conversations in any status, most recently updated
// first, with their last message: those the actor sees (Sees), and the next cursor. A page may
// hold fewer than limit when the actor does not see some; the cursor still goes on.
func (s *Service) ContactConversations(ctx context.Context, by Actor, contactID, before string, limit int) ([]store.InboxItem, string, error) {
	list, next, err := s.db.InboxList(ctx, store.InboxListParams{ContactID: contactID, Before: before, Limit: limit,
		Statuses: []string{tandem.ConversationBot, tandem.ConversationQueued, tandem.ConversationAssigned, tandem.ConversationClosed}})
	if err != nil {
		return nil, "", err
	}
	out := list[:0]
	for i := range list {
		ok, err := s.Sees(ctx, by, &list[i].ConversationInfo)
		if err != nil {
			return nil, "", err
		}
		if ok {
			out = append(out, list[i])
		}
	}
	return out, next, nil
}

var errMe = tandem.Errorf(tandem.EINVALID, `agent: "me" needs an agent's token (log in as an agent); this API token has no agent.`)

// conversation reads a conversation an agent acts on: an unknown one is not found, one the
// actor may not see is forbidden, one handed to another desk is a conflict.
func (s *Service) conversation(ctx context.Context, by Actor, id string) (*store.ConversationInfo, handoffInfo, error) {
	info, err := s.db.ConversationGet(ctx, id)
	if err != nil {
		return nil, handoffInfo{}, err
	}
	if err := s.Check(ctx, by, info); err != nil {
		return nil, handoffInfo{}, err
	}
	h := handoffOf(info)
	if h.external() {
		return nil, h, tandem.Errorf(tandem.ECONFLICT, "The conversation is handed to desk %q; answer it there.", h.Desk)
	}
	return info, h, nil
}

// mayAct checks that the actor may act on the conversation: an admin always; an agent unless
// another agent has it.
func mayAct(by Actor, info *store.ConversationInfo) error {
	if by.Admin || info.Status != tandem.ConversationAssigned || info.Assignee == "" || info.Assignee == by.Agent {
		return nil
	}
	return tandem.Errorf(tandem.EFORBIDDEN, "The conversation is assigned to %s; only they or an admin may act on it.", info.Assignee)
}

func open(info *store.ConversationInfo) error {
	if info.Status == tandem.ConversationClosed {
		return tandem.Errorf(tandem.ECONFLICT, "The conversation is closed.")
	}
	return nil
}

// botHandles reports whether the bot answers the conversation: no handoff, not paused. Taking
// such a conversation needs the engine to pause the bot.
func botHandles(info *store.ConversationInfo, h handoffInfo) bool {
	return !info.BotPaused && !h.active()
}

// AssignRequest says who gets a conversation: an agent ("me" for the acting agent), a team
// (a transfer: the conversation goes back to that team's queue), or both.
type AssignRequest struct {
	Agent string
	Team  string
}

// Assign assigns a conversation.
//
//   - {agent: "me"} takes it: it succeeds only while no other agent has it, so of agents taking
//     one conversation at once exactly one wins; the others get a conflict. Taking a conversation
//     the bot handles pauses the bot.
//   - {agent: e-mail} gives it to that agent: an admin may always; an agent may give away its own
//     conversations and unassigned ones (as a take, for the other agent).
//   - {team: id} transfers it to the team's queue (an admin, the agent that has it, or anyone
//     while it is queued), where an online member gets it by the team's strategy; with an agent
//     too, that agent gets it in the new team.
func (s *Service) Assign(ctx context.Context, by Actor, id string, r AssignRequest) (*store.ConversationInfo, error) {
	if err := fields.Texts(fields.Check{Field: "agent", Value: r.Agent, Max: fields.MaxEmail}, fields.Check{Field: "team", Value: r.Team, Max: fields.MaxID}); err != nil {
		return nil, err
	}
	r.Agent, r.Team = strings.TrimSpace(r.Agent), strings.TrimSpace(r.Team)
	if r.Agent == "" && r.Team == "" {
		return nil, tandem.Errorf(tandem.EINVALID, `agent: give an agent ("me" or an e-mail) or a team.`)
	}
	claim := r.Agent == "me"
	target := strings.ToLower(r.Agent)
	if claim {
		if by.Agent == "" {
			return nil, errMe
		}
		target = by.Agent
	}
	if r.Team != "" {
		if _, ok := s.team(r.Team); !ok {
			return nil, tandem.Errorf(tandem.ENOTFOUND, "Team %q does not exist.", r.Team)
		}
	}
	if target != "" {
		if _, err := s.db.AgentGet(ctx, target); err != nil {
			return nil, err
		}
	}
	info, h, err := s.conversation(ctx, by, id)
	if err != nil {
		return nil, err
	}
	if err := open(info); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if r.Team != "" {
		if !inInbox(info) {
			return nil, tandem.Errorf(tandem.ECONFLICT, "Only a conversation in the inbox (queued or assigned) can be transferred; take it first.")
		}
		if err := mayAct(by, info); err != nil {
			return nil, err
		}
		if _, err := s.db.ConversationTransfer(ctx, id, r.Team, now); err != nil {
			return nil, err
		}
		s.changed(id)
		if target == "" {
			if info, err = s.db.ConversationGet(ctx, id); err != nil {
				return nil, err
			}
			if _, err := s.assignQueued(ctx, info); err != nil {
				s.log.Warn("inbox: a transferred conversation could not be assigned; it will be tried again", "conversation", id, "err", err)
			}
			return s.db.ConversationGet(ctx, id)
		}
		claim = claim || !by.Admin
	}
	// Who may give the conversation to target, and whether only while nobody else has it.
	mine := info.Status == tandem.ConversationAssigned && info.Assignee == by.Agent && by.Agent != ""
	conditional := claim
	switch {
	case by.Admin || claim:
	case target == by.Agent:
		conditional = true
	case mine:
	case info.Status == tandem.ConversationAssigned && info.Assignee != "":
		return nil, mayAct(by, info)
	default:
		conditional = true
	}
	ok, err := s.db.ConversationAssign(ctx, id, target, conditional, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		cur, err := s.db.ConversationGet(ctx, id)
		if err != nil {
			return nil, err
		}
		if cur.Status == tandem.ConversationClosed {
			return nil, tandem.Errorf(tandem.ECONFLICT, "The conversation is closed.")
		}
		return nil, tandem.Errorf(tandem.ECONFLICT, "%s took the conversation first.", cur.Assignee)
	}
	s.changed(id)
	if botHandles(info, h) {
		// The engine pauses the bot: from now on only agents answer.
		if err := s.enqueue(ctx, tandem.Event{ConversationID: id, Kind: tandem.EventAgent,
			Agent: &tandem.AgentAction{Action: tandem.AgentTake, Agent: target, Desk: "inbox"}}); err != nil {
			return nil, err
		}
	}
	s.log.Info("inbox: conversation assigned by hand", "conversation", id, "agent", target, "by", by.name())
	return s.db.ConversationGet(ctx, id)
}

func (by Actor) name() string {
	if by.Agent != "" {
		return by.Agent
	}
	return "token:" + by.Token
}

func (s *Service) enqueue(ctx context.Context, ev tandem.Event) error {
	if s.cfg.Events == nil {
		return tandem.Errorf(tandem.EUNAVAILABLE, "The inbox is not connected to the runner.")
	}
	ev.At = s.clock.Now()
	return s.cfg.Events.Enqueue(ctx, ev)
}

// checkText checks an agent's message or note: not blank, valid text of at most max characters.
func checkText(field, text string, max int) (string, error) {
	t := strings.TrimSpace(text)
	if t == "" {
		return "", tandem.Errorf(tandem.EINVALID, "%s: required.", field)
	}
	if err := fields.Text(field, text, max); err != nil {
		return "", err
	}
	return text, nil
}

// Message queues an agent's text message to the customer. In a queued handoff the first agent
// message connects it; in a conversation the bot handles, it takes the conversation over (the
// bot pauses: never both answering). An agent writing in an unassigned conversation takes it
// first, with the same rule as {agent: "me"}. The message is sent when the runner processes it.
func (s *Service) Message(ctx context.Context, by Actor, id, text string) (*store.ConversationInfo, error) {
	text, err := checkText("text", text, fields.MaxAgentText)
	if err != nil {
		return nil, err
	}
	return s.send(ctx, by, id, &tandem.Message{Type: tandem.MessageText, Text: text}, nil)
}

// Upload is a file an agent sends to the customer: its name and type as the agent's browser
// gave them, its content, and the most bytes it may have.
type Upload struct {
	Name, Mime string
	Data       io.Reader
	Max        int64
}

// Attach queues an agent's file to the customer, with an optional text (a caption where the
// channel has them), as Message does. The file is stored first, owned by the conversation (its
// agents and its customer may read it); a file of more than f.Max bytes is ETOOLARGE and
// nothing is sent.
func (s *Service) Attach(ctx context.Context, by Actor, id, text string, f Upload) (*store.ConversationInfo, error) {
	if strings.TrimSpace(text) == "" {
		text = ""
	} else if err := fields.Text("text", text, fields.MaxAgentText); err != nil {
		return nil, err
	}
	m := &tandem.Message{Text: text}
	return s.send(ctx, by, id, m, func(info *store.ConversationInfo) error {
		file, err := s.db.MediaPut(ctx, tandem.MediaFile{ChannelID: info.ChannelID, ConversationID: id, Mime: f.Mime, Name: f.Name, CreatedAt: s.clock.Now()}, f.Data, f.Max)
		if err != nil {
			return err
		}
		m.Type = desk.MediaType("", file.Mime)
		m.Media = &tandem.Media{Type: m.Type, ID: file.ID, URL: channel.MediaPath + file.ID, Size: file.Size, Mime: file.Mime, Name: file.Name}
		return nil
	})
}

// send checks that the agent may write in the conversation, runs prepare (storing a file)
// before anything changes, takes the conversation for the agent if needed and queues m.
func (s *Service) send(ctx context.Context, by Actor, id string, m *tandem.Message, prepare func(*store.ConversationInfo) error) (*store.ConversationInfo, error) {
	info, _, err := s.conversation(ctx, by, id)
	if err != nil {
		return nil, err
	}
	if err := open(info); err != nil {
		return nil, err
	}
	if err := mayAct(by, info); err != nil {
		return nil, err
	}
	if prepare != nil {
		if err := prepare(info); err != nil {
			return nil, err
		}
	}
	if by.Agent != "" && !(info.Status == tandem.ConversationAssigned && info.Assignee == by.Agent) && !(by.Admin && info.Status == tandem.ConversationAssigned) {
		ok, err := s.db.ConversationAssign(ctx, id, by.Agent, true, s.clock.Now())
		if err != nil {
			return nil, err
		}
		if !ok {
			cur, err := s.db.ConversationGet(ctx, id)
			if err != nil {
				return nil, err
			}
			return nil, tandem.Errorf(tandem.ECONFLICT, "%s took the conversation first.", cur.Assignee)
		}
		s.changed(id)
	}
	if by.Agent != "" {
		// Writing is handling: the agent may read the conversation later, wherever it goes.
		if err := s.db.ConversationHandlerAdd(ctx, id, by.Agent, s.clock.Now()); err != nil {
			return nil, err
		}
	}
	m.AgentID = by.Agent
	ev := tandem.Event{ConversationID: id, Kind: tandem.EventAgent, Agent: &tandem.AgentAction{Action: tandem.AgentMessage, Agent: by.Agent, Desk: "inbox", Message: m}}
	if err := s.enqueue(ctx, ev); err != nil {
		return nil, err
	}
	return s.db.ConversationGet(ctx, id)
}

// Note stores an internal note on a conversation: agents see it, the customer never does.
func (s *Service) Note(ctx context.Context, by Actor, id, text string) (*tandem.Note, error) {
	text, err := checkText("text", text, fields.MaxNote)
	if err != nil {
		return nil, err
	}
	info, err := s.db.ConversationGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.Check(ctx, by, info); err != nil {
		return nil, err
	}
	n := tandem.Note{ID: s.cfg.NewID(), ConversationID: id, Author: by.name(), Text: text, CreatedAt: s.clock.Now()}
	if err := s.db.NoteInsert(ctx, n); err != nil {
		return nil, err
	}
	s.b.wake()
	return &n, nil
}

// Close queues the agent's close: an active handoff ends (the customer gets the agent_closed
// text and the bot goes on from the handoff step's next); otherwise the conversation closes.
func (s *Service) Close(ctx context.Context, by Actor, id string) (*store.ConversationInfo, error) {
	info, _, err := s.conversation(ctx, by, id)
	if err != nil {
		return nil, err
	}
	if err := open(info); err != nil {
		return nil, err
	}
	if err := mayAct(by, info); err != nil {
		return nil, err
	}
	if err := s.enqueue(ctx, tandem.Event{ConversationID: id, Kind: tandem.EventAgent,
		Agent: &tandem.AgentAction{Action: tandem.AgentClose, Agent: by.Agent, Desk: "inbox"}}); err != nil {
		return nil, err
	}
	return info, nil
}

// ResumeBot queues giving the conversation back to the bot (ending an active handoff).
func (s *Service) ResumeBot(ctx context.Context, by Actor, id string) (*store.ConversationInfo, error) {
	info, h, err := s.conversation(ctx, by, id)
	if err != nil {
		return nil, err
	}
	if err := open(info); err != nil {
		return nil, err
	}
	if botHandles(info, h) && info.Status == tandem.ConversationBot {
		return nil, tandem.Errorf(tandem.ECONFLICT, "The bot already handles the conversation.")
	}
	if err := mayAct(by, info); err != nil {
		return nil, err
	}
	if err := s.enqueue(ctx, tandem.Event{ConversationID: id, Kind: tandem.EventResumeBot}); err != nil {
		return nil, err
	}
	return info, nil
}
