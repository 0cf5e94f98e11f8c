package local_test

import (
	"context"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/provider/local"
)

// Every answer counts one call, whatever path made it: usage per run and per conversation
// count local calls like any provider's.
func TestCallsCounted(t *testing.T) {
	t.Parallel()
	p := &local.Provider{}
	handoff := []tandem.Tool{{Name: "handoff"}}
	for _, tt := range []struct {
		name string
		req  tandem.AIRequest
	}{
		{"classify", tandem.AIRequest{Op: tandem.AIClassify, Input: "hello there", Intents: []tandem.Intent{{ID: "greeting", Description: "hello"}}}},
		{"complete", tandem.AIRequest{Op: tandem.AIComplete, Input: "what are your hours?"}},
		{"handoff tool", tandem.AIRequest{Op: tandem.AIComplete, Input: "I want a human", Tools: handoff}},
		{"after a search", tandem.AIRequest{Op: tandem.AIComplete, Tools: handoff, Messages: []tandem.ChatMessage{
			{Role: "user", Content: "hours?"}, {Role: "tool", Content: "[1] (source: faq)\nWe open at 9."}}}},
	} {
		res, err := p.Call(context.Background(), &tt.req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got, want := res.Usage, (tandem.Usage{Calls: 1}); got != want {
			t.Errorf("%s: usage %+v, want %+v", tt.name, got, want)
		}
	}
}
