//! Console sessions: a supervisor's API token exchanged at sign-in for a random session id
//! (the `wj_session` cookie) with its own CSRF token and an expiry, held **in memory** (a
//! restart signs everyone out; nothing secret is ever written to disk), and the throttle on
//! failed sign-ins per remote address.
//!
//! A session remembers the hash of the token it was opened with: when the supervisors file is
//! reloaded without that token (withdrawn or rotated), the session ends at its next request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};
use weijian_ingest::config::console::ConsoleSettings;

/// One signed-in supervisor.
#[derive(Debug, Clone)]
pub struct Session {
    pub supervisor: String,
    /// The hex SHA-256 of the token signed in with.
    pub token_sha256: String,
    /// The synchronizer token every form of this session carries.
    pub csrf: String,
    pub expires: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    /// Per remote address: when its window of failures started, and how many.
    failures: HashMap<IpAddr, (Instant, u32)>,
}

/// The sessions and the sign-in throttle (cheap to clone: shared).
#[derive(Debug, Clone)]
pub struct Sessions {
    inner: Arc<Mutex<Inner>>,
    settings: ConsoleSettings,
    random: Arc<SystemRandom>,
}

/// A sign-in refused before the token was even compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// When the remote address may try again.
    pub retry_after: Duration,
}

impl Sessions {
    pub fn new(settings: ConsoleSettings) -> Self {
        Self {
            inner: Arc::default(),
            settings,
            random: Arc::new(SystemRandom::new()),
        }
    }

    pub fn settings(&self) -> &ConsoleSettings {
        &self.settings
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// 32 random bytes as hex (session ids, CSRF tokens, the sign-in form's token).
    pub fn random_token(&self) -> String {
        let mut bytes = [0u8; 32];
        // SystemRandom reads the OS's generator; it does not fail on Linux once booted. If it
        // ever did, a token of zeros would be guessable: refuse to go on instead.
        if self.random.fill(&mut bytes).is_err() {
            tracing::error!(
                "The operating system's random generator failed; console sign-in is refused."
            );
            return String::new();
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Opens a session for `supervisor`: its id (the cookie's value). `None` when no random
    /// id could be made.
    pub fn open(&self, supervisor: &str, token_sha256: &str) -> Option<String> {
        let id = self.random_token();
        let csrf = self.random_token();
        if id.is_empty() || csrf.is_empty() {
            return None;
        }
        let now = Instant::now();
        let mut inner = self.lock();
        inner.sessions.retain(|_, s| s.expires > now);
        while inner.sessions.len() >= self.settings.max_sessions {
            // The session closest to its end goes first.
            let oldest = inner
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => inner.sessions.remove(&k),
                None => break,
            };
        }
        inner.sessions.insert(
            id.clone(),
            Session {
                supervisor: supervisor.to_owned(),
                token_sha256: token_sha256.to_owned(),
                csrf,
                expires: now + self.settings.session,
            },
        );
        Some(id)
    }

    /// The session of cookie value `id`, if it exists and has not expired.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut inner = self.lock();
        match inner.sessions.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                inner.sessions.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session (sign-out, or its supervisor's token withdrawn).
    pub fn close(&self, id: &str) {
        self.lock().sessions.remove(id);
    }

    /// Sessions held now.
    pub fn count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Refuses a sign-in from `remote` while it has used up its failures of the window.
    ///
    /// # Errors
    /// Throttled, with how long until the window ends.
    pub fn check_throttle(&self, remote: Option<IpAddr>) -> Result<(), Throttled> {
        let Some(ip) = remote else { return Ok(()) };
        let now = Instant::now();
        let window = self.settings.signin_lockout;
        let inner = self.lock();
        match inner.failures.get(&ip) {
            Some((start, n))
                if *n >= self.settings.signin_max_failures && now < *start + window =>
            {
                Err(Throttled {
                    retry_after: (*start + window).saturating_duration_since(now),
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed sign-in of `remote`.
    pub fn failed(&self, remote: Option<IpAddr>) {
        let Some(ip) = remote else { return };
        let now = Instant::now();
        let window = self.settings.signin_lockout;
        let mut inner = self.lock();
        // Bounded: windows that ended are forgotten before a new address is added.
        inner.failures.retain(|_, (start, _)| now < *start + window);
        let entry = inner.failures.entry(ip).or_insert((now, 0));
        entry.1 = entry.1.saturating_add(1);
    }

    /// Forgets the failures of `remote` after it signed in.
    pub fn succeeded(&self, remote: Option<IpAddr>) {
        if let Some(ip) = remote {
            self.lock().failures.remove(&ip);
        }
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && !a.is_empty() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sessions(max_failures: u32, max_sessions: usize) -> Sessions {
        Sessions::new(ConsoleSettings {
            signin_max_failures: max_failures,
            max_sessions,
            ..ConsoleSettings::default()
        })
    }

    #[test]
    fn a_session_has_random_ids_and_ends_on_close() {
        let s = sessions(5, 10);
        let a = s.open("sq-1", "h").unwrap();
        let b = s.open("sq-1", "h").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        let got = s.get(&a).unwrap();
        assert_eq!(got.supervisor, "sq-1");
        assert_ne!(got.csrf, s.get(&b).unwrap().csrf);
        s.close(&a);
        assert!(s.get(&a).is_none());
    }

    #[test]
    fn an_expired_session_is_gone() {
        let s = Sessions::new(ConsoleSettings {
            session: Duration::ZERO,
            ..ConsoleSettings::default()
        });
        let id = s.open("sq-1", "h").unwrap();
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn sessions_are_bounded_and_the_oldest_goes_first() {
        let s = sessions(5, 2);
        let first = s.open("a", "h").unwrap();
        let _second = s.open("b", "h").unwrap();
        let _third = s.open("c", "h").unwrap();
        assert_eq!(s.count(), 2);
        assert!(s.get(&first).is_none());
    }

    #[test]
    fn failed_sign_ins_throttle_one_address_only_until_it_succeeds() {
        let s = sessions(3, 10);
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let other: IpAddr = "10.0.0.10".parse().unwrap();
        for _ in 0..3 {
            assert!(s.check_throttle(Some(ip)).is_ok());
            s.failed(Some(ip));
        }
        let t = s.check_throttle(Some(ip)).unwrap_err();
        assert!(t.retry_after > Duration::from_secs(14 * 60));
        assert!(s.check_throttle(Some(other)).is_ok());
        s.succeeded(Some(ip));
        assert!(s.check_throttle(Some(ip)).is_ok());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", ""));
    }
}
