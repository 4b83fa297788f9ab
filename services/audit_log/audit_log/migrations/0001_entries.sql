-- Append-only record of every event of the catalog (ARCHITECTURE.md: the audit log consumes
-- every topic). Rows are never updated or deleted by the application.
CREATE TABLE entries (
    position    bigserial PRIMARY KEY,
    event_id    text        NOT NULL UNIQUE,
    topic       text        NOT NULL,
    type        text        NOT NULL,
    source      text        NOT NULL,
    subject     text        NOT NULL,
    actor       text,
    time        timestamptz NOT NULL,
    data        jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entries_subject ON entries (subject, position);
CREATE INDEX entries_type ON entries (type, position);

CREATE FUNCTION entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END $$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION entries_append_only();
