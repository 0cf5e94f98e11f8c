// Package openaiwire is the HTTP side the three OpenAI provider kinds share (openai,
// openai-responses, openai-assistants; OpenAI's API reference): base URL and auth
// headers, error answers turned into *tandem.AIError with Retry-After, and server-sent events.
package openaiwire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/aihttp"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/provider"
)

const (
	maxAnswer    = 16 << 20 // a JSON answer read into memory
	maxEvent     = 8 << 20  // one server-sent event
	maxErrorBody = 64 << 10 // an error answer
	idleDefault  = 60 * time.Second
)

// Client calls one OpenAI-style server.
type Client struct {
	http   *http.Client
	Base   string      // without a trailing slash: https://api.openai.com/v1
	query  url.Values  // added to every URL: Azure's api-version
	Header http.Header // sent with every request: auth, organisation, project, custom headers
	// secrets are kept out of every error text: the key and credential-like header values.
	secrets []string
	Who     string // names the provider in messages: AI provider "openai"
	Azure   bool
	OpenAI  bool // the server is api.openai.com
	Now     func() time.Time
	Idle    time.Duration // a stream that sends nothing for this long is cut
}

// NewClient returns a Client for a configured provider; defaultBase is used when the
// configuration has no base_url. Azure (an *.azure.com host, an api_version or a deployment
// URL) gets the key in an api-key header, everything else as a Bearer token; a custom
// Authorization or api-key header wins over both.
func NewClient(c provider.Config, d provider.Deps, defaultBase string) (*Client, error) {
	base := strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if base == "" {
		base = defaultBase
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("provider %q: base_url %q is not an http(s) URL", c.ID, base)
	}
	hc := d.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	host := strings.ToLower(u.Hostname())
	cl := &Client{http: hc, Base: base, Header: http.Header{}, Who: fmt.Sprintf("AI provider %q", c.ID),
		Azure:  strings.HasSuffix(host, ".azure.com") || c.APIVersion != "" || strings.Contains(u.Path, "/openai/deployments/"),
		OpenAI: host == "api.openai.com", Now: time.Now, Idle: idleDefault}
	cl.Header.Set("User-Agent", "Tandem")
	for k, v := range c.Headers {
		cl.Header.Set(k, v)
		if credential(k) && v != "" {
			cl.secrets = append(cl.secrets, v, strings.TrimSpace(strings.TrimPrefix(v, "Bearer ")))
		}
	}
	if c.APIKey != "" {
		cl.secrets = append(cl.secrets, c.APIKey)
		if cl.Header.Get("Authorization") == "" && cl.Header.Get("Api-Key") == "" {
			if cl.Azure {
				cl.Header.Set("Api-Key", c.APIKey)
			} else {
				cl.Header.Set("Authorization", "Bearer "+c.APIKey)
			}
		}
	}
	if c.Organization != "" {
		cl.Header.Set("OpenAI-Organization", c.Organization)
	}
	if c.Project != "" {
		cl.Header.Set("OpenAI-Project", c.Project)
	}
	if c.APIVersion != "" {
		cl.query = url.Values{"api-version": {c.APIVersion}}
	}
	return cl, nil
}

// credential reports whether a header name suggests a credential.
func credential(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "auth") || strings.Contains(n, "key") || strings.Contains(n, "token") || strings.Contains(n, "secret")
}

// url is the address of path (which may carry its own query) on the server.
func (c *Client) url(path string) string {
	u := c.Base + path
	if len(c.query) > 0 {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		u += sep + c.query.Encode()
	}
	return u
}

// send makes one request with a JSON body (none when in is nil).
func (c *Client) Send(ctx context.Context, method, path string, in any, accept string) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, &tandem.AIError{Message: fmt.Sprintf("%s: the request cannot be encoded: %v", c.Who, err)}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), body)
	if err != nil {
		return nil, &tandem.AIError{Message: fmt.Sprintf("%s: the request cannot be built: %s", c.Who, c.Redact(err.Error()))}
	}
	req.Header = c.Header.Clone()
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	return c.http.Do(req)
}

// call sends a JSON request and decodes the JSON answer into out (when not nil). A non-2xx
// answer is a *Failure; an answer that is not JSON is a malformed one (502, temporary).
func (c *Client) Call(ctx context.Context, method, path string, in, out any) (http.Header, error) {
	resp, err := c.Send(ctx, method, path, in, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.Header, c.failure(resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.Header, err
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return resp.Header, c.Malformed(fmt.Sprintf("answered %d with a body that is not the expected JSON", resp.StatusCode), string(body))
		}
	}
	return resp.Header, nil
}

// failure is an error answer: the *tandem.AIError the runner sees, and what the body said.
type Failure struct {
	AI     *tandem.AIError
	Status int
	Code   string // error.code, else error.type
	Detail string // the server's message: one line, clipped, secrets removed
}

func (f *Failure) Error() string { return f.AI.Message }

// Unwrap lets errors.As find the *tandem.AIError.
func (f *Failure) Unwrap() error { return f.AI }

// errorBody reads the error shapes of OpenAI and the compatible servers: {"error": {...}},
// {"error": "text"}, the flat {"object": "error", "message", "code": 400} of older vLLM, and
// FastAPI's {"detail": "..."}.
type errorBody struct {
	Error   json.RawMessage `json:"error"`
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
	Detail  json.RawMessage `json:"detail"`
}

type errorObject struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

// parseError returns the message and code of an error document, ok false when it is none.
func parseError(b []byte) (msg, code string, ok bool) {
	var e errorBody
	if json.Unmarshal(b, &e) != nil {
		return "", "", false
	}
	if len(e.Error) > 0 && string(e.Error) != "null" {
		var s string
		if json.Unmarshal(e.Error, &s) == nil {
			return s, "", true
		}
		var o errorObject
		if json.Unmarshal(e.Error, &o) == nil {
			return o.Message, FirstOf(rawString(o.Code), o.Type), true
		}
	}
	if e.Message != "" {
		return e.Message, FirstOf(rawString(e.Code), e.Type), true
	}
	if len(e.Detail) > 0 && string(e.Detail) != "null" {
		var s string
		if json.Unmarshal(e.Detail, &s) != nil {
			s = string(e.Detail)
		}
		return s, "", true
	}
	return "", "", false
}

// rawString reads a code sent as a string or a number.
func rawString(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	return strings.Trim(string(r), `"`)
}

func FirstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// failure reads a non-2xx answer.
func (c *Client) failure(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg, code, ok := parseError(b)
	if !ok {
		msg = aihttp.Clip(strings.TrimSpace(string(b)), 200)
	}
	f := c.Fail(resp.StatusCode, code, msg, resp.Header.Get("X-Request-Id"))
	f.AI.RetryAfter = safehttp.RetryAfter(resp.Header, c.Now())
	if f.AI.RetryAfter == 0 && resp.StatusCode == http.StatusTooManyRequests {
		f.AI.RetryAfter = rateLimitReset(resp.Header)
	}
	f.AI.Temporary = aihttp.ShouldRetry(resp.Header, f.AI.Temporary)
	return f
}

// fail builds the failure of a status and the server's code and message.
func (c *Client) Fail(status int, code, msg, requestID string) *Failure {
	detail := aihttp.Clip(c.Redact(aihttp.OneLine(msg)), 1000)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (status %d", c.Who, phrase(status, code), status)
	if code != "" && code != strconv.Itoa(status) {
		fmt.Fprintf(&b, ", %s", c.Redact(code))
	}
	if requestID != "" {
		fmt.Fprintf(&b, ", request %s", c.Redact(requestID))
	}
	b.WriteString(")")
	if detail != "" {
		b.WriteString(": " + detail)
	}
	return &Failure{AI: &tandem.AIError{Status: status, Message: b.String(), Temporary: Retryable(status, code)},
		Status: status, Code: code, Detail: detail}
}

// eventFailure reads an error reported inside a stream, after the 200.
func (c *Client) EventFailure(raw []byte) *Failure {
	msg, code, _ := parseError(raw)
	return c.Fail(CodeStatus(code), code, FirstOf(msg, "the server reported an error in the middle of the answer"), "")
}

// CodeStatus is the status of an error known only by its code: a number, or a name.
func CodeStatus(code string) int {
	if n, err := strconv.Atoi(code); err == nil && n >= 400 && n < 600 {
		return n
	}
	switch {
	case code == "rate_limit_exceeded" || code == "insufficient_quota":
		return 429
	case strings.Contains(code, "invalid") || strings.Contains(code, "policy") || strings.Contains(code, "context_length") || strings.Contains(code, "unsupported"):
		return 400
	}
	return 500
}

// phrase says what a status means.
func phrase(status int, code string) string {
	switch {
	case status == 400:
		return "the request was refused"
	case status == 401:
		return "the API key was refused; check the provider's api_key"
	case status == 402:
		return "the account has no credit left"
	case status == 403:
		return "access was denied"
	case status == 404:
		return "not found; check the model and the base_url"
	case status == 408:
		return "the server timed out"
	case status == 409:
		return "the request conflicted with another one"
	case status == 413:
		return "the request is too large"
	case status == 422:
		return "the request could not be processed"
	case status == 429 && code == "insufficient_quota":
		return "the account has no quota left"
	case status == 429:
		return "rate limited"
	case status >= 500:
		return "the server failed"
	}
	return "the call failed"
}

// Retryable applies the official SDKs' rule: 408, 409, 429 (except no quota) and 5xx.
func Retryable(status int, code string) bool {
	switch {
	case status == 429:
		return code != "insufficient_quota"
	case status == 408, status == 409, status >= 500:
		return true
	}
	return false
}

// rateLimitReset reads when an exhausted rate-limit bucket refills (x-ratelimit-reset-*, Go
// durations such as "6m0s" or "12ms").
func rateLimitReset(h http.Header) time.Duration {
	var d time.Duration
	for _, bucket := range []string{"requests", "tokens"} {
		if strings.TrimSpace(h.Get("X-Ratelimit-Remaining-"+bucket)) != "0" {
			continue
		}
		if r, err := time.ParseDuration(strings.TrimSpace(h.Get("X-Ratelimit-Reset-" + bucket))); err == nil && r > d {
			d = r
		}
	}
	return d
}

// malformed is an answer that cannot be read: counted as 502 (a bad answer from upstream), and
// temporary, since proxies and overloaded servers produce them.
func (c *Client) Malformed(what, sample string) *Failure {
	msg := fmt.Sprintf("%s: the server %s (status 502)", c.Who, what)
	if s := aihttp.Clip(c.Redact(aihttp.OneLine(sample)), 200); s != "" {
		msg += ": " + s
	}
	return &Failure{AI: &tandem.AIError{Status: http.StatusBadGateway, Message: msg, Temporary: true}, Status: http.StatusBadGateway}
}

// interrupted is a stream that stopped before its end: temporary, never a partial answer.
func (c *Client) interrupted(why string) *tandem.AIError {
	return &tandem.AIError{Message: fmt.Sprintf("%s: the answer stream %s before the answer was complete", c.Who, why), Temporary: true}
}

// final turns any error of a call that started at start into the *tandem.AIError the runner
// reads: failures keep theirs; a passed deadline is a timeout, a refused or reset connection a
// network error (both temporary).
func (c *Client) Final(ctx context.Context, start time.Time, err error) *tandem.AIError {
	var ae *tandem.AIError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, ErrEnded) {
		return c.interrupted("ended")
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		within := ""
		if d := c.Now().Sub(start).Round(100 * time.Millisecond); d > 0 {
			within = " within " + d.String()
		}
		return &tandem.AIError{Message: fmt.Sprintf("%s did not answer%s (timeout)", c.Who, within), Temporary: true}
	case errors.Is(err, context.Canceled):
		return &tandem.AIError{Message: c.Who + ": the call was canceled"}
	}
	return &tandem.AIError{Message: fmt.Sprintf("%s cannot be reached: %s", c.Who, c.Redact(aihttp.OneLine(err.Error()))), Temporary: true}
}

// keyLike matches API keys as servers echo them ("Incorrect API key provided: sk-ab***yz").
var keyLike = regexp.MustCompile(`\b(sk|rk|pk)-[A-Za-z0-9_*.\-]{3,}|\bgsk_[A-Za-z0-9_*]{3,}`)

// redact removes the key, credential headers and anything that looks like a key.
func (c *Client) Redact(s string) string {
	for _, k := range c.secrets {
		if len(k) >= 4 {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return keyLike.ReplaceAllString(s, "$1-***")
}

// Event is one server-sent event.
type Event struct {
	Name string // the event: line, "" when absent
	Data string // the data: lines, joined with newlines
}

// Stream posts a JSON request and hands each server-sent event to fn until fn says it has the
// whole answer. A stream that ends, breaks or stays silent for c.Idle before that is a
// temporary failure. A JSON answer instead of a stream is read as an error report.
func (c *Client) Stream(ctx context.Context, path string, in any, fn func(Event) (done bool, err error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := c.Send(ctx, http.MethodPost, path, in, "text/event-stream")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return c.failure(resp)
	}
	if ct := resp.Header.Get("Content-Type"); strings.Contains(ct, "json") && !strings.Contains(ct, "event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if msg, code, ok := parseError(b); ok {
			return c.Fail(CodeStatus(code), code, msg, resp.Header.Get("X-Request-Id"))
		}
		return c.Malformed("answered with JSON instead of an event stream", string(b))
	}
	var idled atomic.Bool
	timer := time.AfterFunc(c.Idle, func() { idled.Store(true); cancel() })
	defer timer.Stop()
	done, err := ReadEvents(resp.Body, func() { timer.Reset(c.Idle) }, fn)
	var ae *tandem.AIError
	switch {
	case errors.As(err, &ae):
		return err
	case idled.Load():
		return c.interrupted(fmt.Sprintf("sent nothing for %s", c.Idle))
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return c.interrupted("broke off (" + c.Redact(aihttp.OneLine(err.Error())) + ")")
	case !done:
		return ErrEnded
	}
	return nil
}

// ErrEnded is a stream that ended before the handler had the whole answer; final turns it into
// a temporary failure unless the caller decides the answer was complete.
var ErrEnded = errors.New("the stream ended")

// ReadEvents parses a server-sent event stream (comments skipped, multi-line data joined, CRLF
// accepted) and hands each event to fn until fn says done; touch is called on every line. It
// reports whether fn said done before the stream ended; an event cut short is dropped.
func ReadEvents(r io.Reader, touch func(), fn func(Event) (bool, error)) (bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEvent)
	var ev Event
	var data []string
	for sc.Scan() {
		touch()
		line := sc.Text()
		switch {
		case line == "":
			if len(data) == 0 && ev.Name == "" {
				continue
			}
			ev.Data = strings.Join(data, "\n")
			done, err := fn(ev)
			if err != nil || done {
				return done, err
			}
			ev, data = Event{}, nil
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				ev.Name = value
			case "data":
				data = append(data, value)
			}
		}
	}
	return false, sc.Err()
}

// Strictable reports whether a JSON Schema fits Structured Outputs' strict mode: an object at
// the root, and every object listing all its properties as required with
// additionalProperties false. Other schemas are sent with strict false (a 400 otherwise).
func Strictable(schema []byte) bool {
	var v any
	if json.Unmarshal(schema, &v) != nil {
		return false
	}
	root, ok := v.(map[string]any)
	if !ok || root["type"] != "object" {
		return false
	}
	return strictNode(root)
}

func strictNode(v any) bool {
	switch n := v.(type) {
	case []any:
		for _, x := range n {
			if !strictNode(x) {
				return false
			}
		}
	case map[string]any:
		if props, ok := n["properties"].(map[string]any); ok || n["type"] == "object" {
			if n["additionalProperties"] != false {
				return false
			}
			req, _ := n["required"].([]any)
			names := map[string]bool{}
			for _, r := range req {
				if s, ok := r.(string); ok {
					names[s] = true
				}
			}
			for k, sub := range props {
				if !names[k] || !strictNode(sub) {
					return false
				}
			}
		}
		for _, key := range []string{"items", "anyOf", "$defs", "definitions"} {
			if sub, ok := n[key]; ok {
				if defs, ok := sub.(map[string]any); ok && (key == "$defs" || key == "definitions") {
					for _, d := range defs {
						if !strictNode(d) {
							return false
						}
					}
				} else if !strictNode(sub) {
					return false
				}
			}
		}
	}
	return true
}

// Arguments keeps a tool call's arguments as JSON: valid JSON as is, anything else as a JSON
// string (so the agent reports it to the model as invalid), nothing as {}.
func Arguments(s string) tandem.JSON {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return tandem.JSON("{}")
	case json.Valid([]byte(s)):
		return tandem.JSON(s)
	}
	b, _ := json.Marshal(s)
	return b
}
