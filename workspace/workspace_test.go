package workspace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/knowledge"
	pt "github.com/tandemchat/tandem/provider/providertest"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/workspace"
)

const faq = `# Refunds

We return the full price of an order within 30 days.

# Shipping

Parcels leave our warehouse within two working days.

# Passwords

To change your password, open Settings and choose Security.
`

// Questions: one whose words match no passage (only its meaning finds Refunds), one whose
// words find Shipping.
const (
	byMeaning = "I want my money back"
	byWords   = "How long does shipping take?"
)

const embeddingModel = "text-embedding-3-small"

// concepts are what the fake embeddings server understands: a text's vector counts the words
// of each.
var concepts = [][]string{
	{"refund", "return", "money", "price"},
	{"ship", "parcel", "deliver", "warehouse"},
	{"password", "log in", "security"},
}

func vector(text string) []float64 {
	text = strings.ToLower(text)
	v := make([]float64, len(concepts)+1)
	for i, words := range concepts {
		for _, w := range words {
			v[i] += float64(strings.Count(text, w))
		}
	}
	v[len(concepts)] = 0.01 // no vector is zero
	return v
}

// embeddingsServer is a fake OpenAI-compatible server on 127.0.0.1 that answers
// POST /v1/embeddings in the shape of the contract's fixtures, or 503 while down.
type embeddingsServer struct {
	*httptest.Server
	key  string
	down atomic.Bool
	mu   sync.Mutex
	seen [][]string // the inputs of each request
}

func newEmbeddingsServer(t *testing.T) *embeddingsServer {
	t.Helper()
	s := &embeddingsServer{key: pt.NewKey()}
	allowed := pt.FixtureMap(t, "openai/embeddings_request_docs.json") // the keys a request may have
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" || r.Header.Get("Authorization") != "Bearer "+s.key {
			t.Errorf("request %s %s, Authorization %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
			pt.WriteJSON(w, 404, `{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}`)
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("request body: %v", err)
		}
		for k := range body {
			if _, ok := allowed[k]; !ok {
				t.Errorf("request key %q is not in the contract's request", k)
			}
		}
		if body["model"] != embeddingModel {
			t.Errorf("model %v, want %s", body["model"], embeddingModel)
		}
		var inputs []string
		switch in := body["input"].(type) {
		case string:
			inputs = []string{in}
		case []any:
			for _, x := range in {
				inputs = append(inputs, fmt.Sprint(x))
			}
		default:
			t.Errorf("input %T", in)
		}
		s.mu.Lock()
		s.seen = append(s.seen, inputs)
		s.mu.Unlock()
		if s.down.Load() {
			pt.WriteJSON(w, 503, `{"error":{"message":"The server is overloaded or not ready yet.","type":"server_error","param":null,"code":null}}`)
			return
		}
		answer := pt.FixtureMap(t, "openai/embeddings_response_docs.json")
		var data []any
		for i := len(inputs) - 1; i >= 0; i-- { // out of order: vectors are matched by index
			data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": vector(inputs[i])})
		}
		answer["data"], answer["model"] = data, embeddingModel
		pt.WriteJSON(w, 200, answer)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *embeddingsServer) requests() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// setup writes tandem.yaml (faq: hybrid with the fake server's embeddings; words: full text
// only) and kb/faq.md into a temporary folder, loads it, and opens a store there.
func setup(t *testing.T, srv *embeddingsServer) (context.Context, *config.Config, *store.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "kb"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kb", "faq.md"), []byte(faq), 0o600); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`providers:
  - {id: emb, kind: openai, api_key: "${EMB_KEY}", base_url: "%s/v1", model: llama3.2}
knowledge:
  - {id: faq, sources: [kb/*.md], embeddings: {provider: emb, model: %s}}
  - {id: words, sources: [kb/*.md]}
`, srv.URL, embeddingModel)
	path := filepath.Join(dir, "tandem.yaml")
	cfg, err := config.Parse(path, []byte(src), func(name string) (string, bool) { return srv.key, name == "EMB_KEY" })
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(dir, "tandem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx, cfg, db
}

// build makes the embedders, the ingested index and the providers, as `tandem serve` does.
func build(t *testing.T, ctx context.Context, cfg *config.Config, db *store.DB, client *http.Client, log *bytes.Buffer) (*knowledge.Index, map[string]tandem.Provider) {
	t.Helper()
	emb, err := workspace.Embedders(cfg, client)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(emb), 1; got != want {
		t.Fatalf("%d embedders, want %d (faq only)", got, want)
	}
	kn, err := workspace.Knowledge(ctx, cfg, db, emb, clock.NewVirtual(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	providers, err := workspace.Providers(cfg, client, kn)
	if err != nil {
		t.Fatal(err)
	}
	return kn, providers
}

// first returns the source of the best passage for the query, "" when none is found.
func first(t *testing.T, ctx context.Context, kn tandem.Knowledge, kb, query string) string {
	t.Helper()
	ps, err := kn.Search(ctx, kb, query, 3)
	if err != nil {
		t.Fatalf("Search(%s, %q): %v", kb, query, err)
	}
	if len(ps) == 0 {
		return ""
	}
	return ps[0].Source
}

// answer is the local provider's answer from the faq base, as an AI step gets it.
func answer(t *testing.T, ctx context.Context, providers map[string]tandem.Provider, question string) string {
	t.Helper()
	res, err := providers["local"].Call(ctx, &tandem.AIRequest{Provider: "local", Op: tandem.AIComplete, Knowledge: "faq", Input: question})
	if err != nil {
		t.Fatalf("local provider: %v", err)
	}
	return res.Text
}

func TestKnowledgeRanksHybridWithOpenAIEmbeddings(t *testing.T) {
	t.Parallel()
	srv := newEmbeddingsServer(t)
	ctx, cfg, db := setup(t, srv)
	var log bytes.Buffer
	kn, providers := build(t, ctx, cfg, db, srv.Client(), &log)

	if got, want := first(t, ctx, kn, "faq", byMeaning), "kb/faq.md#Refunds"; got != want {
		t.Errorf("hybrid: first = %q, want %q", got, want)
	}
	if got, want := first(t, ctx, kn, "faq", byWords), "kb/faq.md#Shipping"; got != want {
		t.Errorf("hybrid: first = %q, want %q", got, want)
	}
	if got := first(t, ctx, kn, "words", byMeaning); got != "" {
		t.Errorf("full text only: a question no word of which matches found %q", got)
	}
	if got, want := answer(t, ctx, providers, byMeaning), "We return the full price of an order within 30 days."; got != want {
		t.Errorf("local provider answered %q, want %q", got, want)
	}
	reqs := srv.requests()
	if len(reqs) == 0 || len(reqs[0]) != 3 {
		t.Fatalf("requests %q, want the three passages embedded in the first", reqs)
	}
	for _, r := range reqs[1:] {
		if len(r) != 1 {
			t.Errorf("a question's request embeds %q", r)
		}
	}
	if strings.Contains(log.String(), srv.key) {
		t.Errorf("the API key is in the log:\n%s", log.String())
	}
}

func TestKnowledgeFallsBackToFullTextDuringAnEmbeddingsOutage(t *testing.T) {
	t.Parallel()
	srv := newEmbeddingsServer(t)
	ctx, cfg, db := setup(t, srv)
	var log bytes.Buffer

	// Down at start: the base is indexed for full text, and the server starts anyway.
	srv.down.Store(true)
	kn, providers := build(t, ctx, cfg, db, srv.Client(), &log)
	if !strings.Contains(log.String(), "embeddings failed; ranking by full text only") {
		t.Errorf("the ingest failure is not logged:\n%s", log.String())
	}
	if got, want := first(t, ctx, kn, "faq", byWords), "kb/faq.md#Shipping"; got != want {
		t.Errorf("first = %q, want %q (full text)", got, want)
	}
	if got, want := answer(t, ctx, providers, byWords), "Parcels leave our warehouse within two working days."; got != want {
		t.Errorf("local provider answered %q, want %q", got, want)
	}

	// Back: the next ingest (the server's watcher) embeds the passages.
	srv.down.Store(false)
	if changed, err := kn.Ingest(ctx, "faq"); err != nil || !changed {
		t.Fatalf("Ingest = %v, %v; want the passages embedded", changed, err)
	}
	if got, want := first(t, ctx, kn, "faq", byMeaning), "kb/faq.md#Refunds"; got != want {
		t.Errorf("first = %q, want %q", got, want)
	}

	// Down while answering: full text, and the customer's turn still gets its answer.
	srv.down.Store(true)
	if got, want := first(t, ctx, kn, "faq", byWords), "kb/faq.md#Shipping"; got != want {
		t.Errorf("first = %q, want %q (full text)", got, want)
	}
	if got, want := answer(t, ctx, providers, byWords), "Parcels leave our warehouse within two working days."; got != want {
		t.Errorf("local provider answered %q, want %q", got, want)
	}
	if got := first(t, ctx, kn, "faq", byMeaning); got != "" {
		t.Errorf("during the outage, a question no word of which matches found %q", got)
	}
	if !strings.Contains(log.String(), "vector ranking failed; full text only") || !strings.Contains(log.String(), "status 503") {
		t.Errorf("the fallback is not logged with its cause:\n%s", log.String())
	}
	if strings.Contains(log.String(), srv.key) {
		t.Errorf("the API key is in the log:\n%s", log.String())
	}
}

// Without embeddings (and with no client, as conversation tests run), nothing is called.
func TestKnowledgeWithoutEmbeddingsIsOffline(t *testing.T) {
	t.Parallel()
	srv := newEmbeddingsServer(t)
	ctx, cfg, db := setup(t, srv)
	kn, err := workspace.Knowledge(ctx, cfg, db, nil, clock.NewVirtual(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := first(t, ctx, kn, "faq", byWords), "kb/faq.md#Shipping"; got != want {
		t.Errorf("first = %q, want %q", got, want)
	}
	if got := first(t, ctx, kn, "faq", byMeaning); got != "" {
		t.Errorf("full text only: found %q", got)
	}
	if reqs := srv.requests(); len(reqs) > 0 {
		t.Errorf("requests %q, want none", reqs)
	}
}

func TestEmbeddersRefuseProvidersWithoutEmbeddings(t *testing.T) {
	t.Parallel()
	// Validation refuses these; Embedders does not rely on it.
	cfg := &config.Config{
		Providers: []config.Provider{{ID: "hook", Kind: "webhook", URL: "https://example.com/answer"}},
		Knowledge: []config.Knowledge{{ID: "faq", Sources: []string{"a.md"}, Embeddings: &config.Embeddings{Provider: "hook"}}},
	}
	if _, err := workspace.Embedders(cfg, nil); err == nil || !strings.Contains(err.Error(), `knowledge "faq": provider "hook" (kind webhook) offers no embeddings`) {
		t.Errorf("Embedders = %v", err)
	}
	cfg.Knowledge[0].Embeddings.Provider = "gone"
	if _, err := workspace.Embedders(cfg, nil); err == nil || !strings.Contains(err.Error(), `"gone" is not configured`) {
		t.Errorf("Embedders = %v", err)
	}
	cfg.Knowledge[0].Embeddings.Provider = "" // an unset ${VAR}: full text only
	if emb, err := workspace.Embedders(cfg, nil); err != nil || len(emb) != 0 {
		t.Errorf("Embedders = %v, %v; want none", emb, err)
	}
}
