-- Secrets kept in the database: the workspace's ({{secret.NAME}}, scope "workspace") and the
-- credentials adapters obtain at run time (scope "desk:<id>" or "channel:<id>", e.g. an OAuth
-- refresh token). value is sealed (AES-256-GCM under TANDEM_SECRET_KEY, internal/seal), never
-- the plaintext; key_id names the key that sealed it, so a rotation finds what to reseal.
CREATE TABLE secrets (
    scope      TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (scope, name)
);
