//! Accepted medical-waste events (`bag_in`, `handover`, `disinfection`) -> inputs for the rule
//! engine's bag ledger (M1-M7) and rows of the traceability table `waste_bags`.
//!
//! The decoder has already checked the fields (`decode/json.rs`); this reads them from the
//! stored object. An event that does not read here (which the decoder makes impossible) is
//! still stored in `events`, and only skipped by the ledger.

use alerting::model::Id;
use alerting::waste::{BagIn, Category, Disinfection, Handover};
use alerting::Input;
use serde_json::{Map, Value};

use crate::decode::json::{Event, EventKind};
use crate::sink::rows::Row;
use crate::sink::waste::{Stage, WasteBagRow};

/// The engine input and `waste_bags` rows of a waste event; `None` for other events.
pub(super) fn waste_event(site: &Id, device: &Id, event: &Event) -> Option<(Input, Vec<Row>)> {
    if !matches!(
        event.kind,
        EventKind::BagIn | EventKind::Handover | EventKind::Disinfection
    ) {
        return None;
    }
    let object: Map<String, Value> = match serde_json::from_str(&event.raw) {
        Ok(Value::Object(o)) => o,
        _ => {
            tracing::warn!(%device, "A waste event that passed decoding is not an object; not fed to the ledger.");
            return None;
        }
    };
    let text = |k: &str| object.get(k).and_then(Value::as_str).map(str::to_owned);
    let number = |k: &str| object.get(k).and_then(Value::as_f64);
    let ts = event.ts;
    match event.kind {
        EventKind::BagIn => {
            let bag = BagIn {
                site: site.clone(),
                device: device.clone(),
                ts,
                bag_id: text("bag_id")?,
                category: Category::parse(&text("category")?)?,
                weight_kg: number("weight_kg")?,
                department: text("department").filter(|d| !d.is_empty()),
            };
            let row = WasteBagRow {
                ts,
                site: site.clone(),
                device: device.clone(),
                bag_id: bag.bag_id.clone(),
                stage: Stage::In,
                category: Some(bag.category.as_str()),
                department: bag.department.clone(),
                weight_kg: Some(bag.weight_kg),
                manifest_id: None,
                carrier: None,
                manifest_weight_kg: None,
                manifest_bags: None,
            };
            Some((Input::BagIn(bag), vec![Row::WasteBag(Box::new(row))]))
        }
        EventKind::Handover => {
            let mut bag_ids: Vec<String> = Vec::new();
            for id in object.get("bag_ids")?.as_array()? {
                let id = id.as_str()?;
                if !bag_ids.iter().any(|b| b == id) {
                    bag_ids.push(id.to_owned());
                }
            }
            let h = Handover {
                site: site.clone(),
                device: device.clone(),
                ts,
                manifest_id: text("manifest_id")?,
                bag_ids,
                weight_kg: number("weight_kg")?,
                carrier: text("carrier")?,
            };
            let bags = i64::try_from(h.bag_ids.len()).unwrap_or(i64::MAX);
            let rows = h
                .bag_ids
                .iter()
                .map(|id| {
                    Row::WasteBag(Box::new(WasteBagRow {
                        ts,
                        site: site.clone(),
                        device: device.clone(),
                        bag_id: id.clone(),
                        stage: Stage::HandedOver,
                        category: None,
                        department: None,
                        weight_kg: None,
                        manifest_id: Some(h.manifest_id.clone()),
                        carrier: Some(h.carrier.clone()),
                        manifest_weight_kg: Some(h.weight_kg),
                        manifest_bags: Some(bags),
                    }))
                })
                .collect();
            Some((Input::Handover(h), rows))
        }
        _ => Some((
            Input::Disinfection(Disinfection {
                site: site.clone(),
                device: device.clone(),
                ts,
                method: text("method")?,
                duration_min: number("duration_min"),
            }),
            Vec::new(),
        )),
    }
}
