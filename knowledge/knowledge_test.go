package knowledge_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/clock"
	"github.com/tandemchat/tandem/knowledge"
	"github.com/tandemchat/tandem/store"
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

// concepts are what the fake embedder understands: a text's vector counts the words of each.
var concepts = [][]string{
	{"refund", "return", "money", "price"},
	{"ship", "parcel", "deliver", "warehouse"},
	{"password", "log in", "security"},
}

// vector is the fake embedding of a text: one dimension per concept, plus a small constant one
// so that no vector is zero.
func vector(text string) []float32 {
	text = strings.ToLower(text)
	v := make([]float32, len(concepts)+1)
	for i, words := range concepts {
		for _, w := range words {
			v[i] += float32(strings.Count(text, w))
		}
	}
	v[len(concepts)] = 0.01
	return v
}

// fakeEmbedder embeds with vector, or fails while down; it records its calls.
type fakeEmbedder struct {
	mu        sync.Mutex
	down      bool
	calls     [][]string
	deadlines []time.Duration // time left on each call's context; 0 without a deadline
}

func (f *fakeEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, texts)
	var left time.Duration
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	f.deadlines = append(f.deadlines, left)
	if f.down {
		return nil, &tandem.AIError{Status: 503, Message: `AI provider "emb": the server is overloaded (status 503)`, Temporary: true}
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = vector(t)
	}
	return out, nil
}

func (f *fakeEmbedder) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeEmbedder) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// setup returns a migrated SQLite store in a temporary folder and a folder holding faq.md.
func setup(t *testing.T) (context.Context, *store.DB, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "tandem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "faq.md"), []byte(faq), 0o600); err != nil {
		t.Fatal(err)
	}
	return ctx, db, dir
}

func newIndex(db *store.DB, log *bytes.Buffer, bases ...knowledge.Base) *knowledge.Index {
	return knowledge.New(db, bases, clock.NewVirtual(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), slog.New(slog.NewTextHandler(log, nil)))
}

func mustIngest(t *testing.T, ctx context.Context, x *knowledge.Index, id string, want bool) {
	t.Helper()
	changed, err := x.Ingest(ctx, id)
	if err != nil {
		t.Fatalf("Ingest(%s): %v", id, err)
	}
	if changed != want {
		t.Fatalf("Ingest(%s) changed = %v, want %v", id, changed, want)
	}
}

// first returns the source of the best passage for the query, "" when none is found.
func first(t *testing.T, ctx context.Context, x *knowledge.Index, kb, query string) string {
	t.Helper()
	ps, err := x.Search(ctx, kb, query, 3)
	if err != nil {
		t.Fatalf("Search(%s, %q): %v", kb, query, err)
	}
	if len(ps) == 0 {
		return ""
	}
	if ps[0].Score <= 0 {
		t.Errorf("Search(%s, %q): score %g, want > 0", kb, query, ps[0].Score)
	}
	return ps[0].Source
}

func TestHybridRankingFindsByMeaning(t *testing.T) {
	t.Parallel()
	ctx, db, dir := setup(t)
	emb := &fakeEmbedder{}
	var log bytes.Buffer
	x := newIndex(db, &log,
		knowledge.Base{ID: "hybrid", Sources: []string{"*.md"}, Dir: dir, Embedder: emb, EmbedderID: "model fake"},
		knowledge.Base{ID: "words", Sources: []string{"*.md"}, Dir: dir})
	if err := x.IngestAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := len(emb.calls), 1; got != want {
		t.Fatalf("%d embedding calls at ingest, want %d (one for all passages)", got, want)
	}
	if got, want := emb.calls[0], []string{"Refunds\nWe return the full price of an order within 30 days.",
		"Shipping\nParcels leave our warehouse within two working days.",
		"Passwords\nTo change your password, open Settings and choose Security."}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("embedded %q, want %q", got, want)
	}

	tests := []struct {
		kb, query, want string
	}{
		{"hybrid", byMeaning, "faq.md#Refunds"},
		{"hybrid", byWords, "faq.md#Shipping"},
		{"hybrid", "I forgot how to log in", "faq.md#Passwords"},
		{"words", byMeaning, ""}, // full text alone finds nothing: no word matches
		{"words", byWords, "faq.md#Shipping"},
	}
	for _, tt := range tests {
		if got := first(t, ctx, x, tt.kb, tt.query); got != tt.want {
			t.Errorf("Search(%s, %q) first = %q, want %q", tt.kb, tt.query, got, tt.want)
		}
	}
	if strings.Contains(log.String(), "level=WARN") {
		t.Errorf("warnings logged:\n%s", log.String())
	}
}

func TestEmbeddingsOutageAtSearchFallsBackToFullText(t *testing.T) {
	t.Parallel()
	ctx, db, dir := setup(t)
	emb := &fakeEmbedder{}
	var log bytes.Buffer
	x := newIndex(db, &log, knowledge.Base{ID: "faq", Sources: []string{"*.md"}, Dir: dir, Embedder: emb, EmbedderID: "model fake"})
	mustIngest(t, ctx, x, "faq", true)
	emb.setDown(true)
	if got, want := first(t, ctx, x, "faq", byWords), "faq.md#Shipping"; got != want {
		t.Errorf("during the outage, first = %q, want %q (full text)", got, want)
	}
	if got := first(t, ctx, x, "faq", byMeaning); got != "" {
		t.Errorf("during the outage, a question no word of which matches found %q", got)
	}
	if !strings.Contains(log.String(), "vector ranking failed; full text only") || !strings.Contains(log.String(), "status 503") {
		t.Errorf("the fallback is not logged with its cause:\n%s", log.String())
	}
	emb.setDown(false)
	if got, want := first(t, ctx, x, "faq", byMeaning), "faq.md#Refunds"; got != want {
		t.Errorf("after the outage, first = %q, want %q", got, want)
	}
}

func TestEmbeddingsOutageAtIngestFallsBackToFullText(t *testing.T) {
	t.Parallel()
	ctx, db, dir := setup(t)
	emb := &fakeEmbedder{down: true}
	var log bytes.Buffer
	x := newIndex(db, &log, knowledge.Base{ID: "faq", Sources: []string{"*.md"}, Dir: dir, Embedder: emb, EmbedderID: "model fake"})
	mustIngest(t, ctx, x, "faq", true) // indexed, without vectors
	if !strings.Contains(log.String(), "embeddings failed; ranking by full text only") {
		t.Errorf("the failure is not logged:\n%s", log.String())
	}
	if got, want := first(t, ctx, x, "faq", byWords), "faq.md#Shipping"; got != want {
		t.Errorf("first = %q, want %q (full text)", got, want)
	}
	if got := first(t, ctx, x, "faq", byMeaning); got != "" {
		t.Errorf("without vectors, a question no word of which matches found %q", got)
	}
	if got, want := emb.callCount(), 1; got != want {
		t.Errorf("%d embedding calls, want %d: an index without vectors does not embed questions", got, want)
	}

	// The next ingest tries again; while the provider is still down, the index stays as it is.
	st, err := db.KnowledgeGet(ctx, "faq")
	if err != nil {
		t.Fatal(err)
	}
	mustIngest(t, ctx, x, "faq", false)
	if again, err := db.KnowledgeGet(ctx, "faq"); err != nil || again.Generation != st.Generation {
		t.Errorf("generation %v (%v), want %d: an unchanged index is not rewritten", again, err, st.Generation)
	}
	if got, want := emb.callCount(), 2; got != want {
		t.Errorf("%d embedding calls, want %d", got, want)
	}
	emb.setDown(false)
	mustIngest(t, ctx, x, "faq", true)
	mustIngest(t, ctx, x, "faq", false)
	if got, want := first(t, ctx, x, "faq", byMeaning), "faq.md#Refunds"; got != want {
		t.Errorf("once embedded, first = %q, want %q", got, want)
	}
}

// A base is embedded again when its embedding model changes, and re-indexed without vectors
// when its embeddings are removed; a base that never had any keeps its index.
func TestEmbedderChangeReingests(t *testing.T) {
	t.Parallel()
	ctx, db, dir := setup(t)
	var log bytes.Buffer
	index := func(e tandem.Embedder, id string) *knowledge.Index {
		return newIndex(db, &log, knowledge.Base{ID: "faq", Sources: []string{"*.md"}, Dir: dir, Embedder: e, EmbedderID: id})
	}
	emb := &fakeEmbedder{}
	mustIngest(t, ctx, index(nil, ""), "faq", true)
	mustIngest(t, ctx, index(nil, ""), "faq", false)
	mustIngest(t, ctx, index(emb, "model a"), "faq", true)
	mustIngest(t, ctx, index(emb, "model a"), "faq", false)
	mustIngest(t, ctx, index(emb, "model b"), "faq", true)
	if got, want := emb.callCount(), 2; got != want {
		t.Errorf("%d embedding calls, want %d", got, want)
	}
	mustIngest(t, ctx, index(nil, ""), "faq", true)
	chunks, err := db.KnowledgeChunks(ctx, "faq")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		if c.Embedding != "" {
			t.Errorf("%s keeps a vector after its embeddings were removed", c.Source)
		}
	}
}

// Every embedding call is bounded: at ingest by IngestEmbedTimeout, for a question by
// QueryEmbedTimeout, even when the caller sets no deadline.
func TestEmbeddingCallsHaveTimeouts(t *testing.T) {
	t.Parallel()
	_, db, dir := setup(t)
	emb := &fakeEmbedder{}
	var log bytes.Buffer
	x := newIndex(db, &log, knowledge.Base{ID: "faq", Sources: []string{"*.md"}, Dir: dir, Embedder: emb, EmbedderID: "model fake"})
	ctx := context.Background()
	mustIngest(t, ctx, x, "faq", true)
	if _, err := x.Search(ctx, "faq", byMeaning, 1); err != nil {
		t.Fatal(err)
	}
	limits := []time.Duration{knowledge.IngestEmbedTimeout, knowledge.QueryEmbedTimeout}
	if len(emb.deadlines) != len(limits) {
		t.Fatalf("%d embedding calls, want %d", len(emb.deadlines), len(limits))
	}
	for i, left := range emb.deadlines {
		if left <= 0 || left > limits[i] {
			t.Errorf("call %d: %v left, want a deadline within %v", i, left, limits[i])
		}
	}
}

// A question of only spaces is not embedded (the embeddings API refuses empty input).
func TestBlankQuestionIsNotEmbedded(t *testing.T) {
	t.Parallel()
	ctx, db, dir := setup(t)
	emb := &fakeEmbedder{}
	var log bytes.Buffer
	x := newIndex(db, &log, knowledge.Base{ID: "faq", Sources: []string{"*.md"}, Dir: dir, Embedder: emb, EmbedderID: "model fake"})
	mustIngest(t, ctx, x, "faq", true)
	ps, err := x.Search(ctx, "faq", "  ", 3)
	if err != nil || len(ps) != 0 {
		t.Errorf("Search(blank) = %v, %v; want nothing", ps, err)
	}
	if got, want := emb.callCount(), 1; got != want {
		t.Errorf("%d embedding calls, want %d", got, want)
	}
	if _, err := x.Search(ctx, "nope", byWords, 3); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("Search(unknown base) = %v, want not_found", err)
	}
}
