//! `[api]`: the limits of the supervisors' HTTP API (request sizes, how refused attempts are
//! audited, how long and how many silences). Every default here is a product default, not a
//! standard's number; docs/configuration.md and docs/alert-api.md explain them.

use std::time::Duration;

/// Longest request target (path and query) in bytes: alert ids are under 200 bytes, so a
/// 4 KiB target is never legitimate. Longer is refused with 414 before anything is stored.
pub const DEFAULT_MAX_URI_BYTES: usize = 4096;
/// Largest request body: a silence or a note is under 3 KiB, a draw request a few KiB. Larger
/// is refused with 413 before it is read in full.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Refused attempts (401, 403, 413, 414) are audited once per remote address per interval;
/// the others of the interval are counted into that remote's next row.
pub const DEFAULT_REFUSAL_AUDIT_INTERVAL: Duration = Duration::from_secs(60);
/// Remote addresses audited individually per interval; refusals from further addresses share
/// one row (`remote` = `other`), so a flood from many addresses stays bounded too.
pub const DEFAULT_REFUSAL_AUDIT_REMOTES: usize = 100;
/// Longest silence: three days covers a weekend's maintenance; a longer one is renewed, so a
/// silence can never block escalation for good.
pub const DEFAULT_MAX_SILENCE: Duration = Duration::from_secs(72 * 3600);
/// Silences in force one supervisor may have set.
pub const DEFAULT_MAX_SILENCES_PER_SUPERVISOR: usize = 20;

/// The API's limits, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    pub max_uri_bytes: usize,
    pub max_body_bytes: usize,
    pub refusal_audit_interval: Duration,
    pub refusal_audit_remotes: usize,
    pub max_silence: Duration,
    pub max_silences_per_supervisor: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            max_uri_bytes: DEFAULT_MAX_URI_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            refusal_audit_interval: DEFAULT_REFUSAL_AUDIT_INTERVAL,
            refusal_audit_remotes: DEFAULT_REFUSAL_AUDIT_REMOTES,
            max_silence: DEFAULT_MAX_SILENCE,
            max_silences_per_supervisor: DEFAULT_MAX_SILENCES_PER_SUPERVISOR,
        }
    }
}
