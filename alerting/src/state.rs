//! Per-device and per-site rule state: the open or pending alert trackers and the small amount
//! of history the rules need (last data time, last seq, flag and stuck-value tracking).
//!
//! State is bounded per device (a sparse slot per reported metric plus one tracker per
//! active alert), a few hundred bytes per device. All of it is serde so it can be
//! snapshotted ([`crate::EngineSnapshot`]).

use serde::{Deserialize, Serialize};

use crate::level::Level;
use crate::model::{Metric, Timestamp};

/// Number of metrics in the catalogue: the size of per-metric arrays.
pub const METRICS: usize = Metric::ALL.len();

/// Index of a metric in per-metric arrays (catalogue order).
pub const fn metric_index(m: Metric) -> usize {
    m as usize
}

/// Lifecycle phase of a tracked alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Condition holds, not yet for the pending duration (no alert announced as firing).
    Pending,
    /// Announced as firing; resolves after the clear condition held for the clear duration.
    Firing,
    /// Resolved. Kept (one per identity) only to remember its start, so that the next alert
    /// of the identity always gets a later start and therefore a new alert id.
    Closed,
}

/// The optional last part of an alert identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// One alert per (rule, site, device).
    None,
    /// Per metric (G2 stuck, G3 out of range).
    Metric(Metric),
    /// G4: device clock in the future.
    Clock,
    /// G4: `seq` restart or gap.
    Seq,
    /// S1, S2, S3, S6: one alert per sterilization cycle.
    Cycle(crate::sterilization::CycleTag),
}

impl Subject {
    /// The subject as written in events.
    pub fn label(self) -> Option<String> {
        match self {
            Self::None => None,
            Self::Metric(m) => Some(m.name().to_owned()),
            Self::Clock => Some("clock".to_owned()),
            Self::Seq => Some("seq".to_owned()),
            Self::Cycle(c) => Some(c.as_str().to_owned()),
        }
    }
}

/// One pending or open alert and the evidence it carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tracker {
    /// Index of the rule in the engine's pack (re-resolved from `rule_id` on restore).
    #[serde(skip)]
    pub rule: usize,
    pub rule_id: String,
    pub subject: Subject,
    pub phase: Phase,
    /// When the condition started: part of the alert id.
    pub started_at: Timestamp,
    /// Current level (announced level while firing).
    pub level: Level,
    /// Level demanded by the magnitude of the latest evidence, if any.
    pub mag_level: Option<Level>,
    /// Event time of the latest observation; older observations are ignored.
    pub last_obs: Timestamp,
    /// Pending only: start of the current run of not-clear evidence; the pending duration is
    /// measured from here. `None` while the evidence is clear.
    #[serde(default)]
    pub held_since: Option<Timestamp>,
    /// Since when the clear condition has held without interruption.
    pub clear_since: Option<Timestamp>,
    pub metric: Option<Metric>,
    /// Latest value seen by the rule (breaching while firing, the clear value on resolve).
    pub value: Option<f64>,
    /// The limit the value is compared with.
    pub limit: Option<f64>,
    /// Free-text evidence (clock detail, flags, component rules).
    pub detail: Option<String>,
    /// Threshold rules: the limits that apply at the site (breach below `low`, above
    /// `high`), so texts name the rule's limit type (upper limit, lower limit, band) rather
    /// than guessing it from the value. Absent in snapshots written before they existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    /// Threshold rules: the worst breaching value of this alert (furthest past its limit),
    /// named in its texts. Absent in snapshots written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst: Option<f64>,
    /// Closed only: set when a supervisor closed the alert manually
    /// ([`crate::Engine::close_alert`]). Evidence older than this is ignored, the next alert
    /// of the identity starts no earlier than this, and duration-based conditions (offline,
    /// identical values, monitor status) count their duration again from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_manually_at: Option<Timestamp>,
}

/// The identical-value run of one metric (G2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StuckRun {
    /// `f64::to_bits` of the value: "the same to full precision".
    pub bits: u64,
    pub since: Timestamp,
}

/// One optional value per catalogue metric, stored sparsely: a device reports a handful of
/// the catalogue's metrics, and a full array per device (two of them, 560 bytes) was most of
/// the engine's memory per device at 100,000 devices. A bit mask says which metrics are set
/// and a boxed slice holds their values in catalogue order (16 bytes per set value, no key
/// stored beside it); equality and iteration follow the catalogue. Serialized as the full
/// array (`[null, ..., value, ...]`, one entry per metric), the snapshot format of the fixed
/// arrays it replaces.
#[derive(Debug, Clone, PartialEq)]
pub struct PerMetric<T> {
    /// Bit `i` set: metric index `i` has a value.
    set: u16,
    values: Box<[T]>,
}

// Every metric index has a bit in the mask.
const _: () = assert!(METRICS <= 16);

impl<T> Default for PerMetric<T> {
    fn default() -> Self {
        Self {
            set: 0,
            values: Box::default(),
        }
    }
}

impl<T: Copy> PerMetric<T> {
    /// Bit of metric index `i`, or `None` outside the catalogue.
    fn bit(i: usize) -> Option<u16> {
        (i < METRICS).then(|| 1u16 << i)
    }

    /// Position in `values` of metric index `i` (set or not): how many lower indexes are set.
    fn position(&self, bit: u16) -> usize {
        (self.set & (bit - 1)).count_ones() as usize
    }

    /// The value of metric index `i`, if set.
    pub fn get(&self, i: usize) -> Option<T> {
        let bit = Self::bit(i)?;
        if self.set & bit == 0 {
            return None;
        }
        self.values.get(self.position(bit)).copied()
    }

    /// Sets (`Some`) or clears (`None`) metric index `i`; indexes outside the catalogue are
    /// ignored.
    pub fn set(&mut self, i: usize, value: Option<T>) {
        let Some(bit) = Self::bit(i) else {
            return;
        };
        let at = self.position(bit);
        match (self.set & bit != 0, value) {
            (true, Some(v)) => {
                if let Some(slot) = self.values.get_mut(at) {
                    *slot = v;
                }
            }
            (true, None) => {
                let mut values = std::mem::take(&mut self.values).into_vec();
                if at < values.len() {
                    values.remove(at);
                }
                self.values = values.into_boxed_slice();
                self.set &= !bit;
            }
            (false, Some(v)) => {
                // Exact size: set once per metric and device, and kept for the process life.
                let mut values = Vec::with_capacity(self.values.len() + 1);
                values.extend_from_slice(&self.values);
                values.insert(at.min(values.len()), v);
                self.values = values.into_boxed_slice();
                self.set |= bit;
            }
            (false, None) => {}
        }
    }

    /// The values that are set, in catalogue order.
    pub fn values(&self) -> impl Iterator<Item = T> + '_ {
        self.values.iter().copied()
    }

    fn to_array(&self) -> [Option<T>; METRICS] {
        let mut a = [None; METRICS];
        for (i, slot) in a.iter_mut().enumerate() {
            *slot = self.get(i);
        }
        a
    }
}

impl<T: Copy + Serialize> Serialize for PerMetric<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_array().serialize(serializer)
    }
}

impl<'de, T: Copy + Deserialize<'de>> Deserialize<'de> for PerMetric<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let array = <[Option<T>; METRICS]>::deserialize(deserializer)?;
        let mut set = 0u16;
        let mut values = Vec::new();
        for (i, v) in array.into_iter().enumerate() {
            if let Some(v) = v {
                set |= 1u16 << i;
                values.push(v);
            }
        }
        Ok(Self {
            set,
            values: values.into_boxed_slice(),
        })
    }
}

/// An optional timestamp in 8 bytes instead of 16: `i64::MIN` (290,000 years BC, an instant
/// validation never lets through) stands for none.
#[derive(Clone, Copy, PartialEq, Eq)]
struct OptTs(i64);

impl OptTs {
    const NONE: OptTs = OptTs(i64::MIN);

    fn get(self) -> Option<Timestamp> {
        (self != Self::NONE).then_some(Timestamp(self.0))
    }

    fn from(t: Option<Timestamp>) -> OptTs {
        t.map_or(Self::NONE, |t| OptTs(t.0))
    }
}

impl std::fmt::Debug for OptTs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// Everything the engine remembers about one device.
///
/// Held for every registered device, so it is kept small: the optional timestamps are
/// 8 bytes each (see [`OptTs`]) behind accessors. Serialized as the plain struct of options
/// it was (`{"last_seen": null, ...}`), so snapshots are unchanged.
#[derive(Clone, PartialEq)]
pub struct DeviceState {
    last_seen: OptTs,
    last_heard: OptTs,
    watch_since: OptTs,
    connection_lost: OptTs,
    maintenance_since: OptTs,
    /// Meaningful when `has_seq`.
    last_seq: u64,
    has_seq: bool,
    /// Per metric: since when its values carry a flag other than N.
    pub flag_since: PerMetric<Timestamp>,
    /// Per metric: the current identical-value run.
    pub stuck: PerMetric<StuckRun>,
    /// Pending and open alerts of this device.
    pub trackers: Vec<Tracker>,
}

impl Default for DeviceState {
    fn default() -> Self {
        Self {
            last_seen: OptTs::NONE,
            last_heard: OptTs::NONE,
            watch_since: OptTs::NONE,
            connection_lost: OptTs::NONE,
            maintenance_since: OptTs::NONE,
            last_seq: 0,
            has_seq: false,
            flag_since: PerMetric::default(),
            stuck: PerMetric::default(),
            trackers: Vec::new(),
        }
    }
}

impl DeviceState {
    /// Event time of the latest data (readings, maintenance events).
    pub fn last_seen(&self) -> Option<Timestamp> {
        self.last_seen.get()
    }
    pub fn set_last_seen(&mut self, t: Option<Timestamp>) {
        self.last_seen = OptTs::from(t);
    }

    /// Receive time of the latest message from the device ([`crate::Input::Heard`]).
    pub fn last_heard(&self) -> Option<Timestamp> {
        self.last_heard.get()
    }
    pub fn set_last_heard(&mut self, t: Option<Timestamp>) {
        self.last_heard = OptTs::from(t);
    }

    /// When the device last showed it is alive (G1): the later of the latest data's event time
    /// and the latest message's receive time.
    pub fn last_alive(&self) -> Option<Timestamp> {
        self.last_seen().max(self.last_heard())
    }

    /// First tick after the device was registered: the absence baseline if it never reports.
    pub fn watch_since(&self) -> Option<Timestamp> {
        self.watch_since.get()
    }
    pub fn set_watch_since(&mut self, t: Option<Timestamp>) {
        self.watch_since = OptTs::from(t);
    }

    pub fn last_seq(&self) -> Option<u64> {
        self.has_seq.then_some(self.last_seq)
    }
    pub fn set_last_seq(&mut self, seq: Option<u64>) {
        self.has_seq = seq.is_some();
        self.last_seq = seq.unwrap_or_default();
    }

    /// Set by a last-will Status, cleared by a birth Status.
    pub fn connection_lost(&self) -> Option<Timestamp> {
        self.connection_lost.get()
    }
    pub fn set_connection_lost(&mut self, t: Option<Timestamp>) {
        self.connection_lost = OptTs::from(t);
    }

    /// Start of the current water maintenance window.
    pub fn maintenance_since(&self) -> Option<Timestamp> {
        self.maintenance_since.get()
    }
    pub fn set_maintenance_since(&mut self, t: Option<Timestamp>) {
        self.maintenance_since = OptTs::from(t);
    }

    /// Since when the monitor has not been in normal state (W6), if it is not.
    pub fn abnormal_since(&self) -> Option<Timestamp> {
        self.flag_since
            .values()
            .chain(self.maintenance_since())
            .min()
    }

    /// The metrics whose latest value carries a flag other than N, in catalogue order.
    pub fn abnormal_metrics(&self) -> impl Iterator<Item = Metric> + '_ {
        Metric::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.flag_since.get(*i).is_some())
            .map(|(_, m)| m)
    }
}

impl std::fmt::Debug for DeviceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceState")
            .field("last_seen", &self.last_seen())
            .field("last_heard", &self.last_heard())
            .field("watch_since", &self.watch_since())
            .field("last_seq", &self.last_seq())
            .field("connection_lost", &self.connection_lost())
            .field("maintenance_since", &self.maintenance_since())
            .field("flag_since", &self.flag_since)
            .field("stuck", &self.stuck)
            .field("trackers", &self.trackers)
            .finish()
    }
}

/// The serialized form of [`DeviceState`] (field names and order of the snapshot format).
#[derive(Serialize)]
struct DeviceStateOut<'a> {
    last_seen: Option<Timestamp>,
    watch_since: Option<Timestamp>,
    last_seq: Option<u64>,
    connection_lost: Option<Timestamp>,
    maintenance_since: Option<Timestamp>,
    flag_since: &'a PerMetric<Timestamp>,
    stuck: &'a PerMetric<StuckRun>,
    trackers: &'a [Tracker],
    /// Last, and only when known: snapshots of engines that never heard a device are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_heard: Option<Timestamp>,
}

/// [`DeviceStateOut`], read back.
#[derive(Deserialize)]
struct DeviceStateIn {
    last_seen: Option<Timestamp>,
    watch_since: Option<Timestamp>,
    last_seq: Option<u64>,
    connection_lost: Option<Timestamp>,
    maintenance_since: Option<Timestamp>,
    flag_since: PerMetric<Timestamp>,
    stuck: PerMetric<StuckRun>,
    trackers: Vec<Tracker>,
    /// Absent in snapshots written before receive times were tracked.
    #[serde(default)]
    last_heard: Option<Timestamp>,
}

impl Serialize for DeviceState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        DeviceStateOut {
            last_seen: self.last_seen(),
            watch_since: self.watch_since(),
            last_seq: self.last_seq(),
            connection_lost: self.connection_lost(),
            maintenance_since: self.maintenance_since(),
            flag_since: &self.flag_since,
            stuck: &self.stuck,
            trackers: &self.trackers,
            last_heard: self.last_heard(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DeviceState {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let r = DeviceStateIn::deserialize(deserializer)?;
        let mut st = DeviceState {
            flag_since: r.flag_since,
            stuck: r.stuck,
            trackers: r.trackers,
            ..DeviceState::default()
        };
        st.set_last_seen(r.last_seen);
        st.set_last_heard(r.last_heard);
        st.set_watch_since(r.watch_since);
        st.set_last_seq(r.last_seq);
        st.set_connection_lost(r.connection_lost);
        st.set_maintenance_since(r.maintenance_since);
        Ok(st)
    }
}

/// State of one site: site-scoped trackers (compositions) and counts of firing alerts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteState {
    /// Per rule index: how many alerts of that rule are firing at this site. Grown on the
    /// first firing alert ([`add_firing`]); a missing entry is 0, so the many sites that
    /// never fire hold no counts.
    pub firing: Vec<u32>,
    pub trackers: Vec<Tracker>,
    /// Waste stores only: the bag ledger, door and temperature runs (created at the first
    /// waste input or tick; boxed so other sites pay one pointer).
    pub waste: Option<Box<crate::waste::WasteState>>,
}

/// Adds `delta` (+1 or -1; anything else is ignored) to the firing count of rule index
/// `rule` of a pack of `rules` rules, growing `firing` on the first increment.
pub fn add_firing(firing: &mut Vec<u32>, rule: usize, rules: usize, delta: i8) {
    if delta == 1 && rule < rules && firing.len() <= rule {
        firing.resize(rule + 1, 0);
    }
    if let Some(c) = firing.get_mut(rule) {
        match delta {
            1 => *c = c.saturating_add(1),
            -1 => *c = c.saturating_sub(1),
            _ => {}
        }
    }
}

/// A restart snapshot of the engine (JSON-able). Restoring it keeps pending durations and
/// open alerts; state of devices or rules no longer configured is dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineSnapshot {
    /// Snapshot format version.
    pub format: u32,
    /// `name@version` of the pack that produced it (informational).
    pub pack: String,
    /// Latest tick time seen.
    pub clock: Option<Timestamp>,
    pub devices: Vec<DeviceSnapshot>,
    pub sites: Vec<SiteSnapshot>,
    /// Sterilizer state (cycle in progress, B-D and BI records); absent in older snapshots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sterilizers: Vec<SterilizerSnapshot>,
}

/// One sterilizer's state in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SterilizerSnapshot {
    pub device: String,
    pub state: crate::sterilization::state::SterilizerState,
}

/// One device's state in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceSnapshot {
    /// Shared with the engine's device (a snapshot of 100,000 devices allocated as many
    /// strings).
    pub device: crate::model::Id,
    pub state: DeviceState,
}

/// One site's composite trackers in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteSnapshot {
    pub site: String,
    pub trackers: Vec<Tracker>,
    /// Waste stores: the ledger and door/temperature runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waste: Option<crate::waste::WasteState>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_metric_slots_keep_catalogue_order_and_serialize_as_the_full_array() {
        let mut p = PerMetric::<Timestamp>::default();
        p.set(5, Some(Timestamp(50)));
        p.set(1, Some(Timestamp(10)));
        p.set(METRICS, Some(Timestamp(99)));
        assert_eq!(p.get(1), Some(Timestamp(10)));
        assert_eq!(p.get(2), None);
        assert_eq!(p.get(METRICS), None);
        assert_eq!(
            p.values().collect::<Vec<_>>(),
            [Timestamp(10), Timestamp(50)]
        );
        let json = serde_json::to_string(&p).unwrap();
        let mut array = [None; METRICS];
        array[1] = Some(Timestamp(10));
        array[5] = Some(Timestamp(50));
        assert_eq!(json, serde_json::to_string(&array).unwrap());
        let back: PerMetric<Timestamp> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        p.set(5, None);
        p.set(1, Some(Timestamp(11)));
        assert_eq!(p.values().collect::<Vec<_>>(), [Timestamp(11)]);
        assert_ne!(back, p);
    }

    #[test]
    fn device_state_serializes_as_the_struct_of_options_it_was() {
        let mut st = DeviceState::default();
        assert_eq!(
            serde_json::to_string(&st).unwrap(),
            format!(
                "{{\"last_seen\":null,\"watch_since\":null,\"last_seq\":null,\"connection_lost\":null,\"maintenance_since\":null,\"flag_since\":{},\"stuck\":{},\"trackers\":[]}}",
                serde_json::to_string(&[None::<Timestamp>; METRICS]).unwrap(),
                serde_json::to_string(&[None::<StuckRun>; METRICS]).unwrap(),
            )
        );
        st.set_last_seen(Some(Timestamp(-5)));
        st.set_last_seq(Some(0));
        st.set_maintenance_since(Some(Timestamp(7)));
        st.stuck.set(
            3,
            Some(StuckRun {
                bits: 1,
                since: Timestamp(2),
            }),
        );
        let json = serde_json::to_string(&st).unwrap();
        assert!(json.starts_with("{\"last_seen\":-5,\"watch_since\":null,\"last_seq\":0,"));
        let back: DeviceState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, st);
        assert_eq!(back.last_seq(), Some(0));
        assert_eq!(back.watch_since(), None);
        assert_eq!(back.maintenance_since(), Some(Timestamp(7)));
    }
}
