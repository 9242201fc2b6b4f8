-- List pages are ordered by id in code point order (`id COLLATE "C"`, the order Rust and
-- SQLite use); an index in the database's own collation cannot serve that ORDER BY, so
-- every page sorted all of a provider's resources. Rebuild it in that order.
DROP INDEX resources_kind_id;
CREATE INDEX resources_kind_id ON resources (provider, kind, id COLLATE "C");
