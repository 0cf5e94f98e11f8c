package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/internal/fields"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
)

// conversationJSON is a conversation as the API shows it.
type conversationJSON struct {
	ID          string          `json:"id"`
	Contact     *contactJSON    `json:"contact,omitempty"`
	ContactID   string          `json:"contact_id"`
	ChannelID   string          `json:"channel_id"`
	ChannelKind string          `json:"channel_kind"`
	Status      string          `json:"status"`
	Team        string          `json:"team"`
	Assignee    string          `json:"assignee"`
	Bot         string          `json:"bot"`
	Handoff     handoffJSON     `json:"handoff"`
	ActiveRun   *runSummaryJSON `json:"active_run"`
	LastRun     *runSummaryJSON `json:"last_run,omitempty"`
	Tags        []string        `json:"tags"`
	Attributes  map[string]any  `json:"attributes"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	// Usage sums the AI calls and tokens of all the conversation's runs; only
	// GET /conversations/{id} shows it.
	Usage *tandem.Usage `json:"usage,omitempty"`
}

type handoffJSON struct {
	Status   string `json:"status"`
	Desk     string `json:"desk,omitempty"`
	Team     string `json:"team,omitempty"`
	Agent    string `json:"agent,omitempty"`
	ClosedBy string `json:"closed_by,omitempty"`
	// Reason, Summary and FlowID are what the desk was given (null when none).
	Reason  *string `json:"reason"`
	Summary *string `json:"summary"`
	FlowID  *string `json:"flow_id"`
}

// orNull is s, or nil when it is empty.
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type runSummaryJSON struct {
	ID          string `json:"id"`
	FlowID      string `json:"flow_id"`
	FlowVersion int    `json:"flow_version,omitempty"`
	Status      string `json:"status"`
	Reason      string `json:"reason,omitempty"`
	Step        string `json:"step,omitempty"`
}

func toConversationJSON(info *store.ConversationInfo, contact *tandem.Contact) conversationJSON {
	c := info.Conversation
	out := conversationJSON{ID: c.ID, ContactID: c.ContactID, ChannelID: c.ChannelID, ChannelKind: c.ChannelKind,
		Status: c.Status, Team: c.Team, Assignee: c.Assignee, Bot: "active", Tags: c.Tags, Attributes: c.Attributes,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Handoff: handoffJSON{Status: tandem.HandoffNone}}
	if c.BotPaused {
		out.Bot = "paused"
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if out.Attributes == nil {
		out.Attributes = map[string]any{}
	}
	if contact != nil {
		cj := toContactJSON(contact)
		out.Contact = &cj
	}
	st, err := runner.State(info)
	if err != nil {
		return out
	}
	if h := st.Handoff; h != nil {
		out.Handoff = handoffJSON{Status: h.Status, Desk: h.Desk, Team: h.Team, Agent: h.Agent, ClosedBy: h.ClosedBy,
			Reason: orNull(h.Reason), Summary: orNull(h.Summary), FlowID: orNull(h.FlowID)}
	}
	out.ActiveRun, out.LastRun = runSummaries(st)
	return out
}

func runSummaries(st *engine.State) (active, last *runSummaryJSON) {
	if r := st.Run; r != nil {
		flowID, version := r.FlowID, r.Version
		if len(r.Frames) > 0 {
			flowID, version = r.Frames[0].FlowID, r.Frames[0].Version
		}
		active = &runSummaryJSON{ID: r.ID, FlowID: flowID, FlowVersion: version, Status: r.Status, Step: r.Step}
	}
	if l := st.Last; l != nil {
		last = &runSummaryJSON{ID: l.ID, FlowID: l.FlowID, Status: l.Status, Reason: l.Reason, Step: l.Step}
	}
	return active, last
}

func (s *Server) conversationList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := store.ConversationListParams{Status: q.Get("status"), Team: q.Get("team"), Before: q.Get("cursor")}
	switch p.Status {
	case "", tandem.ConversationBot, tandem.ConversationQueued, tandem.ConversationAssigned, tandem.ConversationClosed:
	default:
		return invalid("status", "%q is not a status (bot, queued, assigned, closed).", p.Status)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return invalid("limit", "a number from 1 to 500.")
		}
		p.Limit = n
	}
	list, next, err := s.cfg.DB.ConversationList(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]conversationJSON, len(list))
	for i := range list {
		out[i] = toConversationJSON(&list[i], nil)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"conversations": out, "next_cursor": next})
}

func (s *Server) conversationGet(w http.ResponseWriter, r *http.Request) error {
	info, err := s.cfg.DB.ConversationGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.seeConversation(r, info); err != nil {
		return err
	}
	contact, err := s.cfg.DB.ContactGet(r.Context(), info.ContactID)
	if err != nil {
		return err
	}
	usage, err := s.cfg.DB.ConversationUsage(r.Context(), info.ID)
	if err != nil {
		return err
	}
	out := toConversationJSON(info, contact)
	out.Usage = &usage
	return writeJSON(w, http.StatusOK, out)
}

// conversationRuns is GET /api/v1/conversations/{id}/runs?cursor=&limit=: the conversation's
// runs, the most recently started first, without their traces (GET /runs/{id} has those).
func (s *Server) conversationRuns(w http.ResponseWriter, r *http.Request) error {
	info, err := s.cfg.DB.ConversationGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.seeConversation(r, info); err != nil {
		return err
	}
	q := r.URL.Query()
	p := store.RunListParams{ConversationID: info.ID, Before: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return invalid("limit", "a number from 1 to 500.")
		}
		p.Limit = n
	}
	runs, next, err := s.cfg.DB.RunList(r.Context(), p)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []tandem.Run{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"runs": runs, "next_cursor": next})
}

// runJSON is a run with its trace.
type runJSON struct {
	tandem.Run
	Trace []tandem.StepTrace `json:"trace"`
}

func (s *Server) runGet(w http.ResponseWriter, r *http.Request) error {
	run, err := s.cfg.DB.RunGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if c := callerOf(r); c != nil && c.kind == agentRole {
		info, err := s.cfg.DB.ConversationGet(r.Context(), run.ConversationID)
		if err != nil {
			return err
		}
		if err := s.seeConversation(r, info); err != nil {
			return err
		}
	}
	trace, err := s.cfg.DB.RunTrace(r.Context(), run.ConversationID, run.ID)
	if err != nil {
		return err
	}
	if trace == nil {
		trace = []tandem.StepTrace{}
	}
	return writeJSON(w, http.StatusOK, runJSON{Run: *run, Trace: trace})
}

// contactJSON is a contact as the API shows it.
type contactJSON struct {
	ID         string         `json:"id"`
	ChannelID  string         `json:"channel_id"`
	ExternalID string         `json:"external_id"`
	Name       string         `json:"name"`
	FirstName  string         `json:"first_name"`
	LastName   string         `json:"last_name"`
	Phone      string         `json:"phone"`
	Email      string         `json:"email"`
	Language   string         `json:"language"`
	Attributes map[string]any `json:"attributes"`
	Tags       []string       `json:"tags"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

func toContactJSON(c *tandem.Contact) contactJSON {
	out := contactJSON{ID: c.ID, ChannelID: c.ChannelID, ExternalID: c.ExternalID, Name: c.Name, FirstName: c.First(),
		LastName: c.Last(), Phone: c.Phone, Email: c.Email, Language: c.Language, Attributes: c.Attributes, Tags: c.Tags,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if out.Attributes == nil {
		out.Attributes = map[string]any{}
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	return out
}

func (s *Server) contactGet(w http.ResponseWriter, r *http.Request) error {
	c, err := s.cfg.DB.ContactGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.seeContact(r, c.ID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toContactJSON(c))
}

// contactConversations is GET /api/v1/contacts/{id}/conversations?cursor=&limit=: the contact's
// conversations, any status, most recently updated first, each with its last message; an agent
// gets only those they see (a page may then be shorter than limit while next_cursor goes on).
func (s *Server) contactConversations(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.cfg.DB.ContactGet(r.Context(), id); err != nil {
		return err
	}
	if err := s.seeContact(r, id); err != nil {
		return err
	}
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return invalid("limit", "a number from 1 to 100.")
		}
		limit = n
	}
	list, next, err := ib.ContactConversations(r.Context(), by, id, r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"conversations": toInboxConversations(list), "next_cursor": next})
}

func (s *Server) contactPatch(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.cfg.DB.ContactGet(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	if err := s.seeContact(r, r.PathValue("id")); err != nil {
		return err
	}
	var p store.ContactPatch
	if err := decode(r, &p); err != nil {
		return err
	}
	str := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	if err := fields.Texts(
		fields.Check{Field: "name", Value: str(p.Name), Max: fields.MaxName},
		fields.Check{Field: "first_name", Value: str(p.FirstName), Max: fields.MaxName},
		fields.Check{Field: "last_name", Value: str(p.LastName), Max: fields.MaxName},
		fields.Check{Field: "email", Value: str(p.Email), Max: fields.MaxEmail},
		fields.Check{Field: "phone", Value: str(p.Phone), Max: fields.MaxPhone},
		fields.Check{Field: "language", Value: str(p.Language), Max: fields.MaxLanguage},
	); err != nil {
		return err
	}
	if err := fields.Map("attributes", p.Attributes); err != nil {
		return err
	}
	if p.Tags != nil {
		if err := fields.Tags("tags", *p.Tags); err != nil {
			return err
		}
	}
	if p.Email != nil && *p.Email != "" {
		if _, _, ok := engine.ValidateAnswer("email", &tandem.Message{Type: tandem.MessageText, Text: *p.Email}, nil, engine.AnswerEnv{}); !ok {
			return invalid("email", "%q is not an e-mail address.", *p.Email)
		}
	}
	if p.Phone != nil && *p.Phone != "" {
		v, _, ok := engine.ValidateAnswer("phone", &tandem.Message{Type: tandem.MessageText, Text: *p.Phone}, nil, engine.AnswerEnv{})
		if !ok {
			return invalid("phone", "%q is not a phone number in international format (+5511999990000).", *p.Phone)
		}
		e164 := v.(string)
		p.Phone = &e164
	}
	c, err := s.cfg.DB.ContactUpdate(r.Context(), r.PathValue("id"), p, s.cfg.Clock.Now())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toContactJSON(c))
}
