-- scimd state store, version 1. Runs unchanged on SQLite and PostgreSQL.
-- Resources of every provider; indexed columns for the attributes clients look up.
CREATE TABLE resources (
    provider      TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    kind          TEXT    NOT NULL,   -- 'User' | 'Group'
    name_key      TEXT    NOT NULL,   -- lower-cased userName (User) or displayName (Group)
    external_id   TEXT,
    display       TEXT    NOT NULL,   -- what members[].display / groups[].display show
    data          TEXT    NOT NULL,   -- canonical JSON, without id, meta and members
    version       BIGINT  NOT NULL,
    created       TEXT    NOT NULL,   -- RFC 3339 UTC, fixed width, so text order is time order
    last_modified TEXT    NOT NULL,
    PRIMARY KEY (provider, id)
);
CREATE UNIQUE INDEX resources_name ON resources (provider, kind, name_key);
CREATE UNIQUE INDEX resources_external_id ON resources (provider, kind, external_id);
CREATE INDEX resources_kind_id ON resources (provider, kind, id);

-- Group membership, one row per (group, member): O(k) deltas whatever the group size.
CREATE TABLE members (
    provider    TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    member_kind TEXT NOT NULL,
    PRIMARY KEY (provider, group_id, member_id)
);
CREATE INDEX members_by_member ON members (provider, member_id);
