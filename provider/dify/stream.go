package dify

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/aihttp"
)

// errIdle is the cause of a request canceled because its stream stalled.
var errIdle = errors.New("dify: the answer stream stalled")

// state is what has been read of an answer so far.
type state struct {
	text           string
	agentText      bool // agent_message chunks were seen (a later message event is the whole answer)
	files          []string
	conversationID string
	taskID         string
	meta           Metadata
	ended          bool // message_end
	workflow       bool // a Chatflow: workflow_finished follows message_end
	wfStatus       string
	wfError        string
	gone           bool // the error means the conversation cannot be continued
}

// Event is one `data:` line of Dify's event stream (the fields Tandem reads).
type Event struct {
	Event          string          `json:"event"`
	TaskID         string          `json:"task_id"`
	MessageID      string          `json:"message_id"`
	ConversationID string          `json:"conversation_id"`
	Answer         string          `json:"answer"`
	Status         json.RawMessage `json:"status"` // error: the HTTP status
	Code           string          `json:"code"`
	Message        string          `json:"message"`
	BelongsTo      string          `json:"belongs_to"`
	URL            string          `json:"url"`
	Metadata       Metadata        `json:"metadata"`
	Data           json.RawMessage `json:"data"`
}

func (p *Provider) idle() time.Duration {
	if p.IdleTimeout > 0 {
		return p.IdleTimeout
	}
	return DefaultIdleTimeout
}

// readStream reads an event stream to its terminal event. Each line (pings included) resets
// the idle timer, which cancels the request through stop when it fires. A stream that ends
// without its terminal event is a temporary failure.
func (p *Provider) readStream(ctx context.Context, stop context.CancelCauseFunc, body io.Reader) (*state, error) {
	idle := p.idle()
	timer := time.AfterFunc(idle, func() { stop(errIdle) })
	defer timer.Stop()
	r := bufio.NewReaderSize(io.LimitReader(body, maxStream), 64<<10)
	st := &state{}
	var data []string
	for {
		raw, rerr := r.ReadString('\n')
		if raw != "" {
			timer.Reset(idle)
		}
		line := strings.TrimRight(raw, "\r\n")
		if line == "" && rerr == nil {
			done, err := p.dispatch(st, data, false)
			if err != nil || done {
				return st, err
			}
			data = data[:0]
			continue
		}
		// Only data lines matter: `event: ping`, comments, id and retry lines merely prove the
		// stream alive (Dify dispatches on the JSON's event field).
		if field, value, _ := strings.Cut(line, ":"); field == "data" {
			data = append(data, strings.TrimPrefix(value, " "))
		}
		if rerr != nil {
			if rerr == io.EOF && len(data) > 0 {
				// A last event without its blank line: whole if its JSON is.
				done, err := p.dispatch(st, data, true)
				if err != nil || done {
					return st, err
				}
			}
			return st, p.endOfStream(ctx, st, rerr)
		}
	}
}

// endOfStream decides what a stream that closed (or failed) before a terminal event means.
func (p *Provider) endOfStream(ctx context.Context, st *state, rerr error) error {
	switch {
	case st.wfStatus == "failed" || st.wfStatus == "stopped":
		msg := fmt.Sprintf("%s: the Chatflow run %s", p.name(), st.wfStatus)
		if st.wfError != "" {
			msg += ": " + aihttp.OneLine(st.wfError)
		}
		return &tandem.AIError{Message: p.redact(msg)}
	case st.ended || st.wfStatus == "succeeded" || st.wfStatus == "partial-succeeded":
		return nil
	case rerr != io.EOF && context.Cause(ctx) != nil:
		return p.transportError(ctx, rerr)
	}
	return p.cutError()
}

func (p *Provider) cutError() *tandem.AIError {
	return &tandem.AIError{Message: p.name() + "'s answer stream ended before the answer was complete", Temporary: true}
}

// dispatch applies one event; done reports a terminal event.
func (p *Provider) dispatch(st *state, data []string, atEOF bool) (bool, error) {
	payload := strings.TrimSpace(strings.Join(data, "\n"))
	if payload == "" {
		return false, nil
	}
	var ev Event
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		if atEOF {
			return true, p.cutError()
		}
		return true, p.malformed("sent a stream event", []byte(payload), err)
	}
	if st.conversationID == "" {
		st.conversationID = ev.ConversationID
	}
	if st.taskID == "" {
		st.taskID = ev.TaskID
	}
	switch ev.Event {
	case "message":
		if st.agentText {
			st.text = ev.Answer // New Agent: the closing message is the whole answer
		} else {
			st.text += ev.Answer
		}
	case "agent_message":
		st.text += ev.Answer
		st.agentText = true
	case "message_replace":
		st.text = ev.Answer // moderation replaced the answer
	case "message_file":
		if ev.URL != "" && (ev.BelongsTo == "" || ev.BelongsTo == "assistant") {
			st.files = append(st.files, p.absolute(ev.URL))
		}
	case "message_end":
		st.ended, st.meta = true, ev.Metadata
		return !st.workflow, nil
	case "workflow_started":
		st.workflow = true
	case "workflow_finished":
		var d struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		st.wfStatus, st.wfError = d.Status, d.Error
		// A failed run is followed by an error event that says why.
		return d.Status != "failed" && d.Status != "stopped", nil
	case "human_input_required", "workflow_paused":
		return true, p.pauseError()
	case "error":
		status, _ := strconv.Atoi(strings.Trim(string(ev.Status), `"`))
		st.gone = isGone(status, ev.Code) && st.text == ""
		return true, p.apiError(status, envelope{Code: ev.Code, Message: ev.Message}, 0)
	}
	return false, nil
}

// absolute resolves a file URL that Dify gives relative to its host.
func (p *Provider) absolute(u string) string {
	if !strings.HasPrefix(u, "/") {
		return u
	}
	base, err := url.Parse(p.baseURL())
	if err != nil {
		return u
	}
	ref, err := url.Parse(u)
	if err != nil {
		return u
	}
	return base.ResolveReference(ref).String()
}
