//! Site status: devices, open alerts, silences, worst level; 403/404.

use alerting::Level;
use axum::http::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn site_status_shows_devices_open_alerts_and_the_worst_level() {
    let h = Harness::new().await;
    let clear = h.get("/api/v1/sites/wp-east/status", SHUICHANG).await;
    assert_eq!(clear.status, StatusCode::OK, "{clear:?}");
    assert_eq!(clear.body["worst_level"], Value::Null);
    assert_eq!(clear.body["kind"], "water");
    assert_eq!(clear.body["devices"].as_array().unwrap().len(), 2);

    let w4 = h.fire("W4", "wp-east", "wm-east-1", Level::III, 600);
    let w2 = h.fire("W2", "wp-east", "wm-east-2", Level::II, 300);
    h.announce();
    h.post(
        &format!("/api/v1/alerts/{}/ack", enc(&w4)),
        SHUICHANG,
        json!({}),
    )
    .await;
    let s = h.get("/api/v1/sites/wp-east/status", SHUICHANG).await;
    assert_eq!(s.body["worst_level"], 2);
    assert_eq!(s.body["worst_level_code"], "II");
    assert_eq!(s.body["colour"], "orange");
    let alerts = s.body["open_alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    let acked: Vec<_> = alerts
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap(),
                a["acknowledged"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        acked.contains(&(w4.as_str(), true)) && acked.contains(&(w2.as_str(), false)),
        "{acked:?}"
    );
    assert_eq!(s.body["unacknowledged_alerts"], 1);

    let list = h.get("/api/v1/sites", DONGCHENG).await;
    let sites: Vec<_> = list.body["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["worst_level"].clone(),
            )
        })
        .collect();
    assert_eq!(
        sites,
        vec![
            ("wp-east".to_owned(), json!(2)),
            ("wp-garden".to_owned(), Value::Null)
        ]
    );
}

#[tokio::test]
async fn site_status_outside_the_subtree_is_403_audited_and_unknown_is_404() {
    let h = Harness::new().await;
    let a = h.get("/api/v1/sites/wp-west/status", SHUICHANG).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{a:?}");
    let b = h.get("/api/v1/sites/nowhere/status", SHUICHANG).await;
    assert_eq!(b.status, StatusCode::NOT_FOUND, "{b:?}");
    let rows = h.audit(1).await;
    assert_eq!((rows[0].action, rows[0].status), ("denied", 403));
    assert_eq!(rows[0].path, "/api/v1/sites/wp-west/status");
}

#[tokio::test]
async fn a_waste_store_status_shows_its_ledger() {
    let h = Harness::new().await;
    let empty = h.get("/api/v1/sites/ws-west/status", XUEFU).await;
    assert_eq!(empty.status, StatusCode::OK, "{empty:?}");
    assert_eq!(empty.body["kind"], "waste_store");
    assert_eq!(empty.body["waste"]["bags"], 0);
    assert_eq!(empty.body["waste"]["oldest_bag"], Value::Null);
    let water = h.get("/api/v1/sites/wp-west/status", XUEFU).await;
    assert!(
        water.body.get("waste").is_none(),
        "only waste stores have a ledger"
    );

    // The ledger as the alert stage publishes it: three bags in, one handed over.
    h.desk.waste().set("ws-west", filled_ledger(h.now()));

    let s = h.get("/api/v1/sites/ws-west/status", XUEFU).await;
    let w = &s.body["waste"];
    assert_eq!(
        (w["bags"].clone(), w["kg"].clone()),
        (json!(2), json!(2.25)),
        "{w}"
    );
    let infectious = w["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "infectious")
        .unwrap();
    assert_eq!(
        (infectious["bags"].clone(), infectious["kg"].clone()),
        (json!(1), json!(1.5))
    );
    assert_eq!(w["oldest_bag"]["bag_id"], "B2");
    assert_eq!(w["oldest_bag"]["age_hours"], 20.0);
    assert_eq!(w["last_handover"]["manifest_id"], "MF-88");
    assert_eq!(w["last_handover"]["hours_ago"], 6.0);
    assert_eq!(w["hours_since_disinfection"], 3.0);
    assert!(
        w["last_disinfection"].as_str().unwrap().ends_with("+08:00"),
        "{w}"
    );
    let other = h.get("/api/v1/sites/ws-west/status", SHUICHANG).await;
    assert_eq!(
        other.status,
        StatusCode::FORBIDDEN,
        "outside the caller's grid"
    );
}
