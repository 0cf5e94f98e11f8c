-- Web widget sessions (web-widget channel): the visitor's browser keeps an opaque token; only
-- its SHA-256 is stored. data holds what the first page said (page_url, referrer, user agent,
-- locale) and the snippet's variables. A session's expiry slides forward as it is used.
CREATE TABLE widget_sessions (
    id           TEXT PRIMARY KEY,
    channel_id   TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    contact_id   TEXT NOT NULL,
    verified     INTEGER NOT NULL DEFAULT 0,
    data         TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX widget_sessions_token ON widget_sessions (token_sha256);
CREATE INDEX widget_sessions_contact ON widget_sessions (contact_id);
CREATE INDEX widget_sessions_expires ON widget_sessions (expires_at);
-- Widget streams of other replicas look for conversations changed since their last look.
CREATE INDEX conversations_updated ON conversations (channel_kind, updated_at);
