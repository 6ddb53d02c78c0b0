//! The JSON shapes the API answers with: supervisors, alerts (summary and detail), silences,
//! delivery events, sites. Conventions: levels are `level` (1 = I .. 4 = IV) with
//! `level_code` (`I`..`IV`) and `colour`; every time `x` comes with `x_us` (see `time`).

use alerting::delivery::{DeliveryEvent, Silence, Supervisor, TrackedAlert};
use alerting::model::{GridPath, Timestamp};
use alerting::{EventKind, Level};
use serde_json::{json, Map, Value};

use super::time::rfc3339;
use crate::supervision::{AlertRecord, DeskState};
use weijian_ingest::config::Registry;

/// Where an alert is in its life, as the API reports it (`state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

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

/// Inserts `name` (RFC 3339, +08:00) and `name_us` (epoch µs), both null for `None`.
pub fn put_time(map: &mut Map<String, Value>, name: &str, ts: Option<Timestamp>) {
    map.insert(
        name.to_owned(),
        ts.map_or(Value::Null, |t| rfc3339(t).into()),
    );
    map.insert(
        format!("{name}_us"),
        ts.map_or(Value::Null, |t| t.as_micros().into()),
    );
}

fn with_time(mut value: Value, fields: &[(&str, Option<Timestamp>)]) -> Value {
    if let Some(map) = value.as_object_mut() {
        for (name, ts) in fields {
            put_time(map, name, *ts);
        }
    }
    value
}

/// `level`, `level_code`, `colour`, `level_name`, `level_zh` into an object.
pub fn put_level(map: &mut Map<String, Value>, level: Level) {
    map.insert("level".to_owned(), level.number().into());
    map.insert("level_code".to_owned(), level.as_str().into());
    map.insert("colour".to_owned(), level.colour().into());
    map.insert("level_name".to_owned(), level.name_en().into());
    map.insert(
        "level_zh".to_owned(),
        format!("{}（{}）", level.label_zh(), level.name_zh()).into(),
    );
}

pub fn grid(g: &GridPath) -> Value {
    json!({ "district": g.district, "street": g.street, "community": g.community })
}

/// `GET /api/v1/me`.
pub fn supervisor(s: &Supervisor) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "tier": s.tier().as_str(),
        "cell": {
            "district": s.cell.district,
            "street": s.cell.street,
            "community": s.cell.community,
            "path": s.cell.to_string(),
        },
    })
}

/// One alert as listed (`detail` adds its history).
pub fn alert(
    st: &DeskState,
    registry: &Registry,
    id: &str,
    rec: &AlertRecord,
    now: Timestamp,
    detail: bool,
) -> Value {
    let e = &rec.last;
    let tracked: Option<&TrackedAlert> = st.engine.alert(id);
    let state = AlertState::of(st, id, rec);
    let mut m = Map::new();
    m.insert("id".to_owned(), id.into());
    m.insert("rule".to_owned(), e.rule.clone().into());
    put_level(&mut m, e.level);
    m.insert("state".to_owned(), state.as_str().into());
    m.insert("last_event".to_owned(), e.kind.as_str().into());
    m.insert("site".to_owned(), e.site.clone().into());
    m.insert(
        "site_name".to_owned(),
        registry
            .site(&e.site)
            .map_or(Value::Null, |s| s.name.clone().into()),
    );
    m.insert("device".to_owned(), e.device.clone().into());
    m.insert("subject".to_owned(), e.subject.clone().into());
    m.insert("grid".to_owned(), grid(&e.grid));
    put_time(&mut m, "started_at", Some(e.started_at));
    let updated = rec.history.last().map_or(e.ts, |h| h.ts.max(e.ts));
    put_time(&mut m, "updated_at", Some(updated));
    put_time(&mut m, "resolved_at", resolved_at(st, id, rec));
    m.insert(
        "tier".to_owned(),
        tracked.map_or(Value::Null, |a| a.tier.as_str().into()),
    );
    m.insert(
        "acknowledged".to_owned(),
        tracked
            .and_then(|a| a.ack.as_ref())
            .map_or(Value::Null, |k| {
                with_time(json!({ "by": k.by, "note": k.note }), &[("at", Some(k.at))])
            }),
    );
    put_time(&mut m, "ack_deadline", tracked.and_then(|a| a.ack_deadline));
    m.insert(
        "silenced_by".to_owned(),
        if state == AlertState::Resolved {
            Value::Null
        } else {
            st.engine
                .silence_for(&e.site, &e.device, now)
                .map_or(Value::Null, |s| s.id.clone().into())
        },
    );
    m.insert(
        "summary".to_owned(),
        json!({ "zh": e.summary_zh, "en": e.summary_en }),
    );
    m.insert("reason".to_owned(), e.reason.clone().into());
    m.insert(
        "evidence".to_owned(),
        serde_json::to_value(&e.evidence).unwrap_or(Value::Null),
    );
    if detail {
        let history: Vec<Value> = rec
            .history
            .iter()
            .map(|h| {
                let mut v = Map::new();
                put_time(&mut v, "ts", Some(h.ts));
                v.insert("change".to_owned(), h.change.clone().into());
                v.insert("level".to_owned(), h.level.into());
                v.insert(
                    "level_code".to_owned(),
                    Level::ALL
                        .into_iter()
                        .find(|l| l.number() == h.level)
                        .map_or(Value::Null, |l| l.as_str().into()),
                );
                v.insert("by".to_owned(), h.by.clone().into());
                v.insert("detail".to_owned(), h.detail.clone().into());
                Value::Object(v)
            })
            .collect();
        m.insert("history".to_owned(), history.into());
    }
    Value::Object(m)
}

/// A silence.
pub fn silence(registry: &Registry, s: &Silence, now: Timestamp) -> Value {
    let site = s.scope.site();
    let device = match &s.scope {
        alerting::delivery::SilenceScope::Site { .. } => Value::Null,
        alerting::delivery::SilenceScope::Device { device, .. } => device.clone().into(),
    };
    with_time(
        json!({
            "id": s.id,
            "site": site,
            "site_name": registry.site(site).map(|x| x.name.clone()),
            "device": device,
            "by": s.by,
            "reason": s.reason,
            "active": s.is_active(now),
        }),
        &[("until", Some(s.until))],
    )
}

/// A delivery lifecycle event a write produced: its `kind` and fields, plus `alert_id`,
/// `site`, `ts`, `ts_us`.
pub fn event(e: &DeliveryEvent) -> Value {
    let mut v = serde_json::to_value(&e.kind).unwrap_or_else(|_| json!({}));
    if let Some(m) = v.as_object_mut() {
        m.insert("alert_id".to_owned(), e.alert_id.clone().into());
        m.insert("site".to_owned(), e.site.clone().into());
        put_time(m, "ts", Some(e.ts));
    }
    v
}

pub fn events(es: &[DeliveryEvent]) -> Value {
    es.iter().map(event).collect::<Vec<_>>().into()
}
