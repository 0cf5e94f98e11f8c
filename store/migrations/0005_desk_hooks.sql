-- Callbacks of webhook desks already accepted (an agent's message, a close), so that a desk's
-- retry of one is processed once (contracts/handoff-webhook.md §6.4). event_id is the desk's
-- message id or a hash of the callback, prefixed with the handoff id; conversation_id leads the
-- key like every table that grows with traffic.
CREATE TABLE desk_events (
    conversation_id TEXT NOT NULL,
    desk_id         TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, desk_id, event_id)
);
