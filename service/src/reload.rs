//! Reloading the configuration without a restart, on SIGHUP: the whole file is read and
//! validated again (with the supervisors file and the registry files it names; supervisors are
//! checked against the new sites), and applied live:
//!
//! - the supervisors and notice timing are swapped into the running desk, keeping every open
//!   alert, deadline and silence;
//! - the registry (sites and devices): the desk (API, delivery) takes it together with the
//!   supervisors, then the drain takes it between two batches, so every message is validated
//!   and evaluated wholly by the old or wholly by the new registry. The rule engine is rebuilt
//!   from its own snapshot over the new sites and devices: the state of those that stay (open
//!   alerts, pending durations, offline timers) carries on, that of removed ones is dropped,
//!   and the log says how many open alerts went with them. The reload waits (at most
//!   [`DRAIN_SWAP_WAIT`]) until the drain has taken the registry, so messages published after
//!   a reload is logged are judged by the new one.
//!
//! The log says what changed (supervisors; sites and devices added, removed, changed, with
//! counts and the first few ids), or why the running configuration was kept (an invalid file
//! is never half-applied). Changes to other settings are listed as taking effect at the next
//! restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alerting::delivery::DeliveryConfig;
use prometheus::{IntCounterVec, Opts, Registry};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weijian_ingest::alerts::RegistrySwap;
use weijian_ingest::config::{Config, ProcessEnv, Registry as SiteRegistry};
use weijian_ingest::drain::RegistryUpdate;
use weijian_ingest::source::hj212_tcp::DeviceDirectory;

use crate::notify::NotifierChannels;
use crate::supervision::Desk;

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reloaded {
    /// Applied: each change in words (empty: nothing that can change at run time changed),
    /// then the settings that changed but wait for a restart.
    Applied {
        changes: Vec<String>,
        at_restart: Vec<String>,
    },
    /// The running configuration was kept, and why.
    Kept(String),
}

/// Applies reloaded configurations to a running weijian.
pub struct Reloader {
    /// The configuration weijian started with (for settings that need a restart).
    started: Config,
    /// The supervisors in force.
    supervisors: Mutex<Option<DeliveryConfig>>,
    /// The sites and devices in force.
    sites: Mutex<Arc<SiteRegistry>>,
    desk: Option<Desk>,
    /// Where reloaded registries go (the drain); without it a registry change needs a restart.
    drain: Option<mpsc::UnboundedSender<RegistryUpdate>>,
    /// The HJ 212 TCP listener's MN index, when the listener runs.
    hj212_directory: Option<DeviceDirectory>,
    reloads: IntCounterVec,
}

/// How long a reload waits for the drain to take a new registry (product default: a batch
/// takes well under a second; a drain held up longer, by a full outbox, takes it later).
pub const DRAIN_SWAP_WAIT: Duration = Duration::from_secs(30);

/// Ids listed per kind of registry change in the log; the rest are counted.
const IDS_LISTED: usize = 5;

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reloader for weijian running `config` with `desk` (delivery on), its counter
    /// `weijian_config_reloads_total{outcome}` registered in `registry`.
    ///
    /// # Errors
    /// The counter is already registered.
    pub fn new(
        config: Config,
        desk: Option<Desk>,
        registry: &Registry,
    ) -> Result<Self, prometheus::Error> {
        let reloads = IntCounterVec::new(
            Opts::new(
                "weijian_config_reloads_total",
                "Configuration reloads (SIGHUP), by outcome: applied or kept (the file was refused).",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(reloads.clone()))?;
        for outcome in ["applied", "kept"] {
            reloads.with_label_values(&[outcome]);
        }
        Ok(Self {
            supervisors: Mutex::new(config.delivery.supervisors.clone()),
            sites: Mutex::new(config.registry.clone()),
            started: config,
            desk,
            drain: None,
            hj212_directory: None,
            reloads,
        })
    }

    /// Sends reloaded registries to the drain (see [`weijian_ingest::drain::Drain::with_registry_updates`]).
    #[must_use]
    pub fn with_drain(mut self, drain: mpsc::UnboundedSender<RegistryUpdate>) -> Self {
        self.drain = Some(drain);
        self
    }

    /// Keeps the HJ 212 TCP listener's MN index on the registry in force.
    #[must_use]
    pub fn with_hj212_directory(mut self, directory: Option<DeviceDirectory>) -> Self {
        self.hj212_directory = directory;
        self
    }

    /// Reads `path` again (environment and channels checked as at start) and applies it; logs
    /// and counts the outcome.
    pub fn reload_file(&self, path: &Path) -> Reloaded {
        let outcome = match Config::load_checked(path, &ProcessEnv, &NotifierChannels) {
            Ok(config) => self.apply(config),
            Err(errors) => Reloaded::Kept(errors.to_string().trim_end().replace('\n', " | ")),
        };
        match &outcome {
            Reloaded::Applied {
                changes,
                at_restart,
            } => {
                self.reloads.with_label_values(&["applied"]).inc();
                tracing::info!(
                    file = %path.display(),
                    changes = %if changes.is_empty() { "none".to_owned() } else { changes.join("; ") },
                    at_next_restart = %at_restart.join(", "),
                    "Reloaded the configuration."
                );
            }
            Reloaded::Kept(why) => {
                self.reloads.with_label_values(&["kept"]).inc();
                tracing::error!(file = %path.display(), reason = %why, "Configuration reload refused: kept the running configuration.");
            }
        }
        outcome
    }

    /// Applies a validated configuration: the supervisors, notice timing and registry now,
    /// the rest at the next restart.
    pub fn apply(&self, new: Config) -> Reloaded {
        let mut current = lock(&self.supervisors);
        let mut sites = lock(&self.sites);
        let registry_changes = describe_registry(&sites, &new.registry);
        let delivery = match (&self.desk, &*current, new.delivery.supervisors.clone()) {
            (Some(desk), Some(old), Some(next)) => Some((desk, describe(old, &next), next)),
            (None, _, None) => None,
            (Some(_), _, None) => {
                return Reloaded::Kept(
                    "the file turns alert delivery off, which needs a restart".into(),
                )
            }
            (None, _, Some(_)) | (Some(_), None, Some(_)) => {
                return Reloaded::Kept(
                    "the file turns alert delivery on, which needs a restart".into(),
                )
            }
        };
        let drain = match &self.drain {
            Some(drain) if !drain.is_closed() => Some(drain),
            _ => None,
        };
        if !registry_changes.is_empty() && drain.is_none() {
            return Reloaded::Kept(
                "the sites or devices changed, and the drain is not running to take them".into(),
            );
        }
        let registry_changed = !registry_changes.is_empty();
        let mut changes = Vec::new();
        if let Some((desk, supervisor_changes, next)) = delivery {
            if !supervisor_changes.is_empty() || registry_changed {
                let registry = registry_changed.then(|| new.registry.clone());
                if let Err(error) = desk.reconfigure(next.clone(), registry) {
                    return Reloaded::Kept(format!("the delivery state: {error}"));
                }
                *current = Some(next);
            }
            changes.extend(supervisor_changes);
        }
        if let (true, Some(drain)) = (registry_changed, drain) {
            changes.extend(registry_changes);
            changes.extend(swap_in_drain(drain, &new.registry));
            // After the drain: a frame identified by the new registry is judged by it too.
            if let Some(directory) = &self.hj212_directory {
                directory.update(&new.registry);
            }
            *sites = new.registry.clone();
        }
        Reloaded::Applied {
            changes,
            at_restart: restart_only_changes(&self.started, &new),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Hands `registry` to the drain and waits until it has taken it; what the rule engine
/// dropped (removed devices and sites), in words.
fn swap_in_drain(
    drain: &mpsc::UnboundedSender<RegistryUpdate>,
    registry: &Arc<SiteRegistry>,
) -> Vec<String> {
    let (done, taken) = std::sync::mpsc::channel();
    let update = RegistryUpdate {
        registry: registry.clone(),
        done,
    };
    if drain.send(update).is_err() {
        return vec![
            "the drain has stopped: the rule engine keeps the old registry until the restart"
                .into(),
        ];
    }
    match taken.recv_timeout(DRAIN_SWAP_WAIT) {
        Ok(swap) => describe_swap(&swap),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            vec!["the drain stopped before taking the registry (shutting down)".into()]
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            tracing::warn!(
                waited_secs = DRAIN_SWAP_WAIT.as_secs(),
                "The drain has not taken the reloaded registry yet; it does before its next batch."
            );
            vec!["the rule engine takes the registry before its next batch".into()]
        }
    }
}

/// The rule state a registry swap dropped, in words (nothing when it dropped none).
fn describe_swap(swap: &RegistrySwap) -> Vec<String> {
    let mut of = Vec::new();
    if !swap.dropped_devices.is_empty() {
        of.push(format!(
            "{} removed devices {}",
            swap.dropped_devices.len(),
            listed(&swap.dropped_devices)
        ));
    }
    if !swap.dropped_sites.is_empty() {
        of.push(format!(
            "{} removed sites {}",
            swap.dropped_sites.len(),
            listed(&swap.dropped_sites)
        ));
    }
    if of.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "rule state dropped of {}, with {} open alerts",
        of.join(" and "),
        swap.open_alerts_dropped
    )]
}

/// Reloads `path` on every SIGHUP until `shutdown`.
pub fn on_sighup(reloader: Arc<Reloader>, path: PathBuf, shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(error) => {
                tracing::error!(%error, "Cannot listen for SIGHUP: the configuration cannot be reloaded without a restart.");
                return;
            }
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    got = hup.recv() => {
                        if got.is_none() {
                            break;
                        }
                        tracing::info!(file = %path.display(), "SIGHUP: reloading the configuration.");
                        let (reloader, path) = (reloader.clone(), path.clone());
                        // Reading a large registry file must not stall a runtime thread.
                        let _ = tokio::task::spawn_blocking(move || reloader.reload_file(&path)).await;
                    }
                }
            }
        });
    }
    #[cfg(not(unix))]
    drop((reloader, path, shutdown));
}

/// The registry changes from `old` to `new`, in words: per kind (sites, devices) the ids
/// added, removed and changed, counted, the first few listed.
fn describe_registry(old: &SiteRegistry, new: &SiteRegistry) -> Vec<String> {
    let mut words = Vec::new();
    let sites = Changes::between(
        old.sites().map(|s| &*s.id),
        new.sites().map(|s| (&*s.id, s)),
        |id| old.site(id),
        |id| new.site(id).is_some(),
    );
    sites.describe("sites", &mut words);
    let devices = Changes::between(
        old.devices().map(|d| &*d.id),
        new.devices().map(|d| (&*d.id, d)),
        |id| old.device(id),
        |id| new.device(id).is_some(),
    );
    devices.describe("devices", &mut words);
    words
}

/// Ids added, removed and changed between two registries.
#[derive(Debug, Default)]
struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
}

impl Changes {
    /// `old_ids`, `new_entries`: in configuration order; `in_old` looks an id up in the old
    /// registry, `in_new` says whether the new one has it.
    fn between<'a, T: PartialEq + 'a>(
        old_ids: impl Iterator<Item = &'a str>,
        new_entries: impl Iterator<Item = (&'a str, &'a T)>,
        in_old: impl Fn(&str) -> Option<&'a T>,
        in_new: impl Fn(&str) -> bool,
    ) -> Changes {
        let mut changes = Changes::default();
        for (id, entry) in new_entries {
            match in_old(id) {
                None => changes.added.push(id.to_owned()),
                Some(before) if before != entry => changes.changed.push(id.to_owned()),
                Some(_) => {}
            }
        }
        for id in old_ids {
            if !in_new(id) {
                changes.removed.push(id.to_owned());
            }
        }
        changes
    }

    fn describe(&self, kind: &str, into: &mut Vec<String>) {
        for (what, ids) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("changed", &self.changed),
        ] {
            if !ids.is_empty() {
                into.push(format!("{kind} {what}: {} {}", ids.len(), listed(ids)));
            }
        }
    }
}

/// `(a, b, c)`, or `(a, b, c, d, e, and 7 more)`.
fn listed(ids: &[String]) -> String {
    let shown = ids
        .iter()
        .take(IDS_LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    match ids.len().saturating_sub(IDS_LISTED) {
        0 => format!("({shown})"),
        more => format!("({shown}, and {more} more)"),
    }
}

/// The supervisors and timing changes from `old` to `new`, in words.
fn describe(old: &DeliveryConfig, new: &DeliveryConfig) -> Vec<String> {
    let mut changes = Vec::new();
    for s in &new.supervisors {
        match old.supervisor(&s.id) {
            None => changes.push(format!("supervisor {} added ({})", s.id, s.cell)),
            Some(before) if before != s => changes.push(format!("supervisor {} changed", s.id)),
            Some(_) => {}
        }
    }
    for s in &old.supervisors {
        if new.supervisor(&s.id).is_none() {
            changes.push(format!("supervisor {} removed", s.id));
        }
    }
    if old.timing != new.timing {
        changes.push("notice timing changed".into());
    }
    changes
}

/// The sections that changed but are only read at start.
fn restart_only_changes(old: &Config, new: &Config) -> Vec<String> {
    let d = |c: &Config| {
        format!(
            "{:?} {:?} {:?} {:?}",
            c.delivery.http_timeout, c.delivery.retry, c.delivery.outbox_max_bytes, c.delivery.smtp
        )
    };
    [
        (
            "mqtt",
            format!("{:?}", old.mqtt) != format!("{:?}", new.mqtt),
        ),
        (
            "questdb",
            format!("{:?}", old.questdb) != format!("{:?}", new.questdb),
        ),
        (
            "spool",
            format!("{:?}", old.spool) != format!("{:?}", new.spool),
        ),
        (
            "limits",
            format!("{:?}", old.limits) != format!("{:?}", new.limits),
        ),
        ("http", old.http.listen != new.http.listen),
        ("hj212_tcp", old.hj212_tcp != new.hj212_tcp),
        ("gateway_feedback", old.feedback != new.feedback),
        (
            "alerts",
            format!("{:?}", old.alerts) != format!("{:?}", new.alerts),
        ),
        ("delivery settings", d(old) != d(new)),
    ]
    .into_iter()
    .filter(|(_, changed)| *changed)
    .map(|(name, _)| name.to_owned())
    .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use super::*;

    /// A registry of `sites` (id, name) and `devices` (id, site, expected interval).
    fn registry(sites: &[(&str, &str)], devices: &[(&str, &str, u32)]) -> Arc<SiteRegistry> {
        let mut text = String::new();
        for (i, (id, name)) in sites.iter().enumerate() {
            text.push_str(&format!(
                "[[sites]]\nid = \"{id}\"\nname = \"{name}\"\nkind = \"water\"\n\
                 grid = {{ district = \"d\", street = \"st\", community = \"c{i}\" }}\n\
                 water = {{ point = \"outlet\", disinfectant = \"free_chlorine\" }}\n\n"
            ));
        }
        for (id, site, interval) in devices {
            text.push_str(&format!(
                "[[devices]]\nid = \"{id}\"\nsite = \"{site}\"\nkind = \"water_monitor\"\n\
                 expected_interval_secs = {interval}\n\n"
            ));
        }
        Config::parse(&text, "test.toml", &HashMap::<String, String>::new())
            .unwrap()
            .registry
    }

    #[test]
    fn the_log_lists_sites_and_devices_added_removed_and_changed_with_counts_and_first_ids() {
        let removed: Vec<String> = (1..=7).map(|i| format!("d{i}")).collect();
        let mut old_devices = vec![("d0", "s0", 60)];
        old_devices.extend(removed.iter().map(|d| (d.as_str(), "s0", 60)));
        let old = registry(&[("s0", "水厂")], &old_devices);
        let new = registry(
            &[("s0", "水厂（新）"), ("s1", "水厂1")],
            &[("d0", "s0", 120), ("d8", "s1", 60)],
        );
        assert_eq!(
            describe_registry(&old, &new),
            [
                "sites added: 1 (s1)",
                "sites changed: 1 (s0)",
                "devices added: 1 (d8)",
                "devices removed: 7 (d1, d2, d3, d4, d5, and 2 more)",
                "devices changed: 1 (d0)",
            ]
        );
        assert!(describe_registry(&new, &new).is_empty());
    }

    #[test]
    fn the_log_says_what_rule_state_went_with_removed_devices() {
        let swap = RegistrySwap {
            dropped_devices: vec!["d1".into()],
            dropped_sites: Vec::new(),
            open_alerts_dropped: 1,
        };
        assert_eq!(
            describe_swap(&swap),
            ["rule state dropped of 1 removed devices (d1), with 1 open alerts"]
        );
        assert!(describe_swap(&RegistrySwap::default()).is_empty());
    }
}
