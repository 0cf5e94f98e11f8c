package main

import (
	"strings"
	"testing"
)

// tandem chat --at starts the clock at a given time (in the workspace's zone), and a handoff to
// the inbox is queued in the terminal: /agent answers as the agent, /close ends it, and the
// flow goes on.
func TestChatAtAndInbox(t *testing.T) {
	t.Parallel()
	c := cli{env: map[string]string{}, stdin: "support\n/state\n/agent Hi Ana, Bob here.\nthanks\n/close\n/state\n"}
	r := c.run(t, "chat", "../../examples/business-hours.yaml", "--config", "../../examples/tandem.yaml", "--at", "2026-12-07T10:00")
	if r.code != 0 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"(clock: Mon 2026-12-07 10:00:00 -03)",
		"bot: Hi Ana! Our team is online now (mon 10:00). Connecting you with support.",
		`(inbox: the conversation is queued for team support; answer as the agent with /agent TEXT, end with /close)`,
		"conversation: queued, bot active, team \"support\", handoff queued",
		"bot: An agent has joined the conversation.\nagent: Hi Ana, Bob here.",
		`(inbox: the agent sees "thanks")`,
		"bot: The agent ended the conversation. Thank you for contacting us!",
		"handoff closed",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the chat does not show %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "can't be reached") {
		t.Errorf("the inbox was unavailable:\n%s", r.stdout)
	}

	// Outside office hours (Sunday), the same flow offers a call-back.
	c.stdin = "help\n"
	r = c.run(t, "chat", "../../examples/business-hours.yaml", "--config", "../../examples/tandem.yaml", "--at", "2026-12-06T10:00:00-03:00")
	if !strings.Contains(r.stdout, "We're closed right now") {
		t.Errorf("on a Sunday the chat says:\n%s", r.stdout)
	}
	r = c.run(t, "chat", "../../examples/business-hours.yaml", "--at", "next monday")
	if r.code != 2 || !strings.Contains(r.stderr, `--at: "next monday" is not a time; write 2026-12-07T10:00`) {
		t.Errorf("a bad --at: exit %d, %s", r.code, r.stderr)
	}
}
