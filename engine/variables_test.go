package engine

import (
	"slices"
	"testing"

	"github.com/tandemchat/tandem"
)

// TestConversationVariables: a conversation's variables (a widget's tandemSettings.variables)
// are var.<name> of every run started in it, whatever starts it: the greeting, a later
// message, a preempting flow, the API, a stop's then_start, a called flow. They override the
// flow's own defaults; the variables a run is started with override them.
func TestConversationVariables(t *testing.T) {
	t.Parallel()
	flows := mustFlows(t, `
format: 1
id: greet
trigger: {on: conversation_start}
variables: {plan: free, tier: 1}
steps:
  - {id: hi, type: message, text: "greet {{var.plan}} {{var.tier}} {{var.src}}"}
`, `
format: 1
id: order
trigger: {on: message, match: {contains: order}}
variables: {plan: free}
steps:
  - {id: ask, type: question, text: "order {{var.plan}}"}
`, `
format: 1
id: urgent
trigger: {on: message, match: {contains: urgent}, preempt: true}
steps:
  - {id: say, type: message, text: "urgent {{var.plan}}"}
  - {id: done, type: stop, then_start: after}
`, `
format: 1
id: after
trigger: {on: never}
steps:
  - {id: say, type: message, text: "after {{var.plan}}"}
  - {id: call, type: flow, start: called, mode: call}
`, `
format: 1
id: called
trigger: {on: never}
variables: {plan: none}
steps:
  - {id: say, type: message, text: "called {{var.plan}} {{var.src}}"}
`)
	c := newConv(&Env{Flows: flows, NewID: counterIDs()})
	c.conv.ChannelID, c.conv.ChannelKind = "web", "web"
	c.conv.Variables = map[string]any{"plan": "pro", "src": "ad"}

	steps := []struct {
		name string
		ev   *tandem.Event
		want []string
	}{
		{"the greeting", &tandem.Event{Kind: tandem.EventStart, Start: &tandem.StartRun{Source: "conversation_start"}}, []string{"greet pro 1 ad"}},
		{"a flow a later message starts", &tandem.Event{Kind: tandem.EventMessage, Message: &tandem.Message{Type: tandem.MessageText, Text: "my order"}}, []string{"order pro"}},
		{"a preempting flow, then_start and a called flow", &tandem.Event{Kind: tandem.EventMessage, Message: &tandem.Message{Type: tandem.MessageText, Text: "urgent!"}},
			[]string{"urgent pro", "after pro", "called pro ad"}},
		{"the API's variables win", &tandem.Event{Kind: tandem.EventStart, Start: &tandem.StartRun{FlowID: "order", Variables: map[string]any{"plan": "gold"}}}, []string{"order gold"}},
	}
	for _, s := range steps {
		if got := sent(c.process(s.ev)); !slices.Equal(got, s.want) {
			t.Errorf("%s: sent %q, want %q", s.name, got, s.want)
		}
	}
	if got := c.conv.Variables; got["plan"] != "pro" || len(got) != 2 {
		t.Errorf("the conversation's variables changed: %v", got)
	}
}
