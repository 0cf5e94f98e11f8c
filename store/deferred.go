package store

import (
	"fmt"
	"strings"

	"github.com/tandemchat/tandem"
)

// rowsAtEnd gathers, over the turns one write commits together (a chunk of fired timers), the rows
// that no later statement of the write reads — the messages sent, the runs, the trace — and
// inserts them at the end of the write, many rows a statement: on SQLite a statement costs
// more than the row it inserts.
type rowsAtEnd struct {
	msgs  []any // endMsgCols values a message
	runs  []any // endRunCols values a run
	runOf map[[2]string]bool
	trace []any // endTraceCols values a step
	// pending, once readLanes read it, holds the lanes with a pending effect of the write's
	// conversations (known): a turn's sends go inline only behind none (insertEffects), and
	// one statement asks for the chunk instead of one a turn. A conversation whose commit
	// completed sends first (foldDone) is no longer known.
	pending map[[2]string]bool
	known   map[string]bool
}

// readLanes reads which lanes of the conversations convs have a pending effect. Only a turn's
// commit adds one, after its update of the conversation: on SQLite the single writer runs
// nothing else meanwhile; on PostgreSQL (one round trip a chunk instead of one a turn) a turn
// of one of them committed after this read, or still writing during it, changed the
// conversation's version, and the chunk's update of it then fails its check (the chunk is
// written again conversation by conversation), while one after that update waits for the
// chunk and fails its own. An effect completed meanwhile only keeps a send out of line. The
// list is padded to TimerChunk (repeating the first), so that the statement is one text.
func (l *rowsAtEnd) readLanes(q q, convs []string) error {
	if len(convs) == 0 || len(convs) > TimerChunk {
		return nil
	}
	args := make([]any, 0, TimerChunk)
	for _, c := range convs {
		args = append(args, c)
	}
	for len(args) < TimerChunk {
		args = append(args, convs[0])
	}
	rows, err := q.query(`SELECT DISTINCT conversation_id, lane FROM outbox WHERE conversation_id IN (`+placeholders(TimerChunk)+`) AND status = 'pending'`, args...)
	if err != nil {
		return fmt.Errorf("outbox: lanes: %w", err)
	}
	defer rows.Close()
	l.pending, l.known = map[[2]string]bool{}, make(map[string]bool, len(convs))
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			return fmt.Errorf("outbox: lanes: %w", err)
		}
		l.pending[k] = true
	}
	for _, c := range convs {
		l.known[c] = true
	}
	return rows.Err()
}

// lanePending reports whether conv's lane has a pending effect, when readLanes knows.
func (l *rowsAtEnd) lanePending(conv, lane string) (pending, known bool) {
	if l == nil || !l.known[conv] {
		return false, false
	}
	return l.pending[[2]string{conv, lane}], true
}

// forget marks conv's lanes as no longer known.
func (l *rowsAtEnd) forget(conv string) {
	if l != nil {
		delete(l.known, conv)
	}
}

const (
	endMsgCols   = 10
	endRunCols   = 12
	endTraceCols = 8
	// endRows is how many rows a statement inserts at most: a chunk's messages or runs in one.
	// The rest go in statements of half as many, and so on, so that a few texts (each
	// prepared once) insert any number in a few statements.
	endRows = TimerChunk
)

// message adds a message's row; data is its data column.
func (l *rowsAtEnd) message(m *tandem.Message, seq int64, data string) {
	l.msgs = append(l.msgs, m.ConversationID, m.ID, seq, m.Direction, m.Author, m.Type, m.Text, data, m.ChannelMessageID, micros(m.CreatedAt))
}

// run adds a run's row (data its data column); false when the write already has one for that run (an upsert may
// change a row once a statement on PostgreSQL): the caller writes it at once, after flushing
// the runs gathered.
func (l *rowsAtEnd) run(r *tandem.Run, data string) bool {
	key := [2]string{r.ConversationID, r.ID}
	if l.runOf[key] {
		return false
	}
	if l.runOf == nil {
		l.runOf = map[[2]string]bool{}
	}
	l.runOf[key] = true
	var ended any
	if r.EndedAt != nil {
		ended = micros(*r.EndedAt)
	}
	l.runs = append(l.runs, r.ConversationID, r.ID, r.FlowID, r.FlowVersion, r.Status, r.Reason, r.Error, r.Step, data, micros(r.StartedAt), micros(r.UpdatedAt), ended)
	return true
}

// steps adds trace rows; data holds each one's data column.
func (l *rowsAtEnd) steps(id string, trace []tandem.StepTrace, data []string) {
	for i, t := range trace {
		l.trace = append(l.trace, id, t.RunID, t.Seq, t.Step, t.Type, data[i], micros(t.StartedAt), t.DurationUS)
	}
}

const (
	insertMessages = `INSERT INTO messages (conversation_id, id, seq, direction, author, type, text, data, channel_message_id, created_at) VALUES `
	upsertRuns     = `INSERT INTO runs (conversation_id, id, flow_id, flow_version, status, reason, error, step, data, started_at, updated_at, ended_at) VALUES `
	upsertRunsSet  = `
ON CONFLICT (conversation_id, id) DO UPDATE SET status = excluded.status, reason = excluded.reason, error = excluded.error,
 step = excluded.step, data = excluded.data, updated_at = excluded.updated_at, ended_at = excluded.ended_at`
	insertSteps = `INSERT INTO run_steps (conversation_id, run_id, seq, step, type, data, started_at, duration_us) VALUES `
)

// flush inserts the rows gathered: runs first, then messages and steps.
func (l *rowsAtEnd) flush(q q) error {
	if err := l.flushRuns(q); err != nil {
		return err
	}
	if err := insertRows(q, insertMessages, "", endMsgCols, l.msgs); err != nil {
		return fmt.Errorf("message: insert: %w", err)
	}
	l.msgs = l.msgs[:0]
	if err := insertRows(q, insertSteps, "", endTraceCols, l.trace); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	l.trace = l.trace[:0]
	return nil
}

func (l *rowsAtEnd) flushRuns(q q) error {
	if err := insertRows(q, upsertRuns, upsertRunsSet, endRunCols, l.runs); err != nil {
		return fmt.Errorf("runs: %w", err)
	}
	l.runs = l.runs[:0]
	clear(l.runOf)
	return nil
}

// insertRows inserts rows of cols values each: endRows a statement, then the rest in
// statements of 16, 8, 4, 2 and 1 rows.
func insertRows(q q, head, tail string, cols int, vals []any) error {
	if q.db.dialect == SQLite {
		// OR FAIL: a statement that fails keeps the rows it inserted before, and SQLite then
		// needs no statement journal (a copy of each page the statement changes, to undo it
		// alone). Nothing is kept of a write that failed: its job is rolled back whole.
		head = strings.Replace(head, "INSERT INTO", "INSERT OR FAIL INTO", 1)
	}
	one := "(" + placeholders(cols) + ")"
	for len(vals) > 0 {
		n := endRows
		for n*cols > len(vals) {
			n /= 2
		}
		values := strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
		if _, err := q.exec(head+values+tail, vals[:n*cols]...); err != nil {
			return err
		}
		vals = vals[n*cols:]
	}
	return nil
}
