package chatwoot

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
)

// Webhook headers Chatwoot sends (v4.11.2+ for account webhooks, v4.13.0+ for API inboxes).
const (
	HeaderSignature = "X-Chatwoot-Signature"
	HeaderTimestamp = "X-Chatwoot-Timestamp"
	HeaderDelivery  = "X-Chatwoot-Delivery"
)

// SignatureTolerance is how far a signed timestamp may be from now.
const SignatureTolerance = 300 * time.Second

// Sign returns the X-Chatwoot-Signature of a body sent at timestamp (Unix seconds):
// "sha256=" and the lowercase hex HMAC-SHA256, keyed with the secret, of "<timestamp>.<body>".
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// authentic checks a webhook: with webhook_secret, the signature of the timestamp and the raw
// body, the timestamp within SignatureTolerance; otherwise the token query parameter. Both are
// compared in constant time.
func (d *Desk) authentic(r *http.Request, body []byte) bool {
	if d.webhookSecret != "" {
		ts := strings.TrimSpace(r.Header.Get(HeaderTimestamp))
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return false
		}
		if skew := d.now().Sub(time.Unix(sec, 0)); skew > SignatureTolerance || skew < -SignatureTolerance {
			return false
		}
		got := strings.ToLower(strings.TrimSpace(r.Header.Get(HeaderSignature)))
		return hmac.Equal([]byte(got), []byte(Sign(d.webhookSecret, ts, body)))
	}
	return desk.Equal(r.URL.Query().Get("token"), d.webhookToken)
}

// fail answers a webhook Tandem refuses with {"error": "<text>"}, the shape and texts of the
// Chatwoot contract's table (not the API's {"error": {"code", "message"}}).
func fail(w http.ResponseWriter, status int, text string) error {
	return desk.WriteJSON(w, status, struct {
		Error string `json:"error"`
	}{text})
}

func okay(w http.ResponseWriter) error {
	return desk.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// hook is what Tandem reads of a webhook: the event, and the message (message events) or the
// conversation (conversation events) at the top level.
type hook struct {
	Event string `json:"event"`
	message
	// Conversation events.
	Status  string      `json:"status"`
	InboxID desk.Number `json:"inbox_id"`
	Meta    struct {
		Assignee *struct {
			Name          string `json:"name"`
			AvailableName string `json:"available_name"`
		} `json:"assignee"`
	} `json:"meta"`
}

// serveHook answers POST /hooks/chatwoot/{desk_id}: the inbox's callback (or an account
// webhook). Chatwoot waits 5 s and marks a message it could not deliver as failed, so
// everything Tandem does not need is answered 200; only an agent's reply that cannot reach the
// customer gets an error. What is stored is stored before the answer.
func serveHook(dk tandem.Desk, w http.ResponseWriter, r *http.Request) error {
	d, _ := dk.(*Desk)
	if d == nil {
		return fail(w, http.StatusNotFound, "unknown desk")
	}
	body, err := desk.ReadBody(r, desk.MaxHookBody)
	if errors.Is(err, desk.ErrTooLarge) {
		return fail(w, http.StatusRequestEntityTooLarge, "too large")
	} else if err != nil {
		return err // the client went away mid-body
	}
	if !d.authentic(r, body) {
		d.log.Warn("desk webhook: refused a Chatwoot webhook whose signature is missing, wrong or too old, or whose token is wrong; check webhook_secret or webhook_token", "desk", d.ID)
		return fail(w, http.StatusUnauthorized, "unauthorized")
	}
	var h hook
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&h); err != nil || strings.TrimSpace(h.Event) == "" {
		return fail(w, http.StatusBadRequest, "event: required")
	}
	if d.sink == nil {
		return fail(w, http.StatusServiceUnavailable, "the server is starting; send it again")
	}
	ctx := r.Context()
	now := d.now()
	switch h.Event {
	case "message_created":
		if !h.message.fromAgent() || (h.message.Inbox.ID != 0 && int(h.message.Inbox.ID) != d.Inbox) {
			return okay(w) // Tandem's own messages and notes, bots, templates, other inboxes
		}
		evs := h.message.events(now)
		if evs == nil || h.message.Conversation.ID == 0 {
			return okay(w)
		}
		out, err := d.sink.DeskDeliver(ctx, desk.Delivery{Desk: d.ID, Ref: strconv.Itoa(int(h.message.Conversation.ID)), Key: messageKey(int(h.message.ID)), Events: evs})
		if err != nil {
			d.log.Error("desk webhook: cannot store an agent's reply", "desk", d.ID, "err", err)
			return fail(w, http.StatusInternalServerError, "internal error; send it again")
		}
		switch out {
		case desk.Closed:
			return fail(w, http.StatusConflict, "handoff is closed")
		case desk.Unknown:
			return fail(w, http.StatusNotFound, "unknown conversation")
		}
		return okay(w)
	case "conversation_status_changed":
		if h.Status != "resolved" || h.message.ID == 0 || (h.InboxID != 0 && int(h.InboxID) != d.Inbox) {
			return okay(w)
		}
		ref := strconv.Itoa(int(h.message.ID))
		out, err := d.sink.DeskDeliver(ctx, desk.Delivery{Desk: d.ID, Ref: ref, Close: true, Events: desk.AgentClose("", now)})
		if err != nil {
			d.log.Error("desk webhook: cannot store a resolve", "desk", d.ID, "err", err)
			return fail(w, http.StatusInternalServerError, "internal error; send it again")
		}
		if out != desk.Unknown {
			if l, err := d.store.DeskLinkByRef(ctx, d.ID, ref); err == nil {
				d.closeLink(ctx, l)
			}
		}
		return okay(w)
	case "conversation_updated":
		a := h.Meta.Assignee
		if a == nil || h.message.ID == 0 || (h.InboxID != 0 && int(h.InboxID) != d.Inbox) {
			return okay(w)
		}
		name := a.AvailableName
		if name == "" {
			name = a.Name
		}
		if name == "" {
			return okay(w)
		}
		// A delivery is one change; Chatwoot sends the same X-Chatwoot-Delivery on a retry.
		key := "delivery:" + r.Header.Get(HeaderDelivery)
		if key == "delivery:" {
			sum := sha256.Sum256(body)
			key = "sum:" + hex.EncodeToString(sum[:16])
		}
		if _, err := d.sink.DeskDeliver(ctx, desk.Delivery{Desk: d.ID, Ref: strconv.Itoa(int(h.message.ID)), Key: key,
			Events: desk.AgentAssigned(name, now)}); err != nil {
			d.log.Error("desk webhook: cannot store an assignment", "desk", d.ID, "err", err)
			return fail(w, http.StatusInternalServerError, "internal error; send it again")
		}
		return okay(w)
	}
	return okay(w)
}
