//! The blocking HTTP POST shared by the webhook, DingTalk and WeCom notifiers (ureq), with
//! one timeout per request, no redirects, a bounded response body, and errors mapped to
//! [`NotifyError`] with masked URLs.

use std::time::Duration;

use super::error::{mask_text, mask_url, NotifyError};

/// The default per-request timeout (connect + send + answer).
pub const DEFAULT_TIMEOUT: Duration = weijian_ingest::config::delivery::DEFAULT_NOTIFY_TIMEOUT;

/// How much of an answer is read (robots answer a few dozen bytes).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// How much of an error answer is kept in the error.
const MAX_ERROR_BODY_CHARS: usize = 300;

/// HTTP settings shared by the HTTP notifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Per request, everything included. Default 10 s.
    pub timeout: Duration,
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            user_agent: format!("weijian/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A POST that succeeded at the HTTP level (2xx): the answer's body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub body: String,
}

/// A reusable blocking client (connection pooling across deliveries).
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    agent: ureq::Agent,
    timeout: Duration,
}

impl HttpClient {
    pub fn new(config: &HttpConfig) -> Self {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(config.timeout))
                .http_status_as_error(false)
                .max_redirects(0)
                .max_redirects_will_error(false)
                .user_agent(config.user_agent.as_str())
                .build(),
        );
        Self {
            agent,
            timeout: config.timeout,
        }
    }

    /// POSTs `body` as JSON to `url`. `secrets` are extra strings to mask in error text
    /// (besides `url` itself and token-like query values).
    pub fn post_json(
        &self,
        channel: &'static str,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
        secrets: &[&str],
    ) -> Result<Answer, NotifyError> {
        let shown = mask_url(url);
        let mut masks: Vec<&str> = vec![url];
        masks.extend_from_slice(secrets);
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", "application/json; charset=utf-8");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let mut response = request
            .send(body)
            .map_err(|e| self.map_error(channel, &shown, url, &e, &masks))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string();
        if !(200..300).contains(&status) {
            let body = text.unwrap_or_default();
            return Err(NotifyError::Http {
                channel,
                url: shown,
                status,
                body: mask_text(&clip(&body, MAX_ERROR_BODY_CHARS), &masks),
                retry_after,
            });
        }
        match text {
            Ok(body) => Ok(Answer { body }),
            Err(e) => Err(self.map_error(channel, &shown, url, &e, &masks)),
        }
    }

    fn map_error(
        &self,
        channel: &'static str,
        shown: &str,
        url: &str,
        error: &ureq::Error,
        masks: &[&str],
    ) -> NotifyError {
        use ureq::Error as E;
        let reason = mask_text(&error.to_string(), masks);
        match error {
            E::Timeout(_) => NotifyError::Timeout {
                channel,
                url: shown.to_owned(),
                timeout: self.timeout,
            },
            E::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => NotifyError::Timeout {
                channel,
                url: shown.to_owned(),
                timeout: self.timeout,
            },
            E::BadUri(_) | E::Http(_) | E::RequireHttpsOnly(_) => NotifyError::InvalidTarget {
                channel,
                target: mask_url(url),
                reason,
            },
            E::TooManyRedirects | E::RedirectFailed => NotifyError::Http {
                channel,
                url: shown.to_owned(),
                status: 300,
                body: reason,
                retry_after: None,
            },
            // Connection refused/reset, DNS, TLS, protocol errors, body stalls: the channel
            // or the network is unwell; it may recover.
            _ => NotifyError::Connection {
                channel,
                url: shown.to_owned(),
                reason,
            },
        }
    }
}

/// At most `max` chars of `s`, with `…` when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
