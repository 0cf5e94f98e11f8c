package engine

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/expr"
	"github.com/tandemchat/tandem/flow"
)

// maxFrames bounds nested flow calls.
const maxFrames = 16

// outcome is what a step decided.
type outcome struct {
	kind   int
	next   string // step id; "" ends the frame
	status string // for kindEnd
	reason string
	err    string
}

const (
	kindNext = iota
	kindWait
	kindEnd
)

// handler runs one step type. Steps that wait also implement resumer.
type handler interface {
	enter(c *cursor, s *flow.Step) outcome
}

type resumer interface {
	resume(c *cursor, s *flow.Step, ev *tandem.Event) outcome
}

// handlers holds every step type the engine runs, by type name.
var handlers = map[string]handler{}

func register(typ string, h handler) { handlers[typ] = h }

// cursor is one event's work on one conversation.
type cursor struct {
	env     *Env
	in      *Input
	now     time.Time
	st      *State
	conv    *tandem.Conversation
	contact *tandem.Contact
	out     *Output
	flows   map[flowKey]*flow.Flow
	// current is the flow of the active run's frame, the last one looked up.
	current *flow.Flow
	// runDirty is set when the active run changed and needs a snapshot.
	runDirty bool
	// depth guards against a pending-message or start cascade.
	depth int
	// nextRunID is the id asked for the next run started (by the API).
	nextRunID string
	// pendingStart is a run a step asked to start once the current one ended (stop then_start,
	// flow replace); startRun starts it in its loop, so restarts do not recurse.
	pendingStart *pendingStart
	// first is set while handling the message that opened the conversation.
	first bool
	// mask masks the workspace secrets (made on first use).
	mask *masker
}

// pendingStart is a run to start after the current one ended.
type pendingStart struct {
	f     *flow.Flow
	m     *tandem.Message
	vars  map[string]any
	steps int
}

func newCursor(e *Env, in *Input) *cursor {
	if in.State == nil {
		in.State = &State{}
	}
	return &cursor{env: e, in: in, now: in.Now, st: in.State, conv: in.Conversation, contact: in.Contact,
		out: &Output{}, flows: map[flowKey]*flow.Flow{}}
}

func (c *cursor) id() string { return c.env.NewID() }

// flowKey names a published flow version.
type flowKey struct {
	id      string
	version int
}

// loadFlow returns a published flow version, cached for the event.
func (c *cursor) loadFlow(id string, version int) (*flow.Flow, error) {
	key := flowKey{id, version}
	if f, ok := c.flows[key]; ok {
		return f, nil
	}
	f, err := c.env.Flows.Version(id, version)
	if err != nil {
		return nil, err
	}
	c.flows[key] = f
	return f, nil
}

// flow returns the flow of the active run's current frame.
func (c *cursor) flow() *flow.Flow {
	r := c.st.Run
	if f := c.current; f != nil && f.ID == r.FlowID && f.Version == r.Version {
		return f
	}
	f, err := c.loadFlow(r.FlowID, r.Version)
	if err != nil {
		return nil
	}
	c.current = f
	return f
}

// settings returns the current flow's settings, or zero settings.
func (c *cursor) settings() flow.Settings {
	if c.st.Run != nil {
		if f := c.flow(); f != nil {
			return f.Settings
		}
	}
	return flow.Settings{}
}

func (c *cursor) language() string {
	if c.st.Run != nil {
		if f := c.flow(); f != nil && f.Settings.Language != "" {
			return f.Settings.Language
		}
	}
	if c.contact != nil && c.contact.Language != "" {
		return c.contact.Language
	}
	if c.env.Language != "" {
		return c.env.Language
	}
	return "en"
}

// ---- inbound messages ----

func (c *cursor) inbound(m *tandem.Message) {
	c.st.BotSpoke = false
	if c.st.Handoff.Active() {
		c.handoffInbound(m)
		return
	}
	if c.conv.BotPaused {
		return
	}
	if d := c.debounceFor(m); d > 0 {
		db := c.st.Debounce
		if db == nil {
			db = &Debounce{Window: d}
			c.st.Debounce = db
		} else if db.TimerID != "" {
			c.cancelTimer(db.TimerID)
		}
		db.Messages = append(db.Messages, *m)
		if !c.st.Started {
			db.First = true
		}
		db.Due = c.now.Add(d)
		db.TimerID = c.setTimer(db.Due, "debounce")
		return
	}
	c.deliver(m)
}

// debounceFor returns the debounce window that applies to a new message: that of a burst being
// collected, else the active run's flow's, else that of the flow the message would start.
func (c *cursor) debounceFor(m *tandem.Message) time.Duration {
	if db := c.st.Debounce; db != nil {
		return db.Window
	}
	var f *flow.Flow
	if c.st.Run != nil {
		f = c.flow()
	} else {
		f, _ = c.match(m, !c.st.Started)
	}
	if f == nil {
		return 0
	}
	return f.Settings.Debounce.D()
}

// flushDebounce merges the collected burst into one message and delivers it.
func (c *cursor) flushDebounce() {
	db := c.st.Debounce
	c.st.Debounce = nil
	if db == nil || len(db.Messages) == 0 {
		return
	}
	c.first = db.First
	c.deliver(mergeMessages(db.Messages))
	c.first = false
}

// mergeMessages joins texts with newlines; the last message gives id and kind.
func mergeMessages(ms []tandem.Message) *tandem.Message {
	merged := ms[len(ms)-1]
	var texts []string
	for _, m := range ms {
		if t := strings.TrimSpace(m.Text); t != "" {
			texts = append(texts, m.Text)
		}
	}
	merged.Text = strings.Join(texts, "\n")
	if len(ms) > 1 {
		merged.Variables = nil
		for _, m := range ms {
			for k, v := range m.Variables {
				if merged.Variables == nil {
					merged.Variables = map[string]any{}
				}
				merged.Variables[k] = v
			}
		}
	}
	if len(ms) > 1 && merged.Type == tandem.MessageOption && merged.Text != "" {
		merged.Type = tandem.MessageText
		merged.Option = ""
	}
	return &merged
}

// deliver gives a customer message to the active run, or starts a flow with it.
func (c *cursor) deliver(m *tandem.Message) {
	c.depth++
	defer func() { c.depth-- }()
	if c.st.Run != nil {
		if f := c.preemptor(m); f != nil {
			c.endRun(tandem.RunCanceled, tandem.ReasonPreempted, "")
			c.startRun(f, m, m.Variables)
			return
		}
		// Variables a message brings (a Telegram /start payload) are the active run's too.
		for k, v := range m.Variables {
			if c.st.Run.Vars == nil {
				c.st.Run.Vars = map[string]any{}
			}
			c.st.Run.Vars[k] = v
			c.runDirty = true
		}
		if w := c.st.Run.Wait; w != nil && w.Message {
			c.resume(&tandem.Event{Kind: tandem.EventMessage, Message: m, At: c.now})
			return
		}
		c.st.Pending = append(c.st.Pending, *m)
		return
	}
	if f, _ := c.match(m, !c.st.Started || c.first); f != nil {
		c.startRun(f, m, m.Variables)
	}
}

// takePending pops the messages that arrived while the run was busy, merged when the flow
// debounces.
func (c *cursor) takePending() *tandem.Message {
	if len(c.st.Pending) == 0 {
		return nil
	}
	if c.settings().Debounce > 0 {
		m := mergeMessages(c.st.Pending)
		c.st.Pending = nil
		return m
	}
	m := c.st.Pending[0]
	c.st.Pending = c.st.Pending[1:]
	if len(c.st.Pending) == 0 {
		c.st.Pending = nil
	}
	return &m
}

// ---- timers and results ----

func (c *cursor) timer(t *tandem.TimerFired) {
	if db := c.st.Debounce; db != nil && db.TimerID == t.ID {
		c.flushDebounce()
		return
	}
	if c.handoffTimer(t) {
		return
	}
	if r := c.st.Run; r != nil && r.Wait != nil && r.Wait.TimerID == t.ID {
		c.resume(&tandem.Event{Kind: tandem.EventTimer, Timer: t, At: c.now})
	}
	// Any other timer belongs to a wait that is over: nothing to do.
}

func (c *cursor) result(r *tandem.EffectResult) {
	if run := c.st.Run; run != nil && run.Wait != nil && run.Wait.EffectID == r.EffectID {
		c.resume(&tandem.Event{Kind: tandem.EventResult, Result: r, At: c.now})
		return
	}
	if c.handoffResult(r) {
		return
	}
	// A result nobody waits for (its run was canceled): ignore.
}

// delivery hands a channel's delivery report to the message step that waits on it; reports of
// messages no step waits on change nothing in the run.
func (c *cursor) delivery(d *tandem.Delivery) {
	if run := c.st.Run; d != nil && run != nil && run.Wait != nil && run.Wait.EffectID == d.MessageID {
		c.resume(&tandem.Event{Kind: tandem.EventDelivery, Delivery: d, At: c.now})
	}
}

func (c *cursor) startEvent(s *tandem.StartRun) {
	if s.Source == flow.OnConversationStart {
		if c.st.Run == nil && !c.conv.BotPaused {
			if f := c.matchStart(); f != nil {
				c.startRun(f, nil, s.Variables)
			}
		}
		return
	}
	f, err := c.env.Flows.Latest(s.FlowID)
	if err != nil {
		c.trace(nil, "start", map[string]any{"flow": s.FlowID}, nil, fmt.Sprintf("flow %q cannot start: %v", s.FlowID, err))
		return
	}
	if c.st.Run != nil {
		c.endRun(tandem.RunCanceled, tandem.ReasonPreempted, "")
	}
	c.nextRunID = s.RunID
	c.startRun(f, nil, s.Variables)
}

// ---- runs ----

// startRun begins a run of f with the message that started it (consumed: no question takes it
// as its answer) and extra variables.
func (c *cursor) startRun(f *flow.Flow, m *tandem.Message, vars map[string]any) {
	if c.depth > 32 {
		return
	}
	c.newRun(f, m, vars, 0)
	c.advance(nil)
}

// newRun makes a run of f the active one, at its first step.
func (c *cursor) newRun(f *flow.Flow, m *tandem.Message, vars map[string]any, steps int) {
	c.flows[flowKey{f.ID, f.Version}] = f
	id := c.nextRunID
	c.nextRunID = ""
	if id == "" {
		id = c.id()
	}
	run := &RunState{
		ID: id, FlowID: f.ID, Version: f.Version, Status: tandem.RunRunning, Steps: steps,
		StartedAt: c.now, Vars: c.initialVars(f, vars), Outputs: map[string]any{}, Message: m,
	}
	if e := f.Entry(); e != nil {
		run.Step = e.ID
	}
	c.st.Run = run
	c.runDirty = true
}

// startAfter asks for a run to start once the current step ended the active run.
func (c *cursor) startAfter(f *flow.Flow, m *tandem.Message, vars map[string]any, steps int) {
	c.pendingStart = &pendingStart{f: f, m: m, vars: vars, steps: steps}
}

// initialVars are the variables a flow starts with: its own defaults, overridden by the
// conversation's variables (a widget's tandemSettings.variables), overridden by vars, those it
// is started with.
func (c *cursor) initialVars(f *flow.Flow, vars map[string]any) map[string]any {
	out := make(map[string]any, len(f.Variables)+len(c.conv.Variables)+len(vars))
	for k, v := range f.Variables {
		out[k] = cloneValue(v)
	}
	for k, v := range c.conv.Variables {
		out[k] = cloneValue(v)
	}
	for k, v := range vars {
		out[k] = v
	}
	return out
}

// endRun ends the active run with a final status.
func (c *cursor) endRun(status, reason, errText string) {
	r := c.st.Run
	if r == nil {
		return
	}
	if r.Wait != nil && r.Wait.TimerID != "" {
		c.cancelTimer(r.Wait.TimerID)
	}
	r.Wait = nil
	r.Status = status
	r.Error = errText
	snap := c.snapshot(r, reason)
	end := c.now
	snap.EndedAt = &end
	c.out.Runs = append(c.out.Runs, snap)
	vars := r.Vars
	if len(r.Frames) > 0 {
		vars = r.Frames[0].Vars
	}
	c.st.Last = &RunSummary{ID: r.ID, FlowID: r.FlowID, Status: status, Reason: reason, Step: r.Step, Vars: vars}
	c.st.Run = nil
	c.runDirty = false
}

func (c *cursor) snapshot(r *RunState, reason string) tandem.Run {
	flowID, version := r.FlowID, r.Version
	if len(r.Frames) > 0 {
		flowID, version = r.Frames[0].FlowID, r.Frames[0].Version
	}
	step, at := r.Step, r.Step
	if len(r.Frames) > 0 {
		at = r.Frames[0].Step
	}
	return tandem.Run{
		ID: r.ID, ConversationID: c.conv.ID, ContactID: c.conv.ContactID, FlowID: flowID, FlowVersion: version,
		Status: r.Status, Reason: reason, Error: r.Error, Step: step, StartedAt: r.StartedAt, UpdatedAt: c.now,
		Usage: r.Usage, Path: r.Path, At: at, // Path only grows by appends: sharing it is safe
	}
}

// advance runs steps from the current one until the run waits or ends. ev, when set, is the
// event that resumes the waiting current step.
func (c *cursor) advance(ev *tandem.Event) {
	for c.st.Run != nil {
		r := c.st.Run
		f := c.flow()
		if f == nil {
			c.endRun(tandem.RunFailed, tandem.ReasonInvalidFlow, fmt.Sprintf("flow %s version %d is not available", r.FlowID, r.Version))
			return
		}
		if r.Step == "" {
			if !c.returnFromFrame() {
				c.endRun(tandem.RunCompleted, "", "")
				return
			}
			continue
		}
		s := f.Step(r.Step)
		if s == nil {
			c.endRun(tandem.RunFailed, tandem.ReasonInvalidFlow, fmt.Sprintf("step %q does not exist in flow %s version %d", r.Step, r.FlowID, r.Version))
			return
		}
		h, ok := handlers[s.Type]
		if !ok {
			c.endRun(tandem.RunFailed, tandem.ReasonInvalidFlow, fmt.Sprintf("step type %q cannot run", s.Type))
			return
		}
		var o outcome
		if ev != nil {
			rs, ok := h.(resumer)
			if !ok {
				return
			}
			w := r.Wait
			r.Wait = nil
			if w != nil && w.TimerID != "" && (ev.Kind != tandem.EventTimer || ev.Timer.ID != w.TimerID) {
				c.cancelTimer(w.TimerID)
			}
			if ev.Kind == tandem.EventMessage {
				r.Message = ev.Message
			}
			if ev.Kind == tandem.EventMessage || ev.Kind == tandem.EventTimer {
				r.Steps = 0
			}
			r.Status = tandem.RunRunning
			o = rs.resume(c, s, ev)
			ev = nil
		} else {
			if r.Steps >= f.Settings.MaxSteps() {
				c.endRun(tandem.RunFailed, tandem.ReasonLoopLimit,
					fmt.Sprintf("more than %d steps in one turn (max_steps_per_turn); the loop passed through step %q", f.Settings.MaxSteps(), s.ID))
				return
			}
			r.Steps++
			r.Local = nil
			r.Agent = nil
			r.Entered = c.now
			r.entered(s.ID)
			o = h.enter(c, s)
		}
		c.runDirty = true
		if c.st.Run != r {
			// The step ended the run; it may have asked for another (stop then_start, flow
			// replace), which starts here: restarts loop instead of recursing, and count their
			// steps in the same turn, so a flow restarting itself ends with loop_limit.
			if p := c.pendingStart; p != nil && c.st.Run == nil {
				c.pendingStart = nil
				c.newRun(p.f, p.m, p.vars, p.steps)
				ev = nil
				continue
			}
			return
		}
		switch o.kind {
		case kindNext:
			r.Step = o.next
			r.Local = nil
			r.Agent = nil
		case kindWait:
			r.Status = tandem.RunWaiting
			if r.Wait != nil && r.Wait.Message && s.Type == "question" && ev == nil && len(c.st.Pending) > 0 && r.Local["retries"] == nil {
				// A question always sends its text and then waits: what the customer wrote
				// before it was asked is not its answer.
				c.trace(s, "ignored", map[string]any{"pending": len(c.st.Pending)}, nil, "")
				c.st.Pending = nil
			}
			if r.Wait != nil && r.Wait.Message {
				if m := c.takePending(); m != nil {
					ev = &tandem.Event{Kind: tandem.EventMessage, Message: m, At: c.now}
					continue
				}
			}
			return
		case kindEnd:
			c.endRun(o.status, o.reason, o.err)
			return
		}
	}
}

// returnFromFrame ends a called flow and continues its caller; false at the outermost frame.
func (c *cursor) returnFromFrame() bool {
	r := c.st.Run
	if len(r.Frames) == 0 {
		return false
	}
	fr := r.Frames[len(r.Frames)-1]
	r.Frames = r.Frames[:len(r.Frames)-1]
	childVars := r.Vars
	r.FlowID, r.Version, r.Vars, r.Outputs = fr.FlowID, fr.Version, fr.Vars, fr.Outputs
	f := c.flow()
	if f == nil {
		return true // advance reports the missing flow
	}
	s := f.Step(fr.Step)
	if s == nil {
		r.Step = ""
		return true
	}
	r.Outputs[s.ID] = map[string]any{"status": tandem.RunCompleted, "variables": childVars}
	r.Step = f.After(s)
	return true
}

// resume hands an event to the waiting step and continues the run.
func (c *cursor) resume(ev *tandem.Event) {
	c.advance(ev)
	c.afterRun()
}

// afterRun delivers messages left pending by a run that ended.
func (c *cursor) afterRun() {
	for c.st.Run == nil && len(c.st.Pending) > 0 && c.depth < 32 && !c.conv.BotPaused {
		m := c.st.Pending[0]
		c.st.Pending = c.st.Pending[1:]
		if len(c.st.Pending) == 0 {
			c.st.Pending = nil
		}
		c.deliver(&m)
	}
}

// ---- what steps use ----

func (c *cursor) next(s *flow.Step) outcome { return outcome{kind: kindNext, next: c.flow().After(s)} }

func (c *cursor) branch(s *flow.Step, to string) outcome {
	return outcome{kind: kindNext, next: c.flow().Resolve(s, to)}
}

func (c *cursor) goTo(id string) outcome {
	if id == flow.End {
		id = ""
	}
	return outcome{kind: kindNext, next: id}
}

// fail takes the step's on_error branch, or fails the run with reason "error".
func (c *cursor) fail(s *flow.Step, onError, msg string) outcome {
	if onError != "" {
		return c.branch(s, onError)
	}
	return outcome{kind: kindEnd, status: tandem.RunFailed, reason: tandem.ReasonError, err: fmt.Sprintf("step %q: %s", s.ID, msg)}
}

func (c *cursor) end(status, reason string) outcome {
	return outcome{kind: kindEnd, status: status, reason: reason}
}

// wait makes the run wait; at least one of message, due and effect must be set.
func (c *cursor) wait(message bool, due time.Time, effect string) outcome {
	w := &Wait{Message: message, EffectID: effect}
	if message {
		c.st.Run.HandoffReason = "" // a handoff that follows an agent step follows it at once
	}
	if !due.IsZero() {
		w.Due = due
		w.TimerID = c.setTimer(due, "wait")
	}
	c.st.Run.Wait = w
	return outcome{kind: kindWait}
}

func (c *cursor) setTimer(due time.Time, key string) string {
	t := tandem.Timer{ID: c.id(), Due: due, Key: key}
	c.out.Timers = append(c.out.Timers, t)
	return t.ID
}

func (c *cursor) cancelTimer(id string) {
	for i, t := range c.out.Timers {
		if t.ID == id {
			c.out.Timers = append(c.out.Timers[:i], c.out.Timers[i+1:]...)
			return
		}
	}
	c.out.CancelTimers = append(c.out.CancelTimers, id)
}

func (c *cursor) effect(e tandem.Effect) string {
	if e.ID == "" {
		e.ID = c.id()
	}
	c.out.Effects = append(c.out.Effects, e)
	return e.ID
}

// output records a step's outputs in the current frame. Secret values in them (a server that
// echoes the key it was sent) are masked in place, so that they stay out of the run's stored
// state and of the variables and messages that read the outputs.
func (c *cursor) output(s *flow.Step, fields map[string]any) {
	if len(c.env.Secrets) > 0 {
		c.masker().maskInPlace(fields)
	}
	c.st.Run.Outputs[s.ID] = fields
}

// masker returns the event's masker of the workspace secrets, made on first use.
func (c *cursor) masker() *masker {
	if c.mask == nil {
		c.mask = newMasker(c.env.Secrets)
	}
	return c.mask
}

// local reads and writes the waiting step's own bookkeeping.
func (c *cursor) local(key string) any {
	if c.st.Run.Local == nil {
		return nil
	}
	return c.st.Run.Local[key]
}

func (c *cursor) setLocal(key string, v any) {
	if c.st.Run.Local == nil {
		c.st.Run.Local = map[string]any{}
	}
	c.st.Run.Local[key] = v
}

func (c *cursor) localInt(key string) int {
	n, _ := expr.Number(c.local(key))
	return int(n)
}

func (c *cursor) render(t *expr.Template) string { return t.Render(scope{c}) }

func (c *cursor) eval(t *expr.Template) any { return t.Eval(scope{c}) }

// trace records a step's work. Secrets are masked when the event finishes.
func (c *cursor) trace(s *flow.Step, phase string, input, output map[string]any, errText string) {
	c.st.Seq++
	t := tandem.StepTrace{Seq: int(c.st.Seq), Input: input, Output: output, Error: errText, StartedAt: c.now}
	if r := c.st.Run; r != nil {
		t.RunID, t.FlowID = r.ID, r.FlowID
		if !r.Entered.IsZero() {
			t.DurationUS = c.now.Sub(r.Entered).Microseconds()
		}
	}
	if s != nil {
		t.Step, t.Type = s.ID, s.Type
		if phase != "" {
			t.Type = s.Type + ":" + phase
		}
	} else {
		t.Type = phase
	}
	c.out.Trace = append(c.out.Trace, t)
}

// finish completes the output: run snapshot, masked trace.
func (c *cursor) finish() *Output {
	if r := c.st.Run; r != nil && c.runDirty {
		c.out.Runs = append(c.out.Runs, c.snapshot(r, ""))
	}
	if len(c.env.Secrets) > 0 {
		m := c.masker()
		for i := range c.out.Trace {
			c.out.Trace[i].Input = m.maskMap(c.out.Trace[i].Input)
			c.out.Trace[i].Output = m.maskMap(c.out.Trace[i].Output)
			c.out.Trace[i].Error = m.mask(c.out.Trace[i].Error)
		}
		for i := range c.out.Runs {
			c.out.Runs[i].Error = m.mask(c.out.Runs[i].Error)
		}
	}
	return c.out
}

// MaskSecrets returns what replaces the secrets' values with ***, as traces show them: as they
// are, URL-encoded (query or path) and JSON-escaped.
func MaskSecrets(secrets map[string]string) func(string) string { return newMasker(secrets).mask }

// masker replaces secret values with ***.
type masker struct{ values []string }

func newMasker(secrets map[string]string) *masker {
	m := &masker{}
	seen := map[string]bool{}
	for _, v := range secrets {
		if len(v) < 4 {
			continue
		}
		// A secret may reach a trace encoded: in a query or form (URL-encoded), in a path, or
		// in a JSON body (escaped).
		j, _ := json.Marshal(v)
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v), string(j[1 : len(j)-1])} {
			if !seen[form] {
				seen[form] = true
				m.values = append(m.values, form)
			}
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(m.values, func(i, j int) bool { return len(m.values[i]) > len(m.values[j]) })
	return m
}

func (m *masker) mask(s string) string {
	for _, v := range m.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	return s
}

func (m *masker) maskMap(in map[string]any) map[string]any {
	if in == nil || len(m.values) == 0 {
		return in
	}
	v, _ := m.maskValue(in).(map[string]any)
	return v
}

func (m *masker) maskValue(v any) any {
	switch x := v.(type) {
	case string:
		return m.mask(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = m.maskValue(e)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = m.mask(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = m.maskValue(e)
		}
		return out
	}
	return v
}

// maskInPlace masks the strings inside maps and lists of v, changing them in place, and returns
// v (or the masked string).
func (m *masker) maskInPlace(v any) any {
	if len(m.values) == 0 {
		return v
	}
	switch x := v.(type) {
	case string:
		return m.mask(x)
	case map[string]any:
		for k, e := range x {
			x[k] = m.maskInPlace(e)
		}
	case map[string]string:
		for k, e := range x {
			x[k] = m.mask(e)
		}
	case []any:
		for i, e := range x {
			x[i] = m.maskInPlace(e)
		}
	}
	return v
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cloneValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}
