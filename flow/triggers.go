package flow

import (
	"fmt"
	"slices"
)

// TriggerWarnings checks f's trigger against the other flows published or validated with it:
// a warning when f and another flow both start on any message with the same priority on a
// common channel, since the flow id then decides which one starts and the other never does
// that way. Flows with f's id among others are skipped (older versions of f).
func TriggerWarnings(f *Flow, others []*Flow) []Finding {
	if f == nil || !catchAll(f) {
		return nil
	}
	var out []Finding
	for _, o := range others {
		if o == nil || o.ID == f.ID || !catchAll(o) || o.Trigger.Priority != f.Trigger.Priority || !shareChannel(f.Trigger.Channels, o.Trigger.Channels) {
			continue
		}
		winner, loser := f.ID, o.ID
		if o.ID < f.ID {
			winner, loser = o.ID, f.ID
		}
		line := f.Line("/id") // no trigger: the flow starts on any message by default
		if f.pos.has("/trigger") {
			line = f.Line("/trigger/match")
		}
		out = append(out, Finding{File: f.File, Line: line, Field: "trigger.match", Severity: SeverityWarning,
			Message: fmt.Sprintf("flows %q and %q both start on any message with priority %d, so %q always wins (the lower id) and %q never starts this way; give one of them another priority",
				f.ID, o.ID, f.Trigger.Priority, winner, loser)})
	}
	return out
}

// catchAll reports whether a flow starts on any customer message.
func catchAll(f *Flow) bool {
	return f.Trigger.Kind() == OnMessage && f.Trigger.Match.IsAny()
}

// shareChannel reports whether two trigger channel lists accept a common channel (an empty
// list accepts every channel). Kinds and ids are compared as written.
func shareChannel(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, c := range a {
		if slices.Contains(b, c) {
			return true
		}
	}
	return false
}
