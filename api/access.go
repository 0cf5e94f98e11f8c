package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/store"
)

// access says who may call a route: a set of kinds of caller. Every route of the table has one
// (New refuses a route without), enforced in one place (serve), and documented in the OpenAPI
// document as the operation's x-roles.
type access uint8

// Kinds of caller.
const (
	// anyone needs no credential: health, metrics, the OpenAPI document, the login.
	anyone access = 1 << iota
	// signed is a provider's webhook: no bearer token; the handler checks the provider's
	// signature or secret and answers 401 when it is wrong.
	signed
	// apiToken is an API token without an agent: a business's backend, the CLI.
	apiToken
	// adminAgent is an agent with role admin, with their login or a token bound to them.
	adminAgent
	// agentRole is an agent with role agent.
	agentRole
	// widgetSession is a visitor of the web widget (issued by the web channel).
	widgetSession
)

// The sets the route table uses (spec: "Who may call what").
const (
	public = anyone
	hook   = signed
	// manage is everything but the inbox: flows, tokens, agents, teams, configuration, secrets,
	// and the API channel.
	manage = apiToken | adminAgent
	// inboxed is the inbox and what it leads to: conversations, their messages and runs, and
	// contacts, which an agent reaches only when they see the conversation (inbox.Sees).
	inboxed = apiToken | adminAgent | agentRole
)

// roleNames are the names of the kinds of caller, as x-roles lists them.
var roleNames = []struct {
	a    access
	name string
}{{anyone, "public"}, {signed, "webhook"}, {apiToken, "token"}, {adminAgent, "admin"}, {agentRole, "agent"}, {widgetSession, "widget"}}

// roles returns the names of the kinds of caller in a.
func (a access) roles() []string {
	var out []string
	for _, r := range roleNames {
		if a&r.a != 0 {
			out = append(out, r.name)
		}
	}
	return out
}

// needsCredential reports whether the route needs a bearer credential checked here. A widget
// session's token is checked by the web channel that issued it, not by the API server.
func (a access) needsCredential() bool { return a&(anyone|signed) == 0 && a != widgetSession }

// describe names a kind of caller in a sentence.
func (a access) describe() string {
	switch a {
	case apiToken:
		return "an API token"
	case adminAgent:
		return "an admin's login"
	case agentRole:
		return "an agent's login"
	case widgetSession:
		return "a widget session"
	}
	return "this credential"
}

// caller is who sent an authenticated request.
type caller struct {
	token *store.Token
	kind  access // apiToken, adminAgent, agentRole or widgetSession
	// cachedAt is when the token was read from the database.
	cachedAt time.Time
}

// callerOf returns the caller of an authenticated request, or nil.
func callerOf(r *http.Request) *caller {
	c, _ := r.Context().Value(keyCaller).(*caller)
	return c
}

// kindOf tells the kind of caller of a token.
func kindOf(t *store.Token) (access, error) {
	if t.Agent == "" {
		return apiToken, nil
	}
	switch t.Role {
	case config.RoleAdmin:
		return adminAgent, nil
	case config.RoleAgent:
		return agentRole, nil
	case "":
		return 0, tandem.Errorf(tandem.EUNAUTHORIZED, "The agent of this token no longer exists; log in again.")
	}
	return 0, tandem.Errorf(tandem.EUNAUTHORIZED, "The agent of this token has role %q, which is not agent or admin; ask an admin to fix it.", t.Role)
}

// forbidden is the answer to a caller whose kind the route does not allow.
func forbidden(rt route, c *caller) error {
	var who []string
	for _, r := range roleNames {
		if rt.access&r.a != 0 {
			who = append(who, r.a.describePlural())
		}
	}
	return tandem.Errorf(tandem.EFORBIDDEN, "%s may not call %s %s; it is for %s.", capitalize(c.kind.describe()), rt.method, rt.pattern, joinAnd(who))
}

func (a access) describePlural() string {
	switch a {
	case apiToken:
		return "API tokens"
	case adminAgent:
		return "admins"
	case agentRole:
		return "agents"
	case widgetSession:
		return "widget sessions"
	}
	return "anyone"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return "nobody"
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// authenticate resolves the bearer credential of a request to its caller: the token must exist,
// not be revoked nor expired, and its agent must exist. A session's expiry slides forward as it
// is used (written at most once a minute).
func (s *Server) authenticate(r *http.Request) (*caller, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "Send an API token as `Authorization: Bearer <token>`; create one with `tandem token create`.")
	}
	token = strings.TrimSpace(token)
	now := s.cfg.Clock.Now()
	if c, ok := s.tokens.get(token, now); ok {
		return c, nil
	}
	t, err := s.cfg.DB.TokenLookup(r.Context(), token)
	if err != nil {
		return nil, err
	}
	if !t.Live(now) {
		return nil, expired(t)
	}
	kind, err := kindOf(t)
	if err != nil {
		return nil, err
	}
	if err := s.used(r.Context(), t, now); err != nil {
		return nil, err
	}
	c := &caller{token: t, kind: kind, cachedAt: now}
	s.tokens.put(token, c)
	return c, nil
}

func expired(t *store.Token) error {
	if t.Kind == store.TokenSession {
		return tandem.Errorf(tandem.EUNAUTHORIZED, "The login has expired; log in again.")
	}
	return tandem.Errorf(tandem.EUNAUTHORIZED, "The token %q expired at %s; create a new one with `tandem token create`.", t.Name, t.ExpiresAt.Format(time.RFC3339))
}

// used records a token's use: last_used_at at most every useEvery, and a session's new expiry
// (now + auth.session_idle, never past its maximum).
func (s *Server) used(ctx context.Context, t *store.Token, now time.Time) error {
	var expires time.Time
	every := useEvery
	if t.Kind == store.TokenSession {
		idle := s.cfg.Workspace.Auth.SessionIdle.D()
		expires = now.Add(idle)
		if !t.MaxExpiresAt.IsZero() && expires.After(t.MaxExpiresAt) {
			expires = t.MaxExpiresAt
		}
		every = min(every, idle/4)
	}
	// A login made before sessions had an expiry gets one at its first use.
	legacy := t.Kind == store.TokenSession && t.ExpiresAt.IsZero()
	if !legacy && now.Sub(t.LastUsedAt) < every {
		return nil
	}
	if err := s.cfg.DB.TokenUsed(ctx, t.ID, now, expires); err != nil {
		return err
	}
	t.LastUsedAt = now
	if !expires.IsZero() {
		t.ExpiresAt = expires
	}
	return nil
}

// useEvery is how often a token's use is written.
const useEvery = time.Minute

// tokenCache remembers live credentials for a short while, so a busy client does not cost a
// database read per request. A token revoked through this server stops at once; one revoked
// elsewhere (another replica, the CLI) within tokenTTL.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]*caller
}

// tokenTTL is how long a credential is trusted without reading it again.
const tokenTTL = 30 * time.Second

func newTokenCache() *tokenCache { return &tokenCache{m: map[string]*caller{}} }

func (c *tokenCache) get(token string, now time.Time) (*caller, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[token]
	if !ok || now.Sub(e.cachedAt) >= tokenTTL || now.Before(e.cachedAt) || !e.token.Live(now) {
		return nil, false
	}
	return e, true
}

func (c *tokenCache) put(token string, e *caller) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[token] = e
}

// forget drops the cached credentials of a token id (revoked), or of an agent (all of theirs).
func (c *tokenCache) forget(match func(*store.Token) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if match(e.token) {
			delete(c.m, k)
		}
	}
}

// seeConversation checks that the caller may see a conversation: an agent of role agent sees
// only what their inbox shows (inbox.Sees); API tokens and admins see everything.
func (s *Server) seeConversation(r *http.Request, info *store.ConversationInfo) error {
	if c := callerOf(r); c == nil || c.kind != agentRole {
		return nil
	}
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	return ib.Check(r.Context(), by, info)
}

// maxContactConversations bounds the conversations read to tell whether an agent sees a contact.
const maxContactConversations = 200

// seeContact checks that the caller may see a contact: an agent of role agent sees the contacts
// of the conversations they see.
func (s *Server) seeContact(r *http.Request, contactID string) error {
	if c := callerOf(r); c == nil || c.kind != agentRole {
		return nil
	}
	ib, by, err := s.inbox(r)
	if err != nil {
		return err
	}
	list, _, err := s.cfg.DB.ConversationList(r.Context(), store.ConversationListParams{ContactID: contactID, Limit: maxContactConversations})
	if err != nil {
		return err
	}
	for i := range list {
		ok, err := ib.Sees(r.Context(), by, &list[i])
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return tandem.Errorf(tandem.EFORBIDDEN, "Contact %q has no conversation in your inbox; ask an admin.", contactID)
}
