package flow

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/expr"
)

// Env names what a configuration defines, for validation; a nil map is not checked.
type Env struct {
	Providers map[string]bool
	Schedules map[string]bool
	Teams     map[string]bool
	Desks     map[string]bool
	Knowledge map[string]bool
	// Flows are the flow ids known besides this one (for `flow` steps and then_start).
	Flows map[string]bool
	// ProviderKinds maps provider ids to their kinds, and DefaultProvider is the provider of
	// AI steps that name none; with them, an llm step on the offline local provider is a
	// warning. A nil map is not checked.
	ProviderKinds   map[string]string
	DefaultProvider string
}

// Validate lints a parsed flow with the checks of the Validation section of docs/flows.md that
// the schema cannot make. Errors: duplicate step ids, a next or branch naming no step, a bad
// regex, an http timeout over 120s, `answer: option` without options, a condition without
// branches, a split whose weights add up to 0, a flow that calls itself, a set/save/accumulate
// target that is not contact.<key>, var.<name> or conversation.<key>, and, for each Env map
// that is not nil, unknown providers, schedules, teams, desks, knowledge bases and flows.
// Warnings: unreachable steps, loops with no waiting step, template paths that cannot exist.
// Findings are sorted by line; the order is deterministic.
func Validate(f *Flow, env *Env) []Finding {
	if f == nil {
		return nil
	}
	if env == nil {
		env = &Env{}
	}
	l := &linter{f: f, env: env, byID: map[string]int{}}
	for i, s := range f.Steps {
		if _, dup := l.byID[s.ID]; !dup {
			l.byID[s.ID] = i
		}
	}
	l.duplicates()
	l.flowLevel()
	for i, s := range f.Steps {
		l.step(i, s)
	}
	l.graph()
	l.templates()
	return l.sorted()
}

// lintErrors runs the checks of Validate that read one step at a time (no graph, no template
// paths) on a flow read in part from a document with errors, and returns their errors.
func lintErrors(f *Flow, env *Env) []Finding {
	if env == nil {
		env = &Env{}
	}
	l := &linter{f: f, env: env, byID: map[string]int{}}
	for i, s := range f.Steps {
		if _, dup := l.byID[s.ID]; !dup {
			l.byID[s.ID] = i
		}
	}
	l.duplicates()
	l.flowLevel()
	for i, s := range f.Steps {
		l.step(i, s)
	}
	var out []Finding
	for _, fd := range l.sorted() {
		if fd.Severity == SeverityError {
			out = append(out, fd)
		}
	}
	return out
}

// linter holds one run of Validate.
type linter struct {
	f    *Flow
	env  *Env
	byID map[string]int // step id → index of its first step
	out  []Finding
	vars map[string]bool // var names declared or assigned, filled by templates()
}

// at reports a finding on a field of a step (i < 0: of the document), given as a dotted path
// such as "options[1].next".
func (l *linter) at(i int, field, severity, msg string) {
	ptr := fieldPointer(field)
	if i >= 0 {
		ptr = "/steps/" + strconv.Itoa(i) + ptr
	}
	l.atPointer(i, ptr, field, severity, msg)
}

func (l *linter) atPointer(i int, ptr, field, severity, msg string) {
	fd := Finding{File: l.f.File, Line: l.f.Line(ptr), Field: field, Severity: severity, Message: msg}
	if i >= 0 {
		s := l.f.Steps[i]
		fd.Step = s.ID
		if fd.Step == "" {
			fd.Step = "#" + strconv.Itoa(i+1)
		}
		if fd.Line == 0 {
			fd.Line = s.Line
		}
	}
	l.out = append(l.out, fd)
}

// fieldPointer turns a dotted field path (options[1].next) into a JSON pointer (/options/1/next).
func fieldPointer(field string) string {
	if field == "" {
		return ""
	}
	var b strings.Builder
	for _, part := range strings.Split(field, ".") {
		name, idx, _ := strings.Cut(part, "[")
		b.WriteString("/" + escapePointer(name))
		for idx != "" {
			n, rest, _ := strings.Cut(idx, "]")
			b.WriteString("/" + n)
			idx = strings.TrimPrefix(rest, "[")
		}
	}
	return b.String()
}

func (l *linter) sorted() []Finding {
	sort.SliceStable(l.out, func(i, j int) bool {
		a, b := l.out[i], l.out[j]
		switch {
		case a.Line != b.Line:
			return a.Line < b.Line
		case a.Severity != b.Severity:
			return a.Severity == SeverityError
		case a.Step != b.Step:
			return a.Step < b.Step
		case a.Field != b.Field:
			return a.Field < b.Field
		}
		return a.Message < b.Message
	})
	return slices.Compact(l.out)
}

func (l *linter) duplicates() {
	for i, s := range l.f.Steps {
		if s.ID == End {
			l.at(i, "id", SeverityError, `step id "end" is reserved: next: end completes the run`)
		}
		first := l.byID[s.ID]
		if first == i {
			continue
		}
		where := "step #" + strconv.Itoa(first+1)
		if line := l.f.Steps[first].Line; line > 0 {
			where = "line " + strconv.Itoa(line)
		}
		l.at(i, "id", SeverityError, fmt.Sprintf("step id %q is used twice; the first is on %s", s.ID, where))
	}
}

func (l *linter) flowLevel() {
	m := &l.f.Trigger.Match
	if m.Regex != "" {
		pat := m.Regex
		if m.IgnoreCase {
			pat = "(?i)" + pat
		}
		if _, err := regexp.Compile(pat); err != nil {
			l.at(-1, "trigger.match.regex", SeverityError, fmt.Sprintf("regex %q is not a valid regular expression: %v", m.Regex, err))
		}
	}
	l.known(-1, "settings.schedule", "schedule", l.f.Settings.Schedule, l.env.Schedules)
}

// known reports an error when a name is not among the configured ones (nil: not checked).
func (l *linter) known(i int, field, what, name string, names map[string]bool) {
	l.knownAs(i, field, what, name, names, SeverityError)
}

// knownAs is known with the finding's severity.
func (l *linter) knownAs(i int, field, what, name string, names map[string]bool, severity string) {
	if names == nil || name == "" || names[name] {
		return
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	msg := fmt.Sprintf("unknown %s %q", what, name)
	if s := suggest(name, list); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	switch {
	case len(list) == 0:
		msg += fmt.Sprintf("; the configuration defines no %s", what)
	case len(list) > 12:
		msg += "; known: " + strings.Join(list[:12], ", ") + ", ..."
	default:
		msg += "; known: " + strings.Join(list, ", ")
	}
	l.at(i, field, severity, msg)
}

// literal returns a template's text when it has no placeholder ("" otherwise).
func literal(t expr.Template) string {
	if !t.IsLiteral() {
		return ""
	}
	return t.String()
}

// refs lists the steps a step names: its next and the branch fields of its body.
func stepRefs(s *Step) []Ref {
	out := refs("next", s.Next)
	if s.Body != nil {
		out = append(out, s.Body.Refs()...)
	}
	return out
}

func (l *linter) step(i int, s *Step) {
	for _, r := range stepRefs(s) {
		if r.Step == End {
			continue
		}
		if _, ok := l.byID[r.Step]; !ok {
			msg := fmt.Sprintf("%q names no step of this flow", r.Step)
			if sug := suggest(r.Step, l.ids()); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			l.at(i, r.Field, SeverityError, msg+"; use a step id or end")
		}
	}
	env := l.env
	switch b := s.Body.(type) {
	case *QuestionStep:
		if b.Answer == "option" && len(b.Options) == 0 {
			l.at(i, "answer", SeverityError, "answer option needs options to choose from")
		}
		l.target(i, "save", b.Save)
	case *SetStep:
		for j, a := range b.Assign {
			l.target(i, fmt.Sprintf("assign[%d].target", j), a.Target)
		}
	case *ConditionStep:
		if len(b.Branches) == 0 {
			l.at(i, "branches", SeverityError, "a condition needs at least one branch")
		}
		for j, br := range b.Branches {
			l.condition(i, fmt.Sprintf("branches[%d].when", j), br.When)
		}
	case *WaitStep:
		l.target(i, "accumulate", b.Accumulate)
		l.known(i, "within_schedule", "schedule", b.WithinSchedule, env.Schedules)
	case *HTTPStep:
		l.httpTimeout(i, "timeout", b.Timeout)
		for j, sv := range b.Save {
			l.target(i, fmt.Sprintf("save[%d].target", j), sv.Target)
		}
	case *LLMStep:
		l.ai(i, &b.AICall)
		l.llmOnLocal(i, b)
	case *ClassifyStep:
		l.ai(i, &b.AICall)
	case *AssistantStep:
		l.ai(i, &b.AICall)
	case *AgentStep:
		l.ai(i, &b.AICall)
		l.known(i, "knowledge", "knowledge base", b.Knowledge, env.Knowledge)
		for j, t := range b.Tools {
			if t.HTTP != nil {
				l.httpTimeout(i, fmt.Sprintf("tools[%d].http.timeout", j), t.HTTP.Timeout)
			}
		}
	case *HandoffStep:
		if b.Desk != "inbox" {
			l.known(i, "desk", "desk", b.Desk, env.Desks)
		}
		if !strings.Contains(b.Team, "{{") {
			l.known(i, "team", "team", b.Team, env.Teams)
		}
		l.known(i, "schedule", "schedule", b.Schedule, env.Schedules)
		if b.Transfer != nil {
			l.known(i, "transfer.provider", "provider", b.Transfer.Provider, env.Providers)
			l.summaryProvider(i, b.Transfer)
		}
	case *NotifyStep:
		l.known(i, "team", "team", literal(b.Team), env.Teams)
	case *AssignStep:
		if b.Team != nil {
			l.known(i, "team", "team", literal(*b.Team), env.Teams)
		}
	case *SplitStep:
		l.split(i, b)
	case *FlowStep:
		if b.Start == l.f.ID && b.Mode != "replace" {
			l.at(i, "start", SeverityError, fmt.Sprintf("flow %q calls itself: endless recursion; use goto to repeat steps, or mode: replace to start over", b.Start))
		} else if b.Start != l.f.ID {
			// A warning: the flow may be published later, or elsewhere; at run time a missing
			// flow fails the step.
			l.knownAs(i, "start", "flow", b.Start, env.Flows, SeverityWarning)
		}
	case *StopStep:
		if b.ThenStart != l.f.ID {
			l.knownAs(i, "then_start", "flow", b.ThenStart, env.Flows, SeverityWarning)
		}
	}
}

func (l *linter) ids() []string {
	out := make([]string, 0, len(l.f.Steps))
	for _, s := range l.f.Steps {
		out = append(out, s.ID)
	}
	return out
}

func (l *linter) ai(i int, c *AICall) {
	l.known(i, "provider", "provider", c.Provider, l.env.Providers)
	if c.Fallback != nil {
		l.known(i, "fallback.provider", "provider", c.Fallback.Provider, l.env.Providers)
	}
}

// LocalProvider is the built-in offline provider's id and kind.
const LocalProvider = "local"

// llmOnLocal warns about an llm step that the local provider answers: it writes no text, so
// the step gets a knowledge passage or "Sorry, I don't know" where a model's text was meant.
func (l *linter) llmOnLocal(i int, b *LLMStep) {
	kind, field, via, ok := l.provider(b.Provider, "provider", "type")
	if !ok || kind != LocalProvider {
		return
	}
	l.at(i, field, SeverityWarning, fmt.Sprintf("an llm step on %s gets no written text: the local provider works offline and answers only from a knowledge base (else \"Sorry, I don't know the answer to that yet\"); it serves classify steps (intents by keywords and examples) and knowledge answers (agent and assistant steps with knowledge); name a model provider (kind openai, openai-responses, dify, ...) for this step", via))
}

// provider resolves the provider a step names (id, or the workspace's default when it names
// none) to its kind; field is the field a finding points at, via how the finding names the
// provider. ok is false when the step names none and there is no configuration to tell the
// default.
func (l *linter) provider(id, named, unnamed string) (kind, field, via string, ok bool) {
	field = named
	if id == "" {
		if l.env.ProviderKinds == nil {
			return "", "", "", false // no configuration: the provider is not known
		}
		id, field = l.env.DefaultProvider, unnamed
		if id == "" {
			id = LocalProvider
		}
		via = fmt.Sprintf("the workspace's default provider %q", id)
	} else {
		via = fmt.Sprintf("provider %q", id)
	}
	kind = l.env.ProviderKinds[id]
	if id == LocalProvider && kind == "" {
		kind = LocalProvider
	}
	return kind, field, via, true
}

// summaryProvider warns about a handoff summary asked of a provider kind that writes none (the
// local provider, dify, chatbase): the handoff goes on without it.
func (l *linter) summaryProvider(i int, t *Transfer) {
	if !t.Summary {
		return
	}
	kind, field, via, ok := l.provider(t.Provider, "transfer.provider", "transfer.summary")
	if !ok {
		return
	}
	switch kind {
	case LocalProvider, "dify", "chatbase":
	default:
		return
	}
	l.at(i, field, SeverityWarning, fmt.Sprintf("the summary is asked of %s, of kind %s, which writes no summaries: the desk gets none; name a model provider (kind openai, openai-responses, ...) in transfer.provider", via, kind))
}

func (l *linter) httpTimeout(i int, field string, d *Duration) {
	if d != nil && d.D() > time.Duration(MaxHTTPTimeout) {
		l.at(i, field, SeverityError, fmt.Sprintf("timeout %s is too long: at most %ds",
			tandem.FormatDuration(d.D()), int(time.Duration(MaxHTTPTimeout)/time.Second)))
	}
}

func (l *linter) split(i int, b *SplitStep) {
	if len(b.Paths) == 0 {
		l.at(i, "paths", SeverityError, "a split needs at least one path")
		return
	}
	var sum float64
	for j, p := range b.Paths {
		if p.Weight < 0 {
			l.at(i, fmt.Sprintf("paths[%d].weight", j), SeverityError, fmt.Sprintf("weight %s is negative; weights are 0 or more", number(p.Weight)))
			continue
		}
		sum += p.Weight
	}
	if sum <= 0 {
		l.at(i, "paths", SeverityError, "the weights add up to 0: give at least one path a weight above 0")
	}
}

// target checks what a set, save or accumulate writes to.
func (l *linter) target(i int, field, t string) {
	if t == "" || validTarget(t) {
		return
	}
	l.at(i, field, SeverityError, fmt.Sprintf("%q is not a target; write to contact.<key>, var.<name> or conversation.<key>", t))
}

func validTarget(t string) bool {
	p, err := expr.ParsePath(t)
	if err != nil || len(p) != 2 || p[1].IsIndex || p[1].Key == "" {
		return false
	}
	switch p[0].Key {
	case "contact", "var", "conversation":
		return true
	}
	return false
}

// targetVar returns the variable a target writes ("" when it is not var.<name>).
func targetVar(t string) string {
	if !validTarget(t) {
		return ""
	}
	p, _ := expr.ParsePath(t)
	if p[0].Key != "var" {
		return ""
	}
	return p[1].Key
}

// condition checks a condition and the ones nested in it.
func (l *linter) condition(i int, field string, c *expr.Condition) {
	if c == nil {
		return
	}
	for j, e := range c.All {
		l.condition(i, fmt.Sprintf("%s.all[%d]", field, j), e)
	}
	for j, e := range c.Any {
		l.condition(i, fmt.Sprintf("%s.any[%d]", field, j), e)
	}
	l.condition(i, field+".not", c.Not)
	switch {
	case c.InSchedule == expr.DefaultSchedule:
		if l.f.Settings.Schedule == "" {
			l.at(i, field+".in_schedule", SeverityError, "in_schedule: true and false read the flow's settings.schedule, which this flow does not set; set it, or name a schedule")
		}
	case c.InSchedule != "":
		l.known(i, field+".in_schedule", "schedule", c.InSchedule, l.env.Schedules)
	}
	if c.Op == "matches" && c.Right != nil {
		if pat, ok := c.Right.Raw().(string); ok && !strings.Contains(pat, "{{") {
			if c.IgnoreCase {
				pat = "(?i)" + pat
			}
			if _, err := regexp.Compile(pat); err != nil {
				l.at(i, field+".right", SeverityError, fmt.Sprintf("%q is not a valid regular expression: %v", c.Right.Raw(), err))
			}
		}
	}
}

// successors lists the steps a step may go to, by index: its branches, and its default next
// unless every outcome of the step has a branch of its own (goto, stop, a condition with an
// else and a next on every branch, ...).
func (l *linter) successors(i int) []int {
	s := l.f.Steps[i]
	var out []int
	add := func(id string) {
		if j, ok := l.byID[id]; ok && id != End && !slices.Contains(out, j) {
			out = append(out, j)
		}
	}
	fall := true
	switch b := s.Body.(type) {
	case *GotoStep:
		add(b.To)
		return out
	case *StopStep:
		return nil
	case *FlowStep:
		if b.Mode == "replace" {
			return nil
		}
	case *ConditionStep:
		fall = b.Else == ""
		for _, br := range b.Branches {
			fall = fall || br.Next == ""
		}
	case *SplitStep:
		fall = len(b.Paths) == 0
		for _, p := range b.Paths {
			fall = fall || p.Next == ""
		}
	case *ClassifyStep:
		fall = b.Other == ""
		for _, it := range b.Intents {
			fall = fall || it.Next == ""
		}
	case *QuestionStep:
		if b.Kind() == "option" && len(b.Options) > 0 && b.OnInvalid != "" {
			fall = false
			for _, o := range b.Options {
				fall = fall || o.Next == ""
			}
		}
	}
	if s.Body != nil {
		for _, r := range s.Body.Refs() {
			add(r.Step)
		}
	}
	if fall {
		switch {
		case s.Next != "":
			add(s.Next)
		case i+1 < len(l.f.Steps):
			out = append(out, i+1)
		}
	}
	return out
}

// graph reports unreachable steps and loops that never wait.
func (l *linter) graph() {
	n := len(l.f.Steps)
	if n == 0 {
		return
	}
	succ := make([][]int, n)
	for i := range l.f.Steps {
		succ[i] = l.successors(i)
	}
	reached := make([]bool, n)
	queue := []int{0}
	reached[0] = true
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, j := range succ[i] {
			if !reached[j] {
				reached[j] = true
				queue = append(queue, j)
			}
		}
	}
	for i, ok := range reached {
		if !ok {
			l.at(i, "", SeverityWarning, "unreachable: no path from the first step leads here")
		}
	}

	// Loops: strongly connected parts of the graph left when waiting steps are taken out.
	keep := make([]bool, n)
	for i, s := range l.f.Steps {
		keep[i] = reached[i] && !Waiting[s.Type]
	}
	for _, comp := range components(succ, keep) {
		first := slices.Min(comp)
		if len(comp) == 1 && !slices.Contains(succ[first], first) {
			continue
		}
		cycle := shortestCycle(succ, comp, first)
		names := make([]string, len(cycle))
		for k, j := range cycle {
			names[k] = l.f.Steps[j].ID
		}
		l.at(first, "", SeverityWarning, fmt.Sprintf(
			"steps %s form a loop with no waiting step; at run time max_steps_per_turn (%d) ends it with loop_limit",
			strings.Join(names, " → "), l.f.Settings.MaxSteps()))
	}
}

// components returns the strongly connected components of the graph restricted to the kept
// nodes (Tarjan), each sorted, in order of their first node.
func components(succ [][]int, keep []bool) [][]int {
	n := len(succ)
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var out [][]int
	next := 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		on[v] = true
		for _, w := range succ[v] {
			if !keep[w] {
				continue
			}
			if index[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			slices.Sort(comp)
			out = append(out, comp)
		}
	}
	for v := 0; v < n; v++ {
		if keep[v] && index[v] < 0 {
			visit(v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// shortestCycle returns the shortest path from first back to itself inside comp, both ends
// included.
func shortestCycle(succ [][]int, comp []int, first int) []int {
	prev := map[int]int{}
	queue := []int{first}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range succ[v] {
			if !slices.Contains(comp, w) {
				continue
			}
			if w == first {
				path := []int{first}
				for u := v; u != first; u = prev[u] {
					path = append(path, u)
				}
				path = append(path, first)
				slices.Reverse(path)
				return path
			}
			if _, seen := prev[w]; !seen {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []int{first, first}
}

// Template paths the validator knows: heads, and the fixed fields of the closed ones.
var (
	pathHeads      = []string{"contact", "conversation", "message", "step", "var", "now", "schedule", "secret", "flow", "run"}
	messageFields  = []string{"text", "type", "id", "media", "location", "option", "contacts", "data"}
	mediaFields    = []string{"url", "mime", "name"}
	locationFields = []string{"lat", "lng", "name", "address"}
	nowFields      = []string{"date", "time", "weekday", "hour", "unix"}
	flowFields     = []string{"id", "version"}
	runFields      = []string{"id"}
)

// notTemplate reports whether the strings under a step field are data, not rendered: an llm
// step's JSON Schema, a tool's parameters, option synonyms and intent examples.
func notTemplate(parts []string) bool {
	switch len(parts) {
	case 1:
		return parts[0] == "schema"
	case 3:
		return parts[0] == "options" && parts[2] == "synonyms" || parts[0] == "intents" && parts[2] == "examples"
	case 4:
		return parts[0] == "tools" && parts[2] == "http" && parts[3] == "parameters"
	}
	return false
}

// templates reports template paths that cannot exist: a step id no step has is an error (it
// is always a mistake: the path would render empty), the others are warnings.
func (l *linter) templates() {
	l.vars = map[string]bool{}
	for k := range l.f.Variables {
		l.vars[k] = true
	}
	for _, s := range l.f.Steps {
		switch b := s.Body.(type) {
		case *SetStep:
			for _, a := range b.Assign {
				l.vars[targetVar(a.Target)] = true
			}
		case *QuestionStep:
			l.vars[targetVar(b.Save)] = true
		case *HTTPStep:
			for _, sv := range b.Save {
				l.vars[targetVar(sv.Target)] = true
			}
		case *WaitStep:
			l.vars[targetVar(b.Accumulate)] = true
		case *FlowStep:
			for k := range b.Variables {
				l.vars[k] = true
			}
		}
	}
	delete(l.vars, "")

	for i, s := range l.f.Steps {
		raw, err := json.Marshal(s)
		if err != nil {
			continue
		}
		var doc any
		if json.Unmarshal(raw, &doc) != nil {
			continue
		}
		base := "/steps/" + strconv.Itoa(i)
		walkTemplates(doc, nil, func(parts []string, src string) {
			t, err := expr.Parse(src)
			if err != nil {
				return // reported by Parse
			}
			ptr := base + pointerOf(parts)
			for _, p := range t.Paths() {
				if msg, severity := l.path(s, parts, p); msg != "" {
					if !strings.HasPrefix(msg, p.String()) {
						msg = p.String() + ": " + msg
					}
					l.atPointer(i, ptr, fieldPath(escapeAll(parts)), severity, msg)
				}
			}
		})
	}
}

func escapeAll(parts []string) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = escapePointer(p)
	}
	return out
}

// walkTemplates calls fn for every string with a placeholder, with the keys leading to it.
func walkTemplates(v any, parts []string, fn func(parts []string, s string)) {
	switch x := v.(type) {
	case string:
		if strings.Contains(x, "{{") {
			fn(parts, x)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p := append(slices.Clip(parts), k); !notTemplate(p) {
				walkTemplates(x[k], p, fn)
			}
		}
	case []any:
		for i, e := range x {
			walkTemplates(e, append(slices.Clip(parts), strconv.Itoa(i)), fn)
		}
	}
}

// path returns why a template path cannot exist ("" when it can) and how grave that is: a
// warning, as the flow format says of every path the validator proves unknown (an unknown step
// id included: it renders empty and the flow still runs; --strict refuses it).
func (l *linter) path(s *Step, parts []string, p expr.Path) (string, string) {
	msg := l.pathProblem(s, parts, p)
	if id, ok := stepPathID(p); ok && msg != "" {
		if _, known := l.byID[id]; !known {
			msg += "; the path would always be empty"
		}
	}
	return msg, SeverityWarning
}

// stepPathID returns the step id of a step.<id>... path.
func stepPathID(p expr.Path) (string, bool) {
	if p.Head() != "step" || len(p) < 2 || p[1].IsIndex {
		return "", false
	}
	return p[1].Key, true
}

// pathProblem returns why a template path cannot exist, or "".
func (l *linter) pathProblem(s *Step, parts []string, p expr.Path) string {
	key := func(i int) (string, bool) {
		if i >= len(p) || p[i].IsIndex {
			return "", false
		}
		return p[i].Key, true
	}
	one := func(i int, what string, allowed []string) string {
		k, ok := key(i)
		if !ok || slices.Contains(allowed, k) {
			return ""
		}
		msg := fmt.Sprintf("%s has no field %q; it has %s", what, k, joinOr(allowed))
		if sug := suggest(k, allowed); sug != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sug)
		}
		return msg
	}
	switch head := p.Head(); head {
	case "contact", "conversation", "secret":
		return "" // open: custom attributes and secrets are not known here
	case "message":
		if msg := one(1, "message", messageFields); msg != "" {
			return msg
		}
		switch k, _ := key(1); k {
		case "media":
			return one(2, "message.media", mediaFields)
		case "location":
			return one(2, "message.location", locationFields)
		}
	case "now":
		return one(1, "now", nowFields)
	case "flow":
		return one(1, "flow", flowFields)
	case "run":
		return one(1, "run", runFields)
	case "var":
		if name, ok := key(1); ok && !l.vars[name] {
			return fmt.Sprintf("var.%s is never set; declare it in variables or assign it with set, save or accumulate", name)
		}
	case "schedule":
		id, ok := key(1)
		if !ok {
			return ""
		}
		if l.env.Schedules != nil && !l.env.Schedules[id] {
			return fmt.Sprintf("unknown schedule %q", id)
		}
		return one(2, "schedule."+id, []string{"open"})
	case "step":
		id, ok := key(1)
		if !ok {
			return ""
		}
		j, known := l.byID[id]
		if !known {
			msg := fmt.Sprintf("no step has the id %q", id)
			if sug := suggest(id, l.ids()); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			return msg
		}
		t := l.f.Steps[j].Type
		out, listed := Outputs[t]
		field, ok := key(2)
		if !ok || !listed || out.Open || len(out.Fields) == 0 || slices.Contains(out.Fields, field) {
			return ""
		}
		msg := fmt.Sprintf("a %s step has no output %q; it has %s", t, field, joinOr(out.Fields))
		if sug := suggest(field, out.Fields); sug != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sug)
		}
		return msg
	case "args":
		tool := agentTool(s, parts)
		if tool == nil {
			return "args is only set inside the http tool of an agent step"
		}
		name, ok := key(1)
		if !ok {
			return ""
		}
		params, _ := tool.Parameters.(map[string]any)
		props, isMap := params["properties"].(map[string]any)
		if _, declared := props[name]; isMap && !declared {
			return fmt.Sprintf("the tool %q has no parameter %q", tool.Name, name)
		}
	default:
		msg := fmt.Sprintf("unknown path: a path starts with %s", joinOr(pathHeads))
		if sug := suggest(head, pathHeads); sug != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sug)
		}
		return msg
	}
	return ""
}

// agentTool returns the agent http tool a template is in (parts: tools, n, http, ...), or nil.
func agentTool(s *Step, parts []string) *HTTPTool {
	b, ok := s.Body.(*AgentStep)
	if !ok || len(parts) < 3 || parts[0] != "tools" || parts[2] != "http" {
		return nil
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 0 || n >= len(b.Tools) {
		return nil
	}
	return b.Tools[n].HTTP
}
