package api

import (
	"context"
	"net/http"
	"sync"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk"
)

// hookRoutes returns the routes of every desk kind of this build (their services' webhooks,
// their OAuth redirects), mounted once each: {desk_id} names the configured desk of that kind.
// They need no API token: each kind checks its caller its own way (a signature, a shared
// secret, an OAuth state) before anything is stored. GET /api/v1/desks lists the configured
// desks with their health.
func (s *Server) hookRoutes() []route {
	out := []route{{"GET", "/api/v1/desks", s.deskList, manage}}
	for _, name := range desk.Kinds() {
		k, _ := desk.Lookup(name)
		for _, rt := range k.Routes {
			out = append(out, route{rt.Method, rt.Pattern, s.deskHook(name, rt), hook})
		}
	}
	return out
}

// deskHook serves one route of a desk kind for the desk its path names, or with a nil desk
// when no desk of that kind has the id (the kind answers 404 in its service's format).
func (s *Server) deskHook(kind string, rt desk.Route) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		return rt.Handle(s.desk(kind, r.PathValue("desk_id")), w, r)
	}
}

// desk returns the built desk of the kind with the id, nil when there is none.
func (s *Server) desk(kind, id string) tandem.Desk {
	if c, ok := s.cfg.Workspace.Desk(id); ok && c.Kind == kind && s.cfg.Desks != nil {
		return s.cfg.Desks(c.ID)
	}
	return nil
}

// deskJSON is a configured desk as GET /api/v1/desks shows it.
type deskJSON struct {
	ID     string      `json:"id"`
	Kind   string      `json:"kind"`
	Health desk.Health `json:"health"`
}

// deskList is GET /api/v1/desks: the built-in inbox and every configured desk with its health
// (checked now when its last check is old, in parallel, each within healthTimeout). A desk
// whose kind this build lacks is listed as unavailable.
func (s *Server) deskList(w http.ResponseWriter, r *http.Request) error {
	all := append([]config.Desk{{ID: config.InboxDesk, Kind: "inbox"}}, s.cfg.Workspace.Desks...)
	out := make([]deskJSON, 0, len(all))
	var wg sync.WaitGroup
	for _, c := range all {
		if c.Kind == config.InboxDesk && c.ID != config.InboxDesk {
			continue
		}
		out = append(out, deskJSON{ID: c.ID, Kind: c.Kind, Health: desk.Health{Status: desk.StatusAvailable}})
		i := len(out) - 1
		if c.Kind == "inbox" {
			continue
		}
		d := s.desk(c.Kind, c.ID)
		if d == nil {
			out[i].Health = desk.Health{Status: desk.StatusUnavailable, Detail: "Kind " + c.Kind + " is not available in this version of Tandem."}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
			defer cancel()
			out[i].Health = deskHealth(ctx, d)
		}()
	}
	wg.Wait()
	return writeJSON(w, http.StatusOK, map[string]any{"desks": out})
}

// deskHealth is a desk's Health: its report, or what Health and Status say.
func deskHealth(ctx context.Context, d tandem.Desk) desk.Health {
	if rp, ok := d.(desk.Reporter); ok {
		return rp.Report(ctx)
	}
	h := desk.Health{Status: desk.StatusAvailable}
	if err := d.Health(ctx); err != nil {
		h.Status, h.Detail = desk.StatusUnavailable, err.Error()
	}
	if st, ok := d.(desk.Statuser); ok && st.Status() == desk.StatusNotConfigured {
		h.Status = desk.StatusNotConfigured
	}
	return h
}
