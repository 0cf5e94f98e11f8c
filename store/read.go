package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

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
	q := db.read(ctx)
	var info ConversationInfo
	c, state, _, err := q.conversation(`SELECT `+conversationCols+`, state, done_seq FROM conversations WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	info.Conversation, info.State = *c, []byte(state)
	if err := q.row(`SELECT handoff, run_id, run_status FROM conversations WHERE id = ?`, id).Scan(&info.Handoff, &info.RunID, &info.RunStatus); err != nil {
		return nil, fmt.Errorf("conversation %s: %w", id, err)
	}
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
	rows, err := q.query(`SELECT id, direction, author, type, text, data, channel_message_id, status, created_at FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		p.ConversationID, after, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	defer rows.Close()
	var out []tandem.Message
	for rows.Next() {
		m := tandem.Message{ConversationID: p.ConversationID}
		var data, status string
		var created int64
		if err := rows.Scan(&m.ID, &m.Direction, &m.Author, &m.Type, &m.Text, &data, &m.ChannelMessageID, &status, &created); err != nil {
			return nil, err
		}
		var d messageData
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return nil, fmt.Errorf("message %s: %w", m.ID, err)
		}
		m.Buttons, m.Render, m.Media, m.Location, m.Option, m.AgentID = d.Buttons, d.Render, d.Media, d.Location, d.Option, d.Agent
		m.CreatedAt = fromMicros(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

// RunGet returns a run.
func (db *DB) RunGet(ctx context.Context, id string) (*tandem.Run, error) {
	return db.read(ctx).run(`WHERE id = ?`, id)
}

func (q q) run(where string, args ...any) (*tandem.Run, error) {
	var r tandem.Run
	var data string
	var started, updated int64
	var ended sql.NullInt64
	err := q.row(`SELECT conversation_id, id, flow_id, flow_version, status, reason, error, step, data, started_at, updated_at, ended_at FROM runs `+where, args...).
		Scan(&r.ConversationID, &r.ID, &r.FlowID, &r.FlowVersion, &r.Status, &r.Reason, &r.Error, &r.Step, &data, &started, &updated, &ended)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Run", fmt.Sprint(args[len(args)-1]))
	} else if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	var d runData
	_ = json.Unmarshal([]byte(data), &d)
	r.Usage = d.Usage
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
	rows, err := db.read(ctx).query(`SELECT id FROM runs WHERE conversation_id = ? ORDER BY started_at, id`, conversationID)
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	var out []tandem.Run
	for _, id := range ids {
		r, err := db.read(ctx).run(`WHERE conversation_id = ? AND id = ?`, conversationID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// Notes returns a conversation's internal notes, oldest first.
func (db *DB) Notes(ctx context.Context, conversationID string) ([]tandem.Note, error) {
	rows, err := db.read(ctx).query(`SELECT id, author, text, created_at FROM notes WHERE conversation_id = ? ORDER BY created_at, id`, conversationID)
	if err != nil {
		return nil, fmt.Errorf("notes: %w", err)
	}
	defer rows.Close()
	var out []tandem.Note
	for rows.Next() {
		n := tandem.Note{ConversationID: conversationID}
		var created int64
		if err := rows.Scan(&n.ID, &n.Author, &n.Text, &created); err != nil {
			return nil, err
		}
		n.CreatedAt = fromMicros(created)
		out = append(out, n)
	}
	return out, rows.Err()
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
