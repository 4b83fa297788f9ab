-- RFC 8707 resource indicators for a person's grants: the resource named at /authorize is kept
-- with the code, then with each refresh token of the grant, so that the grant's access tokens
-- can name it in `aud` and no other (§2.2). NULL: the client itself, as before.
ALTER TABLE authorization_codes ADD COLUMN resource text;
ALTER TABLE refresh_tokens ADD COLUMN resource text;
