-- Flow analytics (GET /api/v1/flows/{id}/analytics) read a flow's runs by start time, and with
-- them the handoffs and AI calls those runs made. Runs' data also carries the steps each run
-- entered ("path") and the step of its own flow it ended on ("at").
CREATE INDEX runs_flow ON runs (flow_id, started_at);

-- Every handoff a run queued: when, when an agent first wrote, when and how it ended. status is
-- queued, connected, closed, or refused (the desk did not take it).
CREATE TABLE handoffs (
    conversation_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    desk            TEXT NOT NULL,
    team            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    queued_at       BIGINT NOT NULL,
    first_reply_at  BIGINT,
    ended_at        BIGINT,
    closed_by       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (conversation_id, id)
);
CREATE INDEX handoffs_run ON handoffs (conversation_id, run_id);

-- Every call to an AI provider (each attempt of a retried call; a fallback's under its own
-- provider) with its latency, outcome and tokens.
CREATE TABLE ai_calls (
    conversation_id TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    id              TEXT NOT NULL,
    step            TEXT NOT NULL DEFAULT '',
    provider        TEXT NOT NULL,
    model           TEXT NOT NULL DEFAULT '',
    started_at      BIGINT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    error           INTEGER NOT NULL DEFAULT 0,
    status          INTEGER NOT NULL DEFAULT 0,
    input_tokens    BIGINT NOT NULL DEFAULT 0,
    output_tokens   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, run_id, id)
);
