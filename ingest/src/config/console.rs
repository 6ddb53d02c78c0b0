//! `[http] console_*`: the supervisors' web console (sessions, sign-in throttling, the chart's
//! QuestDB query). Every default here is a product default, not a standard's number;
//! docs/configuration.md and docs/console.md explain them.

use std::time::Duration;

/// How long a console session lasts after sign-in: 12 hours covers a duty shift, so an
/// officer signs in once a shift and a forgotten session on a shared desk ends by itself.
pub const DEFAULT_SESSION_HOURS: u64 = 12;
/// Failed sign-ins one remote address may make within [`DEFAULT_SIGNIN_LOCKOUT`] before it is
/// refused for the rest of that window: five covers mistyping a token, not guessing one.
pub const DEFAULT_SIGNIN_MAX_FAILURES: u32 = 5;
/// The window of failed sign-ins (and how long a remote address stays refused).
pub const DEFAULT_SIGNIN_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// The longest the alert page waits for QuestDB's readings for its chart: the page renders
/// without the chart after this (a supervisor never waits on a slow database).
pub const DEFAULT_CHART_TIMEOUT: Duration = Duration::from_secs(2);
/// Sessions held at once (all supervisors): beyond this the oldest session ends, so a flood
/// of sign-ins cannot grow memory without bound.
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;

/// The console's settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// How long a session lasts (`http.console_session_hours`).
    pub session: Duration,
    /// Failed sign-ins allowed per remote address and window (`http.console_signin_max_failures`).
    pub signin_max_failures: u32,
    /// The window of failed sign-ins (`http.console_signin_lockout_minutes`).
    pub signin_lockout: Duration,
    /// The chart's QuestDB query timeout (`http.console_chart_timeout_ms`).
    pub chart_timeout: Duration,
    /// Sessions held at once (`http.console_max_sessions`).
    pub max_sessions: usize,
    /// Cookies are always `Secure`: `http.public_url` is an `https://` address, so supervisors
    /// reach the console over TLS even when the proxy does not say so per request.
    pub secure_cookies: bool,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            session: Duration::from_secs(DEFAULT_SESSION_HOURS * 3600),
            signin_max_failures: DEFAULT_SIGNIN_MAX_FAILURES,
            signin_lockout: DEFAULT_SIGNIN_LOCKOUT,
            chart_timeout: DEFAULT_CHART_TIMEOUT,
            max_sessions: DEFAULT_MAX_SESSIONS,
            secure_cookies: false,
        }
    }
}
