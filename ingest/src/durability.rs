//! Whether weijian can make things durable right now: the spool (appends and commits), the
//! notice outbox and the rule snapshot each report a failed or a successful write here;
//! `/readyz` lists what is failing and why, and `weijian_storage_writable{store}` is 0 while
//! a store cannot write.
//!
//! A store that fails keeps retrying on its own (the spool writer with back-off, commits and
//! snapshots on the drain's next pass): the condition clears with the first write that
//! succeeds, without a restart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Metric names.
pub mod names {
    /// 1 while a store can make data durable, 0 while its writes fail (label `store`).
    pub const STORAGE_WRITABLE: &str = "weijian_storage_writable";
    /// Failed durable writes, by store and operation.
    pub const STORAGE_WRITE_ERRORS_TOTAL: &str = "weijian_storage_write_errors_total";
    /// Starts that found a committed spool position but no readable rule snapshot.
    pub const RULE_SNAPSHOT_MISSING_TOTAL: &str = "weijian_rule_snapshot_missing_total";
}

/// Something weijian writes durably.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DurableStore {
    /// The message spool (appends, commits).
    Spool,
    /// The notice outbox.
    Outbox,
    /// The rule engine's snapshot (`alert-engine.json`).
    RuleSnapshot,
}

impl DurableStore {
    /// Every store, in label order.
    pub const ALL: [DurableStore; 3] = [
        DurableStore::Spool,
        DurableStore::Outbox,
        DurableStore::RuleSnapshot,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            DurableStore::Spool => "spool",
            DurableStore::Outbox => "outbox",
            DurableStore::RuleSnapshot => "rule_snapshot",
        }
    }
}

#[derive(Debug, Clone)]
struct StorageMetrics {
    writable: IntGaugeVec,
    errors: IntCounterVec,
    snapshot_missing: IntCounter,
}

/// The durability state every store reports into (shared; see the module doc).
#[derive(Debug, Default)]
pub struct StorageHealth {
    /// `(store, operation) -> the last error`, for operations failing now.
    failing: Mutex<BTreeMap<(DurableStore, &'static str), String>>,
    metrics: OnceLock<StorageMetrics>,
    snapshots_missing: std::sync::atomic::AtomicU64,
}

impl StorageHealth {
    /// Registers the metrics in `registry` (once; later calls do nothing).
    ///
    /// # Errors
    /// A metric of the same name is already registered.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        if self.metrics.get().is_some() {
            return Ok(());
        }
        let m = StorageMetrics {
            writable: IntGaugeVec::new(
                Opts::new(
                    names::STORAGE_WRITABLE,
                    "1 while the store can make data durable, 0 while its writes fail (disk full, I/O errors).",
                ),
                &["store"],
            )?,
            errors: IntCounterVec::new(
                Opts::new(
                    names::STORAGE_WRITE_ERRORS_TOTAL,
                    "Failed durable writes (each retried), by store and operation.",
                ),
                &["store", "op"],
            )?,
            snapshot_missing: IntCounter::new(
                names::RULE_SNAPSHOT_MISSING_TOTAL,
                "Starts with a committed spool position but no readable rule snapshot (open alerts rebuilt from the spool).",
            )?,
        };
        registry.register(Box::new(m.writable.clone()))?;
        registry.register(Box::new(m.errors.clone()))?;
        registry.register(Box::new(m.snapshot_missing.clone()))?;
        let _ = self.metrics.set(m);
        for store in DurableStore::ALL {
            self.publish(store);
        }
        Ok(())
    }

    /// Records that `op` on `store` failed with `error`. Returns whether it was working before
    /// (so the caller logs the transition once).
    pub fn failed(
        &self,
        store: DurableStore,
        op: &'static str,
        error: &dyn std::fmt::Display,
    ) -> bool {
        let newly = self.lock().insert((store, op), error.to_string()).is_none();
        if let Some(m) = self.metrics.get() {
            m.errors.with_label_values(&[store.as_str(), op]).inc();
        }
        self.publish(store);
        newly
    }

    /// Records that `op` on `store` succeeded. Returns whether it was failing before.
    pub fn recovered(&self, store: DurableStore, op: &'static str) -> bool {
        let was = self.lock().remove(&(store, op)).is_some();
        if was {
            self.publish(store);
        }
        was
    }

    /// Whether every operation of `store` works.
    pub fn is_writable(&self, store: DurableStore) -> bool {
        !self.lock().keys().any(|(s, _)| *s == store)
    }

    /// What is failing, one sentence each (for `/readyz`).
    pub fn reasons(&self) -> Vec<String> {
        self.lock()
            .iter()
            .map(|((store, op), error)| {
                format!(
                    "the {} cannot {op} ({error}): {}",
                    store.as_str(),
                    consequence(*store, op)
                )
            })
            .collect()
    }

    /// Counts a start with a committed position but no rule snapshot.
    pub fn snapshot_missing(&self) {
        self.snapshots_missing
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(m) = self.metrics.get() {
            m.snapshot_missing.inc();
        }
    }

    /// Starts counted by [`StorageHealth::snapshot_missing`].
    pub fn snapshots_missing(&self) -> u64 {
        self.snapshots_missing
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn publish(&self, store: DurableStore) {
        if let Some(m) = self.metrics.get() {
            m.writable
                .with_label_values(&[store.as_str()])
                .set(i64::from(self.is_writable(store)));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(DurableStore, &'static str), String>> {
        self.failing.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a failing operation holds up, for the operator reading `/readyz`.
fn consequence(store: DurableStore, op: &str) -> &'static str {
    match (store, op) {
        (DurableStore::Spool, "append") => {
            "messages are not acknowledged (the broker keeps them) until it can"
        }
        (DurableStore::Spool, _) => "spool space is not freed until it can",
        (DurableStore::Outbox, _) => {
            "notices wait, and the spool is not committed past their causes until it can"
        }
        (DurableStore::RuleSnapshot, _) => {
            "the spool is not committed past the last saved rule state until it can"
        }
    }
}

/// One store's handle on the shared [`StorageHealth`].
#[derive(Debug, Clone)]
pub struct StorageReporter {
    health: Arc<StorageHealth>,
    store: DurableStore,
}

impl StorageReporter {
    /// Reports for `store` into `health`.
    pub fn new(health: Arc<StorageHealth>, store: DurableStore) -> Self {
        Self { health, store }
    }

    /// A reporter into a health state of its own (tests, tools).
    pub fn detached(store: DurableStore) -> Self {
        Self::new(Arc::new(StorageHealth::default()), store)
    }

    /// The store reported for.
    pub fn store(&self) -> DurableStore {
        self.store
    }

    /// The shared state.
    pub fn health(&self) -> &Arc<StorageHealth> {
        &self.health
    }

    /// See [`StorageHealth::failed`].
    pub fn failed(&self, op: &'static str, error: &dyn std::fmt::Display) -> bool {
        self.health.failed(self.store, op, error)
    }

    /// See [`StorageHealth::recovered`].
    pub fn recovered(&self, op: &'static str) -> bool {
        self.health.recovered(self.store, op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_shows_in_the_reasons_and_the_gauge_until_the_store_recovers() {
        let registry = Registry::new();
        let health = Arc::new(StorageHealth::default());
        health.register(&registry).unwrap();
        let text = || {
            prometheus::TextEncoder::new()
                .encode_to_string(&registry.gather())
                .unwrap()
        };
        assert!(text().contains("weijian_storage_writable{store=\"spool\"} 1"));
        let spool = StorageReporter::new(health.clone(), DurableStore::Spool);
        assert!(spool.failed("append", &"No space left on device"));
        assert!(!spool.failed("append", &"No space left on device"));
        assert!(!health.is_writable(DurableStore::Spool));
        assert!(health.is_writable(DurableStore::Outbox));
        let reasons = health.reasons();
        assert_eq!(reasons.len(), 1);
        assert!(reasons[0].contains("spool cannot append (No space left on device)"));
        assert!(text().contains("weijian_storage_writable{store=\"spool\"} 0"));
        assert!(
            text().contains("weijian_storage_write_errors_total{op=\"append\",store=\"spool\"} 2")
        );
        assert!(spool.recovered("append"));
        assert!(health.reasons().is_empty());
        assert!(text().contains("weijian_storage_writable{store=\"spool\"} 1"));
    }
}
