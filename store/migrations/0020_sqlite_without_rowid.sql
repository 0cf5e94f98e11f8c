-- SQLite only (PostgreSQL has no rowid): the tables keyed by their conversation become WITHOUT
-- ROWID tables, stored in the B-tree of their primary key. A rowid table keeps each row twice,
-- in the table's B-tree by rowid and in its primary key's index, so every row a turn writes
-- (its messages, trace steps, effects, timers, dedupe key) cost two B-tree inserts and, in a
-- group commit, two pages written where one does. The rows are small (a trace step ~200 bytes);
-- the conversations, whose rows hold the state (often over 1 KB), keep their rowid.
-- sqlite:begin
CREATE TABLE messages_new (
    conversation_id    TEXT NOT NULL,
    id                 TEXT NOT NULL,
    seq                BIGINT NOT NULL,
    direction          TEXT NOT NULL,
    author             TEXT NOT NULL,
    type               TEXT NOT NULL,
    text               TEXT NOT NULL DEFAULT '',
    data               TEXT NOT NULL DEFAULT '{}',
    channel_message_id TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, id)
) WITHOUT ROWID;
INSERT INTO messages_new (conversation_id, id, seq, direction, author, type, text, data, channel_message_id, status, created_at)
    SELECT conversation_id, id, seq, direction, author, type, text, data, channel_message_id, status, created_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE UNIQUE INDEX messages_order ON messages (conversation_id, seq);
CREATE INDEX messages_platform_id ON messages (channel_message_id) WHERE direction = 'out' AND channel_message_id <> '';

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
) WITHOUT ROWID;
INSERT INTO run_steps_new (conversation_id, run_id, seq, step, type, data, started_at, duration_us)
    SELECT conversation_id, run_id, seq, step, type, data, started_at, duration_us FROM run_steps;
DROP TABLE run_steps;
ALTER TABLE run_steps_new RENAME TO run_steps;

CREATE TABLE inbound_keys_new (
    channel_id      TEXT NOT NULL,
    provider_id     TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    content_hash    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (channel_id, provider_id)
) WITHOUT ROWID;
INSERT INTO inbound_keys_new (channel_id, provider_id, conversation_id, message_id, created_at, content_hash)
    SELECT channel_id, provider_id, conversation_id, message_id, created_at, content_hash FROM inbound_keys;
DROP TABLE inbound_keys;
ALTER TABLE inbound_keys_new RENAME TO inbound_keys;

CREATE TABLE outbox_new (
    conversation_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    lane            TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    await           INTEGER NOT NULL DEFAULT 0,
    data            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    next_at         BIGINT NOT NULL,
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    done_at         BIGINT,
    claimed_by      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (conversation_id, id)
) WITHOUT ROWID;
INSERT INTO outbox_new (conversation_id, id, lane, seq, kind, await, data, status, attempts, last_error, next_at, claimed_until, created_at, done_at, claimed_by)
    SELECT conversation_id, id, lane, seq, kind, await, data, status, attempts, last_error, next_at, claimed_until, created_at, done_at, claimed_by FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (status, next_at);
CREATE INDEX outbox_lane ON outbox (conversation_id, lane, status, seq);

CREATE TABLE timers_new (
    conversation_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    key             TEXT NOT NULL,
    PRIMARY KEY (conversation_id, id)
) WITHOUT ROWID;
INSERT INTO timers_new (conversation_id, id, due_at, key) SELECT conversation_id, id, due_at, key FROM timers;
DROP TABLE timers;
ALTER TABLE timers_new RENAME TO timers;
CREATE INDEX timers_due ON timers (due_at);

CREATE TABLE runs_new (
    conversation_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    flow_id         TEXT NOT NULL,
    flow_version    INTEGER NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    step            TEXT NOT NULL DEFAULT '',
    data            TEXT NOT NULL DEFAULT '{}',
    started_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    PRIMARY KEY (conversation_id, id)
) WITHOUT ROWID;
INSERT INTO runs_new (conversation_id, id, flow_id, flow_version, status, reason, error, step, data, started_at, updated_at, ended_at)
    SELECT conversation_id, id, flow_id, flow_version, status, reason, error, step, data, started_at, updated_at, ended_at FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE UNIQUE INDEX runs_id ON runs (id);
CREATE INDEX runs_status ON runs (status, flow_id);
CREATE INDEX runs_flow ON runs (flow_id, started_at);

CREATE TABLE events_new (
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    data            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
INSERT INTO events_new (conversation_id, seq, kind, data, created_at) SELECT conversation_id, seq, kind, data, created_at FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;

CREATE TABLE status_events_new (
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    status          TEXT NOT NULL,
    assignee        TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
INSERT INTO status_events_new (conversation_id, seq, status, assignee, created_at) SELECT conversation_id, seq, status, assignee, created_at FROM status_events;
DROP TABLE status_events;
ALTER TABLE status_events_new RENAME TO status_events;
-- sqlite:end
