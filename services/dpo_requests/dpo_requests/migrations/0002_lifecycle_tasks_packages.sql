-- Lifecycle of a rights request (received -> identity_pending -> in_progress -> completed |
-- refused | withdrawn), its Art. 12(3) extension and Art. 12(6) clock suspensions, the
-- per-system tasks it fans out to, the packages it produces and the reminders it triggers.
ALTER TABLE requests
    ADD COLUMN corrections           jsonb,
    ADD COLUMN verified_at           timestamptz,
    ADD COLUMN verification_method   text,
    ADD COLUMN extended_on           date,
    ADD COLUMN extension_reason      text,
    ADD COLUMN refusal_ground        text,
    ADD COLUMN refusal_reason        text,
    ADD COLUMN refusal_justification text,
    ADD COLUMN closed_at             timestamptz,
    ADD COLUMN closing_note          text,
    ADD COLUMN duplicate_of          text REFERENCES requests (id),
    ADD COLUMN due_soon_sent_for     date,
    ADD COLUMN overdue_sent_for      date,
    ADD COLUMN updated_at            timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT requests_status_known CHECK (status IN
        ('received', 'identity_pending', 'in_progress', 'completed', 'refused', 'withdrawn'));
CREATE INDEX requests_page ON requests (received_at DESC, id DESC);
CREATE INDEX requests_reminders ON requests (due_on)
    WHERE status IN ('received', 'identity_pending', 'in_progress');

-- GDPR Art. 12(6): the clock stops from the day identity information is asked for until the
-- day it arrives (half-open [asked_on, answered_on), see deadlines.ClockSuspension).
CREATE TABLE request_suspensions (
    id          bigserial PRIMARY KEY,
    request_id  text        NOT NULL REFERENCES requests (id),
    asked_at    timestamptz NOT NULL,
    answered_at timestamptz,
    what        text        NOT NULL
);
CREATE UNIQUE INDEX request_suspensions_one_open ON request_suspensions (request_id)
    WHERE answered_at IS NULL;

CREATE TABLE request_timeline (
    id         bigserial PRIMARY KEY,
    request_id text        NOT NULL REFERENCES requests (id),
    at         timestamptz NOT NULL DEFAULT now(),
    kind       text        NOT NULL,
    actor_kind text        NOT NULL,
    actor_id   text        NOT NULL,
    detail     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX request_timeline_request ON request_timeline (request_id, id);

-- Systems holding personal data: announced over Kafka (automated) or declared by the DPO
-- (e.g. paper archives: every task is a manual one).
CREATE TABLE data_systems (
    name         text PRIMARY KEY,
    actions      text[]      NOT NULL,
    description  text        NOT NULL DEFAULT '',
    automated    boolean     NOT NULL DEFAULT true,
    announced_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
    id           text PRIMARY KEY,
    request_id   text        NOT NULL REFERENCES requests (id),
    system       text        NOT NULL,
    action       text        NOT NULL,
    status       text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'completed', 'failed', 'timed_out')),
    manual       boolean     NOT NULL DEFAULT false,
    attempts     integer     NOT NULL DEFAULT 1,
    requested_at timestamptz NOT NULL DEFAULT now(),
    due_at       timestamptz,
    finished_at  timestamptz,
    data         jsonb,
    data_ref     text,
    error        text,
    note         text,
    completed_by text,
    UNIQUE (request_id, system, action)
);
CREATE INDEX tasks_waiting ON tasks (due_at) WHERE status = 'pending' AND NOT manual;
CREATE INDEX tasks_manual ON tasks (requested_at) WHERE manual AND status <> 'completed';

CREATE TABLE packages (
    id         text PRIMARY KEY,
    request_id text        NOT NULL UNIQUE REFERENCES requests (id),
    filename   text        NOT NULL,
    content    bytea,
    sha256     text        NOT NULL,
    size       integer     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    downloads  integer     NOT NULL DEFAULT 0
);

-- Submissions without an account: held until the e-mailed one-time code is confirmed.
CREATE TABLE email_submissions (
    id         text PRIMARY KEY,
    email      text        NOT NULL,
    payload    jsonb       NOT NULL,
    code_hash  text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    attempts   integer     NOT NULL DEFAULT 0,
    request_id text REFERENCES requests (id)
);

-- Development mail transport: messages are kept here instead of being sent.
CREATE TABLE outgoing_emails (
    id         bigserial PRIMARY KEY,
    recipient  text        NOT NULL,
    subject    text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
