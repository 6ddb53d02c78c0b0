//! The one catalogue of human texts: every Chinese (and English) word a notice, summary or
//! evidence line shows comes from here: metric names with units, limit types (upper limit,
//! lower limit, band) and their breach and recovery phrases, levels, event and notice kinds,
//! rule families, evidence labels and times (Beijing time, written in Chinese).
//!
//! Rules of the Chinese texts (issue 15, checked by `text/tests.rs`): Chinese metric names
//! with units, never a code identifier (`free_chlorine_mg_l`) or an English word; Beijing time
//! only, as `12月6日 14:05`; the alert is a 预警 (domain reference section E, 预警分级: 一级红色
//! .. 四级蓝色), never the other word (`tests/tests/terms.rs`).
//!
//! The module sits low in the crate (it uses only `model`, `level`, `event` and the
//! sterilizer programs), so
//! the rule texts, the delivery texts and the service's notifiers can all use it.

use crate::event::EventKind;
use crate::level::Level;
use crate::model::{civil_from_days, Metric, Timestamp};
use crate::sterilization::Program;

/// The term for an alert in Chinese (预警分级, domain reference section E). DingTalk robots
/// with the "custom keyword" option must list it: every notice title contains it.
pub const ALERT_ZH: &str = "预警";

/// A text in Chinese and in English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Texts {
    pub zh: &'static str,
    pub en: &'static str,
}

const fn t(zh: &'static str, en: &'static str) -> Texts {
    Texts { zh, en }
}

/// How a metric is named and measured, in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricText {
    /// Chinese name, e.g. 游离氯.
    pub zh: &'static str,
    /// English name, e.g. free chlorine.
    pub en: &'static str,
    /// Unit as written after a value in both languages (`mg/L`, `NTU`, `°C`); empty when the
    /// quantity has none (pH, states).
    pub unit: &'static str,
}

/// The catalogue entry of `m`. Units after GB 5749-2022 Table 1 (mg/L, NTU, pH without a
/// unit) and WS 310.3 (chamber temperature °C, pressure kPa).
pub const fn metric(m: Metric) -> MetricText {
    const fn mt(zh: &'static str, en: &'static str, unit: &'static str) -> MetricText {
        MetricText { zh, en, unit }
    }
    match m {
        Metric::TurbidityNtu => mt("浑浊度", "turbidity", "NTU"),
        Metric::Ph => mt("pH", "pH", ""),
        Metric::FreeChlorineMgL => mt("游离氯", "free chlorine", "mg/L"),
        Metric::TotalChlorineMgL => mt("总氯", "total chlorine", "mg/L"),
        Metric::ChlorineDioxideMgL => mt("二氧化氯", "chlorine dioxide", "mg/L"),
        Metric::OzoneMgL => mt("臭氧", "ozone", "mg/L"),
        Metric::TemperatureC => mt("温度", "temperature", "°C"),
        Metric::ConductivityUsCm => mt("电导率", "conductivity", "μS/cm"),
        Metric::HumidityPct => mt("相对湿度", "relative humidity", "%"),
        Metric::DoorOpen => mt("门开关状态", "door state", ""),
        Metric::UvLampOn => mt("紫外灯开关状态", "UV lamp state", ""),
        Metric::ChamberTempC => mt("灭菌室温度", "chamber temperature", "°C"),
        Metric::ChamberPressureKpa => mt(
            "灭菌室压力（绝对压力）",
            "chamber pressure (absolute)",
            "kPa",
        ),
        Metric::LoadTempC => mt("负载温度", "load temperature", "°C"),
    }
}

/// A number as shown to people: at most three decimals, no trailing zeros (`0.038`, `8.5`,
/// `12`); a non-finite value is `?`.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "?".to_owned();
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// A metric's Chinese name followed by a Chinese phrase: `游离氯低于`, `pH 超过` (a space
/// only after a name ending in a Latin letter).
pub fn name_then(m: Metric, phrase: &str) -> String {
    let name = metric(m).zh;
    if name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        format!("{name} {phrase}")
    } else {
        format!("{name}{phrase}")
    }
}

/// A value of `m` with its unit: `0.038 mg/L`, `8.44` (pH), `31 °C`.
pub fn quantity(m: Metric, v: f64) -> String {
    let unit = metric(m).unit;
    if unit.is_empty() {
        number(v)
    } else if unit == "%" {
        format!("{}%", number(v))
    } else {
        format!("{} {unit}", number(v))
    }
}

/// What kind of limit a threshold rule sets at a site: chosen from the rule's limits, never
/// from comparing a value with a limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LimitType {
    /// Only a maximum (turbidity ≤ 1 NTU): 上限.
    Upper(f64),
    /// Only a minimum (free chlorine ≥ 0.05 mg/L at the tap): 下限.
    Lower(f64),
    /// Both (pH 6.5–8.5): 范围.
    Band(f64, f64),
}

/// Which side of its limits a value breached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Above,
    Below,
}

impl LimitType {
    /// The type of the limits `low` (breach below) and `high` (breach above).
    pub const fn of(low: Option<f64>, high: Option<f64>) -> Option<LimitType> {
        match (low, high) {
            (Some(l), Some(h)) => Some(Self::Band(l, h)),
            (Some(l), None) => Some(Self::Lower(l)),
            (None, Some(h)) => Some(Self::Upper(h)),
            (None, None) => None,
        }
    }

    /// The side a breaching value `v` is on: the rule's type decides; in a band the side the
    /// value is past (a value inside the band, as a firing sample may be, is `None`).
    pub fn side_of(self, v: f64) -> Option<Side> {
        match self {
            Self::Upper(_) => Some(Side::Above),
            Self::Lower(_) => Some(Side::Below),
            Self::Band(l, _) if v < l => Some(Side::Below),
            Self::Band(_, h) if v > h => Some(Side::Above),
            Self::Band(..) => None,
        }
    }

    /// `(zh, en)` name of the limit on `side`: `上限 8.5 (upper limit 8.5)`, with the unit.
    pub fn limit_words(self, m: Metric, side: Side) -> (String, String) {
        let (l, h) = match self {
            Self::Upper(h) => (h, h),
            Self::Lower(l) => (l, l),
            Self::Band(l, h) => (l, h),
        };
        match side {
            Side::Above => (
                format!("{}{}", DIRECTION_UPPER.zh, space_q(m, h)),
                format!("{} {}", DIRECTION_UPPER.en, quantity(m, h)),
            ),
            Side::Below => (
                format!("{}{}", DIRECTION_LOWER.zh, space_q(m, l)),
                format!("{} {}", DIRECTION_LOWER.en, quantity(m, l)),
            ),
        }
    }

    /// `(zh, en)` of a breach of `m` on `side`: `超过上限 8.5` / `above the upper limit 8.5`.
    pub fn breach_words(self, m: Metric, side: Side) -> (String, String) {
        let (zh, en) = self.limit_words(m, side);
        match side {
            Side::Above => (format!("超过{zh}"), format!("above the {en}")),
            Side::Below => (format!("低于{zh}"), format!("below the {en}")),
        }
    }

    /// `(zh, en)` of a recovery: `已恢复至上限 8.5 以下`, `已回升至下限 0.05 mg/L 以上`,
    /// `已回到范围 6.5–8.5 内`.
    pub fn recovery_words(self, m: Metric) -> (String, String) {
        match self {
            Self::Upper(h) => (
                format!("已恢复至{}{} 以下", DIRECTION_UPPER.zh, space_q(m, h)),
                format!("back below the {} {}", DIRECTION_UPPER.en, quantity(m, h)),
            ),
            Self::Lower(l) => (
                format!("已回升至{}{} 以上", DIRECTION_LOWER.zh, space_q(m, l)),
                format!("back above the {} {}", DIRECTION_LOWER.en, quantity(m, l)),
            ),
            Self::Band(l, h) => (
                format!("已回到{}{} 内", DIRECTION_BAND.zh, space_band(m, l, h)),
                format!("back within the {} {}", DIRECTION_BAND.en, band(m, l, h)),
            ),
        }
    }
}

/// ` 8.5` or ` 0.05 mg/L`: a quantity after a Chinese word, with the separating space.
fn space_q(m: Metric, v: f64) -> String {
    format!(" {}", quantity(m, v))
}

fn space_band(m: Metric, l: f64, h: f64) -> String {
    format!(" {}", band(m, l, h))
}

/// `6.5–8.5` or `0.05–2 mg/L`.
pub fn band(m: Metric, l: f64, h: f64) -> String {
    let unit = metric(m).unit;
    if unit.is_empty() {
        format!("{}–{}", number(l), number(h))
    } else {
        format!("{}–{} {unit}", number(l), number(h))
    }
}

/// Direction words.
pub const DIRECTION_UPPER: Texts = t("上限", "upper limit");
pub const DIRECTION_LOWER: Texts = t("下限", "lower limit");
pub const DIRECTION_BAND: Texts = t("范围", "range");

/// "The worst value of the breach": `超标期间最高 8.62` / `highest during the breach 8.62`.
pub fn worst_words(m: Metric, side: Side, worst: f64) -> (String, String) {
    match side {
        Side::Above => (
            format!("超标期间最高 {}", quantity(m, worst)),
            format!("highest during the breach {}", quantity(m, worst)),
        ),
        Side::Below => (
            format!("超标期间最低 {}", quantity(m, worst)),
            format!("lowest during the breach {}", quantity(m, worst)),
        ),
    }
}

/// `一级红色` (level label and colour, as in 预警分级).
pub fn level_zh(l: Level) -> String {
    format!("{}{}", l.label_zh(), l.colour_zh())
}

/// `一级（红色，特别严重）`.
pub fn level_long_zh(l: Level) -> String {
    format!("{}（{}，{}）", l.label_zh(), l.colour_zh(), l.name_zh())
}

/// `Level I red`.
pub fn level_en(l: Level) -> String {
    format!("Level {} {}", l.as_str(), l.colour())
}

/// `Level I (red, critical)`.
pub fn level_long_en(l: Level) -> String {
    format!("Level {} ({}, {})", l.as_str(), l.colour(), l.name_en())
}

/// An event kind as named in summaries.
pub const fn event_kind(k: EventKind) -> Texts {
    match k {
        EventKind::Pending => t("观察中", "pending"),
        EventKind::Firing => t("新预警", "new alert"),
        EventKind::LevelChanged => t("级别变更", "level changed"),
        EventKind::Resolved => t("已恢复", "resolved"),
    }
}

/// The kind of a summary of an alert a supervisor closed by hand.
pub const CLOSED_MANUALLY: Texts = t("已解除", "resolved manually");

/// Notice kinds (why a notice is sent); `delivery::NoticeKind` maps onto these.
pub const NOTICE_NEW: Texts = t("新预警", "new alert");
pub const NOTICE_LEVEL_CHANGED: Texts = t("级别变更", "level changed");
pub const NOTICE_REPEAT: Texts = t("未确认提醒", "still unacknowledged");
pub const NOTICE_ESCALATED: Texts = t("逾期未确认·升级上报", "escalated: not acknowledged in time");
pub const NOTICE_RESOLVED: Texts = t("已恢复", "resolved");
pub const NOTICE_ACKNOWLEDGED: Texts = t("已确认", "acknowledged");

/// Rule families by the first letter of a rule id.
pub const fn rule_family(first: char) -> Texts {
    match first {
        'W' => t("饮用水水质", "drinking water"),
        'M' => t("医疗废物", "medical waste"),
        'S' => t("口腔器械灭菌", "dental sterilization"),
        'G' => t("监测设备", "monitoring device"),
        _ => t("其他", "other"),
    }
}

/// A sterilizer program in Chinese (WS 310.2: 预真空 and 下排气 cycles, the Bowie-Dick test).
pub const fn program_zh(p: Program) -> &'static str {
    match p {
        Program::Prevac134 => "预真空 134 °C",
        Program::Prevac132 => "预真空 132 °C",
        Program::Gravity121Instruments => "下排气 121 °C 器械",
        Program::Gravity121Textiles => "下排气 121 °C 敷料",
        Program::BowieDick => "B-D 测试",
        Program::LeakTest => "真空泄漏测试",
    }
}

/// Labels of evidence lines.
pub const EVIDENCE: Texts = t("证据", "Evidence");
pub const EVIDENCE_METRIC: Texts = t("指标", "metric");
pub const EVIDENCE_VALUE: Texts = t("当前值", "value");
pub const EVIDENCE_LIMIT: Texts = t("限值", "limit");
pub const EVIDENCE_WORST: Texts = t("超标期间最差值", "worst value");
pub const EVIDENCE_SINCE: Texts = t("开始时间", "since");
pub const EVIDENCE_DETAIL: Texts = t("说明", "detail");
pub const WHAT_TO_DO: Texts = t("处置建议", "What to do");
/// The link to an open alert's page (also the DingTalk button), and to a closed one's.
pub const LINK_ACK: Texts = t("查看并确认", "Open and acknowledge");
pub const LINK_VIEW: Texts = t("查看详情", "Open");
pub const SITE_WIDE: Texts = t("全站", "site-wide");
pub const DEVICE: Texts = t("设备", "device");

/// Separates the English and the Chinese part of a bilingual evidence text (a tracker's
/// `detail`): each language's text shows its own part.
pub const BOTH: &str = " ‖ ";

/// A bilingual evidence text: English, then Chinese.
pub fn both(en: impl AsRef<str>, zh: impl AsRef<str>) -> String {
    format!("{}{BOTH}{}", en.as_ref(), zh.as_ref())
}

/// The Chinese part of a bilingual text; empty when it has none (a text from before texts
/// were bilingual is English, and English never goes into a Chinese text).
pub fn zh_part(text: &str) -> &str {
    text.split_once(BOTH).map_or("", |(_, zh)| zh)
}

/// The English part of a bilingual text (all of it when it has no Chinese part).
pub fn en_part(text: &str) -> &str {
    text.split_once(BOTH).map_or(text, |(en, _)| en)
}

/// Beijing time (UTC+8, no daylight saving) written in Chinese: `12月6日 14:05`.
pub fn time_zh(ts: Timestamp) -> String {
    let (_, mo, d, h, mi) = beijing_parts(ts);
    format!("{mo}月{d}日 {h:02}:{mi:02}")
}

/// Beijing time with the year, for dates that may lie in another year: `2026年12月6日 14:05`.
pub fn date_time_zh(ts: Timestamp) -> String {
    let (y, mo, d, h, mi) = beijing_parts(ts);
    format!("{y}年{mo}月{d}日 {h:02}:{mi:02}")
}

/// Beijing time for English readers: `2026-12-06 14:05 Beijing time`.
pub fn time_en(ts: Timestamp) -> String {
    let (y, mo, d, h, mi) = beijing_parts(ts);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02} Beijing time")
}

/// `(year, month, day, hour, minute)` in Beijing time.
fn beijing_parts(ts: Timestamp) -> (i64, u32, u32, i64, i64) {
    let secs =
        ts.0.div_euclid(Timestamp::MICROS_PER_SEC)
            .saturating_add(8 * 3600);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (y, mo, d, sod / 3600, (sod / 60) % 60)
}

/// A duration in Chinese: `45 分钟`, `3 小时 20 分钟`, `2 天 4 小时`.
pub fn duration_zh(secs: i64) -> String {
    let m = secs.max(0) / 60;
    match (m / 1440, (m / 60) % 24, m % 60) {
        (0, 0, mi) => format!("{mi} 分钟"),
        (0, h, 0) => format!("{h} 小时"),
        (0, h, mi) => format!("{h} 小时 {mi} 分钟"),
        (d, 0, _) => format!("{d} 天"),
        (d, h, _) => format!("{d} 天 {h} 小时"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_a_chinese_name_without_code_identifiers() {
        for m in Metric::ALL {
            let e = metric(m);
            assert!(!e.zh.is_empty() && !e.en.is_empty(), "{m}");
            assert!(!e.zh.contains('_') && !e.en.contains('_'), "{m}: {e:?}");
            assert!(!e.zh.is_ascii() || m == Metric::Ph, "{m}");
        }
        assert_eq!(quantity(Metric::FreeChlorineMgL, 0.038), "0.038 mg/L");
        assert_eq!(quantity(Metric::Ph, 8.44), "8.44");
        assert_eq!(quantity(Metric::TurbidityNtu, 1.0), "1 NTU");
        assert_eq!(quantity(Metric::HumidityPct, 65.0), "65%");
    }

    #[test]
    fn limit_type_comes_from_the_limits_not_from_the_value() {
        let band = LimitType::of(Some(6.5), Some(8.5)).unwrap();
        assert_eq!(band.side_of(8.44), None);
        assert_eq!(band.side_of(8.6), Some(Side::Above));
        let upper = LimitType::of(None, Some(1.0)).unwrap();
        // Reported on a value below the limit (a firing sample back under it): still the upper.
        assert_eq!(upper.side_of(0.9), Some(Side::Above));
        assert_eq!(
            upper.breach_words(Metric::TurbidityNtu, Side::Above).0,
            "超过上限 1 NTU"
        );
        assert_eq!(band.recovery_words(Metric::Ph).0, "已回到范围 6.5–8.5 内");
        let lower = LimitType::of(Some(0.05), None).unwrap();
        assert_eq!(
            lower.recovery_words(Metric::FreeChlorineMgL).0,
            "已回升至下限 0.05 mg/L 以上"
        );
        assert_eq!(
            LimitType::Upper(8.5).recovery_words(Metric::Ph).0,
            "已恢复至上限 8.5 以下"
        );
    }

    #[test]
    fn times_are_beijing_time_in_chinese() {
        // 2026-12-06T06:05:00Z is 14:05 in Beijing.
        let ts = Timestamp::from_secs(1_796_537_100);
        assert_eq!(time_zh(ts), "12月6日 14:05");
        assert_eq!(date_time_zh(ts), "2026年12月6日 14:05");
        assert_eq!(time_en(ts), "2026-12-06 14:05 Beijing time");
        assert_eq!(duration_zh(200 * 60), "3 小时 20 分钟");
    }

    #[test]
    fn the_documented_catalogue_table_matches_the_catalogue() {
        let doc = include_str!("../../../docs/alert-delivery.md");
        for m in Metric::ALL {
            let e = metric(m);
            let unit = if e.unit.is_empty() { "(none)" } else { e.unit };
            let row = format!("| `{}` | {} | {} | {unit} |", m.name(), e.zh, e.en);
            assert!(
                doc.contains(&row),
                "docs/alert-delivery.md lacks the row {row}"
            );
        }
    }

    #[test]
    fn levels_follow_the_warning_grading() {
        assert_eq!(level_zh(Level::I), "一级红色");
        assert_eq!(level_zh(Level::IV), "四级蓝色");
        assert_eq!(level_long_zh(Level::II), "二级（橙色，严重）");
        assert_eq!(level_en(Level::III), "Level III yellow");
        assert_eq!(event_kind(EventKind::Firing).zh, "新预警");
    }
}
