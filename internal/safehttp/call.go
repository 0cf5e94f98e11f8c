package safehttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Caller makes the calls of one API client (a help desk's REST API) with one policy: a
// timeout on every attempt, up to Attempts attempts with a backoff of 1 s, 2 s, 4 s ±20 % on
// network errors, timeouts, 429 and 5xx — or what the server asks for (Retry-After, up to
// MaxWait) — and never a retry of another answer. Errors name the service, the method and the
// URL without its query or credentials, never a header.
type Caller struct {
	Client *http.Client
	// Service names the API in errors: `intercom desk "support"`.
	Service string
	// Timeout bounds one attempt, from connect to the whole answer (default 10 s).
	Timeout time.Duration
	// Attempts counts the tries of a call in all (default 4).
	Attempts int
	// MaxWait caps how long an answer's asked wait is honoured (default 30 s).
	MaxWait time.Duration
	// MaxBody caps an answer's body (default MaxBody).
	MaxBody int64
	// Now tells the time and Sleep waits between attempts (defaults: the wall clock, Sleep).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Wait reads how long an answer asks to wait before the next attempt (default RetryAfter).
	Wait func(h http.Header, now time.Time) time.Duration
	// Retryable decides whether an answer that is not a 2xx is worth another attempt (default:
	// 429 and 5xx).
	Retryable func(status int, h http.Header, body []byte) bool
	// Redact lists values (the API's credentials) that an error text must never show, should
	// an answer's body repeat one.
	Redact []string
}

// Request is one call.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Unsure, when set, is asked before a retry that follows an attempt whose outcome is not
	// known (a timeout or a connection lost after the request may have been sent). It reports
	// whether that attempt took effect (for example by looking the created record up): then Do
	// stops and returns ErrTookEffect. Calls that are not safe to repeat set it.
	Unsure func(ctx context.Context) (bool, error)
}

// Response is a 2xx answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// ErrTookEffect is returned when Request.Unsure found that an attempt took effect.
var ErrTookEffect = errors.New("the call took effect before its answer was lost")

// StatusError is an answer that is not a 2xx.
type StatusError struct {
	Service, Method, URL string
	Status               int
	Header               http.Header
	Body                 []byte
	// Retryable reports whether the answer was worth another attempt.
	Retryable bool
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: %s %s answered %d", e.Service, e.Method, e.URL, e.Status)
	if b := oneLine(e.Body, 200); b != "" {
		msg += ": " + b
	}
	return msg
}

// Temporary reports whether another try later may succeed.
func (e *StatusError) Temporary() bool { return e.Retryable }

// NetError is a call that got no answer: a network error or a timeout.
type NetError struct {
	Service, Method, URL string
	Timeout              time.Duration // set when it was a timeout
	Err                  error
}

func (e *NetError) Error() string {
	if e.Timeout > 0 {
		return fmt.Sprintf("%s: %s %s: no answer within %s (timeout)", e.Service, e.Method, e.URL, e.Timeout)
	}
	if IsBlocked(e.Err) {
		return fmt.Sprintf("%s: %s %s: the address is private and not allowed", e.Service, e.Method, e.URL)
	}
	err := e.Err
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text repeats the URL, with the query
	}
	return fmt.Sprintf("%s: %s %s: network error: %v", e.Service, e.Method, e.URL, err)
}

func (e *NetError) Unwrap() error { return e.Err }

// Temporary reports whether another try later may succeed: not when the guard refused the
// address.
func (e *NetError) Temporary() bool { return !IsBlocked(e.Err) }

// Temporary reports whether err (from Do) may go away if the call is made again later.
func Temporary(err error) bool {
	var t interface{ Temporary() bool }
	if errors.As(err, &t) {
		return t.Temporary()
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// Status returns the status of a StatusError in err's chain, 0 when there is none.
func Status(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// Backoff is the wait after failed attempt n (1-based): 1 s, 2 s, 4 s, … ±20 %.
func Backoff(n int) time.Duration {
	base := time.Second << min(n-1, 6)
	return time.Duration(float64(base) * (0.8 + 0.4*rand.Float64()))
}

func (c *Caller) defaults() Caller {
	d := *c
	if d.Timeout <= 0 {
		d.Timeout = 10 * time.Second
	}
	if d.Attempts <= 0 {
		d.Attempts = 4
	}
	if d.MaxWait <= 0 {
		d.MaxWait = 30 * time.Second
	}
	if d.MaxBody <= 0 {
		d.MaxBody = MaxBody
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Sleep == nil {
		d.Sleep = Sleep
	}
	if d.Wait == nil {
		d.Wait = RetryAfter
	}
	if d.Retryable == nil {
		d.Retryable = func(status int, _ http.Header, _ []byte) bool {
			return status == http.StatusTooManyRequests || status >= 500
		}
	}
	if d.Client == nil {
		d.Client = http.DefaultClient
	}
	return d
}

// Do makes the call, retrying as the policy says within ctx. A 2xx is returned; anything else
// is a *StatusError or a *NetError (after the last attempt, or at once when not worth
// retrying), or ctx's error.
func (c *Caller) Do(ctx context.Context, req Request) (*Response, error) {
	p := c.defaults()
	for n := 1; ; n++ {
		resp, wait, unsure, err := p.attempt(ctx, req)
		if err == nil {
			return resp, nil
		}
		if !Temporary(err) || n >= p.Attempts || ctx.Err() != nil {
			if n > 1 && Temporary(err) {
				err = fmt.Errorf("%w; given up after %d attempts", err, n)
			}
			return nil, err
		}
		backoff := Backoff(n)
		if wait > backoff {
			backoff = min(wait, p.MaxWait)
		}
		if dl, ok := ctx.Deadline(); ok && dl.Sub(p.Now()) < backoff {
			return nil, fmt.Errorf("%w; no time left for attempt %d", err, n+1)
		}
		if serr := p.Sleep(ctx, backoff); serr != nil {
			return nil, err
		}
		if unsure && req.Unsure != nil {
			took, uerr := req.Unsure(ctx)
			if uerr != nil {
				return nil, fmt.Errorf("%w; and the check of whether it took effect failed: %v", err, uerr)
			}
			if took {
				return nil, ErrTookEffect
			}
		}
	}
}

// attempt makes one request. unsure reports an attempt that may have reached the server.
func (p *Caller) attempt(ctx context.Context, req Request) (resp *Response, wait time.Duration, unsure bool, err error) {
	shown := Redact(req.URL)
	cctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(cctx, req.Method, req.URL, body)
	if err != nil {
		return nil, 0, false, &NetError{Service: p.Service, Method: req.Method, URL: shown, Err: errors.New("the request cannot be built")}
	}
	for k, vs := range req.Header {
		hr.Header[k] = vs
	}
	r, err := p.Client.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, false, fmt.Errorf("%s: %s %s: %w", p.Service, req.Method, shown, ctx.Err())
		}
		ne := &NetError{Service: p.Service, Method: req.Method, URL: shown, Err: err}
		var te interface{ Timeout() bool }
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout()) {
			ne.Timeout = p.Timeout
		}
		return nil, 0, mayHaveSent(err), ne
	}
	defer r.Body.Close()
	b, rerr := io.ReadAll(io.LimitReader(r.Body, p.MaxBody+1))
	if rerr != nil {
		ne := &NetError{Service: p.Service, Method: req.Method, URL: shown, Err: rerr}
		if errors.Is(rerr, context.DeadlineExceeded) {
			ne.Timeout = p.Timeout
		}
		return nil, 0, true, ne
	}
	if int64(len(b)) > p.MaxBody {
		return nil, 0, false, &StatusError{Service: p.Service, Method: req.Method, URL: shown, Status: r.StatusCode, Header: r.Header,
			Body: []byte(fmt.Sprintf("the answer is larger than %d bytes", p.MaxBody))}
	}
	if r.StatusCode >= 200 && r.StatusCode <= 299 {
		return &Response{Status: r.StatusCode, Header: r.Header, Body: b}, 0, false, nil
	}
	se := &StatusError{Service: p.Service, Method: req.Method, URL: shown, Status: r.StatusCode, Header: r.Header, Body: p.scrub(b),
		Retryable: p.Retryable(r.StatusCode, r.Header, b)}
	if se.Retryable {
		wait = p.Wait(r.Header, p.Now())
	}
	// A 5xx may come after the server acted (a proxy timing out): as unsure as a lost answer.
	return nil, wait, r.StatusCode >= 500, se
}

// scrub replaces the Redact values in a body that goes into an error.
func (p *Caller) scrub(b []byte) []byte {
	for _, v := range p.Redact {
		if len(v) >= 4 {
			b = bytes.ReplaceAll(b, []byte(v), []byte("***"))
		}
	}
	return b
}

// mayHaveSent reports whether a transport error may have come after the request reached the
// server: everything but a failure to connect.
func mayHaveSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	return !IsBlocked(err)
}

// Redact drops the userinfo, the query and the fragment of a URL for messages (they may hold
// credentials).
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(the configured URL)"
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// oneLine is the start of a body as one line of text, at most n runes.
func oneLine(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}
