package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/park"
	"github.com/tandemchat/tandem/store"
)

// messageJSON is a message as the API shows it.
type messageJSON struct {
	ID             string           `json:"id"`
	ConversationID string           `json:"conversation_id"`
	Direction      string           `json:"direction"`
	Author         string           `json:"author"`
	Type           string           `json:"type"`
	Text           string           `json:"text"`
	Buttons        []tandem.Button  `json:"buttons,omitempty"`
	Render         string           `json:"render,omitempty"`
	Media          *mediaJSON       `json:"media,omitempty"`
	Location       *tandem.Location `json:"location,omitempty"`
	Option         string           `json:"option,omitempty"`
	// Contacts, Reaction, RefersTo and Data come from messaging platforms (contact cards,
	// reactions and edits, WhatsApp Flows forms); Status is an outbound message's delivery,
	// Error why it failed.
	Contacts  []tandem.SharedContact `json:"contacts,omitempty"`
	Reaction  string                 `json:"reaction,omitempty"`
	RefersTo  string                 `json:"refers_to,omitempty"`
	Data      map[string]any         `json:"data,omitempty"`
	Status    string                 `json:"status,omitempty"`
	Error     *tandem.MessageError   `json:"error,omitempty"`
	Agent     string                 `json:"agent,omitempty"`
	CreatedAt time.Time              `json:"created_at"`
}

type mediaJSON struct {
	URL  string `json:"url"`
	Mime string `json:"mime,omitempty"`
	Name string `json:"name,omitempty"`
	Size int64  `json:"size,omitempty"`
	// Error says why a file the customer sent is not kept (then URL is empty).
	Error string `json:"error,omitempty"`
}

func toMessageJSON(m *tandem.Message) messageJSON {
	out := messageJSON{ID: m.ID, ConversationID: m.ConversationID, Direction: m.Direction, Author: m.Author, Type: m.Type,
		Text: m.Text, Buttons: m.Buttons, Render: m.Render, Location: m.Location, Option: m.Option, Agent: m.AgentID, CreatedAt: m.CreatedAt,
		Contacts: m.Contacts, Reaction: m.Reaction, RefersTo: m.RefersTo, Data: m.Data, Status: m.Status, Error: m.Error}
	if m.Media != nil {
		out.Media = &mediaJSON{URL: m.Media.URL, Mime: m.Media.Mime, Name: m.Media.Name, Size: m.Media.Size, Error: m.Media.Error}
	}
	return out
}

// maxWait bounds a long-poll.
const maxWait = 60 * time.Second

// conversationMessages is GET /api/v1/conversations/{id}/messages?after=&wait=&limit=.
func (s *Server) conversationMessages(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	q := r.URL.Query()
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := tandem.ParseDuration(v)
		if err != nil {
			if n, nerr := strconv.ParseFloat(v, 64); nerr == nil && n >= 0 {
				d, err = time.Duration(n*float64(time.Second)), nil
			}
		}
		if err != nil {
			return invalid("wait", "%q is not a duration such as 20s.", v)
		}
		wait = min(d, maxWait)
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return invalid("limit", "a number from 1 to 1000.")
		}
		limit = n
	}
	info, err := s.cfg.DB.ConversationGet(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.seeConversation(r, info); err != nil {
		return err
	}
	// A long-poll takes a waiting slot, given back when it is answered: by this handler, or,
	// once parked, by the lot.
	release, parkedOK := func() {}, false
	if wait > 0 {
		if release, err = s.enterWait(w, r); err != nil {
			return err
		}
		defer func() {
			if !parkedOK {
				release()
			}
		}()
	}
	p := store.MessagesParams{ConversationID: id, After: q.Get("after"), Limit: limit}
	deadline := time.Now().Add(wait)
	// answer writes the messages after the cursor; with none, only once the wait is up
	// (false: nothing written).
	answer := func(ctx context.Context, w http.ResponseWriter, last bool) (bool, error) {
		msgs, err := s.cfg.DB.Messages(ctx, p)
		if err != nil {
			return false, err
		}
		if len(msgs) == 0 && !last {
			return false, nil
		}
		out := make([]messageJSON, len(msgs))
		cursor := p.After
		for i := range msgs {
			out[i] = toMessageJSON(&msgs[i])
			cursor = msgs[i].ID
		}
		return true, writeJSON(w, http.StatusOK, map[string]any{"messages": out, "next_cursor": cursor})
	}
	for {
		var t *park.Ticket
		if s.cfg.Hub != nil && wait > 0 {
			// Watched before the read: a message committed in between wakes it.
			t = s.cfg.Hub.lot.Watch(id)
		}
		left := time.Until(deadline)
		done, err := answer(r.Context(), w, left <= 0)
		if done || err != nil {
			if t != nil {
				t.Cancel()
			}
			return err
		}
		if t == nil {
			// No hub: look again on a short tick.
			if err := sleepCtx(r.Context(), min(left, 500*time.Millisecond)); err != nil {
				return err
			}
			continue
		}
		// Nothing yet: the request waits in the hub without a goroutine of its own.
		parked, err := t.Park(w, park.Request{Deadline: deadline, Answer: func(ctx context.Context, last bool) (*park.Answer, bool) {
			rec := park.NewRecorder()
			done, err := answer(ctx, rec, last)
			if err != nil {
				writeError(rec, err)
				return rec.Answer(), true
			}
			return rec.Answer(), done
		}, Done: s.parkedDone(r, release)})
		if err != nil {
			t.Cancel()
			return err
		}
		if parked {
			parkedOK = true
			s.parked.Add(1) // Done takes it off, maybe already
			markParked(r)
			return nil
		}
		// The connection cannot be taken over (HTTP/2): wait here.
		tick := time.NewTimer(left)
		select {
		case <-t.Woken():
		case <-tick.C:
			t.Cancel()
		case <-r.Context().Done():
			tick.Stop()
			t.Cancel()
			return r.Context().Err()
		}
		tick.Stop()
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parkedDone returns what a parked long-poll does once it ends: its connection, taken over from
// net/http (which counts it no more), was counted as open until then (s.parked, raised once it
// is parked); its waiting slot is given back; the request is recorded.
func (s *Server) parkedDone(r *http.Request, release func()) func(status int) {
	record := s.parkedRecord(r)
	return func(status int) {
		s.parked.Add(-1)
		release()
		if record != nil {
			record(status)
		}
	}
}

// parkedRecord returns what records a parked request once it ends (the client gone: 499).
func (s *Server) parkedRecord(r *http.Request) func(status int) {
	info, _ := r.Context().Value(keyRequest).(*reqInfo)
	if info == nil {
		return nil
	}
	return func(status int) {
		if status == 0 {
			status = statusClientClosed
		}
		s.record(info, status)
	}
}

// markParked tells wrap that the request's end is recorded by whoever answers it.
func markParked(r *http.Request) {
	if info, _ := r.Context().Value(keyRequest).(*reqInfo); info != nil {
		info.parked = true
	}
}
