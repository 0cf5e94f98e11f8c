package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/jsonhttp"
)

// userBody is the site's user as the snippet or Tandem.setUser gives it (web-widget B2).
type userBody struct {
	ExternalID string `json:"externalId"`
	Hash       string `json:"hash"`
	Email      string `json:"email"`
	Name       string `json:"name"`
	Phone      string `json:"phone"`
	AvatarURL  string `json:"avatarUrl"`
}

// sessionBody is POST /widget/v1/{channel_id}/sessions.
type sessionBody struct {
	Token     string         `json:"token"`
	User      *userBody      `json:"user"`
	Variables map[string]any `json:"variables"`
	Locale    string         `json:"locale"`
	PageURL   string         `json:"page_url"`
	Referrer  string         `json:"referrer"`
	// Origin is the host page's origin, as the loader reported it to the frame.
	Origin string `json:"origin"`
}

// sessionJSON is the session's answer.
type sessionJSON struct {
	Token            string  `json:"token"`
	ContactID        string  `json:"contact_id"`
	ConversationID   *string `json:"conversation_id"`
	Verified         bool    `json:"verified"`
	Cursor           string  `json:"cursor"`
	IdentityRequired bool    `json:"identity_required"`
}

// newToken returns a session token: 192 random bits, base64url.
func newToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newSessionID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "ws_" + hex.EncodeToString(b)
}

// IdentityHash returns the hash a site computes on its server for one of its users: the
// lowercase hex HMAC-SHA256 of the external id with the channel's identity_secret (Chatwoot's
// identifier_hash).
func IdentityHash(secret, externalID string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(externalID))
	return hex.EncodeToString(m.Sum(nil))
}

// verified reports whether hash proves externalID with the channel's secret or, during a
// rotation, its previous one.
func (c *Channel) verified(externalID, hash string) bool {
	if externalID == "" || hash == "" {
		return false
	}
	hash = strings.ToLower(strings.TrimSpace(hash))
	for _, secret := range []string{c.cfg.IdentitySecret, c.cfg.IdentitySecretPrevious} {
		if secret != "" && hmac.Equal([]byte(IdentityHash(secret, externalID)), []byte(hash)) {
			return true
		}
	}
	return false
}

// originAllowed reports whether a page of origin may embed the widget: Tandem's own pages
// (the standalone chat), an origin of allowed_origins, or any when the list is empty.
func (c *Channel) originAllowed(origin string, r *http.Request) bool {
	if origin == "" {
		return false
	}
	if self := r.Header.Get("Origin"); self != "" && origin == self {
		return true
	}
	if len(c.cfg.AllowedOrigins) == 0 {
		return true
	}
	for _, o := range c.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// sessionPost is POST /widget/v1/{channel_id}/sessions: resume the session of a valid token
// (or open a new anonymous one), and apply the user, variables and locale given.
func (c *Channel) sessionPost(w http.ResponseWriter, r *http.Request) error {
	be, err := c.be()
	if err != nil {
		return err
	}
	var body sessionBody
	if err := jsonhttp.Decode(r, &body); err != nil {
		return err
	}
	if !c.originAllowed(body.Origin, r) {
		return tandem.Errorf(tandem.EORIGIN, "The page's origin %q may not embed channel %q; add it to the channel's allowed_origins.", body.Origin, c.id)
	}
	if err := checkValues("variables", body.Variables); err != nil {
		return err
	}
	ctx := r.Context()
	now := c.deps.Now()
	var s *tandem.WidgetSession
	token := body.Token
	if token != "" {
		s, err = be.SessionByToken(ctx, c.id, hashToken(token), now)
		if err != nil && tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
			return err
		}
	}
	// An invalid identity on a channel that requires one changes nothing: checked first.
	u := body.User
	if u != nil {
		u.ExternalID = strings.TrimSpace(u.ExternalID)
		if err := checkUser(u); err != nil {
			return err
		}
		if c.cfg.IdentityRequired && !c.verified(u.ExternalID, u.Hash) {
			return tandem.Errorf(tandem.EIDENTITYINVALID, "The user's identity hash is missing or wrong; this channel accepts only verified users.")
		}
	}
	if s == nil {
		if wait, ok := c.fresh.Allow(c.deps.ClientAddr(r), now); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			return tandem.Errorf(tandem.ERATELIMITED, "Too many new chat sessions from this address; retry after %ds.", secs)
		}
		token = newToken()
		s = &tandem.WidgetSession{ID: newSessionID(), ChannelID: c.id, CreatedAt: now,
			PageURL: clip(body.PageURL, 2048), Referrer: clip(body.Referrer, 2048), UserAgent: clip(r.UserAgent(), 512)}
		s.Locale, s.Variables = clip(body.Locale, 16), mergeVars(nil, body.Variables)
		s.LastSeenAt, s.ExpiresAt = now, now.Add(c.sessionTTL())
		if err := be.SessionCreate(ctx, s, hashToken(token)); err != nil {
			return err
		}
	} else {
		if body.Locale != "" {
			s.Locale = clip(body.Locale, 16)
		}
		s.Variables = mergeVars(s.Variables, body.Variables)
		s.LastSeenAt, s.ExpiresAt = now, now.Add(c.sessionTTL())
		if err := be.SessionUpdate(ctx, s); err != nil {
			return err
		}
	}
	if u != nil {
		contact := s.ContactID
		if err := c.applyUser(ctx, be, s, u, now); err != nil {
			return err
		}
		if s.ContactID != contact {
			// The visitor logged in: their open streams follow the user's conversations now.
			c.streams.rebind(s.ID, s.ContactID)
		}
	}
	if body.Locale != "" {
		if err := be.ContactLocale(ctx, s.ContactID, s.Locale, now); err != nil {
			return err
		}
	}
	out := sessionJSON{Token: token, ContactID: s.ContactID, Verified: s.Verified, IdentityRequired: c.cfg.IdentityRequired}
	convs, err := be.Conversations(ctx, s.ContactID, c.id)
	if err != nil {
		return err
	}
	if n := len(convs); n > 0 {
		last := convs[n-1]
		out.Cursor = cursor(last.ID, last.MsgSeq)
		if last.Status != tandem.ConversationClosed {
			out.ConversationID = &last.ID
			// The page's variables hold for the runs the open conversation starts from now on.
			if len(body.Variables) > 0 {
				if err := be.ConversationVariables(ctx, last.ID, body.Variables, now); err != nil {
					return err
				}
			}
		}
	}
	return jsonhttp.Write(w, http.StatusOK, out)
}

// mergeVars returns the variables of dst with those of src (a nil value deletes one); nil
// when there are none.
func mergeVars(dst, src map[string]any) map[string]any {
	if len(src) == 0 {
		return dst
	}
	out := make(map[string]any, len(dst)+len(src))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// sessionDelete is DELETE /widget/v1/{channel_id}/sessions: Tandem.reset(), the visitor
// logged out. The session's token stops working at once and its open streams end; its
// conversations stay (the contact's).
func (c *Channel) sessionDelete(w http.ResponseWriter, r *http.Request) error {
	be, s, err := c.session(r)
	if err != nil {
		return err
	}
	if err := be.SessionDelete(r.Context(), s.ID); err != nil {
		return err
	}
	c.streams.endSession(s.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// applyUser identifies the visitor: a valid hash binds the session to the site's user; any
// other claim is kept apart, as unverified attributes of the session's contact (claimed_email,
// claimed_name, ...), never used to find or merge contacts.
func (c *Channel) applyUser(ctx context.Context, be Backend, s *tandem.WidgetSession, u *userBody, now time.Time) error {
	if c.verified(u.ExternalID, u.Hash) {
		ct := tandem.Contact{ExternalID: u.ExternalID, Name: u.Name, Email: u.Email, Phone: u.Phone, Language: s.Locale}
		if u.AvatarURL != "" {
			ct.Attributes = map[string]any{"avatar_url": u.AvatarURL}
		}
		id, err := be.Identify(ctx, s.ID, c.id, ct, now)
		if err != nil {
			return err
		}
		s.ContactID, s.Verified = id, true
		return nil
	}
	claims := map[string]any{}
	for k, v := range map[string]string{"claimed_external_id": u.ExternalID, "claimed_email": u.Email, "claimed_name": u.Name,
		"claimed_phone": u.Phone, "claimed_avatar_url": u.AvatarURL} {
		if v != "" {
			claims[k] = v
		}
	}
	if len(claims) == 0 {
		return nil
	}
	claims["claims_source"] = "widget"
	return be.ContactAttributes(ctx, s.ContactID, claims, now)
}

var emailRe = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

func checkUser(u *userBody) error {
	for _, f := range []struct{ name, v string }{{"user.externalId", u.ExternalID}, {"user.hash", u.Hash}, {"user.email", u.Email},
		{"user.name", u.Name}, {"user.phone", u.Phone}, {"user.avatarUrl", u.AvatarURL}} {
		if len(f.v) > maxValue || !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			return jsonhttp.Invalid(f.name, "valid UTF-8 without NUL, at most %d characters.", maxValue)
		}
	}
	if u.Email != "" && !emailRe.MatchString(strings.TrimSpace(u.Email)) {
		return jsonhttp.Invalid("user.email", "%q is not an e-mail address.", u.Email)
	}
	if u.ExternalID == "" && u.Hash != "" {
		return jsonhttp.Invalid("user.externalId", "required with user.hash.")
	}
	if u.AvatarURL != "" && !strings.HasPrefix(u.AvatarURL, "https://") && !strings.HasPrefix(u.AvatarURL, "http://") {
		return jsonhttp.Invalid("user.avatarUrl", "an http(s) URL.")
	}
	return nil
}

// Limits of the attributes and variables a page sets (web-widget B2).
const (
	maxKeys  = 50
	maxValue = 1024
	// maxValuesBody is a body that holds maxKeys values of maxValue characters, each escaped
	// as JSON may (6 bytes a character), and the rest of the request: requests within the
	// limits are never refused for their size.
	maxValuesBody = maxKeys*(64+6*maxValue+8) + 64<<10
)

var keyRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// checkValues checks a page's attributes or variables: keys ^[a-z][a-z0-9_]{0,63}$, values
// strings, numbers or booleans (null deletes, where that means something), at most 50 keys and
// 1024 characters a value.
func checkValues(field string, m map[string]any) error {
	if len(m) > maxKeys {
		return tandem.Errorf(tandem.ETOOLARGE, "%s: at most %d keys, got %d.", field, maxKeys, len(m))
	}
	for k, v := range m {
		if !keyRe.MatchString(k) {
			return jsonhttp.Invalid(field+"."+k, "keys are lowercase letters, digits and _, starting with a letter, at most 64 characters.")
		}
		switch x := v.(type) {
		case nil, bool, float64:
		case string:
			if utf8.RuneCountInString(x) > maxValue {
				return tandem.Errorf(tandem.ETOOLARGE, "%s.%s: at most %d characters.", field, k, maxValue)
			}
		default:
			return jsonhttp.Invalid(field+"."+k, "a string, number or boolean.")
		}
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// touchEvery is how often a session's expiry is moved forward by its use.
const touchEvery = time.Hour

// session authenticates a request by its bearer token; the expiry slides at most once an hour.
func (c *Channel) session(r *http.Request) (Backend, *tandem.WidgetSession, error) {
	be, err := c.be()
	if err != nil {
		return nil, nil, err
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, nil, tandem.Errorf(tandem.EUNAUTHORIZED, "Send the widget session's token as `Authorization: Bearer <token>`; open a session with POST /widget/v1/%s/sessions.", c.id)
	}
	now := c.deps.Now()
	s, err := be.SessionByToken(r.Context(), c.id, hashToken(token), now)
	if err != nil {
		return nil, nil, err
	}
	if now.Sub(s.LastSeenAt) > touchEvery {
		s.LastSeenAt, s.ExpiresAt = now, now.Add(c.sessionTTL())
		if err := be.SessionUpdate(r.Context(), s); err != nil {
			c.log.Warn("widget session: expiry not moved", "err", err)
		}
	}
	return be, s, nil
}
