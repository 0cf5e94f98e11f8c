package main

import "testing"

// The flows of the variables test: each says var.plan (and var.source) of its run.
var varFlows = map[string]string{
	"greet.yaml": `format: 1
id: greet
trigger: {on: conversation_start}
variables: {plan: free}
steps:
  - {id: hi, type: message, text: "Hello, {{var.plan}} customer."}
`,
	"plan.yaml": `format: 1
id: plan
trigger: {on: message, match: {contains: plan}}
variables: {plan: free, source: none}
steps:
  - {id: ask, type: question, text: "Your plan: {{var.plan}} (from {{var.source}}). Anything else?"}
`,
	"urgent.yaml": `format: 1
id: urgent
trigger: {on: message, match: {contains: urgent}, preempt: true}
steps:
  - {id: say, type: message, text: "Urgent, {{var.plan}} customer: a person will call you."}
`,
	"human.yaml": `format: 1
id: human
trigger: {on: message, match: {contains: agent}}
steps:
  - {id: to_human, type: handoff, team: support, require_email: never}
`,
}

// TestWidgetVariables: the page's variables (tandemSettings.variables, v.<name>) are
// var.<name> of every run started in the visitor's conversations, not only the greeting: a
// flow a later message starts, a flow that preempts it, a flow started in the conversation
// after a handoff closed; and a later page's variables hold for the runs that start after it.
func TestWidgetVariables(t *testing.T) {
	t.Parallel()
	_, _, base := widgetServer(t, varFlows)
	const site = shopSite
	w := &widgetClient{t: t, base: base + "/widget/v1/web/"}
	a := w.do("POST", "sessions", map[string]any{"origin": site, "variables": map[string]any{"plan": "pro", "source": "pricing"}})
	if a.status != 200 {
		t.Fatalf("session: %d %v", a.status, a.body)
	}
	w.token = a.body["token"].(string)
	s := w.stream("")
	conv := w.do("POST", "conversations", nil).body["conversation_id"]
	s.next(t, "message", text("Hello, pro customer."))

	send := func(id, msg string) {
		t.Helper()
		if a := w.do("POST", "messages", map[string]any{"client_id": id, "text": msg}); a.status != 202 {
			t.Fatalf("message %q: %d %v", msg, a.status, a.body)
		}
	}
	send("m-1", "which plan do I have?")
	s.next(t, "message", text("Your plan: pro (from pricing). Anything else?"))
	send("m-2", "urgent!")
	s.next(t, "message", text("Urgent, pro customer: a person will call you."))

	// A handoff, closed by the agent: the bot has the conversation again, and the flow the
	// next message starts gets the variables.
	send("m-3", "an agent please")
	s.next(t, "conversation", func(d map[string]any) bool { return d["status"] == "queued" })
	ana := agentAna(t, base)
	ana.call("POST", "/api/v1/inbox/conversations/"+conv.(string)+"/messages", map[string]string{"text": "Hi!"}, nil)
	s.next(t, "conversation", func(d map[string]any) bool { return d["status"] == "assigned" })
	if st := ana.call("POST", "/api/v1/inbox/conversations/"+conv.(string)+"/close", nil, nil); st >= 300 {
		t.Fatalf("close: %d", st)
	}
	s.next(t, "conversation", func(d map[string]any) bool { return d["status"] == "bot" })
	send("m-4", "and my plan?")
	s.next(t, "message", text("Your plan: pro (from pricing). Anything else?"))

	// Another page of the site, with other variables: the runs that start from now on get them.
	if a := w.do("POST", "sessions", map[string]any{"token": w.token, "origin": site, "variables": map[string]any{"plan": "enterprise"}}); a.status != 200 {
		t.Fatalf("session again: %d %v", a.status, a.body)
	}
	send("m-5", "urgent: my plan")
	s.next(t, "message", text("Urgent, enterprise customer: a person will call you."))
	send("m-6", "my plan again")
	s.next(t, "message", text("Your plan: enterprise (from pricing). Anything else?"))
}

// TestWidgetVariablesFirstMessage: a visitor who writes before opening the chat's greeting
// starts a conversation with their first message; its runs get the page's variables too.
func TestWidgetVariablesFirstMessage(t *testing.T) {
	t.Parallel()
	_, _, base := widgetServer(t, varFlows)
	const site = shopSite
	w := &widgetClient{t: t, base: base + "/widget/v1/web/"}
	a := w.do("POST", "sessions", map[string]any{"origin": site, "variables": map[string]any{"plan": "pro", "source": "ad"}})
	w.token = a.body["token"].(string)
	s := w.stream("")
	if a := w.do("POST", "messages", map[string]any{"client_id": "m-1", "text": "my plan?"}); a.status != 202 {
		t.Fatalf("message: %d %v", a.status, a.body)
	}
	s.next(t, "message", text("Your plan: pro (from ad). Anything else?"))
}
