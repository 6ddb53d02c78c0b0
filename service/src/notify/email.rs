//! [`EmailNotifier`]: a plain-text e-mail over SMTP (lettre's blocking [`SmtpTransport`]) to
//! the address an `email` channel names.
//!
//! The message:
//! - `To`: the channel target (`zhang@example.org`, or `张三 <zhang@example.org>`); a bare
//!   address gets the supervisor's name when the delivery has exactly one addressee.
//! - `Subject`: [`render::title`] (Chinese, RFC 2047 encoded by lettre).
//! - `text/plain; charset=utf-8`, base64: the Chinese block (level, site, grid, Beijing time,
//!   recipients, alert ids, `text_zh`), then the English block, then the notice id.
//! - `Message-ID: <{32 hex digits of SHA-256(delivery key)}.weijian@{from domain}>`: the same
//!   on every re-send of a delivery (after a crash, a retry), so mail clients and the
//!   receiving server can recognise duplicates; `X-Weijian-Notice-Id: <notice id>` for
//!   filters and tooling. `Date` is the notice time, also stable across re-sends.
//!
//! One SMTP connection per message (no pool): alerts are rare, and a fresh connection never
//! fails on a stale one. Each SMTP command waits at most [`SmtpSettings::timeout`].
//!
//! Errors: connection failures, TLS failures, timeouts and 4xx replies are transient; 5xx
//! replies (550 mailbox unavailable, 535 authentication failed), an unparseable address and
//! a missing password are permanent. The password (read through the [`SecretSource`] at send
//! time) never appears in an error.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use alerting::catalogue;
use alerting::delivery::{ChannelKind, Language};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use super::error::mask_text;
use super::{render, Delivery, Notifier, NotifyError, SecretSource};

const CHANNEL: &str = "email";

/// `X-Weijian-Notice-Id`: the notice id, for mail filters and for deduplicating by hand.
const NOTICE_ID_HEADER: HeaderName = HeaderName::new_from_ascii_str("X-Weijian-Notice-Id");

pub use weijian_ingest::config::delivery::{SmtpSettings, SmtpTls};

/// E-mail over SMTP. Blocking: run [`Notifier::send`] on a blocking thread.
#[derive(Clone)]
pub struct EmailNotifier {
    settings: SmtpSettings,
    from: Mailbox,
    tls: Tls,
    secrets: Arc<dyn SecretSource>,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl EmailNotifier {
    /// A notifier sending through the relay `settings` describes.
    ///
    /// # Errors
    ///
    /// A permanent [`NotifyError::InvalidTarget`] (target `[delivery.smtp]`) when `from` is not
    /// a mailbox, `host` is empty, `username` and `password_env` are not set together, or the
    /// TLS parameters cannot be built. The password itself is only read at send time.
    pub fn new(
        settings: SmtpSettings,
        secrets: Arc<dyn SecretSource>,
    ) -> Result<Self, NotifyError> {
        let invalid = |reason: String| NotifyError::InvalidTarget {
            channel: CHANNEL,
            target: "[delivery.smtp]".to_owned(),
            reason,
        };
        let from: Mailbox = settings.from.parse().map_err(|e| {
            invalid(format!(
                "from {:?} is not a mailbox (`Name <user@host>` or `user@host`): {e}",
                settings.from
            ))
        })?;
        if settings.host.trim().is_empty() {
            return Err(invalid("host is empty".to_owned()));
        }
        if settings.username.is_some() != settings.password_env.is_some() {
            return Err(invalid(
                "username and password_env must be set together".to_owned(),
            ));
        }
        let tls = match settings.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters(&settings.host).map_err(invalid)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(&settings.host).map_err(invalid)?),
        };
        Ok(Self {
            settings,
            from,
            tls,
            secrets,
        })
    }

    /// The message of a delivery, as it is handed to the relay.
    ///
    /// # Errors
    ///
    /// [`NotifyError::InvalidTarget`] (permanent) when the channel target is not an e-mail
    /// address; the error shows the target masked ([`mask_address`]).
    pub fn message(&self, delivery: &Delivery) -> Result<Message, NotifyError> {
        let mut to = parse_target(&delivery.channel.target)?;
        if to.name.is_none() {
            if let [only] = delivery.to.as_slice() {
                to.name = Some(only.name.clone());
            }
        }
        let body = Body::new_with_encoding(
            text(delivery),
            lettre::message::header::ContentTransferEncoding::Base64,
        )
        .map_err(|_| build_error(delivery, "the body cannot be base64-encoded"))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(render::title(delivery))
            .date(system_time(delivery))
            .message_id(Some(message_id(delivery, self.from.email.domain())))
            .raw_header(HeaderValue::new(
                NOTICE_ID_HEADER,
                delivery.notice_id.clone(),
            ))
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(body),
            )
            .map_err(|e| build_error(delivery, &e.to_string()))
    }

    /// `smtp://host:port` or `smtps://host:port`, for errors.
    fn url(&self) -> String {
        let scheme = match self.settings.tls {
            SmtpTls::Tls => "smtps",
            SmtpTls::None | SmtpTls::StartTls => "smtp",
        };
        format!("{scheme}://{}:{}", self.settings.host, self.settings.port)
    }

    /// The password, if the settings name one; `MissingSecret` if it is not set.
    fn credentials(&self) -> Result<Option<(Credentials, String)>, NotifyError> {
        let (Some(user), Some(env)) = (&self.settings.username, &self.settings.password_env) else {
            return Ok(None);
        };
        let password = self
            .secrets
            .secret(env)
            .ok_or_else(|| NotifyError::MissingSecret {
                channel: CHANNEL,
                env: env.clone(),
            })?;
        Ok(Some((
            Credentials::new(user.clone(), password.clone()),
            password,
        )))
    }

    /// A lettre SMTP error as a [`NotifyError`], with the password masked out of any text.
    fn classify(
        &self,
        error: &lettre::transport::smtp::Error,
        password: Option<&str>,
    ) -> NotifyError {
        let secrets: Vec<&str> = password.into_iter().collect();
        if let Some(code) = error.status() {
            let message = std::error::Error::source(error)
                .map(|s| s.to_string())
                .unwrap_or_default();
            return NotifyError::Api {
                channel: CHANNEL,
                url: self.url(),
                code: i64::from(u16::from(code)),
                message: mask_text(message.trim(), &secrets),
                // 4xx: try again later (greylisting, mailbox busy, rate limit); 5xx: never.
                transient: error.is_transient(),
            };
        }
        if error.is_timeout() || timed_out(error) {
            return NotifyError::Timeout {
                channel: CHANNEL,
                url: self.url(),
                timeout: self.settings.timeout,
            };
        }
        NotifyError::Connection {
            channel: CHANNEL,
            url: self.url(),
            reason: mask_text(&error_chain(error), &secrets),
        }
    }
}

impl Notifier for EmailNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }

    fn send(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        let message = self.message(delivery)?;
        let credentials = self.credentials()?;
        let mut builder = SmtpTransport::builder_dangerous(self.settings.host.as_str())
            .port(self.settings.port)
            .tls(self.tls.clone())
            .timeout(Some(self.settings.timeout));
        let password = match credentials {
            Some((c, password)) => {
                builder = builder.credentials(c);
                Some(password)
            }
            None => None,
        };
        builder
            .build()
            .send(&message)
            .map(|_| ())
            .map_err(|e| self.classify(&e, password.as_deref()))
    }
}

/// Building the message failed: the same delivery would fail the same way, so permanent.
fn build_error(delivery: &Delivery, reason: &str) -> NotifyError {
    NotifyError::InvalidTarget {
        channel: CHANNEL,
        target: mask_address(&delivery.channel.target),
        reason: format!("the message cannot be built: {reason}"),
    }
}

/// Whether `target` is a usable e-mail channel target (for `check_channel`).
pub(crate) fn check_target(target: &str) -> Result<(), NotifyError> {
    parse_target(target).map(|_| ())
}

fn parse_target(target: &str) -> Result<Mailbox, NotifyError> {
    target.parse().map_err(|e| NotifyError::InvalidTarget {
        channel: CHANNEL,
        target: mask_address(target),
        reason: format!("not an e-mail address: {e}"),
    })
}

/// An address as shown in errors and logs: the first character of the local part, then
/// `***`, then the domain (`z***@example.org`); text without `@` keeps its first character.
pub fn mask_address(target: &str) -> String {
    let t = target.trim();
    let (local, domain) = match t.rsplit_once('@') {
        Some((l, d)) => (l, Some(d.trim_end_matches('>'))),
        None => (t, None),
    };
    let local = local.rsplit('<').next().unwrap_or(local).trim();
    let first: String = local.chars().take(1).collect();
    match domain {
        Some(d) => format!("{first}***@{d}"),
        None => format!("{first}***"),
    }
}

/// `<{32 hex digits of SHA-256(delivery key)}.weijian@{domain}>`.
fn message_id(delivery: &Delivery, domain: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, delivery.key().as_bytes());
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("<{hex}.weijian@{domain}>")
}

/// The notice time as a `Date`; the epoch for a (nonsensical) time before it.
fn system_time(delivery: &Delivery) -> SystemTime {
    let micros = u64::try_from(delivery.content.created_at.as_micros()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_micros(micros)
}

/// The plain-text body: Chinese block, English block, notice id.
pub fn text(d: &Delivery) -> String {
    let c = &d.content;
    let names =
        d.to.iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join("、");
    let language = d.channel.language();
    let mut zh = vec![
        render::title(d),
        String::new(),
        format!("级别：{}", render::level_zh(c.level)),
        format!("类型：{}", render::kind_zh(c.kind)),
        format!("站点：{}（{}）", c.site_name, c.site),
        format!("网格：{}", c.grid),
        format!("通知时间：北京时间 {}", catalogue::time_zh(c.created_at)),
    ];
    if !d.to.is_empty() {
        zh.push(format!("致：{names}（{}级）", c.tier.zh()));
    }
    if !c.alerts.is_empty() {
        zh.push(format!(
            "{}编号：{}",
            catalogue::ALERT_ZH,
            c.alerts.join("，")
        ));
    }
    zh.push(String::new());
    zh.extend(body_lines(&c.text_zh, '【'));

    let mut en = vec![
        format!(
            "{} · {} — {}",
            render::level_en(c.level),
            render::kind_en(c.kind),
            c.site_name
        ),
        String::new(),
        format!("Site: {} ({})", c.site_name, c.site),
        format!("Grid: {}", c.grid),
        format!(
            "Notice time: {} ({})",
            catalogue::time_en(c.created_at),
            c.created_at
        ),
    ];
    if !d.to.is_empty() {
        en.push(format!("To: {names} ({} tier)", c.tier.as_str()));
    }
    if !c.alerts.is_empty() {
        en.push(format!("Alerts: {}", c.alerts.join(", ")));
    }
    en.push(String::new());
    en.extend(body_lines(&c.text_en, '['));

    let (mut out, id) = match language {
        Language::Zh => (zh.join("\n"), "通知编号"),
        Language::En => (en.join("\n"), "Notice ID"),
        Language::ZhEn => {
            let mut both = zh.join("\n");
            both.push_str("\n\n----------------------------------------\n\n");
            both.push_str(&en.join("\n"));
            (both, "通知编号 Notice ID")
        }
    };
    out.push_str(&format!("\n\n{id}: {}\n", d.notice_id));
    out
}

/// A notice text without its heading line (which repeats the subject); evidence
/// indentation is kept, since plain text shows it as written.
fn body_lines(text: &str, heading_mark: char) -> Vec<String> {
    let mut lines = text.lines().peekable();
    if lines
        .peek()
        .is_some_and(|l| l.trim_start().starts_with(heading_mark))
    {
        lines.next();
    }
    lines.map(|l| l.trim_end().to_owned()).collect()
}

fn tls_parameters(host: &str) -> Result<TlsParameters, String> {
    TlsParameters::builder(host.to_owned())
        .build_rustls()
        .map_err(|e| format!("TLS parameters for {host}: {e}"))
}

/// A read timeout surfaces as `WouldBlock` on Unix (`EAGAIN`), which lettre's
/// `is_timeout` does not count.
fn timed_out(error: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            );
        }
        source = s.source();
    }
    false
}

/// `error: cause: cause`, for connection errors whose top level says only "network error".
fn error_chain(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
