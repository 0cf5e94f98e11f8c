package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/fields"
	"github.com/tandemchat/tandem/store"
)

// tokenRoutes returns the routes of credentials: API tokens made, listed and revoked by API
// tokens and admins (the admin screens), and an agent's logout.
func (s *Server) tokenRoutes() []route {
	return []route{
		{"GET", "/api/v1/tokens", s.tokenList, manage},
		{"POST", "/api/v1/tokens", s.tokenCreate, manage},
		{"DELETE", "/api/v1/tokens/{id}", s.tokenRevoke, manage},
		{"POST", "/api/v1/inbox/logout", s.inboxLogout, inboxed},
	}
}

// tokenJSON is a credential as the API lists it; the token itself is never shown again.
type tokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Kind       string     `json:"kind"`
	Agent      string     `json:"agent,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toTokenJSON(t *store.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, Kind: t.Kind, Agent: t.Agent, CreatedAt: t.CreatedAt,
		LastUsedAt: timePtr(t.LastUsedAt), ExpiresAt: timePtr(t.ExpiresAt), RevokedAt: timePtr(t.RevokedAt)}
}

// tokenList is GET /api/v1/tokens?kind=api|session&agent=&all=true: the credentials that work
// (every one, revoked and expired included, with all=true), newest first.
func (s *Server) tokenList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := store.TokenListParams{Kind: q.Get("kind"), Agent: q.Get("agent"), Live: true, Now: s.cfg.Clock.Now()}
	switch p.Kind {
	case "", store.TokenAPI, store.TokenSession:
	default:
		return invalid("kind", "%q is not a kind of token (api, session).", p.Kind)
	}
	switch q.Get("all") {
	case "", "false":
	case "true":
		p.Live = false
	default:
		return invalid("all", "true or false.")
	}
	list, err := s.cfg.DB.TokenList(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, len(list))
	for i := range list {
		out[i] = toTokenJSON(&list[i])
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

// tokenCreate is POST /api/v1/tokens {"name", "expires_in"}: a new API token, shown once.
func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name      string `json:"name"`
		ExpiresIn string `json:"expires_in"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	name := strings.TrimSpace(body.Name)
	if name == "" {
		return invalid("name", "required: what the token is for, such as backend or ci.")
	}
	if err := fields.Text("name", name, fields.MaxName); err != nil {
		return err
	}
	now := s.cfg.Clock.Now()
	var expires time.Time
	if body.ExpiresIn != "" {
		d, err := tandem.ParseDuration(body.ExpiresIn)
		if err != nil || d <= 0 {
			return invalid("expires_in", "%q is not a duration such as 90d or 12h.", body.ExpiresIn)
		}
		expires = now.Add(d)
	}
	// A token an admin makes with their login acts as that admin, so it ends with their powers
	// (a demotion, a deactivation); an API token makes API tokens of their own.
	agent := ""
	if c := callerOf(r); c != nil && c.token.Agent != "" {
		agent = c.token.Agent
	}
	token, t, err := s.cfg.DB.TokenMint(r.Context(), store.TokenParams{Name: name, Agent: agent, ExpiresAt: expires, Now: now, NewID: s.cfg.NewID})
	if err != nil {
		return err
	}
	s.log.Info("API token created", "token_id", t.ID, "name", t.Name, "by", callerName(r))
	w.Header().Set("Location", "/api/v1/tokens/"+t.ID)
	return writeJSON(w, http.StatusCreated, struct {
		tokenJSON
		Token string `json:"token"`
	}{toTokenJSON(t), token})
}

// tokenRevoke is DELETE /api/v1/tokens/{id}: the credential stops working at once on this
// server, within tokenTTL on the others.
func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.cfg.DB.TokenRevoke(r.Context(), id, s.cfg.Clock.Now()); err != nil {
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			return tandem.Errorf(tandem.ENOTFOUND, "Token %q does not exist or is already revoked; list them with GET /api/v1/tokens.", id)
		}
		return err
	}
	s.tokens.forget(func(t *store.Token) bool { return t.ID == id })
	s.log.Info("token revoked", "token_id", id, "by", callerName(r))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// inboxLogout is POST /api/v1/inbox/logout: the agent's login that sends it ends.
func (s *Server) inboxLogout(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	if c.token.Kind != store.TokenSession {
		return invalid("token", "this is an API token, not a login; revoke it with DELETE /api/v1/tokens/%s.", c.token.ID)
	}
	if err := s.cfg.DB.TokenRevoke(r.Context(), c.token.ID, s.cfg.Clock.Now()); err != nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
		return err
	}
	s.tokens.forget(func(t *store.Token) bool { return t.ID == c.token.ID })
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// callerName names the caller of a request in logs: the agent, or the API token's name.
func callerName(r *http.Request) string {
	c := callerOf(r)
	switch {
	case c == nil:
		return ""
	case c.token.Agent != "":
		return c.token.Agent
	}
	return "token:" + c.token.Name
}
