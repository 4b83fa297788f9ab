-- Submissions without an account are limited per mailbox (not per spelling of it:
-- "Cible+1@example.org" reaches the same person as "cible@example.org") and per client
-- address, so the one-time codes cannot flood anyone's mailbox. The client address is kept
-- only while it counts (an hour), then cleared (GDPR Art. 5(1)(e)).
ALTER TABLE email_submissions ADD COLUMN mailbox text, ADD COLUMN client_ip text;
UPDATE email_submissions SET mailbox = lower(
    regexp_replace(split_part(email, '@', 1), '\+.*$', '') || '@' || split_part(email, '@', 2)
);
ALTER TABLE email_submissions ALTER COLUMN mailbox SET NOT NULL;
CREATE INDEX email_submissions_mailbox ON email_submissions (mailbox, created_at);
CREATE INDEX email_submissions_client_ip ON email_submissions (client_ip, created_at)
    WHERE client_ip IS NOT NULL;
