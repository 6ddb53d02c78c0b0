//! Tracing set-up: an env filter (`RUST_LOG`, default `info`) and text or JSON lines on stderr,
//! coloured only when stderr is a terminal (never in a file or the journal) and `NO_COLOR` is
//! not set, with other crates' `log` records bridged in, and **no secret in any line at any
//! level**:
//!
//! - crates that handle credentials ([`CAPPED_TARGETS`]: the HTTP clients, TLS, SMTP, MQTT)
//!   are capped at `info` whatever `RUST_LOG` asks: at `debug` ureq prints request URLs (a
//!   DingTalk `access_token=`, a WeCom `key=`), at `trace` request headers (the Basic
//!   authorization that carries the QuestDB password), rumqttc its CONNECT packet;
//! - every line then goes through [`redact`], which replaces the values of known secret
//!   patterns (URL query secrets, `;`-separated `PW=`/`password=`, authorization headers) with
//!   `***`, so a secret in a line of weijian's own or of a crate not listed is masked too.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Crates whose `debug`/`trace` lines carry credentials (URLs with tokens, authorization
/// headers, protocol packets): never logged below `info`.
pub const CAPPED_TARGETS: &[&str] = &[
    "ureq",
    "ureq_proto",
    "rustls",
    "tokio_rustls",
    "hyper",
    "hyper_util",
    "h2",
    "questdb",
    "lettre",
    "rumqttc",
];

/// Installs the global subscriber on stderr. A second call (tests) is a no-op.
pub fn init(format: LogFormat, default_filter: &str) {
    init_writing_to(format, default_filter, std::io::stderr);
}

/// [`init`] writing to `writer` (tests capture lines this way).
pub fn init_writing_to<W>(format: LogFormat, default_filter: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let caps = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED_TARGETS.iter().map(|t| (*t, LevelFilter::INFO)));
    let writer = Redacting(writer);
    let registry = tracing_subscriber::registry().with(filter).with(caps);
    let result = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(colours_wanted())
                    .with_writer(writer),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(writer),
            )
            .try_init(),
    };
    // Already installed (tests, or the demo calling twice) is fine.
    drop(result);
}

/// Colour codes only for a person at a terminal: not when stderr is a file, a pipe or the
/// journal, and not when `NO_COLOR` is set (no-color.org).
fn colours_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Makes writers that pass each formatted line through [`redact`].
struct Redacting<W>(W);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for Redacting<W> {
    type Writer = RedactingWriter<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

/// A writer that redacts what it is given (the formatter writes a whole line at once).
struct RedactingWriter<W>(W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Names whose value is a secret after `?`, `&` or `;` (URL queries, QuestDB configuration
/// strings, HJ 212 data segments), compared without case.
const SECRET_NAMES: &[&str] = &[
    "access_token",
    "key",
    "sign",
    "secret",
    "token",
    "password",
    "passwd",
    "pwd",
    "pw",
];

/// Authorization schemes whose credential follows the scheme name.
const AUTH_SCHEMES: &[&str] = &["basic ", "bearer ", "digest ", "token "];

/// The replacement of a secret value.
pub const MASK: &str = "***";

/// `line` with the values of secret patterns replaced by [`MASK`]: `name=value` after `?`, `&`
/// or `;` for the [`SECRET_NAMES`], and the credential of an `authorization` header or field.
pub fn redact(line: &str) -> Cow<'_, str> {
    let lower = line.to_ascii_lowercase();
    // (start, end) byte ranges to mask; `lower` has the same byte offsets as `line`.
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for name in SECRET_NAMES {
        let pattern = format!("{name}=");
        let mut from = 0;
        while let Some(found) = lower[from..].find(&pattern) {
            let at = from + found;
            let value = at + pattern.len();
            let preceded = at > 0 && matches!(lower.as_bytes()[at - 1], b'?' | b'&' | b';');
            if preceded {
                ranges.push((value, value_end(line, value)));
            }
            from = value;
        }
    }
    let mut from = 0;
    while let Some(found) = lower[from..].find("authorization") {
        let mut at = from + found + "authorization".len();
        // `authorization: Basic x`, `"authorization": "Bearer x"`, `("authorization", "Basic x")`.
        while at < lower.len()
            && matches!(
                lower.as_bytes()[at],
                b'"' | b'\'' | b':' | b'=' | b',' | b' '
            )
        {
            at += 1;
        }
        if let Some(scheme) = AUTH_SCHEMES.iter().find(|s| lower[at..].starts_with(**s)) {
            at += scheme.len();
        }
        ranges.push((at, value_end(line, at)));
        from = at;
    }
    ranges.retain(|(start, end)| end > start);
    if ranges.is_empty() {
        return Cow::Borrowed(line);
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    for (start, end) in ranges {
        if start < copied {
            continue;
        }
        out.push_str(&line[copied..start]);
        out.push_str(MASK);
        copied = end;
    }
    out.push_str(&line[copied..]);
    Cow::Owned(out)
}

/// Where a secret value starting at `start` ends: at a separator, a quote, a bracket or white
/// space.
fn value_end(line: &str, start: usize) -> usize {
    line[start..]
        .find(|c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    '&' | ';' | ',' | '"' | '\'' | '\\' | ')' | ']' | '}' | '>' | '<'
                )
        })
        .map_or(line.len(), |n| start + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robot_tokens_in_urls_are_masked() {
        assert_eq!(
            redact("POST https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=1&sign=x%2By"),
            "POST https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***"
        );
        assert_eq!(
            redact("url=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K-1 status=200"),
            "url=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=*** status=200"
        );
    }

    #[test]
    fn passwords_in_configuration_strings_and_hj212_frames_are_masked() {
        assert_eq!(
            redact("http::addr=q:9000;username=admin;password=quest;"),
            "http::addr=q:9000;username=admin;password=***;"
        );
        assert_eq!(
            redact("##0101QN=1;ST=32;CN=2011;PW=123456;MN=A1;CP=&&w01001-Rtd=7.1&&"),
            "##0101QN=1;ST=32;CN=2011;PW=***;MN=A1;CP=&&w01001-Rtd=7.1&&"
        );
    }

    #[test]
    fn authorization_credentials_are_masked_in_every_spelling() {
        assert_eq!(
            redact("authorization: Basic YWRtaW46cXVlc3Q="),
            "authorization: Basic ***"
        );
        assert_eq!(
            redact(r#"headers: {"authorization": "Bearer tok-1", "host": "x"}"#),
            r#"headers: {"authorization": "Bearer ***", "host": "x"}"#
        );
        assert_eq!(
            redact(r#"("Authorization", "Basic YWRtaW4=")"#),
            r#"("Authorization", "Basic ***")"#
        );
    }

    #[test]
    fn ordinary_lines_are_untouched() {
        let line = "Applied an API request. request=r1-2 key_count=3 monkey=1 topic=weijian/v1/s/d";
        assert!(matches!(redact(line), Cow::Borrowed(_)), "{}", redact(line));
        assert_eq!(redact("中文 reason=检修"), "中文 reason=检修");
    }
}
