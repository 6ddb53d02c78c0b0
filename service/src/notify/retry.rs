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
//! ([`decide`]).

use std::time::Duration;

pub use weijian_ingest::config::delivery::Retry;

use super::NotifyError;

/// What the outbox does with a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Transient: try again after this long (the same delivery, ahead of later ones to the
    /// same target).
    RetryAfter(Duration),
    /// Permanent: record the failure and move on.
    Drop,
}

/// What to do after `error` on retry `attempt`: drop a permanent error; retry a transient
/// one after [`Retry::next_delay`], but no sooner than the receiver's `Retry-After`
/// (itself capped at one hour).
pub fn decide(retry: &Retry, error: &NotifyError, attempt: u32) -> Decision {
    if !error.is_transient() {
        return Decision::Drop;
    }
    let mut delay = retry.next_delay(attempt);
    if let Some(asked) = error.retry_after() {
        delay = delay.max(asked.min(Duration::from_secs(3600)));
    }
    Decision::RetryAfter(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            decide(&r, &down, 0),
            Decision::RetryAfter(d) if d >= Duration::from_secs(120)
        ));
        let wrong = NotifyError::Http {
            channel: "webhook",
            url: "http://x".into(),
            status: 404,
            body: String::new(),
            retry_after: None,
        };
        assert_eq!(decide(&r, &wrong, 0), Decision::Drop);
    }
}
