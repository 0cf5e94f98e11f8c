package convtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/expr"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/workspace"
)

// DefaultClock is where the virtual clock starts when a test names none: a Monday morning.
var DefaultClock = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// Result is the outcome of one test.
type Result struct {
	Test     *Test
	Passed   bool
	Skipped  bool
	Line     int
	Failure  string
	Log      []string
	Duration time.Duration
}

// failure stops a test at a turn.
type failure struct {
	line int
	msg  string
}

func (f *failure) Error() string { return f.msg }

func fail(line int, format string, args ...any) *failure {
	return &failure{line: line, msg: fmt.Sprintf(format, args...)}
}

// session is one running test.
type session struct {
	*Sandbox
	t       *Test
	ctx     context.Context
	w       *world
	verbose bool
	log     []string
}

// RunTest runs one test in a fresh in-memory store.
func RunTest(ctx context.Context, t *Test, verbose bool) *Result {
	return RunTestOn(ctx, t, verbose, nil)
}

// RunTestOn runs one test on the store openDB returns (fresh, migrated), or in memory when
// openDB is nil. Go tests use it to run conversations on PostgreSQL too.
func RunTestOn(ctx context.Context, t *Test, verbose bool, openDB func() (*store.DB, error)) *Result {
	start := time.Now()
	res := &Result{Test: t, Line: t.Line}
	if t.Skip != "" {
		res.Skipped, res.Passed = true, true
		return res
	}
	s, err := setup(ctx, t, verbose, openDB)
	if s != nil && s.Sandbox != nil {
		defer s.Close()
	}
	if err == nil {
		err = s.turns()
	}
	if s != nil {
		res.Log = s.log
	}
	res.Duration = time.Since(start)
	if err != nil {
		res.Failure = err.Error()
		if f, ok := err.(*failure); ok && f.line > 0 {
			res.Line = f.line
		}
		return res
	}
	res.Passed = true
	return res
}

func setup(ctx context.Context, t *Test, verbose bool, openDB func() (*store.DB, error)) (*session, error) {
	if err := t.loadFiles(); err != nil {
		return nil, fail(t.Line, "%v", err)
	}
	cfg := config.Default()
	if t.Config != "" {
		c, err := config.Load(t.path(t.Config))
		if err != nil {
			return nil, fail(t.Line, "config: %v", err)
		}
		cfg = c
	}
	start := DefaultClock
	if t.Clock != "" {
		var err error
		if start, err = parseClock(t.Clock, cfg.Location()); err != nil {
			return nil, fail(t.Line, "clock: %v", err)
		}
	}
	s := &session{t: t, ctx: ctx, verbose: verbose}
	s.w = &world{t: t, available: t.Mocks.Desk.Available == nil || *t.Mocks.Desk.Available}
	desks := map[string]bool{"inbox": true}
	for _, d := range cfg.Desks {
		desks[d.ID] = true
	}
	var db *store.DB
	if openDB != nil {
		var err error
		if db, err = openDB(); err != nil {
			return nil, fail(t.Line, "store: %v", err)
		}
	}
	sb, err := NewSandbox(ctx, SandboxOptions{
		DB:     db,
		Config: cfg, Start: start, Channel: t.Channel, Contact: contactOf(t.Contact),
		HTTP:     httpMock{w: s.w},
		Provider: func(id string) (tandem.Provider, bool) { return llmMock{w: s.w, id: id}, true },
		Desk: func(id string) (tandem.Desk, bool) {
			if id == "inbox" {
				return inboxDesk{w: s.w}, true
			}
			return deskMock{w: s.w}, desks[id]
		},
		DeskNeedsEmail: t.Mocks.Desk.NeedsEmail,
		Deliver: func(m tandem.Message) {
			s.w.mu.Lock()
			s.w.bot = append(s.w.bot, m)
			s.w.mu.Unlock()
		},
	})
	if err != nil {
		return nil, fail(t.Line, "%v", err)
	}
	s.Sandbox = sb
	// Providers of kind local answer for real when no mock matches: they are offline.
	s.w.external = localFor(cfg, sb)
	s.w.localIDs = map[string]bool{"local": true}
	for _, p := range cfg.Providers {
		if p.Kind == "local" {
			s.w.localIDs[p.ID] = true
		}
	}
	if err := s.loadFlows(); err != nil {
		return s, err
	}
	return s, nil
}

func (t *Test) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(t.Dir, p)
}

func parseClock(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(s), loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time such as 2026-01-05T10:00:00-03:00", s)
}

func (s *session) loadFlows() error {
	t := s.t
	if len(t.Flows) == 0 {
		return fail(t.Line, "flows: no flow to test; list flow files under flows:")
	}
	var loaded []*flow.Flow
	for _, p := range t.Flows {
		src, err := os.ReadFile(t.path(p))
		if err != nil {
			return fail(t.Line, "flows: %s cannot be read: %v", p, err)
		}
		f, findings := flow.Parse(p, src)
		if f == nil {
			return fail(t.Line, "flow %s is invalid:\n%s", p, findingLines(findings))
		}
		loaded = append(loaded, f)
	}
	// Without a configuration, providers, schedules, teams and desks are not checked.
	if err := s.Publish(s.ctx, loaded, t.Config != ""); err != nil {
		return fail(t.Line, "%v", err)
	}
	return nil
}

func findingLines(fs []flow.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		if f.Severity == flow.SeverityError {
			b.WriteString("      " + f.String() + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func (s *session) logf(format string, args ...any) {
	if s.verbose {
		s.log = append(s.log, fmt.Sprintf(format, args...))
	}
}

// turns plays the script.
func (s *session) turns() error {
	for i := range s.t.Turns {
		n := &s.t.Turns[i]
		if err := s.turn(n); err != nil {
			return err
		}
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if len(s.w.problems) > 0 {
		return fail(s.t.Line, "%s", strings.Join(s.w.problems, "\n      "))
	}
	if len(s.w.bot) > 0 && !s.t.AllowExtra {
		var texts []string
		for _, m := range s.w.bot {
			texts = append(texts, fmt.Sprintf("%q", m.Text))
		}
		return fail(s.endLine(), "bot messages left unconsumed at the end of the test: %s (add bot turns for them, or allow_extra: true)", strings.Join(texts, ", "))
	}
	return nil
}

func (s *session) endLine() int {
	if n := len(s.t.Turns); n > 0 {
		return s.t.Turns[n-1].Line
	}
	return s.t.Line
}

func (s *session) turn(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode || len(n.Content) < 2 {
		return fail(n.Line, "a turn is a map such as {user: \"hello\"} or {bot: \"Hi!\"}")
	}
	key, val := n.Content[0].Value, n.Content[1]
	var v any
	if err := val.Decode(&v); err != nil {
		return fail(n.Line, "%s: %v", key, err)
	}
	v = jsonable(v)
	s.logf("  %d: %s %s", n.Line, key, short(v))
	var err error
	switch key {
	case "user":
		err = s.user(n.Line, v)
	case "bot":
		err = s.bot(n.Line, v)
	case "no_bot":
		err = s.noBot(n.Line, v)
	case "advance":
		err = s.advance(n.Line, v)
	case "expect":
		err = s.expect(n.Line, v)
	case "agent":
		err = s.agent(n.Line, v)
	case "agent_close":
		err = s.event(n.Line, tandem.Event{Kind: tandem.EventAgent, Agent: &tandem.AgentAction{Action: tandem.AgentClose, Agent: "agent"}})
	case "user_close":
		err = s.event(n.Line, tandem.Event{Kind: tandem.EventUserClose})
	case "resume_bot":
		err = s.event(n.Line, tandem.Event{Kind: tandem.EventResumeBot})
	case "start":
		err = s.start(n.Line, v)
	case "desk_sent":
		err = s.deskSent(n.Line, v)
	case "http_sent":
		err = s.httpSent(n.Line, v)
	default:
		return fail(n.Line, "unknown turn %q (user, bot, no_bot, advance, expect, agent, agent_close, user_close, desk_sent, http_sent, start)", key)
	}
	if err != nil {
		if f, ok := err.(*failure); ok {
			return f
		}
		return fail(n.Line, "%s: %v", key, err)
	}
	return nil
}

func short(v any) string {
	s := text(v)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// text renders a value for comparison and messages.
func text(v any) string { return expr.String(jsonable(v)) }

// ensureConversation opens the test's conversation before a turn that needs one.
func (s *session) ensureConversation() error { return s.Open(s.ctx) }

func contactOf(fields map[string]any) tandem.Contact {
	c := tandem.Contact{ExternalID: "test-contact"}
	for k, v := range fields {
		str := text(v)
		switch k {
		case "name":
			c.Name = str
		case "first_name":
			c.FirstName = str
		case "last_name":
			c.LastName = str
		case "phone":
			c.Phone = str
		case "email":
			c.Email = str
		case "language":
			c.Language = str
		case "external_id":
			c.ExternalID = str
		case "tags":
			if l, ok := v.([]any); ok {
				for _, e := range l {
					c.Tags = append(c.Tags, text(e))
				}
			}
		default:
			if c.Attributes == nil {
				c.Attributes = map[string]any{}
			}
			c.Attributes[k] = jsonable(v)
		}
	}
	return c
}

// user sends a customer message.
func (s *session) user(line int, v any) error {
	s.seq++
	m := tandem.Message{Type: tandem.MessageText, ChannelMessageID: fmt.Sprintf("test-%d", s.seq)}
	switch x := v.(type) {
	case string:
		m.Text = x
	case map[string]any:
		for k, e := range x {
			switch k {
			case "text":
				m.Text = text(e)
			case "id":
				m.ChannelMessageID = text(e)
			case "image", "file", "video", "audio", "sticker", "document":
				typ := k
				if k == "document" {
					typ = tandem.MessageFile
				}
				m.Type = typ
				m.Media = &tandem.Media{Type: typ, URL: text(e), Mime: mimeOf(typ, text(e))}
			case "caption":
				m.Text = text(e)
			case "mime":
				defer func(mime string) {
					if m.Media != nil {
						m.Media.Mime = mime
					}
				}(text(e))
			case "location":
				m.Type = tandem.MessageLocation
				m.Location = parseLocation(e)
			case "option":
				m.Type = tandem.MessageOption
				m.Option = text(e)
			default:
				return fail(line, "user: unknown field %q (text, image, file, video, audio, location, option, caption, id)", k)
			}
		}
		if m.Type == tandem.MessageOption && m.Text == "" {
			m.Text = s.buttonTitle(m.Option)
		}
	default:
		return fail(line, "user: expected a text or a map such as {image: url}")
	}
	return s.Say(s.ctx, m)
}

// buttonTitle finds the title of a button the bot offered, for an option reply.
func (s *session) buttonTitle(id string) string {
	msgs, err := s.DB.Messages(s.ctx, store.MessagesParams{ConversationID: s.conv, Limit: 1000})
	if err != nil {
		return id
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		for _, b := range msgs[i].Buttons {
			if b.ID == id {
				return b.Title
			}
		}
	}
	return id
}

func mimeOf(typ, url string) string {
	ext := strings.ToLower(filepath.Ext(strings.SplitN(url, "?", 2)[0]))
	switch ext {
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	case ".pdf":
		return "application/pdf"
	case ".mp4":
		return "video/mp4"
	case ".ogg", ".opus":
		return "audio/ogg"
	case ".mp3":
		return "audio/mpeg"
	}
	if typ == tandem.MessageImage {
		return "image/jpeg"
	}
	return "application/octet-stream"
}

func parseLocation(v any) *tandem.Location {
	l := &tandem.Location{}
	switch x := v.(type) {
	case map[string]any:
		l.Lat, _ = expr.Number(x["lat"])
		l.Lng, _ = expr.Number(firstOf(x, "lng", "lon", "longitude"))
		l.Name, l.Address = text(x["name"]), text(x["address"])
	case string:
		a, b, _ := strings.Cut(x, ",")
		l.Lat, _ = expr.Number(strings.TrimSpace(a))
		l.Lng, _ = expr.Number(strings.TrimSpace(b))
	}
	return l
}

func firstOf(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

// event queues an event for the conversation and drains.
func (s *session) event(line int, ev tandem.Event) error { return s.Event(s.ctx, ev) }

func (s *session) agent(line int, v any) error {
	m := &tandem.Message{Type: tandem.MessageText}
	agent := "agent"
	switch x := v.(type) {
	case string:
		m.Text = x
	case map[string]any:
		m.Text = text(x["text"])
		if a := text(x["agent"]); a != "" {
			agent = a
		}
	}
	return s.event(line, tandem.Event{Kind: tandem.EventAgent, Agent: &tandem.AgentAction{Action: tandem.AgentMessage, Agent: agent, Message: m}})
}

func (s *session) start(line int, v any) error {
	ev := tandem.Event{Kind: tandem.EventStart, Start: &tandem.StartRun{Source: "api", Variables: s.t.Variables}}
	switch x := v.(type) {
	case string:
		ev.Start.FlowID = x
	case map[string]any:
		ev.Start.FlowID = text(x["flow"])
		if vars, ok := x["variables"].(map[string]any); ok {
			ev.Start.Variables = vars
		}
	}
	if ev.Start.FlowID == "" {
		return fail(line, "start: name the flow: {start: flow-id} or {start: {flow: id, variables: {...}}}")
	}
	if s.conv == "" {
		// Open the conversation without firing conversation_start flows: the API starts this one.
		id, _, err := s.DB.ConversationOpen(s.ctx, store.ConversationCreateParams{
			ChannelID: s.kind, ChannelKind: s.kind, Contact: s.contactTemplate, Now: s.Clock.Now(), NewID: runner.NewID})
		if err != nil {
			return err
		}
		s.conv = id
	}
	return s.event(line, ev)
}

func (s *session) advance(line int, v any) error {
	d, err := tandem.ParseDuration(text(v))
	if err != nil {
		return fail(line, "advance: %v", err)
	}
	return s.Advance(s.ctx, d)
}

// bot consumes the next message the customer received and compares it.
func (s *session) bot(line int, v any) error {
	s.w.mu.Lock()
	if len(s.w.bot) == 0 {
		s.w.mu.Unlock()
		return fail(line, "bot: expected %s, got no bot message", describeWant(v))
	}
	m := s.w.bot[0]
	s.w.bot = s.w.bot[1:]
	s.w.mu.Unlock()
	return matchMessage(line, v, &m)
}

func describeWant(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return text(v)
}

func matchMessage(line int, v any, m *tandem.Message) error {
	got := strings.TrimSpace(m.Text)
	switch x := v.(type) {
	case string:
		if want := strings.TrimSpace(x); got != want {
			return fail(line, "bot: expected %q\n      got      %q", want, got)
		}
		return nil
	case map[string]any:
		for k, e := range x {
			switch k {
			case "text":
				if want := strings.TrimSpace(text(e)); got != want {
					return fail(line, "bot: expected %q\n      got      %q", want, got)
				}
			case "contains":
				if !strings.Contains(got, text(e)) {
					return fail(line, "bot: expected a message containing %q\n      got %q", text(e), got)
				}
			case "not_contains":
				if strings.Contains(got, text(e)) {
					return fail(line, "bot: expected a message without %q\n      got %q", text(e), got)
				}
			case "matches":
				re, err := regexp.Compile(text(e))
				if err != nil {
					return fail(line, "bot: matches: %v", err)
				}
				if !re.MatchString(got) {
					return fail(line, "bot: expected a message matching %s\n      got %q", text(e), got)
				}
			case "buttons":
				if err := matchButtons(line, e, m); err != nil {
					return err
				}
			case "image", "media":
				if m.Media == nil || (text(e) != "" && m.Media.URL != text(e)) {
					return fail(line, "bot: expected media %q, got %v", text(e), m.Media)
				}
			case "render":
				if m.Render != text(e) {
					return fail(line, "bot: expected the buttons rendered as %s, got %q", text(e), m.Render)
				}
			case "from", "author":
				if m.Author != text(e) {
					return fail(line, "bot: expected a message from %s, got one from %s", text(e), m.Author)
				}
			default:
				return fail(line, "bot: unknown check %q (text, contains, matches, buttons, render, media, from)", k)
			}
		}
		return nil
	}
	return fail(line, "bot: expected a text or a map such as {contains: ...}")
}

func matchButtons(line int, want any, m *tandem.Message) error {
	list, ok := want.([]any)
	if !ok {
		return fail(line, "bot: buttons: expected a list")
	}
	var got []string
	for _, b := range m.Buttons {
		got = append(got, b.Title)
	}
	if len(list) != len(m.Buttons) {
		return fail(line, "bot: expected buttons %s\n      got %q", text(want), got)
	}
	for i, w := range list {
		b := m.Buttons[i]
		switch x := w.(type) {
		case map[string]any:
			if id := text(x["id"]); id != "" && id != b.ID {
				return fail(line, "bot: button %d: expected id %q, got %q", i+1, id, b.ID)
			}
			if title := text(x["title"]); title != "" && title != b.Title {
				return fail(line, "bot: button %d: expected title %q, got %q", i+1, title, b.Title)
			}
		default:
			if text(x) != b.Title && text(x) != b.ID {
				return fail(line, "bot: expected buttons %s\n      got %q", text(want), got)
			}
		}
	}
	return nil
}

func (s *session) noBot(line int, v any) error {
	if b, ok := v.(bool); ok && !b {
		return nil
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if len(s.w.bot) > 0 {
		return fail(line, "no_bot: expected no bot message, got %q", s.w.bot[0].Text)
	}
	return nil
}

func (s *session) deskSent(line int, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fail(line, "desk_sent: expected a map such as {contains: ...}, {count: N} or {closed: TIMEOUT}")
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	for k, e := range m {
		switch k {
		case "contains":
			found := false
			for _, d := range s.w.desk {
				found = found || strings.Contains(d.Text, text(e))
			}
			if !found {
				return fail(line, "desk_sent: the desk received nothing containing %q (it received %d messages)", text(e), len(s.w.desk))
			}
		case "count":
			n, _ := expr.Number(e)
			if len(s.w.desk) != int(n) {
				return fail(line, "desk_sent: expected %d messages, the desk received %d", int(n), len(s.w.desk))
			}
		case "closed":
			found := false
			for _, c := range s.w.closes {
				found = found || c == text(e)
			}
			if !found {
				return fail(line, "desk_sent: the desk was not told the handoff closed with %s (closes: %v)", text(e), s.w.closes)
			}
		case "reason", "summary", "flow":
			if len(s.w.starts) == 0 {
				return fail(line, "desk_sent: no handoff was given to a desk")
			}
			st := s.w.starts[len(s.w.starts)-1]
			got := map[string]string{"reason": st.Reason, "summary": st.Summary}[k]
			if k == "flow" && st.Flow != nil {
				got = st.Flow.ID
			}
			if want := text(e); e == nil && got != "" || e != nil && strings.TrimSpace(got) != strings.TrimSpace(want) {
				if got == "" {
					return fail(line, "desk_sent: the desk was given no %s, expected %q", k, want)
				}
				if e == nil {
					return fail(line, "desk_sent: the desk was given the %s %q, expected none (null)", k, got)
				}
				return fail(line, "desk_sent: the desk was given the %s %q, expected %q", k, got, want)
			}
		default:
			return fail(line, "desk_sent: unknown check %q (contains, count, closed, reason, summary, flow)", k)
		}
	}
	return nil
}

func (s *session) httpSent(line int, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fail(line, "http_sent: expected a map such as {method: POST, url: ..., json: {...}}")
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	for _, c := range s.w.httpCalls {
		if sentMatches(m, c) {
			return nil
		}
	}
	var seen []string
	for _, c := range s.w.httpCalls {
		seen = append(seen, c.Method+" "+c.URL+" "+string(c.Body))
	}
	return fail(line, "http_sent: no request matched %s\n      requests made: %s", text(v), strings.Join(seen, "\n        "))
}

func sentMatches(want map[string]any, c call) bool {
	for k, e := range want {
		switch k {
		case "method":
			if !strings.EqualFold(text(e), c.Method) {
				return false
			}
		case "url":
			if strings.TrimSuffix(text(e), "/") != strings.TrimSuffix(c.URL, "/") {
				base, _, _ := strings.Cut(c.URL, "?")
				if strings.Contains(text(e), "?") || strings.TrimSuffix(text(e), "/") != strings.TrimSuffix(base, "/") {
					return false
				}
			}
		case "url_matches":
			re, err := regexp.Compile(text(e))
			if err != nil || !re.MatchString(c.URL) {
				return false
			}
		case "json":
			var got any
			if jsonUnmarshal(c.Body, &got) != nil || !subset(e, got) {
				return false
			}
		case "body_contains":
			if !strings.Contains(string(c.Body), text(e)) {
				return false
			}
		case "headers":
			hm, _ := e.(map[string]any)
			for hk, hv := range hm {
				if c.Header.Get(hk) != text(hv) {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

// sortedKeys returns a map's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// localFor builds the local provider answering from the configuration's knowledge bases.
func localFor(cfg *config.Config, sb *Sandbox) tandem.Provider {
	ps, err := workspace.Providers(&config.Config{Knowledge: cfg.Knowledge}, nil, sb.Knowledge)
	if err != nil {
		return nil
	}
	return ps["local"]
}
