-- Credentials that end, and who handled what.
--
-- tokens.kind is 'api' (an API token, made with `tandem token create` or the API) or 'session'
-- (an agent's login). expires_at is when the token stops working (NULL: never); a session's is
-- moved forward as it is used (sliding), never past max_expires_at. last_used_at is written at
-- most once a minute.
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE tokens ADD COLUMN max_expires_at BIGINT;
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;
-- Logins made before sessions existed are sessions now; their expiry is set at their next use.
UPDATE tokens SET kind = 'session' WHERE agent <> '';
CREATE INDEX tokens_agent ON tokens (agent);

-- Every agent a conversation was ever assigned to or answered by: an agent may read the
-- conversations they handled, also after they left the inbox.
CREATE TABLE conversation_agents (
    conversation_id TEXT NOT NULL,
    agent_email     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, agent_email)
);
INSERT INTO conversation_agents (conversation_id, agent_email, created_at)
    SELECT conversation_id, agent_email, assigned_at FROM inbox_assignments;
