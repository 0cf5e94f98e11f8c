package inbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk/inbox"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/runner"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/workspace"
)

// t0 is where virtual clocks start.
var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// workspaceYAML has a round-robin team, a least-busy team with reassign_after, and agents.
const workspaceYAML = `
workspace: {name: Test, timezone: UTC, language: en}
channels:
  - {id: api, kind: api}
teams:
  - {id: support, name: Support, strategy: round_robin, members: [ana@acme.com, bob@acme.com, cid@acme.com], reassign_after: 5m}
  - {id: sales, name: Sales, strategy: least_busy, members: [ana@acme.com, bob@acme.com]}
agents:
  - {email: ana@acme.com, name: Ana}
  - {email: bob@acme.com, name: Bob}
  - {email: cid@acme.com, name: Cid}
  - {email: dan@acme.com, name: Dan, role: admin}
`

// handoffFlow hands every conversation to the team its first word names (support or sales);
// when the agent closes, the bot says so.
const handoffFlow = `format: 1
id: help
name: Help
trigger: {on: message, match: any}
steps:
  - id: route
    type: condition
    branches:
      - {name: sales, when: {left: "{{message.text}}", op: starts_with, right: sales}, next: to_sales}
    else: to_support
  - {id: to_support, type: handoff, desk: inbox, team: support, wait_timeout: 24h, next: back}
  - {id: to_sales, type: handoff, desk: inbox, team: sales, wait_timeout: 24h, next: back}
  - {id: back, type: message, text: "The bot is back."}
`

// harness is an inbox over a real runner (virtual clock, drained by hand) and a real database.
type harness struct {
	t     *testing.T
	ctx   context.Context
	db    *store.DB
	clock *clock.Virtual
	run   *runner.Runner
	ib    *inbox.Service
	ch    *fakeChannel
}

func newHarness(t *testing.T, db *store.DB, offlineAfter time.Duration) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cfg, err := config.Parse("tandem.yaml", []byte(workspaceYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := workspace.Env(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, db: db, clock: clock.NewVirtual(t0), ch: &fakeChannel{}}
	var ib *inbox.Service
	h.run = runner.New(runner.Config{DB: db, Clock: h.clock, Env: env,
		Sleep:   func(ctx context.Context, d time.Duration) error { return ctx.Err() },
		Channel: func(id string) (tandem.Channel, bool) { return h.ch, id == "api" },
		Desk:    func(id string) (tandem.Desk, bool) { return ib.Desk(id) },
		Notify:  func(id string) { ib.Notify(id) },
	})
	ib = inbox.New(inbox.Config{DB: db, Workspace: cfg, Events: h.run, Clock: h.clock, OfflineAfter: offlineAfter, BcryptCost: bcrypt.MinCost})
	h.ib = ib
	if err := ib.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	f, findings := flow.Parse("help.yaml", []byte(handoffFlow))
	if f == nil {
		t.Fatalf("flow: %v", findings)
	}
	if _, _, err := h.run.Publish(ctx, f, "yaml"); err != nil {
		t.Fatal(err)
	}
	return h
}

// drain processes everything due now.
func (h *harness) drain() {
	h.t.Helper()
	if err := h.run.Drain(h.ctx); err != nil {
		h.t.Fatalf("drain: %v", err)
	}
}

// say stores a customer message from contact ext, processes it, and returns its conversation.
func (h *harness) say(ext, text string) string {
	h.t.Helper()
	res, err := h.run.Inbound(h.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api",
		Contact: tandem.Contact{ExternalID: ext}, Message: tandem.Message{Type: tandem.MessageText, Text: text}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.drain()
	return res.ConversationID
}

// agentTeams are the teams of workspaceYAML's agents.
var agentTeams = map[string][]string{"ana@acme.com": {"sales", "support"}, "bob@acme.com": {"sales", "support"}, "cid@acme.com": {"support"}}

// agent is the actor of an agent of role agent, as Service.Actor makes it.
func agent(email string) inbox.Actor { return inbox.Actor{Agent: email, Teams: agentTeams[email]} }

// presence sets agents' presence.
func (h *harness) presence(status string, emails ...string) {
	h.t.Helper()
	for _, e := range emails {
		if _, err := h.ib.SetPresence(h.ctx, agent(e), status); err != nil {
			h.t.Fatalf("presence %s %s: %v", e, status, err)
		}
	}
	h.drain()
}

func (h *harness) conv(id string) *store.ConversationInfo {
	h.t.Helper()
	c, err := h.db.ConversationGet(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// advance moves the virtual clock, firing what falls due.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	if err := h.run.AdvanceTo(h.ctx, h.clock.Now().Add(d)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) tick() {
	h.t.Helper()
	if err := h.ib.Tick(h.ctx); err != nil {
		h.t.Fatalf("tick: %v", err)
	}
	h.drain()
}

// fakeChannel records what the customer gets; a message whose text is refuse fails for good.
type fakeChannel struct {
	mu     sync.Mutex
	sent   []tandem.Message
	refuse string
}

func (c *fakeChannel) Kind() string      { return "api" }
func (c *fakeChannel) Caps() tandem.Caps { return tandem.Caps{Buttons: 3, List: 10, Media: true} }
func (c *fakeChannel) Send(ctx context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refuse != "" && out.Message.Text == c.refuse {
		return tandem.SendResult{}, tandem.Permanent(errors.New("the customer's chat is gone"))
	}
	c.sent = append(c.sent, *out.Message)
	return tandem.SendResult{MessageID: out.IdempotencyKey}, nil
}

// texts returns what the customer of a conversation got, in order.
func (c *fakeChannel) texts(conv string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.sent {
		if m.ConversationID == conv {
			out = append(out, m.Author+": "+m.Text)
		}
	}
	return out
}
