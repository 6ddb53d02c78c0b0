//! Why a delivery failed, whether retrying can help, and masking of secrets in what is shown.
//!
//! The split is the contract with the outbox: a **transient** error (the channel is down,
//! slow, rate-limited, or answered 5xx) is retried forever with back-off; a **permanent** one
//! (the request itself is wrong: 4xx, a refused token or signature, a missing secret) is
//! recorded and not retried, because the same request would fail the same way.
//! When in doubt an error is transient: a delay is visible and recoverable, a drop is not.

use std::time::Duration;

use alerting::delivery::ChannelKind;

/// A failed delivery. Every URL in it is masked (see [`mask_url`]); secrets never appear.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// No answer within the configured timeout. Transient.
    #[error("{channel} {url}: no answer within {}s", timeout.as_secs_f32())]
    Timeout {
        channel: &'static str,
        url: String,
        timeout: Duration,
    },
    /// Could not connect or the connection broke (refused, DNS, reset, TLS). Transient.
    #[error("{channel} {url}: connection failed: {reason}")]
    Connection {
        channel: &'static str,
        url: String,
        reason: String,
    },
    /// The receiver answered a non-2xx HTTP status. Transient for 5xx, 408 and 429,
    /// permanent otherwise (3xx included: redirects are not followed for a POST).
    #[error("{channel} {url}: HTTP {status}: {body}")]
    Http {
        channel: &'static str,
        url: String,
        status: u16,
        /// The start of the response body, masked.
        body: String,
        /// `Retry-After` in seconds, when the receiver sent one.
        retry_after: Option<Duration>,
    },
    /// A DingTalk/WeCom robot answered HTTP 200 with a non-zero `errcode`.
    #[error("{channel} {url}: errcode {code}: {message}")]
    Api {
        channel: &'static str,
        url: String,
        code: i64,
        message: String,
        /// Rate limits and "system busy" are transient; everything else is permanent.
        transient: bool,
    },
    /// A 2xx answer that is not the expected `{"errcode": ..}` JSON (a proxy page?). Transient.
    #[error("{channel} {url}: unexpected answer: {body}")]
    BadResponse {
        channel: &'static str,
        url: String,
        body: String,
    },
    /// The channel names a secret (`secret_env`) that is not set. Permanent: the process
    /// environment does not change while it runs (check-config should catch it first).
    #[error("{channel}: secret environment variable {env} is not set")]
    MissingSecret { channel: &'static str, env: String },
    /// The target is not a usable URL (or topic). Permanent.
    #[error("{channel} {target}: invalid target: {reason}")]
    InvalidTarget {
        channel: &'static str,
        target: String,
        reason: String,
    },
    /// No notifier for this channel kind (e-mail without an SMTP relay configured). Permanent.
    #[error("no notifier for {channel} channels{}", unsupported_hint(channel))]
    Unsupported { channel: &'static str },
    /// Publishing to the MQTT broker failed (client queue full, disconnected). Transient.
    #[error("mqtt {topic}: publish failed: {error}")]
    Publish {
        topic: String,
        #[source]
        error: weijian_ingest::source::mqtt::MqttError,
    },
}

impl NotifyError {
    /// Whether the same delivery may succeed later (retry with back-off) or never will
    /// (record it and move on).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout { .. }
            | Self::Connection { .. }
            | Self::BadResponse { .. }
            | Self::Publish { .. } => true,
            Self::Http { status, .. } => http_status_is_transient(*status),
            Self::Api { transient, .. } => *transient,
            Self::MissingSecret { .. } | Self::InvalidTarget { .. } | Self::Unsupported { .. } => {
                false
            }
        }
    }

    /// How long the receiver asked us to wait (HTTP `Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn unsupported(kind: ChannelKind) -> Self {
        Self::Unsupported {
            channel: kind.as_str(),
        }
    }
}

/// What to do about an [`NotifyError::Unsupported`] channel kind.
fn unsupported_hint(channel: &str) -> &'static str {
    match channel {
        "email" => ": e-mail needs [delivery.smtp] in the configuration",
        _ => "",
    }
}

/// 5xx, 408 Request Timeout and 429 Too Many Requests may pass; other statuses will not.
pub fn http_status_is_transient(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// Query parameters whose values are shown as-is; every other value is replaced by `***`
/// (robot URLs carry their credential in the query: `access_token=`, `key=`).
const SHOWN_PARAMS: &[&str] = &["timestamp"];

/// `url` with user info and every query value (but `timestamp`) replaced by `***`:
/// `https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***`.
pub fn mask_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = mask_userinfo(base);
    if let Some(q) = query {
        out.push('?');
        let masked: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if SHOWN_PARAMS.contains(&k) => pair.to_owned(),
                Some((k, _)) => format!("{k}=***"),
                None => pair.to_owned(),
            })
            .collect();
        out.push_str(&masked.join("&"));
    }
    out
}

fn mask_userinfo(base: &str) -> String {
    let Some((scheme, rest)) = base.split_once("://") else {
        return base.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{path}"),
        None => base.to_owned(),
    }
}

/// Masks anything secret-looking in free text (an error message from the HTTP client, a
/// response body): the values of `access_token=`, `key=`, `sign=`, `token=`, `secret=`,
/// and any occurrence of `extra` (the raw URLs and secrets of this request).
pub fn mask_text(text: &str, extra: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in extra.iter().filter(|s| s.len() >= 4) {
        if out.contains(*secret) {
            out = out.replace(*secret, "***");
        }
    }
    for name in ["access_token=", "key=", "sign=", "token=", "secret="] {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(pos) = rest.find(name) {
            let value_start = pos + name.len();
            result.push_str(&rest[..value_start]);
            let after = &rest[value_start..];
            let end = after
                .find(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace())
                .unwrap_or(after.len());
            if end > 0 && !after[..end].starts_with("***") {
                result.push_str("***");
            } else {
                result.push_str(&after[..end]);
            }
            rest = &after[end..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robot_urls_are_shown_without_their_token_or_signature() {
        assert_eq!(
            mask_url(
                "https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=17&sign=x%2B"
            ),
            "https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=17&sign=***"
        );
        assert_eq!(
            mask_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
        );
        assert_eq!(
            mask_url("https://user:pw@example.org/hook"),
            "https://***@example.org/hook"
        );
        assert_eq!(mask_url("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
    }

    #[test]
    fn free_text_loses_token_values_and_named_secrets() {
        let t = mask_text(
            "error for /send?access_token=abc123&x=1 with key=k9 and SECdeadbeef",
            &["SECdeadbeef"],
        );
        assert_eq!(
            t,
            "error for /send?access_token=***&x=1 with key=*** and ***"
        );
    }

    #[test]
    fn server_errors_and_rate_limits_are_transient_client_errors_are_not() {
        for s in [500, 502, 503, 504, 408, 429] {
            assert!(http_status_is_transient(s), "{s}");
        }
        for s in [301, 400, 401, 403, 404, 410, 413, 422] {
            assert!(!http_status_is_transient(s), "{s}");
        }
    }
}
