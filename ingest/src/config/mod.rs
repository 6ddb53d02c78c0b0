//! Configuration: the TOML file ([`raw`]) validated into a [`Config`] at load.
//!
//! Loading is strict and complete: unknown keys are errors, and validation collects **every**
//! problem before returning, each naming the key path, the line, the value and the rule, so an
//! operator fixes a file in one pass. Secrets (broker and QuestDB passwords) may come from
//! environment variables named in the file (`password_env`), and any value of this file, the
//! supervisors file and the rule pack from `${VAR}` references ([`interpolate`]). Relative
//! paths written in a file are relative to that file's directory.

pub mod api;
pub mod console;
pub mod delivery;
pub mod endpoint;
pub mod hj212_tcp;
pub mod interpolate;
pub mod raw;
mod registry;
mod registry_file;
mod validate;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use registry::{DeviceEntry, Hj212Settings, Registry, SiteEntry};
pub use validate::is_valid_id;
use validate::{line_of, Validator};

use raw::RawConfig;

/// The longest a row waits for its QuestDB batch (`questdb.flush_interval_ms`). 500 ms: at a
/// steady trickle each table gets two WAL transactions a second, a few hundred rows each,
/// so QuestDB's commit work stays small next to the queries it answers, while a reading is
/// still on the dashboards within about a second. Rules do not wait for it: they run as soon
/// as a message is durable in the spool.
pub const DEFAULT_FLUSH_INTERVAL_MS: u64 = 500;

/// The largest ILP request weijian sends (`questdb.batch_max_bytes`), a product default:
/// 8 MiB holds a full default batch of readings (10,000 rows of a few hundred bytes) in one
/// request, stays far below questdb-rs's 100 MiB buffer limit and QuestDB's 1 GiB
/// `line.http.max.recv.buffer.size`, and takes seconds, not minutes, on a slow link
/// (`request_timeout` grows with the body at `request_min_throughput`).
pub const DEFAULT_BATCH_MAX_BYTES: usize = 8 * 1024 * 1024;

/// The validated configuration. Only [`Config::parse`] builds one.
#[derive(Debug, Clone)]
pub struct Config {
    pub mqtt: MqttConfig,
    pub questdb: QuestDbConfig,
    pub spool: SpoolSettings,
    pub limits: Limits,
    pub http: HttpConfig,
    pub alerts: AlertsConfig,
    pub delivery: DeliverySettings,
    /// `[api]`: the supervisors' API's limits.
    pub api: api::ApiSettings,
    pub registry: Arc<Registry>,
    /// `[hj212_tcp]`: the HJ 212 TCP listener, `None` when off (no `listen`).
    pub hj212_tcp: Option<hj212_tcp::Hj212TcpSettings>,
    /// `[gateway_feedback]`: refusal replies to gateways on MQTT.
    pub feedback: FeedbackSettings,
}

/// `[gateway_feedback]`: whether and how often a refused message is answered on its device's
/// `{prefix}/{site}/{device}/reply` topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedbackSettings {
    pub mqtt_replies: bool,
    /// At most one reply per device per interval.
    pub min_interval: Duration,
}

impl Default for FeedbackSettings {
    fn default() -> Self {
        Self {
            mqtt_replies: true,
            min_interval: hj212_tcp::DEFAULT_FEEDBACK_INTERVAL,
        }
    }
}

/// Alert delivery: the supervisors (grid cells, channels, API tokens, deadlines) and how
/// notices are sent.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// `None`: no supervisors file, so no delivery and no alert API.
    pub supervisors: Option<alerting::delivery::DeliveryConfig>,
    /// Where the supervisors came from (the file path).
    pub supervisors_source: Option<String>,
    /// Problems that do not stop weijian (a supervisor without channels), one line each.
    pub warnings: Vec<String>,
    /// Per notifier request.
    pub http_timeout: Duration,
    pub retry: delivery::Retry,
    /// The outbox spool's size limit.
    pub outbox_max_bytes: u64,
    /// `[delivery.smtp]`, validated (the e-mail notifier's settings; timeout = `http_timeout`).
    pub smtp: Option<delivery::SmtpSettings>,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            supervisors: None,
            supervisors_source: None,
            warnings: Vec::new(),
            http_timeout: delivery::DEFAULT_NOTIFY_TIMEOUT,
            retry: delivery::Retry::default(),
            outbox_max_bytes: 256 << 20,
            smtp: None,
        }
    }
}

/// The rule engine's settings, with the rule pack loaded and compiled.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub pack: alerting::RulePack,
    /// Where the pack came from (a path, or "built-in default pack").
    pub pack_source: String,
    pub tick_interval: Duration,
    pub snapshot_interval: Duration,
    pub publish: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MqttProtocol {
    V5,
    V311,
}

#[derive(Debug, Clone)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub protocol: MqttProtocol,
    pub username: Option<String>,
    pub password: Option<String>,
    pub keep_alive: Duration,
    pub session_expiry_secs: u32,
    pub inflight: u16,
    pub topic_prefix: String,
    pub tls_ca_file: Option<PathBuf>,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
}

#[derive(Debug, Clone)]
pub struct QuestDbConfig {
    /// The QuestDB of the questdb-rs configuration string `conf` (password included when
    /// configured): the ILP writer's string, the HTTP base for DDL, the credentials.
    pub endpoint: endpoint::QuestDbEndpoint,
    pub table_prefix: String,
    pub batch_max_rows: usize,
    /// The largest ILP request body (`questdb.batch_max_bytes`); a batch goes out in as many
    /// requests as it needs.
    pub batch_max_bytes: usize,
    pub flush_interval: Duration,
    pub retry_max: Duration,
}

#[derive(Debug, Clone)]
pub struct SpoolSettings {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub segment_bytes: u64,
    pub group_commit_delay: Duration,
    pub group_commit_interval: Duration,
    pub group_commit_records: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_payload_bytes: usize,
    pub max_array_objects: usize,
    pub max_future_secs: i64,
    pub max_age_secs: i64,
    /// How long an incomplete HJ 212 split upload waits for its parts.
    pub hj212_split_timeout_secs: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_payload_bytes: 256 * 1024,
            max_array_objects: 10_000,
            max_future_secs: 300,
            max_age_secs: 30 * 86_400,
            hj212_split_timeout_secs: crate::decode::hj212::DEFAULT_SPLIT_TIMEOUT_SECS,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: String,
    /// The supervisors' web console (`console_*` keys).
    pub console: console::ConsoleSettings,
    /// `http.public_url`: the console's address as supervisors reach it (absolute http(s)
    /// URL, no trailing `/`); `None`: notices carry no link (a check-config warning).
    pub public_url: Option<String>,
}

/// One configuration problem: where (key path and line), and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `devices[3].site`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// All the problems of one file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub source_name: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        writeln!(
            f,
            "{}: {n} configuration error{}:",
            self.source_name,
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// Where environment variables come from (injected so tests need not touch the process env).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Checks that a supervisor's channel can work (its target as the notifier reads it, its
/// secret present), so that a notice never fails for a reason visible at start. `secrets`:
/// the values of the `secret_env` variables that are set. The delivery service supplies the
/// full check (`weijian_service::notify::NotifierChannels`); [`SecretsPresent`] is what the
/// configuration can check by itself.
pub trait ChannelCheck {
    /// # Errors
    /// Why the channel cannot work, in words.
    fn check(
        &self,
        channel: &alerting::delivery::Channel,
        secrets: &HashMap<String, String>,
    ) -> Result<(), String>;
}

/// The check without notifiers: the channel's `secret_env` variable is set (targets are
/// checked for their shape when the supervisors file is loaded).
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretsPresent;

impl ChannelCheck for SecretsPresent {
    fn check(
        &self,
        channel: &alerting::delivery::Channel,
        secrets: &HashMap<String, String>,
    ) -> Result<(), String> {
        match &channel.secret_env {
            Some(env) if !secrets.contains_key(env) => Err(format!(
                "{}: secret environment variable {env} is not set",
                channel.kind.as_str()
            )),
            _ => Ok(()),
        }
    }
}

/// The environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_PATH_VAR: &str = "WEIJIAN_CONFIG";

/// A parser's message on one line (the TOML parser's can span several), so that every error
/// is one `line N: key: message` line.
pub(crate) fn one_line(message: &str) -> String {
    message
        .trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The dotted key written on the line of `offset` (`mqtt.port` for `port = …` under
/// `[mqtt]`), so that a parse error names its key like a validation error does; `None` on a
/// line without a key.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("").trim();
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with(['[', '#', '{', '"', '\'']) {
        return None;
    }
    let table = before[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_owned(),
    })
}

fn read_config(path: &Path, name: &str) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|error| ConfigErrors {
        source_name: name.to_owned(),
        errors: vec![ConfigError {
            line: None,
            key: "(file)".into(),
            message: format!("cannot read: {error}"),
        }],
    })
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Config {
    /// Reads and validates a file.
    ///
    /// # Errors
    /// Every problem found, or the I/O error as a single problem.
    pub fn load(path: &Path, env: &dyn Env) -> Result<Config, ConfigErrors> {
        Self::load_checked(path, env, &SecretsPresent)
    }

    /// Parses and validates configuration text. `source_name` names it in errors.
    ///
    /// # Errors
    /// Every problem found: a syntax or shape error stops parsing (it is reported with its
    /// line), otherwise all semantic problems are collected.
    pub fn parse(text: &str, source_name: &str, env: &dyn Env) -> Result<Config, ConfigErrors> {
        Self::parse_checked(text, source_name, env, &SecretsPresent)
    }

    /// [`Config::load`] with supervisors' channels checked by `channels` (the delivery
    /// service checks each target as its notifier will read it).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_checked(
        path: &Path,
        env: &dyn Env,
        channels: &dyn ChannelCheck,
    ) -> Result<Config, ConfigErrors> {
        let name = path.display().to_string();
        let text = read_config(path, &name)?;
        let base = path.parent().unwrap_or(Path::new(""));
        Self::parse_in(&text, &name, base, env, channels)
    }

    /// The file named by `WEIJIAN_CONFIG`, when set (the default of `--config`).
    pub fn default_path(env: &dyn Env) -> Option<PathBuf> {
        env.var(CONFIG_PATH_VAR)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    }

    /// [`Config::parse`] with supervisors' channels checked by `channels`.
    ///
    /// # Errors
    /// As [`Config::parse`].
    pub fn parse_checked(
        text: &str,
        source_name: &str,
        env: &dyn Env,
        channels: &dyn ChannelCheck,
    ) -> Result<Config, ConfigErrors> {
        Self::parse_in(text, source_name, Path::new(""), env, channels)
    }

    /// [`Config::parse_checked`] for a file in `base` (the directory relative paths written in
    /// the text are relative to; empty: the working directory).
    fn parse_in(
        text: &str,
        source_name: &str,
        base: &Path,
        env: &dyn Env,
        channels: &dyn ChannelCheck,
    ) -> Result<Config, ConfigErrors> {
        let text = &interpolate::interpolate(text, env).map_err(|errors| ConfigErrors {
            source_name: source_name.into(),
            errors: errors
                .into_iter()
                .map(|e| ConfigError {
                    line: Some(e.line),
                    key: "(environment)".into(),
                    message: e.message,
                })
                .collect(),
        })?;
        let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigErrors {
            source_name: source_name.into(),
            errors: vec![ConfigError {
                line: error.span().map(|s| line_of(text, s.start)),
                key: error
                    .span()
                    .and_then(|s| key_at(text, s.start))
                    .unwrap_or_else(|| "(syntax)".into()),
                message: one_line(error.message()),
            }],
        })?;
        let mut v = Validator {
            text,
            base,
            env,
            channels,
            errors: Vec::new(),
        };
        let config = v.config(raw);
        if v.errors.is_empty() {
            Ok(config)
        } else {
            v.errors.sort_by_key(|e| e.line.unwrap_or(0));
            Err(ConfigErrors {
                source_name: source_name.into(),
                errors: v.errors,
            })
        }
    }
}

#[cfg(test)]
mod tests;
