package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/convtest"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/workspace"
)

const chatHelp = `Type a message and press Enter. Commands:
  /advance 20s     move the clock forward; timers due on the way fire
  /agent TEXT      a human agent writes to the customer (a handoff to the inbox waits for it)
  /close           the agent closes the handoff (or the conversation)
  /option ID       tap the button with this id
  /state           show the run, its variables and the contact
  /quit            leave (also Ctrl-D)
`

// runChat is `tandem chat FLOW.yaml [--config tandem.yaml]`.
func (m *Main) runChat(ctx context.Context, args []string) error {
	fs := m.newFlags("chat", "chat FLOW.yaml [MORE_FLOWS...] [--config tandem.yaml]")
	cfgPath := fs.String("config", "", "configuration: providers, schedules, teams, desks, secrets")
	channel := fs.String("channel", "api", "the channel kind the customer writes on (api, web, whatsapp, telegram)")
	name := fs.String("name", "Ana Souza", "the customer's name")
	phone := fs.String("phone", "", "the customer's phone number (E.164)")
	at := fs.String("at", "", "start the clock at this time instead of now: 2026-12-07T10:00 (in the workspace's time zone), or RFC 3339 with a zone")
	files, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("chat: name a flow file, e.g. tandem chat examples/order-status.yaml")
	}
	cfg := config.Default()
	if *cfgPath != "" {
		if cfg, err = m.loadConfig(*cfgPath); err != nil {
			return err
		}
	}
	start := time.Now().Truncate(time.Second)
	if *at != "" {
		if start, err = parseClock(*at, cfg.Location()); err != nil {
			return usagef("chat: --at: %v", err)
		}
	}
	var flows []*flow.Flow
	for _, file := range files {
		f, _, err := m.readFlow(file)
		if err != nil {
			return err
		}
		flows = append(flows, f)
	}
	m.chatHTTP = safehttp.NewClient(safehttp.Options{AllowPrivate: true})
	return m.chat(ctx, chatOptions{Config: cfg, Flows: flows, CheckConfig: *cfgPath != "", Channel: *channel,
		Contact: tandem.Contact{Name: *name, Phone: *phone}, Start: start})
}

// parseClock reads --at: RFC 3339, or a date and time (with or without seconds) or a date in
// loc.
func parseClock(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time; write 2026-12-07T10:00 (the workspace's time zone, %s) or 2026-12-07T10:00:00-03:00", s, loc)
}

// chatOptions are what a terminal chat runs.
type chatOptions struct {
	Config *config.Config
	// Flows are published; the first one is the one the chat is about.
	Flows []*flow.Flow
	// CheckConfig checks the flows' providers, desks... against Config.
	CheckConfig bool
	Channel     string
	Contact     tandem.Contact
	// Start is where the virtual clock starts (only /advance moves it).
	Start time.Time
}

// chat runs a terminal conversation with the first flow.
func (m *Main) chat(ctx context.Context, o chatOptions) error {
	cfg, flows, channel, contact := o.Config, o.Flows, o.Channel, o.Contact
	out := m.Stdout
	var providers map[string]tandem.Provider
	var desks map[string]tandem.Desk
	ai := safehttp.NewClient(safehttp.Options{AllowPrivate: true, Timeout: 3 * time.Minute})
	emb, err := workspace.Embedders(cfg, ai)
	if err != nil {
		return err
	}
	sb, err := convtest.NewSandbox(ctx, convtest.SandboxOptions{
		Config: cfg, Start: o.Start, Channel: channel, Contact: contact, Embedders: emb,
		HTTP:     m.chatHTTP,
		Provider: func(id string) (tandem.Provider, bool) { p, ok := providers[id]; return p, ok },
		Desk: func(id string) (tandem.Desk, bool) {
			if d, ok := desks[id]; ok {
				return d, true
			}
			if d, ok := cfg.Desk(id); ok && d.Kind == config.InboxDesk {
				return chatInbox{out: out}, true // the terminal plays the inbox: /agent answers
			}
			return nil, false
		},
		Deliver: func(msg tandem.Message) { printBot(out, msg) },
	})
	if err != nil {
		return err
	}
	defer sb.Close()
	if providers, err = workspace.Providers(cfg, ai, sb.Knowledge); err != nil {
		return err
	}
	// Configured desks are called for real (their agents' replies cannot come back to a
	// terminal: /agent plays them).
	desks, err = workspace.Desks(cfg, desk.Deps{HTTP: safehttp.NewClient(safehttp.Options{AllowPrivate: true, Timeout: time.Minute}),
		Store: sb.DB, Sink: sb.Runner})
	if err != nil {
		return err
	}
	if err := sb.Publish(ctx, flows, o.CheckConfig); err != nil {
		return err
	}
	main := flows[0]
	fmt.Fprintf(out, "Talking to %q (%s). /help for commands, /quit to leave.\n", firstNonEmpty(main.Name, main.ID), main.File)
	fmt.Fprintf(out, "(clock: %s)\n", o.Start.In(cfg.Location()).Format("Mon 2006-01-02 15:04:05 MST"))
	switch main.Trigger.Kind() {
	case flow.OnConversationStart:
		if err := sb.Open(ctx); err != nil {
			return err
		}
	case flow.OnAPI, flow.OnNever:
		if err := sb.Event(ctx, tandem.Event{Kind: tandem.EventStart, Start: &tandem.StartRun{FlowID: main.ID, Source: "api"}}); err != nil {
			return err
		}
	}
	in := bufio.NewScanner(m.Stdin)
	for {
		fmt.Fprint(out, "> ")
		if !in.Scan() {
			fmt.Fprintln(out)
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		if err := m.chatLine(ctx, sb, line); err != nil {
			if err == errQuit {
				return nil
			}
			fmt.Fprintln(out, "  ! "+err.Error())
		}
	}
}

var errQuit = fmt.Errorf("quit")

func (m *Main) chatLine(ctx context.Context, sb *convtest.Sandbox, line string) error {
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "/quit", "/exit":
		return errQuit
	case "/help":
		fmt.Fprint(m.Stdout, chatHelp)
		return nil
	case "/advance":
		d, err := tandem.ParseDuration(arg)
		if err != nil {
			return fmt.Errorf("/advance needs a duration such as 20s, 10m or 2d")
		}
		if err := sb.Advance(ctx, d); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "  (clock: %s)\n", sb.Clock.Now().In(sb.Config.Location()).Format("Mon 2006-01-02 15:04:05 MST"))
		return nil
	case "/agent":
		if arg == "" {
			return fmt.Errorf("/agent needs the agent's text")
		}
		return sb.Event(ctx, tandem.Event{Kind: tandem.EventAgent, Agent: &tandem.AgentAction{Action: tandem.AgentMessage, Agent: "agent", Message: &tandem.Message{Type: tandem.MessageText, Text: arg}}})
	case "/close":
		return sb.Event(ctx, tandem.Event{Kind: tandem.EventAgent, Agent: &tandem.AgentAction{Action: tandem.AgentClose, Agent: "agent"}})
	case "/option":
		return sb.Say(ctx, tandem.Message{Type: tandem.MessageOption, Option: arg, Text: arg})
	case "/state":
		return m.printState(ctx, sb)
	}
	return sb.Say(ctx, tandem.Message{Type: tandem.MessageText, Text: line})
}

// chatInbox plays Tandem's agent inbox in the terminal: a handoff to it is queued (for its team),
// and the person at the terminal answers as the agent with /agent and /close.
type chatInbox struct{ out io.Writer }

func (chatInbox) NeedsEmail() bool                 { return false }
func (chatInbox) Health(ctx context.Context) error { return nil }

func (i chatInbox) Start(_ context.Context, s tandem.DeskStart) (string, error) {
	team := "no team"
	if s.Team != "" {
		team = "team " + s.Team
	}
	fmt.Fprintf(i.out, "  (inbox: the conversation is queued for %s; answer as the agent with /agent TEXT, end with /close)\n", team)
	return "chat-" + s.Conversation.ID, nil
}

func (i chatInbox) Send(_ context.Context, _ string, m *tandem.Message) error {
	fmt.Fprintf(i.out, "  (inbox: the agent sees %q)\n", m.Text)
	return nil
}

func (i chatInbox) Close(_ context.Context, _ string, reason string) error {
	fmt.Fprintf(i.out, "  (inbox: the handoff ended: %s)\n", strings.ToLower(reason))
	return nil
}

func printBot(out interface{ Write([]byte) (int, error) }, msg tandem.Message) {
	who := "bot"
	if msg.Author == tandem.AuthorAgent {
		who = "agent"
	}
	text := strings.ReplaceAll(msg.Text, "\n", "\n     ")
	fmt.Fprintf(out, "%s: %s\n", who, text)
	if msg.Media != nil {
		fmt.Fprintf(out, "     (%s: %s)\n", msg.Media.Type, msg.Media.URL)
	}
	if len(msg.Buttons) > 0 {
		var parts []string
		for i, b := range msg.Buttons {
			parts = append(parts, fmt.Sprintf("[%d] %s", i+1, b.Title))
		}
		fmt.Fprintf(out, "     %s\n", strings.Join(parts, "  "))
	}
}

func (m *Main) printState(ctx context.Context, sb *convtest.Sandbox) error {
	info, contact, st, err := sb.State(ctx)
	if err != nil {
		return err
	}
	w := m.Stdout
	switch {
	case st.Run != nil:
		fmt.Fprintf(w, "  run: %s (flow %s v%d, step %s)\n", st.Run.Status, st.Run.FlowID, st.Run.Version, st.Run.Step)
		printMap(w, "  var", st.Run.Vars)
	case st.Last != nil:
		reason := ""
		if st.Last.Reason != "" {
			reason = ", reason " + st.Last.Reason
		}
		fmt.Fprintf(w, "  run: %s (flow %s%s)\n", st.Last.Status, st.Last.FlowID, reason)
		printMap(w, "  var", st.Last.Vars)
	default:
		fmt.Fprintln(w, "  run: none")
	}
	fmt.Fprintf(w, "  contact: %s %s %s tags %v\n", contact.Name, contact.Phone, contact.Email, contact.Tags)
	printMap(w, "  contact", contact.Attributes)
	bot := "active"
	if info.BotPaused {
		bot = "paused"
	}
	fmt.Fprintf(w, "  conversation: %s, bot %s, team %q, handoff %s\n", info.Status, bot, info.Team, info.Handoff)
	fmt.Fprintf(w, "  clock: %s\n", sb.Clock.Now().In(sb.Config.Location()).Format(time.RFC3339))
	return nil
}

func printMap(w interface{ Write([]byte) (int, error) }, prefix string, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b, _ := json.Marshal(m[k])
		fmt.Fprintf(w, "%s.%s = %s\n", prefix, k, b)
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
