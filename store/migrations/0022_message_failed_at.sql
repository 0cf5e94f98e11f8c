-- When an outbound message failed (NULL: it did not), so that the inbox's event stream finds
-- the messages that failed since it last looked, with an index of those only (failures are
-- rare): a failure changes no conversation row.
ALTER TABLE messages ADD COLUMN failed_at BIGINT;
CREATE INDEX messages_failed ON messages (failed_at) WHERE failed_at IS NOT NULL;
