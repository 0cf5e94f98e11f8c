package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// maxAnswer caps a Bot API answer (not a file download).
const maxAnswer = 1 << 20

// BotError is a Bot API error answer: {"ok": false, "error_code", "description",
// "parameters": {"retry_after"}}.
type BotError struct {
	Code        int
	Description string
	RetryAfter  time.Duration
}

func (e *BotError) Error() string { return fmt.Sprintf("Telegram error %d: %s", e.Code, e.Description) }

// Platform returns the Bot API's error_code and description, for the message that failed.
func (e *BotError) Platform() (code, message string) {
	return strconv.Itoa(e.Code), e.Description
}

// body is a prepared request body with its content type.
type body struct {
	data        []byte
	contentType string
}

// call calls a Bot API method within the channel's timeout and decodes its result into out.
// Errors never contain the request's URL (it holds the token). A *BotError is wrapped for the
// runner: 429 with tandem.RetryAfter, 403 (blocked by the user) with tandem.ContactStopped,
// 5xx plain (retried), anything else tandem.Permanent.
func (c *Channel) call(ctx context.Context, method string, params any, out any) error {
	var b *body
	switch p := params.(type) {
	case *body:
		b = p
	default:
		data, err := json.Marshal(p)
		if err != nil {
			return tandem.Permanent(fmt.Errorf("telegram: %s: encode the request: %w", method, err))
		}
		b = &body{data, "application/json"}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/bot"+c.cfg.BotToken+"/"+method, bytes.NewReader(b.data))
	if err != nil {
		return tandem.Permanent(fmt.Errorf("telegram: %s: base_url is not a URL", method))
	}
	req.Header.Set("Content-Type", b.contentType)
	resp, err := c.deps.Client().Do(req)
	if err != nil {
		return fmt.Errorf("telegram: %s: %w", method, unwrapURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("telegram: %s: the answer was cut", method)
	}
	var res struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if json.Unmarshal(data, &res) != nil {
		err := &BotError{Code: resp.StatusCode, Description: fmt.Sprintf("the Bot API answered %d without JSON", resp.StatusCode)}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return err
		}
		return tandem.Permanent(err)
	}
	if res.OK {
		if out != nil && len(res.Result) > 0 {
			if err := json.Unmarshal(res.Result, out); err != nil {
				return fmt.Errorf("telegram: %s: the result is not what was expected: %w", method, err)
			}
		}
		return nil
	}
	be := &BotError{Code: firstCode(res.ErrorCode, resp.StatusCode), Description: res.Description}
	switch {
	case be.Code == http.StatusTooManyRequests:
		be.RetryAfter = time.Duration(res.Parameters.RetryAfter) * time.Second
		if be.RetryAfter <= 0 {
			be.RetryAfter = retryAfterIn(res.Description)
		}
		return tandem.RetryAfter(be, be.RetryAfter)
	case be.Code >= 500:
		return be
	case be.Code == http.StatusForbidden:
		return tandem.ContactStopped(be)
	case be.Code == http.StatusUnauthorized || be.Code == http.StatusNotFound:
		c.deps.Log().Error("telegram: the bot token was refused; check bot_token (BotFather's /token)", "channel", c.id, "method", method, "code", be.Code)
	}
	return tandem.Permanent(be)
}

func firstCode(codes ...int) int {
	for _, c := range codes {
		if c != 0 {
			return c
		}
	}
	return 0
}

var retryIn = regexp.MustCompile(`retry after (\d+)`)

// retryAfterIn reads "Too Many Requests: retry after 35"; 30 s when it says nothing.
func retryAfterIn(description string) time.Duration {
	if m := retryIn.FindStringSubmatch(description); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return 30 * time.Second
}

// unwrapURL drops the URL (which holds the token) from a client error.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("the Bot API did not answer in time")
		}
		return fmt.Errorf("the Bot API did not answer: %s", strings.ReplaceAll(ue.Err.Error(), ue.URL, "<url>"))
	}
	return err
}

// tooLarge is a file over the cap.
type tooLarge struct{ limit int64 }

func (e *tooLarge) Error() string {
	return fmt.Sprintf("the file has more than %d bytes; larger files are not kept", e.limit)
}

// download fetches a file by its path (from getFile); its URL holds the token and is neither
// logged nor kept.
func (c *Channel) download(ctx context.Context, path string, limit int64) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/file/bot"+c.cfg.BotToken+"/"+path, nil)
	if err != nil {
		return nil, "", tandem.Permanent(errors.New("telegram: the file path is not a path"))
	}
	resp, err := c.deps.Client().Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("telegram: download: %w", unwrapURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		err := fmt.Errorf("telegram: download: answered %d", resp.StatusCode)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			err = tandem.Permanent(err)
		}
		return nil, "", err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", errors.New("telegram: download: cut")
	}
	if int64(len(data)) > limit {
		return nil, "", &tooLarge{limit}
	}
	ctype, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return data, strings.TrimSpace(ctype), nil
}
