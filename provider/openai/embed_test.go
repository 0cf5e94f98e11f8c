package openai

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/tandemchat/tandem/provider"
	pt "github.com/tandemchat/tandem/provider/providertest"
)

func TestEmbedOpenAI(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, fixtureAnswer(t, "openai/embeddings_response_docs.json"))
	p := asOpenAI(mustNew(t, provider.Config{APIKey: "sk-test-e", BaseURL: srv.URL}))
	p.EmbeddingModel = "text-embedding-ada-002"
	got, err := p.Embed(pt.Context(t, 10*time.Second), []string{"The food was delicious and the waiter..."})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]float32{{0.0023064255, -0.009327292, -0.0028842222}}; !reflect.DeepEqual(got, want) {
		t.Errorf("vectors %v, want %v", got, want)
	}
	r := rec.Requests()[0]
	if r.Path != "/embeddings" || r.Header.Get("Authorization") != "Bearer sk-test-e" {
		t.Errorf("request %s %v", r.Path, r.Header)
	}
	pt.AssertJSON(t, "request", r.Body, pt.Fixture(t, "openai/embeddings_request_docs.json"))
}

func TestEmbedOllamaMatchesByIndex(t *testing.T) {
	t.Parallel()
	srv, rec := fake(t, func(w http.ResponseWriter, _ pt.Request) {
		pt.WriteJSON(w, 200, `{"object":"list","model":"all-minilm","data":[
			{"object":"embedding","index":1,"embedding":[0.3,0.4]},
			{"object":"embedding","index":0,"embedding":[0.1,0.2]}]}`)
	})
	p := mustNew(t, provider.Config{BaseURL: srv.URL + "/v1", Model: "llama3.2"})
	p.EmbeddingModel = "all-minilm"
	got, err := p.Embed(pt.Context(t, 10*time.Second), []string{"why is the sky blue?", "why is the grass green?"})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]float32{{0.1, 0.2}, {0.3, 0.4}}; !reflect.DeepEqual(got, want) {
		t.Errorf("vectors %v, want %v", got, want)
	}
	pt.AssertJSON(t, "request", rec.Requests()[0].Body, pt.Fixture(t, "ollama/embeddings_request_docs.json"))
}

func TestEmbedFailures(t *testing.T) {
	t.Parallel()
	srv, _ := fake(t, func(w http.ResponseWriter, _ pt.Request) {
		w.Header().Set("Retry-After", "3")
		pt.WriteJSON(w, 429, `{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
	})
	p := mustNew(t, provider.Config{APIKey: "sk-test-emb", BaseURL: srv.URL})
	p.EmbeddingModel = "e"
	_, err := p.Embed(pt.Context(t, 10*time.Second), []string{"a"})
	if ae := pt.MustAIError(t, err, "sk-test-emb"); ae.Status != 429 || !ae.Temporary || ae.RetryAfter != 3*time.Second {
		t.Errorf("%+v", ae)
	}
	p.EmbeddingModel = ""
	_, err = p.Embed(pt.Context(t, 10*time.Second), []string{"a"})
	pt.MustAIError(t, err, "")

	missing, _ := fake(t, func(w http.ResponseWriter, _ pt.Request) {
		pt.WriteJSON(w, 200, `{"data":[{"index":0,"embedding":[1]}]}`)
	})
	p = mustNew(t, provider.Config{BaseURL: missing.URL})
	p.EmbeddingModel = "e"
	_, err = p.Embed(pt.Context(t, 10*time.Second), []string{"a", "b"})
	if ae := pt.MustAIError(t, err, ""); ae.Status != 502 {
		t.Errorf("a missing vector: %+v", ae)
	}
}

// The configuration's embedding model wins; without one, only api.openai.com has a default.
func TestEmbeddingModelFromConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, model, want string
	}{
		{"", "", DefaultEmbeddingModel},
		{"", "text-embedding-3-large", "text-embedding-3-large"},
		{"http://127.0.0.1:11434/v1", "", ""},
		{"http://127.0.0.1:11434/v1", "nomic-embed-text", "nomic-embed-text"},
		{"https://acme.openai.azure.com/openai/v1", "embeddings-deployment", "embeddings-deployment"},
	}
	for _, tt := range tests {
		p := mustNew(t, provider.Config{BaseURL: tt.base, EmbeddingModel: tt.model})
		if p.EmbeddingModel != tt.want {
			t.Errorf("base_url %q, embedding model %q: EmbeddingModel %q, want %q", tt.base, tt.model, p.EmbeddingModel, tt.want)
		}
	}
}
