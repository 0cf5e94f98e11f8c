// Package webhook is the desk of kind `webhook`: a business's own help desk, reached through
// three calls with GPTBots' field names — POST {url}/conversation/establish, {url}/chat and
// {url}/conversation/close — and answering through two callbacks under
// /hooks/desk/{desk_id}/, which this package authenticates, parses (callback.go) and serves
// (hooks.go). It keeps no state that matters across restarts: the outbox makes the calls
// durable, the sink makes callbacks idempotent.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/internal/safehttp"
)

// Kind is the desk kind.
const Kind = "webhook"

// Paths of the calls Tandem makes, joined to the configured url.
const (
	PathEstablish = "/conversation/establish"
	PathChat      = "/chat"
	PathClose     = "/conversation/close"
)

// Contract constants (§3, §5).
const (
	// DefaultTimeout bounds one attempt of a call when the configuration sets none.
	DefaultTimeout = 10 * time.Second
	// Attempts is how many times a call is tried in all: the first and 3 retries.
	Attempts = 4
	// MaxRetryAfter caps how long a Retry-After answer is honoured.
	MaxRetryAfter = 30 * time.Second
	// HealthTimeout bounds a health_url check.
	HealthTimeout = 5 * time.Second
	// HealthMaxAge is how old the last health_url check may be before Health checks again.
	HealthMaxAge = 30 * time.Second
	// FailedEstablishHold is how long a failed establish keeps the desk Unavailable.
	FailedEstablishHold = 60 * time.Second
)

func init() {
	desk.Register(Kind, desk.Kind{
		New:        func(c desk.Config, d desk.Deps) (tandem.Desk, error) { return New(c, d) },
		NeedsEmail: true, // GPTBots-style desks open a conversation with an e-mail
		Routes:     routes(),
		Keys: []desk.Key{{Name: "url", Required: true}, {Name: "secret", Secret: true}, // without it the desk's callbacks are refused (New warns)
			{Name: "username"}, {Name: "password", Secret: true}, {Name: "health_url"}, {Name: "timeout"}},
		Check: check,
	})
}

// MinSecret is the shortest secret a webhook desk takes (contract §2): it is all that
// authenticates the desk's callbacks.
const MinSecret = 16

// check refuses a secret too short to authenticate the desk's callbacks. Without one the desk
// loads (its callbacks are refused, New warns): a conversation test's desk is mocked.
func check(c desk.Config) []desk.KeyProblem {
	if s := c.String("secret"); s != "" && len(s) < MinSecret {
		return []desk.KeyProblem{{Key: "secret", Message: fmt.Sprintf("must be at least %d characters (it is what authenticates the desk's callbacks)", MinSecret)}}
	}
	return nil
}

// Desk talks to one webhook desk. Build it with New; it is safe for concurrent use.
type Desk struct {
	ID        string        // the configured desk id, named in errors
	URL       string        // the base URL, without a trailing slash
	Username  string        // HTTP Basic auth on calls to the desk, when set
	HealthURL string        // optional: GET, 2xx = up
	Timeout   time.Duration // one attempt, from connect to the whole answer
	UserAgent string
	Client    *http.Client
	// Now tells the time (timestamps, health bookkeeping); Sleep waits between the attempts of
	// an establish. Tests replace both.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	// password and secret are unexported so that no dump of a Desk shows them; neither is ever
	// logged nor put in an error.
	password string
	secret   string // signs calls (X-Tandem-Signature) and authenticates callbacks

	sink   desk.Sink // takes callbacks into conversations
	log    *slog.Logger
	public string // the server's public URL, for the callback URLs Report shows

	mu       sync.Mutex
	failedAt time.Time // the last establish that failed after its retries
	checked  time.Time // the last health_url check
	checkErr error     // its outcome
	// sessions maps a conversation to its handoff id, for calls whose effect was created before
	// the establish answered (the engine then knows no session yet).
	sessions map[string]session
	// calls counts the failed attempts of chat and close calls, which the outbox retries one
	// attempt at a time, and remembers the timestamp their body carries on every attempt.
	calls map[string]*callState
}

type session struct {
	id   string
	seen time.Time
}

type callState struct {
	failures int
	first    time.Time
	last     time.Time
}

// New builds a webhook desk from its configuration.
func New(c desk.Config, d desk.Deps) (*Desk, error) {
	base := strings.TrimRight(strings.TrimSpace(c.URL), "/")
	if base != "" {
		if err := checkURL(base); err != nil {
			return nil, fmt.Errorf("desk %q: url %w", c.ID, err)
		}
	}
	if h := strings.TrimSpace(c.HealthURL); h != "" {
		if err := checkURL(h); err != nil {
			return nil, fmt.Errorf("desk %q: health_url %w", c.ID, err)
		}
	}
	client := d.HTTP
	if client == nil {
		// The desk is the operator's own service, named in tandem.yaml: it may be private.
		client = safehttp.NewClient(safehttp.Options{AllowPrivate: true})
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dk := &Desk{ID: c.ID, URL: base, Username: c.Username, password: c.Password, secret: c.Secret,
		HealthURL: strings.TrimSpace(c.HealthURL), Timeout: timeout, UserAgent: "tandem/" + version(), Client: client,
		Now: time.Now, Sleep: safehttp.Sleep, sink: d.Sink, log: d.Logger, public: d.PublicURL}
	if d.Clock != nil {
		dk.Now = d.Clock.Now
	}
	if d.Sleep != nil {
		dk.Sleep = d.Sleep
	}
	if dk.log == nil {
		dk.log = slog.New(slog.DiscardHandler)
	}
	if strings.TrimSpace(c.Secret) == "" {
		dk.log.Warn("desk: secret is not set, so the desk's callbacks (agents' messages, closes) are refused and its handoffs never connect; set secret to what the desk presents",
			"desk", c.ID)
	}
	return dk, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", redactURL(s))
	}
	return nil
}

// version is the module version of the binary, for the User-Agent.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "dev"
}

// NeedsEmail implements tandem.Desk: GPTBots-style desks open a conversation with an e-mail.
func (d *Desk) NeedsEmail() bool { return true }

// Health implements tandem.Desk (contract §5): not configured without a url; unavailable for
// 60 s after an establish that failed, or while the last health_url check failed. health_url is
// checked again when its last check is older than 30 s. Without health_url nothing is probed:
// the desk's endpoints take only POSTs with real handoffs.
func (d *Desk) Health(ctx context.Context) error {
	if d.URL == "" {
		return fmt.Errorf("desk %q is not configured: its url is empty", d.ID)
	}
	if d.HealthURL != "" {
		d.mu.Lock()
		stale := d.checked.IsZero() || d.Now().Sub(d.checked) >= HealthMaxAge
		d.mu.Unlock()
		if stale {
			err := d.checkHealth(ctx)
			d.mu.Lock()
			d.checked, d.checkErr = d.Now(), err
			if err == nil {
				d.failedAt = time.Time{}
			}
			d.mu.Unlock()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.failedAt.IsZero() && d.Now().Sub(d.failedAt) < FailedEstablishHold {
		return fmt.Errorf("desk %q is unavailable: its last establish failed %s ago", d.ID, d.Now().Sub(d.failedAt).Round(time.Second))
	}
	if d.checkErr != nil {
		return fmt.Errorf("desk %q is unavailable: %w", d.ID, d.checkErr)
	}
	return nil
}

// Status reports the service state without calling the desk: not_configured, available or
// unavailable (for the API and metrics).
func (d *Desk) Status() string {
	if d.URL == "" {
		return desk.StatusNotConfigured
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if (!d.failedAt.IsZero() && d.Now().Sub(d.failedAt) < FailedEstablishHold) || d.checkErr != nil {
		return desk.StatusUnavailable
	}
	return desk.StatusAvailable
}

// Report implements desk.Reporter: the state, and the callback URLs the desk calls.
func (d *Desk) Report(ctx context.Context) desk.Health {
	base := desk.URL(d.public, "/hooks/desk/"+d.ID)
	h := desk.Health{Status: desk.StatusAvailable, Webhooks: []desk.Webhook{
		{Name: "Agent messages (B1)", URL: base + CallbackMessage, Note: "Authorization: Bearer <secret>, or X-Tandem-Signature"},
		{Name: "Closes (B2)", URL: base + CallbackClose, Note: "GPTBots' paths also work: " + base + CallbackMessageAlias + " and " + base + CallbackCloseAlias},
	}}
	if err := d.Health(ctx); err != nil {
		h.Status, h.Detail = d.Status(), err.Error()
	}
	return h
}

func (d *Desk) checkHealth(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, d.HealthURL, nil)
	if err != nil {
		return fmt.Errorf("health_url: %w", err)
	}
	d.authorize(req)
	resp, err := d.Client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %s", redactURL(d.HealthURL), netProblem(err, HealthTimeout))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s answered %d", redactURL(d.HealthURL), resp.StatusCode)
	}
	return nil
}

// Start implements tandem.Desk: POST {url}/conversation/establish with the transcript. The
// returned session is the handoff id, which the desk sends back on every callback. The call
// is awaited by the engine, so its retries happen here: 4 attempts in all, backoff 1 s, 2 s,
// 4 s ±20 % (or Retry-After up to 30 s), within ctx's deadline. A failure after the retries
// makes the desk Unavailable for 60 s; a 4xx other than 429 is not retried and is Permanent.
func (d *Desk) Start(ctx context.Context, s tandem.DeskStart) (string, error) {
	if d.URL == "" {
		return "", tandem.Permanent(fmt.Errorf("desk %q is not configured: its url is empty", d.ID))
	}
	if s.Conversation == nil {
		return "", tandem.Permanent(fmt.Errorf("desk %q: establish without a conversation", d.ID))
	}
	now := d.Now()
	started := s.Conversation.UpdatedAt
	if started.IsZero() {
		started = now
	}
	hid := HandoffID(s.Conversation.ID, handoffAnchor(s, started))
	if _, ok := ConversationOf(s.Session); ok {
		hid = s.Session // minted by the engine: messages sent meanwhile already name it
	}
	body, err := json.Marshal(establishBody(hid, started, s))
	if err != nil {
		return "", tandem.Permanent(fmt.Errorf("desk %q: establish: %w", d.ID, err))
	}
	c := call{path: PathEstablish, key: hid + ":establish", body: body}
	if err := d.retry(ctx, c); err != nil {
		d.mu.Lock()
		d.failedAt = d.Now()
		d.mu.Unlock()
		return "", err
	}
	d.mu.Lock()
	d.failedAt = time.Time{}
	if d.HealthURL != "" {
		// A good establish clears Unavailable at once (§5).
		d.checked, d.checkErr = d.Now(), nil
	}
	d.remember(s.Conversation.ID, hid)
	d.mu.Unlock()
	return hid, nil
}

// Send implements tandem.Desk: POST {url}/chat with the customer's message. One attempt per
// call: a 5xx, a 429, a timeout or a network error is returned as retryable for the outbox to
// try again with backoff, in order with the conversation's other desk calls, with the same body
// and Idempotency-Key; after the 4th failed attempt (or at once on another 4xx) the error is
// Permanent and later messages go on.
func (d *Desk) Send(ctx context.Context, sessionID string, m *tandem.Message) error {
	if m == nil {
		return tandem.Permanent(fmt.Errorf("desk %q: chat without a message", d.ID))
	}
	hid, err := d.session(sessionID, m.ConversationID)
	if err != nil {
		return err
	}
	key := hid + ":chat:" + m.ID
	st := d.track(key)
	at := m.CreatedAt
	if at.IsZero() {
		at = st.first
	}
	body, err := json.Marshal(chatBody(hid, at, m))
	if err != nil {
		d.untrack(key)
		return tandem.Permanent(fmt.Errorf("desk %q: chat: %w", d.ID, err))
	}
	return d.once(ctx, call{path: PathChat, key: key, body: body}, st)
}

// Close implements tandem.Desk: POST {url}/conversation/close with type TIMEOUT or
// USER_CLOSED (every other reason Tandem closes for is the customer's side). Retried like Send.
func (d *Desk) Close(ctx context.Context, sessionID, reason string) error {
	hid, err := d.session(sessionID, "")
	if err != nil {
		return err
	}
	typ, text := tandem.CloseUserClosed, "closed on the customer's side"
	if reason == tandem.CloseTimeout {
		typ, text = tandem.CloseTimeout, "the customer did not answer within the session timeout"
	}
	key := hid + ":close"
	st := d.track(key)
	body, err := json.Marshal(closeBody{ConversationID: hid, Timestamp: st.first.UnixMilli(), Type: typ, Reason: text})
	if err != nil {
		d.untrack(key)
		return tandem.Permanent(fmt.Errorf("desk %q: close: %w", d.ID, err))
	}
	err = d.once(ctx, call{path: PathClose, key: key, body: body}, st)
	if err == nil || tandem.IsPermanent(err) {
		d.forgetSession(hid)
	}
	return err
}

// session returns the handoff id of a call: the engine's session, or the one Start returned
// for the conversation when the effect was created before the establish answered.
func (d *Desk) session(sessionID, conversationID string) (string, error) {
	if sessionID != "" {
		return sessionID, nil
	}
	d.mu.Lock()
	s, ok := d.sessions[conversationID]
	d.mu.Unlock()
	if conversationID == "" || !ok {
		return "", tandem.Permanent(fmt.Errorf("desk %q: the handoff id of conversation %q is not known (the establish did not succeed in this process)", d.ID, conversationID))
	}
	return s.id, nil
}

// remember records a conversation's handoff id; d.mu is held.
func (d *Desk) remember(conversationID, hid string) {
	now := d.Now()
	if d.sessions == nil {
		d.sessions = map[string]session{}
	}
	if len(d.sessions) >= 10000 {
		for k, s := range d.sessions {
			if now.Sub(s.seen) > 24*time.Hour {
				delete(d.sessions, k)
			}
		}
	}
	d.sessions[conversationID] = session{id: hid, seen: now}
}

func (d *Desk) forgetSession(hid string) {
	if conv, ok := ConversationOf(hid); ok {
		d.mu.Lock()
		if s, ok := d.sessions[conv]; ok && s.id == hid {
			delete(d.sessions, conv)
		}
		d.mu.Unlock()
	}
}

// call is one request to the desk.
type call struct {
	path string
	key  string // Idempotency-Key: the same on every attempt
	body []byte
}

// track returns the bookkeeping of a chat or close call, which the outbox retries one attempt
// at a time: its failures so far and when it was first attempted (the timestamp its body
// carries on every attempt). It lives in memory: after a restart the count starts again.
func (d *Desk) track(key string) *callState {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st, ok := d.calls[key]; ok {
		return st
	}
	now := d.Now()
	if d.calls == nil {
		d.calls = map[string]*callState{}
	}
	if len(d.calls) >= 10000 {
		for k, st := range d.calls {
			if now.Sub(st.last) > time.Hour {
				delete(d.calls, k)
			}
		}
	}
	st := &callState{first: now, last: now}
	d.calls[key] = st
	return st
}

func (d *Desk) untrack(key string) {
	d.mu.Lock()
	delete(d.calls, key)
	d.mu.Unlock()
}

// once makes one attempt of a tracked call. After the Attempts-th failure the error turns
// Permanent, so that the outbox gives the call up and the conversation's next calls go on.
func (d *Desk) once(ctx context.Context, c call, st *callState) error {
	_, err := d.attempt(ctx, c)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil || tandem.IsPermanent(err) {
		delete(d.calls, c.key)
		return err
	}
	st.failures++
	st.last = d.Now()
	if st.failures >= Attempts {
		delete(d.calls, c.key)
		return tandem.Permanent(fmt.Errorf("%w; given up after %d attempts", err, st.failures))
	}
	return err
}

// retry makes up to Attempts attempts of a call, sleeping between them.
func (d *Desk) retry(ctx context.Context, c call) error {
	for n := 1; ; n++ {
		retryAfter, err := d.attempt(ctx, c)
		if err == nil || tandem.IsPermanent(err) {
			return err
		}
		if n >= Attempts || ctx.Err() != nil {
			if n > 1 {
				err = fmt.Errorf("%w; given up after %d attempts", err, n)
			}
			return err
		}
		wait := Backoff(n)
		if retryAfter > wait {
			wait = min(retryAfter, MaxRetryAfter)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("%w; no time left for attempt %d", err, n+1)
		}
		if serr := d.Sleep(ctx, wait); serr != nil {
			return err
		}
	}
}

// Backoff is the wait after failed attempt n (1-based): 1 s, 2 s, 4 s, ±20 %.
func Backoff(n int) time.Duration { return safehttp.Backoff(n) }

// statusError is a non-2xx answer.
type statusError struct {
	desk, url string
	status    int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("desk %q: POST %s answered %d", e.desk, e.url, e.status)
}

// attempt makes one request. A 2xx is success; 429, 5xx, timeouts and network errors are
// retryable; any other answer is Permanent. retryAfter is the desk's Retry-After, if any.
func (d *Desk) attempt(ctx context.Context, c call) (retryAfter time.Duration, err error) {
	target := d.URL + c.path
	cctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, target, bytes.NewReader(c.body))
	if err != nil {
		return 0, tandem.Permanent(fmt.Errorf("desk %q: POST %s: %v", d.ID, redactURL(target), err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", c.key)
	if d.secret != "" {
		req.Header.Set(SignatureHeader, Sign(d.secret, c.body))
	}
	d.authorize(req)
	resp, err := d.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("desk %q: POST %s: %w", d.ID, redactURL(target), ctx.Err())
		}
		if safehttp.IsBlocked(err) {
			return 0, tandem.Permanent(fmt.Errorf("desk %q: POST %s: %s", d.ID, redactURL(target), netProblem(err, d.Timeout)))
		}
		return 0, fmt.Errorf("desk %q: POST %s: %s", d.ID, redactURL(target), netProblem(err, d.Timeout))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch s := resp.StatusCode; {
	case s >= 200 && s <= 299:
		return 0, nil
	case s == http.StatusTooManyRequests || s >= 500:
		return safehttp.RetryAfter(resp.Header, d.Now()), &statusError{d.ID, redactURL(target), s}
	default:
		return 0, tandem.Permanent(&statusError{d.ID, redactURL(target), s})
	}
}

// authorize sets the headers of every request to the desk: Basic auth when a username is set.
func (d *Desk) authorize(req *http.Request) {
	req.Header.Set("User-Agent", d.UserAgent)
	if d.Username != "" {
		req.SetBasicAuth(d.Username, d.password)
	}
}

// netProblem describes a transport error without the URL (which may hold credentials).
func netProblem(err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s (timeout)", tandem.FormatDuration(timeout))
	case safehttp.IsBlocked(err):
		return "the address is private and not allowed"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return "network error: " + err.Error()
}

// redactURL drops the userinfo and the query of a URL for messages.
func redactURL(s string) string { return safehttp.Redact(s) }

// ---- handoff ids ----

// handoffPrefix starts every handoff id.
const handoffPrefix = "hf_"

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// HandoffID returns the handoff id of a conversation's handoff: "hf_<conversation id>_<tag>",
// where the tag is derived from anchor (what identifies this handoff among the conversation's
// handoffs). The conversation id inside lets a callback find its conversation without a lookup
// table; the same anchor gives the same id, so a retried or re-run establish keeps it.
func HandoffID(conversationID, anchor string) string {
	sum := sha256.Sum256([]byte(conversationID + "\x00" + anchor))
	return handoffPrefix + conversationID + "_" + strings.ToLower(idEncoding.EncodeToString(sum[:]))[:10]
}

// ConversationOf returns the conversation id inside a handoff id.
func ConversationOf(handoffID string) (string, bool) {
	rest, ok := strings.CutPrefix(handoffID, handoffPrefix)
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '_')
	if i <= 0 || len(rest)-i-1 != 10 {
		return "", false
	}
	return rest[:i], true
}

// handoffAnchor identifies a handoff within its conversation: the customer message that led to
// it (the transcript's last question), which a re-run of the same establish finds again.
func handoffAnchor(s tandem.DeskStart, started time.Time) string {
	for i := len(s.Transcript) - 1; i >= 0; i-- {
		if m := s.Transcript[i]; m.Direction == tandem.DirectionIn && m.ID != "" {
			return "q:" + m.ID
		}
	}
	return "t:" + strconv.FormatInt(started.UnixMicro(), 10)
}

// ---- signatures ----

// SignatureHeader carries "sha256=" and the lowercase hex HMAC-SHA256 of the raw body, keyed
// with the desk's secret, on calls in both directions.
const SignatureHeader = "X-Tandem-Signature"

// Sign returns the X-Tandem-Signature value of a body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + fmt.Sprintf("%x", m.Sum(nil))
}
