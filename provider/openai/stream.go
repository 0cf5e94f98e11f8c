package openai

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/openaiwire"
)

// chunk is one event of a streamed chat completion (OpenAI's API reference).
type chunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   *string    `json:"content"`
			Refusal   *string    `json:"refusal"`
			ToolCalls []toolCall `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// Stream answers like Call but streams the answer, handing each piece of text to onText (when
// not nil) as it arrives; the result is the whole answer. A stream that stops before the
// answer is complete is a temporary *tandem.AIError, never a partial answer.
func (p *Provider) Stream(ctx context.Context, req *tandem.AIRequest, onText func(string)) (*tandem.AIResult, error) {
	ctx, cancel, start := p.begin(ctx)
	defer cancel()
	body, err := p.request(req)
	if err != nil {
		return nil, err
	}
	body.Stream, body.StreamOptions = true, &streamOptions{IncludeUsage: true}
	var (
		text, refusal strings.Builder
		calls         []toolCall
		byIndex       = map[int]int{} // tool call index → position in calls
		finish, model string
		u             *usage
	)
	err = p.c.Stream(ctx, p.path("/chat/completions", body.Model), body, func(ev openaiwire.Event) (bool, error) {
		data := strings.TrimSpace(ev.Data)
		if data == "[DONE]" {
			return true, nil
		}
		var c chunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return false, p.c.Malformed("sent an event that is not a chat completion chunk", data).AI
		}
		if len(c.Error) > 0 && string(c.Error) != "null" {
			return false, p.c.EventFailure([]byte(data)).AI
		}
		model = openaiwire.FirstOf(c.Model, model)
		if c.Usage != nil {
			u = c.Usage
		}
		for _, ch := range c.Choices {
			if ch.Index != 0 {
				continue
			}
			if s := deref(ch.Delta.Content); s != "" {
				text.WriteString(s)
				if onText != nil {
					onText(s)
				}
			}
			refusal.WriteString(deref(ch.Delta.Refusal))
			for _, tc := range ch.Delta.ToolCalls {
				i := len(calls)
				if tc.Index != nil {
					if at, ok := byIndex[*tc.Index]; ok {
						i = at
					} else {
						byIndex[*tc.Index] = i
					}
				}
				if i == len(calls) {
					calls = append(calls, toolCall{})
				}
				calls[i].ID = openaiwire.FirstOf(calls[i].ID, tc.ID)
				calls[i].Function.Name = openaiwire.FirstOf(calls[i].Function.Name, tc.Function.Name)
				calls[i].Function.Arguments += tc.Function.Arguments
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				finish = *ch.FinishReason
			}
		}
		return false, nil
	})
	// Some servers end without [DONE]: an answer is complete once its finish_reason came.
	if err != nil && !(finish != "" && errors.Is(err, openaiwire.ErrEnded)) {
		return nil, p.c.Final(ctx, start, err)
	}
	res := p.result(req, openaiwire.FirstOf(model, body.Model), finish, text.String(), refusal.String(), calls)
	if u != nil {
		res.Usage.InputTokens, res.Usage.OutputTokens = u.PromptTokens, u.CompletionTokens
	}
	return res, nil
}
