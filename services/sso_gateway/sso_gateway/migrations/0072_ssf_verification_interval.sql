-- When a receiver last asked for a verification event (SSF 1.0 §8.1.4.2): asked again before
-- the stream's min_verification_interval, it is answered 429.
ALTER TABLE ssf_streams ADD COLUMN verification_requested_at timestamptz;
