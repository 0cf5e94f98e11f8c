-- Knowledge bases: chunks of the configured sources, indexed for full-text search. `norm` is
-- the text lower-cased and without accents (the same in SQLite and PostgreSQL); each ingest
-- writes a new generation and switches to it in one transaction.
CREATE TABLE kb_chunks (
    kb_id      TEXT NOT NULL,
    generation BIGINT NOT NULL,
    seq        INTEGER NOT NULL,
    source     TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    text       TEXT NOT NULL,
    norm       TEXT NOT NULL,
    embedding  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kb_id, generation, seq)
);

CREATE TABLE kb_state (
    kb_id      TEXT PRIMARY KEY,
    generation BIGINT NOT NULL,
    hash       TEXT NOT NULL,
    chunks     INTEGER NOT NULL,
    updated_at BIGINT NOT NULL
);

{{KB_INDEX}}
