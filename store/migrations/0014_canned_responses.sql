-- Canned responses: texts agents insert in a reply by typing / and their shortcut. One set per
-- workspace (a server is one workspace). Shortcuts are lowercase and unique.
CREATE TABLE canned_responses (
    id         TEXT PRIMARY KEY,
    shortcut   TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    text       TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX canned_responses_shortcut ON canned_responses (shortcut);
