package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/safehttp"
)

// maxAnswer caps a Graph API answer (not a media download).
const maxAnswer = 1 << 20

// GraphError is an error answer of the Graph API: {"error": {"message", "type", "code",
// "error_data": {"details"}, "fbtrace_id"}}.
type GraphError struct {
	Status  int
	Code    int
	Message string
	Details string
	Type    string
	TraceID string
}

func (e *GraphError) Error() string {
	return fmt.Sprintf("WhatsApp error %d: %s", e.Code, e.text())
}

// Platform returns WhatsApp's code ("" when the answer had none) and text, for the message
// that failed.
func (e *GraphError) Platform() (code, message string) {
	if e.Code >= 0 {
		code = strconv.Itoa(e.Code)
	}
	return code, e.text()
}

// text is the error's message with its details.
func (e *GraphError) text() string {
	if e.Details != "" && !strings.Contains(e.Message, e.Details) {
		return e.Message + " (" + e.Details + ")"
	}
	return e.Message
}

// Error codes and how they are handled (contract: WhatsApp's error codes).
var (
	// throttled codes are retried after Retry-After, else after the wait given.
	throttled = map[int]time.Duration{
		130429: 5 * time.Second,  // throughput reached
		131056: 6 * time.Second,  // pair rate limit: one message every 6 s to one user
		4:      time.Minute,      // app call-rate limit
		80007:  time.Minute,      // WABA call-rate limit
		613:    time.Minute,      // call-rate limit (courier)
		131048: time.Minute,      // spam-rate limit
		131064: 30 * time.Minute, // messaging restriction: lifted after Meta's enforcement period
	}
	// temporary codes are retried with the runner's backoff.
	temporary = []int{1, 2, 131000, 131016, 133004, 131057, 131053}
	// unhealthy codes mean the token cannot send at all: an operator must act.
	unhealthy = []int{0, 190, 3, 10, 368, 131031, 131042, 131045, 133010}
)

// CodeReengagement is the code of a send outside the customer's 24-hour window.
const CodeReengagement = 131047

// call makes one Graph API call within the channel's timeout. A non-2xx answer is a
// *GraphError wrapped for the runner: throttling with tandem.RetryAfter, temporary errors plain
// (retried with backoff), anything else tandem.Permanent.
func (c *Channel) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case *multipartBody:
		rd, ctype = bytes.NewReader(b.data), b.contentType
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return tandem.Permanent(fmt.Errorf("whatsapp: encode the request: %w", err))
		}
		rd, ctype = bytes.NewReader(data), "application/json"
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return tandem.Permanent(fmt.Errorf("whatsapp: base_url %q: %w", c.base, err))
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.AccessToken)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.deps.Client().Do(req)
	if err != nil {
		return fmt.Errorf("whatsapp: the Graph API did not answer: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("whatsapp: the Graph API's answer was cut: %w", err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("whatsapp: the Graph API answered %d with no JSON: %w", resp.StatusCode, err)
		}
		return nil
	}
	return c.classify(resp, data)
}

// classify turns an error answer into an error the runner acts on.
func (c *Channel) classify(resp *http.Response, data []byte) error {
	var body struct {
		Error struct {
			Message   string `json:"message"`
			Type      string `json:"type"`
			Code      int    `json:"code"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
			FBTraceID string `json:"fbtrace_id"`
		} `json:"error"`
	}
	ge := &GraphError{Status: resp.StatusCode, Code: -1}
	if json.Unmarshal(data, &body) == nil && body.Error.Message != "" {
		e := body.Error
		ge.Code, ge.Message, ge.Details, ge.Type, ge.TraceID = e.Code, e.Message, e.ErrorData.Details, e.Type, e.FBTraceID
	} else {
		ge.Message = fmt.Sprintf("the Graph API answered %d", resp.StatusCode)
	}
	after := safehttp.RetryAfter(resp.Header, c.deps.Now())
	if wait, ok := throttled[ge.Code]; ok || resp.StatusCode == http.StatusTooManyRequests {
		if after <= 0 {
			after = wait
		}
		if after <= 0 {
			after = 30 * time.Second
		}
		return tandem.RetryAfter(ge, after)
	}
	if slices.Contains(unhealthy, ge.Code) {
		c.deps.Log().Error("whatsapp: the access token cannot send; renew it or fix the app's permissions", "channel", c.id, "code", ge.Code, "error", ge.Message)
		return tandem.Permanent(ge)
	}
	if slices.Contains(temporary, ge.Code) || resp.StatusCode >= 500 {
		if after > 0 {
			return tandem.RetryAfter(ge, after)
		}
		return ge
	}
	if ge.Code == -1 {
		c.deps.Log().Warn("whatsapp: the Graph API answered an error without a code", "channel", c.id, "status", resp.StatusCode, "body", clip(string(data), 300))
	}
	return tandem.Permanent(ge)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
