//! HJ 212 local date-times (`DataTime`, `QN`) <-> [`Timestamp`] (µs UTC).
//!
//! `DataTime` is `YYYYMMDDhhmmss` (some loggers append `zzz` milliseconds, 17 digits) in the
//! device's local time; the UTC offset comes from the device profile (China: +08:00).

use alerting::model::{civil_from_days, days_from_civil, Timestamp};

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Reads `digits.len()` ASCII digits as a number; `None` if any is not a digit.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Parses a `DataTime` (14 digits, or 17 with milliseconds) in local time at
/// `utc_offset_secs` into a UTC [`Timestamp`]. `None` for any other shape or an impossible
/// date/time.
pub fn parse_data_time(text: &str, utc_offset_secs: i32) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    if bytes.len() != 14 && bytes.len() != 17 {
        return None;
    }
    let year = i64::from(number(bytes.get(0..4)?)?);
    let month = number(bytes.get(4..6)?)?;
    let day = number(bytes.get(6..8)?)?;
    let hour = number(bytes.get(8..10)?)?;
    let minute = number(bytes.get(10..12)?)?;
    let second = number(bytes.get(12..14)?)?;
    let millis = match bytes.get(14..17) {
        Some(ms) => number(ms)?,
        None => 0,
    };
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let local_secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    let utc_secs = local_secs - i64::from(utc_offset_secs);
    Some(Timestamp(
        utc_secs * Timestamp::MICROS_PER_SEC + i64::from(millis) * 1_000,
    ))
}

/// Local broken-down time of `ts` at `utc_offset_secs`: (year, month, day, h, m, s, ms).
fn local_parts(ts: Timestamp, utc_offset_secs: i32) -> (i64, u32, u32, i64, i64, i64, i64) {
    let micros = ts
        .as_micros()
        .saturating_add(i64::from(utc_offset_secs).saturating_mul(Timestamp::MICROS_PER_SEC));
    let secs = micros.div_euclid(Timestamp::MICROS_PER_SEC);
    let millis = micros.rem_euclid(Timestamp::MICROS_PER_SEC) / 1_000;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (y, mo, d, sod / 3600, (sod / 60) % 60, sod % 60, millis)
}

/// Formats `ts` as a 14-digit `DataTime` (`YYYYMMDDhhmmss`, sub-second part dropped) in local
/// time at `utc_offset_secs`.
pub fn format_data_time(ts: Timestamp, utc_offset_secs: i32) -> String {
    let (y, mo, d, h, mi, s, _) = local_parts(ts, utc_offset_secs);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

/// Formats `ts` as a 17-digit `QN` (`YYYYMMDDhhmmsszzz`) in local time at `utc_offset_secs`.
pub fn format_qn(ts: Timestamp, utc_offset_secs: i32) -> String {
    let (y, mo, d, h, mi, s, ms) = local_parts(ts, utc_offset_secs);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{ms:03}")
}
