-- Version 5 rebuilds the PostgreSQL id index in code point order. SQLite's BINARY
-- collation already is that order: nothing to do here, the version keeps both engines'
-- numbering in step.
SELECT 1;
