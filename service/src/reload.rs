//! Reloading the configuration without a restart, on SIGHUP: the whole file is read and
//! validated again (with the supervisors file it names), and the supervisors and notice timing
//! are swapped into the running desk, keeping every open alert, deadline and silence. The log
//! says what changed, or why the running configuration was kept (an invalid file is never
//! half-applied). Changes to other settings are listed as taking effect at the next restart.
//!
//! Not reloaded (yet): the sites and devices. A file whose registry differs from the running
//! one is refused as a whole, so that the supervisors never cover a grid the rule engine does
//! not have.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use alerting::delivery::DeliveryConfig;
use prometheus::{IntCounterVec, Opts, Registry};
use tokio_util::sync::CancellationToken;
use weijian_ingest::config::{Config, ProcessEnv};

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
    desk: Option<Desk>,
    reloads: IntCounterVec,
}

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
            started: config,
            desk,
            reloads,
        })
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

    /// Applies a validated configuration: the supervisors and notice timing now, the rest at
    /// the next restart.
    pub fn apply(&self, new: Config) -> Reloaded {
        if !same_registry(&self.started, &new) {
            return Reloaded::Kept(
                "the sites or devices changed: reloading the registry needs a restart".into(),
            );
        }
        let mut current = self
            .supervisors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let changes = match (&self.desk, &*current, new.delivery.supervisors.clone()) {
            (Some(desk), Some(old), Some(next)) => {
                let changes = describe(old, &next);
                if !changes.is_empty() {
                    if let Err(error) = desk.reconfigure(next.clone()) {
                        return Reloaded::Kept(format!("the delivery state: {error}"));
                    }
                    *current = Some(next);
                }
                changes
            }
            (None, _, None) => Vec::new(),
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
        Reloaded::Applied {
            changes,
            at_restart: restart_only_changes(&self.started, &new),
        }
    }
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

fn same_registry(a: &Config, b: &Config) -> bool {
    a.registry.sites().eq(b.registry.sites()) && a.registry.devices().eq(b.registry.devices())
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
