//! Taking a reloaded registry (SIGHUP, `weijian_service::reload`) into the drain: the
//! validator and the rule stage (with the risk index) switch to it between two batches, so
//! every message is validated and evaluated wholly by the old or wholly by the new registry.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::Drain;
use crate::alerts::RegistrySwap;
use crate::config::Registry;

/// A reloaded registry for the drain, and where to report what the swap dropped (the
/// reloader waits for it, so the messages published after a reload are judged by it).
#[derive(Debug)]
pub struct RegistryUpdate {
    pub registry: Arc<Registry>,
    pub done: std::sync::mpsc::Sender<RegistrySwap>,
}

impl Drain {
    /// Takes reloaded registries from `updates`: each is applied between two batches, so
    /// every message is validated and evaluated wholly by the old or wholly by the new one.
    #[must_use]
    pub fn with_registry_updates(
        mut self,
        updates: mpsc::UnboundedReceiver<RegistryUpdate>,
    ) -> Self {
        self.registry_updates = Some(updates);
        self
    }

    /// Applies the registries reloaded since the last batch to the validator and the rule
    /// stage (with the risk index).
    pub(super) fn apply_registry_updates(&mut self) {
        while let Some(Ok(RegistryUpdate { registry, done })) = self
            .registry_updates
            .as_mut()
            .map(mpsc::UnboundedReceiver::try_recv)
        {
            self.validator.set_registry(registry.clone());
            let swap = self.alerts.set_registry(&registry);
            self.refresh_alert_gauges();
            // The reloader may have given up waiting; it logged that.
            let _ = done.send(swap);
        }
    }
}
