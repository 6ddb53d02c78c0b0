//! The waste stores' ledger summaries as the supervisors' API sees them: the drain's alert
//! stage publishes a store's summary whenever its ledger changes (an accepted `bag_in`,
//! `handover` or `disinfection`, or a handover judged at a tick), and the API reads it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use alerting::waste::LedgerSummary;

/// Shared, cloneable board of ledger summaries by site id.
#[derive(Debug, Clone, Default)]
pub struct WasteBoard {
    inner: Arc<Mutex<BTreeMap<String, LedgerSummary>>>,
}

impl WasteBoard {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, LedgerSummary>> {
        // A panic while holding this lock cannot leave a summary half-written (plain inserts).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes the summary of `site`.
    pub fn set(&self, site: &str, summary: LedgerSummary) {
        self.lock().insert(site.to_owned(), summary);
    }

    /// The latest summary of `site`, if its ledger has been seen.
    pub fn get(&self, site: &str) -> Option<LedgerSummary> {
        self.lock().get(site).cloned()
    }

    /// Sites whose ledger has handovers waiting for late `bag_in`s (judged at ticks).
    pub fn with_pending(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, s)| s.pending_handovers > 0)
            .map(|(k, _)| k.clone())
            .collect()
    }
}
