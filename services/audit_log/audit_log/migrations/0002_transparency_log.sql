-- The audit log as a transparency log (RFC 6962 / RFC 9162): contiguous leaf indexes 0..n-1,
-- the leaf hash of each entry, every completed perfect-subtree node, the tree's frontier, signed
-- checkpoints, and per-subject data keys for crypto-shredding. See docs/audit-log.md.

-- One row per leaf. Everything in a row except recorded_at is part of the leaf's canonical
-- bytes (audit_log/tree/leaf.py); the personal payload is only present as AES-GCM ciphertext,
-- so destroying its key (subject_keys) never changes the leaf.
CREATE TABLE log_entries (
    leaf_index   bigint      PRIMARY KEY CHECK (leaf_index >= 0),
    event_id     text        NOT NULL UNIQUE,
    topic        text        NOT NULL,
    type         text        NOT NULL,
    source       text        NOT NULL,
    subject      text        NOT NULL,
    actor        text,
    time         timestamptz NOT NULL,
    data_subject text        NOT NULL,
    key_id       bigint      NOT NULL,
    facets       jsonb       NOT NULL,
    data_ct      bytea       NOT NULL,
    leaf_hash    bytea       NOT NULL CHECK (length(leaf_hash) = 32),
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
-- Keyset pagination is on leaf_index; each filter has an index ending with it.
CREATE INDEX log_entries_subject ON log_entries (subject, leaf_index);
CREATE INDEX log_entries_data_subject ON log_entries (data_subject, leaf_index);
CREATE INDEX log_entries_actor ON log_entries (actor, leaf_index) WHERE actor IS NOT NULL;
CREATE INDEX log_entries_type ON log_entries (type, leaf_index);
CREATE INDEX log_entries_source ON log_entries (source, leaf_index);
CREATE INDEX log_entries_time ON log_entries (time, leaf_index);
CREATE INDEX log_entries_key ON log_entries (key_id);

CREATE FUNCTION log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (%)', TG_TABLE_NAME;
END $$;
CREATE TRIGGER log_entries_append_only BEFORE UPDATE OR DELETE ON log_entries
    FOR EACH ROW EXECUTE FUNCTION log_append_only();

-- Perfect subtree nodes of height >= 1: (level, idx) is MTH(D[idx*2^level : (idx+1)*2^level])
-- (RFC 6962 §2.1); level 0 is log_entries.leaf_hash. Any proof is O(log n) lookups here.
CREATE TABLE tree_nodes (
    level smallint NOT NULL CHECK (level >= 1),
    idx   bigint   NOT NULL,
    hash  bytea    NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TRIGGER tree_nodes_append_only BEFORE UPDATE OR DELETE ON tree_nodes
    FOR EACH ROW EXECUTE FUNCTION log_append_only();

-- The single writer's lock and the accumulator frontier (MerkleAccumulator.to_state), updated in
-- the transaction that appends the leaves.
CREATE TABLE tree_state (
    id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
    size       bigint      NOT NULL,
    frontier   jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tree_state (size, frontier) VALUES (0, '{"size": 0, "hashes": []}');

-- Ed25519 checkpoint keys; the private half encrypted at rest under VIGIE_SECRET_KEY.
CREATE TABLE signing_keys (
    id             bigserial   PRIMARY KEY,
    name           text        NOT NULL,
    public_key     bytea       NOT NULL,
    private_key_ct bytea       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Signed tree heads (C2SP signed note of a tlog-checkpoint).
CREATE TABLE checkpoints (
    id        bigserial   PRIMARY KEY,
    tree_size bigint      NOT NULL,
    root_hash bytea       NOT NULL,
    issued_at timestamptz NOT NULL,
    key_id    bigint      NOT NULL REFERENCES signing_keys (id),
    note      text        NOT NULL
);
CREATE INDEX checkpoints_size ON checkpoints (tree_size, id);

-- Per (data subject, topic, month) data keys, wrapped under VIGIE_SECRET_KEY. Deleting a row
-- crypto-shreds every entry sealed with it: erasure (GDPR Art. 17) and retention both do that.
CREATE TABLE subject_keys (
    id           bigserial   PRIMARY KEY,
    data_subject text        NOT NULL,
    topic        text        NOT NULL,
    period       date        NOT NULL,
    wrapped_key  bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (data_subject, topic, period)
);
CREATE INDEX subject_keys_period ON subject_keys (period);

-- What was shredded, when and why (no key material): the proof that erasure happened.
CREATE TABLE shredded_keys (
    key_id       bigint      PRIMARY KEY,
    data_subject text        NOT NULL,
    topic        text        NOT NULL,
    period       date        NOT NULL,
    reason       text        NOT NULL,
    shredded_at  timestamptz NOT NULL DEFAULT now()
);

-- Rows of the 0001 table predate the tree: the service adopts them into it at start-up (in
-- position order) and then removes their clear-text copy, which its old guard forbade.
DROP TRIGGER entries_append_only ON entries;
