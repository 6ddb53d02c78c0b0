//! Timestamps in the API. Out: every time field `x` is RFC 3339 at Beijing time (+08:00), with
//! `x_us` beside it in epoch microseconds. In (query `since`/`until`, silence `until`): RFC 3339
//! with any offset, or epoch milliseconds.

use alerting::model::Timestamp;
use chrono::{DateTime, FixedOffset, SecondsFormat};

/// Beijing time, e.g. `2026-11-22T08:00:00+08:00` (fractional seconds only when present).
pub fn rfc3339(ts: Timestamp) -> String {
    match (
        DateTime::from_timestamp_micros(ts.as_micros()),
        FixedOffset::east_opt(8 * 3600),
    ) {
        (Some(t), Some(o)) => t
            .with_timezone(&o)
            .to_rfc3339_opts(SecondsFormat::AutoSi, false),
        _ => ts.as_micros().to_string(),
    }
}

/// Parses RFC 3339 (`2026-11-22T08:00:00+08:00`, `...Z`) or epoch milliseconds.
///
/// # Errors
/// A message saying which forms are accepted.
pub fn parse(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .ok()
            .and_then(|ms| ms.checked_mul(1000))
            .map(Timestamp)
            .ok_or_else(|| format!("{text} is out of range (epoch milliseconds)"));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| Timestamp(t.timestamp_micros()))
        .map_err(|e| {
            format!("`{text}` is neither RFC 3339 (2026-11-22T08:00:00+08:00) nor epoch milliseconds ({e})")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_at_beijing_time_and_read_in_either_form() {
        let ts = Timestamp::from_secs(1_795_305_600);
        assert_eq!(rfc3339(ts), "2026-11-22T08:00:00+08:00");
        assert_eq!(parse("2026-11-22T08:00:00+08:00"), Ok(ts));
        assert_eq!(parse("2026-11-22T00:00:00Z"), Ok(ts));
        assert_eq!(parse("1795305600000"), Ok(ts));
        assert!(parse("yesterday").is_err());
        assert!(parse("").is_err());
    }
}
