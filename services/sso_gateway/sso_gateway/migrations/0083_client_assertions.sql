-- private_key_jwt (RFC 7523 §3 item 7, OIDC Core §9): each client assertion's jti is used once.
-- Kept here, not in a replica's memory, so that an assertion replayed against another replica
-- is refused too. A row is needed only while its assertion could still be accepted: it expires
-- with it (plus the clock-skew leeway), and inserts sweep a bounded batch of expired rows.
CREATE TABLE client_assertions (
    client_id  text        NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    jti        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertions_expiry ON client_assertions (expires_at);
