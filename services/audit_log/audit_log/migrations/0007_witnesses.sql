-- Witnesses (c2sp.org/tlog-witness): the tree size each configured witness last accepted from
-- this log (the "old" size of the next add-checkpoint), and the cosignatures
-- (c2sp.org/tlog-cosignature) they returned for each checkpoint, as their note signature lines.
CREATE TABLE witness_sizes (
    witness   text   PRIMARY KEY,
    tree_size bigint NOT NULL CHECK (tree_size >= 0)
);

CREATE TABLE cosignatures (
    checkpoint_id bigint      NOT NULL REFERENCES checkpoints (id),
    witness       text        NOT NULL,
    signed_at     timestamptz NOT NULL,
    line          text        NOT NULL,
    PRIMARY KEY (checkpoint_id, witness)
);
