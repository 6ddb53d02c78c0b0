//! Alerts: acknowledge, resolve, ids with `/`, filters.

use alerting::Level;
use axum::http::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn acknowledging_records_who_and_note_and_clears_the_escalation_deadline() {
    let h = Harness::new().await;
    let id = h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    h.announce();
    let path = format!("/api/v1/alerts/{}", enc(&id));
    assert!(h.get(&path, SHUICHANG).await.body["ack_deadline"].is_string());

    h.advance_secs(120);
    let a = h
        .post(
            &format!("{path}/ack"),
            SHUICHANG,
            json!({"note": "已派人到场"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(a.body["alert_id"], id.as_str());
    assert_eq!(a.body["state"], "acknowledged");
    assert!(a.body["request_id"].is_string());
    assert_eq!(a.body["events"][0]["kind"], "acknowledged");
    assert_eq!(a.body["events"][0]["by"], "sq-shuichang");

    let d = h.get(&path, SHUICHANG).await;
    assert_eq!(d.body["state"], "acknowledged");
    assert_eq!(d.body["acknowledged"]["by"], "sq-shuichang");
    assert_eq!(d.body["acknowledged"]["note"], "已派人到场");
    assert_eq!(d.body["acknowledged"]["at_us"], h.now().as_micros());
    assert_eq!(d.body["ack_deadline"], Value::Null);
    let history = d.body["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|e| e["change"] == "acknowledged" && e["by"][0] == "sq-shuichang"),
        "{history:?}"
    );

    // The lists follow.
    assert_eq!(
        ids(&h.get("/api/v1/alerts?state=acknowledged", SHUICHANG).await),
        vec![id.clone()]
    );
    assert!(ids(&h
        .get("/api/v1/alerts?state=unacknowledged", SHUICHANG)
        .await)
    .is_empty());
    let rows = h.audit(1).await;
    assert_eq!((rows[0].action, rows[0].status), ("acknowledge", 200));
    assert_eq!(rows[0].detail, "已派人到场");
}

#[tokio::test]
async fn resolving_closes_the_alert_and_its_history_shows_the_manual_resolution() {
    let h = Harness::new().await;
    let id = h.fire("W1", "wp-east", "wm-east-1", Level::III, 600);
    h.announce();
    let path = format!("/api/v1/alerts/{}", enc(&id));

    let r = h
        .post(
            &format!("{path}/resolve"),
            SHUICHANG,
            json!({"reason": "冲洗管网后复测合格"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["state"], "resolved");
    assert_eq!(r.body["events"][0]["kind"], "resolved_manually");

    let d = h.get(&path, SHUICHANG).await;
    assert_eq!(d.body["state"], "resolved");
    assert!(d.body["resolved_at_us"].is_i64(), "{d:?}");
    let history = d.body["history"].as_array().unwrap();
    assert!(
        history.iter().any(|e| e["change"] == "resolved_manually"
            && e["by"][0] == "sq-shuichang"
            && e["detail"] == "冲洗管网后复测合格"),
        "{history:?}"
    );
    assert!(ids(&h.get("/api/v1/alerts", SHUICHANG).await).is_empty());
    assert_eq!(
        ids(&h.get("/api/v1/alerts?state=resolved", SHUICHANG).await),
        vec![id]
    );

    let again = h
        .post(
            &format!("{path}/resolve"),
            SHUICHANG,
            json!({"reason": "again"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");
    assert_eq!(again.body["error"], "already_resolved");
}

#[tokio::test]
async fn percent_encoded_alert_ids_reach_the_alert() {
    let h = Harness::new().await;
    let id = h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    assert!(id.contains('/'));
    let a = h
        .get(&format!("/api/v1/alerts/{}", enc(&id)), SHUICHANG)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(a.body["id"], id.as_str());
    // Lower-case escapes too.
    let lower = id.replace('/', "%2f");
    let a = h.get(&format!("/api/v1/alerts/{lower}"), SHUICHANG).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    // Unencoded slashes are another path: a JSON 404 that says what to do.
    let raw = h.get(&format!("/api/v1/alerts/{id}"), SHUICHANG).await;
    assert_eq!(raw.status, StatusCode::NOT_FOUND, "{raw:?}");
    assert_eq!(raw.body["error"], "no_route");
}

#[tokio::test]
async fn an_unknown_alert_is_404() {
    let h = Harness::new().await;
    let a = h
        .get("/api/v1/alerts/W2%2Fnowhere%2Fx%2F1", SHUICHANG)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{a:?}");
    assert_eq!(a.body["error"], "not_found");
    let ack = h
        .post(
            "/api/v1/alerts/W2%2Fnowhere%2Fx%2F1/ack",
            SHUICHANG,
            json!({}),
        )
        .await;
    assert_eq!(ack.status, StatusCode::NOT_FOUND, "{ack:?}");
}

#[tokio::test]
async fn filters_select_by_state_level_site_and_since() {
    let h = Harness::new().await;
    let old = h.fire("W2", "wp-east", "wm-east-1", Level::II, 7200);
    let new = h.fire("G1", "wp-east", "wm-east-2", Level::IV, 60);
    let garden = h.fire("W4", "wp-garden", "wm-garden-1", Level::III, 600);
    h.announce();
    let q = |query: &str| format!("/api/v1/alerts?{query}");

    assert_eq!(
        ids(&h.get(&q("level=II"), DONGCHENG).await),
        vec![old.clone()]
    );
    assert_eq!(
        ids(&h.get(&q("level=4"), DONGCHENG).await),
        vec![new.clone()]
    );
    assert_eq!(
        ids(&h.get(&q("min_level=III"), DONGCHENG).await),
        vec![garden.clone(), old.clone()]
    );
    assert_eq!(
        ids(&h.get(&q("site=wp-east"), DONGCHENG).await),
        vec![new.clone(), old.clone()]
    );
    assert_eq!(
        ids(&h
            .get(
                &q("community=%E8%8A%B1%E5%9B%AD%E7%A4%BE%E5%8C%BA"),
                DONGCHENG
            )
            .await),
        vec![garden.clone()]
    );
    let since = (T0 - 3_600_000_000) / 1000;
    assert_eq!(
        ids(&h.get(&q(&format!("since={since}")), DONGCHENG).await),
        vec![new.clone(), garden.clone()]
    );
    assert_eq!(
        ids(&h
            .get(&q("until=2026-11-22T07:00:00%2B08:00"), DONGCHENG)
            .await),
        vec![old.clone()]
    );
    let limited = h.get(&q("limit=1"), DONGCHENG).await;
    assert_eq!(ids(&limited), vec![new.clone()]);
    assert_eq!(limited.body["total"], 3);

    h.post(
        &format!("/api/v1/alerts/{}/ack", enc(&old)),
        SHUICHANG,
        json!({}),
    )
    .await;
    assert_eq!(
        ids(&h.get(&q("state=unacknowledged"), DONGCHENG).await),
        vec![new.clone(), garden.clone()]
    );
    assert_eq!(ids(&h.get(&q("state=all"), DONGCHENG).await).len(), 3);
}

#[tokio::test]
async fn a_bad_filter_is_400_naming_the_parameter() {
    let h = Harness::new().await;
    for (query, name) in [
        ("state=closed", "state"),
        ("level=V", "level"),
        ("min_level=0", "min_level"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("levle=I", "levle"),
    ] {
        let a = h.get(&format!("/api/v1/alerts?{query}"), SHUICHANG).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query}: {a:?}");
        assert_eq!(a.body["error"], "bad_parameter");
        let message = a.body["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{name}`")), "{query}: {message}");
    }
}

#[tokio::test]
async fn write_bodies_are_checked_before_they_are_journaled() {
    let h = Harness::new().await;
    let id = h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    let path = format!("/api/v1/alerts/{}", enc(&id));
    let long = h
        .post(
            &format!("{path}/ack"),
            SHUICHANG,
            json!({"note": "很".repeat(501)}),
        )
        .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST, "{long:?}");
    assert!(long.body["message"].as_str().unwrap().contains("note"));
    let no_reason = h
        .post(
            &format!("{path}/resolve"),
            SHUICHANG,
            json!({"reason": " "}),
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST, "{no_reason:?}");
    assert!(no_reason.body["message"]
        .as_str()
        .unwrap()
        .contains("reason"));
    let unknown = h
        .post(
            &format!("{path}/ack"),
            SHUICHANG,
            json!({"note": "x", "by": "me"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{unknown:?}");
    // An empty body acknowledges without a note.
    let empty = h
        .call("POST", &format!("{path}/ack"), Some(SHUICHANG), None)
        .await;
    assert_eq!(empty.status, StatusCode::OK, "{empty:?}");
}
