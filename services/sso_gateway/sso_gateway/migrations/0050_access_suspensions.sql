-- Access governance: learners' debts as reported by the accounting system, and each learner's
-- access state. A debt row gathers the facts of one debt whatever order its events arrive in.
CREATE TABLE debts (
    debt_id             text PRIMARY KEY,
    learner_id          text        NOT NULL,
    channel             text,
    amount              numeric(12, 2),
    reminded_at         timestamptz,
    grace_days          integer     NOT NULL DEFAULT 8 CHECK (grace_days >= 0),
    suspend_at          timestamptz,
    settled_at          timestamptz,
    schedule_announced  boolean     NOT NULL DEFAULT false,
    cancel_announced    boolean     NOT NULL DEFAULT false,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX debts_learner ON debts (learner_id);
CREATE INDEX debts_due ON debts (suspend_at) WHERE settled_at IS NULL AND suspend_at IS NOT NULL;

CREATE TABLE access_states (
    learner_id        text PRIMARY KEY,
    suspended         boolean     NOT NULL DEFAULT false,
    changed_at        timestamptz NOT NULL DEFAULT now(),
    reason            text,
    debt_ids          text[]      NOT NULL DEFAULT '{}',
    manual_suspended  boolean,
    manual_decided_at timestamptz,
    manual_reason     text,
    manual_actor      text
);
CREATE INDEX access_states_suspended ON access_states (learner_id) WHERE suspended;
