//! Notifiers: the last step of alert delivery, sending one [`Notice`] to one recipient
//! channel (webhook, DingTalk robot, WeCom robot, MQTT topic, e-mail).
//!
//! The delivery core (`alerting::delivery`) decides who is told what and when; it produces
//! [`Notice`]s. [`Delivery::fan_out`] splits a notice into one [`Delivery`] per distinct
//! channel of its recipients (two supervisors sharing one DingTalk group get one message,
//! addressed to both). A [`Notifier`] sends a delivery, rendering it bilingually, Chinese
//! first: what, where (site, grid path), how bad (level I 特别严重 / red ...), since when
//! (Beijing time), evidence and what to do (the notice's `text_zh` / `text_en`).
//!
//! - [`webhook`]: [`WebhookNotifier`], a POST of the documented notice JSON
//!   ([`render::notice_json`]) with `Idempotency-Key: <notice id>` (and an HMAC signature
//!   header when the channel has a secret).
//! - [`dingtalk`]: [`DingTalkNotifier`], the DingTalk group robot (markdown, optional 加签
//!   signature).
//! - [`wecom`]: [`WeComNotifier`], the WeCom group robot (markdown, 4096-byte limit).
//! - [`mqtt`]: [`MqttNotifier`] for supervisor channels of kind `mqtt` (publishing through a
//!   function the pipeline supplies) and [`mqtt::delivery_event_message`], the
//!   alert message for delivery lifecycle events (escalated, acknowledged, resolved).
//! - [`email`]: [`EmailNotifier`], a plain-text e-mail (Chinese, then English) over SMTP
//!   through the relay in [`SmtpSettings`] (`[delivery.smtp]`), with a `Message-ID` derived
//!   from [`Delivery::key`] and `X-Weijian-Notice-Id: <notice id>`.
//! - [`retry`]: [`Retry`], exponential back-off with jitter for the outbox.
//! - [`error`]: [`NotifyError`] and its transient/permanent split; URL and text masking.
//! - [`render`]: the shared rendering (Beijing time, markdown, the webhook JSON).
//!
//! **E-mail needs an SMTP relay** (`[delivery.smtp]` in the configuration). Without one no
//! [`EmailNotifier`] is added to the [`Notifiers`], and a delivery to an `email` channel
//! fails with the permanent [`NotifyError::Unsupported`]; configure the relay, or another
//! channel for anyone who must be reached.
//!
//! # Blocking
//!
//! [`Notifier::send`] is **blocking** (ureq, lettre's SMTP client; at most the configured timeout, 10 s by default,
//! per request). Async callers run it on a blocking thread:
//! `tokio::task::spawn_blocking(move || notifiers.send(&delivery))` with the notifiers in an
//! `Arc`. Notifiers are `Send + Sync` and keep a connection pool, so build them once.
//!
//! # Secrets
//!
//! A channel's `secret_env` names an environment variable; notifiers read it through a
//! [`SecretSource`] ([`EnvSecrets`] in production, a map in tests) at send time. Secrets and
//! the credentials in robot URLs (`access_token=`, `key=`) never appear in errors or logs:
//! URLs are shown through [`error::mask_url`]. Note that a [`Delivery`] (and so the outbox
//! spool) holds the channel target URL with its token, exactly as the supervisors file does.
//!
//! # The outbox (next step) and how it uses this module
//!
//! The outbox is a spool (`weijian_ingest::spool`: `append` / `next_batch` / `commit`) of
//! [`Delivery`] records (serde JSON), appended when the delivery core emits a notice, so that
//! a restart loses nothing. Rules:
//!
//! - **Transient errors are retried forever** with [`Retry::next_delay`] (exponential, with
//!   jitter, capped at `max_delay`; at least the receiver's `Retry-After`, see
//!   [`retry::decide`]). A channel that is down *delays* its deliveries, it never drops
//!   them. **Permanent errors are recorded** (log at `warn`, a metric per channel kind, and
//!   ideally a row next to the delivery events) **and not retried**.
//! - **Order per alert is kept**: deliveries to one channel target are sent in spool order,
//!   and a delivery waiting on back-off blocks the later ones *for the same target* (so a
//!   `resolved` never overtakes the `new` it closes). Different targets proceed
//!   independently, so one dead robot does not hold the others: keep one queue (cursor) per
//!   target, or one head-of-line delivery per target in memory over the shared spool, and
//!   commit the spool up to the oldest delivery not yet finished.
//! - **Deduplicate on [`Delivery::key`]** (notice id + channel kind + target hash): a replay after a crash may
//!   append a notice again; receivers can also dedupe on the notice id (the webhook sends
//!   it as `Idempotency-Key`, the payloads carry it).
//! - Run sends on blocking threads (see above), a few at a time (2 cores; robots rate-limit
//!   at about 20 messages a minute per group, which surfaces as a transient error).

pub mod dingtalk;
pub mod email;
pub mod error;
mod http;
pub mod mqtt;
pub mod render;
pub mod retry;
pub mod webhook;
pub mod wecom;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use alerting::delivery::{Channel, ChannelKind, Notice, NoticeKind, SupervisorId, Tier};
use alerting::model::{GridPath, Timestamp};
use alerting::Level;
use serde::{Deserialize, Serialize};

pub use dingtalk::DingTalkNotifier;
pub use email::{EmailNotifier, SmtpSettings, SmtpTls};
pub use error::NotifyError;
pub use http::{HttpConfig, DEFAULT_TIMEOUT};
pub use mqtt::MqttNotifier;
pub use retry::{Decision, Retry};
pub use webhook::WebhookNotifier;
pub use wecom::WeComNotifier;

/// Sends deliveries of one channel kind. Blocking: see the module docs.
pub trait Notifier: Send + Sync {
    /// The channel kind this notifier serves.
    fn kind(&self) -> ChannelKind;
    /// Sends one delivery. `Ok` means the receiver accepted it.
    fn send(&self, delivery: &Delivery) -> Result<(), NotifyError>;
}

/// One supervisor a delivery is addressed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addressee {
    pub supervisor: SupervisorId,
    pub name: String,
    /// For @mentions in DingTalk groups (`mobile` in the supervisors file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
}

/// What a notice says, independent of who receives it (a [`Notice`] without recipients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub kind: NoticeKind,
    /// The tier the notice is addressed to (for escalations: the new tier).
    pub tier: Tier,
    pub alerts: Vec<String>,
    pub site: String,
    pub site_name: String,
    pub grid: GridPath,
    pub level: Level,
    pub text_zh: String,
    pub text_en: String,
    pub created_at: Timestamp,
    /// Each alert's console page, in text order (empty without `http.public_url`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

/// One notice to one channel: what the outbox stores and a [`Notifier`] sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// [`Notice::id`]: stable across replays; the receiver's idempotency key.
    pub notice_id: String,
    pub channel: Channel,
    /// The recipients reached through this channel (usually one; several when they share a
    /// group robot or webhook).
    pub to: Vec<Addressee>,
    pub content: Content,
}

impl Delivery {
    /// One delivery per distinct channel (kind and target) among the notice's recipients,
    /// in recipient order; recipients sharing a channel are merged into one delivery.
    pub fn fan_out(notice: &Notice) -> Vec<Delivery> {
        let content = Content {
            kind: notice.kind,
            tier: notice.tier,
            alerts: notice.alerts.clone(),
            site: notice.site.clone(),
            site_name: notice.site_name.clone(),
            grid: notice.grid.clone(),
            level: notice.level,
            text_zh: notice.text_zh.clone(),
            text_en: notice.text_en.clone(),
            created_at: notice.created_at,
            links: notice.links.clone(),
        };
        let mut out: Vec<Delivery> = Vec::new();
        for r in &notice.recipients {
            let who = Addressee {
                supervisor: r.supervisor.clone(),
                name: r.name.clone(),
                mobile: r.mobile.clone(),
            };
            for ch in &r.channels {
                match out
                    .iter_mut()
                    .find(|d| d.channel.kind == ch.kind && d.channel.target == ch.target)
                {
                    Some(d) => {
                        if !d.to.iter().any(|a| a.supervisor == who.supervisor) {
                            d.to.push(who.clone());
                        }
                    }
                    None => out.push(Delivery {
                        notice_id: notice.id.clone(),
                        channel: ch.clone(),
                        to: vec![who.clone()],
                        content: content.clone(),
                    }),
                }
            }
        }
        out
    }

    /// The outbox's deduplication key, unique per delivery of a notice:
    /// `{notice id}|{kind}|{first 16 hex digits of SHA-256(target)}`. The target is hashed
    /// because robot URLs carry their token, so the key is safe to log.
    pub fn key(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.channel.target.as_bytes());
        let hash: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}|{}|{hash}", self.notice_id, self.channel.kind.as_str())
    }

    /// A log-safe description: `notice n1/new/... via dingtalk https://...?access_token=***`.
    pub fn describe(&self) -> String {
        format!(
            "notice {} via {} {}",
            self.notice_id,
            self.channel.kind.as_str(),
            error::mask_url(&self.channel.target)
        )
    }
}

/// Where channel secrets come from (named by `Channel::secret_env`).
pub trait SecretSource: Send + Sync {
    fn secret(&self, name: &str) -> Option<String>;
}

/// Secrets from the process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

impl SecretSource for EnvSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl SecretSource for HashMap<String, String> {
    fn secret(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// The secret a channel names, if it names one; `MissingSecret` if it is not set.
pub(crate) fn channel_secret(
    secrets: &dyn SecretSource,
    channel: &Channel,
) -> Result<Option<String>, NotifyError> {
    match &channel.secret_env {
        None => Ok(None),
        Some(env) => secrets
            .secret(env)
            .map(Some)
            .ok_or_else(|| NotifyError::MissingSecret {
                channel: channel.kind.as_str(),
                env: env.clone(),
            }),
    }
}

/// All notifiers, dispatching a delivery by its channel kind.
#[derive(Clone, Default)]
pub struct Notifiers {
    by_kind: Vec<Arc<dyn Notifier>>,
}

impl fmt::Debug for Notifiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.by_kind.iter().map(|n| n.kind().as_str()))
            .finish()
    }
}

impl Notifiers {
    /// Webhook, DingTalk and WeCom notifiers with `config` and secrets from the environment.
    /// Add an [`MqttNotifier`] with [`Notifiers::with`] once the broker client exists.
    pub fn http(config: &HttpConfig) -> Self {
        Self::http_with_secrets(config, Arc::new(EnvSecrets))
    }

    /// [`Notifiers::http`] with secrets from `secrets`.
    pub fn http_with_secrets(config: &HttpConfig, secrets: Arc<dyn SecretSource>) -> Self {
        Self::default()
            .with(Arc::new(WebhookNotifier::new(config, secrets.clone())))
            .with(Arc::new(DingTalkNotifier::new(config, secrets)))
            .with(Arc::new(WeComNotifier::new(config)))
    }

    /// Adds (or replaces) the notifier for its kind.
    pub fn with(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.by_kind.retain(|n| n.kind() != notifier.kind());
        self.by_kind.push(notifier);
        self
    }

    /// Whether a delivery to `kind` can be attempted.
    pub fn supports(&self, kind: ChannelKind) -> bool {
        self.by_kind.iter().any(|n| n.kind() == kind)
    }

    /// Sends with the notifier for the delivery's channel kind ([`NotifyError::Unsupported`],
    /// permanent, if there is none: e-mail without `[delivery.smtp]`).
    pub fn send(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        let kind = delivery.channel.kind;
        let result = match self.by_kind.iter().find(|n| n.kind() == kind) {
            Some(n) => n.send(delivery),
            None => Err(NotifyError::unsupported(kind)),
        };
        if result.is_ok() {
            tracing::debug!(delivery = %delivery.describe(), "Notice delivered.");
        }
        result
    }
}

/// Checks a configured channel before any alert needs it (for `check-config` and start-up):
/// a notifier exists for its kind, its target is usable, and the secret it names is set.
/// The same problems at send time are permanent errors, so catching them here matters.
pub fn check_channel(channel: &Channel, secrets: &dyn SecretSource) -> Result<(), NotifyError> {
    let name = channel.kind.as_str();
    match channel.kind {
        ChannelKind::Email => email::check_target(&channel.target)?,
        ChannelKind::Mqtt => {
            let probe = Delivery {
                notice_id: String::new(),
                channel: channel.clone(),
                to: Vec::new(),
                content: Content {
                    kind: NoticeKind::New,
                    tier: Tier::Community,
                    alerts: Vec::new(),
                    site: String::new(),
                    site_name: String::new(),
                    grid: GridPath {
                        district: String::new(),
                        street: String::new(),
                        community: String::new(),
                    },
                    level: Level::IV,
                    text_zh: String::new(),
                    text_en: String::new(),
                    created_at: Timestamp(0),
                    links: Vec::new(),
                },
            };
            MqttNotifier::notice_message(&probe)?;
        }
        ChannelKind::Webhook | ChannelKind::Dingtalk | ChannelKind::Wecom => {
            let t = &channel.target;
            let rest = t
                .strip_prefix("https://")
                .or_else(|| t.strip_prefix("http://"));
            if !rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) {
                return Err(NotifyError::InvalidTarget {
                    channel: name,
                    target: error::mask_url(t),
                    reason: "not an http(s) URL".to_owned(),
                });
            }
            let needs_query = match channel.kind {
                ChannelKind::Dingtalk => Some("access_token="),
                ChannelKind::Wecom => Some("key="),
                _ => None,
            };
            if let Some(param) = needs_query {
                if !t.contains(param) {
                    return Err(NotifyError::InvalidTarget {
                        channel: name,
                        target: error::mask_url(t),
                        reason: format!("a {name} robot URL carries `{param}...`"),
                    });
                }
            }
        }
    }
    channel_secret(secrets, channel).map(|_| ())
}

/// The configuration's channel check with the notifiers' own reading of each target
/// ([`check_channel`]): what `weijian run` and `weijian check-config` load configurations
/// with.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotifierChannels;

impl weijian_ingest::config::ChannelCheck for NotifierChannels {
    fn check(&self, channel: &Channel, secrets: &HashMap<String, String>) -> Result<(), String> {
        check_channel(channel, secrets).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests;
