//! [`WebhookNotifier`]: a POST of the notice JSON ([`super::render::notice_json`], schema
//! `weijian.notice.v1`) to the channel's URL.
//!
//! Headers:
//! - `Idempotency-Key: <notice id>`: the same on every retry of a delivery, so receivers can
//!   deduplicate (one notice reaches one URL once; see [`super::Delivery::fan_out`]).
//! - When the channel has a secret (`secret_env`): `X-Weijian-Timestamp: <unix ms>` and
//!   `X-Weijian-Signature: sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>`,
//!   so the receiver can check origin and freshness.
//!
//! Any 2xx is success; 5xx/408/429, timeouts and connection errors are transient; other
//! statuses are permanent.

use std::sync::Arc;

use alerting::delivery::ChannelKind;

use super::http::{HttpClient, HttpConfig};
use super::{channel_secret, render, Delivery, Notifier, NotifyError, SecretSource};

/// Generic JSON webhook.
#[derive(Clone)]
pub struct WebhookNotifier {
    http: HttpClient,
    secrets: Arc<dyn SecretSource>,
    clock: fn() -> i64,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    pub fn new(config: &HttpConfig, secrets: Arc<dyn SecretSource>) -> Self {
        Self {
            http: HttpClient::new(config),
            secrets,
            clock: now_millis,
        }
    }

    /// The request body of a delivery.
    pub fn body(delivery: &Delivery) -> Vec<u8> {
        render::notice_json(delivery).to_string().into_bytes()
    }
}

impl Notifier for WebhookNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Webhook
    }

    fn send(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        let body = Self::body(delivery);
        let mut headers = vec![("Idempotency-Key", delivery.notice_id.clone())];
        let secret = channel_secret(self.secrets.as_ref(), &delivery.channel)?;
        if let Some(secret) = &secret {
            let ts = (self.clock)();
            headers.push(("X-Weijian-Timestamp", ts.to_string()));
            headers.push(("X-Weijian-Signature", signature(secret, ts, &body)));
        }
        let secrets: Vec<&str> = secret.as_deref().into_iter().collect();
        self.http
            .post_json(
                "webhook",
                &delivery.channel.target,
                &headers,
                &body,
                &secrets,
            )
            .map(|_| ())
    }
}

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp_ms>.<body>")>`.
pub fn signature(secret: &str, timestamp_ms: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(timestamp_ms.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for b in tag.as_ref() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
impl WebhookNotifier {
    pub(crate) fn with_clock(mut self, clock: fn() -> i64) -> Self {
        self.clock = clock;
        self
    }
}
