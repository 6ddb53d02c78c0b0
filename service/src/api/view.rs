//! The JSON shapes the API answers with, as types: serde writes them and utoipa documents them
//! (`super::doc`), so the document cannot drift from the answers. Supervisors, alerts (summary
//! and detail), silences, delivery events, grid paths, levels. Conventions: levels are `level`
//! (1 = I .. 4 = IV) with `level_code` (`I`..`IV`), `colour`, `level_name` and `level_zh`;
//! every time `x` comes with `x_us` (see `time`).

use alerting::delivery::{
    DeliveryEvent, DeliveryEventKind, Silence, SilenceScope, Supervisor, Tier, TrackedAlert,
};
use alerting::model::{GridPath, Timestamp};
use alerting::{EventKind, Evidence, Level};
use serde::Serialize;
use utoipa::ToSchema;

use super::schema;
use super::time::rfc3339;
use crate::supervision::{AlertRecord, DeskState};
use weijian_ingest::config::Registry;

/// Where an alert is in its life, as the API reports it (`state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition holds but has not lasted long enough to fire: nobody is notified.
    Pending,
    /// Firing and not acknowledged.
    Open,
    /// Firing and acknowledged (still open).
    Acknowledged,
    /// Closed by the rule engine or by a supervisor.
    Resolved,
}

impl AlertState {
    /// The state of a desk record.
    pub fn of(st: &DeskState, id: &str, rec: &AlertRecord) -> Self {
        if resolved_at(st, id, rec).is_some() {
            return Self::Resolved;
        }
        match st.engine.alert(id) {
            Some(a) if a.ack.is_some() => Self::Acknowledged,
            Some(_) => Self::Open,
            None if rec.last.kind == EventKind::Pending => Self::Pending,
            None => Self::Open,
        }
    }
}

/// When the alert closed: the desk's record, else the engine's memory of it.
pub fn resolved_at(st: &DeskState, id: &str, rec: &AlertRecord) -> Option<Timestamp> {
    rec.resolved_at
        .or_else(|| st.engine.resolved_alert(id).map(|r| r.at))
        .or_else(|| {
            (rec.last.kind == EventKind::Resolved && st.engine.alert(id).is_none())
                .then_some(rec.last.ts)
        })
}

/// A time as its two fields: RFC 3339 at Beijing time and epoch microseconds.
pub fn at(ts: Timestamp) -> (String, i64) {
    (rfc3339(ts), ts.as_micros())
}

/// [`at`] of a time that may be absent: both `None` then.
pub fn at_opt(ts: Option<Timestamp>) -> (Option<String>, Option<i64>) {
    ts.map(at).unzip()
}

/// A place in the supervision grid (区 / 街道 / 社区).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Grid {
    /// District (区).
    pub district: String,
    /// Street (街道).
    pub street: String,
    /// Community (社区).
    pub community: String,
}

impl From<&GridPath> for Grid {
    fn from(g: &GridPath) -> Self {
        Self {
            district: g.district.clone(),
            street: g.street.clone(),
            community: g.community.clone(),
        }
    }
}

/// An alert level (预警级别) in every form the API gives it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LevelView {
    /// 1 = I (most severe) .. 4 = IV.
    #[schema(minimum = 1, maximum = 4)]
    pub level: u8,
    #[schema(schema_with = schema::level_code)]
    pub level_code: &'static str,
    #[schema(schema_with = schema::colour)]
    pub colour: &'static str,
    #[schema(schema_with = schema::level_name)]
    pub level_name: &'static str,
    /// The level in Chinese with its name, e.g. 二级（严重）.
    pub level_zh: String,
}

impl From<Level> for LevelView {
    fn from(level: Level) -> Self {
        Self {
            level: level.number(),
            level_code: level.as_str(),
            colour: level.colour(),
            level_name: level.name_en(),
            level_zh: format!("{}（{}）", level.label_zh(), level.name_zh()),
        }
    }
}

/// The caller of `GET /api/v1/me`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub name: String,
    #[schema(schema_with = schema::tier)]
    pub tier: Tier,
    pub cell: GridCell,
}

/// A supervisor's grid cell: null below the supervisor's tier (a street supervisor has no
/// community; the city supervisor has none of the three).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GridCell {
    #[schema(required = true)]
    pub district: Option<String>,
    #[schema(required = true)]
    pub street: Option<String>,
    #[schema(required = true)]
    pub community: Option<String>,
    /// e.g. 示范区/东城街道/水厂社区, or 市.
    pub path: String,
}

impl From<&Supervisor> for Me {
    fn from(s: &Supervisor) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            tier: s.tier(),
            cell: GridCell {
                district: s.cell.district.clone(),
                street: s.cell.street.clone(),
                community: s.cell.community.clone(),
                path: s.cell.to_string(),
            },
        }
    }
}

/// Who acknowledged an alert, when, with what note.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Acknowledgement {
    pub by: String,
    pub note: String,
    /// When, RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub at: String,
    /// When, epoch microseconds.
    pub at_us: i64,
}

/// An alert's summary in both languages.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Summary {
    pub zh: String,
    pub en: String,
}

/// One alert as listed; `GET /api/v1/alerts/{id}` adds its history ([`AlertDetail`]).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Alert {
    pub id: String,
    /// Rule id, e.g. W2.
    pub rule: String,
    #[serde(flatten)]
    pub level: LevelView,
    pub state: AlertState,
    /// The rule engine's latest transition.
    #[schema(schema_with = schema::event_kind)]
    pub last_event: &'static str,
    pub site: String,
    #[schema(required = true)]
    pub site_name: Option<String>,
    /// Device id, or `*` for site-wide alerts.
    pub device: String,
    /// What the alert is about within the device (e.g. a waste bag), when not the device.
    #[schema(required = true)]
    pub subject: Option<String>,
    pub grid: Grid,
    /// When the condition started, RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub started_at: String,
    /// When the condition started, epoch microseconds.
    pub started_at_us: i64,
    /// The alert's last change, RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// The alert's last change, epoch microseconds.
    pub updated_at_us: i64,
    /// When it closed; null while open. RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime, required = true)]
    pub resolved_at: Option<String>,
    /// When it closed; null while open. Epoch microseconds.
    #[schema(required = true)]
    pub resolved_at_us: Option<i64>,
    /// The tier currently responsible (after escalations); null when not open.
    #[schema(schema_with = schema::tier_or_null, required = true)]
    pub tier: Option<Tier>,
    /// Null until a supervisor acknowledges it.
    #[schema(required = true)]
    pub acknowledged: Option<Acknowledgement>,
    /// When it escalates if still unacknowledged; null once acknowledged, before it is
    /// announced, or at the top tier. RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime, required = true)]
    pub ack_deadline: Option<String>,
    /// The same deadline, epoch microseconds.
    #[schema(required = true)]
    pub ack_deadline_us: Option<i64>,
    /// The silence in force over it, if any.
    #[schema(required = true)]
    pub silenced_by: Option<String>,
    pub summary: Summary,
    /// Why the latest transition happened (English).
    pub reason: String,
    /// Named values behind the alert (measured value, limit, times, ...).
    #[schema(schema_with = schema::evidence)]
    pub evidence: Vec<Evidence>,
}

/// One alert with its history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: Alert,
    pub history: Vec<HistoryEntry>,
}

/// One change in an alert's life.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// When, RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub ts: String,
    /// When, epoch microseconds.
    pub ts_us: i64,
    /// pending, firing, level_changed, resolved, escalated, acknowledged,
    /// acknowledgement_cleared, resolved_manually, silenced, silence_ended, or notice:<kind>.
    pub change: String,
    /// 1 = I (most severe) .. 4 = IV.
    #[schema(minimum = 1, maximum = 4)]
    pub level: u8,
    #[schema(schema_with = schema::level_code_or_null, required = true)]
    pub level_code: Option<&'static str>,
    /// Who acted, or the recipients of a notice.
    pub by: Vec<String>,
    pub detail: String,
}

/// One alert as listed (`detail`: with its history).
pub fn alert(
    st: &DeskState,
    registry: &Registry,
    id: &str,
    rec: &AlertRecord,
    now: Timestamp,
) -> Alert {
    let e = &rec.last;
    let tracked: Option<&TrackedAlert> = st.engine.alert(id);
    let state = AlertState::of(st, id, rec);
    let (started_at, started_at_us) = at(e.started_at);
    let (updated_at, updated_at_us) = at(rec.history.last().map_or(e.ts, |h| h.ts.max(e.ts)));
    let (resolved_at, resolved_at_us) = at_opt(resolved_at(st, id, rec));
    let (ack_deadline, ack_deadline_us) = at_opt(tracked.and_then(|a| a.ack_deadline));
    Alert {
        id: id.to_owned(),
        rule: e.rule.clone(),
        level: e.level.into(),
        state,
        last_event: e.kind.as_str(),
        site: e.site.clone(),
        site_name: registry.site(&e.site).map(|s| s.name.clone()),
        device: e.device.clone(),
        subject: e.subject.clone(),
        grid: (&e.grid).into(),
        started_at,
        started_at_us,
        updated_at,
        updated_at_us,
        resolved_at,
        resolved_at_us,
        tier: tracked.map(|a| a.tier),
        acknowledged: tracked.and_then(|a| a.ack.as_ref()).map(|k| {
            let (at, at_us) = at(k.at);
            Acknowledgement {
                by: k.by.clone(),
                note: k.note.clone(),
                at,
                at_us,
            }
        }),
        ack_deadline,
        ack_deadline_us,
        silenced_by: if state == AlertState::Resolved {
            None
        } else {
            st.engine
                .silence_for(&e.site, &e.device, now)
                .map(|s| s.id.clone())
        },
        summary: Summary {
            zh: e.summary_zh.clone(),
            en: e.summary_en.clone(),
        },
        reason: e.reason.clone(),
        evidence: e.evidence.clone(),
    }
}

/// One alert with its history.
pub fn alert_detail(
    st: &DeskState,
    registry: &Registry,
    id: &str,
    rec: &AlertRecord,
    now: Timestamp,
) -> AlertDetail {
    AlertDetail {
        alert: alert(st, registry, id, rec, now),
        history: rec
            .history
            .iter()
            .map(|h| {
                let (ts, ts_us) = at(h.ts);
                HistoryEntry {
                    ts,
                    ts_us,
                    change: h.change.clone(),
                    level: h.level,
                    level_code: Level::ALL
                        .into_iter()
                        .find(|l| l.number() == h.level)
                        .map(Level::as_str),
                    by: h.by.clone(),
                    detail: h.detail.clone(),
                }
            })
            .collect(),
    }
}

/// A silence (静默) or maintenance window.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Silence)]
pub struct SilenceView {
    pub id: String,
    pub site: String,
    #[schema(required = true)]
    pub site_name: Option<String>,
    /// The silenced device; null: the whole site.
    #[schema(required = true)]
    pub device: Option<String>,
    /// The supervisor who set it.
    pub by: String,
    pub reason: String,
    /// In force at the time of the request.
    pub active: bool,
    /// When it ends by itself, RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub until: String,
    /// When it ends by itself, epoch microseconds.
    pub until_us: i64,
}

/// A silence as the API shows it.
pub fn silence(registry: &Registry, s: &Silence, now: Timestamp) -> SilenceView {
    let site = s.scope.site();
    let (until, until_us) = at(s.until);
    SilenceView {
        id: s.id.clone(),
        site: site.to_owned(),
        site_name: registry.site(site).map(|x| x.name.clone()),
        device: match &s.scope {
            SilenceScope::Site { .. } => None,
            SilenceScope::Device { device, .. } => Some(device.clone()),
        },
        by: s.by.clone(),
        reason: s.reason.clone(),
        active: s.is_active(now),
        until,
        until_us,
    }
}

/// A delivery lifecycle record a write produced: its `kind` with that kind's fields, and the
/// alert, site and time it concerns.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DeliveryEvent)]
pub struct Event {
    #[serde(flatten)]
    pub kind: EventDetail,
    pub alert_id: String,
    pub site: String,
    /// When, RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub ts: String,
    /// When, epoch microseconds.
    pub ts_us: i64,
}

/// What happened, by `kind`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventDetail {
    /// Not acknowledged by the deadline: handed to the next tier up (逐级上报).
    Escalated {
        #[schema(schema_with = schema::tier)]
        from: Tier,
        #[schema(schema_with = schema::tier)]
        to: Tier,
        /// The supervisors now responsible.
        supervisors: Vec<String>,
    },
    /// Acknowledged: escalation and repeats stop; the alert stays open.
    Acknowledged { by: String, note: String },
    /// The level became more severe after the acknowledgement: it needs a fresh one.
    AcknowledgementCleared {
        #[schema(schema_with = schema::level_code)]
        from: Level,
        #[schema(schema_with = schema::level_code)]
        to: Level,
    },
    /// Closed by a supervisor.
    ResolvedManually { by: String, reason: String },
    /// A silence now covers the alert: notices are held, the record is not.
    Silenced {
        silence_id: String,
        by: String,
        reason: String,
        /// When the silence ends, epoch microseconds.
        until: i64,
    },
    /// The silence covering the alert ended: expired (`by` null) or lifted by `by`.
    SilenceEnded {
        silence_id: String,
        #[schema(required = true)]
        by: Option<String>,
    },
}

impl From<&DeliveryEventKind> for EventDetail {
    fn from(k: &DeliveryEventKind) -> Self {
        match k {
            DeliveryEventKind::Escalated {
                from,
                to,
                supervisors,
            } => Self::Escalated {
                from: *from,
                to: *to,
                supervisors: supervisors.clone(),
            },
            DeliveryEventKind::Acknowledged { by, note } => Self::Acknowledged {
                by: by.clone(),
                note: note.clone(),
            },
            DeliveryEventKind::AcknowledgementCleared { from, to } => {
                Self::AcknowledgementCleared {
                    from: *from,
                    to: *to,
                }
            }
            DeliveryEventKind::ResolvedManually { by, reason } => Self::ResolvedManually {
                by: by.clone(),
                reason: reason.clone(),
            },
            DeliveryEventKind::Silenced {
                silence_id,
                by,
                reason,
                until,
            } => Self::Silenced {
                silence_id: silence_id.clone(),
                by: by.clone(),
                reason: reason.clone(),
                until: until.as_micros(),
            },
            DeliveryEventKind::SilenceEnded { silence_id, by } => Self::SilenceEnded {
                silence_id: silence_id.clone(),
                by: by.clone(),
            },
        }
    }
}

impl From<&DeliveryEvent> for Event {
    fn from(e: &DeliveryEvent) -> Self {
        let (ts, ts_us) = at(e.ts);
        Self {
            kind: (&e.kind).into(),
            alert_id: e.alert_id.clone(),
            site: e.site.clone(),
            ts,
            ts_us,
        }
    }
}

pub fn events(es: &[DeliveryEvent]) -> Vec<Event> {
    es.iter().map(Event::from).collect()
}
