package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestWidgetStatusEventsNumbered: each change of the conversation's status (queued, assigned
// with the agent's name, back to the bot when the agent ends the handoff) is a `status` event numbered with the messages: the stream
// gives seq 1, 2, 3… without gaps, each event's id its cursor. A reconnect from the cursor of a
// status change replays exactly what came after it, and so does the long poll, which also
// answers a status change without a message.
func TestWidgetStatusEventsNumbered(t *testing.T) {
	t.Parallel()
	_, _, base := widgetServer(t, nil)
	w := &widgetClient{t: t, base: base + "/widget/v1/web/"}
	a := w.do("POST", "sessions", map[string]any{"origin": shopSite})
	if a.status != 200 {
		t.Fatalf("session: %d %v", a.status, a.body)
	}
	w.token = a.body["token"].(string)
	s := w.stream("")
	conv, _ := w.do("POST", "conversations", nil).body["conversation_id"].(string)
	if conv == "" {
		t.Fatal("no conversation")
	}
	s.next(t, "message", text("Hi! Welcome to Lumen & Co. How can we help?"))
	w.do("POST", "messages", map[string]any{"client_id": "c-1", "reply": map[string]any{"button_id": "human"}})
	w.do("POST", "messages", map[string]any{"client_id": "c-2", "text": "Where is my parcel?"})
	s.next(t, "status", func(d map[string]any) bool { return d["status"] == "queued" })

	// A long poll waiting after the queued change answers the agent taking the conversation,
	// a status change, though no message came with it yet.
	ana := agentAna(t, base)
	queuedAt := cursorOf(t, w, conv, "queued")
	polled := make(chan answer, 1)
	go func() { polled <- w.do("GET", "messages?wait=25s&after="+url.QueryEscape(queuedAt), nil) }()
	s.next(t, "conversation", func(d map[string]any) bool { return d["status"] == "queued" })
	queued(t, ana, true)
	var p answer
	select {
	case p = <-polled:
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll did not answer the change to assigned within 20 s")
	}
	if st, _ := p.body["statuses"].([]any); p.status != 200 || len(st) == 0 || st[0].(map[string]any)["status"] != "assigned" {
		t.Errorf("the long poll after queued: %d %v; want the change to assigned", p.status, p.body)
	}
	if st := ana.call("POST", "/api/v1/inbox/conversations/"+conv+"/messages", map[string]string{"text": "Ana here."}, nil); st != 202 {
		t.Fatalf("agent message: %d", st)
	}
	s.next(t, "message", text("Ana here."))
	if st := ana.call("POST", "/api/v1/inbox/conversations/"+conv+"/close", nil, nil); st >= 300 {
		t.Fatalf("close: %d", st)
	}
	// The agent ends the handoff: the bot has the conversation again.
	s.next(t, "status", func(d map[string]any) bool { return d["status"] == "bot" })
	s.cancel()

	// The whole conversation from the start: gapless, each id its cursor.
	all := readNumbered(t, w.stream(""), "bot")
	var kinds []string
	for i, ev := range all {
		if ev.data["seq"] != float64(i+1) || ev.id != fmt.Sprintf("%s.%d", conv, i+1) || ev.data["conversation_id"] != conv {
			t.Fatalf("event %d: %s %s %v", i+1, ev.event, ev.id, ev.data)
		}
		if ev.event == "status" {
			k := "status:" + ev.data["status"].(string)
			if ag, _ := ev.data["agent"].(map[string]any); ag != nil {
				k += ":" + ag["name"].(string)
			}
			kinds = append(kinds, k)
		}
	}
	if got := strings.Join(kinds, " "); got != "status:queued status:assigned:Ana Lima status:bot" {
		t.Errorf("status events %q", got)
	}

	// Reconnecting after the queued change replays exactly what came after it.
	var from int
	for i, ev := range all {
		if ev.id == queuedAt {
			from = i + 1
		}
	}
	again := readNumbered(t, w.stream(queuedAt), "bot")
	if len(again) != len(all)-from {
		t.Fatalf("replay after %s: %d events, want %d", queuedAt, len(again), len(all)-from)
	}
	for i, ev := range again {
		if want := all[from+i]; ev.id != want.id || ev.event != want.event {
			t.Errorf("replay event %d: %s %s, want %s %s", i, ev.event, ev.id, want.event, want.id)
		}
	}

	// The long poll from the same cursor: the same events, messages and statuses together.
	lp := w.do("GET", "messages?after="+url.QueryEscape(queuedAt), nil)
	msgs, _ := lp.body["messages"].([]any)
	sts, _ := lp.body["statuses"].([]any)
	if lp.status != 200 || len(msgs)+len(sts) != len(again) || lp.body["next_cursor"] != all[len(all)-1].id {
		t.Errorf("long poll after %s: %d, %d messages and %d statuses, next %v; want %d events, next %s", queuedAt, lp.status, len(msgs), len(sts), lp.body["next_cursor"], len(again), all[len(all)-1].id)
	}
	seqs := map[float64]bool{}
	for _, x := range append(msgs, sts...) {
		seqs[x.(map[string]any)["seq"].(float64)] = true
	}
	for _, ev := range again {
		if !seqs[ev.data["seq"].(float64)] {
			t.Errorf("the long poll lacks seq %v (%s)", ev.data["seq"], ev.event)
		}
	}
}

// readNumbered reads a stream's messages and status changes up to the status change to status.
func readNumbered(t *testing.T, s *sse, status string) []sseEvent {
	t.Helper()
	defer s.cancel()
	var out []sseEvent
	for {
		ev := s.numbered(t)
		out = append(out, ev)
		if ev.event == "status" && ev.data["status"] == status {
			return out
		}
	}
}

// cursorOf returns the cursor (event id) of the conversation's change to status, read from a
// stream of its history.
func cursorOf(t *testing.T, w *widgetClient, conv, status string) string {
	t.Helper()
	for _, ev := range readNumbered(t, w.stream(""), status) {
		if ev.event == "status" && ev.data["status"] == status {
			return ev.id
		}
	}
	return ""
}
