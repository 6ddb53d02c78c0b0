//! The configuration file as written (TOML), before validation. Every struct denies unknown
//! fields so a typo is an error, not a silently ignored key. Field docs are the reference
//! documentation (docs/configuration.md mirrors them).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub mqtt: RawMqtt,
    #[serde(default)]
    pub questdb: RawQuestDb,
    #[serde(default)]
    pub spool: RawSpool,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub alerts: RawAlerts,
    #[serde(default)]
    pub delivery: RawDelivery,
    #[serde(default)]
    pub api: RawApi,
    #[serde(default)]
    pub sites: Vec<Spanned<RawSite>>,
    #[serde(default)]
    pub devices: Vec<Spanned<RawDevice>>,
    #[serde(default)]
    pub registry: RawRegistry,
    #[serde(default)]
    pub hj212_tcp: RawHj212Tcp,
    #[serde(default)]
    pub gateway_feedback: RawFeedback,
}

/// `[hj212_tcp]`: the HJ 212 TCP listener (off without `listen`; defaults and reasons in
/// `config::hj212_tcp`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHj212Tcp {
    /// `host:port` data loggers connect to; no listener when absent.
    #[serde(default)]
    pub listen: Option<Spanned<String>>,
    /// A connection silent this long is closed.
    #[serde(default = "default_tcp_idle_timeout_secs")]
    pub idle_timeout_secs: Spanned<u64>,
    /// Largest frame (`##` through the CRC); a larger one closes the connection.
    #[serde(default = "default_tcp_max_frame_bytes")]
    pub max_frame_bytes: Spanned<usize>,
    /// Concurrent connections; more are refused.
    #[serde(default = "default_tcp_max_connections")]
    pub max_connections: Spanned<usize>,
    /// Bytes read per read call (a connection holds at most max_frame_bytes + this).
    #[serde(default = "default_tcp_read_buffer_bytes")]
    pub read_buffer_bytes: Spanned<usize>,
}

impl Default for RawHj212Tcp {
    fn default() -> Self {
        Self {
            listen: None,
            idle_timeout_secs: default_tcp_idle_timeout_secs(),
            max_frame_bytes: default_tcp_max_frame_bytes(),
            max_connections: default_tcp_max_connections(),
            read_buffer_bytes: default_tcp_read_buffer_bytes(),
        }
    }
}

fn default_tcp_idle_timeout_secs() -> Spanned<u64> {
    unspanned(super::hj212_tcp::DEFAULT_IDLE_TIMEOUT.as_secs())
}
fn default_tcp_max_frame_bytes() -> Spanned<usize> {
    unspanned(super::hj212_tcp::DEFAULT_MAX_FRAME_BYTES)
}
fn default_tcp_max_connections() -> Spanned<usize> {
    unspanned(super::hj212_tcp::DEFAULT_MAX_CONNECTIONS)
}
fn default_tcp_read_buffer_bytes() -> Spanned<usize> {
    unspanned(super::hj212_tcp::DEFAULT_READ_BUFFER_BYTES)
}

/// `[gateway_feedback]`: refusal replies on `{prefix}/{site}/{device}/reply`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeedback {
    /// Publish a reply for each refused MQTT message (rate-limited per device).
    #[serde(default = "default_true")]
    pub mqtt_replies: bool,
    /// At most one reply per device per this many seconds.
    #[serde(default = "default_feedback_interval_secs")]
    pub min_interval_secs: Spanned<u64>,
}

impl Default for RawFeedback {
    fn default() -> Self {
        Self {
            mqtt_replies: true,
            min_interval_secs: default_feedback_interval_secs(),
        }
    }
}

fn default_feedback_interval_secs() -> Spanned<u64> {
    unspanned(super::hj212_tcp::DEFAULT_FEEDBACK_INTERVAL.as_secs())
}

/// `[mqtt]`: the broker connection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMqtt {
    #[serde(default = "default_mqtt_host")]
    pub host: Spanned<String>,
    #[serde(default = "default_mqtt_port")]
    pub port: Spanned<u16>,
    /// Fixed client id: the broker keeps our persistent session under it.
    #[serde(default = "default_client_id")]
    pub client_id: Spanned<String>,
    /// `"5"` (default) or `"3.1.1"`.
    #[serde(default = "default_protocol")]
    pub protocol: Spanned<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// Inline password (prefer `password_env`).
    #[serde(default)]
    pub password: Option<String>,
    /// Name of an environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<Spanned<String>>,
    #[serde(default = "default_keep_alive_secs")]
    pub keep_alive_secs: Spanned<u64>,
    /// MQTT 5 session expiry; the broker keeps our subscription and queued messages this long
    /// while we are disconnected.
    #[serde(default = "default_session_expiry_secs")]
    pub session_expiry_secs: Spanned<u32>,
    /// The window of unacknowledged messages (MQTT 5 receive maximum; rumqttc inflight).
    #[serde(default = "default_inflight")]
    pub inflight: Spanned<u16>,
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: Spanned<String>,
    /// TLS: path to a PEM file of CA certificates. Absent = plain TCP.
    #[serde(default)]
    pub tls_ca_file: Option<Spanned<String>>,
    #[serde(default = "default_reconnect_min_ms")]
    pub reconnect_min_ms: Spanned<u64>,
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: Spanned<u64>,
}

impl Default for RawMqtt {
    fn default() -> Self {
        Self {
            host: default_mqtt_host(),
            port: default_mqtt_port(),
            client_id: default_client_id(),
            protocol: default_protocol(),
            username: None,
            password: None,
            password_env: None,
            keep_alive_secs: default_keep_alive_secs(),
            session_expiry_secs: default_session_expiry_secs(),
            inflight: default_inflight(),
            topic_prefix: default_topic_prefix(),
            tls_ca_file: None,
            reconnect_min_ms: default_reconnect_min_ms(),
            reconnect_max_ms: default_reconnect_max_ms(),
        }
    }
}

/// `[questdb]`: the store.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuestDb {
    /// A questdb-rs configuration string, HTTP transport: `http::addr=host:9000;`.
    #[serde(default = "default_questdb_conf")]
    pub conf: Spanned<String>,
    /// Name of an environment variable holding the QuestDB password (`password=` is appended).
    #[serde(default)]
    pub password_env: Option<Spanned<String>>,
    /// Prefix for every table name (lets several deployments or tests share one QuestDB).
    #[serde(default = "default_table_prefix")]
    pub table_prefix: Spanned<String>,
    #[serde(default = "default_batch_max_rows")]
    pub batch_max_rows: Spanned<usize>,
    /// The largest ILP request body, bytes: a batch is sent in as many requests as it needs.
    #[serde(default = "default_batch_max_bytes")]
    pub batch_max_bytes: Spanned<usize>,
    #[serde(default = "default_flush_interval_ms")]
    pub flush_interval_ms: Spanned<u64>,
    /// Back-off between retries while QuestDB is down or failing.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: Spanned<u64>,
}

impl Default for RawQuestDb {
    fn default() -> Self {
        Self {
            conf: default_questdb_conf(),
            password_env: None,
            table_prefix: default_table_prefix(),
            batch_max_rows: default_batch_max_rows(),
            batch_max_bytes: default_batch_max_bytes(),
            flush_interval_ms: default_flush_interval_ms(),
            retry_max_ms: default_retry_max_ms(),
        }
    }
}

/// `[spool]`: the local durable log acknowledgements wait for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpool {
    #[serde(default = "default_spool_dir")]
    pub dir: Spanned<String>,
    #[serde(default = "default_spool_max_bytes")]
    pub max_bytes: Spanned<u64>,
    #[serde(default = "default_segment_bytes")]
    pub segment_bytes: Spanned<u64>,
    #[serde(default = "default_group_commit_delay_ms")]
    pub group_commit_delay_ms: Spanned<u64>,
    #[serde(default = "default_group_commit_interval_ms")]
    pub group_commit_interval_ms: Spanned<u64>,
    #[serde(default = "default_group_commit_records")]
    pub group_commit_records: Spanned<usize>,
}

impl Default for RawSpool {
    fn default() -> Self {
        Self {
            dir: default_spool_dir(),
            max_bytes: default_spool_max_bytes(),
            segment_bytes: default_segment_bytes(),
            group_commit_delay_ms: default_group_commit_delay_ms(),
            group_commit_interval_ms: default_group_commit_interval_ms(),
            group_commit_records: default_group_commit_records(),
        }
    }
}

/// `[limits]`: what a payload may be (docs/payload-contract.md, telemetry limits).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default = "default_max_payload_bytes")]
    pub max_payload_bytes: Spanned<usize>,
    #[serde(default = "default_max_array_objects")]
    pub max_array_objects: Spanned<usize>,
    /// Device clock drift allowed into the future.
    #[serde(default = "default_max_future_secs")]
    pub max_future_secs: Spanned<u64>,
    /// Backfill window.
    #[serde(default = "default_max_age_days")]
    pub max_age_days: Spanned<u64>,
    /// How long an incomplete HJ 212 split upload (PNUM/PNO) waits for its missing parts.
    #[serde(default = "default_hj212_split_timeout_secs")]
    pub hj212_split_timeout_secs: Spanned<u32>,
}

fn default_hj212_split_timeout_secs() -> Spanned<u32> {
    unspanned(crate::decode::hj212::DEFAULT_SPLIT_TIMEOUT_SECS)
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            max_payload_bytes: default_max_payload_bytes(),
            max_array_objects: default_max_array_objects(),
            max_future_secs: default_max_future_secs(),
            max_age_days: default_max_age_days(),
            hj212_split_timeout_secs: default_hj212_split_timeout_secs(),
        }
    }
}

/// `[http]`: metrics, health, the API and the console.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    #[serde(default = "default_http_listen")]
    pub listen: Spanned<String>,
    /// Console session length, hours (defaults and reasons in `config::console`).
    #[serde(default = "default_console_session_hours")]
    pub console_session_hours: Spanned<u64>,
    /// Failed console sign-ins allowed per remote address and window.
    #[serde(default = "default_console_signin_max_failures")]
    pub console_signin_max_failures: Spanned<u64>,
    /// The window of failed sign-ins, minutes.
    #[serde(default = "default_console_signin_lockout_minutes")]
    pub console_signin_lockout_minutes: Spanned<u64>,
    /// The alert page's chart query timeout, milliseconds.
    #[serde(default = "default_console_chart_timeout_ms")]
    pub console_chart_timeout_ms: Spanned<u64>,
    /// Console sessions held at once.
    #[serde(default = "default_console_max_sessions")]
    pub console_max_sessions: Spanned<u64>,
    /// Where supervisors reach the console (`https://weijian.example.gov.cn`): notices link
    /// to `{public_url}/alerts/{id}`.
    #[serde(default)]
    pub public_url: Option<Spanned<String>>,
}

impl Default for RawHttp {
    fn default() -> Self {
        Self {
            listen: default_http_listen(),
            console_session_hours: default_console_session_hours(),
            console_signin_max_failures: default_console_signin_max_failures(),
            console_signin_lockout_minutes: default_console_signin_lockout_minutes(),
            console_chart_timeout_ms: default_console_chart_timeout_ms(),
            console_max_sessions: default_console_max_sessions(),
            public_url: None,
        }
    }
}

/// `[api]`: the supervisors' API's limits (defaults and reasons in `config::api`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    /// Longest request target (path and query), bytes; longer is 414.
    #[serde(default = "default_api_max_uri_bytes")]
    pub max_uri_bytes: Spanned<u64>,
    /// Largest request body, bytes; larger is 413.
    #[serde(default = "default_api_max_body_bytes")]
    pub max_body_bytes: Spanned<u64>,
    /// Refused attempts are audited once per remote address per interval (the rest counted).
    #[serde(default = "default_api_refusal_audit_interval_secs")]
    pub refusal_audit_interval_secs: Spanned<u64>,
    /// Remote addresses audited individually per interval (the rest share one row).
    #[serde(default = "default_api_refusal_audit_remotes")]
    pub refusal_audit_remotes: Spanned<u64>,
    /// Longest silence a supervisor may set.
    #[serde(default = "default_api_max_silence_hours")]
    pub max_silence_hours: Spanned<u64>,
    /// Silences in force one supervisor may have set.
    #[serde(default = "default_api_max_silences_per_supervisor")]
    pub max_silences_per_supervisor: Spanned<u64>,
}

impl Default for RawApi {
    fn default() -> Self {
        Self {
            max_uri_bytes: default_api_max_uri_bytes(),
            max_body_bytes: default_api_max_body_bytes(),
            refusal_audit_interval_secs: default_api_refusal_audit_interval_secs(),
            refusal_audit_remotes: default_api_refusal_audit_remotes(),
            max_silence_hours: default_api_max_silence_hours(),
            max_silences_per_supervisor: default_api_max_silences_per_supervisor(),
        }
    }
}

fn default_api_max_uri_bytes() -> Spanned<u64> {
    unspanned(super::api::DEFAULT_MAX_URI_BYTES as u64)
}
fn default_api_max_body_bytes() -> Spanned<u64> {
    unspanned(super::api::DEFAULT_MAX_BODY_BYTES as u64)
}
fn default_api_refusal_audit_interval_secs() -> Spanned<u64> {
    unspanned(super::api::DEFAULT_REFUSAL_AUDIT_INTERVAL.as_secs())
}
fn default_api_refusal_audit_remotes() -> Spanned<u64> {
    unspanned(super::api::DEFAULT_REFUSAL_AUDIT_REMOTES as u64)
}
fn default_api_max_silence_hours() -> Spanned<u64> {
    unspanned(super::api::DEFAULT_MAX_SILENCE.as_secs() / 3600)
}
fn default_api_max_silences_per_supervisor() -> Spanned<u64> {
    unspanned(super::api::DEFAULT_MAX_SILENCES_PER_SUPERVISOR as u64)
}

/// `[alerts]`: the rule engine.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// A rule pack file; absent = the default pack built into weijian
    /// (config/rules/default.toml).
    #[serde(default)]
    pub rules_file: Option<Spanned<String>>,
    /// How often timers run (offline devices, pending durations, escalation by time).
    #[serde(default = "default_tick_interval_secs")]
    pub tick_interval_secs: Spanned<u64>,
    /// How often the engine's state is saved for restarts.
    #[serde(default = "default_snapshot_interval_secs")]
    pub snapshot_interval_secs: Spanned<u64>,
    /// Publish alert changes to `{prefix}/alerts/{site}`.
    #[serde(default = "default_true")]
    pub publish: bool,
}

impl Default for RawAlerts {
    fn default() -> Self {
        Self {
            rules_file: None,
            tick_interval_secs: default_tick_interval_secs(),
            snapshot_interval_secs: default_snapshot_interval_secs(),
            publish: true,
        }
    }
}

/// `[delivery]`: telling supervisors (the grid, channels, the outbox and the API).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    /// The supervisors file (grid cells, channels, API token hashes, ack deadlines; see
    /// config/supervisors.example.toml). Absent = no delivery and no alert API: alerts are
    /// still stored and published on MQTT.
    #[serde(default)]
    pub supervisors_file: Option<Spanned<String>>,
    /// Per notifier request (connect + send + answer).
    #[serde(default = "default_notify_timeout_secs")]
    pub http_timeout_secs: Spanned<u64>,
    /// First retry delay of a failed delivery (doubles up to `retry_max_secs`; retried forever).
    #[serde(default = "default_retry_initial_secs")]
    pub retry_initial_secs: Spanned<u64>,
    #[serde(default = "default_retry_max_secs")]
    pub retry_max_secs: Spanned<u64>,
    /// The outbox's size limit (notices wait here while a channel is down).
    #[serde(default = "default_outbox_max_mib")]
    pub outbox_max_mib: Spanned<u64>,
    /// `[delivery.smtp]`: the mail server for `email` channels.
    #[serde(default)]
    pub smtp: Option<RawSmtp>,
}

impl Default for RawDelivery {
    fn default() -> Self {
        Self {
            supervisors_file: None,
            http_timeout_secs: default_notify_timeout_secs(),
            retry_initial_secs: default_retry_initial_secs(),
            retry_max_secs: default_retry_max_secs(),
            outbox_max_mib: default_outbox_max_mib(),
            smtp: None,
        }
    }
}

/// `[delivery.smtp]`: the SMTP server e-mail notices go through.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: Spanned<String>,
    #[serde(default = "default_smtp_port")]
    pub port: Spanned<u16>,
    /// `starttls` (default), `tls` (implicit, port 465) or `none` (a local relay only).
    #[serde(default = "default_smtp_tls")]
    pub tls: Spanned<String>,
    /// The sender, e.g. `"weijian 卫监 <alerts@example.org>"`.
    pub from: Spanned<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable holding the SMTP password.
    #[serde(default)]
    pub password_env: Option<Spanned<String>>,
}

/// `[[sites]]`: a supervised site.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub id: Spanned<String>,
    pub name: String,
    /// `water`, `waste_store` or `dental_sterilization`.
    pub kind: Spanned<String>,
    pub grid: RawGrid,
    /// Water sites: `{ point, disinfectant, small_supply }`.
    #[serde(default)]
    pub water: Option<Spanned<RawWater>>,
    /// Waste stores: `{ refrigerated, max_temp_c, collection_windows }`.
    #[serde(default)]
    pub waste_store: Option<Spanned<RawWasteStore>>,
    /// Dental sites: `{ sterilizer, bi_interval_days }`.
    #[serde(default)]
    pub dental: Option<Spanned<RawDental>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrid {
    pub district: String,
    pub street: String,
    pub community: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWater {
    pub point: Spanned<String>,
    pub disinfectant: Spanned<String>,
    #[serde(default)]
    pub small_supply: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWasteStore {
    #[serde(default)]
    pub refrigerated: bool,
    #[serde(default)]
    pub max_temp_c: Option<f64>,
    #[serde(default)]
    pub collection_windows: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDental {
    pub sterilizer: Spanned<String>,
    #[serde(default = "default_bi_interval_days")]
    pub bi_interval_days: u32,
}

/// `[[devices]]`: a registered device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    pub id: Spanned<String>,
    pub site: Spanned<String>,
    /// `water_monitor`, `waste_store` or `autoclave`.
    pub kind: Spanned<String>,
    pub expected_interval_secs: Spanned<u32>,
    #[serde(default)]
    pub hj212: Option<Spanned<RawHj212>>,
}

/// `[devices.hj212]`: how to read this device's HJ 212 frames.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHj212 {
    pub mn: Spanned<String>,
    /// Check `PW` against this value (inline) ...
    #[serde(default)]
    pub password: Option<String>,
    /// ... or against this environment variable.
    #[serde(default)]
    pub password_env: Option<Spanned<String>>,
    /// The zone of `DataTime`, `+08:00` (China Standard Time) by default.
    #[serde(default = "default_utc_offset")]
    pub utc_offset: Spanned<String>,
    /// Factor code -> catalogue metric, over the defaults (e.g. `"w99001" = "free_chlorine_mg_l"`).
    #[serde(default)]
    pub codes: BTreeMap<String, Spanned<String>>,
    /// Addresses or networks (`192.0.2.0/24`) this device's frames may come from over the TCP
    /// listener; empty: anywhere.
    #[serde(default)]
    pub allowed_sources: Vec<Spanned<String>>,
}

/// `[registry]`: sites and devices kept in JSON Lines files, for fleets too large for TOML
/// (they add to any `[[sites]]` / `[[devices]]` of this file; ids stay unique across both).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegistry {
    /// One site per line, the keys of a `[[sites]]` table as a JSON object.
    #[serde(default)]
    pub sites_file: Option<Spanned<String>>,
    /// One device per line, the keys of a `[[devices]]` table as a JSON object.
    #[serde(default)]
    pub devices_file: Option<Spanned<String>>,
}

fn unspanned<T>(v: T) -> Spanned<T> {
    Spanned::new(0..0, v)
}
fn default_mqtt_host() -> Spanned<String> {
    unspanned("127.0.0.1".into())
}
fn default_mqtt_port() -> Spanned<u16> {
    unspanned(1883)
}
fn default_client_id() -> Spanned<String> {
    unspanned("weijian-ingest".into())
}
fn default_protocol() -> Spanned<String> {
    unspanned("5".into())
}
fn default_keep_alive_secs() -> Spanned<u64> {
    unspanned(30)
}
fn default_session_expiry_secs() -> Spanned<u32> {
    unspanned(7 * 24 * 3600)
}
fn default_inflight() -> Spanned<u16> {
    unspanned(1000)
}
fn default_topic_prefix() -> Spanned<String> {
    unspanned("weijian/v1".into())
}
fn default_reconnect_min_ms() -> Spanned<u64> {
    unspanned(500)
}
fn default_reconnect_max_ms() -> Spanned<u64> {
    unspanned(30_000)
}
fn default_questdb_conf() -> Spanned<String> {
    unspanned("http::addr=127.0.0.1:9000;".into())
}
fn default_table_prefix() -> Spanned<String> {
    unspanned(String::new())
}
fn default_batch_max_rows() -> Spanned<usize> {
    unspanned(10_000)
}
fn default_batch_max_bytes() -> Spanned<usize> {
    unspanned(super::DEFAULT_BATCH_MAX_BYTES)
}
fn default_flush_interval_ms() -> Spanned<u64> {
    unspanned(super::DEFAULT_FLUSH_INTERVAL_MS)
}
fn default_retry_max_ms() -> Spanned<u64> {
    unspanned(10_000)
}
fn default_spool_dir() -> Spanned<String> {
    unspanned("./weijian-spool".into())
}
fn default_spool_max_bytes() -> Spanned<u64> {
    unspanned(1 << 30)
}
fn default_segment_bytes() -> Spanned<u64> {
    unspanned(64 << 20)
}
fn default_group_commit_delay_ms() -> Spanned<u64> {
    // 0: fsync as soon as the previous fsync ends; appends arriving meanwhile share the next
    // one. A fixed delay measured slower with small ack windows (spool_bench).
    unspanned(0)
}
fn default_group_commit_interval_ms() -> Spanned<u64> {
    unspanned(crate::spool::DEFAULT_GROUP_COMMIT_INTERVAL_MS)
}
fn default_group_commit_records() -> Spanned<usize> {
    unspanned(crate::spool::DEFAULT_GROUP_COMMIT_RECORDS)
}
fn default_max_payload_bytes() -> Spanned<usize> {
    unspanned(256 * 1024)
}
fn default_max_array_objects() -> Spanned<usize> {
    unspanned(10_000)
}
fn default_max_future_secs() -> Spanned<u64> {
    unspanned(300)
}
fn default_max_age_days() -> Spanned<u64> {
    unspanned(30)
}
fn default_http_listen() -> Spanned<String> {
    unspanned("127.0.0.1:9464".into())
}
fn default_console_session_hours() -> Spanned<u64> {
    unspanned(super::console::DEFAULT_SESSION_HOURS)
}
fn default_console_signin_max_failures() -> Spanned<u64> {
    unspanned(u64::from(super::console::DEFAULT_SIGNIN_MAX_FAILURES))
}
fn default_console_signin_lockout_minutes() -> Spanned<u64> {
    unspanned(super::console::DEFAULT_SIGNIN_LOCKOUT.as_secs() / 60)
}
fn default_console_chart_timeout_ms() -> Spanned<u64> {
    unspanned(u64::try_from(super::console::DEFAULT_CHART_TIMEOUT.as_millis()).unwrap_or(2000))
}
fn default_console_max_sessions() -> Spanned<u64> {
    unspanned(super::console::DEFAULT_MAX_SESSIONS as u64)
}
fn default_tick_interval_secs() -> Spanned<u64> {
    unspanned(10)
}
fn default_snapshot_interval_secs() -> Spanned<u64> {
    unspanned(10)
}
fn default_notify_timeout_secs() -> Spanned<u64> {
    unspanned(10)
}
fn default_retry_initial_secs() -> Spanned<u64> {
    unspanned(2)
}
fn default_retry_max_secs() -> Spanned<u64> {
    unspanned(300)
}
fn default_outbox_max_mib() -> Spanned<u64> {
    unspanned(256)
}
fn default_smtp_port() -> Spanned<u16> {
    unspanned(587)
}
fn default_smtp_tls() -> Spanned<String> {
    unspanned("starttls".to_owned())
}
fn default_true() -> bool {
    true
}
fn default_bi_interval_days() -> u32 {
    7
}
fn default_utc_offset() -> Spanned<String> {
    unspanned("+08:00".into())
}
