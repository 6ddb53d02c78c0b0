//! The domain vocabulary shared by ingestion and alerting: device kinds, the metric catalogue
//! (docs/payload-contract.md) with physical ranges, event time, data flags, readings, events
//! and the sites of the supervision grid.
//!
//! Everything here is plain data with no I/O so both crates (and tests) can build it freely.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Event time: microseconds since the Unix epoch, UTC. QuestDB's native timestamp precision.
///
/// This is always the *device's* clock (the `ts` of a reading, the `DataTime` of an HJ 212
/// frame); weijian never substitutes its own clock for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const MICROS_PER_SEC: i64 = 1_000_000;
    pub const MICROS_PER_MIN: i64 = 60 * Self::MICROS_PER_SEC;

    pub const fn from_millis(ms: i64) -> Self {
        Self(ms.saturating_mul(1_000))
    }
    pub const fn from_secs(s: i64) -> Self {
        Self(s.saturating_mul(Self::MICROS_PER_SEC))
    }
    pub const fn as_micros(self) -> i64 {
        self.0
    }
    pub const fn as_millis(self) -> i64 {
        self.0.div_euclid(1_000)
    }
    /// `self + secs` seconds, saturating.
    pub const fn plus_secs(self, secs: i64) -> Self {
        Self(
            self.0
                .saturating_add(secs.saturating_mul(Self::MICROS_PER_SEC)),
        )
    }
    /// Whole seconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn secs_since(self, earlier: Timestamp) -> i64 {
        self.0
            .saturating_sub(earlier.0)
            .div_euclid(Self::MICROS_PER_SEC)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-22T00:00:00.250Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(Self::MICROS_PER_SEC);
        let millis = self.0.rem_euclid(Self::MICROS_PER_SEC) / 1_000;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
/// Inverse of [`civil_from_days`]; `month` is 1..=12 and `day` 1..=31 (not checked against
/// the month's length).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), month and day
/// 1-based. Howard Hinnant's algorithm; inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The three kinds of monitored equipment (docs/payload-contract.md, metric catalogue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// Drinking-water online monitor (出厂水 / 末梢水).
    WaterMonitor,
    /// Medical-waste temporary store sensors, scales, door controllers (医疗废物暂存间).
    WasteStore,
    /// Dental instrument steam sterilizer (口腔器械压力蒸汽灭菌器).
    Autoclave,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 3] = [Self::WaterMonitor, Self::WasteStore, Self::Autoclave];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WaterMonitor => "water_monitor",
            Self::WasteStore => "waste_store",
            Self::Autoclave => "autoclave",
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three kinds of supervised site. A site's kind decides which device kinds may report there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    /// A drinking-water plant outlet or a network point.
    Water,
    /// A medical-waste temporary store.
    WasteStore,
    /// A dental clinic's sterilization room.
    DentalSterilization,
}

impl SiteKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Water => "water",
            Self::WasteStore => "waste_store",
            Self::DentalSterilization => "dental_sterilization",
        }
    }
    /// The device kind that reports at this kind of site.
    pub const fn device_kind(self) -> DeviceKind {
        match self {
            Self::Water => DeviceKind::WaterMonitor,
            Self::WasteStore => DeviceKind::WasteStore,
            Self::DentalSterilization => DeviceKind::Autoclave,
        }
    }
}

/// Every metric of the catalogue (docs/payload-contract.md). The unit is in the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    TurbidityNtu,
    Ph,
    FreeChlorineMgL,
    TotalChlorineMgL,
    ChlorineDioxideMgL,
    OzoneMgL,
    TemperatureC,
    ConductivityUsCm,
    HumidityPct,
    DoorOpen,
    UvLampOn,
    ChamberTempC,
    /// Absolute pressure, kPa.
    ChamberPressureKpa,
    LoadTempC,
}

impl Metric {
    pub const ALL: [Metric; 14] = [
        Self::TurbidityNtu,
        Self::Ph,
        Self::FreeChlorineMgL,
        Self::TotalChlorineMgL,
        Self::ChlorineDioxideMgL,
        Self::OzoneMgL,
        Self::TemperatureC,
        Self::ConductivityUsCm,
        Self::HumidityPct,
        Self::DoorOpen,
        Self::UvLampOn,
        Self::ChamberTempC,
        Self::ChamberPressureKpa,
        Self::LoadTempC,
    ];

    /// The wire name, which is also the QuestDB column name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::TurbidityNtu => "turbidity_ntu",
            Self::Ph => "ph",
            Self::FreeChlorineMgL => "free_chlorine_mg_l",
            Self::TotalChlorineMgL => "total_chlorine_mg_l",
            Self::ChlorineDioxideMgL => "chlorine_dioxide_mg_l",
            Self::OzoneMgL => "ozone_mg_l",
            Self::TemperatureC => "temperature_c",
            Self::ConductivityUsCm => "conductivity_us_cm",
            Self::HumidityPct => "humidity_pct",
            Self::DoorOpen => "door_open",
            Self::UvLampOn => "uv_lamp_on",
            Self::ChamberTempC => "chamber_temp_c",
            Self::ChamberPressureKpa => "chamber_pressure_kpa",
            Self::LoadTempC => "load_temp_c",
        }
    }

    /// Looks a wire name up in the catalogue (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Metric> {
        Some(match name {
            "turbidity_ntu" => Self::TurbidityNtu,
            "ph" => Self::Ph,
            "free_chlorine_mg_l" => Self::FreeChlorineMgL,
            "total_chlorine_mg_l" => Self::TotalChlorineMgL,
            "chlorine_dioxide_mg_l" => Self::ChlorineDioxideMgL,
            "ozone_mg_l" => Self::OzoneMgL,
            "temperature_c" => Self::TemperatureC,
            "conductivity_us_cm" => Self::ConductivityUsCm,
            "humidity_pct" => Self::HumidityPct,
            "door_open" => Self::DoorOpen,
            "uv_lamp_on" => Self::UvLampOn,
            "chamber_temp_c" => Self::ChamberTempC,
            "chamber_pressure_kpa" => Self::ChamberPressureKpa,
            "load_temp_c" => Self::LoadTempC,
            _ => return None,
        })
    }

    /// Whether `kind` devices report this metric (the catalogue of docs/payload-contract.md).
    pub const fn belongs_to(self, kind: DeviceKind) -> bool {
        matches!(
            (kind, self),
            (
                DeviceKind::WaterMonitor,
                Self::TurbidityNtu
                    | Self::Ph
                    | Self::FreeChlorineMgL
                    | Self::TotalChlorineMgL
                    | Self::ChlorineDioxideMgL
                    | Self::OzoneMgL
                    | Self::TemperatureC
                    | Self::ConductivityUsCm
            ) | (
                DeviceKind::WasteStore,
                Self::TemperatureC | Self::HumidityPct | Self::DoorOpen | Self::UvLampOn
            ) | (
                DeviceKind::Autoclave,
                Self::ChamberTempC | Self::ChamberPressureKpa | Self::LoadTempC
            )
        )
    }

    /// The metrics `kind` devices report, in catalogue order.
    pub fn of_kind(kind: DeviceKind) -> impl Iterator<Item = Metric> {
        Self::ALL.into_iter().filter(move |m| m.belongs_to(kind))
    }

    /// State metrics (door, lamp) carry booleans on the wire, stored as 0/1.
    pub const fn is_state(self) -> bool {
        matches!(self, Self::DoorOpen | Self::UvLampOn)
    }

    /// The physical range of the sensor, inclusive. A value outside it is a sensor fault
    /// (rule G3), never a water-quality or sterilization finding. Product defaults, chosen
    /// wide enough for any working sensor (pH 0-14 is the scale itself).
    pub const fn physical_range(self) -> (f64, f64) {
        match self {
            Self::TurbidityNtu => (0.0, 4000.0),
            Self::Ph => (0.0, 14.0),
            Self::FreeChlorineMgL
            | Self::TotalChlorineMgL
            | Self::ChlorineDioxideMgL
            | Self::OzoneMgL => (0.0, 20.0),
            Self::TemperatureC | Self::ChamberTempC | Self::LoadTempC => (-40.0, 200.0),
            Self::ConductivityUsCm => (0.0, 100_000.0),
            Self::HumidityPct => (0.0, 100.0),
            Self::DoorOpen | Self::UvLampOn => (0.0, 1.0),
            Self::ChamberPressureKpa => (0.0, 500.0),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Per-value data flag (HJ 212-2017 Table 8, plus `P` from HJ/T 212-2005). JSON telemetry is
/// always `N` unless the device is in a `maintenance` event window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum DataFlag {
    /// Instrument working normally: the only flag whose values feed quality rules.
    #[default]
    N,
    /// Instrument stopped (2005: the *source* stopped).
    F,
    /// Maintenance.
    M,
    /// Manually entered set value.
    S,
    /// Instrument fault.
    D,
    /// Calibration.
    C,
    /// Above the measurement upper limit.
    T,
    /// Instrument <-> logger communication fault (2017 only).
    B,
    /// Power fault (2005 only).
    P,
}

impl DataFlag {
    pub const fn as_char(self) -> char {
        match self {
            Self::N => 'N',
            Self::F => 'F',
            Self::M => 'M',
            Self::S => 'S',
            Self::D => 'D',
            Self::C => 'C',
            Self::T => 'T',
            Self::B => 'B',
            Self::P => 'P',
        }
    }
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::N => "N",
            Self::F => "F",
            Self::M => "M",
            Self::S => "S",
            Self::D => "D",
            Self::C => "C",
            Self::T => "T",
            Self::B => "B",
            Self::P => "P",
        }
    }
    pub fn from_char(c: char) -> Option<Self> {
        Some(match c {
            'N' => Self::N,
            'F' => Self::F,
            'M' => Self::M,
            'S' => Self::S,
            'D' => Self::D,
            'C' => Self::C,
            'T' => Self::T,
            'B' => Self::B,
            'P' => Self::P,
            _ => return None,
        })
    }
    /// Only `N` values are water-quality evidence.
    pub const fn is_normal(self) -> bool {
        matches!(self, Self::N)
    }
}

/// Which series a value belongs to: an instantaneous sample or an interval statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// A sample at an instant (JSON telemetry, HJ 212 CN 2011 `-Rtd`).
    Instant,
    /// HJ 212 CN 2051 minute data; `ts` is the interval start.
    Minute,
    /// HJ 212 CN 2061 hourly data; `ts` is the interval start.
    Hour,
    /// HJ 212 CN 2031 daily data; `ts` is the interval start.
    Day,
}

impl Period {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Instant => "instant",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }
}

/// The statistic a value is: the sample itself or an interval min/avg/max/cumulative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    Value,
    Min,
    Avg,
    Max,
    Cou,
}

impl Stat {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Value => "value",
            Self::Min => "min",
            Self::Avg => "avg",
            Self::Max => "max",
            Self::Cou => "cou",
        }
    }
}

/// A cheap, clonable identifier (site id, device id).
pub type Id = Arc<str>;

/// One validated value from one device: what the rule engine consumes.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub site: Id,
    pub device: Id,
    pub ts: Timestamp,
    pub metric: Metric,
    pub value: f64,
    pub flag: DataFlag,
    pub period: Period,
    pub stat: Stat,
    /// The gateway's per-device sequence number, if it sends one.
    pub seq: Option<u64>,
}

impl Reading {
    /// Whether this value is evidence about water quality: flag `N`, and either an instant
    /// sample or an interval average.
    pub fn is_quality_evidence(&self) -> bool {
        self.flag.is_normal() && matches!(self.stat, Stat::Value | Stat::Avg)
    }
}

/// Water sampling point (GB 5749-2022 出厂水 / 末梢水): selects the residual lower bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaterPoint {
    Outlet,
    NetworkEnd,
}

/// Disinfection method: selects the residual indicator (GB 5749-2022 Table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disinfectant {
    FreeChlorine,
    Chloramine,
    ChlorineDioxide,
    Ozone,
}

impl Disinfectant {
    /// The metric that measures this disinfectant's residual.
    pub const fn metric(self) -> Metric {
        match self {
            Self::FreeChlorine => Metric::FreeChlorineMgL,
            Self::Chloramine => Metric::TotalChlorineMgL,
            Self::ChlorineDioxide => Metric::ChlorineDioxideMgL,
            Self::Ozone => Metric::OzoneMgL,
        }
    }
}

/// Attributes of a drinking-water site that select its limits (docs/alert-rules.md, water).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaterSite {
    pub point: WaterPoint,
    pub disinfectant: Disinfectant,
    /// 小型集中式供水: < 1000 m3/d or < 10 000 people; turbidity limit 3 NTU instead of 1.
    pub small_supply: bool,
}

/// Attributes of a medical-waste store (docs/alert-rules.md, medical-waste stores).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WasteStoreSite {
    pub refrigerated: bool,
    pub max_temp_c: Option<f64>,
    /// Local-time windows `HH:MM-HH:MM` in which the door may open for collection.
    pub collection_windows: Vec<String>,
}

/// Sterilizer type of a dental site (docs/alert-rules.md, dental sterilizers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SterilizerType {
    Prevac,
    Gravity,
}

/// Attributes of a dental sterilization site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DentalSite {
    pub sterilizer: SterilizerType,
    pub bi_interval_days: u32,
}

/// Kind-specific site attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SiteAttributes {
    Water(WaterSite),
    WasteStore(WasteStoreSite),
    DentalSterilization(DentalSite),
}

impl SiteAttributes {
    pub const fn kind(&self) -> SiteKind {
        match self {
            Self::Water(_) => SiteKind::Water,
            Self::WasteStore(_) => SiteKind::WasteStore,
            Self::DentalSterilization(_) => SiteKind::DentalSterilization,
        }
    }
}

/// Where a site sits in the supervision grid (区 -> 街道 -> 社区).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GridPath {
    pub district: String,
    pub street: String,
    pub community: String,
}

impl fmt::Display for GridPath {
    /// `district/street/community`, the form stored in QuestDB and published in alerts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.district, self.street, self.community)
    }
}

/// A supervised site as the rule engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub id: Id,
    pub name: String,
    pub grid: GridPath,
    pub attributes: SiteAttributes,
}

/// A registered device as the rule engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: Id,
    pub site: Id,
    pub kind: DeviceKind,
    /// How often the device is expected to report; drives the offline rule G1.
    pub expected_interval_secs: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_round_trips_through_its_wire_name() {
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        assert_eq!(Metric::from_name("PH"), None);
    }

    #[test]
    fn every_metric_belongs_to_exactly_one_kind_except_temperature() {
        for m in Metric::ALL {
            let kinds = DeviceKind::ALL.iter().filter(|k| m.belongs_to(**k)).count();
            let expected = if m == Metric::TemperatureC { 2 } else { 1 };
            assert_eq!(kinds, expected, "{m}");
        }
    }

    #[test]
    fn timestamps_display_as_rfc3339_utc() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        // 2026-11-22T00:00:00.250Z
        assert_eq!(
            Timestamp::from_millis(1_795_305_600_250).to_string(),
            "2026-11-22T00:00:00.250Z"
        );
        assert_eq!(
            Timestamp::from_secs(-1).to_string(),
            "1969-12-31T23:59:59.000Z"
        );
    }

    #[test]
    fn days_and_civil_dates_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2026, 11, 22), 1_795_305_600 / 86_400);
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
        // Every day from 1600 to 2400 (leap centuries included), both ways.
        for days in days_from_civil(1600, 1, 1)..=days_from_civil(2400, 12, 31) {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && (1..=31).contains(&d), "{days}");
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn flags_round_trip_and_only_n_is_normal() {
        for c in ['N', 'F', 'M', 'S', 'D', 'C', 'T', 'B', 'P'] {
            let f = DataFlag::from_char(c).unwrap();
            assert_eq!(f.as_char(), c);
            assert_eq!(f.is_normal(), c == 'N');
        }
        assert_eq!(DataFlag::from_char('X'), None);
    }
}
