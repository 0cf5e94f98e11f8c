-- Delivery reports that do not echo Tandem's ids (a platform without a callback field) name the
-- message by the platform's id: only outbound messages with one are indexed.
CREATE INDEX messages_platform_id ON messages (channel_message_id) WHERE direction = 'out' AND channel_message_id <> '';
