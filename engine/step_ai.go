package engine

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/flow"
)

func init() {
	register("llm", llmHandler{})
	register("classify", classifyHandler{})
	register("assistant", assistantHandler{})
	register("agent", agentHandler{})
}

// AI operations carried out by the runner besides provider calls.
const (
	// AISearch searches a knowledge base (the agent's search tool).
	AISearch = "search"
)

// Tool names the engine gives models.
const (
	ToolHandoff   = "handoff"
	ToolKnowledge = "search_knowledge"
)

// providerID returns the provider a step uses: its own, the workspace default, or local.
func (c *cursor) providerID(id string) string {
	switch {
	case id != "":
		return id
	case c.env.DefaultProvider != "":
		return c.env.DefaultProvider
	}
	return "local"
}

// turnText is the current turn's customer text.
func (c *cursor) turnText() string {
	if m := c.st.Run.Message; m != nil {
		return m.Text
	}
	return ""
}

// userMessage is a model message with the customer's text, and the image of the turn's message
// when it is one (vision-capable models see it).
func (c *cursor) userMessage(text string) tandem.ChatMessage {
	msg := tandem.ChatMessage{Role: "user", Content: text}
	if m := c.st.Run.Message; m != nil && m.Media != nil && (m.Type == tandem.MessageImage || strings.HasPrefix(m.Media.Mime, "image/")) {
		msg.Images = []string{m.Media.URL}
	}
	return msg
}

// aiCall emits an AI effect for a step and makes the run wait for its result.
func (c *cursor) aiCall(s *flow.Step, call *flow.AICall, req *tandem.AIRequest) outcome {
	req.Provider = c.providerID(call.Provider)
	req.Step = s.ID
	req.ConversationID = c.conv.ID
	contact := *c.contact
	req.Contact = &contact
	if call.Model != "" {
		req.Model = call.Model
	}
	if call.MaxTokens > 0 {
		req.MaxTokens = call.MaxTokens
	}
	if call.Temperature != nil {
		req.Temperature = call.Temperature
	}
	if call.Timeout != nil {
		req.Timeout = call.Timeout.D()
	}
	if call.Retry != nil {
		req.Retry = retryPolicy(call.Retry)
	} else {
		req.Retry = tandem.RetryPolicy{Attempts: 1}
	}
	if call.Fallback != nil {
		req.Fallback = &tandem.AIFallback{Provider: call.Fallback.Provider, Model: call.Fallback.Model}
	}
	req.Memory = c.st.Memory[req.Provider]
	if m := c.st.Run.Message; m != nil {
		req.HistoryBefore = m.ID
	}
	id := c.effect(tandem.Effect{Kind: tandem.EffectAI, Await: true, AI: req})
	return c.wait(false, zeroTime, id)
}

// aiResult reads an AI result, records usage and provider memory, and returns the error text
// when the call failed for good.
func (c *cursor) aiResult(ev *tandem.Event) (*tandem.AIResult, string) {
	r := ev.Result
	res := r.AI
	if res == nil {
		return &tandem.AIResult{Error: firstNonEmpty(r.Error, "the AI call produced no result")}, firstNonEmpty(r.Error, "the AI call produced no result")
	}
	c.st.Run.Usage = c.st.Run.Usage.Add(res.Usage)
	c.recordAICalls(res)
	if res.Memory != "" && res.Provider != "" {
		if c.st.Memory == nil {
			c.st.Memory = map[string]string{}
		}
		c.st.Memory[res.Provider] = res.Memory
	}
	if res.Error == "" {
		return res, ""
	}
	msg := res.Error
	if res.Status != 0 && !strings.Contains(msg, fmt.Sprint(res.Status)) {
		msg = fmt.Sprintf("%s (status %d)", msg, res.Status)
	}
	return res, msg
}

// recordAICalls adds the provider calls behind an AI result to the output, for analytics: the
// runner's record of each attempt, or one call made of the result when it has none.
func (c *cursor) recordAICalls(res *tandem.AIResult) {
	calls := res.Calls
	if len(calls) == 0 && res.Provider != "" {
		calls = []tandem.AICall{{Provider: res.Provider, Model: res.Model, StartedAt: c.now.Add(-time.Duration(res.DurationMS) * time.Millisecond),
			DurationMS: res.DurationMS, Error: res.Error != "", Status: res.Status, Usage: res.Usage}}
	}
	for _, call := range calls {
		call.RunID, call.Step = c.st.Run.ID, c.st.Run.Step
		c.out.AICalls = append(c.out.AICalls, call)
	}
}

func usageMap(u tandem.Usage) map[string]any {
	return map[string]any{"input_tokens": float64(u.InputTokens), "output_tokens": float64(u.OutputTokens), "calls": float64(u.Calls)}
}

func citationsList(cs []tandem.Citation) []any {
	out := make([]any, 0, len(cs))
	for _, c := range cs {
		out = append(out, map[string]any{"source": c.Source, "text": c.Text, "score": c.Score})
	}
	return out
}

// aiError records an AI step's failure and takes on_error (or fails the run).
func (c *cursor) aiError(s *flow.Step, onError string, res *tandem.AIResult, msg string) outcome {
	out := map[string]any{"error": msg, "status": float64(res.Status), "text": ""}
	c.output(s, out)
	c.trace(s, "result", nil, out, msg)
	return c.fail(s, onError, msg)
}

// ---- llm ----

type llmHandler struct{}

func (llmHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.LLMStep)
	prompt := c.render(&b.Prompt)
	if b.Prompt.IsZero() {
		prompt = c.turnText()
	}
	req := &tandem.AIRequest{Op: tandem.AIComplete, System: c.render(&b.System), Input: prompt,
		Messages: []tandem.ChatMessage{c.userMessage(prompt)}, Output: b.Output, History: b.History}
	if b.Schema != nil {
		req.Schema, _ = json.Marshal(b.Schema)
	}
	c.trace(s, "", map[string]any{"system": req.System, "prompt": prompt, "model": b.Model, "provider": c.providerID(b.Provider)}, nil, "")
	return c.aiCall(s, &b.AICall, req)
}

func (llmHandler) resume(c *cursor, s *flow.Step, ev *tandem.Event) outcome {
	b := s.Body.(*flow.LLMStep)
	res, errText := c.aiResult(ev)
	if errText != "" {
		return c.aiError(s, b.OnError, res, errText)
	}
	out := map[string]any{"text": res.Text, "model": res.Model, "usage": usageMap(res.Usage), "finish_reason": res.FinishReason, "error": ""}
	if b.Output == "json" {
		v := res.JSON
		if v == nil {
			var err error
			if v, err = parseJSONAnswer(res.Text); err != nil {
				return c.aiError(s, b.OnError, res, "the model's answer is not JSON: "+err.Error())
			}
		}
		if err := b.ValidateOutput(v); err != nil {
			return c.aiError(s, b.OnError, res, "the model's answer does not match the schema: "+oneLine(err.Error()))
		}
		out["json"] = v
	}
	c.output(s, out)
	c.trace(s, "result", nil, out, "")
	if b.Send && strings.TrimSpace(res.Text) != "" {
		c.send(tandem.Message{Text: res.Text}, "", false)
	}
	return c.next(s)
}

var fence = regexp.MustCompile("(?s)^\\s*```(?:json)?\\s*(.*?)\\s*```\\s*$")

// parseJSONAnswer reads a model's JSON answer, tolerating a Markdown code fence around it.
func parseJSONAnswer(text string) (any, error) {
	if m := fence.FindStringSubmatch(text); m != nil {
		text = m[1]
	}
	var v any
	if err := json.Unmarshal([]byte(strings.TrimSpace(text)), &v); err != nil {
		return nil, err
	}
	return v, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ---- classify ----

// classifyMaxTokens bounds a classify step's answer (one intent id) unless it sets max_tokens.
const classifyMaxTokens = 64

type classifyHandler struct{}

// classifyPrompt asks a model to answer with one intent id.
func classifyPrompt(instructions string, intents []tandem.Intent) string {
	var b strings.Builder
	if instructions != "" {
		b.WriteString(instructions + "\n\n")
	}
	b.WriteString("Classify the intent of the customer's message. The intents are:\n")
	for _, it := range intents {
		fmt.Fprintf(&b, "#%s: %s", it.ID, it.Description)
		if len(it.Examples) > 0 {
			fmt.Fprintf(&b, " (examples: %s)", strings.Join(it.Examples, "; "))
		}
		b.WriteByte('\n')
	}
	b.WriteString("#other: none of these.\nAnswer only with the id of one intent, like #" + firstIntent(intents) + ".")
	return b.String()
}

func firstIntent(intents []tandem.Intent) string {
	if len(intents) > 0 {
		return intents[0].ID
	}
	return "other"
}

func (classifyHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.ClassifyStep)
	input := c.turnText()
	if b.Input != nil {
		input = c.render(b.Input)
	}
	intents := make([]tandem.Intent, len(b.Intents))
	for i, it := range b.Intents {
		intents[i] = tandem.Intent{ID: it.ID, Description: it.Description, Examples: it.Examples}
	}
	req := &tandem.AIRequest{Op: tandem.AIClassify, System: classifyPrompt(c.render(&b.Instructions), intents), Input: input,
		Messages: []tandem.ChatMessage{c.userMessage(input)}, Intents: intents, MaxTokens: classifyMaxTokens}
	c.trace(s, "", map[string]any{"input": input, "provider": c.providerID(b.Provider)}, nil, "")
	return c.aiCall(s, &b.AICall, req)
}

func (classifyHandler) resume(c *cursor, s *flow.Step, ev *tandem.Event) outcome {
	b := s.Body.(*flow.ClassifyStep)
	res, errText := c.aiResult(ev)
	if errText != "" {
		out := map[string]any{"intent": "", "error": errText, "status": float64(res.Status), "text": ""}
		c.output(s, out)
		c.trace(s, "result", nil, out, errText)
		return c.fail(s, b.OnError, errText)
	}
	ids := make([]string, len(b.Intents))
	for i, it := range b.Intents {
		ids[i] = it.ID
	}
	intent := MatchIntent(res.Intent, ids)
	if intent == "" {
		intent = MatchIntent(res.Text, ids)
	}
	if intent == "" {
		intent = "other"
	}
	out := map[string]any{"intent": intent, "confidence": res.Confidence, "text": res.Text, "error": ""}
	c.output(s, out)
	c.trace(s, "result", nil, out, "")
	for _, it := range b.Intents {
		if it.ID == intent {
			return c.branch(s, it.Next)
		}
	}
	return c.branch(s, b.Other)
}

var hashWord = regexp.MustCompile(`#([\p{L}\p{N}_-]+)`)

// MatchIntent reads a model's answer leniently: `#Attendant`, `attendant`, ` Attendant.` all
// select the intent attendant; an answer naming exactly one intent as a #hashtag ("The intent
// is #Meeting") selects it; anything else selects none ("").
func MatchIntent(answer string, ids []string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.Trim(strings.TrimSpace(s), "#.,;:!?\"'`*()[]{} \n\t"))
	}
	a := norm(answer)
	if a == "" {
		return ""
	}
	for _, id := range ids {
		if a == norm(id) {
			return id
		}
	}
	found := ""
	for _, m := range hashWord.FindAllStringSubmatch(answer, -1) {
		for _, id := range ids {
			if strings.EqualFold(m[1], id) {
				if found != "" && found != id {
					return ""
				}
				found = id
			}
		}
	}
	return found
}

// ---- assistant ----

type assistantHandler struct{}

func (assistantHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.AssistantStep)
	input := c.turnText()
	if b.Input != nil {
		input = c.render(b.Input)
	}
	req := &tandem.AIRequest{Op: tandem.AIAssist, System: c.render(&b.Instructions), Input: input,
		Messages: []tandem.ChatMessage{c.userMessage(input)}, History: b.History}
	c.trace(s, "", map[string]any{"input": input, "provider": c.providerID(b.Provider)}, nil, "")
	return c.aiCall(s, &b.AICall, req)
}

func (assistantHandler) resume(c *cursor, s *flow.Step, ev *tandem.Event) outcome {
	b := s.Body.(*flow.AssistantStep)
	res, errText := c.aiResult(ev)
	if errText != "" {
		return c.aiError(s, b.OnError, res, errText)
	}
	out := map[string]any{"text": res.Text, "citations": citationsList(res.Citations), "usage": usageMap(res.Usage), "error": ""}
	c.output(s, out)
	c.trace(s, "result", nil, out, "")
	if b.Send && strings.TrimSpace(res.Text) != "" {
		c.send(tandem.Message{Text: res.Text}, "", false)
	}
	return c.next(s)
}

// ---- agent ----

type agentHandler struct{}

// DefaultMaxToolCalls bounds the tool calls of one agent turn.
const DefaultMaxToolCalls = 8

func (agentHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.AgentStep)
	c.st.Run.Agent = &AgentState{}
	c.trace(s, "", map[string]any{"provider": c.providerID(b.Provider), "answers_now": !c.st.BotSpoke}, nil, "")
	// Answer the customer's latest message if the bot has said nothing since; otherwise wait
	// for the next one (coming back to the step after a handoff must not make it speak twice).
	if m := c.st.Run.Message; m != nil && !c.st.BotSpoke {
		return agentTurn(c, s, b)
	}
	return c.wait(true, c.now.Add(c.settings().Wait()), "")
}

// agentTurn starts answering the turn's customer message.
func agentTurn(c *cursor, s *flow.Step, b *flow.AgentStep) outcome {
	a := c.st.Run.Agent
	a.Msgs = []tandem.ChatMessage{c.userMessage(c.turnText())}
	a.Pending, a.ToolCalls, a.Calls, a.Citations = nil, 0, nil, nil
	return agentModel(c, s, b, false)
}

func agentTools(b *flow.AgentStep) []tandem.Tool {
	var tools []tandem.Tool
	for _, t := range b.Tools {
		switch {
		case t.Handoff != nil:
			desc := t.Handoff.Description
			if desc == "" {
				desc = "Hand the conversation to a human agent."
			}
			tools = append(tools, tandem.Tool{Name: ToolHandoff, Description: desc,
				Parameters: json.RawMessage(`{"type":"object","properties":{"reason":{"type":"string","description":"Why a person should take over."}}}`)})
		case t.HTTP != nil:
			params, _ := json.Marshal(t.HTTP.Parameters)
			if t.HTTP.Parameters == nil {
				params = []byte(`{"type":"object","properties":{}}`)
			}
			tools = append(tools, tandem.Tool{Name: t.HTTP.Name, Description: t.HTTP.Description, Parameters: params})
		}
	}
	if b.Knowledge != "" {
		tools = append(tools, tandem.Tool{Name: ToolKnowledge,
			Description: fmt.Sprintf("Search the knowledge base %q for passages that answer the customer; answer from them and cite their source.", b.Knowledge),
			Parameters:  json.RawMessage(`{"type":"object","properties":{"query":{"type":"string","description":"What to look up."}},"required":["query"]}`)})
	}
	return tools
}

// agentModel asks the model for the next move of the turn.
func agentModel(c *cursor, s *flow.Step, b *flow.AgentStep, final bool) outcome {
	a := c.st.Run.Agent
	history := b.History
	if history == 0 {
		history = 10
	}
	req := &tandem.AIRequest{Op: tandem.AIComplete, System: c.render(&b.Instructions), Input: c.turnText(),
		Messages: append([]tandem.ChatMessage(nil), a.Msgs...), Tools: agentTools(b), Knowledge: b.Knowledge,
		History: history}
	if final {
		req.ToolChoice = "none"
	}
	a.Waiting = "model"
	return c.aiCall(s, &b.AICall, req)
}

func (agentHandler) resume(c *cursor, s *flow.Step, ev *tandem.Event) outcome {
	b := s.Body.(*flow.AgentStep)
	a := c.st.Run.Agent
	if a == nil {
		a = &AgentState{}
		c.st.Run.Agent = a
	}
	switch ev.Kind {
	case tandem.EventMessage:
		if b.MaxTurns > 0 && a.Turns >= b.MaxTurns {
			c.trace(s, "limit", map[string]any{"turns": a.Turns}, nil, "")
			return c.branch(s, b.OnLimit)
		}
		return agentTurn(c, s, b)
	case tandem.EventTimer:
		c.trace(s, "timeout", nil, nil, "")
		return c.end(tandem.RunExpired, tandem.ReasonTimeout)
	}
	r := ev.Result
	waiting := a.Waiting
	a.Waiting = ""
	switch waiting {
	case "search":
		res := r.AI
		if res == nil {
			res = &tandem.AIResult{Error: firstNonEmpty(r.Error, "no result")}
		}
		a.Citations = append(a.Citations, res.Citations...)
		text := res.Text
		if res.Error != "" {
			text = "The search failed: " + res.Error
		}
		return agentToolDone(c, s, b, text)
	case "http":
		res := r.HTTP
		if res == nil {
			res = &tandem.HTTPResult{Error: r.Error}
		}
		text := fmt.Sprintf("HTTP %d\n%s", res.Status, clipText(res.Body, 4000))
		if res.Error != "" {
			text = "The call failed: " + res.Error
		}
		return agentToolDone(c, s, b, text)
	}
	return agentAnswer(c, s, b, ev)
}

// agentAnswer handles the model's answer: tool calls, or the final text of the turn.
func agentAnswer(c *cursor, s *flow.Step, b *flow.AgentStep, ev *tandem.Event) outcome {
	a := c.st.Run.Agent
	res, errText := c.aiResult(ev)
	if errText != "" {
		return c.aiError(s, b.OnError, res, errText)
	}
	if len(res.ToolCalls) > 0 {
		a.Msgs = append(a.Msgs, tandem.ChatMessage{Role: "assistant", Content: res.Text, ToolCalls: res.ToolCalls})
		for _, tc := range res.ToolCalls {
			if tc.Name == ToolHandoff {
				var args struct {
					Reason string `json:"reason"`
				}
				_ = json.Unmarshal(tc.Arguments, &args)
				a.Calls = append(a.Calls, map[string]any{"name": tc.Name, "arguments": string(tc.Arguments)})
				out := map[string]any{"text": res.Text, "tool_calls": a.callsList(), "usage": usageMap(c.st.Run.Usage), "handoff_reason": args.Reason, "error": ""}
				c.output(s, out)
				c.trace(s, "handoff", nil, out, "")
				c.st.Run.HandoffReason = strings.TrimSpace(args.Reason)
				return c.branch(s, b.OnHandoff)
			}
		}
		a.Pending = append(a.Pending, res.ToolCalls...)
		return agentNextTool(c, s, b)
	}
	a.Turns++
	out := map[string]any{"text": res.Text, "tool_calls": a.callsList(), "usage": usageMap(c.st.Run.Usage),
		"citations": citationsList(append(a.Citations, res.Citations...)), "handoff_reason": "", "error": ""}
	c.output(s, out)
	c.trace(s, "answer", nil, out, "")
	if strings.TrimSpace(res.Text) != "" {
		c.send(tandem.Message{Text: res.Text}, "", false)
	}
	a.Msgs, a.Pending = nil, nil
	return c.wait(true, c.now.Add(c.settings().Wait()), "")
}

func (a *AgentState) callsList() []any {
	out := make([]any, 0, len(a.Calls))
	for _, m := range a.Calls {
		out = append(out, m)
	}
	return out
}

// agentNextTool carries out the next pending tool call, or asks the model again.
func agentNextTool(c *cursor, s *flow.Step, b *flow.AgentStep) outcome {
	a := c.st.Run.Agent
	max := b.MaxToolCalls
	if max <= 0 {
		max = DefaultMaxToolCalls
	}
	if len(a.Pending) == 0 {
		return agentModel(c, s, b, false)
	}
	if a.ToolCalls >= max {
		// Enough tools for one turn: answer with what is known.
		for _, tc := range a.Pending {
			a.Msgs = append(a.Msgs, tandem.ChatMessage{Role: "tool", ToolCallID: tc.ID, Content: "Not called: the limit of tool calls for this turn is reached. Answer with what you know."})
		}
		a.Pending = nil
		return agentModel(c, s, b, true)
	}
	tc := a.Pending[0]
	a.ToolCalls++
	a.Calls = append(a.Calls, map[string]any{"name": tc.Name, "arguments": string(tc.Arguments)})
	var args map[string]any
	if len(tc.Arguments) > 0 {
		if err := json.Unmarshal(tc.Arguments, &args); err != nil {
			return agentToolDone(c, s, b, "The arguments are not valid JSON: "+err.Error())
		}
	}
	switch {
	case tc.Name == ToolKnowledge && b.Knowledge != "":
		query := fmt.Sprint(args["query"])
		id := c.effect(tandem.Effect{Kind: tandem.EffectAI, Await: true, AI: &tandem.AIRequest{Op: AISearch, Step: s.ID,
			ConversationID: c.conv.ID, Knowledge: b.Knowledge, Input: query, Provider: c.providerID(b.Provider)}})
		c.trace(s, "tool", map[string]any{"tool": tc.Name, "query": query}, nil, "")
		a.Waiting = "search"
		return c.wait(false, zeroTime, id)
	}
	for _, t := range b.Tools {
		if t.HTTP == nil || t.HTTP.Name != tc.Name {
			continue
		}
		c.setLocal("args", args)
		req, err := c.buildHTTP(t.HTTP.Method, &t.HTTP.URL, t.HTTP.Headers, t.HTTP.Query, t.HTTP.Body, t.HTTP.Timeout, args)
		c.setLocal("args", nil)
		if err != nil {
			return agentToolDone(c, s, b, "The call cannot be made: "+err.Error())
		}
		id := c.id()
		req.Header["Idempotency-Key"] = id
		req.Retry = tandem.RetryPolicy{Attempts: 1}
		c.effect(tandem.Effect{ID: id, Kind: tandem.EffectHTTP, Await: true, HTTP: req})
		c.trace(s, "tool", map[string]any{"tool": tc.Name, "method": req.Method, "url": req.URL}, nil, "")
		a.Waiting = "http"
		return c.wait(false, zeroTime, id)
	}
	return agentToolDone(c, s, b, fmt.Sprintf("There is no tool named %q.", tc.Name))
}

// agentToolDone records a tool's result and moves on.
func agentToolDone(c *cursor, s *flow.Step, b *flow.AgentStep, result string) outcome {
	a := c.st.Run.Agent
	if len(a.Pending) > 0 {
		tc := a.Pending[0]
		a.Pending = a.Pending[1:]
		a.Msgs = append(a.Msgs, tandem.ChatMessage{Role: "tool", ToolCallID: tc.ID, Content: result})
	}
	return agentNextTool(c, s, b)
}
