// Package local is the offline, deterministic AI provider, the default when no provider is
// configured: it classifies intents by matching the customer's text against the intents'
// descriptions and examples, and answers from a knowledge base by retrieval (the best passage,
// with its source). Demos and tests need no key and no network.
package local

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/words"
	"github.com/tandemchat/tandem/provider"
)

// Kind is the provider kind.
const Kind = "local"

func init() {
	provider.Register(Kind, func(c provider.Config, d provider.Deps) (tandem.Provider, error) {
		return &Provider{Knowledge: d.Knowledge, DefaultKnowledge: d.DefaultKnowledge}, nil
	})
}

// Provider is the local provider.
type Provider struct {
	Knowledge        tandem.Knowledge
	DefaultKnowledge string
}

// NoAnswer is what the local provider says when the knowledge base has nothing.
const NoAnswer = "Sorry, I don't know the answer to that yet. You can ask to talk to a person."

// handoffWords make the local agent call its handoff tool.
var handoffWords = []string{"human", "person", "agent", "attendant", "somebody", "someone", "representative", "operator",
	"humano", "pessoa", "atendente", "agente", "persona", "asesor", "operador"}

// Call implements tandem.Provider.
func (p *Provider) Call(ctx context.Context, req *tandem.AIRequest) (*tandem.AIResult, error) {
	res := &tandem.AIResult{Provider: req.Provider, Model: "local", FinishReason: "stop", Usage: tandem.Usage{Calls: 1}}
	input := req.Input
	if input == "" {
		for i := len(req.Messages) - 1; i >= 0; i-- {
			if req.Messages[i].Role == "user" {
				input = req.Messages[i].Content
				break
			}
		}
	}
	if req.Op == tandem.AISummarize {
		return nil, &tandem.AIError{Status: 400, Message: "the local provider writes no summaries (it works offline, without a model); name a model provider in the handoff step's transfer.provider, or set a default provider"}
	}
	if req.Op == tandem.AIClassify {
		res.Intent, res.Confidence = Classify(input, req.Intents)
		res.Text = "#" + res.Intent
		if res.Intent == "" {
			res.Text = "#other"
		}
		return res, nil
	}
	// A tool result in the exchange means the agent already searched: answer from it.
	for i := len(req.Messages) - 1; i >= 0 && req.ToolChoice != "none"; i-- {
		m := req.Messages[i]
		if m.Role == "user" {
			break
		}
		if m.Role == "tool" {
			res.Text = firstPassage(m.Content)
			return res, nil
		}
	}
	if req.ToolChoice != "none" {
		for _, t := range req.Tools {
			if t.Name == "handoff" && asksForPerson(input) {
				args, _ := json.Marshal(map[string]string{"reason": "the customer asked for a person"})
				res.ToolCalls = []tandem.ToolCall{{ID: "local-handoff", Name: "handoff", Arguments: args}}
				res.FinishReason = "tool_calls"
				return res, nil
			}
		}
	}
	kb := req.Knowledge
	if kb == "" {
		kb = p.DefaultKnowledge
	}
	res.Text = NoAnswer
	if kb != "" && p.Knowledge != nil && strings.TrimSpace(input) != "" {
		ps, err := p.Knowledge.Search(ctx, kb, input, 1)
		if err != nil {
			return nil, &tandem.AIError{Status: 500, Message: "the local provider cannot search knowledge base " + kb + ": " + err.Error()}
		}
		if len(ps) > 0 && ps[0].Score > 0 {
			res.Text = ps[0].Text
			res.Citations = []tandem.Citation{{Source: ps[0].Source, Text: ps[0].Text, Score: ps[0].Score}}
		}
	}
	if req.Output == "json" {
		b, _ := json.Marshal(map[string]string{"answer": res.Text})
		res.Text = string(b)
	}
	return res, nil
}

// firstPassage takes the first passage of a knowledge search result ("[1] (source: x)\ntext").
func firstPassage(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[1]") {
		return s
	}
	if i := strings.Index(s, "\n"); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.Index(s, "\n\n["); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func asksForPerson(text string) bool {
	for _, w := range words.Terms(text) {
		for _, h := range handoffWords {
			if w == h || words.Stem(w) == words.Stem(h) {
				return true
			}
		}
	}
	return false
}

// Classify scores each intent by the customer's words found in its id, description and
// examples (an example contained whole scores most) and returns the best, or "" when nothing
// matches; confidence is between 0 and 1.
func Classify(text string, intents []tandem.Intent) (string, float64) {
	norm := words.Normalize(text)
	terms := words.Terms(text)
	best, bestScore, second := "", 0.0, 0.0
	for _, it := range intents {
		score := 0.0
		vocab := map[string]float64{}
		add := func(s string, weight float64) {
			for _, w := range words.Terms(s) {
				if st := words.Stem(w); vocab[st] < weight {
					vocab[st] = weight
				}
			}
		}
		add(strings.ReplaceAll(it.ID, "_", " "), 1)
		add(it.Description, 0.7)
		for _, ex := range it.Examples {
			add(ex, 1)
			if e := strings.TrimSpace(words.Normalize(ex)); e != "" && containsPhrase(norm, e) {
				score += 3
			}
		}
		for _, t := range terms {
			score += vocab[words.Stem(t)]
		}
		switch {
		case score > bestScore:
			best, second, bestScore = it.ID, bestScore, score
		case score > second:
			second = score
		}
	}
	if bestScore < 0.7 {
		return "", 0
	}
	conf := bestScore / (bestScore + second + 1)
	return best, float64(int(conf*100)) / 100
}

// containsPhrase reports whether phrase occurs in text as whole words.
func containsPhrase(text, phrase string) bool {
	tw, pw := words.Words(text), words.Words(phrase)
	if len(pw) == 0 {
		return false
	}
	for i := 0; i+len(pw) <= len(tw); i++ {
		match := true
		for j := range pw {
			if tw[i+j] != pw[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
