-- Back-channel logout deliveries are claimed with a lease instead of a row lock held for the
-- whole HTTP POST: a claim pushes next_at to the end of the lease and stamps claim_id; the
-- result is recorded only by the holder of that claim. A replica that dies mid-send leaves a
-- lease that simply expires, and the row is due again for any replica.
ALTER TABLE backchannel_deliveries ADD COLUMN claim_id uuid;
