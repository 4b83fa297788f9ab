-- GDPR Art. 18: a restricted account is kept but not used (no login) until the restriction ends.
ALTER TABLE users ADD COLUMN restricted_at timestamptz;
