-- Whose a stored file is: the widget session (and its contact) that uploaded it, and the
-- conversation of the first message that carries it. A widget session reads only its own
-- files and those of its contact's conversations; an agent only those of the conversations
-- they see.
ALTER TABLE media ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
ALTER TABLE media ADD COLUMN contact_id TEXT NOT NULL DEFAULT '';
ALTER TABLE media ADD COLUMN conversation_id TEXT NOT NULL DEFAULT '';
