//! The SQL target's one integration-test binary: the shared conformance suite
//! and the SQL-specific tests, on SQLite, PostgreSQL and MariaDB (a fresh
//! database each; skipped with a line when a server is not reachable, unless
//! `SCIMD_TEST_REQUIRE_SERVICES=1`).

mod conformance;
mod db;
mod existing;
mod proxy;
