-- Teams made in the admin screens (the configuration's teams stay in tandem.yaml), and agents an
-- admin deactivated: they cannot log in, their logins end, they get no conversation.
CREATE TABLE teams (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL DEFAULT '',
    strategy          TEXT NOT NULL DEFAULT 'round_robin',
    reassign_after_ms BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL
);
ALTER TABLE agents ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
