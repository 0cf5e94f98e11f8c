package flow

import (
	"strings"
	"testing"
)

func TestTriggerWarnings(t *testing.T) {
	t.Parallel()
	flowWith := func(id, trigger string) *Flow {
		f, findings := Parse(id+".yaml", []byte("format: 1\nid: "+id+"\n"+trigger+"steps:\n  - {id: hi, type: message, text: hi}\n"))
		if f == nil {
			t.Fatalf("parse %s: %v", id, findings)
		}
		return f
	}
	menu := flowWith("menu", "trigger:\n  on: message\n  match: any\n")
	bot := flowWith("bot", "trigger: {on: message, match: any}\n")
	noTrigger := flowWith("plain", "")
	higher := flowWith("high", "trigger: {match: any, priority: 5}\n")
	keyword := flowWith("order", "trigger: {match: {contains: order}}\n")
	wa := flowWith("wa", "trigger: {match: any, channels: [whatsapp]}\n")
	tg := flowWith("tg", "trigger: {match: any, channels: [telegram]}\n")
	never := flowWith("never", "trigger: {on: never}\n")
	tests := []struct {
		name   string
		f      *Flow
		others []*Flow
		want   []string
	}{
		{"two catch-alls with one priority", menu, []*Flow{bot}, []string{
			`menu.yaml:5: warning: field "trigger.match": flows "menu" and "bot" both start on any message with priority 0, so "bot" always wins (the lower id) and "menu" never starts this way; give one of them another priority`}},
		{"a flow without a trigger starts on any message", noTrigger, []*Flow{menu}, []string{
			`plain.yaml:2: warning: field "trigger.match": flows "plain" and "menu" both start on any message with priority 0, so "menu" always wins (the lower id) and "plain" never starts this way; give one of them another priority`}},
		{"different priorities", higher, []*Flow{menu}, nil},
		{"a keyword match is not a catch-all", keyword, []*Flow{menu}, nil},
		{"older versions of the same flow", menu, []*Flow{menu}, nil},
		{"channels that do not meet", wa, []*Flow{tg}, nil},
		{"channels that meet the unrestricted flow", wa, []*Flow{menu}, []string{`both start on any message`}},
		{"on: never starts on nothing", never, []*Flow{menu}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := TriggerWarnings(tt.f, tt.others)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d findings %v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if s := got[i].String(); s != w && !strings.Contains(s, w) {
					t.Errorf("finding %d:\n got %s\nwant %s", i, s, w)
				}
			}
		})
	}
}
