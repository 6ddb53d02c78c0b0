//! The alert desk: the delivery state the API reads, and the path by which API writes reach
//! the drain (journaled [`Request`]s, see [`super::request`]).
//!
//! The drain owns every change to the state: it feeds rule-engine events, runs delivery
//! timers and applies journaled requests. The API only reads (under a short lock) and submits
//! requests, waiting for the drain's answer. Snapshots of the state are saved by the drain
//! together with the rule engine's, at the same spool position.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alerting::delivery::{DeliveryConfig, DeliveryEngine, DeliverySnapshot, Supervisor};
use alerting::model::Timestamp;
use alerting::{AlertEvent, EventKind};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::request::{Action, Applied, Request, API_TOPIC};
use weijian_ingest::clock::Clock;
use weijian_ingest::config::api::ApiSettings;
use weijian_ingest::config::Registry;
use weijian_ingest::message::encode_record;
use weijian_ingest::spool::SpoolWriter;

/// How long an API write waits for the drain to apply it before answering `202 Accepted`
/// (the request is durable by then and will be applied).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an API write waits for the journal (spool) to make it durable.
const JOURNAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Entries kept per alert in its history (the oldest are dropped first; `alerts` in QuestDB
/// keeps everything).
const MAX_HISTORY: usize = 200;

/// One step in an alert's life, for `GET /api/v1/alerts/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub ts: Timestamp,
    /// `pending`, `firing`, `level_changed`, `resolved` (rule engine), `escalated`,
    /// `acknowledged`, `acknowledgement_cleared`, `resolved_manually`, `silenced`,
    /// `silence_ended` (delivery) or `notice:<kind>` (a notice was sent to `to`).
    pub change: String,
    /// 1 = I (red) .. 4 = IV (blue).
    pub level: u8,
    /// The supervisor who acted, or the recipients of a notice.
    pub by: Vec<String>,
    pub detail: String,
}

/// What the desk remembers of one alert: its latest rule-engine event and its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The latest rule-engine event (rule, site, device, level, summary, evidence).
    pub last: AlertEvent,
    /// When it was closed (by the rule engine or a supervisor); `None` while open.
    pub resolved_at: Option<Timestamp>,
    pub history: Vec<HistoryEntry>,
}

/// The delivery engine with what the desk remembers of each alert (open ones, and closed
/// ones for as long as the engine remembers them: `RESOLVED_RETENTION_SECS`).
#[derive(Debug)]
pub struct DeskState {
    pub engine: DeliveryEngine,
    pub alerts: BTreeMap<String, AlertRecord>,
}

impl DeskState {
    /// Records a rule-engine event (creating the alert's record on its first event).
    pub(crate) fn record_event(&mut self, event: &AlertEvent) {
        let entry = HistoryEntry {
            ts: event.ts,
            change: event.kind.as_str().to_owned(),
            level: event.level.number(),
            by: Vec::new(),
            detail: event.reason.clone(),
        };
        let rec = self
            .alerts
            .entry(event.alert_id.clone())
            .or_insert_with(|| AlertRecord {
                last: event.clone(),
                resolved_at: None,
                history: Vec::new(),
            });
        if event.kind == EventKind::Resolved {
            rec.resolved_at.get_or_insert(event.ts);
        }
        rec.last = event.clone();
        push(&mut rec.history, entry);
    }

    /// Appends to a known alert's history (ignored for an alert the desk does not know).
    pub(crate) fn record(&mut self, alert_id: &str, entry: HistoryEntry) {
        if let Some(rec) = self.alerts.get_mut(alert_id) {
            if entry.change == "resolved_manually" {
                rec.resolved_at.get_or_insert(entry.ts);
            }
            push(&mut rec.history, entry);
        }
    }

    /// Forgets closed alerts the engine no longer remembers either.
    pub(crate) fn prune(&mut self) {
        let engine = &self.engine;
        self.alerts.retain(|id, rec| {
            rec.resolved_at.is_none()
                || engine.alert(id).is_some()
                || engine.resolved_alert(id).is_some()
        });
    }
}

fn push(history: &mut Vec<HistoryEntry>, entry: HistoryEntry) {
    history.push(entry);
    if history.len() > MAX_HISTORY {
        let excess = history.len() - MAX_HISTORY;
        history.drain(..excess);
    }
}

/// The persisted desk: the delivery engine's snapshot and the histories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeskSnapshot {
    pub engine: DeliverySnapshot,
    #[serde(default)]
    pub alerts: BTreeMap<String, AlertRecord>,
}

impl DeskSnapshot {
    /// The desk state the alert stage saved with the rule engine's (see
    /// `weijian_ingest::alerts::AlertStage::open`); `None`, logged, when it does not parse.
    pub fn from_saved(saved: &serde_json::value::RawValue) -> Option<DeskSnapshot> {
        match serde_json::from_str(saved.get()) {
            Ok(snapshot) => Some(snapshot),
            Err(error) => {
                tracing::error!(%error, "Cannot read the saved delivery state; open alerts are re-announced as they change.");
                None
            }
        }
    }
}

/// The hex SHA-256 of an API token, as configured in `token_sha256` (the same as
/// `printf %s TOKEN | sha256sum`).
pub fn token_sha256(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.trim().as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// What became of a submitted write.
#[derive(Debug)]
pub enum Submitted {
    /// Applied by the drain, with its result.
    Applied { request_id: String, result: Applied },
    /// Durable, but not applied within [`ANSWER_TIMEOUT`] (the drain is busy, e.g. writing
    /// to a slow QuestDB): it will be applied.
    Queued { request_id: String },
}

/// Why a write could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("the request could not be journaled: {0}")]
    Journal(String),
}

/// A cloneable handle on the desk (the API holds one, the drain another).
#[derive(Clone)]
pub struct Desk {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<DeskState>,
    waiters: Mutex<HashMap<String, oneshot::Sender<Applied>>>,
    journal: SpoolWriter,
    clock: Clock,
    /// The sites and devices in force (replaced by a reload).
    registry: std::sync::RwLock<Arc<Registry>>,
    run: i64,
    next: AtomicU64,
    /// Waste stores' ledger summaries (published by the alert stage).
    waste: super::WasteBoard,
    /// Sterilizer status by device, refreshed by the drain as the rule engine changes it
    /// (the API reads it; separate from the delivery state, not snapshotted: the rule
    /// engine's snapshot has it and the drain republishes it at start).
    sterilizers: Mutex<HashMap<String, alerting::sterilization::SterilizerStatus>>,
    /// The site risk index (set by the alert stage when delivery is attached).
    risk: std::sync::OnceLock<weijian_ingest::risk::RiskBoard>,
    /// Each device's latest data and whether it is offline (sent by the alert stage with its
    /// timers; the console's grid reads it).
    devices: std::sync::RwLock<Arc<DeviceActivities>>,
    /// `[api]`: request sizes, refusal audit, silence limits.
    limits: ApiSettings,
}

/// Each device's latest data and whether it is offline, sorted by device id.
#[derive(Debug, Default)]
pub struct DeviceActivities(Vec<alerting::DeviceActivity>);

impl DeviceActivities {
    fn new(mut list: Vec<alerting::DeviceActivity>) -> Self {
        if !list.is_sorted_by(|a, b| a.device <= b.device) {
            list.sort_by(|a, b| a.device.cmp(&b.device));
        }
        DeviceActivities(list)
    }

    /// The activity of `device`, if the rule engine knows it.
    pub fn get(&self, device: &str) -> Option<&alerting::DeviceActivity> {
        self.0
            .binary_search_by(|a| (*a.device).cmp(device))
            .ok()
            .and_then(|i| self.0.get(i))
    }
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk").finish_non_exhaustive()
    }
}

impl Desk {
    /// A desk over `config` with the API's `limits`, continuing from `restored` if given (a
    /// snapshot whose version does not match is logged and ignored).
    pub fn new(
        config: DeliveryConfig,
        limits: ApiSettings,
        registry: Arc<Registry>,
        journal: SpoolWriter,
        clock: Clock,
        restored: Option<DeskSnapshot>,
    ) -> Desk {
        let sites = registry.alerting_sites();
        let (engine, alerts) = match restored {
            Some(s) => match DeliveryEngine::restore(config.clone(), &sites, s.engine) {
                Ok(e) => (e, s.alerts),
                Err(error) => {
                    tracing::error!(%error, "Cannot restore the delivery state; open alerts are re-announced as they change.");
                    (DeliveryEngine::new(config, &sites), BTreeMap::new())
                }
            },
            None => (DeliveryEngine::new(config, &sites), BTreeMap::new()),
        };
        let run = clock().0;
        Desk {
            inner: Arc::new(Inner {
                state: Mutex::new(DeskState { engine, alerts }),
                waiters: Mutex::new(HashMap::new()),
                journal,
                clock,
                registry: std::sync::RwLock::new(registry),
                run,
                next: AtomicU64::new(1),
                waste: super::WasteBoard::default(),
                sterilizers: Mutex::new(HashMap::new()),
                risk: std::sync::OnceLock::new(),
                devices: std::sync::RwLock::default(),
                limits,
            }),
        }
    }

    /// The supervisor whose API token this is (compared as hex SHA-256; tokens are never
    /// stored).
    pub fn authenticate(&self, token: &str) -> Option<Supervisor> {
        let hex = token_sha256(token);
        self.state()
            .engine
            .config()
            .supervisor_by_token_sha256(&hex)
            .cloned()
    }

    /// Replaces the supervisors and notice timing (a reloaded supervisors file) and, when
    /// given, the sites and devices (a reloaded registry), together, keeping every open alert,
    /// deadline, group and silence. An alert already notified keeps its recipients; new events
    /// reach the new supervisors.
    ///
    /// # Errors
    /// The delivery state cannot be carried over (not expected: it is this desk's own).
    pub fn reconfigure(
        &self,
        config: DeliveryConfig,
        registry: Option<Arc<Registry>>,
    ) -> Result<(), String> {
        let sites = registry
            .as_ref()
            .map_or_else(|| self.registry(), Arc::clone)
            .alerting_sites();
        let mut state = self.state();
        let engine = DeliveryEngine::restore(config, &sites, state.engine.snapshot())
            .map_err(|error| error.to_string())?;
        state.engine = engine;
        if let Some(registry) = registry {
            *self
                .inner
                .registry
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = registry;
        }
        Ok(())
    }

    /// Replaces the sterilizer status of its device.
    pub fn set_sterilizer(&self, status: alerting::sterilization::SterilizerStatus) {
        let mut map = self
            .inner
            .sterilizers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(status.device.clone(), status);
    }

    /// The sterilizer status of `device`, if the rule engine has seen it.
    pub fn sterilizer(&self, device: &str) -> Option<alerting::sterilization::SterilizerStatus> {
        let map = self
            .inner
            .sterilizers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(device).cloned()
    }

    /// Replaces the devices' activity (latest data, offline). Called by the drain at every
    /// alert tick, so it only keeps the list (the rule engine's is already sorted by id):
    /// looking a device up is the console's work, when a page asks.
    pub fn set_devices(&self, activity: Vec<alerting::DeviceActivity>) {
        let activity = DeviceActivities::new(activity);
        *self
            .inner
            .devices
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(activity);
    }

    /// The devices' activity as last sent (empty until the alert stage's first tick).
    pub fn devices(&self) -> Arc<DeviceActivities> {
        self.inner
            .devices
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the state under its lock (keep `f` short: the drain waits meanwhile).
    pub fn read<R>(&self, f: impl FnOnce(&DeskState) -> R) -> R {
        f(&self.state())
    }

    /// The pipeline's clock (simulated time in the demo).
    pub fn now(&self) -> Timestamp {
        (self.inner.clock)()
    }

    /// The API's limits (`[api]`).
    pub fn limits(&self) -> &ApiSettings {
        &self.inner.limits
    }

    /// The sites and devices in force.
    pub fn registry(&self) -> Arc<Registry> {
        self.inner
            .registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The waste stores' ledger summaries.
    pub fn waste(&self) -> &super::WasteBoard {
        &self.inner.waste
    }

    /// The site risk index, once the alert stage has attached it.
    pub fn risk(&self) -> Option<&weijian_ingest::risk::RiskBoard> {
        self.inner.risk.get()
    }

    /// Attaches the site risk index (the first one stays).
    pub fn set_risk(&self, board: weijian_ingest::risk::RiskBoard) {
        let _ = self.inner.risk.set(board);
    }

    /// Journals a write and waits for the drain to apply it.
    ///
    /// # Errors
    /// The journal (spool) refused it or did not make it durable in time (full, closed).
    pub async fn submit(
        &self,
        supervisor: Option<&str>,
        remote: Option<String>,
        method: &str,
        path: &str,
        action: Action,
    ) -> Result<Submitted, SubmitError> {
        let request = self.request(supervisor, remote, method, path, action);
        let id = request.id.clone();
        let (tx, rx) = oneshot::channel();
        self.waiters().insert(id.clone(), tx);
        if let Err(e) = self.journal(&request).await {
            self.waiters().remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(result)) => Ok(Submitted::Applied {
                request_id: id,
                result,
            }),
            Ok(Err(_)) | Err(_) => {
                self.waiters().remove(&id);
                Ok(Submitted::Queued { request_id: id })
            }
        }
    }

    /// Journals a refused attempt (bad token, outside the caller's subtree) for the audit
    /// trail, returning its request id.
    ///
    /// # Errors
    /// As [`Desk::submit`].
    pub async fn audit_denied(
        &self,
        supervisor: Option<&str>,
        remote: Option<String>,
        method: &str,
        path: &str,
        status: u16,
        reason: &str,
    ) -> Result<String, SubmitError> {
        let request = self.request(
            supervisor,
            remote,
            method,
            path,
            Action::Denied {
                status,
                reason: reason.to_owned(),
            },
        );
        self.journal(&request).await?;
        Ok(request.id)
    }

    fn request(
        &self,
        supervisor: Option<&str>,
        remote: Option<String>,
        method: &str,
        path: &str,
        action: Action,
    ) -> Request {
        let n = self.inner.next.fetch_add(1, Ordering::Relaxed);
        Request {
            id: format!("r{}-{n}", self.inner.run),
            at: self.now(),
            supervisor: supervisor.map(str::to_owned),
            remote,
            method: method.to_owned(),
            path: path.to_owned(),
            action,
        }
    }

    async fn journal(&self, request: &Request) -> Result<(), SubmitError> {
        let record = encode_record(self.now(), 1, API_TOPIC, &request.encode());
        let durable = self.inner.journal.append(record);
        match tokio::time::timeout(JOURNAL_TIMEOUT, durable).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(SubmitError::Journal(error.to_string())),
            Err(_) => Err(SubmitError::Journal(
                "the spool did not accept it in time (is it full?)".to_owned(),
            )),
        }
    }

    // -----------------------------------------------------------------------------------------
    // The drain's side.

    /// The state, to change it (the drain only).
    pub(crate) fn state(&self) -> MutexGuard<'_, DeskState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn waiters(&self) -> MutexGuard<'_, HashMap<String, oneshot::Sender<Applied>>> {
        self.inner
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands the result of an applied request to the API call waiting for it, if any (none
    /// after a restart, or after it gave up waiting).
    pub(crate) fn answer(&self, request_id: &str, result: Applied) {
        if let Some(tx) = self.waiters().remove(request_id) {
            let _ = tx.send(result);
        }
    }

    /// The state to persist (see [`DeskSnapshot::from_saved`]).
    pub(crate) fn snapshot(&self) -> DeskSnapshot {
        let st = self.state();
        DeskSnapshot {
            engine: st.engine.snapshot(),
            alerts: st.alerts.clone(),
        }
    }
}
