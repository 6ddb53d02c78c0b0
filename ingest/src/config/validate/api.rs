//! Validation of `[api]`: every limit at least 1.

use std::time::Duration;

use super::super::api::ApiSettings;
use super::super::raw;
use super::Validator;

impl Validator<'_> {
    pub(super) fn api(&mut self, a: raw::RawApi) -> ApiSettings {
        for (value, key) in [
            (&a.max_uri_bytes, "api.max_uri_bytes"),
            (&a.max_body_bytes, "api.max_body_bytes"),
            (
                &a.refusal_audit_interval_secs,
                "api.refusal_audit_interval_secs",
            ),
            (&a.refusal_audit_remotes, "api.refusal_audit_remotes"),
            (&a.max_silence_hours, "api.max_silence_hours"),
            (
                &a.max_silences_per_supervisor,
                "api.max_silences_per_supervisor",
            ),
        ] {
            if *value.get_ref() == 0 {
                self.err(value, key, "must be at least 1");
            }
        }
        let size = |v: u64| usize::try_from(v.max(1)).unwrap_or(usize::MAX);
        ApiSettings {
            max_uri_bytes: size(a.max_uri_bytes.into_inner()),
            max_body_bytes: size(a.max_body_bytes.into_inner()),
            refusal_audit_interval: Duration::from_secs(
                a.refusal_audit_interval_secs.into_inner().max(1),
            ),
            refusal_audit_remotes: size(a.refusal_audit_remotes.into_inner()),
            max_silence: Duration::from_secs(
                a.max_silence_hours.into_inner().max(1).saturating_mul(3600),
            ),
            max_silences_per_supervisor: size(a.max_silences_per_supervisor.into_inner()),
        }
    }
}
