package flow

import (
	"slices"
	"strings"
	"testing"

	"github.com/tandemchat/tandem/expr"
)

// mustParse parses a flow that has no parse errors.
func mustParse(tb testing.TB, src string) *Flow {
	tb.Helper()
	f, findings := Parse("t.yaml", []byte(src))
	if f == nil {
		tb.Fatalf("parse:\n%s", lines(findings))
	}
	return f
}

func TestValidate(t *testing.T) {
	t.Parallel()
	const head = "format: 1\nid: t\n"
	tests := []struct {
		name string
		src  string
		env  *Env
		want []string // Finding.String() lines; nil: none
	}{
		{
			name: "next end, also in branches and goto",
			src: head + `steps:
  - id: ask
    type: question
    text: "?"
    options: [{id: a, next: end}]
    on_invalid: end
    on_timeout: end
  - id: route
    type: condition
    branches: [{when: {in_schedule: x}, next: end}]
    else: end
  - id: g
    type: goto
    to: end
`,
			want: []string{
				`t.yaml:10: warning: step "route": unreachable: no path from the first step leads here`,
				`t.yaml:14: warning: step "g": unreachable: no path from the first step leads here`,
			},
		},
		{
			name: "absent branches fall back to next",
			src: head + `steps:
  - id: ask
    type: question
    text: "?"
    options: [{id: a, next: end}, {id: b}]
    on_invalid: end
  - id: route
    type: condition
    branches: [{when: {in_schedule: x}}]
    else: end
  - id: pick
    type: classify
    intents: [{id: a, next: end}]
    other: end
  - id: never
    type: note
    text: "classify with every intent and other branched never falls through"
`,
			want: []string{
				`t.yaml:17: warning: step "never": unreachable: no path from the first step leads here`,
			},
		},
		{
			name: "flow replace hands over, call comes back",
			src: head + `steps:
  - {id: call, type: flow, start: other}
  - {id: replace, type: flow, start: t, mode: replace}
  - {id: after, type: stop}
`,
			want: []string{
				`t.yaml:6: warning: step "after": unreachable: no path from the first step leads here`,
			},
		},
		{
			name: "a waiting step breaks the loop, a loop beside it does not",
			src: head + `steps:
  - id: ask
    type: question
    text: "?"
  - id: a
    type: condition
    branches: [{when: {in_schedule: x}, next: b}]
    else: ask
  - id: b
    type: set
    assign: [{target: var.x, value: 1}]
    next: a
`,
			want: []string{
				`t.yaml:7: warning: step "a": steps a → b → a form a loop with no waiting step; at run time max_steps_per_turn (200) ends it with loop_limit`,
			},
		},
		{
			name: "no configuration: names are not checked",
			src: head + `settings: {schedule: nowhere}
steps:
  - {id: a, type: llm, provider: nobody, fallback: {provider: none}}
  - {id: h, type: handoff, desk: zendesk, team: billing}
  - {id: s, type: stop, then_start: other}
`,
		},
		{
			name: "configuration: inbox, templated teams and the flow itself are known",
			src: head + `steps:
  - {id: h, type: handoff, desk: inbox, team: "{{contact.team}}"}
  - {id: n, type: notify, text: hi, team: "{{conversation.team}}"}
  - {id: s, type: stop, then_start: t}
`,
			env: &Env{Desks: map[string]bool{}, Teams: map[string]bool{}, Flows: map[string]bool{}},
		},
		{
			name: "configuration without any entry",
			src: head + `steps:
  - {id: a, type: assistant, provider: dify}
`,
			env: &Env{Providers: map[string]bool{}},
			want: []string{
				`t.yaml:4: error: step "a" field "provider": unknown provider "dify"; the configuration defines no provider`,
			},
		},
		{
			name: "fallback provider",
			src: head + `steps:
  - {id: a, type: llm, provider: openai, fallback: {provider: locl}}
`,
			env: &Env{Providers: map[string]bool{"openai": true, "local": true}},
			want: []string{
				`t.yaml:4: error: step "a" field "fallback.provider": unknown provider "locl" (did you mean "local"?); known: local, openai`,
			},
		},
		{
			name: "an llm step on the local provider: named, by a local kind, or by default",
			src: head + `steps:
  - {id: named, type: llm, provider: local, prompt: "hi"}
  - {id: kind, type: llm, provider: offline, prompt: "hi"}
  - {id: dflt, type: llm, prompt: "hi"}
  - {id: model, type: llm, provider: openai, prompt: "hi"}
  - {id: intents, type: classify, provider: local, intents: [{id: a}]}
`,
			env: &Env{Providers: map[string]bool{"openai": true, "offline": true, "local": true},
				ProviderKinds: map[string]string{"openai": "openai", "offline": "local", "local": "local"}, DefaultProvider: "local"},
			want: []string{
				`t.yaml:4: warning: step "named" field "provider": an llm step on provider "local" gets no written text: the local provider works offline and answers only from a knowledge base (else "Sorry, I don't know the answer to that yet"); it serves classify steps (intents by keywords and examples) and knowledge answers (agent and assistant steps with knowledge); name a model provider (kind openai, openai-responses, dify, ...) for this step`,
				`t.yaml:5: warning: step "kind" field "provider": an llm step on provider "offline" gets no written text: the local provider works offline and answers only from a knowledge base (else "Sorry, I don't know the answer to that yet"); it serves classify steps (intents by keywords and examples) and knowledge answers (agent and assistant steps with knowledge); name a model provider (kind openai, openai-responses, dify, ...) for this step`,
				`t.yaml:6: warning: step "dflt" field "type": an llm step on the workspace's default provider "local" gets no written text: the local provider works offline and answers only from a knowledge base (else "Sorry, I don't know the answer to that yet"); it serves classify steps (intents by keywords and examples) and knowledge answers (agent and assistant steps with knowledge); name a model provider (kind openai, openai-responses, dify, ...) for this step`,
			},
		},
		{
			name: "a handoff summary from a provider that writes none: named, by default, or from a model",
			src: head + `steps:
  - {id: named, type: handoff, transfer: {summary: true, provider: bot}}
  - {id: dflt, type: handoff, transfer: {summary: true}}
  - {id: model, type: handoff, transfer: {summary: true, provider: openai}}
  - {id: none, type: handoff, transfer: {rounds: 3, provider: bot}}
`,
			env: &Env{Providers: map[string]bool{"openai": true, "bot": true, "local": true},
				ProviderKinds: map[string]string{"openai": "openai", "bot": "dify", "local": "local"}, DefaultProvider: "local"},
			want: []string{
				`t.yaml:4: warning: step "named" field "transfer.provider": the summary is asked of provider "bot", of kind dify, which writes no summaries: the desk gets none; name a model provider (kind openai, openai-responses, ...) in transfer.provider`,
				`t.yaml:5: warning: step "dflt" field "transfer.summary": the summary is asked of the workspace's default provider "local", of kind local, which writes no summaries: the desk gets none; name a model provider (kind openai, openai-responses, ...) in transfer.provider`,
			},
		},
		{
			name: "without a configuration, only an llm step naming local is known to be on it",
			src: head + `steps:
  - {id: dflt, type: llm, prompt: "hi"}
  - {id: named, type: llm, provider: local, prompt: "hi"}
`,
			want: []string{
				`t.yaml:5: warning: step "named" field "provider": an llm step on provider "local" gets no written text: the local provider works offline and answers only from a knowledge base (else "Sorry, I don't know the answer to that yet"); it serves classify steps (intents by keywords and examples) and knowledge answers (agent and assistant steps with knowledge); name a model provider (kind openai, openai-responses, dify, ...) for this step`,
			},
		},
		{
			name: "variables set in every way",
			src: head + `variables: {declared: 1}
steps:
  - {id: q, type: question, text: "?", save: var.saved}
  - {id: w, type: wait, for: 1s, or_message: true, accumulate: var.buffer}
  - {id: h, type: http, url: "https://x", save: [{target: var.thread, from: response.id}]}
  - {id: s, type: set, assign: [{target: var.assigned, value: 1}]}
  - {id: f, type: flow, start: other, variables: {passed: "{{var.declared}}"}}
  - id: m
    type: message
    text: "{{var.declared}} {{var.saved}} {{var.buffer}} {{var.thread}} {{var.assigned}} {{var.passed}} {{var.nope}}"
`,
			want: []string{
				`t.yaml:12: warning: step "m" field "text": var.nope is never set; declare it in variables or assign it with set, save or accumulate`,
			},
		},
		{
			name: "open outputs and attributes",
			src: head + `steps:
  - {id: h, type: http, url: "https://x"}
  - {id: l, type: llm, prompt: hi}
  - {id: q, type: question, text: "?"}
  - id: m
    type: message
    text: "{{step.h.response.items[0].id}} {{step.l.json.a.b}} {{step.q}} {{step.q.value}} {{step.m.id}} {{conversation.vip}} {{contact.plan}} {{secret.KEY}} {{now}} {{message.location.lat}} {{schedule.office.open}}"
`,
		},
		{
			name: "agent tool arguments",
			src: head + `steps:
  - id: a
    type: agent
    tools:
      - http:
          name: order
          url: "https://shop/{{args.order_id}}/{{args.ordr}}"
          parameters: {type: object, properties: {order_id: {type: string}}}
      - http: {name: free, url: "https://shop/{{args.anything}}"}
`,
			want: []string{
				`t.yaml:9: warning: step "a" field "tools[0].http.url": args.ordr: the tool "order" has no parameter "ordr"`,
			},
		},
		{
			name: "schedule paths",
			src: head + `steps:
  - {id: m, type: message, text: "{{schedule.office.open}} {{schedule.office.closes}} {{schedule.shop.open}}"}
`,
			env: &Env{Schedules: map[string]bool{"office": true}},
			want: []string{
				`t.yaml:4: warning: step "m" field "text": schedule.office.closes: schedule.office has no field "closes"; it has open`,
				`t.yaml:4: warning: step "m" field "text": schedule.shop.open: unknown schedule "shop"`,
			},
		},
		{
			name: "data is not a template",
			src: head + `steps:
  - {id: q, type: question, text: "?", options: [{id: a, synonyms: ["{{nope.a}}"]}]}
  - {id: l, type: llm, prompt: hi, schema: {description: "{{nope.b}}"}}
  - {id: h, type: http, url: "https://x", body: {json: {schema: "{{nope.c}}"}}}
`,
			want: []string{
				`t.yaml:6: warning: step "h" field "body.json.schema": nope.c: unknown path: a path starts with contact, conversation, message, step, var, now, schedule, secret, flow or run`,
			},
		},
		{
			name: "split weights",
			src: head + `steps:
  - {id: s, type: split, paths: [{weight: 0, next: a}, {weight: 1, next: a}]}
  - {id: a, type: stop}
`,
		},
		{
			name: "flow replace of itself starts over",
			src: head + `steps:
  - {id: f, type: flow, start: t, mode: replace}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := mustParse(t, tt.src)
			got := Validate(f, tt.env)
			want := strings.Join(tt.want, "\n")
			if g := strings.TrimSpace(lines(got)); g != want {
				t.Errorf("got\n%s\nwant\n%s", g, want)
			}
			// Findings name the step and the field of a step problem, and are deterministic.
			for _, fd := range got {
				if fd.Line == 0 || fd.File != "t.yaml" {
					t.Errorf("finding without file or line: %s", fd)
				}
			}
			if again := Validate(f, tt.env); !slices.Equal(again, got) {
				t.Errorf("second run differs:\n%s", lines(again))
			}
		})
	}
}

// TestValidateBuilt lints a flow made in code rather than parsed: no positions, no Source.
func TestValidateBuilt(t *testing.T) {
	t.Parallel()
	if got := Validate(nil, nil); got != nil {
		t.Errorf("Validate(nil) = %v", got)
	}
	text := expr.MustParse("{{step.nowhere}}")
	f := &Flow{Format: 1, ID: "built", Steps: []*Step{
		{ID: "a", Type: "message", Body: &MessageStep{Text: *text}},
		{ID: "a", Type: "goto", Body: &GotoStep{To: "b"}},
		{ID: "c", Type: "stop"},
	}}
	got := lines(Validate(f, nil))
	want := `error: step "a" field "id": step id "a" is used twice; the first is on step #1
error: step "a" field "to": "b" names no step of this flow; use a step id or end
warning: step "a" field "text": step.nowhere: no step has the id "nowhere"; the path would always be empty
warning: step "c": unreachable: no path from the first step leads here
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestWarningsNotErrors: what the flow format lists among warnings, or not among errors, does
// not refuse a flow (validate exits 0, publish and tandem test accept it) unless --strict.
func TestWarningsNotErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, steps, about string
	}{
		// "the validator warns on paths it can prove unknown (an unknown step id, ...)"
		{"a template naming a step that does not exist",
			`{id: a, type: message, text: "Hi {{step.nowhere}} {{step.asked.text}}"}`, "no step has the id"},
		// The errors are a closed list (configured providers, schedules, teams, desks and
		// knowledge bases among them, flows not): a flow that calls another is validated, tested
		// and published on its own; at run time a missing flow fails the step.
		{"a flow step or then_start naming a flow that is not loaded",
			"{id: f, type: flow, start: onboarding, mode: call}\n  - {id: x, type: stop, then_start: survey}", "unknown flow"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := "format: 1\nid: t\nsteps:\n  - " + tt.steps + "\n"
			f, parsed := Parse("t.yaml", []byte(src))
			if f == nil {
				t.Fatal(lines(parsed))
			}
			got := Validate(f, &Env{Flows: map[string]bool{"t": true}})
			if len(got) != 2 {
				t.Fatalf("want two findings, got\n%s", lines(got))
			}
			for _, fd := range got {
				if fd.Severity != SeverityWarning || !strings.Contains(fd.Message, tt.about) {
					t.Errorf("want a warning that says %q, got %s", tt.about, fd)
				}
			}
		})
	}
}

func TestFieldPointer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"next", "/next"},
		{"options[1].next", "/options/1/next"},
		{"branches[0].when.all[2][1]", "/branches/0/when/all/2/1"},
		{"trigger.match.regex", "/trigger/match/regex"},
	} {
		if got := fieldPointer(tt.in); got != tt.want {
			t.Errorf("fieldPointer(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidTarget(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"var.x", true}, {"contact.email", true}, {"conversation.topic", true}, {`var["my key"]`, true},
		{"var", false}, {"vars.x", false}, {"var.x.y", false}, {"var[0]", false}, {"step.a", false}, {"", false},
	} {
		if got := validTarget(tt.in); got != tt.want {
			t.Errorf("validTarget(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
