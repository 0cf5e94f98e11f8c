package api

import (
	"net/http"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
)

// hookRoutes returns the routes of desk webhooks: /hooks/{hook}/{desk_id}{path} for every
// route of every registered desk kind. They need no API token: each desk kind authenticates its
// sender its own way (a signature, a shared secret) before anything is stored.
func (s *Server) hookRoutes() []route {
	var out []route
	for _, name := range desk.Kinds() {
		k, _ := desk.Lookup(name)
		if k.Hook == "" {
			continue
		}
		for _, rt := range k.Routes {
			out = append(out, route{rt.Method, "/hooks/" + k.Hook + "/{desk_id}" + rt.Path, s.deskHook(name, rt), hook})
		}
	}
	return out
}

// deskHook serves one webhook route of a desk kind for the desk its path names, or with a nil
// desk when no desk of that kind has the id (the kind answers 404 in its own format).
func (s *Server) deskHook(kind string, rt desk.Route) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		var d tandem.Desk
		if c, ok := s.cfg.Workspace.Desk(r.PathValue("desk_id")); ok && c.Kind == kind && s.cfg.Desks != nil {
			d = s.cfg.Desks(c.ID)
		}
		return rt.Handle(d, w, r)
	}
}
