-- A web visitor sees the status of their conversation (with the bot, waiting for an agent, with
-- an agent by name, closed). Each change of it is an event of the conversation like a message:
-- it takes the next number of the conversation's counter (msg_seq) in the transaction that
-- makes the change, so that what the widget shows is numbered without gaps and replays from a
-- cursor. shown_status is the last status recorded, '<status> <assignee>'.
ALTER TABLE conversations ADD COLUMN shown_status TEXT NOT NULL DEFAULT '';
UPDATE conversations SET shown_status = status || ' ' || assignee;
CREATE TABLE status_events (
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    status          TEXT NOT NULL,
    assignee        TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
