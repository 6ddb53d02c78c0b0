//! [`Retry`]: when to try a failed delivery again.
//!
//! The rule: **a transient error is retried forever with back-off; a permanent one is
//! recorded and not retried** ([`NotifyError::is_transient`]). There is no attempt limit:
//! an alert notice must not be lost because a robot was down for an afternoon; the back-off
//! caps at `max_delay`, so a recovered channel is used again within that time.
//!
//! Delay before retry `attempt` (0 = the first retry): `min(max_delay, initial_delay *
//! 2^attempt)`, scaled by a random factor in `[1 - jitter, 1]` so that deliveries that failed
//! together do not retry in lockstep. A receiver's `Retry-After` is respected as a minimum
//! ([`Retry::delay_for`]).

use std::time::Duration;

use super::NotifyError;

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

/// What the outbox does with a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Transient: try again after this long (the same delivery, ahead of later ones to the
    /// same target).
    RetryAfter(Duration),
    /// Permanent: record the failure and move on.
    Drop,
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

    /// What to do after `error` on retry `attempt`: drop a permanent error; retry a
    /// transient one after [`Retry::next_delay`], but no sooner than the receiver's
    /// `Retry-After` (itself capped at one hour).
    pub fn delay_for(&self, error: &NotifyError, attempt: u32) -> Decision {
        if !error.is_transient() {
            return Decision::Drop;
        }
        let mut delay = self.next_delay(attempt);
        if let Some(asked) = error.retry_after() {
            delay = delay.max(asked.min(Duration::from_secs(3600)));
        }
        Decision::RetryAfter(delay)
    }
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

    #[test]
    fn transient_errors_are_retried_and_permanent_ones_dropped() {
        let r = Retry::default();
        let down = NotifyError::Http {
            channel: "webhook",
            url: "http://x".into(),
            status: 503,
            body: String::new(),
            retry_after: Some(Duration::from_secs(120)),
        };
        assert!(matches!(
            r.delay_for(&down, 0),
            Decision::RetryAfter(d) if d >= Duration::from_secs(120)
        ));
        let wrong = NotifyError::Http {
            channel: "webhook",
            url: "http://x".into(),
            status: 404,
            body: String::new(),
            retry_after: None,
        };
        assert_eq!(r.delay_for(&wrong, 0), Decision::Drop);
    }
}
