// Package knowledge ingests knowledge bases (Markdown, text and question,answer CSV files named
// in the configuration), chunks them, indexes them with the store's full-text search, and
// answers searches with passages and their sources. With an embedding provider, ranking is
// hybrid: full-text and vector ranks are fused; when the provider fails, full text ranks alone,
// so neither a search nor an ingest fails for it. Re-ingesting a changed source replaces the
// index in one transaction, without downtime.
package knowledge

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/words"
	"github.com/tandemchat/tandem/store"
)

// Base is a configured knowledge base.
type Base struct {
	ID string
	// Sources are file paths or glob patterns (absolute, or relative to Dir).
	Sources []string
	Dir     string
	// Embedder, when set, adds vector ranking: passages are embedded at ingest and questions
	// at search. When it fails, the base ranks by full text only.
	Embedder tandem.Embedder
	// EmbedderID names the Embedder's vectors (provider and model): when it changes, the
	// passages are embedded again, since vectors of two models cannot be compared.
	EmbedderID string
}

// Index ingests and searches knowledge bases.
type Index struct {
	db     *store.DB
	bases  map[string]Base
	Clock  tandem.Clock
	Logger *slog.Logger
	mu     sync.Mutex // one ingest at a time
}

// Bounds on embedding calls, within the caller's deadline and the provider's own timeout.
const (
	// IngestEmbedTimeout bounds the embedding of a base's passages at ingest.
	IngestEmbedTimeout = 2 * time.Minute
	// QueryEmbedTimeout bounds the embedding of a question, which a customer waits for: past
	// it, the search ranks by full text.
	QueryEmbedTimeout = 10 * time.Second
)

// New returns an index over the bases.
func New(db *store.DB, bases []Base, clock tandem.Clock, log *slog.Logger) *Index {
	m := map[string]Base{}
	for _, b := range bases {
		m[b.ID] = b
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Index{db: db, bases: m, Clock: clock, Logger: log}
}

// MaxChunk is the longest chunk in characters; paragraphs are packed up to it.
const MaxChunk = 800

// files expands a base's sources into files, sorted.
func (b Base) files() ([]string, error) {
	var out []string
	for _, src := range b.Sources {
		p := src
		if !filepath.IsAbs(p) {
			p = filepath.Join(b.Dir, p)
		}
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("knowledge %q: source %q is not a valid pattern: %w", b.ID, src, err)
		}
		if len(matches) == 0 {
			where := "the configuration's folder"
			if b.Dir == "" {
				where = "the current folder"
			}
			return nil, fmt.Errorf("knowledge %q: source %q matches no file (looked for %s: paths are relative to %s); add the files or correct the source", b.ID, src, p, where)
		}
		out = append(out, matches...)
	}
	sort.Strings(out)
	return out, nil
}

// Ingest reads a base's sources and, if they changed since the last ingest, replaces its index.
// With an Embedder, the passages are embedded too; if that fails, the index holds them without
// vectors (the base ranks by full text) and the next ingest tries the embeddings again.
func (x *Index) Ingest(ctx context.Context, id string) (changed bool, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	b, ok := x.bases[id]
	if !ok {
		return false, tandem.Errorf(tandem.ENOTFOUND, "Knowledge base %q is not configured.", id)
	}
	files, err := b.files()
	if err != nil {
		return false, err
	}
	h := sha256.New()
	var chunks []store.Chunk
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return false, fmt.Errorf("knowledge %q: %w", id, err)
		}
		rel, err := filepath.Rel(b.Dir, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = filepath.Base(f)
		}
		fmt.Fprintf(h, "%s\x00%x\x00", rel, sha256.Sum256(data))
		cs, err := Chunks(rel, data)
		if err != nil {
			return false, fmt.Errorf("knowledge %q: %s: %w", id, rel, err)
		}
		chunks = append(chunks, cs...)
	}
	// plain is the hash of an index without vectors (the same as before embeddings existed);
	// hash also names the vectors, so a new embedding model re-ingests.
	plain := hex.EncodeToString(h.Sum(nil))
	hash := plain
	if b.Embedder != nil {
		fmt.Fprintf(h, "embeddings\x00%s\x00", b.EmbedderID)
		hash = hex.EncodeToString(h.Sum(nil))
	}
	var stored string
	if st, err := x.db.KnowledgeGet(ctx, id); err == nil {
		stored = st.Hash
	}
	if stored == hash {
		return false, nil
	}
	if b.Embedder != nil && len(chunks) > 0 {
		if err := x.embed(ctx, b.Embedder, chunks); err != nil {
			x.Logger.Warn("knowledge: embeddings failed; ranking by full text only until the next ingest", "knowledge", id, "err", err)
			if stored == plain {
				return false, nil // the index already holds these passages, without vectors
			}
			hash = plain
		}
	}
	if err := x.db.KnowledgeReplace(ctx, id, hash, chunks, x.Clock.Now()); err != nil {
		return false, err
	}
	x.Logger.Info("knowledge base ingested", "knowledge", id, "files", len(files), "chunks", len(chunks), "vectors", hash != plain)
	return true, nil
}

// embed sets the vectors of the chunks (of their title and text), all or none.
func (x *Index) embed(ctx context.Context, e tandem.Embedder, chunks []store.Chunk) error {
	ctx, cancel := context.WithTimeout(ctx, IngestEmbedTimeout)
	defer cancel()
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = strings.TrimSpace(c.Title + "\n" + c.Text)
	}
	vecs, err := e.Embed(ctx, texts)
	if err != nil {
		return err
	}
	if len(vecs) != len(chunks) {
		return fmt.Errorf("%d vectors for %d passages", len(vecs), len(chunks))
	}
	for i := range chunks {
		if len(vecs[i]) == 0 {
			return fmt.Errorf("no vector for passage %d", i)
		}
	}
	for i := range chunks {
		chunks[i].Embedding = encodeVector(vecs[i])
	}
	return nil
}

// IngestAll ingests every base.
func (x *Index) IngestAll(ctx context.Context) error {
	ids := make([]string, 0, len(x.bases))
	for id := range x.bases {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, err := x.Ingest(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Watch re-ingests bases whose sources changed, every interval, until ctx ends.
func (x *Index) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for id := range x.bases {
				if _, err := x.Ingest(ctx, id); err != nil && ctx.Err() == nil {
					x.Logger.Warn("knowledge: re-ingest failed; the previous index stays", "knowledge", id, "err", err)
				}
			}
		}
	}
}

// Search implements tandem.Knowledge: the k passages that best answer the query.
func (x *Index) Search(ctx context.Context, kb, query string, k int) ([]tandem.Passage, error) {
	b, ok := x.bases[kb]
	if !ok {
		return nil, tandem.Errorf(tandem.ENOTFOUND, "Knowledge base %q is not configured.", kb)
	}
	if k <= 0 {
		k = 3
	}
	terms := words.Terms(query)
	hits, err := x.db.KnowledgeSearch(ctx, kb, terms, 20)
	if err != nil {
		return nil, err
	}
	ranked := fullTextOrder(hits, terms)
	if b.Embedder != nil && strings.TrimSpace(query) != "" {
		if fused, err := x.hybrid(ctx, b, query, ranked); err == nil {
			ranked = fused
		} else {
			x.Logger.Warn("knowledge: vector ranking failed; full text only", "knowledge", kb, "err", err)
		}
	}
	var out []tandem.Passage
	for i, h := range ranked {
		if i >= k {
			break
		}
		out = append(out, tandem.Passage{Source: h.Source, Text: passageText(h.Chunk), Score: h.Rank})
	}
	return out, nil
}

// passageText is what a passage says: a FAQ row's answer, or a section's text.
func passageText(c store.Chunk) string { return strings.TrimSpace(c.Text) }

// fullTextOrder re-scores full-text hits by how many distinct query terms they contain (so a
// passage matching more of the question wins over one repeating one word), then by rank, and
// scales scores to 0..1.
func fullTextOrder(hits []store.ScoredChunk, terms []string) []store.ScoredChunk {
	type scored struct {
		store.ScoredChunk
		cover float64
	}
	list := make([]scored, len(hits))
	for i, h := range hits {
		seen := map[string]bool{}
		for _, w := range words.Words(h.Norm) {
			seen[words.Stem(w)] = true
		}
		n := 0
		for _, t := range terms {
			if seen[words.Stem(t)] {
				n++
			}
		}
		list[i] = scored{h, float64(n) / float64(max(len(terms), 1))}
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].cover != list[j].cover {
			return list[i].cover > list[j].cover
		}
		return list[i].Rank > list[j].Rank
	})
	out := make([]store.ScoredChunk, len(list))
	for i, s := range list {
		s.ScoredChunk.Rank = math.Round(s.cover*1000) / 1000
		out[i] = s.ScoredChunk
	}
	return out
}

// hybrid fuses the full-text order with a vector order by reciprocal rank fusion. A base whose
// index holds no vectors (its embeddings failed at ingest) keeps the full-text order, without
// embedding the query.
func (x *Index) hybrid(ctx context.Context, b Base, query string, ft []store.ScoredChunk) ([]store.ScoredChunk, error) {
	all, err := x.db.KnowledgeChunks(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(all, func(c store.ScoredChunk) bool { return c.Embedding != "" }) {
		return ft, nil
	}
	ectx, cancel := context.WithTimeout(ctx, QueryEmbedTimeout)
	defer cancel()
	vecs, err := b.Embedder.Embed(ectx, []string{query})
	switch {
	case err != nil:
		return nil, fmt.Errorf("query embedding: %w", err)
	case len(vecs) == 0 || len(vecs[0]) == 0:
		return nil, errors.New("query embedding: no vector")
	}
	q := vecs[0]
	type sim struct {
		c store.ScoredChunk
		s float64
	}
	var sims []sim
	for _, c := range all {
		v := decodeVector(c.Embedding)
		if len(v) == len(q) && len(v) > 0 {
			sims = append(sims, sim{c, cosine(q, v)})
		}
	}
	sort.SliceStable(sims, func(i, j int) bool { return sims[i].s > sims[j].s })
	const k = 60.0
	score := map[int]float64{}
	chunk := map[int]store.ScoredChunk{}
	for i, c := range ft {
		score[c.Seq] += 1 / (k + float64(i+1))
		chunk[c.Seq] = c
	}
	for i, s := range sims {
		if i >= 20 {
			break
		}
		score[s.c.Seq] += 1 / (k + float64(i+1))
		if _, ok := chunk[s.c.Seq]; !ok {
			chunk[s.c.Seq] = s.c
		}
	}
	out := make([]store.ScoredChunk, 0, len(chunk))
	for seq, c := range chunk {
		c.Rank = math.Round(score[seq]*k/2*1000) / 1000
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Rank != out[j].Rank {
			return out[i].Rank > out[j].Rank
		}
		return out[i].Seq < out[j].Seq
	})
	return out, nil
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

func encodeVector(v []float32) string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = strconv.FormatFloat(float64(f), 'g', 6, 32)
	}
	return strings.Join(parts, ",")
}

func decodeVector(s string) []float32 {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]float32, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(p, 32)
		if err != nil {
			return nil
		}
		out[i] = float32(f)
	}
	return out
}

// Chunks splits one source file into chunks by its kind (.md, .csv, anything else as text).
func Chunks(name string, data []byte) ([]store.Chunk, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return csvChunks(name, data)
	case ".md", ".markdown":
		return markdownChunks(name, string(data)), nil
	}
	return textChunks(name, "", string(data)), nil
}

// csvChunks reads question,answer rows: each row is one chunk, its question the title.
func csvChunks(name string, data []byte) ([]store.Chunk, error) {
	r := csv.NewReader(strings.NewReader(string(data)))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var out []store.Chunk
	for row := 1; ; row++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", row, err)
		}
		if len(rec) < 2 {
			continue
		}
		q, a := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if row == 1 && strings.EqualFold(q, "question") && strings.EqualFold(a, "answer") {
			continue
		}
		if q == "" || a == "" {
			continue
		}
		out = append(out, store.Chunk{Source: fmt.Sprintf("%s#%d", name, row), Title: q, Text: a, Norm: words.Normalize(q + "\n" + a)})
	}
	return out, nil
}

// markdownChunks splits by headings; each section's paragraphs are packed into chunks.
func markdownChunks(name, text string) []store.Chunk {
	var out []store.Chunk
	title := ""
	var body strings.Builder
	flush := func() {
		out = append(out, textChunks(name, title, body.String())...)
		body.Reset()
	}
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") {
			flush()
			title = strings.TrimSpace(strings.TrimLeft(t, "#"))
			continue
		}
		body.WriteString(line + "\n")
	}
	flush()
	return out
}

// textChunks packs paragraphs into chunks of at most MaxChunk characters.
func textChunks(name, title, text string) []store.Chunk {
	var out []store.Chunk
	var cur strings.Builder
	emit := func() {
		t := strings.TrimSpace(cur.String())
		cur.Reset()
		if t == "" {
			return
		}
		src := name
		if title != "" {
			src = name + "#" + title
		}
		out = append(out, store.Chunk{Source: src, Title: title, Text: t, Norm: words.Normalize(title + "\n" + t)})
	}
	for _, p := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if cur.Len() > 0 && cur.Len()+len(p)+2 > MaxChunk {
			emit()
		}
		for len(p) > MaxChunk {
			cut := strings.LastIndexAny(p[:MaxChunk], ".!?\n ")
			if cut < MaxChunk/2 {
				cut = MaxChunk
			}
			cur.WriteString(p[:cut+min(1, len(p)-cut)])
			emit()
			p = strings.TrimSpace(p[min(cut+1, len(p)):])
		}
		if cur.Len() > 0 {
			cur.WriteString("\n\n")
		}
		cur.WriteString(p)
	}
	emit()
	return out
}
