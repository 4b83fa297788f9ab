-- Data-rights requests (GDPR Art. 15-21) and the dates their deadline is computed from
-- (Art. 12(3)).
CREATE TABLE requests (
    id           text PRIMARY KEY,
    subject_id   text,
    requester    text        NOT NULL,
    request_type text        NOT NULL CHECK (request_type IN
        ('access', 'rectification', 'erasure', 'restriction', 'portability', 'objection')),
    message      text,
    channel      text        NOT NULL DEFAULT 'online',
    received_at  timestamptz NOT NULL,
    due_on       date,
    status       text        NOT NULL DEFAULT 'received',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requests_open_due ON requests (due_on) WHERE status NOT IN ('completed', 'refused');
CREATE INDEX requests_subject ON requests (subject_id);
