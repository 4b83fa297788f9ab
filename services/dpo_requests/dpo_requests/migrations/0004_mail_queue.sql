-- outgoing_emails becomes the durable mail queue: a message is queued in the transaction of
-- what it tells (a code "sent" iff stored), then delivered by notifications.sender, which
-- claims due rows with FOR UPDATE SKIP LOCKED under a lease and records the result after the
-- SMTP transaction. Delivery is at least once; the Message-ID fixed here at queueing lets a
-- receiving MTA drop a repeat (RFC 5322 §3.6.4).
ALTER TABLE outgoing_emails
    ADD COLUMN message_id      text,
    ADD COLUMN lang            text        NOT NULL DEFAULT 'fr' CHECK (lang IN ('fr', 'en')),
    ADD COLUMN status          text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'logged', 'failed')),
    ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN claimed_until   timestamptz,
    ADD COLUMN sent_at         timestamptz,
    ADD COLUMN last_error      text;

-- Messages stored by the development transport before this migration were never meant to
-- leave: they are not sent now.
UPDATE outgoing_emails
   SET message_id = '<vigie-dpo-legacy-' || id || '@vigie.invalid>', status = 'logged'
 WHERE message_id IS NULL;
ALTER TABLE outgoing_emails ALTER COLUMN message_id SET NOT NULL;
CREATE UNIQUE INDEX outgoing_emails_message_id ON outgoing_emails (message_id);
CREATE INDEX outgoing_emails_due ON outgoing_emails (next_attempt_at) WHERE status = 'pending';
