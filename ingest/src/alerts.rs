//! The rule engine inside the pipeline: feeds it validated inputs in spool order, runs its
//! timers, saves its state for restarts, and turns its events into `alerts` rows and MQTT
//! notifications (docs/payload-contract.md, alert messages).
//!
//! Restart safety: the engine's snapshot is saved (atomically) every `snapshot_interval`
//! together with the spool position it covers. The drain commits the spool only up to the
//! last snapshot's position, so after a crash every record the snapshot has not seen is
//! re-read and fed again; records the snapshot has seen are not fed twice. Events re-emitted
//! for such records carry the same alert id and are deduplicated by QuestDB.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alerting::{AlertEvent, Engine, EngineSnapshot, EventKind, Input};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::delivery::{AlertDelivery, Effects};
use crate::disk::DiskFaults;
use crate::durability::{DurableStore, StorageReporter};
use crate::sink::rows::Row;
use serde_json::value::RawValue;

/// The engine with its persistence.
#[derive(Debug)]
pub struct AlertStage {
    engine: Engine,
    /// The rule pack the engine runs (kept to rebuild it over a reloaded registry).
    pack: alerting::rule::RulePack,
    snapshot_path: PathBuf,
    /// Records at or below this spool position are already in the engine's state.
    fed_up_to: Option<u64>,
    /// The last position covered by a saved snapshot.
    saved_up_to: Option<u64>,
    last_saved: Option<Instant>,
    /// A snapshot being written on a blocking thread, with the position it covers.
    in_flight: Option<(Option<u64>, tokio::task::JoinHandle<std::io::Result<()>>)>,
    last_tick: Option<Instant>,
    tick_interval: Duration,
    snapshot_interval: Duration,
    topic_prefix: String,
    publish: bool,
    /// Alert delivery, when supervisors are configured.
    delivery: Option<Box<dyn AlertDelivery>>,
    /// Timers changed the state since the last save (the rule engine's: alerts firing or
    /// changing level with time, devices going offline; delivery's: escalations, repeats):
    /// saved even when no new record arrived, or a restart would announce them again.
    ticked_since_save: bool,
    /// Sterilizers whose status changed since it was last handed to the desk (API).
    sterilizers_dirty: std::collections::BTreeSet<String>,
    /// The site risk index's alert-day ledger and draws, saved with the engine.
    risk: crate::risk::RiskBoard,
    /// What the snapshot file held at open (`rebuild.rs` acts on a missing one).
    found: rebuild::Found,
    /// The seam snapshots are written through, and where failing saves are reported.
    disk: std::sync::Arc<dyn DiskFaults>,
    storage: StorageReporter,
}

mod rebuild;

/// What a registry swap ([`AlertStage::set_registry`]) dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrySwap {
    /// Devices no longer configured whose rule state was dropped.
    pub dropped_devices: Vec<String>,
    /// Sites no longer configured whose rule state (site rules, waste ledger) was dropped.
    pub dropped_sites: Vec<String>,
    /// Open alerts that went with them (their devices or sites are gone).
    pub open_alerts_dropped: usize,
}

/// A rule state captured for saving ([`AlertStage::prepare_save`]).
#[derive(Debug)]
pub struct PreparedSave {
    file: SnapshotFile,
}

/// The snapshot file.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotFile {
    version: u32,
    /// The spool position the engine state includes.
    position: Option<u64>,
    engine: EngineSnapshot,
    /// The delivery state at the same position (absent when delivery is off), as delivery
    /// saved it.
    #[serde(default)]
    delivery: Option<Box<RawValue>>,
    /// The risk index's ledger and draws at the same position (absent in older snapshots).
    #[serde(default)]
    risk: Option<crate::risk::RiskSnapshot>,
}

impl AlertStage {
    /// Builds the engine, restoring its state from `<spool dir>/alert-engine.json` if present;
    /// also returns the delivery state saved with it, for the delivery service to restore.
    pub fn open(config: &Config) -> (AlertStage, Option<Box<RawValue>>) {
        let snapshot_path = config.spool.dir.join("alert-engine.json");
        let pack = config.alerts.pack.clone();
        let sites = config.registry.shared_sites();
        let devices = config.registry.alerting_devices();
        let mut risk = None;
        let mut found = rebuild::Found::Restored;
        let (engine, position, desk) = match read_snapshot(&snapshot_path) {
            Ok(Some(file)) => {
                tracing::info!(path = %snapshot_path.display(), position = ?file.position, "Restored the alert engine's state.");
                risk = file.risk;
                (
                    Engine::restore(pack, sites, devices, file.engine),
                    file.position,
                    file.delivery,
                )
            }
            Ok(None) => {
                found = rebuild::Found::Missing;
                (Engine::new(pack, sites, devices), None, None)
            }
            Err(error) => {
                found = rebuild::Found::Unreadable(error.to_string());
                tracing::error!(path = %snapshot_path.display(), %error, "Cannot read the alert engine's snapshot; starting with fresh rule state.");
                (
                    Engine::new(
                        config.alerts.pack.clone(),
                        config.registry.shared_sites(),
                        config.registry.alerting_devices(),
                    ),
                    None,
                    None,
                )
            }
        };
        let stage = AlertStage {
            engine,
            pack: config.alerts.pack.clone(),
            snapshot_path,
            fed_up_to: position,
            saved_up_to: position,
            last_saved: None,
            in_flight: None,
            last_tick: None,
            tick_interval: config.alerts.tick_interval,
            snapshot_interval: config.alerts.snapshot_interval,
            topic_prefix: config.mqtt.topic_prefix.clone(),
            publish: config.alerts.publish,
            delivery: None,
            ticked_since_save: false,
            sterilizers_dirty: std::collections::BTreeSet::new(),
            risk: crate::risk::RiskBoard::new(
                config.alerts.pack.risk.clone(),
                config.registry.clone(),
                risk.unwrap_or_default(),
            ),
            found,
            disk: crate::disk::real(),
            storage: StorageReporter::detached(DurableStore::RuleSnapshot),
        };
        (stage, desk)
    }

    /// Writes snapshots through `disk` and reports failing saves to `storage` (`/readyz`).
    pub fn set_storage(&mut self, storage: StorageReporter, disk: std::sync::Arc<dyn DiskFaults>) {
        self.storage = storage;
        self.disk = disk;
    }

    /// Runs the rules over `registry` from now on (a reloaded configuration): the engine is
    /// rebuilt from its own snapshot, so the state of every device and site that stays (open
    /// alerts, pending durations, offline timers, ledgers) carries on; the state of removed
    /// ones is dropped. The risk index scores the new sites. Call between records, never
    /// while one is being fed.
    pub fn set_registry(
        &mut self,
        registry: &std::sync::Arc<crate::config::Registry>,
    ) -> RegistrySwap {
        let open_before = self.engine.active_alerts();
        let snapshot = self.engine.snapshot();
        let dropped_devices = snapshot
            .devices
            .iter()
            .filter(|d| registry.device(&d.device).is_none())
            .map(|d| d.device.to_string())
            .collect();
        let dropped_sites = snapshot
            .sites
            .iter()
            .filter(|s| registry.site(&s.site).is_none())
            .map(|s| s.site.clone())
            .collect();
        self.engine = Engine::restore(
            self.pack.clone(),
            registry.shared_sites(),
            registry.alerting_devices(),
            snapshot,
        );
        self.risk.set_registry(registry.clone());
        // The state changed without a record: saved at the next chance.
        self.ticked_since_save = true;
        RegistrySwap {
            dropped_devices,
            dropped_sites,
            open_alerts_dropped: open_before.saturating_sub(self.engine.active_alerts()),
        }
    }

    /// Turns delivery on: every event from now on also goes to `delivery`, whose state is
    /// saved with the rule engine's.
    pub fn attach_delivery(&mut self, delivery: Box<dyn AlertDelivery>) {
        // The supervisors' API shows the restored ledgers and sterilizers at once, not after
        // each one's next event.
        for (site, summary) in self.engine.waste_summaries() {
            delivery.show_waste(&site, summary);
        }
        for device in self.engine.sterilizers() {
            if let Some(status) = self.engine.sterilizer_status(device) {
                delivery.show_sterilizer(status);
            }
        }
        delivery.show_risk(self.risk.clone());
        self.delivery = Some(delivery);
    }

    /// The risk index (ledger, draws, scores).
    pub fn risk(&self) -> &crate::risk::RiskBoard {
        &self.risk
    }

    /// `site_risk` rows of the daily run when a China Standard Time day has begun since the
    /// last one, and the rows of recomputations and draws made since the last call.
    pub fn take_risk_rows(&mut self, now: alerting::model::Timestamp) -> Vec<Row> {
        let rows = self.risk.take_rows(now);
        // The risk state changed (a day scored, a draw made): saved even without new records.
        self.ticked_since_save |= !rows.is_empty();
        rows
    }

    /// Applies the journaled API request in the record at spool `position` (skipped if the
    /// saved state already has it, like readings). `None` when skipped.
    pub fn apply_request(&mut self, position: u64, payload: &[u8]) -> Option<Effects> {
        if self.fed_up_to.is_some_and(|p| position <= p) {
            return None;
        }
        self.fed_up_to = Some(position);
        match &self.delivery {
            Some(d) => Some(d.apply_request(payload, &mut self.engine)),
            None => {
                tracing::warn!(
                    position,
                    "An API request in the spool, but delivery is not configured now; ignored."
                );
                None
            }
        }
    }

    /// Hands rule-engine events to delivery (nothing when delivery is off).
    pub fn deliver(&self, events: &[AlertEvent], now: alerting::model::Timestamp) -> Effects {
        match &self.delivery {
            Some(d) => d.on_events(events, now),
            None => Effects::default(),
        }
    }

    /// Feeds the inputs of the record at `position` (skipped if the state already has them).
    pub fn feed(&mut self, position: u64, inputs: &[Input]) -> Vec<AlertEvent> {
        if self.fed_up_to.is_some_and(|p| position <= p) {
            return Vec::new();
        }
        self.fed_up_to = Some(position);
        for input in inputs {
            if let Input::Sterilizer(e) = input {
                self.sterilizers_dirty.insert(e.device.to_string());
            }
        }
        let events: Vec<AlertEvent> = inputs.iter().flat_map(|i| self.engine.process(i)).collect();
        self.risk.record(&events);
        self.publish_waste(inputs.iter().filter_map(|i| match i {
            Input::BagIn(b) => Some(&*b.site),
            Input::Handover(h) => Some(&*h.site),
            Input::Disinfection(d) => Some(&*d.site),
            _ => None,
        }));
        events
    }

    /// Publishes the ledger summaries of these waste stores to the supervisors' API.
    fn publish_waste<'s>(&self, sites: impl Iterator<Item = &'s str>) {
        let Some(d) = &self.delivery else {
            return;
        };
        let mut done: Vec<&str> = Vec::new();
        for site in sites {
            if done.contains(&site) {
                continue;
            }
            done.push(site);
            if let Some(summary) = self.engine.waste_summary(site) {
                d.show_waste(site, summary);
            }
        }
    }

    /// Runs the timers when due (offline devices, pending durations, escalation by time) and
    /// then delivery's (groups, repeats, escalation up the grid, expiring silences).
    pub fn tick_if_due(
        &mut self,
        now: alerting::model::Timestamp,
    ) -> Option<(Vec<AlertEvent>, Effects)> {
        if self
            .last_tick
            .is_some_and(|t| t.elapsed() < self.tick_interval)
        {
            return None;
        }
        self.last_tick = Some(Instant::now());
        let events = self.engine.process(&Input::Tick(now));
        self.ticked_since_save |= !events.is_empty();
        self.risk.record(&events);
        if let Some(d) = &self.delivery {
            let pending = d.waste_pending();
            self.publish_waste(pending.iter().map(String::as_str));
        }
        let mut effects = self.deliver(&events, now);
        if let Some(d) = &self.delivery {
            d.show_devices(self.engine.device_activity());
            let ticked = d.tick(now);
            self.ticked_since_save |= !ticked.is_empty();
            effects.extend(ticked);
        }
        Some((events, effects))
    }

    /// Saves the state when due (or when `force`), returning the spool position up to which
    /// rule state is durable: the drain commits no further than this. Only for moments when
    /// every alert row the state has produced is stored (see [`AlertStage::prepare_save`]).
    ///
    /// The snapshot is written (JSON, fsync, rename, fsync of the directory) on a blocking
    /// thread, so a large state never stalls the drain; its position counts only once the
    /// write has finished. With `force` (shutdown, a full spool) it waits for the write.
    pub async fn save_if_due(&mut self, force: bool) -> Option<u64> {
        self.reap_save(force).await;
        if self.in_flight.is_some() {
            return self.saved_up_to;
        }
        if let Some(prepared) = self.prepare_save(force) {
            self.save_prepared(prepared, force).await;
        }
        self.saved_up_to
    }

    /// Captures the state to save, when a save is due (or `force`) and the state changed
    /// since the last one. The drain captures it when it sends a batch to the store, the
    /// moment every alert row the state has produced is in that batch or already stored, and
    /// writes it with [`AlertStage::save_prepared`] once the store accepted the batch: a
    /// saved state never covers alert rows that could still be lost.
    pub fn prepare_save(&mut self, force: bool) -> Option<PreparedSave> {
        let due = force
            || self
                .last_saved
                .is_none_or(|t| t.elapsed() >= self.snapshot_interval);
        if !due {
            return None;
        }
        self.last_saved = Some(Instant::now());
        if self.fed_up_to == self.saved_up_to && !self.ticked_since_save {
            return None;
        }
        self.ticked_since_save = false;
        Some(PreparedSave {
            file: SnapshotFile {
                version: 1,
                position: self.fed_up_to,
                engine: self.engine.snapshot(),
                delivery: self.delivery.as_ref().map(|d| d.snapshot()),
                risk: Some(self.risk.snapshot()),
            },
        })
    }

    /// Writes a captured state (after the save before it has finished); with `wait`, waits
    /// for the write.
    pub async fn save_prepared(&mut self, prepared: PreparedSave, wait: bool) {
        self.reap_save(true).await;
        let position = prepared.file.position;
        let path = self.snapshot_path.clone();
        let file = prepared.file;
        let disk = self.disk.clone();
        let handle =
            tokio::task::spawn_blocking(move || write_snapshot(disk.as_ref(), &path, &file));
        if wait {
            self.finish_save(position, handle.await);
        } else {
            self.in_flight = Some((position, handle));
        }
    }

    /// The spool position up to which rule state is durable, after taking a finished save.
    pub async fn durable_up_to(&mut self) -> Option<u64> {
        self.reap_save(false).await;
        self.saved_up_to
    }

    /// Takes the save in progress if it has finished (or, with `wait`, waits for it).
    async fn reap_save(&mut self, wait: bool) {
        let finished = self
            .in_flight
            .as_ref()
            .is_some_and(|(_, handle)| wait || handle.is_finished());
        if finished {
            if let Some((position, handle)) = self.in_flight.take() {
                self.finish_save(position, handle.await);
            }
        }
    }

    fn finish_save(
        &mut self,
        position: Option<u64>,
        result: Result<std::io::Result<()>, tokio::task::JoinError>,
    ) {
        let error = match result {
            Ok(Ok(())) => {
                self.saved_up_to = position;
                if self.storage.recovered("save") {
                    tracing::info!(path = %self.snapshot_path.display(), "The alert engine's state is saved again.");
                }
                return;
            }
            Ok(Err(error)) => error.to_string(),
            Err(error) => format!("the saving task failed: {error}"),
        };
        // Tried again at the next snapshot interval, also if only timers changed the state.
        self.ticked_since_save = true;
        if self.storage.failed("save", &error) {
            tracing::error!(path = %self.snapshot_path.display(), %error, "Cannot save the alert engine's state; the spool keeps the records until it can (retried every snapshot interval).");
        }
    }

    /// `sterilization_cycles` rows of the cycles the engine finished (or linked a Bowie-Dick
    /// or BI result to) since the last call. Like alert rows they are re-produced when the
    /// spool is re-read after a restart, with the same identity.
    /// Also hands the changed sterilizers' status to the desk (the API's view).
    pub fn take_cycle_rows(&mut self) -> Vec<Row> {
        let records = self.engine.take_cycle_records();
        for r in &records {
            self.sterilizers_dirty.insert(r.device.clone());
        }
        let dirty = std::mem::take(&mut self.sterilizers_dirty);
        if let Some(d) = &self.delivery {
            for device in dirty {
                if let Some(status) = self.engine.sterilizer_status(&device) {
                    d.show_sterilizer(status);
                }
            }
        }
        records
            .into_iter()
            .map(|r| Row::Cycle(Box::new(r)))
            .collect()
    }

    /// Open alerts right now.
    pub fn open_alerts(&self) -> usize {
        self.engine.active_alerts()
    }

    /// Firing alerts by level (I to IV) and offline devices, for the operators' gauges.
    pub fn gauges(&self) -> ([usize; 4], usize) {
        (self.engine.firing_by_level(), self.engine.offline_devices())
    }

    /// The MQTT notification of an event, or `None` for events that are not announced
    /// (pending) or when publishing is off.
    pub fn notification(&self, event: &AlertEvent) -> Option<(String, Vec<u8>)> {
        if !self.publish || event.kind == EventKind::Pending {
            return None;
        }
        let message = alerting::wire::AlertMessage::of_event(event);
        Some((
            message.topic(&self.topic_prefix),
            message.to_json().into_bytes(),
        ))
    }
}

/// The `alerts` row of an event.
pub fn row(event: AlertEvent) -> Row {
    Row::Alert(Box::new(event))
}

fn read_snapshot(path: &Path) -> std::io::Result<Option<SnapshotFile>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Write to a temporary file, fsync, rename over the old one, fsync the directory (all through
/// the disk seam).
fn write_snapshot(disk: &dyn DiskFaults, path: &Path, file: &SnapshotFile) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("json.tmp");
    let written = (|| {
        // Streamed: at 100,000 devices the JSON is ~30 MB, and a buffer that size (grown by
        // doubling) was the largest allocation of the process.
        let mut w =
            std::io::BufWriter::with_capacity(1 << 16, crate::disk::SeamFile::create(disk, &tmp)?);
        serde_json::to_writer(&mut w, file).map_err(std::io::Error::other)?;
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    if let Err(error) = written {
        // A full disk: the partial file would only take the space a later save needs.
        let _ = std::fs::remove_file(&tmp);
        return Err(error);
    }
    crate::disk::rename(disk, &tmp, path)?;
    if let Some(dir) = path.parent() {
        crate::disk::sync_dir(disk, dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! A reloaded registry: the rule state of devices that stay carries on, that of removed
    //! devices is dropped and counted, and added devices reach the rules.
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use super::*;
    use crate::message::{encode_record, Message};
    use crate::validate::Validator;

    /// A configuration with site s0 and water monitors `devices`, its spool in `dir`.
    fn config(dir: &Path, devices: &[&str]) -> Config {
        let mut text = format!(
            "[spool]\ndir = {:?}\n\n[[sites]]\nid = \"s0\"\nname = \"出厂水\"\nkind = \"water\"\n\
             grid = {{ district = \"区\", street = \"街道\", community = \"社区\" }}\n\
             water = {{ point = \"outlet\", disinfectant = \"free_chlorine\" }}\n",
            dir.display().to_string()
        );
        for d in devices {
            text.push_str(&format!(
                "\n[[devices]]\nid = \"{d}\"\nsite = \"s0\"\nkind = \"water_monitor\"\nexpected_interval_secs = 60\n"
            ));
        }
        Config::parse(&text, "test.toml", &HashMap::<String, String>::new()).unwrap()
    }

    /// Feeds a reading of `device` at spool `position`, validated by `validator`; turbidity
    /// 9999 NTU is out of the sensor's range (rule G3 fires at once). The firing events.
    fn feed(
        stage: &mut AlertStage,
        validator: &mut Validator,
        position: u64,
        device: &str,
    ) -> Vec<AlertEvent> {
        let now = crate::clock::now();
        let payload = format!(
            r#"{{"ts":{},"values":{{"turbidity_ntu":9999.0,"ph":7.2,"free_chlorine_mg_l":0.6}}}}"#,
            now.as_millis() - 1_000
        );
        let record = encode_record(
            now,
            1,
            &format!("weijian/v1/s0/{device}/telemetry"),
            payload.as_bytes(),
        );
        let msg = Message::decode(&record).unwrap();
        let processed = validator.process_spooled(position, &msg);
        stage
            .feed(position, &processed.inputs)
            .into_iter()
            .filter(|e| e.kind == EventKind::Firing)
            .collect()
    }

    #[test]
    fn an_open_alert_on_a_device_that_stays_survives_a_registry_reload() {
        let dir = tempfile::tempdir().unwrap();
        let before = config(dir.path(), &["d0", "d1"]);
        let (mut stage, _) = AlertStage::open(&before);
        let mut validator = Validator::new(before.registry.clone(), before.limits, "weijian/v1");
        let d0_alert = feed(&mut stage, &mut validator, 1, "d0");
        assert_eq!(d0_alert.len(), 1, "G3 fires on d0");
        assert_eq!(feed(&mut stage, &mut validator, 2, "d1").len(), 1);
        assert_eq!(stage.open_alerts(), 2);

        // d1 leaves the registry, d2 joins it.
        let after = config(dir.path(), &["d0", "d2"]);
        validator.set_registry(after.registry.clone());
        let swap = stage.set_registry(&after.registry);
        assert_eq!(swap.dropped_devices, vec!["d1".to_owned()]);
        assert!(swap.dropped_sites.is_empty());
        assert_eq!(swap.open_alerts_dropped, 1);
        assert_eq!(stage.open_alerts(), 1, "d0's alert is still open");

        // d0's alert carries on (not announced again); d2 reaches the rules.
        assert!(feed(&mut stage, &mut validator, 3, "d0").is_empty());
        let d2_alert = feed(&mut stage, &mut validator, 4, "d2");
        assert_eq!(d2_alert.len(), 1);
        assert_eq!(stage.open_alerts(), 2);
    }
}
