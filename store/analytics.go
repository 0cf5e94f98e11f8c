package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// recordAnalytics writes a turn's AI calls and handoffs (their latest state) for flow analytics.
func (q q) recordAnalytics(id string, calls []tandem.AICall, handoffs []tandem.HandoffRecord) error {
	for len(calls) > 0 {
		n := min(len(calls), traceRows)
		args := make([]any, 0, n*12)
		for _, c := range calls[:n] {
			errFlag := 0
			if c.Error {
				errFlag = 1
			}
			args = append(args, id, c.RunID, newID(), c.Step, c.Provider, c.Model, micros(c.StartedAt), c.DurationMS, errFlag, c.Status,
				c.Usage.InputTokens, c.Usage.OutputTokens)
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ")
		if _, err := q.exec(`INSERT INTO ai_calls (conversation_id, run_id, id, step, provider, model, started_at, duration_ms, error, status, input_tokens, output_tokens) VALUES `+values, args...); err != nil {
			return fmt.Errorf("process %s: AI calls: %w", id, err)
		}
		calls = calls[n:]
	}
	for _, h := range handoffs {
		if _, err := q.exec(`INSERT INTO handoffs (conversation_id, id, run_id, desk, team, status, queued_at, first_reply_at, ended_at, closed_by)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (conversation_id, id) DO UPDATE SET status = excluded.status, first_reply_at = excluded.first_reply_at,
 ended_at = excluded.ended_at, closed_by = excluded.closed_by`,
			id, h.ID, h.RunID, h.Desk, h.Team, h.Status, micros(h.QueuedAt), nullMicros(h.FirstReplyAt), nullMicros(h.EndedAt), h.ClosedBy); err != nil {
			return fmt.Errorf("process %s: handoff: %w", id, err)
		}
	}
	return nil
}

// AnalyticsParams selects the runs of a flow that FlowAnalytics counts.
type AnalyticsParams struct {
	FlowID string
	// Version is one published version (0: all versions).
	Version int
	// From and To bound the runs' start: From ≤ started_at < To; zero: unbounded.
	From, To time.Time
}

// FlowAnalytics is what a flow's runs did (docs/api.md, "Flow analytics").
type FlowAnalytics struct {
	Runs RunCounts
	// Steps are the steps runs entered or stopped at, by step id.
	Steps map[string]*StepCounts
	// Handoffs counts the handoffs the runs queued that a desk took; FirstReplyP50 is the
	// median time from queued to the first agent message, over those that got one (nil: none).
	Handoffs      int
	FirstReplyP50 *time.Duration
	// AI are the runs' AI calls by provider, sorted by provider.
	AI []ProviderCounts
}

// RunCounts counts runs by outcome. HandedOver counts runs that queued at least one handoff a
// desk took, whatever their status.
type RunCounts struct {
	Started, Completed, Expired, Failed, Canceled, HandedOver int
}

// StepCounts counts the runs that entered a step, and the runs that ended there without
// completing (expired, failed or canceled).
type StepCounts struct {
	Reached, Dropped int
}

// ProviderCounts sums one provider's AI calls; P50MS is their median latency in milliseconds.
type ProviderCounts struct {
	Provider                  string
	Calls, Errors             int
	InputTokens, OutputTokens int64
	P50MS                     float64
}

// FlowAnalytics counts a flow's runs, the steps they reached and dropped at, their handoffs and
// their AI calls. Every query reads the flow's runs through the runs_flow index (flow, start
// time) and joins handoffs and AI calls by their keys' prefix (conversation, run): the cost
// follows the runs selected, never the size of the messages or trace tables.
func (db *DB) FlowAnalytics(ctx context.Context, p AnalyticsParams) (*FlowAnalytics, error) {
	q := db.read(ctx)
	where, args := "r.flow_id = ?", []any{p.FlowID}
	if p.Version > 0 {
		where += " AND r.flow_version = ?"
		args = append(args, p.Version)
	}
	if !p.From.IsZero() {
		where += " AND r.started_at >= ?"
		args = append(args, micros(p.From))
	}
	if !p.To.IsZero() {
		where += " AND r.started_at < ?"
		args = append(args, micros(p.To))
	}
	a := &FlowAnalytics{Steps: map[string]*StepCounts{}}
	step := func(id string) *StepCounts {
		s := a.Steps[id]
		if s == nil {
			s = &StepCounts{}
			a.Steps[id] = s
		}
		return s
	}

	// Runs by status; dropped at the step of the flow each run ended on (runs.data's "at",
	// written since analytics exist; runs.step before).
	at := `COALESCE(json_extract(r.data, '$.at'), r.step)`
	if db.dialect == Postgres {
		at = `COALESCE(r.data::jsonb ->> 'at', r.step)`
	}
	rows, err := q.query(`SELECT r.status, `+at+`, COUNT(*) FROM runs r WHERE `+where+` GROUP BY r.status, `+at, args...)
	if err != nil {
		return nil, fmt.Errorf("analytics of %s: runs: %w", p.FlowID, err)
	}
	for rows.Next() {
		var status, stepID string
		var n int
		if err := rows.Scan(&status, &stepID, &n); err != nil {
			rows.Close()
			return nil, err
		}
		a.Runs.Started += n
		switch status {
		case tandem.RunCompleted:
			a.Runs.Completed += n
		case tandem.RunExpired:
			a.Runs.Expired += n
		case tandem.RunFailed:
			a.Runs.Failed += n
		case tandem.RunCanceled:
			a.Runs.Canceled += n
		}
		if status == tandem.RunExpired || status == tandem.RunFailed || status == tandem.RunCanceled {
			if stepID != "" {
				step(stepID).Dropped += n
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics of %s: runs: %w", p.FlowID, err)
	}

	// Steps reached: each run's path lists the steps it entered once each.
	// SQLite expands the JSON array with json_each, PostgreSQL with jsonb_array_elements_text.
	reached := `SELECT j.value, COUNT(*) FROM runs r, json_each(r.data, '$.path') j WHERE ` + where + ` GROUP BY j.value`
	if db.dialect == Postgres {
		reached = `SELECT j.value, COUNT(*) FROM runs r, jsonb_array_elements_text(COALESCE(r.data::jsonb -> 'path', '[]'::jsonb)) AS j(value) WHERE ` + where + ` GROUP BY j.value`
	}
	rows, err = q.query(reached, args...)
	if err != nil {
		return nil, fmt.Errorf("analytics of %s: steps: %w", p.FlowID, err)
	}
	for rows.Next() {
		var stepID string
		var n int
		if err := rows.Scan(&stepID, &n); err != nil {
			rows.Close()
			return nil, err
		}
		step(stepID).Reached += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics of %s: steps: %w", p.FlowID, err)
	}

	// Handoffs a desk took, the runs that queued them, and their first reply times.
	handoffs := ` FROM runs r JOIN handoffs h ON h.conversation_id = r.conversation_id AND h.run_id = r.id WHERE ` + where + ` AND h.status <> 'refused'`
	var replied int
	if err := q.row(`SELECT COUNT(*), COUNT(DISTINCT h.run_id), COUNT(h.first_reply_at)`+handoffs, args...).Scan(&a.Handoffs, &a.Runs.HandedOver, &replied); err != nil {
		return nil, fmt.Errorf("analytics of %s: handoffs: %w", p.FlowID, err)
	}
	if replied > 0 {
		m, err := q.median(`SELECT h.first_reply_at - h.queued_at`+handoffs+` AND h.first_reply_at IS NOT NULL`, args, replied)
		if err != nil {
			return nil, fmt.Errorf("analytics of %s: first replies: %w", p.FlowID, err)
		}
		d := time.Duration(m * float64(time.Microsecond))
		a.FirstReplyP50 = &d
	}

	// AI calls by provider, then each provider's median latency. PostgreSQL's SUM of integers
	// is numeric: the casts keep it an integer.
	calls := ` FROM runs r JOIN ai_calls c ON c.conversation_id = r.conversation_id AND c.run_id = r.id WHERE ` + where
	rows, err = q.query(`SELECT c.provider, COUNT(*), CAST(SUM(c.error) AS BIGINT), CAST(SUM(c.input_tokens) AS BIGINT), CAST(SUM(c.output_tokens) AS BIGINT)`+calls+` GROUP BY c.provider ORDER BY c.provider`, args...)
	if err != nil {
		return nil, fmt.Errorf("analytics of %s: AI calls: %w", p.FlowID, err)
	}
	for rows.Next() {
		var pc ProviderCounts
		if err := rows.Scan(&pc.Provider, &pc.Calls, &pc.Errors, &pc.InputTokens, &pc.OutputTokens); err != nil {
			rows.Close()
			return nil, err
		}
		a.AI = append(a.AI, pc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics of %s: AI calls: %w", p.FlowID, err)
	}
	for i := range a.AI {
		pc := &a.AI[i]
		m, err := q.median(`SELECT c.duration_ms`+calls+` AND c.provider = ?`, append(args[:len(args):len(args)], pc.Provider), pc.Calls)
		if err != nil {
			return nil, fmt.Errorf("analytics of %s: AI latency: %w", p.FlowID, err)
		}
		pc.P50MS = m
	}
	return a, nil
}

// median returns the median of the n values (n > 0) query selects: the middle one, or the mean
// of the two middle ones. The database sorts; only those one or two values come back.
func (q q) median(query string, args []any, n int) (float64, error) {
	limit := 2 - n%2
	rows, err := q.query(query+` ORDER BY 1 LIMIT ? OFFSET ?`, append(args[:len(args):len(args)], limit, (n-1)/2)...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var sum float64
	got := 0
	for rows.Next() {
		var v sql.NullFloat64
		if err := rows.Scan(&v); err != nil {
			return 0, err
		}
		sum += v.Float64
		got++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if got == 0 {
		return 0, nil
	}
	return sum / float64(got), nil
}
