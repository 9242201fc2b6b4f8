//! The LDAP target's one integration-test binary: the shared conformance
//! suite and the LDAP-specific tests, each against its own slapd (skipped
//! with a line when slapd is not installed, unless
//! `SCIMD_TEST_REQUIRE_SERVICES=1`).

mod conformance;
mod directory;
mod ldap_specific;
mod posix;
