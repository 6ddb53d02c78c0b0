//! A missing rule snapshot is loud: when the spool has a committed position but
//! `alert-engine.json` is missing or unreadable, the rule state that covered the committed
//! records is gone (open alerts, durations in progress, delivery state). weijian then warns,
//! counts it (`weijian_rule_snapshot_missing_total`), and rebuilds what it can: the reader is
//! moved back to the oldest record the spool still holds, so the engine is fed again from
//! there (rows written again are deduplicated by QuestDB; alerts re-fired carry the same ids).
//! Alerts opened by records already deleted from the spool cannot be rebuilt; the warning
//! says from which record on the state was rebuilt.

use crate::durability::StorageHealth;
use crate::spool::SpoolReader;

use super::AlertStage;

/// What the snapshot file held when the stage was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    Restored,
    Missing,
    Unreadable(String),
}

impl AlertStage {
    /// Checks the snapshot found at open against the spool's committed position and, when the
    /// snapshot is missing but records were committed, rebuilds the rule state from the oldest
    /// record the spool still holds (see the module doc). Returns the sequence number the
    /// rebuild starts at, if one was started. Call once, before the first read.
    pub fn rebuild_if_snapshot_lost(
        &mut self,
        reader: &mut SpoolReader,
        storage: &StorageHealth,
    ) -> Option<u64> {
        let why = match std::mem::replace(&mut self.found, Found::Restored) {
            Found::Restored => return None,
            Found::Missing => "missing".to_string(),
            Found::Unreadable(error) => format!("unreadable ({error})"),
        };
        let committed = reader.committed()?;
        storage.snapshot_missing();
        let from = reader.rewind_to_oldest();
        match from {
            Some(from) => tracing::warn!(
                path = %self.snapshot_path.display(),
                committed = committed.seq(),
                rebuild_from = from,
                "The alert engine's snapshot is {why} although the spool was committed up to #{}: open alerts and durations in progress were lost with it. Rebuilding them from the records the spool still holds (#{from} on); alerts opened before #{from} cannot be restored, and their notices may be sent again.",
                committed.seq()
            ),
            None => tracing::warn!(
                path = %self.snapshot_path.display(),
                committed = committed.seq(),
                "The alert engine's snapshot is {why} although the spool was committed up to #{}, and the spool holds none of the committed records: open alerts and durations in progress are lost; rules start afresh.",
                committed.seq()
            ),
        }
        from
    }
}
