//! Durable spool (in progress on the spool branch).
