-- How a platform authenticates at the token endpoint (RFC 7591 §2 token_endpoint_auth_method):
-- NULL keeps what it had before this column (none for a public client, a secret otherwise).
-- private_key_jwt (RFC 7523 §2.2, OIDC Core §9) needs the client's public keys, given by value
-- (jwks) or by reference (jwks_uri); RFC 7591 §2 forbids both at once.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method text
    CHECK (token_endpoint_auth_method IN
        ('none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'));
ALTER TABLE clients ADD COLUMN jwks jsonb;
ALTER TABLE clients ADD COLUMN jwks_uri text;
ALTER TABLE clients ADD CONSTRAINT clients_one_key_source CHECK (jwks IS NULL OR jwks_uri IS NULL);
-- RFC 9126 §6: a client that may only send authorization requests pushed beforehand.
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests boolean NOT NULL
    DEFAULT false;
-- RFC 9449 §5.2 dpop_bound_access_tokens: every access token it gets is bound to a DPoP key.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens boolean NOT NULL DEFAULT false;
-- FAPI 2.0 Security Profile §5.3.2: a confidential client authenticated by private_key_jwt,
-- its requests pushed (PAR) and its tokens sender-constrained (DPoP).
ALTER TABLE clients ADD COLUMN fapi boolean NOT NULL DEFAULT false;
ALTER TABLE clients ADD CONSTRAINT clients_fapi_profile CHECK (NOT fapi OR (
    NOT public
    AND token_endpoint_auth_method = 'private_key_jwt'
    AND require_pushed_authorization_requests
    AND dpop_bound_access_tokens
));
