-- Tandem's schema. Every table that grows with traffic carries conversation_id first in its
-- primary key, so it can later be sharded by conversation. Times are Unix microseconds.
-- {{BLOB}} and friends are replaced per dialect; everything else is shared SQL.

CREATE TABLE flows (
    id             TEXT PRIMARY KEY,
    draft          TEXT NOT NULL,
    draft_format   TEXT NOT NULL DEFAULT 'yaml',
    name           TEXT NOT NULL DEFAULT '',
    latest_version INTEGER NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE flow_versions (
    flow_id    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    source     TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (flow_id, version)
);

CREATE TABLE contacts (
    id          TEXT PRIMARY KEY,
    channel_id  TEXT NOT NULL,
    external_id TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_external ON contacts (channel_id, external_id);

CREATE TABLE conversations (
    id           TEXT PRIMARY KEY,
    contact_id   TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    channel_kind TEXT NOT NULL,
    status       TEXT NOT NULL,
    team         TEXT NOT NULL DEFAULT '',
    assignee     TEXT NOT NULL DEFAULT '',
    bot_paused   INTEGER NOT NULL DEFAULT 0,
    handoff      TEXT NOT NULL DEFAULT 'none',
    run_id       TEXT NOT NULL DEFAULT '',
    run_status   TEXT NOT NULL DEFAULT '',
    data         TEXT NOT NULL DEFAULT '{}',
    state        TEXT NOT NULL DEFAULT '{}',
    next_seq     BIGINT NOT NULL DEFAULT 0,
    done_seq     BIGINT NOT NULL DEFAULT 0,
    msg_seq      BIGINT NOT NULL DEFAULT 0,
    out_seq      BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX conversations_contact ON conversations (contact_id, channel_id, status);
CREATE INDEX conversations_status ON conversations (status, team, updated_at);

CREATE TABLE inbound_keys (
    channel_id      TEXT NOT NULL,
    provider_id     TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (channel_id, provider_id)
);

CREATE TABLE messages (
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
);
CREATE UNIQUE INDEX messages_order ON messages (conversation_id, seq);

CREATE TABLE events (
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    data            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

CREATE TABLE runs (
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
);
CREATE UNIQUE INDEX runs_id ON runs (id);
CREATE INDEX runs_status ON runs (status, flow_id);

CREATE TABLE run_steps (
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

CREATE TABLE outbox (
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
    PRIMARY KEY (conversation_id, id)
);
CREATE INDEX outbox_pending ON outbox (status, next_at);
CREATE INDEX outbox_lane ON outbox (conversation_id, lane, status, seq);

CREATE TABLE timers (
    conversation_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    key             TEXT NOT NULL,
    PRIMARY KEY (conversation_id, id)
);
CREATE INDEX timers_due ON timers (due_at);

CREATE TABLE notes (
    conversation_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    author          TEXT NOT NULL,
    text            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, id)
);

CREATE TABLE notifications (
    conversation_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    team            TEXT NOT NULL DEFAULT '',
    agent           TEXT NOT NULL DEFAULT '',
    text            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, id)
);
