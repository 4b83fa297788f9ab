-- Tokens the gateway revoked, refused here until they would have expired anyway: access tokens
-- are checked locally (RFC 9068 signatures), so without this a token revoked at the gateway
-- stays good here for the rest of its lifetime. key: 'jti:<jti>' (one token, from
-- vigie.sso.token.revoked) or 'sid:<sid>' (every token of an SSO session, from
-- vigie.sso.session.revoked). Rows past ``until`` deny nothing and are purged.
CREATE TABLE denied_tokens (
    key text PRIMARY KEY,
    until timestamptz NOT NULL
);
CREATE INDEX denied_tokens_until ON denied_tokens (until);
