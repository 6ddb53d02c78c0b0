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
