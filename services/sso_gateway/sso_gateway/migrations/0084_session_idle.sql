-- When a session was last used: its cookie presented at /authorize or the gateway's pages.
-- Written coarsely (only when the stored value is older than a tenth of session_idle_ttl), so
-- a page view costs no write; a refresh grant is a use too, read from the refresh token row its
-- rotation writes anyway (refresh_tokens.issued_at). Sessions open now start their idle clock
-- at this migration.
ALTER TABLE sessions ADD COLUMN last_used_at timestamptz NOT NULL DEFAULT now();
-- Why it ended (logout, suspension, erasure, password_change, expiry, idle...), beside
-- revoked_at (when): every end, an expiry included, is one such mark, written in the
-- transaction that revokes its tokens and queues its back-channel logouts (OIDC Back-Channel
-- Logout 1.0 §2.5), its SETs and its event.
ALTER TABLE sessions ADD COLUMN end_reason text;

-- The sweep looks for live sessions past their absolute or idle end.
DROP INDEX sessions_expiring;
CREATE INDEX sessions_live_expiry ON sessions (expires_at) WHERE revoked_at IS NULL;
CREATE INDEX sessions_live_last_use ON sessions (last_used_at) WHERE revoked_at IS NULL;
-- The refresh grants of a session, newest first, for its last use.
CREATE INDEX refresh_tokens_session_issued ON refresh_tokens (session_id, issued_at);
DROP INDEX refresh_tokens_session;

-- Expiries reported before this migration (expiry_reported_at, no longer written) went to
-- Shared Signals receivers only; they are ended now without a late back-channel logout for a session long gone, and the tokens they
-- left live are revoked, as an end of session revokes them.
UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND session_id IN
    (SELECT id FROM sessions WHERE revoked_at IS NULL AND expiry_reported_at IS NOT NULL);
UPDATE access_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND session_id IN
    (SELECT id FROM sessions WHERE revoked_at IS NULL AND expiry_reported_at IS NOT NULL);
UPDATE sessions SET revoked_at = expiry_reported_at, end_reason = 'expiry'
    WHERE revoked_at IS NULL AND expiry_reported_at IS NOT NULL;
