package tandem

import (
	"context"
	"time"
)

// AI operations a step asks of a provider.
const (
	AIComplete = "complete" // one chat completion (llm, agent)
	AIClassify = "classify" // pick one of the intents (classify)
	AIAssist   = "assist"   // an assistant with its own memory (assistant)
	// AISummarize is one completion that summarises the conversation for the agents of a
	// handoff (transfer.summary): System holds the instructions, the runner puts the transcript
	// in Messages. Providers that answer with their own prompt (dify, chatbase, local) refuse it.
	AISummarize = "summarize"
)

// ChatMessage is one message of a model conversation.
type ChatMessage struct {
	Role       string     `json:"role"` // system | user | assistant | tool
	Content    string     `json:"content"`
	Images     []string   `json:"images,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// Tool is a function the model may call.
type Tool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Parameters  JSON   `json:"parameters,omitempty"`
}

// ToolCall is the model's request to call a tool.
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments JSON   `json:"arguments,omitempty"`
}

// Intent is one choice of a classification.
type Intent struct {
	ID          string   `json:"id"`
	Description string   `json:"description,omitempty"`
	Examples    []string `json:"examples,omitempty"`
}

// Citation points at the knowledge source an answer used.
type Citation struct {
	Source string  `json:"source"`
	Text   string  `json:"text,omitempty"`
	Score  float64 `json:"score,omitempty"`
}

// AIFallback names the provider (and model) tried once when the main one fails for good.
type AIFallback struct {
	Provider string `json:"provider"`
	Model    string `json:"model,omitempty"`
}

// AIRequest is one call to an AI provider, built by an AI step.
type AIRequest struct {
	Provider       string        `json:"provider"`
	Op             string        `json:"op"`
	Step           string        `json:"step"`
	ConversationID string        `json:"conversation_id"`
	Contact        *Contact      `json:"contact,omitempty"`
	Model          string        `json:"model,omitempty"`
	MaxTokens      int           `json:"max_tokens,omitempty"`
	Temperature    *float64      `json:"temperature,omitempty"`
	System         string        `json:"system,omitempty"`
	Messages       []ChatMessage `json:"messages,omitempty"`
	Input          string        `json:"input,omitempty"`
	Tools          []Tool        `json:"tools,omitempty"`
	Output         string        `json:"output,omitempty"` // text | json
	Schema         JSON          `json:"schema,omitempty"`
	Intents        []Intent      `json:"intents,omitempty"`
	Knowledge      string        `json:"knowledge,omitempty"`
	// History asks for the last N turns of the conversation before message HistoryBefore to be
	// put before Messages; the runner fills them in from the store before the call.
	History       int    `json:"history,omitempty"`
	HistoryBefore string `json:"history_before,omitempty"`
	// ToolChoice "none" asks for a final answer without tool calls.
	ToolChoice string `json:"tool_choice,omitempty"`
	// Memory is the provider's state for this conversation (a thread or conversation id).
	Memory   string        `json:"memory,omitempty"`
	Timeout  time.Duration `json:"timeout,omitempty"`
	Retry    RetryPolicy   `json:"retry"`
	Fallback *AIFallback   `json:"fallback,omitempty"`
}

// AIResult is a provider's answer.
type AIResult struct {
	Provider     string     `json:"provider,omitempty"`
	Text         string     `json:"text"`
	JSON         any        `json:"json,omitempty"`
	Model        string     `json:"model,omitempty"`
	Usage        Usage      `json:"usage"`
	FinishReason string     `json:"finish_reason,omitempty"`
	ToolCalls    []ToolCall `json:"tool_calls,omitempty"`
	Intent       string     `json:"intent,omitempty"`
	Confidence   float64    `json:"confidence,omitempty"`
	Citations    []Citation `json:"citations,omitempty"`
	// Memory is the provider's new state for this conversation, kept for the next turn.
	Memory     string `json:"memory,omitempty"`
	Error      string `json:"error,omitempty"`
	Status     int    `json:"status,omitempty"`
	Attempts   int    `json:"attempts,omitempty"`
	DurationMS int64  `json:"duration_ms,omitempty"`
	// Calls are the provider calls made for the result, one per attempt, fallback included.
	Calls []AICall `json:"calls,omitempty"`
}

// Provider answers AI requests: chat completions with tools, classification and assistants
// with memory. A provider returns an *AIError for failures it understands (status, retry hint).
type Provider interface {
	Call(ctx context.Context, req *AIRequest) (*AIResult, error)
}

// Passage is a piece of a knowledge base found for a query.
type Passage struct {
	Source string  `json:"source"`
	Text   string  `json:"text"`
	Score  float64 `json:"score"`
}

// HistoryWanter is implemented by assistant providers that do not keep the conversation
// themselves: an assistant step that names no history sends them this many recent turns.
type HistoryWanter interface {
	HistoryTurns() int
}

// Embedder turns texts into vectors, for hybrid knowledge ranking; providers that offer
// embeddings implement it.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Knowledge searches knowledge bases.
type Knowledge interface {
	Search(ctx context.Context, kb, query string, k int) ([]Passage, error)
}

// AIError is a provider failure with what is known about it.
type AIError struct {
	Status     int
	Message    string
	RetryAfter time.Duration
	Temporary  bool
}

// Error implements error.
func (e *AIError) Error() string { return e.Message }
