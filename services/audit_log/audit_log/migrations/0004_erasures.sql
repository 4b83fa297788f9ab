-- Erasures per data subject (GDPR Art. 17), kept even when the subject had no key to destroy:
-- an event about the subject dated before the erasure but ingested after it (the ingestion
-- consumer lags the DPO task consumer) is sealed under a throwaway key that is never stored,
-- so it is unreadable from the start. One row per erasure request (``reason`` names it), so a
-- replayed task keeps the time of its first run.
CREATE TABLE erasures (
    data_subject text        NOT NULL,
    reason       text        NOT NULL,
    erased_at    timestamptz NOT NULL,
    PRIMARY KEY (data_subject, reason)
);
