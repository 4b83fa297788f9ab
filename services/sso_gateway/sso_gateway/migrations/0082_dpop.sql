-- RFC 9449 §11.1: the DPoP proofs the token and UserInfo endpoints accepted, so that a proof
-- is used once across both replicas. The (jkt, jti) pair is stored as a keyed hash only (one
-- fixed-length key, nothing a client sent kept verbatim); a row is needed while its proof
-- could still be accepted (expires_at) and is deleted after by a periodic job, so the table
-- holds at most a window's worth of proofs.
CREATE TABLE dpop_proofs (
    proof_hash text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX dpop_proofs_expires_at ON dpop_proofs (expires_at);

-- RFC 9449 §5.0, §5.8: a public client's refresh token is bound to the key (its RFC 7638
-- thumbprint) that the grant was made with; each rotation keeps it. NULL: not bound (a
-- confidential client authenticates instead, or no proof came with the grant).
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt text;
