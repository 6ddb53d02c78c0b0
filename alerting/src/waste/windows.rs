//! Collection windows of a waste store (`collection_windows = ["08:00-10:00", ...]`): local
//! China Standard Time (UTC+8, no daylight saving) minutes of the day in which the store's door
//! may open for intake and pickup (M5).

use crate::model::Timestamp;

/// China Standard Time offset from UTC in seconds.
const CST_OFFSET_SECS: i64 = 8 * 3600;

/// One window `[start, end)` in minutes of the local day; `end < start` wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_min: u16,
    pub end_min: u16,
}

impl Window {
    /// Parses `HH:MM-HH:MM`. `None` when malformed (ingest's configuration check rejects those
    /// before they reach the engine).
    pub fn parse(s: &str) -> Option<Window> {
        let hhmm = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        };
        let (a, b) = s.split_once('-')?;
        Some(Window {
            start_min: hhmm(a)?,
            end_min: hhmm(b)?,
        })
    }

    /// Whether local minute-of-day `m` is inside the window.
    pub fn contains(self, m: u16) -> bool {
        if self.start_min <= self.end_min {
            (self.start_min..self.end_min).contains(&m)
        } else {
            m >= self.start_min || m < self.end_min
        }
    }
}

/// Minute of the local (China Standard Time) day of `ts`.
pub fn local_minute(ts: Timestamp) -> u16 {
    let secs = ts.as_micros().div_euclid(Timestamp::MICROS_PER_SEC) + CST_OFFSET_SECS;
    u16::try_from(secs.rem_euclid(86_400) / 60).unwrap_or(0)
}

/// Whether `ts` falls inside one of `windows`. With no (valid) window configured every time
/// is allowed: the outside-window check of M5 applies only where windows are configured.
pub fn inside(windows: &[String], ts: Timestamp) -> bool {
    let parsed: Vec<Window> = windows.iter().filter_map(|w| Window::parse(w)).collect();
    if parsed.is_empty() {
        return true;
    }
    let m = local_minute(ts);
    parsed.iter().any(|w| w.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_local_china_time_and_may_wrap_midnight() {
        // 2026-11-22T00:30:00Z is 08:30 in Beijing.
        let t = Timestamp::from_secs(1_795_305_600 + 30 * 60);
        assert_eq!(local_minute(t), 8 * 60 + 30);
        assert!(inside(&["08:00-10:00".into()], t));
        assert!(!inside(&["16:00-17:30".into()], t));
        assert!(inside(&["22:00-09:00".into()], t));
        assert!(!inside(&["22:00-08:30".into()], t), "end is exclusive");
        assert!(inside(&[], t), "no windows: no outside-window check");
        assert_eq!(Window::parse("8h-10h"), None);
        assert_eq!(Window::parse("24:00-10:00"), None);
    }
}
