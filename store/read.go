package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tandemchat/tandem"
)

// ConversationInfo is a conversation with what the API shows about it.
type ConversationInfo struct {
	tandem.Conversation
	Handoff   string `json:"handoff"`
	RunID     string `json:"run_id,omitempty"`
	RunStatus string `json:"run_status,omitempty"`
	State     []byte `json:"-"`
}

// ConversationGet returns a conversation with its engine state.
func (db *DB) ConversationGet(ctx context.Context, id string) (*ConversationInfo, error) {
	info, err := scanInfo(db.read(ctx).row(`SELECT `+infoCols+` FROM conversations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Conversation", id)
	} else if err != nil {
		return nil, fmt.Errorf("conversation %s: %w", id, err)
	}
	return info, nil
}

// infoCols are the columns scanInfo reads.
const infoCols = conversationCols + `, state, handoff, run_id, run_status`

func scanInfo(row interface{ Scan(...any) error }) (*ConversationInfo, error) {
	var info ConversationInfo
	c := &info.Conversation
	var paused int
	var data, state string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.ContactID, &c.ChannelID, &c.ChannelKind, &c.Status, &c.Team, &c.Assignee,
		&paused, &data, &created, &updated, &state, &info.Handoff, &info.RunID, &info.RunStatus); err != nil {
		return nil, err
	}
	c.BotPaused = paused != 0
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	var d convData
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return nil, fmt.Errorf("conversation %s: %w", c.ID, err)
	}
	d.apply(c)
	info.State = []byte(state)
	return &info, nil
}

// ContactGet returns a contact.
func (db *DB) ContactGet(ctx context.Context, id string) (*tandem.Contact, error) {
	return db.read(ctx).contact(id)
}

// MessagesParams selects messages of a conversation.
type MessagesParams struct {
	ConversationID string
	// After is a message id; only later messages are returned ("" for all).
	After string
	Limit int
}

// Messages returns a conversation's messages, oldest first.
func (db *DB) Messages(ctx context.Context, p MessagesParams) ([]tandem.Message, error) {
	q := db.read(ctx)
	var after int64
	if p.After != "" {
		if err := q.row(`SELECT seq FROM messages WHERE conversation_id = ? AND id = ?`, p.ConversationID, p.After).Scan(&after); errors.Is(err, sql.ErrNoRows) {
			return nil, tandem.Errorf(tandem.EINVALID, "after: message %q is not in conversation %q.", p.After, p.ConversationID)
		} else if err != nil {
			return nil, fmt.Errorf("messages: %w", err)
		}
	}
	if p.Limit <= 0 {
		p.Limit = 100
	}
	rows, err := q.query(`SELECT id, direction, author, type, text, data, channel_message_id, status, error_code, error_message, created_at FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		p.ConversationID, after, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	defer rows.Close()
	var out []tandem.Message
	for rows.Next() {
		m := tandem.Message{ConversationID: p.ConversationID}
		var data, code, why string
		var created int64
		if err := rows.Scan(&m.ID, &m.Direction, &m.Author, &m.Type, &m.Text, &data, &m.ChannelMessageID, &m.Status, &code, &why, &created); err != nil {
			return nil, err
		}
		m.Error = messageError(m.Status, code, why)
		var d messageData
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return nil, fmt.Errorf("message %s: %w", m.ID, err)
		}
		d.apply(&m)
		m.CreatedAt = fromMicros(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

// messageError is why an outbound message failed, from its status and error columns: nil for
// a message that did not fail, or failed for no reason told.
func messageError(status, code, why string) *tandem.MessageError {
	if status != "failed" || (code == "" && why == "") {
		return nil
	}
	return &tandem.MessageError{Code: code, Message: why}
}

// RunGet returns a run.
func (db *DB) RunGet(ctx context.Context, id string) (*tandem.Run, error) {
	r, err := scanRun(db.read(ctx).row(`SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Run", id)
	} else if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	return r, nil
}

const runCols = `conversation_id, id, flow_id, flow_version, status, reason, error, step, data, started_at, updated_at, ended_at`

func scanRun(row interface{ Scan(...any) error }) (*tandem.Run, error) {
	var r tandem.Run
	var data string
	var started, updated int64
	var ended sql.NullInt64 // NULL while the run goes on
	if err := row.Scan(&r.ConversationID, &r.ID, &r.FlowID, &r.FlowVersion, &r.Status, &r.Reason, &r.Error, &r.Step, &data, &started, &updated, &ended); err != nil {
		return nil, err
	}
	var d runData
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return nil, fmt.Errorf("run %s: %w", r.ID, err)
	}
	r.Usage, r.Path, r.At = d.Usage, d.Path, d.At
	r.StartedAt, r.UpdatedAt = fromMicros(started), fromMicros(updated)
	if ended.Valid {
		t := fromMicros(ended.Int64)
		r.EndedAt = &t
	}
	return &r, nil
}

// RunTrace returns the steps a run executed, in order.
func (db *DB) RunTrace(ctx context.Context, conversationID, runID string) ([]tandem.StepTrace, error) {
	rows, err := db.read(ctx).query(`SELECT seq, step, type, data, started_at, duration_us FROM run_steps WHERE conversation_id = ? AND run_id = ? ORDER BY seq`, conversationID, runID)
	if err != nil {
		return nil, fmt.Errorf("run %s: trace: %w", runID, err)
	}
	defer rows.Close()
	var out []tandem.StepTrace
	for rows.Next() {
		t := tandem.StepTrace{RunID: runID}
		var data string
		var started int64
		if err := rows.Scan(&t.Seq, &t.Step, &t.Type, &data, &started, &t.DurationUS); err != nil {
			return nil, err
		}
		if t.Type == stepsRow {
			var steps []traceStep
			if err := json.Unmarshal([]byte(data), &steps); err != nil {
				return nil, fmt.Errorf("run %s: trace at step %d: %w", runID, t.Seq, err)
			}
			for _, s := range steps {
				out = append(out, tandem.StepTrace{RunID: runID, Seq: s.Seq, Step: s.Step, Type: s.Type, StartedAt: fromMicros(s.StartedAt),
					DurationUS: s.DurationUS, Input: s.Input, Output: s.Output, Next: s.Next, Error: s.Error, FlowID: s.Flow})
			}
			continue
		}
		var d struct {
			Input  map[string]any `json:"input"`
			Output map[string]any `json:"output"`
			Next   string         `json:"next"`
			Error  string         `json:"error"`
			Flow   string         `json:"flow"`
		}
		_ = json.Unmarshal([]byte(data), &d)
		t.Input, t.Output, t.Next, t.Error, t.FlowID = d.Input, d.Output, d.Next, d.Error, d.Flow
		t.StartedAt = fromMicros(started)
		out = append(out, t)
	}
	return out, rows.Err()
}

// Runs returns a conversation's runs, oldest first.
func (db *DB) Runs(ctx context.Context, conversationID string) ([]tandem.Run, error) {
	rows, err := db.read(ctx).query(`SELECT `+runCols+` FROM runs WHERE conversation_id = ? ORDER BY started_at, id`, conversationID)
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	defer rows.Close()
	var out []tandem.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("runs: %w", err)
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

// RunListParams pages through one conversation's runs.
type RunListParams struct {
	ConversationID string
	// Before is a cursor: RunList's next cursor of the previous page.
	Before string
	Limit  int // 1–500; default 50
}

// RunList returns a page of a conversation's runs, the most recently started first, and the
// cursor of the next page ("" on the last). The runs are read by the primary key's prefix.
func (db *DB) RunList(ctx context.Context, p RunListParams) ([]tandem.Run, string, error) {
	where, args := "conversation_id = ?", []any{p.ConversationID}
	if p.Before != "" {
		t, id, err := parseCursor(p.Before)
		if err != nil {
			return nil, "", err
		}
		where += " AND (started_at < ? OR (started_at = ? AND id < ?))"
		args = append(args, t, t, id)
	}
	if p.Limit <= 0 || p.Limit > 500 {
		p.Limit = 50
	}
	args = append(args, p.Limit)
	rows, err := db.read(ctx).query(`SELECT `+runCols+` FROM runs WHERE `+where+` ORDER BY started_at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("runs of %s: %w", p.ConversationID, err)
	}
	defer rows.Close()
	var out []tandem.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, "", fmt.Errorf("runs of %s: %w", p.ConversationID, err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("runs of %s: %w", p.ConversationID, err)
	}
	next := ""
	if len(out) == p.Limit {
		last := out[len(out)-1]
		next = cursorOf(last.StartedAt, last.ID)
	}
	return out, next, nil
}

// ConversationUsage returns the AI calls and tokens of all of a conversation's runs, summed in
// one aggregate over the conversation's rows of runs (a prefix of their primary key).
func (db *DB) ConversationUsage(ctx context.Context, conversationID string) (tandem.Usage, error) {
	// The usage lives in the runs' JSON data (runData). Both databases store it as TEXT: SQLite
	// reads it with json_extract, PostgreSQL casts it to jsonb. SUM over no runs is NULL, and
	// PostgreSQL's SUM of bigint is numeric, hence the COALESCE and the final cast.
	query := `SELECT COALESCE(SUM(json_extract(data, '$.usage.calls')), 0), COALESCE(SUM(json_extract(data, '$.usage.input_tokens')), 0),
 COALESCE(SUM(json_extract(data, '$.usage.output_tokens')), 0) FROM runs WHERE conversation_id = ?`
	if db.dialect == Postgres {
		query = `SELECT COALESCE(SUM((data::jsonb #>> '{usage,calls}')::bigint), 0)::bigint, COALESCE(SUM((data::jsonb #>> '{usage,input_tokens}')::bigint), 0)::bigint,
 COALESCE(SUM((data::jsonb #>> '{usage,output_tokens}')::bigint), 0)::bigint FROM runs WHERE conversation_id = ?`
	}
	var calls, in, out int64
	if err := db.read(ctx).row(query, conversationID).Scan(&calls, &in, &out); err != nil {
		return tandem.Usage{}, fmt.Errorf("conversation %s: usage: %w", conversationID, err)
	}
	return tandem.Usage{Calls: int(calls), InputTokens: int(in), OutputTokens: int(out)}, nil
}

// Notes returns a conversation's internal notes, oldest first.
func (db *DB) Notes(ctx context.Context, conversationID string) ([]tandem.Note, error) {
	return db.NotesSince(ctx, conversationID, time.Time{})
}

// Notifications returns a conversation's internal notifications, oldest first.
func (db *DB) Notifications(ctx context.Context, conversationID string) ([]tandem.Notification, error) {
	rows, err := db.read(ctx).query(`SELECT team, agent, text FROM notifications WHERE conversation_id = ? ORDER BY created_at, id`, conversationID)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	defer rows.Close()
	var out []tandem.Notification
	for rows.Next() {
		var n tandem.Notification
		if err := rows.Scan(&n.Team, &n.Agent, &n.Text); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
