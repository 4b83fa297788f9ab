CREATE TABLE users (
    id            text PRIMARY KEY,
    email         text        NOT NULL,
    display_name  text        NOT NULL,
    password_hash text        NOT NULL,
    roles         text[]      NOT NULL DEFAULT '{learner}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- Relying parties (platforms). training_platform = false keeps a client reachable during a
-- suspension (payment page, DPO request pages).
CREATE TABLE clients (
    client_id         text PRIMARY KEY,
    name              text        NOT NULL,
    redirect_uris     text[]      NOT NULL DEFAULT '{}',
    training_platform boolean     NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now()
);
