package flow

import "slices"

// StepType declares one step type: the single place that says what the type is called, which
// fields it takes (its body's json fields, beyond id, type, name and next), what it outputs and
// which output a bare {{step.<id>}} reads. The JSON Schema (schema.json) is checked against
// these declarations both ways and its step parts regenerated from them
// (`go test ./flow -run TestSchemaMatchesStepTypes -update`); the engine has a handler and a
// golden conversation per type (engine's TestStepTypes). CONTRIBUTING.md has the checklist.
type StepType struct {
	Name string
	// Doc says in one line what the step does; it is the schema's description of the step.
	Doc string
	// New returns an empty body to decode the step's fields into.
	New func() Body
	// Outputs are the fields a template may read as step.<id>.<field>.
	Outputs []string
	// Main is the output {{step.<id>}} reads; "" for a type without outputs.
	Main string
	// Open lets paths reach into the main value (an http step's response fields), so the
	// validator does not check them against Outputs.
	Open bool
	// Waits is set for types that wait for the customer, a timer or a person: a cycle through
	// one of them is not a hot loop.
	Waits bool
	// Extensions are the fields Tandem adds to the type beyond the flow format ("reason",
	// "transfer.provider"): optional, described in the schema as "Extension: ..." and in
	// docs/flows.md as extensions.
	Extensions []string
}

// StepTypes declares every step type, in the order the documentation and the schema list them.
var StepTypes = []StepType{
	{Name: "message", Doc: "Send a message to the customer.", New: func() Body { return new(MessageStep) },
		Outputs: []string{"id", "status", "error"}, Main: "id"},
	{Name: "question", Doc: "Ask and wait for the answer.", New: func() Body { return new(QuestionStep) },
		Outputs: []string{"value", "text", "option", "title", "valid", "type", "media", "location", "timed_out"}, Main: "value", Waits: true},
	{Name: "set", Doc: "Write variables, contact fields and conversation attributes.", New: func() Body { return new(SetStep) }},
	{Name: "condition", Doc: "Branch on conditions.", New: func() Body { return new(ConditionStep) },
		Outputs: []string{"branch", "next"}, Main: "branch"},
	{Name: "wait", Doc: "Wait for a delay, a moment or a message, whichever comes first.", New: func() Body { return new(WaitStep) },
		Outputs: []string{"text", "timed_out"}, Main: "text", Waits: true},
	{Name: "http", Doc: "Call an API.", New: func() Body { return new(HTTPStep) },
		Outputs: []string{"status", "headers", "response", "error", "duration_ms", "attempts"}, Main: "response", Open: true},
	{Name: "llm", Doc: "One model call.", New: func() Body { return new(LLMStep) },
		Outputs: []string{"text", "json", "model", "usage", "finish_reason", "error", "status"}, Main: "text", Open: true},
	{Name: "classify", Doc: "Pick one of the intents for the customer's text.", New: func() Body { return new(ClassifyStep) },
		Outputs: []string{"intent", "confidence", "text", "error", "status"}, Main: "intent"},
	{Name: "assistant", Doc: "Ask an assistant that keeps its own memory of the conversation.", New: func() Body { return new(AssistantStep) },
		Outputs: []string{"text", "citations", "usage", "error", "status"}, Main: "text"},
	{Name: "agent", Doc: "An LLM that converses and uses tools until it is done.", New: func() Body { return new(AgentStep) },
		Outputs: []string{"text", "tool_calls", "usage", "handoff_reason", "citations", "error", "status"}, Main: "text", Waits: true},
	{Name: "handoff", Doc: "Give the conversation to humans; next is taken when it is resolved.", New: func() Body { return new(HandoffStep) },
		Outputs: []string{"status", "agent", "duration_s", "closed_by", "error"}, Main: "status", Waits: true,
		Extensions: []string{"reason", "transfer.provider", "transfer.model"}},
	{Name: "tag", Doc: "Add and remove tags.", New: func() Body { return new(TagStep) }},
	{Name: "note", Doc: "Write an internal note.", New: func() Body { return new(NoteStep) }},
	{Name: "notify", Doc: "Send an internal message to agents.", New: func() Body { return new(NotifyStep) }},
	{Name: "assign", Doc: "Set the conversation's team and assignee; the bot keeps going.", New: func() Body { return new(AssignStep) }},
	{Name: "goto", Doc: "Jump to another step.", New: func() Body { return new(GotoStep) }},
	{Name: "split", Doc: "A/B split.", New: func() Body { return new(SplitStep) },
		Outputs: []string{"path", "next"}, Main: "path"},
	{Name: "flow", Doc: "Call another flow, or hand over to it.", New: func() Body { return new(FlowStep) },
		Outputs: []string{"status", "variables"}, Main: "variables", Open: true},
	{Name: "stop", Doc: "End the run.", New: func() Body { return new(StopStep) }},
}

// LookupType returns the declaration of a step type.
func LookupType(name string) (StepType, bool) {
	i := slices.IndexFunc(StepTypes, func(t StepType) bool { return t.Name == name })
	if i < 0 {
		return StepType{}, false
	}
	return StepTypes[i], true
}

// MainOutput returns the output a bare {{step.<id>}} of a step of this type reads ("" when it
// has none: the outputs render as JSON).
func MainOutput(typ string) string {
	t, _ := LookupType(typ)
	return t.Main
}

// Views of StepTypes for the parser and the validator.
var (
	// Types maps each step type to a constructor of its body.
	Types = func() map[string]func() Body {
		out := map[string]func() Body{}
		for _, t := range StepTypes {
			out[t.Name] = t.New
		}
		return out
	}()
	// Waiting lists the step types that wait for the customer, a timer or a human; a cycle
	// without one of them is a hot loop.
	Waiting = func() map[string]bool {
		out := map[string]bool{}
		for _, t := range StepTypes {
			if t.Waits {
				out[t.Name] = true
			}
		}
		return out
	}()
	// Outputs lists, per step type that has outputs, the fields a template may read as
	// step.<id>.<field>; Open types also let paths reach into their main value.
	Outputs = func() map[string]struct {
		Fields []string
		Open   bool
	} {
		out := map[string]struct {
			Fields []string
			Open   bool
		}{}
		for _, t := range StepTypes {
			if len(t.Outputs) > 0 {
				out[t.Name] = struct {
					Fields []string
					Open   bool
				}{t.Outputs, t.Open}
			}
		}
		return out
	}()
)
