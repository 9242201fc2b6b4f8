-- Reconcile progress: each target's journal cursor, and the changes it refused for good.
CREATE TABLE target_cursors (
    provider TEXT   NOT NULL,
    target   TEXT   NOT NULL,
    seq      BIGINT NOT NULL,
    updated  TEXT   NOT NULL,
    PRIMARY KEY (provider, target)
);
CREATE TABLE parked (
    provider    TEXT NOT NULL,
    target      TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    change      TEXT NOT NULL,
    error       TEXT NOT NULL,
    parked_at   TEXT NOT NULL,
    PRIMARY KEY (provider, target, resource_id)
);
