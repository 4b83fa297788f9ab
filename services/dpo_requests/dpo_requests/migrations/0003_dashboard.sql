-- Paris calendar dates of receipt and closing, stored. GDPR periods run on Paris days
-- (deadlines.rules), and converting every timestamp at each dashboard read was most of its
-- cost at 100,000 requests (bench/bench_dpo.py). timezone(text, timestamptz) is immutable for
-- PostgreSQL: a change of France's time-zone rules would need these recomputed (UPDATE ...
-- SET received_at = received_at).
ALTER TABLE requests
    ADD COLUMN received_on date
        GENERATED ALWAYS AS ((received_at AT TIME ZONE 'Europe/Paris')::date) STORED,
    ADD COLUMN closed_on date
        GENERATED ALWAYS AS ((closed_at AT TIME ZONE 'Europe/Paris')::date) STORED;

-- The dashboard reads covering indexes only (index-only scans): open requests by status and
-- type with their deadlines; answered ones by closing day with what closing times need; the
-- receipt days for the volume per month; every status for the gauges.
CREATE INDEX requests_open ON requests (status) INCLUDE (id, request_type, due_on, extended_on)
    WHERE status IN ('received', 'identity_pending', 'in_progress');
CREATE INDEX requests_answered ON requests (closed_on) INCLUDE (received_on, due_on)
    WHERE status IN ('completed', 'refused');
CREATE INDEX requests_received_on ON requests (received_on);
CREATE INDEX requests_status ON requests (status);

-- Stuck tasks per data system: only unfinished tasks, a small set even when the tasks table
-- holds every request's history.
CREATE INDEX tasks_unfinished ON tasks (requested_at) INCLUDE (request_id, system, manual, status)
    WHERE status <> 'completed';

-- A request's clock suspensions (its deadline, the register export): only the open one was
-- indexed so far.
CREATE INDEX request_suspensions_request ON request_suspensions (request_id, asked_at);
