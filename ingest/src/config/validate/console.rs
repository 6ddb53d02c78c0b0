//! Validation of `[http] console_*`: every value at least 1, a session at most 7 days.

use std::time::Duration;

use super::super::console::ConsoleSettings;
use super::super::raw;
use super::Validator;

/// The longest session allowed: a week. A longer one would outlive a token withdrawn from the
/// supervisors file only until the next sign-in check, which the console does on every request
/// anyway; the bound keeps a stolen cookie from being useful for months.
const MAX_SESSION_HOURS: u64 = 7 * 24;

impl Validator<'_> {
    pub(super) fn console(&mut self, h: &raw::RawHttp) -> ConsoleSettings {
        for (value, key) in [
            (&h.console_session_hours, "http.console_session_hours"),
            (
                &h.console_signin_max_failures,
                "http.console_signin_max_failures",
            ),
            (
                &h.console_signin_lockout_minutes,
                "http.console_signin_lockout_minutes",
            ),
            (&h.console_chart_timeout_ms, "http.console_chart_timeout_ms"),
            (&h.console_max_sessions, "http.console_max_sessions"),
        ] {
            if *value.get_ref() == 0 {
                self.err(value, key, "must be at least 1");
            }
        }
        let hours = *h.console_session_hours.get_ref();
        if hours > MAX_SESSION_HOURS {
            self.err(
                &h.console_session_hours,
                "http.console_session_hours",
                format!("{hours} hours is longer than a week ({MAX_SESSION_HOURS}); sign in again each shift"),
            );
        }
        let get = |v: &toml::Spanned<u64>| (*v.get_ref()).max(1);
        ConsoleSettings {
            session: Duration::from_secs(
                get(&h.console_session_hours).min(MAX_SESSION_HOURS) * 3600,
            ),
            signin_max_failures: u32::try_from(get(&h.console_signin_max_failures))
                .unwrap_or(u32::MAX),
            signin_lockout: Duration::from_secs(
                get(&h.console_signin_lockout_minutes).saturating_mul(60),
            ),
            chart_timeout: Duration::from_millis(get(&h.console_chart_timeout_ms)),
            max_sessions: usize::try_from(get(&h.console_max_sessions)).unwrap_or(usize::MAX),
            // Set from `http.public_url` by the caller.
            secure_cookies: false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;
    use std::time::Duration;

    use crate::config::Config;

    fn parse(http: &str) -> Result<Config, crate::config::ConfigErrors> {
        Config::parse(
            &format!("[http]\n{http}\n"),
            "t.toml",
            &HashMap::<String, String>::new(),
        )
    }

    #[test]
    fn console_keys_default_and_are_read() {
        let c = parse("").unwrap().http.console;
        assert_eq!(c.session, Duration::from_secs(12 * 3600));
        assert_eq!(c.signin_max_failures, 5);
        let c = parse("console_session_hours = 8\nconsole_chart_timeout_ms = 500")
            .unwrap()
            .http
            .console;
        assert_eq!(c.session, Duration::from_secs(8 * 3600));
        assert_eq!(c.chart_timeout, Duration::from_millis(500));
    }

    #[test]
    fn a_zero_or_a_session_longer_than_a_week_is_refused_by_name() {
        let e = parse("console_signin_max_failures = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("http.console_signin_max_failures"), "{e}");
        let e = parse("console_session_hours = 1000")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("http.console_session_hours") && e.contains("week"),
            "{e}"
        );
    }
}
