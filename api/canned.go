package api

import (
	"net/http"
	"time"

	"github.com/tandemchat/tandem/desk/inbox"
	"github.com/tandemchat/tandem/store"
)

// cannedRoutes are the workspace's canned responses: every agent reads them (the reply box's
// "/"), admins and API tokens write them.
func (s *Server) cannedRoutes() []route {
	return []route{
		{"GET", "/api/v1/inbox/canned-responses", s.cannedList, inboxed},
		{"POST", "/api/v1/inbox/canned-responses", s.cannedCreate, manage},
		{"PUT", "/api/v1/inbox/canned-responses/{id}", s.cannedUpdate, manage},
		{"DELETE", "/api/v1/inbox/canned-responses/{id}", s.cannedDelete, manage},
	}
}

// cannedJSON is a canned response as the API shows it.
type cannedJSON struct {
	ID        string    `json:"id"`
	Shortcut  string    `json:"shortcut"`
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toCannedJSON(c *store.Canned) cannedJSON {
	return cannedJSON{ID: c.ID, Shortcut: c.Shortcut, Title: c.Title, Text: c.Text, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// cannedBody is what a client sends to create or change one.
type cannedBody struct {
	Shortcut string `json:"shortcut"`
	Title    string `json:"title"`
	Text     string `json:"text"`
}

func (s *Server) cannedList(w http.ResponseWriter, r *http.Request) error {
	ib, _, err := s.inbox(r)
	if err != nil {
		return err
	}
	list, err := ib.CannedList(r.Context())
	if err != nil {
		return err
	}
	out := make([]cannedJSON, len(list))
	for i := range list {
		out[i] = toCannedJSON(&list[i])
	}
	return writeJSON(w, http.StatusOK, map[string]any{"canned_responses": out})
}

func (s *Server) cannedCreate(w http.ResponseWriter, r *http.Request) error {
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	var body cannedBody
	if err := decode(r, &body); err != nil {
		return err
	}
	c, err := ib.CannedCreate(r.Context(), by, inbox.Canned{Shortcut: body.Shortcut, Title: body.Title, Text: body.Text})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toCannedJSON(c))
}

func (s *Server) cannedUpdate(w http.ResponseWriter, r *http.Request) error {
	ib, _, err := s.inbox(r)
	if err != nil {
		return err
	}
	var body cannedBody
	if err := decode(r, &body); err != nil {
		return err
	}
	c, err := ib.CannedUpdate(r.Context(), r.PathValue("id"), inbox.Canned{Shortcut: body.Shortcut, Title: body.Title, Text: body.Text})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toCannedJSON(c))
}

func (s *Server) cannedDelete(w http.ResponseWriter, r *http.Request) error {
	ib, _, err := s.inbox(r)
	if err != nil {
		return err
	}
	if err := ib.CannedDelete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
