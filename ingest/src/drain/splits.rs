//! HJ 212 split uploads in the drain: incomplete sets expire on every pass, and the spool is
//! committed no further than the record the oldest incomplete set began in (module docs of
//! `drain`).

use alerting::model::Timestamp;

use super::Drain;
use crate::sink::rows::Row;

impl Drain {
    /// Answers refused MQTT messages on `{prefix}/{site}/{device}/reply` (`[gateway_feedback]`).
    #[must_use]
    pub fn with_feedback(
        mut self,
        settings: crate::config::FeedbackSettings,
        prefix: &str,
    ) -> Self {
        self.feedback = super::feedback::Feedback::new(settings, prefix);
        self
    }

    /// Quarantine rows of the split sets that expired: judged at the latest receive time read
    /// (every part received before it has been read), or by the wall clock once the drain has
    /// caught up with the spool (so a set expires without further traffic).
    pub(super) fn expire_split_uploads(
        &mut self,
        caught_up: bool,
        latest_received: Option<Timestamp>,
    ) -> Vec<Row> {
        let now = if caught_up {
            Some(crate::clock::now())
        } else {
            latest_received
        };
        let Some(now) = now else {
            return Vec::new();
        };
        let expired = self.validator.expire_splits(now);
        for reason in &expired.rejected {
            self.metrics
                .rejected
                .with_label_values(&[reason.code()])
                .inc();
        }
        expired.rows
    }

    /// `upto`, lowered to just before the first part of the oldest incomplete split upload
    /// (`None`: nothing may be committed), so its parts are read again after a restart.
    pub(super) fn split_commit_bound(&self, upto: u64) -> Option<u64> {
        match self.validator.oldest_pending_split() {
            Some(first) => first.checked_sub(1).map(|before| upto.min(before)),
            None => Some(upto),
        }
    }
}
