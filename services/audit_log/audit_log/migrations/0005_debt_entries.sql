-- The suspension-campaign report follows each reminded debt to its suspension, settlement,
-- exemption and restoration. Billing events name their debt in `facets.debt_id`, access events
-- name theirs in the array `facets.debt_ids`. 0003 indexed both inside `facets` (a B-tree on
-- the expression, a GIN index on the array), but the planner cannot estimate a GIN probe whose
-- key comes from a join (it assumes 1 % of the log): at 10 million entries it AND-ed each probe
-- with the bitmap of every entry after the reminder, and one day of reminders took minutes.
-- One row per (debt, entry) makes every step of the report a B-tree probe with real
-- statistics. The rows are derived from the log by a trigger, so no writer can forget them;
-- they are as append-only as the entries they point to.
CREATE TABLE debt_entries (
    debt_id    text        NOT NULL,
    type       text        NOT NULL,
    time       timestamptz NOT NULL,
    leaf_index bigint      NOT NULL,
    PRIMARY KEY (debt_id, type, time, leaf_index)
);
CREATE TRIGGER debt_entries_append_only BEFORE UPDATE OR DELETE ON debt_entries
    FOR EACH ROW EXECUTE FUNCTION log_append_only();

-- The debts an entry names: its `debt_id` and the strings of its `debt_ids` (a malformed facet
-- names nothing rather than failing the ingestion of the whole part).
CREATE FUNCTION named_debts(facets jsonb) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT facets->>'debt_id' WHERE jsonb_typeof(facets->'debt_id') = 'string'
    UNION
    SELECT d FROM jsonb_array_elements_text(
        CASE WHEN jsonb_typeof(facets->'debt_ids') = 'array' THEN facets->'debt_ids' END) AS d
    WHERE d IS NOT NULL
$$;

-- One statement-level trigger per INSERT or COPY (the ingestion writes parts of 500 leaves),
-- reading the inserted rows from the transition table.
CREATE FUNCTION index_debt_entries() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO debt_entries (debt_id, type, time, leaf_index)
    SELECT d.debt_id, n.type, n.time, n.leaf_index
    FROM new_entries n CROSS JOIN LATERAL named_debts(n.facets) AS d(debt_id)
    WHERE n.facets ?| ARRAY['debt_id', 'debt_ids'];
    RETURN NULL;
END $$;
CREATE TRIGGER log_entries_debt_entries AFTER INSERT ON log_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION index_debt_entries();

INSERT INTO debt_entries (debt_id, type, time, leaf_index)
SELECT d.debt_id, e.type, e.time, e.leaf_index
FROM log_entries e CROSS JOIN LATERAL named_debts(e.facets) AS d(debt_id)
WHERE e.facets ?| ARRAY['debt_id', 'debt_ids'];
-- Statistics now, not at autovacuum's next pass: without them the planner guesses the probes'
-- selectivity and the report is several times slower (0.9 s instead of 0.14 s at 3 million).
ANALYZE debt_entries;

DROP INDEX log_entries_debt;
DROP INDEX log_entries_debts;
