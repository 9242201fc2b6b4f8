//! LDAP-specific behaviour.
