-- Conversations and contacts carry a version, raised by every change of their content (not by
-- the sequence counters of new events and messages): a turn computed outside the writer commits
-- only if what it read is still current.
ALTER TABLE conversations ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
