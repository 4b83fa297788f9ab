-- OpenID Connect provider state (issue 3). Secrets are stored as keyed hashes (HMAC-SHA256 with
-- the service secret), private signing keys encrypted (AES-GCM).

ALTER TABLE users
    ADD COLUMN username  text,
    ADD COLUMN erased_at timestamptz;
CREATE UNIQUE INDEX users_username ON users (lower(username));

ALTER TABLE clients
    ADD COLUMN secret_hash               text,
    ADD COLUMN public                    boolean NOT NULL DEFAULT false,
    ADD COLUMN grant_types               text[]  NOT NULL DEFAULT '{authorization_code,refresh_token}',
    ADD COLUMN post_logout_redirect_uris text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN backchannel_logout_uri    text,
    ADD COLUMN audiences                 text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN signing_alg               text    NOT NULL DEFAULT 'ES256';

-- JWKS with overlap: a key is published at created_at, signs from activates_at until the next
-- key of its algorithm activates (retires_at), and stays published until drop_after, when every
-- token it signed has expired.
CREATE TABLE signing_keys (
    kid          text PRIMARY KEY,
    alg          text        NOT NULL,
    private_enc  bytea       NOT NULL,
    public_jwk   jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    activates_at timestamptz NOT NULL,
    retires_at   timestamptz,
    drop_after   timestamptz
);

CREATE TABLE sessions (
    id          text PRIMARY KEY,
    token_hash  text        NOT NULL UNIQUE,
    user_id     text        NOT NULL REFERENCES users (id),
    auth_time   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    ip          text
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Which platforms a browser session signed into (back-channel logout targets).
CREATE TABLE session_clients (
    session_id text NOT NULL REFERENCES sessions (id),
    client_id  text NOT NULL REFERENCES clients (client_id),
    PRIMARY KEY (session_id, client_id)
);

CREATE TABLE authorization_codes (
    code_hash             text PRIMARY KEY,
    client_id             text        NOT NULL,
    user_id               text        NOT NULL,
    session_id            text        NOT NULL,
    family_id             text        NOT NULL,
    redirect_uri          text        NOT NULL,
    scope                 text        NOT NULL,
    nonce                 text,
    code_challenge        text,
    code_challenge_method text,
    auth_time             timestamptz NOT NULL,
    expires_at            timestamptz NOT NULL,
    used_at               timestamptz
);

CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,
    family_id  text        NOT NULL,
    client_id  text        NOT NULL,
    user_id    text        NOT NULL,
    session_id text        NOT NULL,
    scope      text        NOT NULL,
    auth_time  timestamptz NOT NULL,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Issued JWT access tokens, for introspection and revocation (RFC 7662, RFC 7009).
CREATE TABLE access_tokens (
    jti        text PRIMARY KEY,
    client_id  text        NOT NULL,
    user_id    text,
    session_id text,
    family_id  text,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_session ON access_tokens (session_id);

CREATE TABLE login_attempts (
    id         bigserial PRIMARY KEY,
    identifier text        NOT NULL,
    ip         text,
    user_id    text,
    succeeded  boolean     NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_identifier ON login_attempts (identifier, at);
CREATE INDEX login_attempts_ip ON login_attempts (ip, at);
CREATE INDEX login_attempts_user ON login_attempts (user_id, at);

-- OIDC Back-Channel Logout 1.0 deliveries, retried with backoff; survives restarts.
CREATE TABLE backchannel_deliveries (
    id           bigserial PRIMARY KEY,
    client_id    text        NOT NULL,
    uri          text        NOT NULL,
    claims       jsonb       NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now(),
    last_error   text,
    delivered_at timestamptz,
    failed_at    timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX backchannel_pending ON backchannel_deliveries (next_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
