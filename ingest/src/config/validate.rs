//! Configuration validation: turns the raw TOML structures into a [`Config`], collecting
//! every problem (key path, line, value, rule) instead of stopping at the first.

use super::endpoint::QuestDbEndpoint;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alerting::model::{
    DentalSite, DeviceKind, Disinfectant, GridPath, Id, Metric, SiteAttributes, SterilizerType,
    WasteStoreSite, WaterPoint, WaterSite,
};
use toml::Spanned;

use super::raw::{self, RawConfig};
use super::registry_file::{self, DeviceRow, LineError, SiteRow};
use super::{
    AlertsConfig, Config, ConfigError, DeviceEntry, Env, Hj212Settings, HttpConfig, Limits,
    MqttConfig, MqttProtocol, QuestDbConfig, Registry, SiteEntry, SpoolSettings,
};

/// At most this many errors are listed per registry file (a wrong column in a 100,000-line
/// file would otherwise print 100,000 lines).
const MAX_FILE_ERRORS: usize = 100;

/// What registry validation keeps while sites and devices come in (TOML tables first, then
/// the files): the registry being built doubles as the index for duplicate and site checks.
#[derive(Default)]
struct RegistryState {
    registry: Registry,
    /// Ids of devices left out of the registry (unknown kind), still taken for duplicates.
    unregistered_ids: HashSet<String>,
    /// HJ 212 MN -> the device it is registered to.
    mns: HashMap<String, String>,
}

mod api;
mod console;
mod delivery;
mod files;
mod hj212_tcp;

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

    fn id(&mut self, id: &Spanned<String>, key: &str) {
        if !is_valid_id(id.get_ref()) {
            self.err(
                id,
                key,
                format!(
                    "{:?} must match [A-Za-z0-9_-]{{1,64}} (it is a topic level)",
                    id.get_ref()
                ),
            );
        }
    }

    fn registry(
        &mut self,
        sites: Vec<Spanned<raw::RawSite>>,
        devices: Vec<Spanned<raw::RawDevice>>,
        files: raw::RawRegistry,
    ) -> Registry {
        let mut state = RegistryState::default();
        for (i, site) in sites.into_iter().enumerate() {
            self.site(site.into_inner(), &format!("sites[{i}]"), &mut state);
        }
        if let Some(path) = &files.sites_file {
            self.registry_file::<SiteRow>(path, "registry.sites_file", |v, row| {
                v.site(row.into(), "site", &mut state);
            });
        }
        for (i, device) in devices.into_iter().enumerate() {
            self.device(device.into_inner(), &format!("devices[{i}]"), &mut state);
        }
        if let Some(path) = &files.devices_file {
            self.registry_file::<DeviceRow>(path, "registry.devices_file", |v, row| {
                v.device(row.into(), "device", &mut state);
            });
        }
        state.registry.shrink_to_fit();
        state.registry
    }

    /// Reads a JSON Lines registry file row by row, handing each row to `row`; every error
    /// found on a line (a parse error, or any the row's validation adds) names the file and
    /// the line. At most [`MAX_FILE_ERRORS`] are listed, then how many more there were.
    fn registry_file<T>(
        &mut self,
        path: &Spanned<String>,
        key: &str,
        mut row: impl FnMut(&mut Self, T),
    ) where
        T: for<'de> serde::Deserialize<'de>,
    {
        let resolved = self.path(path);
        let name = resolved.display().to_string();
        let name = name.as_str();
        let file = match std::fs::File::open(&resolved) {
            Ok(f) => f,
            Err(error) => {
                self.err(path, key, format!("cannot read {name:?}: {error}"));
                return;
            }
        };
        let (mut listed, mut more) = (0usize, 0usize);
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        registry_file::for_each_row::<T, _, _>(reader, |line, parsed| {
            let before = self.errors.len();
            match parsed {
                Ok(r) => row(self, r),
                Err(LineError::Parse { message, column }) => self.errors.push(ConfigError {
                    line: None,
                    key: "(syntax)".into(),
                    message: format!("{message} (column {column})"),
                }),
                Err(LineError::Io(error)) => self.errors.push(ConfigError {
                    line: None,
                    key: "(file)".into(),
                    message: format!("cannot read further: {error}"),
                }),
            }
            let added = self.errors.len() - before;
            if listed >= MAX_FILE_ERRORS {
                self.errors.truncate(before);
                more += added;
                return;
            }
            listed += added;
            for e in self.errors.iter_mut().skip(before) {
                e.key = format!("{name}:{line}: {}", e.key);
            }
        });
        if more > 0 {
            self.errors.push(ConfigError {
                line: None,
                key: name.to_string(),
                message: format!("{more} more errors in this file are not listed"),
            });
        }
    }

    fn site(&mut self, site: raw::RawSite, key: &str, state: &mut RegistryState) {
        self.id(&site.id, &format!("{key}.id"));
        if state.registry.site(site.id.get_ref()).is_some() {
            self.err(
                &site.id,
                format!("{key}.id"),
                format!("duplicate site id {:?}", site.id.get_ref()),
            );
        }
        let Some(attributes) = self.site_attributes(&site, key) else {
            return;
        };
        state.registry.push_site(SiteEntry {
            id: site.id.into_inner().into(),
            name: site.name,
            grid: GridPath {
                district: site.grid.district,
                street: site.grid.street,
                community: site.grid.community,
            },
            attributes,
        });
    }

    fn device(&mut self, d: raw::RawDevice, key: &str, state: &mut RegistryState) {
        self.id(&d.id, &format!("{key}.id"));
        if state.registry.device(d.id.get_ref()).is_some()
            || state.unregistered_ids.contains(d.id.get_ref())
        {
            self.err(
                &d.id,
                format!("{key}.id"),
                format!("duplicate device id {:?}", d.id.get_ref()),
            );
        }
        let kind = match parse_device_kind(d.kind.get_ref()) {
            Some(k) => k,
            None => {
                self.err(
                    &d.kind,
                    format!("{key}.kind"),
                    format!(
                        "{:?} is not water_monitor, waste_store or autoclave",
                        d.kind.get_ref()
                    ),
                );
                state.unregistered_ids.insert(d.id.into_inner());
                return;
            }
        };
        match state
            .registry
            .site(d.site.get_ref())
            .map(|s| s.attributes.kind())
        {
            None => self.err(
                &d.site,
                format!("{key}.site"),
                format!("no site with id {:?} is configured", d.site.get_ref()),
            ),
            Some(sk) if sk.device_kind() != kind => self.err(
                &d.kind,
                format!("{key}.kind"),
                format!(
                    "a {kind} cannot report at site {:?}, which is a {} site",
                    d.site.get_ref(),
                    sk.as_str()
                ),
            ),
            Some(_) => {}
        }
        if *d.expected_interval_secs.get_ref() == 0 {
            self.err(
                &d.expected_interval_secs,
                format!("{key}.expected_interval_secs"),
                "must be at least 1",
            );
        }
        let hj212 = d.hj212.map(|h| {
            let h = h.into_inner();
            Box::new(self.hj212(
                h,
                kind,
                &format!("{key}.hj212"),
                d.id.get_ref(),
                &mut state.mns,
            ))
        });
        // The device shares its site's id string (one allocation per site, not per device).
        let site: Id = match state.registry.site(d.site.get_ref()) {
            Some(s) => s.id.clone(),
            None => d.site.into_inner().into(),
        };
        state.registry.push_device(DeviceEntry {
            id: d.id.into_inner().into(),
            site,
            kind,
            expected_interval_secs: d.expected_interval_secs.into_inner(),
            hj212,
        });
    }

    fn site_attributes(&mut self, site: &raw::RawSite, key: &str) -> Option<SiteAttributes> {
        let kind = site.kind.get_ref().as_str();
        let present = [
            ("water", site.water.is_some()),
            ("waste_store", site.waste_store.is_some()),
            ("dental", site.dental.is_some()),
        ];
        let wanted = match kind {
            "water" => "water",
            "waste_store" => "waste_store",
            "dental_sterilization" => "dental",
            other => {
                self.err(
                    &site.kind,
                    format!("{key}.kind"),
                    format!("{other:?} is not water, waste_store or dental_sterilization"),
                );
                return None;
            }
        };
        for (table, is_there) in present {
            if is_there && table != wanted {
                self.err(
                    &site.kind,
                    format!("{key}.{table}"),
                    format!("a {kind} site takes [{key}.{wanted}] attributes, not {table}"),
                );
            }
        }
        match kind {
            "water" => {
                let Some(w) = &site.water else {
                    self.err(
                        &site.kind,
                        format!("{key}.water"),
                        "a water site needs water = { point, disinfectant } (they select its limits)",
                    );
                    return None;
                };
                let w = w.get_ref();
                let point = match w.point.get_ref().as_str() {
                    "outlet" => WaterPoint::Outlet,
                    "network_end" => WaterPoint::NetworkEnd,
                    other => {
                        self.err(
                            &w.point,
                            format!("{key}.water.point"),
                            format!("{other:?} is not outlet or network_end"),
                        );
                        return None;
                    }
                };
                let disinfectant = match w.disinfectant.get_ref().as_str() {
                    "free_chlorine" => Disinfectant::FreeChlorine,
                    "chloramine" => Disinfectant::Chloramine,
                    "chlorine_dioxide" => Disinfectant::ChlorineDioxide,
                    "ozone" => Disinfectant::Ozone,
                    other => {
                        self.err(
                            &w.disinfectant,
                            format!("{key}.water.disinfectant"),
                            format!("{other:?} is not free_chlorine, chloramine, chlorine_dioxide or ozone"),
                        );
                        return None;
                    }
                };
                Some(SiteAttributes::Water(WaterSite {
                    point,
                    disinfectant,
                    small_supply: w.small_supply,
                }))
            }
            "waste_store" => {
                let w = site.waste_store.as_ref().map(|w| w.get_ref());
                let windows = w.map(|w| w.collection_windows.clone()).unwrap_or_default();
                for (j, win) in windows.iter().enumerate() {
                    if !is_time_window(win) {
                        self.err(
                            &site.kind,
                            format!("{key}.waste_store.collection_windows[{j}]"),
                            format!("{win:?} is not a window like \"08:00-10:00\""),
                        );
                    }
                }
                Some(SiteAttributes::WasteStore(WasteStoreSite {
                    refrigerated: w.is_some_and(|w| w.refrigerated),
                    max_temp_c: w.and_then(|w| w.max_temp_c),
                    collection_windows: windows,
                }))
            }
            _ => {
                let Some(d) = &site.dental else {
                    self.err(
                        &site.kind,
                        format!("{key}.dental"),
                        "a dental site needs dental = { sterilizer = \"prevac\" | \"gravity\" }",
                    );
                    return None;
                };
                let d = d.get_ref();
                let sterilizer = match d.sterilizer.get_ref().as_str() {
                    "prevac" => SterilizerType::Prevac,
                    "gravity" => SterilizerType::Gravity,
                    other => {
                        self.err(
                            &d.sterilizer,
                            format!("{key}.dental.sterilizer"),
                            format!("{other:?} is not prevac or gravity"),
                        );
                        return None;
                    }
                };
                Some(SiteAttributes::DentalSterilization(DentalSite {
                    sterilizer,
                    bi_interval_days: d.bi_interval_days.max(1),
                }))
            }
        }
    }

    fn hj212(
        &mut self,
        h: raw::RawHj212,
        kind: DeviceKind,
        key: &str,
        device: &str,
        mns: &mut HashMap<String, String>,
    ) -> Hj212Settings {
        if kind != DeviceKind::WaterMonitor {
            self.err(
                &h.mn,
                key.to_string(),
                "only water_monitor devices speak HJ 212 here",
            );
        }
        if h.mn.get_ref().trim().is_empty() {
            self.err(&h.mn, format!("{key}.mn"), "must not be empty");
        } else if let Some(other) = mns.insert(h.mn.get_ref().clone(), device.to_string()) {
            self.err(
                &h.mn,
                format!("{key}.mn"),
                format!(
                    "MN {:?} is already registered to device {other:?}",
                    h.mn.get_ref()
                ),
            );
        }
        let utc_offset_secs = match parse_utc_offset(h.utc_offset.get_ref()) {
            Some(s) => s,
            None => {
                self.err(
                    &h.utc_offset,
                    format!("{key}.utc_offset"),
                    format!("{:?} is not an offset like +08:00", h.utc_offset.get_ref()),
                );
                8 * 3600
            }
        };
        let mut codes = HashMap::new();
        for (code, metric) in h.codes {
            match Metric::from_name(metric.get_ref()) {
                Some(m) if m.belongs_to(kind) => {
                    codes.insert(code, m);
                }
                _ => self.err(
                    &metric,
                    format!("{key}.codes.{code}"),
                    format!(
                        "{:?} is not a {kind} metric of the catalogue",
                        metric.get_ref()
                    ),
                ),
            }
        }
        let password = self.secret(
            h.password,
            h.password_env.as_ref(),
            &format!("{key}.password_env"),
        );
        let allowed_sources = self.allowed_sources(&h.allowed_sources, key);
        Hj212Settings {
            mn: h.mn.into_inner(),
            password,
            utc_offset_secs,
            codes,
            allowed_sources,
        }
    }
}

/// `[A-Za-z0-9_-]{1,64}`: the form of site and device ids (they are topic levels).
pub fn is_valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn parse_device_kind(s: &str) -> Option<DeviceKind> {
    DeviceKind::ALL.into_iter().find(|k| k.as_str() == s)
}

/// `+08:00` / `-03:30` / `Z` -> seconds east of UTC.
pub(super) fn parse_utc_offset(s: &str) -> Option<i32> {
    if s == "Z" || s == "+00:00" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, s.get(1..)?),
        b'-' => (-1, s.get(1..)?),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=14).contains(&h) && (0..60).contains(&m) && h.to_string().len() <= 2)
        .then_some(sign * (h * 3600 + m * 60))
}

fn is_time_window(s: &str) -> bool {
    let hhmm = |t: &str| {
        t.split_once(':').is_some_and(|(h, m)| {
            h.len() == 2
                && m.len() == 2
                && h.parse::<u8>().is_ok_and(|h| h < 24)
                && m.parse::<u8>().is_ok_and(|m| m < 60)
        })
    };
    s.split_once('-').is_some_and(|(a, b)| hhmm(a) && hhmm(b))
}
