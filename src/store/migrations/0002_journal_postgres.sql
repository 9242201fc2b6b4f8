-- The journal (outbox): one entry per change, written in the change's transaction.
CREATE TABLE journal (
    seq         BIGSERIAL PRIMARY KEY,
    provider    TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    resource_id TEXT    NOT NULL,
    op          TEXT    NOT NULL,   -- 'upsert' | 'delete' | 'members'
    body        TEXT    NOT NULL,   -- JSON
    at          TEXT    NOT NULL
);
CREATE INDEX journal_provider_seq ON journal (provider, seq);
