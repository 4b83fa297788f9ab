-- OpenID Shared Signals Framework 1.0: the gateway transmits Security Event Tokens (RFC 8417)
-- to receivers' streams.

-- A receiver's stream (SSF §8.1.1). A receiver is a registered client; it sees only its own.
-- The push authorization header is the receiver's secret: stored sealed (AES-GCM, bound to the
-- stream id), never in clear.
CREATE TABLE ssf_streams (
    id                 text PRIMARY KEY,
    client_id          text        NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    audience           text        NOT NULL,
    events_requested   text[]      NOT NULL DEFAULT '{}',
    events_delivered   text[]      NOT NULL DEFAULT '{}',
    delivery_method    text        NOT NULL,
    endpoint_url       text,
    authorization_enc  bytea,
    description        text,
    subject_format     text        NOT NULL DEFAULT 'iss_sub'
                       CHECK (subject_format IN ('iss_sub', 'email', 'opaque')),
    status             text        NOT NULL DEFAULT 'enabled'
                       CHECK (status IN ('enabled', 'paused', 'disabled')),
    status_reason      text,
    dropped            bigint      NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ssf_streams_client ON ssf_streams (client_id);

-- Subjects removed from a stream (SSF §8.1.3.3): the streams start with every subject
-- (default_subjects ALL); adding one back deletes its row.
CREATE TABLE ssf_stream_exclusions (
    stream_id  text NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
    user_id    text NOT NULL,
    PRIMARY KEY (stream_id, user_id)
);

-- One SET per stream, written in the transaction of the change it reports, so that none is
-- lost and none is sent for a change rolled back. ``dedupe`` names the fact (a session ended,
-- an access change): a second write of the same fact on the same stream is a no-op, so a
-- replayed trigger never yields a second SET. Pushed rows are leased to a worker like
-- back-channel logouts (claim_id, next_at); polled rows wait for the receiver's ack.
CREATE TABLE ssf_events (
    id            bigserial PRIMARY KEY,
    stream_id     text        NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
    jti           text        NOT NULL UNIQUE,
    dedupe        text        NOT NULL,
    event_type    text        NOT NULL,
    claims        jsonb       NOT NULL,
    attempts      integer     NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL DEFAULT now(),
    claim_id      uuid,
    last_error    text,
    delivered_at  timestamptz,
    failed_at     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, dedupe)
);
CREATE INDEX ssf_events_pending ON ssf_events (stream_id, id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Sessions whose expiry was reported (CAEP session-revoked): the sweep that reports an expired
-- session marks it in the same transaction.
ALTER TABLE sessions ADD COLUMN expiry_reported_at timestamptz;
CREATE INDEX sessions_expiring ON sessions (expires_at)
    WHERE revoked_at IS NULL AND expiry_reported_at IS NULL;
-- Sessions that expired before streams existed have no receiver to tell.
UPDATE sessions SET expiry_reported_at = now() WHERE expires_at <= now() AND revoked_at IS NULL;
