package engine

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/expr"
	"github.com/tandemchat/tandem/flow"
)

func init() { register("http", httpHandler{}) }

// http — call an API as an effect; the run waits durably for the result.
type httpHandler struct{}

func (httpHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.HTTPStep)
	req, err := c.buildHTTP(b.Method, &b.URL, b.Headers, b.Query, b.Body, b.Timeout, nil)
	if err != nil {
		c.output(s, map[string]any{"error": err.Error()})
		c.trace(s, "", nil, nil, err.Error())
		return c.fail(s, b.OnError, err.Error())
	}
	req.Retry = retryPolicy(b.Retry)
	id := c.id()
	if _, ok := headerValue(req.Header, "Idempotency-Key"); !ok {
		req.Header["Idempotency-Key"] = id
	}
	c.effect(tandem.Effect{ID: id, Kind: tandem.EffectHTTP, Await: true, HTTP: req})
	c.trace(s, "", map[string]any{"method": req.Method, "url": req.URL, "headers": req.Header, "body": req.Body}, nil, "")
	return c.wait(false, zeroTime, id)
}

func (httpHandler) resume(c *cursor, s *flow.Step, ev *tandem.Event) outcome {
	b := s.Body.(*flow.HTTPStep)
	r := ev.Result
	res := r.HTTP
	if res == nil {
		res = &tandem.HTTPResult{Error: firstNonEmpty(r.Error, "the call produced no result")}
	}
	out := httpOutputs(res)
	c.output(s, out)
	if !res.OK() {
		msg := out["error"].(string)
		c.trace(s, "result", nil, out, msg)
		return c.fail(s, b.OnError, msg)
	}
	for _, sv := range b.Save {
		v, ok := fromOutputs(out, sv.From)
		if !ok {
			v = nil
		}
		if err := c.assign(sv.Target, v, modeSet, ""); err != nil {
			c.trace(s, "result", nil, out, err.Error())
			return c.fail(s, b.OnError, err.Error())
		}
	}
	c.trace(s, "result", nil, out, "")
	return c.next(s)
}

// httpOutputs turns a result into the step's outputs: status, headers, response (parsed JSON,
// else text), error, duration_ms, attempts.
func httpOutputs(res *tandem.HTTPResult) map[string]any {
	headers := make(map[string]any, len(res.Header))
	for k, v := range res.Header {
		headers[strings.ToLower(k)] = v
	}
	out := map[string]any{
		"status": float64(res.Status), "headers": headers, "response": parseBody(res.Body),
		"duration_ms": float64(res.DurationMS), "attempts": float64(res.Attempts), "error": "",
	}
	switch {
	case res.Error != "":
		out["error"] = res.Error
	case res.Status < 200 || res.Status > 299:
		out["error"] = fmt.Sprintf("HTTP %d: %s", res.Status, clipText(strings.TrimSpace(res.Body), 200))
	}
	return out
}

func parseBody(body string) any {
	t := strings.TrimSpace(body)
	if t != "" && (t[0] == '{' || t[0] == '[' || t[0] == '"' || t == "true" || t == "false" || t == "null" || (t[0] >= '0' && t[0] <= '9') || t[0] == '-') {
		var v any
		if json.Unmarshal([]byte(t), &v) == nil {
			return v
		}
	}
	return body
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// fromOutputs reads a save's `from` path (response.id, status, ...) from a step's outputs.
func fromOutputs(out map[string]any, from string) (any, bool) {
	p, err := expr.ParsePath(from)
	if err != nil {
		return nil, false
	}
	if _, ok := out[p.Head()]; !ok {
		// A path that names no output reads the response: `from: id` is `response.id`.
		return expr.Walk(out["response"], p)
	}
	return expr.Walk(out, p)
}

// buildHTTP renders a request from an http step or an agent's HTTP tool.
func (c *cursor) buildHTTP(method string, u *expr.Template, headers, query map[string]expr.Template, body *flow.HTTPBody, timeout *flow.Duration, _ map[string]any) (*tandem.HTTPRequest, error) {
	req := &tandem.HTTPRequest{Method: strings.ToUpper(method), Header: map[string]string{}}
	if req.Method == "" {
		req.Method = "GET"
	}
	raw := strings.TrimSpace(c.render(u))
	pu, err := url.Parse(raw)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, fmt.Errorf("url %q is not an http(s) URL", raw)
	}
	if len(query) > 0 {
		q := pu.Query()
		for k, t := range query {
			q.Set(k, c.render(&t))
		}
		pu.RawQuery = q.Encode()
	}
	req.URL = pu.String()
	for k, t := range headers {
		req.Header[k] = c.render(&t)
	}
	if body != nil {
		ctype := ""
		switch {
		case body.JSON != nil:
			b, err := json.Marshal(body.JSON.Eval(scope{c}))
			if err != nil {
				return nil, fmt.Errorf("body: %v", err)
			}
			req.Body, ctype = string(b), "application/json"
		case body.JSONText != nil:
			text, err := body.JSONText.Render(scope{c})
			if err != nil {
				return nil, fmt.Errorf("body: %v", err)
			}
			req.Body, ctype = text, "application/json"
		case body.Form != nil:
			form := url.Values{}
			for k, t := range body.Form {
				form.Set(k, c.render(&t))
			}
			req.Body, ctype = form.Encode(), "application/x-www-form-urlencoded"
		case body.Text != nil:
			req.Body, ctype = c.render(body.Text), "text/plain; charset=utf-8"
		}
		if _, ok := headerValue(req.Header, "Content-Type"); !ok && ctype != "" {
			req.Header["Content-Type"] = ctype
		}
	}
	req.Timeout = flow.DefaultHTTPTimeout
	if timeout != nil && *timeout > 0 {
		req.Timeout = timeout.D()
	}
	if req.Timeout > flow.MaxHTTPTimeout {
		req.Timeout = flow.MaxHTTPTimeout
	}
	return req, nil
}

func headerValue(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// retryPolicy converts a step's retry into the effect's policy.
func retryPolicy(r *flow.Retry) tandem.RetryPolicy {
	if r == nil {
		return tandem.RetryPolicy{Attempts: 1}
	}
	p := tandem.RetryPolicy{Attempts: r.Attempts, Backoff: r.Backoff.D(), On: r.On}
	if p.Attempts < 1 {
		p.Attempts = 1
	}
	if len(p.On) == 0 {
		p.On = flow.DefaultRetryOn
	}
	if p.Backoff <= 0 {
		p.Backoff = time.Second
	}
	return p
}
