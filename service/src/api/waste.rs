//! A waste store's ledger in its site status (`GET /api/v1/sites/{site}/status`, field
//! `waste`): bags and kg in store by category, the oldest bag and its age, the last handover
//! and the last disinfection, with the hours since each at the time of the request.

use alerting::model::Timestamp;
use alerting::waste::LedgerSummary;
use serde_json::{json, Map, Value};

use super::view::put_time;

fn hours_since(now: Timestamp, t: Timestamp) -> f64 {
    (now.secs_since(t) as f64 / 360.0).round() / 10.0
}

/// The `waste` object; `null` fields (and zero bags) for a store that reported nothing yet.
pub(super) fn ledger(summary: Option<&LedgerSummary>, now: Timestamp) -> Value {
    let Some(s) = summary else {
        return json!({
            "bags": 0, "kg": 0.0, "by_category": [], "oldest_bag": null,
            "last_handover": null, "last_disinfection": null, "last_disinfection_us": null,
            "hours_since_disinfection": null, "pending_handovers": 0,
        });
    };
    let round = |kg: f64| (kg * 1000.0).round() / 1000.0;
    let mut m = Map::new();
    m.insert("bags".to_owned(), s.bags.into());
    m.insert("kg".to_owned(), round(s.kg).into());
    m.insert(
        "by_category".to_owned(),
        s.by_category
            .iter()
            .map(|c| json!({ "category": c.category.as_str(), "name_zh": c.category.name_zh(), "bags": c.bags, "kg": round(c.kg) }))
            .collect::<Vec<_>>()
            .into(),
    );
    m.insert(
        "oldest_bag".to_owned(),
        s.oldest_bag.as_ref().map_or(Value::Null, |b| {
            let mut o = Map::new();
            o.insert("bag_id".to_owned(), b.bag_id.clone().into());
            o.insert("category".to_owned(), b.category.as_str().into());
            o.insert("weight_kg".to_owned(), b.weight_kg.into());
            put_time(&mut o, "since", Some(b.since));
            o.insert("age_hours".to_owned(), hours_since(now, b.since).into());
            Value::Object(o)
        }),
    );
    m.insert(
        "last_handover".to_owned(),
        s.last_handover.as_ref().map_or(Value::Null, |h| {
            let mut o = Map::new();
            o.insert("manifest_id".to_owned(), h.manifest_id.clone().into());
            o.insert("carrier".to_owned(), h.carrier.clone().into());
            o.insert("weight_kg".to_owned(), h.weight_kg.into());
            o.insert("bags".to_owned(), h.bags.into());
            put_time(&mut o, "at", Some(h.ts));
            o.insert("hours_ago".to_owned(), hours_since(now, h.ts).into());
            Value::Object(o)
        }),
    );
    put_time(&mut m, "last_disinfection", s.last_disinfection);
    m.insert(
        "hours_since_disinfection".to_owned(),
        s.last_disinfection
            .map_or(Value::Null, |t| hours_since(now, t).into()),
    );
    m.insert("pending_handovers".to_owned(), s.pending_handovers.into());
    Value::Object(m)
}
