-- SQLite only: the trace (run_steps) goes back to a table with a rowid. Since a turn's steps
-- are stored in one row (~1.2 KB for a W1 turn), a row no longer fits in a WITHOUT ROWID
-- table's page (whose cells spill past ~1,000 bytes): each turn wrote an overflow page of its
-- own, 4 KB for a few hundred bytes, and split a leaf of three rows, so the trace was 40 % of
-- the pages a turn wrote and two thirds of those the checkpoint copied. In a rowid table a row
-- of up to ~4 KB stays in its page and new rows fill the last page in turn; the primary key's
-- index, small entries, finds a run's steps.
-- sqlite:begin
CREATE TABLE run_steps_new (
    conversation_id TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    step            TEXT NOT NULL,
    type            TEXT NOT NULL,
    data            TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    duration_us     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, run_id, seq)
);
INSERT INTO run_steps_new (conversation_id, run_id, seq, step, type, data, started_at, duration_us)
    SELECT conversation_id, run_id, seq, step, type, data, started_at, duration_us FROM run_steps ORDER BY started_at;
DROP TABLE run_steps;
ALTER TABLE run_steps_new RENAME TO run_steps;
-- sqlite:end
