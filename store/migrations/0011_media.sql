-- Files customers send (downloaded from WhatsApp and Telegram, uploaded to the widget), kept
-- where every replica can read them. A file is written once, before the message that shows
-- it, and read by id (GET /api/v1/media/{id}); the channel's cap bounds its size.
CREATE TABLE media (
    id         TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL DEFAULT '',
    mime       TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL DEFAULT '',
    size       BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    data       {{BLOB}} NOT NULL,
    created_at BIGINT NOT NULL
);
