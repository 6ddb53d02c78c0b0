//! Crate-level tests: conditions, rules, restart, normal days, properties.

mod pack;
