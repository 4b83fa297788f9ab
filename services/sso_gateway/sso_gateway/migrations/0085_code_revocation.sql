-- When a code's grant was revoked (its reuse detected, RFC 6749 §4.1.2, or the grant revoked
-- later): a token pair being written for that code's exchange is then not written, so that a
-- revocation that comes before the pair is committed covers it too.
ALTER TABLE authorization_codes ADD COLUMN revoked_at timestamptz;
