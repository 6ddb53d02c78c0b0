//! QuestDB's HTTP API as the writer uses it: ILP rows posted to `/write`, DDL through `/exec`,
//! `/ping` and `/settings`, over HTTP or HTTPS with the credentials and timeouts of the
//! questdb-rs configuration string ([`QuestDbEndpoint`]).
//!
//! Every answer is classified by its HTTP status into an [`HttpError`], so the writer knows
//! what retrying can fix: a refusal (400) or a request too large (413) never succeeds as it
//! is and must be split; rejected credentials (401, 403) or an endpoint that is not QuestDB's
//! need an operator; 5xx and connection failures pass. questdb-rs reports 4xx and 5xx alike,
//! which is why weijian encodes with questdb-rs's `Buffer` but posts the bytes itself.

use std::sync::Arc;
use std::time::Duration;

use questdb::ingress::ProtocolVersion;

use crate::config::endpoint::{IlpProtocol, QuestDbEndpoint};

/// What went wrong with a request, by what retrying can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// QuestDB refused the content (400): a line it cannot parse or store. Nothing of the
    /// request was written. `line` is the 1-based line QuestDB names, when it names one.
    #[error("QuestDB refused the request: {message}")]
    Refused {
        message: String,
        line: Option<usize>,
    },
    /// The request is larger than QuestDB accepts (413).
    #[error("QuestDB refused the request as too large: {0}")]
    TooLarge(String),
    /// Credentials refused or missing (401, 403), or the address is not QuestDB's HTTP API
    /// (404, 405, a redirect, another 4xx): an operator must fix the configuration.
    #[error("QuestDB refused the request; check questdb.conf: {0}")]
    Misconfigured(String),
    /// QuestDB is unreachable, restarting, read-only or failing (5xx, 408, 421, 425, 429,
    /// connection refused or reset, timeouts, TLS handshake failures).
    #[error("QuestDB is unavailable: {0}")]
    Unavailable(String),
}

/// The longest QuestDB message kept in an error (its answers are short; a proxy's page is not).
const MAX_MESSAGE_CHARS: usize = 2_000;

/// Classifies an answer: `None` for a success (2xx), else the error with QuestDB's message.
pub fn classify(status: u16, body: &str) -> Option<HttpError> {
    if (200..300).contains(&status) {
        return None;
    }
    let (message, line) = error_message(status, body);
    Some(match status {
        400 => HttpError::Refused { message, line },
        413 => HttpError::TooLarge(message),
        408 | 421 | 425 | 429 => HttpError::Unavailable(message),
        500..=599 => HttpError::Unavailable(message),
        _ => HttpError::Misconfigured(message),
    })
}

/// QuestDB's message from an error body (`/write`: `{"code", "message", "line", "errorId"}`;
/// `/exec`: `{"error", "position"}`), prefixed with the status; the raw body otherwise.
fn error_message(status: u16, body: &str) -> (String, Option<usize>) {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let line = json
        .as_ref()
        .and_then(|j| j.get("line"))
        .and_then(serde_json::Value::as_u64)
        .and_then(|l| usize::try_from(l).ok())
        .filter(|l| *l > 0);
    let text = field("message")
        .or_else(|| field("error"))
        .unwrap_or_else(|| body.trim().to_owned());
    let text = match field("errorId") {
        Some(id) => format!("{text} [errorId={id}]"),
        None => text,
    };
    let mut message = format!("HTTP {status}: {}", text.replace('\n', " "));
    if message.chars().count() > MAX_MESSAGE_CHARS {
        message = message.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "...";
    }
    (message, line)
}

/// A blocking client of one QuestDB's HTTP API (a pool of keep-alive connections).
#[derive(Debug, Clone)]
pub struct QuestDbHttp {
    agent: ureq::Agent,
    base: String,
    authorization: Option<String>,
    request_timeout: Duration,
    min_throughput: u64,
    protocol: IlpProtocol,
}

impl QuestDbHttp {
    /// A client for `endpoint`.
    ///
    /// # Errors
    /// The TLS roots file (`tls_roots=`) cannot be read or holds no certificate.
    pub fn new(endpoint: &QuestDbEndpoint) -> Result<Self, HttpError> {
        let mut tls = ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::Rustls);
        if let Some(path) = endpoint.tls_roots() {
            let pem = std::fs::read(path).map_err(|e| {
                HttpError::Misconfigured(format!("cannot read tls_roots {}: {e}", path.display()))
            })?;
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(HttpError::Misconfigured(format!(
                    "tls_roots {} holds no PEM certificate",
                    path.display()
                )));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls.build())
            .timeout_connect(Some(endpoint.request_timeout()))
            .build()
            .into();
        Ok(Self {
            agent,
            base: endpoint.http_base(),
            authorization: endpoint.authorization(),
            request_timeout: endpoint.request_timeout(),
            min_throughput: endpoint.request_min_throughput(),
            protocol: endpoint.protocol(),
        })
    }

    /// The time a request of `bytes` may take: `request_timeout` plus the body at
    /// `request_min_throughput` bytes a second (questdb-rs's rule).
    fn timeout_for(&self, bytes: usize) -> Duration {
        let transfer = match self.min_throughput {
            0 => Duration::ZERO,
            rate => Duration::from_secs_f64(bytes as f64 / rate as f64),
        };
        self.request_timeout + transfer
    }

    /// Posts ILP lines (timestamps in nanoseconds, as questdb-rs encodes them) to `/write`.
    ///
    /// # Errors
    /// See [`HttpError`]; after an error nothing of `body` was written, except that a commit
    /// failing on one table (5xx) may leave another table's rows written (the retry rewrites
    /// them and DEDUP absorbs them).
    pub fn write(&self, body: &[u8]) -> Result<(), HttpError> {
        let mut request = self
            .agent
            .post(format!("{}/write", self.base))
            .config()
            .timeout_global(Some(self.timeout_for(body.len())))
            .build()
            .query("precision", "n")
            .content_type("text/plain; charset=utf-8");
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        answer(request.send(body), "/write")
    }

    /// Runs one SQL statement through `/exec` (DDL).
    ///
    /// # Errors
    /// See [`HttpError`]; QuestDB's SQL errors are [`HttpError::Refused`].
    pub fn exec(&self, sql: &str) -> Result<(), HttpError> {
        let mut request = self
            .agent
            .get(format!("{}/exec", self.base))
            .config()
            .timeout_global(Some(self.timeout_for(0)))
            .build()
            .query("query", sql);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        answer(request.call(), "/exec")
    }

    /// Runs one query through `/exec` within `timeout` and returns QuestDB's JSON answer
    /// (`columns`, `dataset`, ...), for the console's charts.
    ///
    /// # Errors
    /// See [`HttpError`]; an answer that is not JSON is [`HttpError::Misconfigured`].
    pub fn query(&self, sql: &str, timeout: Duration) -> Result<serde_json::Value, HttpError> {
        let mut request = self
            .agent
            .get(format!("{}/exec", self.base))
            .config()
            .timeout_global(Some(timeout))
            .build()
            .query("query", sql);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let mut response = request.call().map_err(|e| transport_error(&e, "/exec"))?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        if let Some(error) = classify(status, &body) {
            return Err(error);
        }
        serde_json::from_str(&body)
            .map_err(|e| HttpError::Misconfigured(format!("/exec answered with no JSON: {e}")))
    }

    /// Asks whether QuestDB answers (`/ping`).
    ///
    /// # Errors
    /// See [`HttpError`].
    pub fn ping(&self) -> Result<(), HttpError> {
        let request = self
            .agent
            .get(format!("{}/ping", self.base))
            .config()
            .timeout_global(Some(self.timeout_for(0)))
            .build();
        answer(request.call(), "/ping")
    }

    /// The ILP version to encode with: the configured one, or (`auto`) version 2 when the
    /// server's `/settings` lists it, else 1 (QuestDB before 9.0).
    ///
    /// # Errors
    /// QuestDB does not answer `/settings` (unavailable, or credentials refused).
    pub fn protocol_version(&self) -> Result<ProtocolVersion, HttpError> {
        match self.protocol {
            IlpProtocol::V1 => return Ok(ProtocolVersion::V1),
            IlpProtocol::V2 => return Ok(ProtocolVersion::V2),
            IlpProtocol::Auto => {}
        }
        let mut request = self
            .agent
            .get(format!("{}/settings", self.base))
            .config()
            .timeout_global(Some(self.timeout_for(0)))
            .build();
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let mut response = request
            .call()
            .map_err(|e| transport_error(&e, "/settings"))?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        if status == 404 {
            // Servers older than /settings speak version 1 only.
            return Ok(ProtocolVersion::V1);
        }
        if let Some(error) = classify(status, &body) {
            return Err(error);
        }
        let speaks_v2 = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|j| {
                j.pointer("/config/line.proto.support.versions")
                    .and_then(|v| v.as_array().cloned())
            })
            .is_some_and(|versions| versions.iter().any(|v| v.as_u64() == Some(2)));
        Ok(if speaks_v2 {
            ProtocolVersion::V2
        } else {
            ProtocolVersion::V1
        })
    }
}

/// Classifies a response (or the transport failure instead of one).
fn answer(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    path: &str,
) -> Result<(), HttpError> {
    let mut response = response.map_err(|e| transport_error(&e, path))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    match classify(status, &body) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// A request that got no HTTP answer: QuestDB unreachable, the connection reset or timed
/// out, or the TLS handshake failed; all may pass.
fn transport_error(error: &ureq::Error, path: &str) -> HttpError {
    HttpError::Unavailable(format!("{path}: {error}"))
}

#[cfg(test)]
pub(super) mod tests;
