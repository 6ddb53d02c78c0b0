//! What a supervisor may write: free text without control characters or direction overrides
//! (they would garble or disguise notices, histories and audit rows), and silences bounded in
//! length (`api.max_silence_hours`) and number (`api.max_silences_per_supervisor`), so no
//! silence blocks escalation for good.
//!
//! The API checks these before journaling (a clear 400/422 and nothing stored); the drain
//! checks the silence limits again when it applies the request, because two requests may race
//! past the API's check and because the drain's order is the one that counts.

use alerting::delivery::{DeliveryEngine, DeliveryError, Silence};
use alerting::model::Timestamp;
use weijian_ingest::config::api::ApiSettings;

/// Why `text` may not be stored: the first control character or bidirectional formatting
/// character (U+202E RIGHT-TO-LEFT OVERRIDE and its kin), with its position.
///
/// # Errors
/// The refusal, e.g. ``contains U+202E (a direction override) at character 7``.
pub fn printable(text: &str) -> Result<(), String> {
    for (n, c) in text.chars().enumerate() {
        let what = if c.is_control() {
            "a control character"
        } else if is_bidi_control(c) {
            "a direction override"
        } else {
            continue;
        };
        return Err(format!(
            "contains U+{:04X} ({what}) at character {}; control characters and direction \
             overrides are not allowed",
            u32::from(c),
            n + 1
        ));
    }
    Ok(())
}

/// Unicode's bidirectional formatting characters (UAX #9): marks, embeddings, overrides,
/// isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether `silence` may be added at `now` by its `by`, with the silences already in force.
///
/// # Errors
/// [`DeliveryError::InvalidSilence`] naming the limit and its configuration key.
pub fn check_silence(
    limits: &ApiSettings,
    engine: &DeliveryEngine,
    silence: &Silence,
    now: Timestamp,
) -> Result<(), DeliveryError> {
    printable(&silence.reason).map_err(|e| DeliveryError::InvalidSilence(format!("reason {e}")))?;
    let max_micros = i64::try_from(limits.max_silence.as_micros()).unwrap_or(i64::MAX);
    let length = silence.until.0.saturating_sub(now.0);
    if length > max_micros {
        return Err(DeliveryError::InvalidSilence(format!(
            "until {} is {} from now; a silence lasts at most {} (api.max_silence_hours): \
             set an earlier until and renew the silence if the work takes longer",
            silence.until,
            span(length),
            span(max_micros)
        )));
    }
    let mine = engine
        .silences(now)
        .into_iter()
        .filter(|s| s.by == silence.by)
        .count();
    if mine >= limits.max_silences_per_supervisor {
        return Err(DeliveryError::InvalidSilence(format!(
            "{} already has {mine} silences in force, the most one supervisor may have \
             (api.max_silences_per_supervisor): lift one first",
            silence.by
        )));
    }
    Ok(())
}

/// A duration in µs as days beyond a week, else whole hours, else minutes.
fn span(micros: i64) -> String {
    let hours = micros / 3_600_000_000;
    if hours > 7 * 24 {
        format!("{} days", hours / 24)
    } else if micros % 3_600_000_000 == 0 {
        format!("{hours} h")
    } else {
        format!("{} min", micros / 60_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_overrides_and_control_characters_are_named_with_their_position() {
        assert_eq!(printable("管网检修 maintenance"), Ok(()));
        let e = printable("abc\u{202E}fed").unwrap_err();
        assert!(e.contains("U+202E") && e.contains("character 4"), "{e}");
        let e = printable("a\u{7}b").unwrap_err();
        assert!(e.contains("U+0007 (a control character)"), "{e}");
        assert!(printable("x\u{2067}y").is_err());
        assert!(printable("two\nlines").is_err());
    }

    #[test]
    fn spans_read_as_a_person_would_say_them() {
        assert_eq!(span(72 * 3_600_000_000), "72 h");
        assert_eq!(span(10 * 86_400_000_000), "10 days");
        assert_eq!(span(i64::MAX), "106751991 days");
        assert_eq!(span(90 * 60_000_000), "90 min");
    }
}
