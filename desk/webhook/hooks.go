package webhook

import (
	"errors"
	"net/http"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
)

// routes are the callbacks a webhook desk serves under /hooks/desk/{desk_id}: the contract's
// paths and GPTBots' aliases.
func routes() []desk.Route {
	msg := func(d tandem.Desk, w http.ResponseWriter, r *http.Request) error { return serve(d, w, r, parseMessage) }
	cls := func(d tandem.Desk, w http.ResponseWriter, r *http.Request) error { return serve(d, w, r, parseClose) }
	const base = "/hooks/desk/{desk_id}"
	return []desk.Route{
		{Method: http.MethodPost, Pattern: base + CallbackMessage, Handle: msg},
		{Method: http.MethodPost, Pattern: base + CallbackMessageAlias, Handle: msg},
		{Method: http.MethodPost, Pattern: base + CallbackClose, Handle: cls},
		{Method: http.MethodPost, Pattern: base + CallbackCloseAlias, Handle: cls},
	}
}

// answer is the JSON of every answer to a callback: {"code", "message"}, GPTBots' shape.
type answer struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func reply(w http.ResponseWriter, status, code int, message string) error {
	return desk.WriteJSON(w, status, answer{Code: code, Message: message})
}

// parseMessage reads B1: an agent's reply for the customer (§6.2).
func parseMessage(id string, body []byte, now time.Time) (desk.Delivery, error) {
	m, err := ParseMessage(body)
	if err != nil {
		return desk.Delivery{}, err
	}
	return desk.Delivery{Desk: id, Session: m.ConversationID, Key: m.Key(), Events: m.Events(now)}, nil
}

// parseClose reads B2: the desk ended the handoff (§6.3).
func parseClose(id string, body []byte, now time.Time) (desk.Delivery, error) {
	c, err := ParseClose(body)
	if err != nil {
		return desk.Delivery{}, err
	}
	return desk.Delivery{Desk: id, Session: c.ConversationID, Close: true, Events: []tandem.Event{{Kind: tandem.EventAgent, At: now,
		Agent: &tandem.AgentAction{Action: tandem.AgentClose, Desk: id}}}}, nil
}

// serve runs the checks of §6.4 in the contract's order — desk, size, credentials, body, then
// (in the sink) handoff, repeat, open — and answers only once the callback is durable.
func serve(dk tandem.Desk, w http.ResponseWriter, r *http.Request, parse func(id string, body []byte, now time.Time) (desk.Delivery, error)) error {
	d, _ := dk.(*Desk)
	if d == nil {
		return reply(w, http.StatusNotFound, CodeUnknownDesk, "unknown desk")
	}
	body, err := desk.ReadBody(r, MaxCallbackBody)
	if errors.Is(err, desk.ErrTooLarge) {
		return reply(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "body too large")
	} else if err != nil {
		return err // the client went away mid-body
	}
	if err := Authenticate(d.secret, r.Header, body, d.Now()); err != nil {
		return reply(w, http.StatusUnauthorized, CodeUnauthorized, err.Error())
	}
	dl, err := parse(d.ID, body, d.Now())
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return reply(w, http.StatusBadRequest, CodeInvalid, fe.Error())
		}
		return err
	}
	if d.sink == nil {
		return reply(w, http.StatusServiceUnavailable, CodeInternal, "the server is starting; retry later")
	}
	out, err := d.sink.DeskDeliver(r.Context(), dl)
	if err != nil {
		d.log.Error("desk callback: cannot store it", "desk", d.ID, "err", err)
		return reply(w, http.StatusInternalServerError, CodeInternal, "internal error; retry later")
	}
	switch out {
	case desk.Unknown:
		return reply(w, http.StatusNotFound, CodeNoConversation, "unknown conversation_id")
	case desk.Closed:
		return reply(w, http.StatusConflict, CodeClosed, "conversation is closed")
	}
	return reply(w, http.StatusOK, CodeOK, "ok")
}
