package openai

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tandemchat/tandem"
)

type embedRequest struct {
	Model          string `json:"model"`
	Input          any    `json:"input"` // one string, or several
	EncodingFormat string `json:"encoding_format,omitempty"`
}

type embedResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// Embed implements tandem.Embedder with the embeddings endpoint (OpenAI's API reference): one
// vector per text, in order, in batches of 2048.
func (p *Provider) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	if p.EmbeddingModel == "" {
		return nil, &tandem.AIError{Status: 400, Message: fmt.Sprintf("%s: no embedding model is set for %s", p.c.Who, p.c.Base)}
	}
	ctx, cancel, start := p.begin(ctx)
	defer cancel()
	out := make([][]float32, len(texts))
	for from := 0; from < len(texts); from += maxEmbedBatch {
		batch := texts[from:min(from+maxEmbedBatch, len(texts))]
		body := embedRequest{Model: p.EmbeddingModel, Input: batch}
		if len(batch) == 1 {
			body.Input = batch[0]
		}
		if p.floatFormat {
			body.EncodingFormat = "float"
		}
		var resp embedResponse
		if _, err := p.c.Call(ctx, http.MethodPost, p.path("/embeddings", p.EmbeddingModel), body, &resp); err != nil {
			return nil, p.c.Final(ctx, start, err)
		}
		for _, d := range resp.Data {
			if d.Index < 0 || d.Index >= len(batch) || len(d.Embedding) == 0 {
				return nil, p.c.Malformed(fmt.Sprintf("answered with an embedding for input %d of %d", d.Index, len(batch)), "").AI
			}
			out[from+d.Index] = d.Embedding
		}
		for i := range batch {
			if out[from+i] == nil {
				return nil, p.c.Malformed(fmt.Sprintf("answered without an embedding for input %d", i), "").AI
			}
		}
	}
	return out, nil
}
