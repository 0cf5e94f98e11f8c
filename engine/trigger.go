package engine

import (
	"sort"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/flow"
)

// candidate is a flow whose trigger accepts the event, with how specific the match was.
type candidate struct {
	f           *flow.Flow
	specificity int // 2 keyword, 1 conversation start, 0 any
}

// match picks the flow a customer message starts when no run is active: the highest priority
// wins; on a tie a keyword match wins over a conversation-start trigger, which wins over `any`;
// then the flow id decides, so the choice is stable.
func (c *cursor) match(m *tandem.Message, first bool) (*flow.Flow, bool) {
	var cands []candidate
	for _, f := range c.env.Flows.Triggerable() {
		t := &f.Trigger
		if !c.channelOK(t) {
			continue
		}
		switch t.Kind() {
		case flow.OnMessage:
			if t.Match.Test(m.Text) {
				spec := 0
				if !t.Match.IsAny() {
					spec = 2
				}
				cands = append(cands, candidate{f, spec})
			}
		case flow.OnConversationStart:
			if first {
				cands = append(cands, candidate{f, 1})
			}
		}
	}
	best := pick(cands)
	if best == nil {
		return nil, false
	}
	return best.f, best.specificity == 2
}

// matchStart picks the conversation_start flow for a conversation opened without a message.
func (c *cursor) matchStart() *flow.Flow {
	var cands []candidate
	for _, f := range c.env.Flows.Triggerable() {
		if f.Trigger.Kind() == flow.OnConversationStart && c.channelOK(&f.Trigger) {
			cands = append(cands, candidate{f, 1})
		}
	}
	if best := pick(cands); best != nil {
		return best.f
	}
	return nil
}

// preemptor returns a flow with `preempt: true` whose trigger matches the message while another
// flow's run is active (a flow does not preempt itself: the message is its run's).
func (c *cursor) preemptor(m *tandem.Message) *flow.Flow {
	running := map[string]bool{}
	if r := c.st.Run; r != nil {
		running[r.FlowID] = true
		for _, fr := range r.Frames {
			running[fr.FlowID] = true
		}
	}
	var cands []candidate
	for _, f := range c.env.Flows.Triggerable() {
		t := &f.Trigger
		if !t.Preempt || t.Kind() != flow.OnMessage || running[f.ID] || !c.channelOK(t) || !t.Match.Test(m.Text) {
			continue
		}
		spec := 0
		if !t.Match.IsAny() {
			spec = 2
		}
		cands = append(cands, candidate{f, spec})
	}
	if best := pick(cands); best != nil {
		return best.f
	}
	return nil
}

func pick(cands []candidate) *candidate {
	if len(cands) == 0 {
		return nil
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.f.Trigger.Priority != b.f.Trigger.Priority {
			return a.f.Trigger.Priority > b.f.Trigger.Priority
		}
		if a.specificity != b.specificity {
			return a.specificity > b.specificity
		}
		return a.f.ID < b.f.ID
	})
	return &cands[0]
}

// channelOK reports whether the trigger accepts the conversation's channel (kind or id).
func (c *cursor) channelOK(t *flow.Trigger) bool {
	if len(t.Channels) == 0 {
		return true
	}
	for _, ch := range t.Channels {
		if ch == c.conv.ChannelKind || ch == c.conv.ChannelID {
			return true
		}
	}
	return false
}
