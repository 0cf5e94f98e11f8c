-- What external desks remember (desk/*): the link between a handoff (its session, Tandem's
-- handoff id) and the desk's own conversation or chat (ref), which the desk's webhooks name,
-- and the desk's id of a contact. Credentials are not here: they are sealed in secrets. open is 1 until the handoff ends; the Chatwoot
-- reconciliation poll reads the open links. conversation_id leads the key of desk_links like
-- every table that grows with traffic.
CREATE TABLE desk_links (
    conversation_id TEXT NOT NULL,
    desk_id         TEXT NOT NULL,
    session         TEXT NOT NULL,
    ref             TEXT NOT NULL DEFAULT '',
    data            TEXT NOT NULL DEFAULT '{}',
    open            INTEGER NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, desk_id, session)
);
CREATE INDEX desk_links_session ON desk_links (desk_id, session);
CREATE INDEX desk_links_ref ON desk_links (desk_id, ref);
CREATE INDEX desk_links_open ON desk_links (desk_id, open, updated_at);

CREATE TABLE desk_contacts (
    desk_id    TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (desk_id, contact_id)
);
