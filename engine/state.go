package engine

import (
	"time"

	"github.com/tandemchat/tandem"
)

// State is everything the engine remembers about a conversation between events. It is stored
// as one JSON document with the conversation; nothing of it lives in memory between events.
type State struct {
	Run *RunState `json:"run,omitempty"`
	// Last summarises the most recent run once it ended.
	Last *RunSummary `json:"last,omitempty"`
	// Seq numbers waits and trace entries; timers and results carry the wait they belong to.
	Seq int64 `json:"seq,omitempty"`
	// Debounce holds inbound messages being merged into one turn.
	Debounce *Debounce `json:"debounce,omitempty"`
	// Pending holds customer messages that arrived while the run could not take them.
	Pending []tandem.Message `json:"pending,omitempty"`
	// Memory is each AI provider's state for this conversation (a thread or conversation id).
	Memory map[string]string `json:"memory,omitempty"`
	// Handoff is the conversation's human handoff, if one was ever queued.
	Handoff *Handoff `json:"handoff,omitempty"`
	// Started is set once the conversation's first event was processed.
	Started bool `json:"started,omitempty"`
	// BotSpoke is set when the bot sent a message after the last customer message.
	BotSpoke bool `json:"bot_spoke,omitempty"`
}

// RunSummary is what is kept of an ended run.
type RunSummary struct {
	ID     string `json:"id"`
	FlowID string `json:"flow_id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Step   string `json:"step,omitempty"`
	// Vars are the run's variables when it ended.
	Vars map[string]any `json:"vars,omitempty"`
}

// RunState is the active run.
type RunState struct {
	ID        string    `json:"id"`
	FlowID    string    `json:"flow_id"`
	Version   int       `json:"version"`
	Status    string    `json:"status"`
	Step      string    `json:"step"`
	StartedAt time.Time `json:"started_at"`
	// Vars and Outputs belong to the current frame (a called flow has its own).
	Vars    map[string]any `json:"vars"`
	Outputs map[string]any `json:"outputs"`
	// Frames are the callers' frames of `flow` steps in call mode, innermost last.
	Frames []Frame `json:"frames,omitempty"`
	// Message is the inbound message of the current turn.
	Message *tandem.Message `json:"message,omitempty"`
	Wait    *Wait           `json:"wait,omitempty"`
	// Entered is when the current step started (a waiting step's trace reports the wait).
	Entered time.Time `json:"entered"`
	// Local is the waiting step's own bookkeeping (retries used, ...).
	Local map[string]any `json:"local,omitempty"`
	// Agent is an agent step's conversation with its model during a turn.
	Agent *AgentState `json:"agent,omitempty"`
	// Steps counts the steps executed since the run last waited for the customer or a timer.
	Steps int          `json:"steps,omitempty"`
	Usage tandem.Usage `json:"usage"`
	// Path lists the steps of the run's own flow entered so far, each once, in the order first
	// entered (flow analytics: how many runs reached a step).
	Path []string `json:"path,omitempty"`
	// Error is the last failure, for a failed run.
	Error string `json:"error,omitempty"`
	// HandoffReason is the reason an agent step gave its handoff tool, kept for the handoff
	// step its on_handoff leads to; the run waiting for the customer forgets it.
	HandoffReason string `json:"handoff_reason,omitempty"`
}

// Frame is a caller of a called flow.
type Frame struct {
	FlowID  string         `json:"flow_id"`
	Version int            `json:"version"`
	Step    string         `json:"step"` // the caller's `flow` step
	Vars    map[string]any `json:"vars"`
	Outputs map[string]any `json:"outputs"`
}

// Wait is what a waiting run waits for: a message, a timer, an effect's result, or a message
// and a timer (whichever comes first).
type Wait struct {
	// Human is set while the run waits on a handoff for agents.
	Human    bool      `json:"human,omitempty"`
	Message  bool      `json:"message,omitempty"`
	TimerID  string    `json:"timer_id,omitempty"`
	Due      time.Time `json:"due,omitempty"`
	EffectID string    `json:"effect_id,omitempty"`
}

// Debounce collects a burst of customer messages.
type Debounce struct {
	Messages []tandem.Message `json:"messages"`
	Window   time.Duration    `json:"window"`
	// First is set when the burst opened the conversation (conversation_start flows may start).
	First   bool      `json:"first,omitempty"`
	TimerID string    `json:"timer_id"`
	Due     time.Time `json:"due"`
}

// Handoff is a conversation's human handoff.
type Handoff struct {
	Status    string    `json:"status"` // queued | connected | closed
	Desk      string    `json:"desk"`
	Team      string    `json:"team,omitempty"`
	Session   string    `json:"session,omitempty"`
	Agent     string    `json:"agent,omitempty"`
	ClosedBy  string    `json:"closed_by,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// ConnectedAt is when the first agent message came.
	ConnectedAt time.Time `json:"connected_at,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	// RunID is the run that queued the handoff.
	RunID string `json:"run_id,omitempty"`
	// RunStep is the handoff step of the active run that waits on it.
	RunStep string `json:"run_step,omitempty"`
	// FlowID and FlowVersion are the flow of the handoff step; Reason is why it handed the
	// conversation over, Summary the AI summary given to the desk ("" when none).
	FlowID      string `json:"flow_id,omitempty"`
	FlowVersion int    `json:"flow_version,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Summary     string `json:"summary,omitempty"`
	// Prompting is set while the keep-waiting-or-end question is open.
	Prompting bool `json:"prompting,omitempty"`
	// WaitTimer and SessionTimer are the ids of the pending timers.
	WaitTimer    string `json:"wait_timer,omitempty"`
	SessionTimer string `json:"session_timer,omitempty"`
}

// Active reports whether the handoff is waiting for an agent or talking with one.
func (h *Handoff) Active() bool {
	return h != nil && (h.Status == tandem.HandoffQueued || h.Status == tandem.HandoffConnected)
}

// AgentState is an agent step's bookkeeping.
type AgentState struct {
	// Turns counts the customer messages answered.
	Turns int `json:"turns"`
	// Msgs is the current turn's exchange with the model: the customer's message, the model's
	// tool calls and their results.
	Msgs []tandem.ChatMessage `json:"msgs,omitempty"`
	// Pending are tool calls of the model's last answer not carried out yet.
	Pending []tandem.ToolCall `json:"pending,omitempty"`
	// ToolCalls counts the tool calls carried out in this turn.
	ToolCalls int `json:"tool_calls"`
	// Calls records the turn's tool calls for the step's outputs.
	Calls []map[string]any `json:"calls,omitempty"`
	// Citations collected from knowledge searches in this turn.
	Citations []tandem.Citation `json:"citations,omitempty"`
	// Waiting says what the step waits on: "model", "search" or "http".
	Waiting string `json:"waiting,omitempty"`
}

// entered adds a step of the run's own flow to its path (steps of called flows are not added).
func (r *RunState) entered(step string) {
	if len(r.Frames) > 0 {
		return
	}
	for _, s := range r.Path {
		if s == step {
			return
		}
	}
	r.Path = append(r.Path, step)
}
