-- Dead letters: one row per record a consumer group gave up on (ARCHITECTURE.md, Delivery). The
-- row is claimed before the copy is sent to `<topic>.dlq` and marked once the broker has it, so a
-- redelivery of the same record finds it and sends no second copy. A record is known by its
-- place in the log and the hash of its value: an embedded broker that lost its log hands out the
-- same offsets again, to other records, and those are other dead letters.
CREATE TABLE dead_letters (
    id            bigserial   PRIMARY KEY,
    consumer      text        NOT NULL,
    topic         text        NOT NULL,
    partition     integer     NOT NULL,
    kafka_offset  bigint      NOT NULL,
    sha256        bytea       NOT NULL,
    size          integer     NOT NULL,
    event_id      text,
    key           bytea,
    -- Names as bytes too: a hostile record's header names are not text PostgreSQL accepts.
    header_names  bytea[]     NOT NULL,
    header_values bytea[]     NOT NULL,
    value         bytea,
    complete      boolean     NOT NULL,
    head          bytea       NOT NULL,
    error         text        NOT NULL,
    reason        text        NOT NULL,
    attempts      integer     NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    copied_as     text        CHECK (copied_as IN ('whole', 'record', 'none')),
    copied_at     timestamptz,
    dlq_partition integer,
    dlq_offset    bigint,
    copy_error    text,
    replays       integer     NOT NULL DEFAULT 0,
    replayed_at   timestamptz,
    UNIQUE (consumer, topic, partition, kafka_offset, sha256)
);
CREATE INDEX dead_letters_created ON dead_letters (created_at);
