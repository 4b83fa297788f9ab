-- The pages' login sessions, kept here rather than in the cookie, so that a session can end:
-- on logout from the pages, when the gateway ends the SSO session it came from (logout,
-- back-channel logout, suspension, erasure), and after a while without use. The cookie holds
-- a random token; only its keyed hash is stored.
CREATE TABLE web_sessions (
    token_hash   text PRIMARY KEY,
    subject      text        NOT NULL,
    name         text        NOT NULL,
    email        text,
    roles        text[]      NOT NULL,
    csrf_seed    text        NOT NULL,
    id_token     text,
    sid          text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX web_sessions_sid ON web_sessions (sid);
CREATE INDEX web_sessions_subject ON web_sessions (subject);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
