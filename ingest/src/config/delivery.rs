//! Plain settings of alert delivery that the configuration maps onto: the outbox's retry
//! policy, the SMTP relay, the notifiers' request timeout. The delivery service (notifiers,
//! outbox) uses them; they live here so that loading a configuration needs no notifier.

use std::time::Duration;

/// The default per-request timeout of a notifier (connect + send + answer). Product default.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// Exponential back-off with jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// The first retry's delay (before jitter). Default 2 s.
    pub initial_delay: Duration,
    /// The cap. Default 5 min.
    pub max_delay: Duration,
    /// The fraction of the delay that is random, `0.0..=1.0`. Default 0.5.
    pub jitter: f64,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(300),
            jitter: 0.5,
        }
    }
}

impl Retry {
    /// The delay before retry `attempt` (0-based), with random jitter.
    pub fn next_delay(&self, attempt: u32) -> Duration {
        self.next_delay_with(attempt, rand::random::<f64>())
    }

    /// [`Retry::next_delay`] with the random draw `unit` (`0.0..1.0`) given: deterministic.
    pub fn next_delay_with(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.base_delay(attempt);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 - jitter * unit.clamp(0.0, 1.0);
        base.mul_f64(factor).min(self.max_delay)
    }

    /// `min(max_delay, initial_delay * 2^attempt)`, without jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let mult = 2u32.saturating_pow(attempt.min(31));
        self.initial_delay
            .checked_mul(mult)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text throughout (a trusted relay on localhost or in the same host). The
    /// password, if any, crosses the network in clear.
    None,
    /// Plain connection upgraded with `STARTTLS`, which is required: a server that does not
    /// offer it fails the delivery (usually port 587).
    StartTls,
    /// TLS from the first byte ("implicit TLS", SMTPS, usually port 465).
    Tls,
}

/// The SMTP relay e-mail notices go through. Plain data; the configuration maps onto it.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Host name of the relay; also the name its TLS certificate must carry.
    pub host: String,
    /// 25 (relay), 587 (submission, with [`SmtpTls::StartTls`]) or 465 ([`SmtpTls::Tls`]).
    pub port: u16,
    pub tls: SmtpTls,
    /// The sender, in mailbox syntax: `weijian 卫监 <alerts@example.org>` or a bare address.
    /// Its domain also ends every `Message-ID`.
    pub from: String,
    /// SMTP AUTH user name; `None` sends without authenticating. Needs `password_env`.
    pub username: Option<String>,
    /// The environment variable (read by the e-mail notifier at each send) that holds
    /// the SMTP password. Set exactly when `username` is.
    pub password_env: Option<String>,
    /// Longest wait for the connection and for each SMTP reply.
    pub timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_initial_delay_up_to_the_cap() {
        let r = Retry {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            jitter: 0.5,
        };
        let base: Vec<u64> = (0..8).map(|a| r.base_delay(a).as_secs()).collect();
        assert_eq!(base, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(r.base_delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn jitter_takes_at_most_its_fraction_off_and_never_exceeds_the_cap() {
        let r = Retry::default();
        assert_eq!(r.next_delay_with(0, 0.0), Duration::from_secs(2));
        assert_eq!(r.next_delay_with(0, 1.0), Duration::from_secs(1));
        for attempt in 0..40 {
            let d = r.next_delay(attempt);
            assert!(d <= r.max_delay);
            assert!(d >= r.base_delay(attempt).mul_f64(0.5));
        }
    }
}
