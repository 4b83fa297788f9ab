-- RFC 9126 §2: authorization requests pushed by a client beforehand, referred to at /authorize
-- by their request_uri. Every replica reads the same rows. The request_uri is stored only as a
-- keyed hash (HMAC-SHA256 under the service secret), like every other secret handed out: a
-- database dump does not let anyone start a pushed request. A row lives par_request_uri_ttl
-- seconds (§2.2) and is deleted when used (§4, one-time use) or, once expired, by the pushes
-- that come after it.
CREATE TABLE pushed_requests (
    uri_hash   text        PRIMARY KEY,
    client_id  text        NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    parameters jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
