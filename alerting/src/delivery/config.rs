//! Delivery configuration: supervisors per grid cell with their channels, and the timing of
//! notices (ack deadlines, repeat intervals, grouping window).
//!
//! Strict TOML (`deny_unknown_fields`); every problem is a [`ConfigError`] with its key and
//! line, and loading collects all semantic problems before failing. The file shape is
//! `config/supervisors.example.toml`:
//!
//! ```toml
//! [delivery]                      # every value here is a Default (docs/alert-delivery.md)
//! ack_deadline_mins = { I = 15, II = 60, III = 240, IV = 1440 }
//! repeat_mins = { I = 30, II = 120, III = 720, IV = 0 }   # 0 = no repeat
//! group_window_secs = 60
//!
//! [[supervisors]]
//! id = "sq-shuichang"
//! name = "水厂社区 卫生监督协管员"
//! cell = { district = "示范区", street = "东城街道", community = "水厂社区" }
//! token_sha256 = "<64 hex digits>"
//! channels = [ { kind = "wecom", target = "https://qyapi.weixin.qq.com/...", secret_env = "WJ_WECOM_KEY" } ]
//! ```
//!
//! Checks: supervisor ids and token hashes unique; a cell names a district/street/community
//! that exists in the sites' grid (a community needs its street, a street its district); channel
//! kinds known and targets well-formed for the kind; `secret_env` an environment variable
//! *name*; `token_sha256` 64 hex digits; deadlines at least a minute. **Every site must have
//! a responsible supervisor at some tier: an error**, since an alert routed to nobody would be
//! silently dropped. A supervisor without channels is only a *warning* (they still see and
//! act through the API).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::grid::{Cell, Tier};
use crate::level::Level;
use crate::model::Site;
use crate::rule::ConfigError;

/// A supervisor's id, e.g. `sq-shuichang`.
pub type SupervisorId = String;

/// How a supervisor is reached. The notifier for each kind lives outside this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A generic HTTPS POST of the notice JSON.
    Webhook,
    /// DingTalk (钉钉) robot webhook.
    Dingtalk,
    /// WeCom (企业微信) robot webhook.
    Wecom,
    /// E-mail address.
    Email,
    /// An MQTT topic on weijian's broker.
    Mqtt,
}

impl ChannelKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Dingtalk => "dingtalk",
            Self::Wecom => "wecom",
            Self::Email => "email",
            Self::Mqtt => "mqtt",
        }
    }
}

/// One way to reach a supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub kind: ChannelKind,
    /// URL, e-mail address or MQTT topic, by kind.
    pub target: String,
    /// Name of the environment variable holding the channel's secret (signing key), if any.
    /// The secret itself never appears in configuration, notices or snapshots.
    pub secret_env: Option<String>,
    /// The language(s) of its messages; `None`: the kind's default ([`Language::default_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
}

impl Channel {
    /// The language(s) this channel's messages are written in.
    pub fn language(&self) -> Language {
        self.language
            .unwrap_or_else(|| Language::default_for(self.kind))
    }
}

/// The language(s) of a channel's messages (`language = "zh" | "en" | "zh+en"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    /// Chinese only.
    #[serde(rename = "zh")]
    Zh,
    /// English only.
    #[serde(rename = "en")]
    En,
    /// Chinese first, then English.
    #[serde(rename = "zh+en")]
    ZhEn,
}

impl Language {
    /// Default (ours, issue 15): group chats (DingTalk, WeCom) are read on phones by Chinese
    /// officials, so Chinese only, with no English block doubling the message; e-mail,
    /// webhooks and MQTT notices feed people and systems that may need English: both.
    pub const fn default_for(kind: ChannelKind) -> Language {
        match kind {
            ChannelKind::Dingtalk | ChannelKind::Wecom => Self::Zh,
            ChannelKind::Webhook | ChannelKind::Email | ChannelKind::Mqtt => Self::ZhEn,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Zh => "zh",
            Self::En => "en",
            Self::ZhEn => "zh+en",
        }
    }

    /// Whether the Chinese text is shown.
    pub const fn has_zh(self) -> bool {
        matches!(self, Self::Zh | Self::ZhEn)
    }

    /// Whether the English text is shown.
    pub const fn has_en(self) -> bool {
        matches!(self, Self::En | Self::ZhEn)
    }
}

/// A supervisor: one person (or duty desk) owning one grid cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supervisor {
    pub id: SupervisorId,
    pub name: String,
    pub cell: Cell,
    pub channels: Vec<Channel>,
    /// Lowercase hex SHA-256 of the supervisor's API bearer token (hashing happens elsewhere).
    pub token_sha256: String,
    /// Mainland mobile number (11 digits), for @mentions in DingTalk group messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
}

impl Supervisor {
    pub fn tier(&self) -> Tier {
        self.cell.tier()
    }
}

/// A value per risk level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerLevel {
    pub i: u32,
    pub ii: u32,
    pub iii: u32,
    pub iv: u32,
}

impl PerLevel {
    pub const fn get(&self, level: Level) -> u32 {
        match level {
            Level::I => self.i,
            Level::II => self.ii,
            Level::III => self.iii,
            Level::IV => self.iv,
        }
    }
}

/// Timing of notices. All defaults are product choices (docs/alert-delivery.md: Default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryTiming {
    /// Minutes an alert of each level may stay unacknowledged before it escalates one tier up.
    /// Default I 15, II 60, III 240, IV 1440.
    pub ack_deadline_mins: PerLevel,
    /// Minutes between repeat notices while unacknowledged; 0 = no repeat.
    /// Default I 30, II 120, III 720, IV 0 (none).
    pub repeat_mins: PerLevel,
    /// Firing alerts of one site within this window are one notice. Default 60 s.
    pub group_window_secs: u32,
}

impl DeliveryTiming {
    /// Default: ack deadlines 15 min / 1 h / 4 h / 24 h.
    pub const DEFAULT_ACK_DEADLINE_MINS: PerLevel = PerLevel {
        i: 15,
        ii: 60,
        iii: 240,
        iv: 1440,
    };
    /// Default: repeat every 30 min / 2 h / 12 h / none.
    pub const DEFAULT_REPEAT_MINS: PerLevel = PerLevel {
        i: 30,
        ii: 120,
        iii: 720,
        iv: 0,
    };
    /// Default (ours): one minute.
    pub const DEFAULT_GROUP_WINDOW_SECS: u32 = 60;

    /// Ack deadline of `level`, in seconds.
    pub fn ack_secs(&self, level: Level) -> i64 {
        i64::from(self.ack_deadline_mins.get(level)) * 60
    }
    /// Repeat interval of `level` in seconds, `None` when the level does not repeat.
    pub fn repeat_secs(&self, level: Level) -> Option<i64> {
        match self.repeat_mins.get(level) {
            0 => None,
            m => Some(i64::from(m) * 60),
        }
    }
}

impl Default for DeliveryTiming {
    fn default() -> Self {
        Self {
            ack_deadline_mins: Self::DEFAULT_ACK_DEADLINE_MINS,
            repeat_mins: Self::DEFAULT_REPEAT_MINS,
            group_window_secs: Self::DEFAULT_GROUP_WINDOW_SECS,
        }
    }
}

/// A validated delivery configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DeliveryConfig {
    pub supervisors: Vec<Supervisor>,
    pub timing: DeliveryTiming,
    /// `http.public_url` of the main configuration: where the console is reached, so that
    /// notices link to each alert's page. Not part of the supervisors file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

/// A loaded configuration and its warnings (problems that do not stop loading).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: DeliveryConfig,
    pub warnings: Vec<ConfigError>,
}

// ---------------------------------------------------------------------------------------------
// Raw TOML shape.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    supervisors: Vec<Spanned<RawSupervisor>>,
    delivery: Option<RawDelivery>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSupervisor {
    id: Spanned<String>,
    name: Spanned<String>,
    cell: Spanned<RawCell>,
    #[serde(default)]
    channels: Vec<Spanned<RawChannel>>,
    token_sha256: Spanned<String>,
    mobile: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCell {
    district: Option<Spanned<String>>,
    street: Option<Spanned<String>>,
    community: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    kind: Spanned<ChannelKind>,
    target: Spanned<String>,
    secret_env: Option<Spanned<String>>,
    language: Option<Spanned<Language>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    ack_deadline_mins: Option<Spanned<RawPerLevel>>,
    repeat_mins: Option<Spanned<RawPerLevel>>,
    group_window_secs: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerLevel {
    #[serde(rename = "I")]
    i: Option<Spanned<u32>>,
    #[serde(rename = "II")]
    ii: Option<Spanned<u32>>,
    #[serde(rename = "III")]
    iii: Option<Spanned<u32>>,
    #[serde(rename = "IV")]
    iv: Option<Spanned<u32>>,
}

// ---------------------------------------------------------------------------------------------
// Loading.

/// Collects problems with lines resolved against the source.
struct Problems<'a> {
    src: &'a str,
    origin: &'a str,
    list: Vec<ConfigError>,
}

impl<'a> Problems<'a> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.src.len());
        self.src
            .as_bytes()
            .get(..end)
            .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
            + 1
    }

    fn at(&mut self, span: Option<Range<usize>>, path: &str, message: impl fmt::Display) {
        let line = span.map(|s| self.line_of(s.start));
        self.list.push(ConfigError {
            origin: self.origin.to_owned(),
            path: path.to_owned(),
            line,
            message: message.to_string(),
        });
    }

    /// The key written on the line of `offset` (text before `=`), for TOML syntax/shape errors.
    fn key_near(&self, offset: usize) -> String {
        let start = self
            .src
            .get(..offset.min(self.src.len()))
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |i| i + 1);
        let line = self
            .src
            .get(start..)
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("");
        let key = line.split('=').next().unwrap_or("").trim();
        if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
            line.trim().chars().take(40).collect()
        } else {
            key.to_owned()
        }
    }
}

impl DeliveryConfig {
    /// Parses and validates a supervisors file against the configured sites. `origin` names
    /// the source in errors (a file path).
    pub fn from_toml(src: &str, origin: &str, sites: &[Site]) -> Result<Loaded, Vec<ConfigError>> {
        let mut p = Problems {
            src,
            origin,
            list: Vec::new(),
        };
        let raw: RawFile = match toml::from_str(src) {
            Ok(r) => r,
            Err(e) => {
                let span = e.span();
                let path = span
                    .clone()
                    .map_or_else(|| "(document)".to_owned(), |s| p.key_near(s.start));
                p.at(span, &path, e.message().trim());
                return Err(p.list);
            }
        };
        let mut warnings = Vec::new();
        let timing = timing(&mut p, raw.delivery.as_ref());
        let supervisors = supervisors(&mut p, &mut warnings, &raw.supervisors, sites);
        // Every site must be covered by someone, at some tier.
        for site in sites {
            if !supervisors.iter().any(|s| s.cell.contains(&site.grid)) {
                p.at(
                    None,
                    &format!("sites.{}", site.id),
                    format_args!(
                        "site {} ({}) at {} has no responsible supervisor at any tier \
                         (community, street, district or city): its alerts would reach nobody",
                        site.id, site.name, site.grid
                    ),
                );
            }
        }
        if p.list.is_empty() {
            Ok(Loaded {
                config: DeliveryConfig {
                    supervisors,
                    timing,
                    public_url: None,
                },
                warnings,
            })
        } else {
            Err(p.list)
        }
    }

    /// The supervisor with this id.
    pub fn supervisor(&self, id: &str) -> Option<&Supervisor> {
        self.supervisors.iter().find(|s| s.id == id)
    }

    /// The supervisor whose `token_sha256` is `hex` (the hex SHA-256 of a presented bearer
    /// token, case-insensitive), for the API's authentication. Compares every configured hash
    /// in full, without early exit.
    pub fn supervisor_by_token_sha256(&self, hex: &str) -> Option<&Supervisor> {
        let hex = hex.trim().to_ascii_lowercase();
        let mut found = None;
        for s in &self.supervisors {
            let same = s.token_sha256.len() == hex.len()
                && s.token_sha256
                    .bytes()
                    .zip(hex.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0;
            if same && found.is_none() {
                found = Some(s);
            }
        }
        found
    }
}

fn timing(p: &mut Problems<'_>, raw: Option<&RawDelivery>) -> DeliveryTiming {
    let mut t = DeliveryTiming::default();
    let Some(raw) = raw else { return t };
    let mut per_level =
        |name: &str, raw: &Option<Spanned<RawPerLevel>>, out: &mut PerLevel, min: u32| {
            let Some(raw) = raw else { return };
            let r = raw.get_ref();
            for (lvl, v, slot) in [
                ("I", &r.i, &mut out.i),
                ("II", &r.ii, &mut out.ii),
                ("III", &r.iii, &mut out.iii),
                ("IV", &r.iv, &mut out.iv),
            ] {
                if let Some(v) = v {
                    if *v.get_ref() < min {
                        p.at(
                            Some(v.span()),
                            &format!("delivery.{name}.{lvl}"),
                            format_args!("must be at least {min}"),
                        );
                    } else {
                        *slot = *v.get_ref();
                    }
                }
            }
        };
    per_level(
        "ack_deadline_mins",
        &raw.ack_deadline_mins,
        &mut t.ack_deadline_mins,
        1,
    );
    per_level("repeat_mins", &raw.repeat_mins, &mut t.repeat_mins, 0);
    if let Some(g) = &raw.group_window_secs {
        t.group_window_secs = *g.get_ref();
    }
    t
}

fn supervisors(
    p: &mut Problems<'_>,
    warnings: &mut Vec<ConfigError>,
    raw: &[Spanned<RawSupervisor>],
    sites: &[Site],
) -> Vec<Supervisor> {
    // The grid as the sites define it.
    let districts: BTreeSet<&str> = sites.iter().map(|s| s.grid.district.as_str()).collect();
    let streets: BTreeSet<(&str, &str)> = sites
        .iter()
        .map(|s| (s.grid.district.as_str(), s.grid.street.as_str()))
        .collect();
    let communities: BTreeSet<(&str, &str, &str)> = sites
        .iter()
        .map(|s| {
            (
                s.grid.district.as_str(),
                s.grid.street.as_str(),
                s.grid.community.as_str(),
            )
        })
        .collect();
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut tokens: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, rs) in raw.iter().enumerate() {
        let r = rs.get_ref();
        let id = r.id.get_ref().trim().to_owned();
        let path = format!("supervisors[{i}] ({id})");
        let before = p.list.len();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            p.at(
                Some(r.id.span()),
                &format!("{path}.id"),
                "must be non-empty ASCII letters, digits, '-', '_' or '.'",
            );
        }
        if let Some(first) = ids.insert(id.clone(), i) {
            p.at(
                Some(r.id.span()),
                &format!("{path}.id"),
                format_args!("duplicate supervisor id (also supervisors[{first}])"),
            );
        }
        if r.name.get_ref().trim().is_empty() {
            p.at(
                Some(r.name.span()),
                &format!("{path}.name"),
                "must not be empty",
            );
        }
        // Cell.
        let c = r.cell.get_ref();
        let s = |f: &Option<Spanned<String>>| f.as_ref().map(|v| v.get_ref().clone());
        let cell = Cell {
            district: s(&c.district),
            street: s(&c.street),
            community: s(&c.community),
        };
        let cell_path = format!("{path}.cell");
        let cell_span = Some(r.cell.span());
        match (&cell.district, &cell.street, &cell.community) {
            (None, None, None) => {}
            (None, _, _) => p.at(
                cell_span,
                &cell_path,
                "a street or community needs its district (no district at all = city level)",
            ),
            (Some(_), None, Some(_)) => p.at(cell_span, &cell_path, "a community needs its street"),
            (Some(d), None, None) => {
                if !districts.contains(d.as_str()) {
                    p.at(
                        cell_span,
                        &cell_path,
                        format_args!("district {d:?} has no site in the sites' grid"),
                    );
                }
            }
            (Some(d), Some(st), None) => {
                if !streets.contains(&(d.as_str(), st.as_str())) {
                    p.at(
                        cell_span,
                        &cell_path,
                        format_args!("street {d}/{st} has no site in the sites' grid"),
                    );
                }
            }
            (Some(d), Some(st), Some(co)) => {
                if !communities.contains(&(d.as_str(), st.as_str(), co.as_str())) {
                    p.at(
                        cell_span,
                        &cell_path,
                        format_args!("community {d}/{st}/{co} has no site in the sites' grid"),
                    );
                }
            }
        }
        // Channels.
        let mut channels = Vec::new();
        for (j, rc) in r.channels.iter().enumerate() {
            let c = rc.get_ref();
            let cpath = format!("{path}.channels[{j}]");
            let kind = *c.kind.get_ref();
            let target = c.target.get_ref().trim().to_owned();
            if let Err(why) = check_target(kind, &target) {
                p.at(Some(c.target.span()), &format!("{cpath}.target"), why);
            }
            let secret_env = c.secret_env.as_ref().map(|s| s.get_ref().clone());
            if let Some(se) = &c.secret_env {
                let v = se.get_ref();
                let ok = !v.is_empty()
                    && !v.starts_with(|ch: char| ch.is_ascii_digit())
                    && v.chars()
                        .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '_');
                if !ok {
                    p.at(
                        Some(se.span()),
                        &format!("{cpath}.secret_env"),
                        "must be an environment variable name (A-Z, 0-9, _), never the secret itself",
                    );
                }
            }
            channels.push(Channel {
                kind,
                target,
                secret_env,
                language: c.language.as_ref().map(|l| *l.get_ref()),
            });
        }
        if channels.is_empty() {
            warnings.push(ConfigError {
                origin: p.origin.to_owned(),
                path: format!("{path}.channels"),
                line: Some(p.line_of(rs.span().start)),
                message: "no channels: this supervisor is never notified, only sees and acts \
                          through the API"
                    .to_owned(),
            });
        }
        // Token hash.
        let token = r.token_sha256.get_ref().trim().to_ascii_lowercase();
        if token.len() != 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
            p.at(
                Some(r.token_sha256.span()),
                &format!("{path}.token_sha256"),
                "must be the SHA-256 of the bearer token as 64 hex digits",
            );
        } else if let Some(other) = tokens.insert(token.clone(), id.clone()) {
            p.at(
                Some(r.token_sha256.span()),
                &format!("{path}.token_sha256"),
                format_args!("same token hash as supervisor {other}: tokens must be distinct"),
            );
        }
        let mobile = r.mobile.as_ref().map(|m| m.get_ref().trim().to_owned());
        if let (Some(m), Some(raw)) = (&mobile, &r.mobile) {
            let ok = m.len() == 11 && m.starts_with('1') && m.chars().all(|c| c.is_ascii_digit());
            if !ok {
                p.at(
                    Some(raw.span()),
                    &format!("{path}.mobile"),
                    "must be a mainland mobile number: 11 digits starting with 1, no spaces or +86",
                );
            }
        }
        if p.list.len() == before {
            out.push(Supervisor {
                mobile,
                id,
                name: r.name.get_ref().trim().to_owned(),
                cell,
                channels,
                token_sha256: token,
            });
        }
    }
    out
}

/// Whether `target` is well-formed for `kind`.
fn check_target(kind: ChannelKind, target: &str) -> Result<(), String> {
    if target.is_empty() {
        return Err("must not be empty".to_owned());
    }
    match kind {
        ChannelKind::Webhook | ChannelKind::Dingtalk | ChannelKind::Wecom => {
            if target.starts_with("https://") || target.starts_with("http://") {
                Ok(())
            } else {
                Err(format!("a {} target is an http(s) URL", kind.as_str()))
            }
        }
        ChannelKind::Email => {
            let mut parts = target.split('@');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(u), Some(d), None) if !u.is_empty() && d.contains('.') => Ok(()),
                _ => Err("an email target is one address, user@domain".to_owned()),
            }
        }
        ChannelKind::Mqtt => {
            if target.contains(['#', '+']) || target.starts_with('/') {
                Err("an mqtt target is a topic name without wildcards".to_owned())
            } else {
                Ok(())
            }
        }
    }
}
