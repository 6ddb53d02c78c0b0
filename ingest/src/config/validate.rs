//! Configuration validation: turns the raw TOML structures into a [`Config`], collecting
//! every problem (key path, line, value, rule) instead of stopping at the first.
//!
//! Layout: the service sections (`[mqtt]`, `[questdb]`, `[spool]`, `[limits]`, `[http]`,
//! `[alerts]`) here; the site and device registry in `registry.rs`; `[api]`, the console's keys,
//! alert delivery, file paths and `[hj212_tcp]` in their own files.

use super::endpoint::QuestDbEndpoint;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::raw::{self, RawConfig};
use super::{
    AlertsConfig, Config, ConfigError, Env, HttpConfig, Limits, MqttConfig, MqttProtocol,
    QuestDbConfig, SpoolSettings,
};

mod api;
mod console;
mod delivery;
mod files;
mod hj212_tcp;
mod registry;

pub use registry::is_valid_id;
#[cfg(test)]
pub(super) use registry::parse_utc_offset;

/// 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .get(..offset.min(text.len()))
        .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
        + 1
}

/// Collects every problem while building the validated config.
pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    /// The directory of the file being validated: relative paths written in it are relative
    /// to it (empty: the working directory).
    pub(super) base: &'a Path,
    pub(super) env: &'a dyn Env,
    pub(super) channels: &'a dyn super::ChannelCheck,
    pub(super) errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn line<T>(&self, s: &Spanned<T>) -> Option<usize> {
        let span = s.span();
        (span.end > 0).then(|| line_of(self.text, span.start))
    }

    fn err<T>(&mut self, at: &Spanned<T>, key: impl Into<String>, message: impl Into<String>) {
        let line = self.line(at);
        self.errors.push(ConfigError {
            line,
            key: key.into(),
            message: message.into(),
        });
    }

    fn secret(
        &mut self,
        inline: Option<String>,
        env_name: Option<&Spanned<String>>,
        key: &str,
    ) -> Option<String> {
        match (inline, env_name) {
            (Some(_), Some(name)) => {
                self.err(name, key, "set either password or password_env, not both");
                None
            }
            (Some(p), None) => Some(p),
            (None, Some(name)) => match self.env.var(name.get_ref()) {
                Some(p) => Some(p),
                None => {
                    self.err(
                        name,
                        key,
                        format!("environment variable {} is not set", name.get_ref()),
                    );
                    None
                }
            },
            (None, None) => None,
        }
    }

    pub(super) fn config(&mut self, raw: RawConfig) -> Config {
        let mqtt = self.mqtt(raw.mqtt);
        let questdb = self.questdb(raw.questdb);
        let spool = self.spool(raw.spool);
        let limits = self.limits(raw.limits);
        let mut console = self.console(&raw.http);
        let public_url = raw.http.public_url.and_then(|u| self.public_url(u));
        console.secure_cookies = public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
        let http = HttpConfig {
            listen: self.socket_addr(raw.http.listen, "http.listen"),
            console,
            public_url,
        };
        let registry = self.registry(raw.sites, raw.devices, raw.registry);
        let alerts = self.alerts(raw.alerts);
        let mut delivery = self.delivery(raw.delivery, &registry);
        if let Some(supervisors) = delivery.supervisors.as_mut() {
            supervisors.public_url.clone_from(&http.public_url);
            if http.public_url.is_none() {
                delivery.warnings.push(
                    "http.public_url is not set: notices carry no link to the alert's page \
                     (set it to the address supervisors open the console at)"
                        .to_owned(),
                );
            }
        }
        let api = self.api(raw.api);
        let hj212_tcp = self.hj212_tcp(raw.hj212_tcp);
        let feedback = self.feedback(raw.gateway_feedback);
        Config {
            hj212_tcp,
            feedback,
            mqtt,
            questdb,
            spool,
            limits,
            http,
            alerts,
            delivery,
            api,
            registry: Arc::new(registry),
        }
    }

    fn alerts(&mut self, a: raw::RawAlerts) -> AlertsConfig {
        let (pack, pack_source) = match &a.rules_file {
            Some(path) => {
                let file = self.path(path).display().to_string();
                match self.read_interpolated(path, "alerts.rules_file") {
                    Some(text) => match alerting::RulePack::from_toml_str(&text, &file) {
                        Ok(pack) => (Some(pack), file),
                        Err(errors) => {
                            let shown: Vec<String> =
                                errors.iter().map(ToString::to_string).collect();
                            self.err(
                                path,
                                "alerts.rules_file",
                                format!(
                                    "the rule pack {file:?} is invalid:\n    {}",
                                    shown.join("\n    ")
                                ),
                            );
                            (None, file)
                        }
                    },
                    None => (None, file),
                }
            }
            None => (
                None,
                "built-in default pack (config/rules/default.toml)".to_string(),
            ),
        };
        let pack = match pack {
            Some(p) => p,
            None => match alerting::RulePack::default_pack() {
                Ok(p) => p,
                Err(errors) => {
                    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    self.errors.push(ConfigError {
                        line: None,
                        key: "alerts".into(),
                        message: format!("the built-in rule pack is invalid: {}", shown.join("; ")),
                    });
                    alerting::RulePack::empty()
                }
            },
        };
        for (value, key) in [
            (&a.tick_interval_secs, "alerts.tick_interval_secs"),
            (&a.snapshot_interval_secs, "alerts.snapshot_interval_secs"),
        ] {
            if *value.get_ref() == 0 {
                self.err(value, key, "must be at least 1");
            }
        }
        AlertsConfig {
            pack,
            pack_source,
            tick_interval: Duration::from_secs(a.tick_interval_secs.into_inner().max(1)),
            snapshot_interval: Duration::from_secs(a.snapshot_interval_secs.into_inner().max(1)),
            publish: a.publish,
        }
    }

    /// `http.public_url`: an absolute http(s) URL with a host, no query or fragment; the
    /// trailing `/` dropped.
    fn public_url(&mut self, s: Spanned<String>) -> Option<String> {
        let url = s.get_ref().trim();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|r| {
            let host = r.split('/').next().unwrap_or("");
            !host.is_empty() && !host.contains(char::is_whitespace)
        });
        if !host_ok || url.contains(['?', '#']) || url.contains(char::is_whitespace) {
            self.err(
                &s,
                "http.public_url",
                format!(
                    "{url:?} is not an absolute http(s) URL without query or fragment, \
                     like \"https://weijian.example.gov.cn\""
                ),
            );
            return None;
        }
        Some(url.trim_end_matches('/').to_owned())
    }

    fn socket_addr(&mut self, s: Spanned<String>, key: &str) -> String {
        if s.get_ref().parse::<std::net::SocketAddr>().is_err() {
            self.err(
                &s,
                key,
                format!("{:?} is not an address like 127.0.0.1:9464", s.get_ref()),
            );
        }
        s.into_inner()
    }

    fn mqtt(&mut self, m: raw::RawMqtt) -> MqttConfig {
        let protocol = match m.protocol.get_ref().as_str() {
            "5" | "5.0" | "v5" => MqttProtocol::V5,
            "3.1.1" | "v311" | "4" => MqttProtocol::V311,
            other => {
                self.err(
                    &m.protocol,
                    "mqtt.protocol",
                    format!("{other:?} is not a supported MQTT version; use \"5\" or \"3.1.1\""),
                );
                MqttProtocol::V5
            }
        };
        if m.host.get_ref().trim().is_empty() {
            self.err(&m.host, "mqtt.host", "must not be empty");
        }
        if *m.port.get_ref() == 0 {
            self.err(&m.port, "mqtt.port", "must be 1-65535");
        }
        // rumqttc asserts on these; reject them here with a clear message instead.
        if m.client_id.get_ref().trim().is_empty() {
            self.err(
                &m.client_id,
                "mqtt.client_id",
                "must not be empty: the persistent session is kept under it",
            );
        }
        let keep_alive = *m.keep_alive_secs.get_ref();
        if keep_alive != 0 && keep_alive < 5 {
            self.err(
                &m.keep_alive_secs,
                "mqtt.keep_alive_secs",
                format!("{keep_alive} is too short; use 0 (off) or at least 5"),
            );
        }
        if *m.inflight.get_ref() == 0 {
            self.err(
                &m.inflight,
                "mqtt.inflight",
                "must be at least 1 (it is the window of unacknowledged messages)",
            );
        }
        if *m.session_expiry_secs.get_ref() == 0 && protocol == MqttProtocol::V5 {
            self.err(
                &m.session_expiry_secs,
                "mqtt.session_expiry_secs",
                "0 would drop our session (and queued readings) on every disconnect",
            );
        }
        let prefix = m.topic_prefix.get_ref().trim_end_matches('/').to_string();
        if prefix.is_empty() || prefix.contains(['+', '#']) {
            self.err(
                &m.topic_prefix,
                "mqtt.topic_prefix",
                format!(
                    "{:?} must be a non-empty topic without wildcards",
                    m.topic_prefix.get_ref()
                ),
            );
        }
        let (rmin, rmax) = (*m.reconnect_min_ms.get_ref(), *m.reconnect_max_ms.get_ref());
        if rmin == 0 || rmin > rmax {
            self.err(
                &m.reconnect_min_ms,
                "mqtt.reconnect_min_ms",
                format!("must be > 0 and <= reconnect_max_ms ({rmax})"),
            );
        }
        let password = self.secret(m.password, m.password_env.as_ref(), "mqtt.password_env");
        let tls_ca_file = m.tls_ca_file.map(|f| {
            let path = self.path(&f);
            if !path.is_file() {
                self.err(
                    &f,
                    "mqtt.tls_ca_file",
                    format!("{:?} is not a readable file", path.display().to_string()),
                );
            }
            path
        });
        MqttConfig {
            host: m.host.into_inner(),
            port: m.port.into_inner(),
            client_id: m.client_id.into_inner(),
            protocol,
            username: m.username,
            password,
            keep_alive: Duration::from_secs(keep_alive),
            session_expiry_secs: m.session_expiry_secs.into_inner(),
            inflight: m.inflight.into_inner(),
            topic_prefix: prefix,
            tls_ca_file,
            reconnect_min: Duration::from_millis(rmin),
            reconnect_max: Duration::from_millis(rmax),
        }
    }

    fn questdb(&mut self, q: raw::RawQuestDb) -> QuestDbConfig {
        /// The smallest request bound: one row with a quarantined payload must fit.
        const MIN_BATCH_MAX_BYTES: usize = 64 * 1024;
        let mut conf = q.conf.get_ref().trim().to_string();
        if let Some(pw) = self.secret(None, q.password_env.as_ref(), "questdb.password_env") {
            if !conf.ends_with(';') {
                conf.push(';');
            }
            conf.push_str(&format!("password={};", pw.replace(';', ";;")));
        }
        let endpoint = match QuestDbEndpoint::parse(&conf) {
            Ok(endpoint) => endpoint,
            Err(why) => {
                self.err(&q.conf, "questdb.conf", why.to_string());
                QuestDbEndpoint::local()
            }
        };
        let prefix = q.table_prefix.get_ref();
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.err(
                &q.table_prefix,
                "questdb.table_prefix",
                "may hold only ASCII letters, digits and _",
            );
        }
        if *q.batch_max_rows.get_ref() == 0 {
            self.err(
                &q.batch_max_rows,
                "questdb.batch_max_rows",
                "must be at least 1",
            );
        }
        if *q.batch_max_bytes.get_ref() < MIN_BATCH_MAX_BYTES {
            self.err(
                &q.batch_max_bytes,
                "questdb.batch_max_bytes",
                "must be at least 65536 (a quarantine row alone can be 64 KiB of payload)",
            );
        }
        if *q.flush_interval_ms.get_ref() == 0 {
            self.err(
                &q.flush_interval_ms,
                "questdb.flush_interval_ms",
                "must be at least 1",
            );
        }
        QuestDbConfig {
            endpoint,
            table_prefix: q.table_prefix.into_inner(),
            batch_max_rows: q.batch_max_rows.into_inner(),
            batch_max_bytes: q.batch_max_bytes.into_inner(),
            flush_interval: Duration::from_millis(q.flush_interval_ms.into_inner()),
            retry_max: Duration::from_millis(q.retry_max_ms.into_inner().max(1)),
        }
    }

    fn spool(&mut self, s: raw::RawSpool) -> SpoolSettings {
        let (max, seg) = (*s.max_bytes.get_ref(), *s.segment_bytes.get_ref());
        if seg < 4096 {
            self.err(
                &s.segment_bytes,
                "spool.segment_bytes",
                "must be at least 4096",
            );
        }
        if max < seg.saturating_mul(2) {
            self.err(
                &s.max_bytes,
                "spool.max_bytes",
                format!("{max} must be at least two segments (2 x {seg})"),
            );
        }
        if s.dir.get_ref().trim().is_empty() {
            self.err(&s.dir, "spool.dir", "must not be empty");
        }
        let records = *s.group_commit_records.get_ref();
        if records == 0 {
            self.err(
                &s.group_commit_records,
                "spool.group_commit_records",
                "must be at least 1 (appends waiting that start an fsync at once)",
            );
        }
        SpoolSettings {
            dir: self.path(&s.dir),
            max_bytes: max,
            segment_bytes: seg,
            group_commit_delay: Duration::from_millis(s.group_commit_delay_ms.into_inner()),
            group_commit_interval: Duration::from_millis(s.group_commit_interval_ms.into_inner()),
            group_commit_records: records,
        }
    }

    fn limits(&mut self, l: raw::RawLimits) -> Limits {
        if *l.max_payload_bytes.get_ref() == 0 {
            self.err(
                &l.max_payload_bytes,
                "limits.max_payload_bytes",
                "must be at least 1",
            );
        }
        if *l.max_array_objects.get_ref() == 0 {
            self.err(
                &l.max_array_objects,
                "limits.max_array_objects",
                "must be at least 1",
            );
        }
        if *l.hj212_split_timeout_secs.get_ref() == 0 {
            self.err(
                &l.hj212_split_timeout_secs,
                "limits.hj212_split_timeout_secs",
                "must be at least 1",
            );
        }
        Limits {
            hj212_split_timeout_secs: l.hj212_split_timeout_secs.into_inner().max(1),
            max_payload_bytes: l.max_payload_bytes.into_inner(),
            max_array_objects: l.max_array_objects.into_inner(),
            max_future_secs: i64::try_from(l.max_future_secs.into_inner()).unwrap_or(i64::MAX),
            max_age_secs: i64::try_from(l.max_age_days.into_inner())
                .unwrap_or(i64::MAX)
                .saturating_mul(86_400),
        }
    }
}
