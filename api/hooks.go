package api

import (
	"errors"
	"io"
	"net/http"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk/webhook"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
)

// hookRoutes returns the routes of channel and desk webhooks (/hooks/...). They need no API
// token: each authenticates its sender its own way.
func (s *Server) hookRoutes() []route {
	const desk = "/hooks/desk/{desk_id}"
	return []route{
		{"POST", desk + webhook.CallbackMessage, s.deskMessage, true},
		{"POST", desk + webhook.CallbackMessageAlias, s.deskMessage, true},
		{"POST", desk + webhook.CallbackClose, s.deskClose, true},
		{"POST", desk + webhook.CallbackCloseAlias, s.deskClose, true},
	}
}

// deskAnswer is the JSON of every answer to a webhook desk: {"code", "message"}, GPTBots' shape.
type deskAnswer struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func answerDesk(w http.ResponseWriter, status, code int, message string) error {
	return writeJSON(w, status, deskAnswer{Code: code, Message: message})
}

// deskCallback is a checked callback of a webhook desk, ready to be recorded.
type deskCallback struct {
	desk    string
	handoff string // the handoff id the desk sent as conversation_id
	key     string // what makes a repeat a repeat
	events  []tandem.Event
}

// deskMessage is B1: an agent's reply, for the customer (contracts/handoff-webhook.md §6.2).
func (s *Server) deskMessage(w http.ResponseWriter, r *http.Request) error {
	return s.deskHook(w, r, func(id string, body []byte) (*deskCallback, error) {
		m, err := webhook.ParseMessage(body)
		if err != nil {
			return nil, err
		}
		cb := &deskCallback{desk: id, handoff: m.ConversationID, key: m.Key()}
		now := s.cfg.Clock.Now()
		for _, msg := range m.Messages(now) {
			cb.events = append(cb.events, tandem.Event{Kind: tandem.EventAgent, At: now,
				Agent: &tandem.AgentAction{Action: tandem.AgentMessage, Agent: m.AgentName(), Desk: id, Message: &msg}})
		}
		return cb, nil
	})
}

// deskClose is B2: the desk ended the handoff (§6.3).
func (s *Server) deskClose(w http.ResponseWriter, r *http.Request) error {
	return s.deskHook(w, r, func(id string, body []byte) (*deskCallback, error) {
		c, err := webhook.ParseClose(body)
		if err != nil {
			return nil, err
		}
		return &deskCallback{desk: id, handoff: c.ConversationID, key: c.Key(), events: []tandem.Event{{
			Kind: tandem.EventAgent, At: s.cfg.Clock.Now(), Agent: &tandem.AgentAction{Action: tandem.AgentClose, Desk: id}}}}, nil
	})
}

// deskHook runs the checks of §6.4 in the contract's order — desk, size, credentials, body,
// handoff, repeat, open — and records the callback with its events in one transaction, before
// answering 200 (nothing is acknowledged that is not durable).
func (s *Server) deskHook(w http.ResponseWriter, r *http.Request, parse func(desk string, body []byte) (*deskCallback, error)) error {
	id := r.PathValue("desk_id")
	d := s.webhookDesk(id)
	if d == nil {
		return answerDesk(w, http.StatusNotFound, webhook.CodeUnknownDesk, "unknown desk")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, webhook.MaxCallbackBody+1))
	if isMaxBytes(err) || len(body) > webhook.MaxCallbackBody {
		return answerDesk(w, http.StatusRequestEntityTooLarge, webhook.CodeTooLarge, "body too large")
	} else if err != nil {
		return err // the client went away mid-body
	}
	if !webhook.Authenticate(d.Secret, r.Header, body) {
		return answerDesk(w, http.StatusUnauthorized, webhook.CodeUnauthorized, "invalid credentials")
	}
	cb, err := parse(id, body)
	if err != nil {
		var fe *webhook.FieldError
		if errors.As(err, &fe) {
			return answerDesk(w, http.StatusBadRequest, webhook.CodeInvalid, fe.Error())
		}
		return err
	}
	ctx := r.Context()
	conv, ok := webhook.ConversationOf(cb.handoff)
	if !ok {
		return answerDesk(w, http.StatusNotFound, webhook.CodeNoConversation, "unknown conversation_id")
	}
	info, err := s.cfg.DB.ConversationGet(ctx, conv)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return answerDesk(w, http.StatusNotFound, webhook.CodeNoConversation, "unknown conversation_id")
	} else if err != nil {
		return s.deskFailed(w, "read the conversation", id, err)
	}
	st, err := runner.State(info)
	if err != nil {
		return s.deskFailed(w, "read the conversation's state", id, err)
	}
	h := st.Handoff
	if h == nil || h.Desk != id {
		// This desk never had this conversation.
		return answerDesk(w, http.StatusNotFound, webhook.CodeNoConversation, "unknown conversation_id")
	}
	seen, err := s.cfg.DB.DeskEventSeen(ctx, conv, id, cb.key)
	if err != nil {
		return s.deskFailed(w, "look the callback up", id, err)
	}
	if seen {
		return answerDesk(w, http.StatusOK, webhook.CodeOK, "ok")
	}
	// Open: the current handoff, waiting for an agent or talking with one. Its session is still
	// empty while the engine has not seen the establish's answer (an agent faster than that).
	open := h.Active() && (h.Session == cb.handoff || h.Session == "")
	if open && cb.key != webhook.CloseKey(cb.handoff) {
		// A message after the desk's close, before the engine processed the close.
		closed, err := s.cfg.DB.DeskEventSeen(ctx, conv, id, webhook.CloseKey(cb.handoff))
		if err != nil {
			return s.deskFailed(w, "look the callback up", id, err)
		}
		open = !closed
	}
	if !open {
		return answerDesk(w, http.StatusConflict, webhook.CodeClosed, "conversation is closed")
	}
	first, err := s.cfg.DB.DeskEventAdd(ctx, store.DeskEventParams{ConversationID: conv, Desk: id, EventID: cb.key,
		Events: cb.events, Now: s.cfg.Clock.Now()})
	if err != nil {
		return s.deskFailed(w, "store the callback", id, err)
	}
	if first && s.cfg.Runner != nil {
		s.cfg.Runner.Kick(conv)
	}
	return answerDesk(w, http.StatusOK, webhook.CodeOK, "ok")
}

// webhookDesk returns the configured desk of kind webhook with the id, or nil.
func (s *Server) webhookDesk(id string) *config.Desk {
	for i := range s.cfg.Workspace.Desks {
		if d := &s.cfg.Workspace.Desks[i]; d.ID == id && d.Kind == webhook.Kind {
			return d
		}
	}
	return nil
}

// deskFailed answers a callback that could not be handled for an internal reason: the desk
// should retry it. The cause is logged here, once.
func (s *Server) deskFailed(w http.ResponseWriter, what, desk string, err error) error {
	s.log.Error("desk callback: cannot "+what, "desk", desk, "err", err)
	return answerDesk(w, http.StatusInternalServerError, webhook.CodeInternal, "internal error; retry later")
}
