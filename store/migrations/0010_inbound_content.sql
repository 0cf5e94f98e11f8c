-- A hash of what an inbound message carried (contact and message), so that a client reusing a
-- message id for other content gets a conflict instead of the first message's answer. Keys
-- stored before keep an empty hash: their repeats are taken as repeats.
ALTER TABLE inbound_keys ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
