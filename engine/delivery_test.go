package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
)

// On a channel that reports delivery, a message step with on_failed waits for the report:
// failed takes on_failed (also when the report comes before the send's result), delivered or
// read goes on, and no report within delivery_timeout goes on as sent.
func TestMessageDeliveryReports(t *testing.T) {
	t.Parallel()
	flows := mustFlows(t, `
format: 1
id: notice
trigger: {on: message, match: any}
steps:
  - {id: tracked, type: message, text: "Your code is 1234", on_failed: fallback, delivery_timeout: 30s}
  - {id: ok, type: message, text: "went on: {{step.tracked.status}}", next: end}
  - {id: fallback, type: message, text: "failed: {{step.tracked.status}} ({{step.tracked.error}})"}
`)
	accepted := func(id string) *tandem.Event {
		return &tandem.Event{Kind: tandem.EventResult, Result: &tandem.EffectResult{EffectID: id, Kind: tandem.EffectSend,
			Send: &tandem.SendResult{MessageID: id, ChannelMessageID: "wamid.1"}}}
	}
	report := func(id, status, err string) *tandem.Event {
		return &tandem.Event{Kind: tandem.EventDelivery, Delivery: &tandem.Delivery{MessageID: id, Status: status, Error: err}}
	}
	for _, tc := range []struct {
		name  string
		after func(c *conv, id string) *Output
		want  string
	}{
		{"delivered", func(c *conv, id string) *Output {
			if out := c.process(accepted(id)); len(sent(out)) != 0 {
				t.Fatalf("the step went on before the report: %q", sent(out))
			}
			return c.process(report(id, "delivered", ""))
		}, "went on: delivered"},
		{"read", func(c *conv, id string) *Output {
			c.process(accepted(id))
			return c.process(report(id, "read", ""))
		}, "went on: read"},
		{"failed after the result", func(c *conv, id string) *Output {
			c.process(accepted(id))
			return c.process(report(id, "failed", "131047: Re-engagement message"))
		}, "failed: failed (131047: Re-engagement message)"},
		{"failed before the result", func(c *conv, id string) *Output {
			out := c.process(report(id, "failed", "131026: Message undeliverable"))
			if late := c.process(accepted(id)); len(sent(late)) != 0 {
				t.Errorf("the late result sent %q", sent(late))
			}
			return out
		}, "failed: failed (131026: Message undeliverable)"},
		{"no report in time", func(c *conv, id string) *Output {
			c.process(accepted(id))
			if got := c.process(report("another", "failed", "x")); len(sent(got)) != 0 {
				t.Fatalf("a report on another message moved the step: %q", sent(got))
			}
			var tm tandem.Timer
			for _, x := range c.timers {
				tm = x
			}
			if want := c.now.Add(30 * time.Second); !tm.Due.Equal(want) {
				t.Fatalf("delivery timer due %v, want %v", tm.Due, want)
			}
			c.now = tm.Due
			return c.process(&tandem.Event{Kind: tandem.EventTimer, Timer: &tandem.TimerFired{ID: tm.ID, Key: tm.Key, Due: tm.Due}})
		}, "went on: sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newConv(&Env{Flows: flows, NewID: counterIDs(), Caps: func(string) tandem.Caps { return tandem.Caps{MaxText: 4096, Statuses: true} }})
			out := c.say("hi")
			if len(out.Effects) != 1 || !out.Effects[0].Await {
				t.Fatalf("effects %+v: want one awaited send", out.Effects)
			}
			if got := sent(tc.after(c, out.Effects[0].ID)); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("sent %q, want %q", got, tc.want)
			}
		})
	}
}

// A message step's template is rendered and carried with the message (every part of a split
// text, the later ones marked as continuations); a template-only message is skipped on a
// channel without a window.
func TestMessageTemplate(t *testing.T) {
	t.Parallel()
	flows := mustFlows(t, `
format: 1
id: remind
trigger: {on: message, match: any}
steps:
  - id: remind
    type: message
    text: "Hi {{contact.first_name}}. Your order ships today."
    template:
      name: order_update
      language: "{{contact.language | default: 'en_US'}}"
      components: [{type: body, parameters: [{type: text, text: "{{contact.first_name}}"}]}]
  - {id: only, type: message, template: {name: ping, language: en}}
`)
	for _, tc := range []struct {
		name  string
		caps  tandem.Caps
		parts int
		sends int
	}{
		{"whatsapp", tandem.Caps{MaxText: 20, Window: 24 * time.Hour}, 2, 3},
		{"no window", tandem.Caps{}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newConv(&Env{Flows: flows, NewID: counterIDs(), Caps: func(string) tandem.Caps { return tc.caps }})
			out := c.say("hi")
			if len(out.Effects) != tc.sends {
				t.Fatalf("%d sends, want %d", len(out.Effects), tc.sends)
			}
			for i, e := range out.Effects[:tc.parts] {
				tp := e.Send.Template
				if tp == nil || tp.Name != "order_update" || tp.Language != "en_US" {
					t.Fatalf("part %d template %+v", i, tp)
				}
				comps, _ := tp.Components.([]any)
				body, _ := comps[0].(map[string]any)
				params, _ := body["parameters"].([]any)
				if p, _ := params[0].(map[string]any); p["text"] != "Ana" {
					t.Errorf("part %d parameters %v, want the rendered first name", i, params)
				}
				if e.Send.Continues != (i > 0) {
					t.Errorf("part %d continues = %v", i, e.Send.Continues)
				}
			}
		})
	}
}
