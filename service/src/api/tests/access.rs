//! Who sees what: the grid subtree decides, refusals are 401/403, and every refusal is audited
//! exactly once.

use alerting::Level;
use axum::http::{header, StatusCode};
use serde_json::json;

use super::*;

#[tokio::test]
async fn me_describes_the_caller() {
    let h = Harness::new().await;
    let a = h.get("/api/v1/me", DONGCHENG).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(a.body["id"], "jd-dongcheng");
    assert_eq!(a.body["tier"], "street");
    assert_eq!(a.body["cell"]["street"], "东城街道");
    assert_eq!(a.body["cell"]["community"], Value::Null);
}

#[tokio::test]
async fn a_community_supervisor_sees_their_alert_and_not_the_other_communitys() {
    let h = Harness::new().await;
    let east = h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    let garden = h.fire("W1", "wp-garden", "wm-garden-1", Level::III, 300);
    h.announce();

    assert_eq!(
        ids(&h.get("/api/v1/alerts", SHUICHANG).await),
        vec![east.clone()]
    );
    assert_eq!(
        ids(&h.get("/api/v1/alerts", HUAYUAN).await),
        vec![garden.clone()]
    );
    assert!(ids(&h.get("/api/v1/alerts", XUEFU).await).is_empty());
    // The street sees both communities, newest first.
    assert_eq!(
        ids(&h.get("/api/v1/alerts", DONGCHENG).await),
        vec![garden, east.clone()]
    );

    let a = h
        .get(&format!("/api/v1/alerts/{}", enc(&east)), SHUICHANG)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(a.body["site_name"], "城东水厂 出厂水");
    assert_eq!(a.body["level"], 2);
    assert_eq!(a.body["level_code"], "II");
    assert_eq!(a.body["colour"], "orange");
    assert_eq!(a.body["state"], "open");
    assert_eq!(a.body["tier"], "community");
    assert_eq!(a.body["acknowledged"], Value::Null);
    assert_eq!(a.body["started_at"], "2026-11-22T07:50:00+08:00");
    assert_eq!(a.body["started_at_us"], T0 - 600_000_000);
    assert!(a.body["ack_deadline_us"].is_i64(), "{a:?}");
    assert_eq!(a.body["summary"]["en"], "W2 alert");
    assert_eq!(a.body["evidence"][0]["name"], "value");
    assert!(a.body["history"].as_array().is_some_and(|h| !h.is_empty()));
}

#[tokio::test]
async fn the_other_communitys_supervisor_is_refused_reading_and_acknowledging_and_both_are_audited()
{
    let h = Harness::new().await;
    let east = h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    h.announce();

    let path = format!("/api/v1/alerts/{}", enc(&east));
    let read = h.get(&path, HUAYUAN).await;
    assert_eq!(read.status, StatusCode::FORBIDDEN, "{read:?}");
    assert_eq!(read.body["error"], "forbidden");
    assert!(
        read.body["message"].as_str().unwrap().contains("outside"),
        "{read:?}"
    );

    let ack = h
        .post(&format!("{path}/ack"), HUAYUAN, json!({"note": "not mine"}))
        .await;
    assert_eq!(ack.status, StatusCode::FORBIDDEN, "{ack:?}");
    assert_eq!(ack.body["error"], "forbidden");
    let request_id = ack.body["request_id"].as_str().unwrap();

    let rows = h.audit(2).await;
    assert_eq!(rows.len(), 2, "each refusal audited once: {rows:?}");
    assert_eq!(rows[0].action, "denied");
    assert_eq!(rows[0].status, 403);
    assert_eq!(rows[0].supervisor, "sq-huayuan");
    assert_eq!(rows[0].method, "GET");
    assert_eq!(rows[0].path, path);
    assert_eq!(rows[1].action, "acknowledge");
    assert_eq!(rows[1].status, 403);
    assert_eq!(rows[1].outcome, "forbidden");
    assert_eq!(rows[1].request_id, request_id);
    assert_eq!(rows[1].target, east);

    // Nothing changed.
    let a = h.get(&path, SHUICHANG).await;
    assert_eq!(a.body["state"], "open");
}

#[tokio::test]
async fn a_bad_or_missing_token_is_401_with_www_authenticate_and_audited_once_per_interval() {
    let h = Harness::with_api("[api]\nrefusal_audit_interval_secs = 1\n").await;
    let bad = h.get("/api/v1/alerts", "not-a-token").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED, "{bad:?}");
    assert_eq!(bad.body["error"], "unauthorized");
    assert!(bad.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));

    let none = h
        .call("POST", "/api/v1/silences", None, Some(json!({})))
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{none:?}");
    assert!(none.body["message"]
        .as_str()
        .unwrap()
        .contains("Authorization"));

    // The first refusal of the address is audited at once; the second is counted, and the
    // count is audited when the interval ends.
    let rows = h.audit(2).await;
    assert!(
        rows.iter()
            .all(|r| r.status == 401 && r.outcome == "unauthorized" && r.supervisor == "-"),
        "{rows:?}"
    );
    assert_eq!(rows[0].path, "/api/v1/alerts");
    assert_eq!(rows[1].method, "POST");
    assert_eq!(rows[1].path, "/api/v1/silences");
    assert!(
        rows[1].detail.starts_with("1 more refused requests")
            && rows[1].detail.contains("no Authorization header"),
        "{rows:?}"
    );
}
