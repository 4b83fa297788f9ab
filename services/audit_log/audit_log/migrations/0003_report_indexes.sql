-- The suspension-campaign report follows each reminded debt to its settlement and suspension:
-- one index probe per debt instead of a scan of every later billing/access event.
CREATE INDEX log_entries_debt ON log_entries ((facets->>'debt_id'), type, time);
CREATE INDEX log_entries_debts ON log_entries USING gin ((facets->'debt_ids'))
    WITH (fastupdate = off);
