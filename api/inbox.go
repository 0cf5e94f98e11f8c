package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/desk/inbox"
	"github.com/tandemchat/tandem/internal/fields"
	"github.com/tandemchat/tandem/internal/jsonhttp"
	"github.com/tandemchat/tandem/store"
)

// inboxRoutes returns the routes of the agents' inbox: logins, agents, presence, teams, the
// inbox's conversations and what agents do in them, and the stream of changes.
//
// Agent actions that go through the engine (messages, close, resume-bot) answer 202 with the
// conversation as it stands when the action is queued: the runner processes it right after, and
// the change shows in the event stream and in GET /api/v1/conversations/{id}. Assignments are
// written at once and answer 200 with the conversation as assigned.
func (s *Server) inboxRoutes() []route {
	return []route{
		{"POST", "/api/v1/inbox/login", s.inboxLogin, public},
		{"GET", "/api/v1/inbox/agents", s.inboxAgents, inboxed},
		{"POST", "/api/v1/inbox/agents", s.inboxAgentCreate, manage},
		{"GET", "/api/v1/inbox/agents/{email}", s.inboxAgent, inboxed},
		{"PATCH", "/api/v1/inbox/agents/{email}", s.inboxAgentUpdate, manage},
		{"PUT", "/api/v1/inbox/presence", s.inboxPresence, inboxed},
		{"GET", "/api/v1/inbox/teams", s.inboxTeams, inboxed},
		{"POST", "/api/v1/inbox/teams", s.inboxTeamCreate, manage},
		{"PATCH", "/api/v1/inbox/teams/{id}", s.inboxTeamUpdate, manage},
		{"DELETE", "/api/v1/inbox/teams/{id}", s.inboxTeamDelete, manage},
		{"GET", "/api/v1/inbox/conversations", s.inboxConversations, inboxed},
		{"POST", "/api/v1/inbox/conversations/{id}/assign", s.inboxAssign, inboxed},
		{"POST", "/api/v1/inbox/conversations/{id}/messages", s.inboxMessage, inboxed},
		{"POST", attachmentRoute, s.inboxAttachment, inboxed},
		{"POST", "/api/v1/inbox/conversations/{id}/typing", s.inboxTyping, inboxed},
		{"GET", "/api/v1/inbox/conversations/{id}/notes", s.inboxNotes, inboxed},
		{"POST", "/api/v1/inbox/conversations/{id}/notes", s.inboxNote, inboxed},
		{"POST", "/api/v1/inbox/conversations/{id}/close", s.inboxClose, inboxed},
		{"POST", "/api/v1/inbox/conversations/{id}/resume-bot", s.inboxResumeBot, inboxed},
		{"GET", "/api/v1/inbox/events", s.inboxEvents, inboxed},
	}
}

// inbox returns the inbox service and the actor of an authenticated request.
func (s *Server) inbox(r *http.Request) (*inbox.Service, inbox.Actor, error) {
	ib := s.cfg.Inbox
	if ib == nil {
		return nil, inbox.Actor{}, tandem.Errorf(tandem.EUNAVAILABLE, "The inbox is not enabled on this server.")
	}
	var tok *store.Token
	if c := callerOf(r); c != nil {
		tok = c.token
	}
	by, err := ib.Actor(r.Context(), tok)
	return ib, by, err
}

// agentJSON is an agent as the inbox API shows it: status is what counts (online, away,
// offline — offline also when unseen for a while), presence what the agent set.
type agentJSON struct {
	Email      string     `json:"email"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Status     string     `json:"status"`
	Presence   string     `json:"presence"`
	Teams      []string   `json:"teams"`
	Active     bool       `json:"active"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

func toAgentJSON(a *inbox.AgentView) agentJSON {
	out := agentJSON{Email: a.Email, Name: a.Name, Role: a.Role, Status: a.Status, Presence: a.Presence, Teams: a.Teams, Active: !a.Inactive, CreatedAt: a.CreatedAt}
	if out.Teams == nil {
		out.Teams = []string{}
	}
	if !a.LastSeenAt.IsZero() {
		t := a.LastSeenAt
		out.LastSeenAt = &t
	}
	return out
}

func (s *Server) inboxLogin(w http.ResponseWriter, r *http.Request) error {
	ib := s.cfg.Inbox
	if ib == nil {
		return tandem.Errorf(tandem.EUNAVAILABLE, "The inbox is not enabled on this server.")
	}
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Email) == "" {
		return invalid("email", "required.")
	}
	if body.Password == "" {
		return invalid("password", "required.")
	}
	if err := fields.Texts(fields.Check{Field: "email", Value: body.Email, Max: fields.MaxEmail}, fields.Check{Field: "password", Value: body.Password}); err != nil {
		return err
	}
	if len(body.Password) > 72 {
		return invalid("password", "at most 72 bytes.")
	}
	if err := s.logins.allow(w, r, body.Email, s.cfg.Clock.Now()); err != nil {
		s.refused("login")
		return err
	}
	token, a, err := ib.Login(r.Context(), body.Email, body.Password)
	if err != nil {
		return err
	}
	s.logins.succeeded(r, body.Email)
	return writeJSON(w, http.StatusOK, map[string]any{"token": token, "agent": toAgentJSON(a)})
}

func (s *Server) inboxAgents(w http.ResponseWriter, r *http.Request) error {
	ib, _, err := s.inbox(r)
	if err != nil {
		return err
	}
	list, err := ib.Agents(r.Context())
	if err != nil {
		return err
	}
	out := make([]agentJSON, len(list))
	for i := range list {
		out[i] = toAgentJSON(&list[i])
	}
	return writeJSON(w, http.StatusOK, map[string]any{"agents": out})
}

func (s *Server) inboxAgent(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	a, err := ib.Agent(r.Context(), by, r.PathValue("email"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toAgentJSON(a))
}

func (s *Server) inboxAgentCreate(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	var body struct {
		Email    string   `json:"email"`
		Name     string   `json:"name"`
		Password string   `json:"password"`
		Role     string   `json:"role"`
		Teams    []string `json:"teams"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	a, err := ib.CreateAgent(r.Context(), by, inbox.NewAgent{Email: body.Email, Name: body.Name, Password: body.Password, Role: body.Role, Teams: body.Teams})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toAgentJSON(a))
}

func (s *Server) inboxPresence(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	var body struct {
		Status string `json:"status"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	a, err := ib.SetPresence(r.Context(), by, body.Status)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toAgentJSON(a))
}

// teamJSON is a team of the configuration as the inbox shows it.
type teamJSON struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Strategy      string   `json:"strategy"`
	ReassignAfter string   `json:"reassign_after,omitempty"`
	Members       []string `json:"members"`
	Online        int      `json:"online"`
	// Configured: defined in tandem.yaml (its name, strategy and reassign_after are changed there).
	Configured bool `json:"configured"`
}

func (s *Server) inboxTeams(w http.ResponseWriter, r *http.Request) error {
	ib, _, err := s.inbox(r)
	if err != nil {
		return err
	}
	teams, err := ib.Teams(r.Context())
	if err != nil {
		return err
	}
	out := make([]teamJSON, len(teams))
	for i := range teams {
		out[i] = toTeamJSON(&teams[i])
	}
	return writeJSON(w, http.StatusOK, map[string]any{"teams": out})
}

func toTeamJSON(t *inbox.TeamView) teamJSON {
	out := teamJSON{ID: t.ID, Name: t.Name, Strategy: t.Strategy, Members: t.Members, Online: t.Online, Configured: t.Configured}
	if t.ReassignAfter > 0 {
		out.ReassignAfter = tandem.FormatDuration(t.ReassignAfter)
	}
	return out
}

// teamBody is a team as a client writes it; absent fields stay.
type teamBody struct {
	ID            string    `json:"id"`
	Name          *string   `json:"name"`
	Strategy      *string   `json:"strategy"`
	ReassignAfter *string   `json:"reassign_after"`
	Members       *[]string `json:"members"`
}

func (b *teamBody) change() inbox.TeamChange {
	return inbox.TeamChange{Name: b.Name, Strategy: b.Strategy, ReassignAfter: b.ReassignAfter, Members: b.Members}
}

func (s *Server) inboxTeamCreate(w http.ResponseWriter, r *http.Request) error {
	ib, _, err := s.inbox(r)
	if err != nil {
		return err
	}
	var body teamBody
	if err := decode(r, &body); err != nil {
		return err
	}
	t, err := ib.CreateTeam(r.Context(), body.ID, body.change())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toTeamJSON(t))
}

func (s *Server) inboxTeamUpdate(w http.ResponseWriter, r *http.Request) error {
	ib, _, err := s.inbox(r)
	if err != nil {
		return err
	}
	var body teamBody
	if err := decode(r, &body); err != nil {
		return err
	}
	t, err := ib.UpdateTeam(r.Context(), r.PathValue("id"), body.change())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toTeamJSON(t))
}

func (s *Server) inboxTeamDelete(w http.ResponseWriter, r *http.Request) error {
	ib, _, err := s.inbox(r)
	if err != nil {
		return err
	}
	if err := ib.DeleteTeam(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) inboxAgentUpdate(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	var body struct {
		Name   *string   `json:"name"`
		Role   *string   `json:"role"`
		Active *bool     `json:"active"`
		Teams  *[]string `json:"teams"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	a, err := ib.UpdateAgent(r.Context(), by, r.PathValue("email"), inbox.AgentChange{Name: body.Name, Role: body.Role, Active: body.Active, Teams: body.Teams})
	if err != nil {
		return err
	}
	if body.Role != nil || body.Active != nil {
		// Its credentials are read again at their next use: a new role, or no access, at once.
		s.tokens.forget(func(t *store.Token) bool { return t.Agent == a.Email })
	}
	return writeJSON(w, http.StatusOK, toAgentJSON(a))
}

// inboxConversationJSON is a conversation of the inbox: the conversation with its contact and
// its last message.
type inboxConversationJSON struct {
	conversationJSON
	LastMessage *messageJSON `json:"last_message"`
}

func (s *Server) inboxConversations(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p := inbox.ListParams{Status: q.Get("status"), Team: q.Get("team"), Agent: q.Get("agent"), Before: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return invalid("limit", "a number from 1 to 500.")
		}
		p.Limit = n
	}
	list, next, err := ib.List(r.Context(), by, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"conversations": toInboxConversations(list), "next_cursor": next})
}

// toInboxConversations shows conversations with their contact and last message.
func toInboxConversations(list []store.InboxItem) []inboxConversationJSON {
	out := make([]inboxConversationJSON, len(list))
	for i := range list {
		it := &list[i]
		out[i] = inboxConversationJSON{conversationJSON: toConversationJSON(&it.ConversationInfo, it.Contact)}
		if it.LastMessage != nil {
			m := toMessageJSON(it.LastMessage)
			out[i].LastMessage = &m
		}
	}
	return out
}

// writeConversation answers with a conversation and its contact, as GET /conversations/{id}.
func (s *Server) writeConversation(w http.ResponseWriter, r *http.Request, status int, info *store.ConversationInfo) error {
	contact, err := s.cfg.DB.ContactGet(r.Context(), info.ContactID)
	if err != nil {
		return err
	}
	return writeJSON(w, status, toConversationJSON(info, contact))
}

func (s *Server) inboxAssign(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	var body struct {
		Agent string `json:"agent"`
		Team  string `json:"team"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	info, err := ib.Assign(r.Context(), by, r.PathValue("id"), inbox.AssignRequest{Agent: body.Agent, Team: body.Team})
	if err != nil {
		return err
	}
	return s.writeConversation(w, r, http.StatusOK, info)
}

// textBody is the body of an agent's message or note.
type textBody struct {
	Text string `json:"text"`
}

func (s *Server) inboxMessage(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	var body textBody
	if err := decode(r, &body); err != nil {
		return err
	}
	info, err := ib.Message(r.Context(), by, r.PathValue("id"), body.Text)
	if err != nil {
		return err
	}
	return s.writeConversation(w, r, http.StatusAccepted, info)
}

// attachmentRoute is where an agent sends a file; it reads its body itself (up to the
// channel's max_upload_bytes), not the API's 1 MB.
const attachmentRoute = "/api/v1/inbox/conversations/{id}/attachments"

// uploadLimit is the largest file an agent may send on a channel: its max_upload_bytes, else
// 10 MiB.
func (s *Server) uploadLimit(channelID string) int64 {
	for i := range s.cfg.Workspace.Channels {
		if ch := &s.cfg.Workspace.Channels[i]; ch.ID == channelID && ch.MaxUploadBytes > 0 {
			return ch.MaxUploadBytes
		}
	}
	return DefaultMaxUploadBytes
}

// DefaultMaxUploadBytes caps an agent's file on a channel without max_upload_bytes.
const DefaultMaxUploadBytes = 10 << 20

// inboxAttachment is POST /api/v1/inbox/conversations/{id}/attachments, multipart/form-data
// with an optional "text" then a "file": the agent sends the file to the customer through the
// conversation's channel (as a message of type image, audio, video or file, the text its
// caption), answered 202 as a message. A file over the channel's max_upload_bytes (default
// 10 MiB) is 413, refused from the Content-Length before anything is read when it says so.
func (s *Server) inboxAttachment(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	info, err := s.cfg.DB.ConversationGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := ib.Check(r.Context(), by, info); err != nil {
		return err
	}
	if ch, ok := s.channels[info.ChannelKind][info.ChannelID]; ok && !ch.Caps().Media {
		return tandem.Errorf(tandem.EINVALID, "Channel %q cannot carry files; send a link in a message instead.", info.ChannelID)
	}
	limit := s.uploadLimit(info.ChannelID)
	tooLarge := tandem.Errorf(tandem.ETOOLARGE, "The file is larger than %d bytes, the most channel %q takes (its max_upload_bytes); send a smaller file or a link.", limit, info.ChannelID)
	if r.ContentLength > limit+channel.MultipartOverhead {
		return tooLarge
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+channel.MultipartOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		return invalid("file", `send the file as multipart/form-data in the field "file" (and a caption in the field "text" before it).`)
	}
	text := ""
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return invalid("file", `required: the multipart field "file".`)
		} else if jsonhttp.IsMaxBytes(err) {
			return tooLarge
		} else if err != nil {
			return invalid("file", "the multipart body cannot be read.")
		}
		switch part.FormName() {
		case "text":
			b, err := io.ReadAll(io.LimitReader(part, 4*fields.MaxAgentText+1))
			part.Close()
			if jsonhttp.IsMaxBytes(err) {
				return tooLarge
			} else if err != nil {
				return invalid("text", "the field cannot be read.")
			}
			text = string(b)
			continue
		case "file":
		default:
			part.Close()
			continue
		}
		name, mt := channel.FilePart(part)
		data := bufio.NewReader(part)
		if _, err := data.Peek(1); errors.Is(err, io.EOF) {
			return invalid("file", "the file is empty.")
		}
		info, err := ib.Attach(r.Context(), by, info.ID, text, inbox.Upload{Name: name, Mime: mt, Data: data, Max: limit})
		part.Close()
		if tandem.ErrorCode(err) == tandem.ETOOLARGE || jsonhttp.IsMaxBytes(err) {
			return tooLarge
		} else if err != nil {
			return err
		}
		return s.writeConversation(w, r, http.StatusAccepted, info)
	}
}

// inboxTyping is POST /api/v1/inbox/conversations/{id}/typing: the agent is typing; a web
// widget customer sees "<name> is typing…" (other channels show nothing). Send it every few
// seconds while typing.
func (s *Server) inboxTyping(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	info, err := ib.AgentTyping(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	if t, ok := s.channels[info.ChannelKind][info.ChannelID].(interface {
		Typing(conversationID, name string)
	}); ok {
		name := by.Agent
		if a, err := s.cfg.DB.AgentGet(r.Context(), by.Agent); err == nil && a.Name != "" {
			name = a.Name
		}
		if strings.Contains(name, "@") {
			name = ""
		}
		t.Typing(info.ID, name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// noteJSON is an internal note.
type noteJSON struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	Author         string    `json:"author"`
	Text           string    `json:"text"`
	CreatedAt      time.Time `json:"created_at"`
}

func toNoteJSON(n *tandem.Note) noteJSON {
	return noteJSON{ID: n.ID, ConversationID: n.ConversationID, Author: n.Author, Text: n.Text, CreatedAt: n.CreatedAt}
}

func (s *Server) inboxNote(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	var body textBody
	if err := decode(r, &body); err != nil {
		return err
	}
	n, err := ib.Note(r.Context(), by, r.PathValue("id"), body.Text)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toNoteJSON(n))
}

func (s *Server) inboxNotes(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	info, err := s.cfg.DB.ConversationGet(r.Context(), id)
	if err != nil {
		return err
	}
	if err := ib.Check(r.Context(), by, info); err != nil {
		return err
	}
	notes, err := s.cfg.DB.Notes(r.Context(), id)
	if err != nil {
		return err
	}
	out := make([]noteJSON, len(notes))
	for i := range notes {
		out[i] = toNoteJSON(&notes[i])
	}
	return writeJSON(w, http.StatusOK, map[string]any{"notes": out})
}

func (s *Server) inboxClose(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	info, err := ib.Close(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeConversation(w, r, http.StatusAccepted, info)
}

func (s *Server) inboxResumeBot(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	info, err := ib.ResumeBot(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeConversation(w, r, http.StatusAccepted, info)
}

// Event stream timing.
const (
	ssePing  = 15 * time.Second // a comment line keeps proxies from closing an idle stream
	sseWrite = time.Minute      // each write must get through within this
)

// inboxEvents is GET /api/v1/inbox/events: a text/event-stream of the inbox's changes —
// `conversation`, `message`, `note` and `presence` events, each with an id, and `typing`
// events (no id); a client that
// reconnects with Last-Event-ID (or ?after=) gets what it missed, or a `reset` event when that
// is too old (reload the lists). A `: ping` comment comes every 15 s. The stream ends when the
// client goes, when the server stops, or when the client falls too far behind.
func (s *Server) inboxEvents(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	last := r.Header.Get("Last-Event-ID")
	if v := r.URL.Query().Get("after"); v != "" {
		last = v
	}
	release, err := s.enterWait(w, r)
	if err != nil {
		return err
	}
	defer release()
	visible := ib.Filter(by)
	sub := ib.Subscribe()
	defer sub.Close()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(chunk string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(sseWrite))
		if _, err := fmt.Fprint(w, chunk); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	var seen uint64
	buf := "retry: 3000\n\n"
	if last != "" {
		evs, ok := ib.Since(last)
		if !ok {
			buf += "event: reset\ndata: {}\n\n"
		} else {
			seen = ib.Seq(last)
			for i := range evs {
				if visible(r.Context(), &evs[i]) {
					buf += sseEvent(&evs[i])
				}
				seen = evs[i].Num()
			}
		}
	}
	if !send(buf) {
		return nil
	}
	ping := time.NewTicker(ssePing)
	defer ping.Stop()
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.C:
			if !ok {
				return nil // the server stops, or the client lagged: it reconnects and resumes
			}
			// Typing events are not numbered (never replayed): they always pass.
			if ev.Num() != 0 && ev.Num() <= seen || !visible(ctx, &ev) {
				continue
			}
			if !send(sseEvent(&ev)) {
				return nil
			}
		case <-ping.C:
			if !send(": ping\n\n") {
				return nil
			}
			// An open stream counts as the agent being seen.
			if err := ib.Seen(ctx, by); err != nil && ctx.Err() == nil {
				s.log.Warn("inbox: presence not refreshed", "agent", by.Agent, "err", err)
			}
		}
	}
}

// sseEvent formats one event of the stream.
func sseEvent(ev *inbox.Event) string {
	var data any = struct{}{}
	switch {
	case ev.Conversation != nil:
		data = toConversationJSON(ev.Conversation, nil)
	case ev.Message != nil:
		data = toMessageJSON(ev.Message)
	case ev.Note != nil:
		data = toNoteJSON(ev.Note)
	case ev.Agent != nil:
		data = toAgentJSON(ev.Agent)
	case ev.Typing != nil:
		return "event: typing\ndata: " + mustJSON(ev.Typing) + "\n\n"
	}
	b, err := json.Marshal(data)
	if err != nil {
		b = []byte("{}")
	}
	return "id: " + ev.ID + "\nevent: " + ev.Kind + "\ndata: " + string(b) + "\n\n"
}
