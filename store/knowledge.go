package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Chunk is a piece of a knowledge source.
type Chunk struct {
	Source    string
	Title     string
	Text      string
	Norm      string // lower-cased, without accents: what is indexed
	Embedding string // comma-separated floats, or ""
}

// KnowledgeState describes a knowledge base's current index.
type KnowledgeState struct {
	ID         string    `json:"id"`
	Generation int64     `json:"generation"`
	Hash       string    `json:"hash"`
	Chunks     int       `json:"chunks"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// KnowledgeGet returns a knowledge base's state, or a not-found error before its first ingest.
func (db *DB) KnowledgeGet(ctx context.Context, kb string) (*KnowledgeState, error) {
	st := KnowledgeState{ID: kb}
	var updated int64
	err := db.read(ctx).row(`SELECT generation, hash, chunks, updated_at FROM kb_state WHERE kb_id = ?`, kb).Scan(&st.Generation, &st.Hash, &st.Chunks, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Knowledge base", kb)
	} else if err != nil {
		return nil, fmt.Errorf("knowledge %s: %w", kb, err)
	}
	st.UpdatedAt = fromMicros(updated)
	return &st, nil
}

// KnowledgeReplace writes a new generation of a knowledge base's chunks and switches to it in
// one transaction: searches see the old index or the new one, never a mix.
func (db *DB) KnowledgeReplace(ctx context.Context, kb, hash string, chunks []Chunk, now time.Time) error {
	return db.write(ctx, func(q q) error {
		if db.dialect == Postgres {
			// Replicas starting together ingest the same base: they take turns, or both would
			// write the same generation. The commit frees the lock.
			if _, err := q.exec(`SELECT pg_advisory_xact_lock(hashtext(?))`, "tandem kb "+kb); err != nil {
				return fmt.Errorf("knowledge %s: %w", kb, err)
			}
		}
		var gen int64
		err := q.row(`SELECT generation FROM kb_state WHERE kb_id = ?`, kb).Scan(&gen)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("knowledge %s: %w", kb, err)
		}
		old := gen
		gen++
		for i, c := range chunks {
			if _, err := q.exec(`INSERT INTO kb_chunks (kb_id, generation, seq, source, title, text, norm, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				kb, gen, i, c.Source, c.Title, c.Text, c.Norm, c.Embedding); err != nil {
				return fmt.Errorf("knowledge %s: chunk: %w", kb, err)
			}
			if db.dialect == SQLite {
				if _, err := q.exec(`INSERT INTO kb_fts (norm, kb_id, generation, seq) VALUES (?, ?, ?, ?)`, c.Norm, kb, gen, i); err != nil {
					return fmt.Errorf("knowledge %s: index: %w", kb, err)
				}
			}
		}
		if _, err := q.exec(`INSERT INTO kb_state (kb_id, generation, hash, chunks, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (kb_id) DO UPDATE SET generation = excluded.generation, hash = excluded.hash, chunks = excluded.chunks, updated_at = excluded.updated_at`,
			kb, gen, hash, len(chunks), micros(now)); err != nil {
			return fmt.Errorf("knowledge %s: state: %w", kb, err)
		}
		if _, err := q.exec(`DELETE FROM kb_chunks WHERE kb_id = ? AND generation <= ?`, kb, old); err != nil {
			return fmt.Errorf("knowledge %s: cleanup: %w", kb, err)
		}
		if db.dialect == SQLite {
			if _, err := q.exec(`DELETE FROM kb_fts WHERE kb_id = ? AND generation <= ?`, kb, old); err != nil {
				return fmt.Errorf("knowledge %s: cleanup: %w", kb, err)
			}
		}
		return nil
	})
}

// ScoredChunk is a search hit with its full-text rank (higher is better).
type ScoredChunk struct {
	Chunk
	Seq  int
	Rank float64
}

// KnowledgeSearch ranks the current chunks of a knowledge base against normalised query terms
// with full-text search (SQLite FTS5's bm25, PostgreSQL's ts_rank_cd); any term may match.
func (db *DB) KnowledgeSearch(ctx context.Context, kb string, terms []string, limit int) ([]ScoredChunk, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	var rows *sql.Rows
	var err error
	q := db.read(ctx)
	if db.dialect == SQLite {
		quoted := make([]string, len(terms))
		for i, t := range terms {
			quoted[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"*`
		}
		// bm25 is lower for better matches: negate it so higher is better in both dialects.
		rows, err = q.query(`SELECT c.seq, c.source, c.title, c.text, c.norm, c.embedding, -bm25(kb_fts) AS rank
FROM kb_fts JOIN kb_state s ON s.kb_id = kb_fts.kb_id AND s.generation = kb_fts.generation
JOIN kb_chunks c ON c.kb_id = kb_fts.kb_id AND c.generation = kb_fts.generation AND c.seq = kb_fts.seq
WHERE kb_fts MATCH ? AND kb_fts.kb_id = ? ORDER BY rank DESC LIMIT ?`, strings.Join(quoted, " OR "), kb, limit)
	} else {
		quoted := make([]string, len(terms))
		for i, t := range terms {
			quoted[i] = strings.ReplaceAll(strings.ReplaceAll(t, `'`, ``), `\`, ``) + ":*"
		}
		rows, err = q.query(`SELECT c.seq, c.source, c.title, c.text, c.norm, c.embedding, ts_rank_cd(to_tsvector('simple', c.norm), to_tsquery('simple', ?)) AS rank
FROM kb_chunks c JOIN kb_state s ON s.kb_id = c.kb_id AND s.generation = c.generation
WHERE c.kb_id = ? AND to_tsvector('simple', c.norm) @@ to_tsquery('simple', ?) ORDER BY rank DESC LIMIT ?`,
			strings.Join(quoted, " | "), kb, strings.Join(quoted, " | "), limit)
	}
	if err != nil {
		return nil, fmt.Errorf("knowledge %s: search: %w", kb, err)
	}
	defer rows.Close()
	var out []ScoredChunk
	for rows.Next() {
		var c ScoredChunk
		if err := rows.Scan(&c.Seq, &c.Source, &c.Title, &c.Text, &c.Norm, &c.Embedding, &c.Rank); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// KnowledgeChunks returns every current chunk of a knowledge base (for embedding ranking).
func (db *DB) KnowledgeChunks(ctx context.Context, kb string) ([]ScoredChunk, error) {
	rows, err := db.read(ctx).query(`SELECT c.seq, c.source, c.title, c.text, c.norm, c.embedding FROM kb_chunks c
JOIN kb_state s ON s.kb_id = c.kb_id AND s.generation = c.generation WHERE c.kb_id = ? ORDER BY c.seq`, kb)
	if err != nil {
		return nil, fmt.Errorf("knowledge %s: %w", kb, err)
	}
	defer rows.Close()
	var out []ScoredChunk
	for rows.Next() {
		var c ScoredChunk
		if err := rows.Scan(&c.Seq, &c.Source, &c.Title, &c.Text, &c.Norm, &c.Embedding); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
