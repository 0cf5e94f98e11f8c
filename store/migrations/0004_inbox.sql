-- The built-in inbox: agents (logins, roles, presence), team memberships, each team's
-- round-robin cursor, and the inbox's current assignment of each conversation (for
-- reassign_after). Conversations themselves keep their status, team and assignee.
CREATE TABLE agents (
    email         TEXT PRIMARY KEY,
    name          TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL DEFAULT 'agent',
    presence      TEXT NOT NULL DEFAULT 'offline',
    last_seen_at  BIGINT NOT NULL DEFAULT 0,
    source        TEXT NOT NULL DEFAULT 'api',
    created_at    BIGINT NOT NULL
);

-- source is 'config' for memberships of tandem.yaml (replaced at each start) or 'api'.
CREATE TABLE team_members (
    team_id     TEXT NOT NULL,
    agent_email TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT 'api',
    PRIMARY KEY (team_id, agent_email)
);
CREATE INDEX team_members_agent ON team_members (agent_email);

CREATE TABLE team_state (
    team_id   TEXT PRIMARY KEY,
    rr_cursor TEXT NOT NULL DEFAULT ''
);

CREATE TABLE inbox_assignments (
    conversation_id TEXT PRIMARY KEY,
    agent_email     TEXT NOT NULL,
    assigned_at     BIGINT NOT NULL
);
