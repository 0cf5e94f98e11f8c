-- Why a failed outbound message was not delivered: the platform's error code (WhatsApp's
-- 131047, Telegram's 403; '' when Tandem itself gave up) and text. Plain columns rather than
-- keys in data: the failure is written by the same UPDATE that sets the status, while data is
-- the message's content, written once with it.
ALTER TABLE messages ADD COLUMN error_code TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN error_message TEXT NOT NULL DEFAULT '';
