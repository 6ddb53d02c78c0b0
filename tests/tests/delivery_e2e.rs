//! Alert delivery end to end through Mosquitto: the supervisor of a water site's community
//! hears about its W2 alert on their webhook, the street hears when nobody acknowledges in
//! time, acknowledging through the API stops the escalation, and the resolution reaches
//! everyone who was told. Supervisors of other cells cannot see or act (403), bad tokens get
//! 401, and all of it is audited in QuestDB (refusals once per address and interval).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weijian_tests::api_client::{encode_segment, ApiClient};
use weijian_tests::grid::{config_with_delivery, registry, supervisors_toml, token};
use weijian_tests::harness::{Env, Publisher};
use weijian_tests::questdb_double::Value;
use weijian_tests::receiver::Receiver;

/// A clock `offset` ahead of the wall clock (delivery deadlines run on it).
fn shifted_clock(offset: Arc<AtomicI64>) -> weijian_service::pipeline::Clock {
    Arc::new(move || {
        let now = weijian_service::pipeline::wall_clock()();
        alerting::model::Timestamp(now.0 + offset.load(Ordering::Relaxed))
    })
}

/// Publishes one free-chlorine reading per minute of event time for `minutes` (relative to
/// `start` ms), `low` ones at 0.20 mg/L (below the 0.3 outlet residual, GB 5749-2022).
async fn chlorine(
    publisher: &mut Publisher,
    device: &str,
    start: i64,
    minutes: std::ops::Range<i64>,
    low: impl Fn(i64) -> bool,
) -> anyhow::Result<()> {
    for minute in minutes {
        let value = if low(minute) { 0.20 } else { 0.55 };
        // A little noise: a sensor repeating one value for an hour is "stuck" (G2).
        let wobble = ((minute * 37) % 11) as f64 / 1000.0;
        let ts = start + minute * 60_000;
        publisher
            .publish(
                &format!("weijian/v1/s{}/{device}/telemetry", &device[1..]),
                format!(
                    r#"{{"ts":{ts},"values":{{"free_chlorine_mg_l":{},"turbidity_ntu":{},"ph":{}}}}}"#,
                    value + wobble,
                    0.3 + wobble,
                    7.2 + wobble
                ),
            )
            .await?;
    }
    publisher.flushed(Duration::from_secs(30)).await
}

fn kinds(notices: &[weijian_tests::receiver::Received]) -> Vec<String> {
    notices
        .iter()
        .map(|n| n.body["kind"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w2_reaches_the_community_escalates_to_the_street_stops_on_ack_and_resolves_for_everyone(
) -> anyhow::Result<()> {
    let env = Env::new()?;
    let hooks = Receiver::start().await?;
    let timing = "ack_deadline_mins = { I = 1, II = 1, III = 1, IV = 1 }\n\
                  repeat_mins = { I = 0, II = 0, III = 0, IV = 0 }\ngroup_window_secs = 0";
    let text = config_with_delivery(
        &env,
        &registry(0),
        &supervisors_toml(&hooks, timing),
        // Recovery readings are published ahead of the wall clock.
        "[limits]\nmax_future_secs = 3600\n",
    )?;
    let config =
        weijian_ingest::config::Config::parse(&text, "test", &weijian_ingest::config::ProcessEnv)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let offset = Arc::new(AtomicI64::new(0));
    let (running, _shutdown) = env
        .start_with_clock(config, shifted_clock(offset.clone()))
        .await?;
    let api = ApiClient::new(running.http_addr);

    // 40 minutes of event time ending now: 5 normal, then 35 below the residual.
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gw-s0");
    let start = chrono::Utc::now().timestamp_millis() - 40 * 60_000;
    chlorine(&mut publisher, "d0", start, 0..40, |m| m >= 5).await?;

    // 1. The community supervisor of s0 hears of it, nobody else yet.
    let c0 = hooks.wait_for("c0", 1, Duration::from_secs(30)).await?;
    assert_eq!(kinds(&c0), ["new"]);
    let alert_id = c0[0].body["alerts"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(alert_id.starts_with("W2/s0/d0/"), "{alert_id}");
    assert_eq!(c0[0].body["level"], 2, "{:?}", c0[0].body);
    assert_eq!(c0[0].body["tier"], "community");
    assert!(c0[0].idempotency_key.is_some());
    assert!(hooks.received("st").is_empty() && hooks.received("c1").is_empty());

    // 2. Unacknowledged past its deadline (1 minute here) it reaches the street.
    offset.store(70_000_000, Ordering::Relaxed);
    let st = hooks.wait_for("st", 1, Duration::from_secs(20)).await?;
    assert_eq!(kinds(&st), ["escalated"]);
    assert_eq!(st[0].body["tier"], "street");

    // 3. Another community's supervisor can neither see nor acknowledge it; a bad token is
    //    refused. (Audited, checked below: the writes each, refusals once per address and
    //    interval, so the 401 from the same address as the 403 is counted, not a row yet.)
    let path = format!("/api/v1/alerts/{}", encode_segment(&alert_id));
    let (status, body) = api.get(&path, &token("sq-c1"))?;
    assert_eq!(status, 403, "{body}");
    let (status, body) = api.post(
        &format!("{path}/ack"),
        &token("sq-c1"),
        &serde_json::json!({"note": "不是我的"}),
    )?;
    assert_eq!(status, 403, "{body}");
    let (status, _) = api.get("/api/v1/alerts", "not-a-token")?;
    assert_eq!(status, 401);
    assert_eq!(
        weijian_tests::harness::metric(&running, "weijian_api_refusals_unaudited_total"),
        1.0
    );

    // 4. The community supervisor acknowledges: everyone told is told, escalation stops.
    let (status, body) = api.post(
        &format!("{path}/ack"),
        &token("sq-c0"),
        &serde_json::json!({"note": "已派人到场"}),
    )?;
    assert_eq!(status, 200, "{body}");
    hooks.wait_for("c0", 2, Duration::from_secs(20)).await?;
    hooks.wait_for("st", 2, Duration::from_secs(20)).await?;
    offset.store(200_000_000, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        hooks.received("d").is_empty(),
        "acknowledged: no escalation to the district"
    );
    assert_eq!(kinds(&hooks.received("st")), ["escalated", "acknowledged"]);

    // 5. The chlorine recovers (10 minutes back in range): the resolution reaches both.
    chlorine(&mut publisher, "d0", start, 40..56, |_| false).await?;
    let c0 = hooks.wait_for("c0", 3, Duration::from_secs(30)).await?;
    let st = hooks.wait_for("st", 3, Duration::from_secs(30)).await?;
    assert_eq!(kinds(&c0), ["new", "acknowledged", "resolved"]);
    assert_eq!(kinds(&st), ["escalated", "acknowledged", "resolved"]);
    assert!(hooks.received("c1").is_empty() && hooks.received("d").is_empty());

    // The alert's history through the API.
    let (status, alert) = api.get(&path, &token("sq-c0"))?;
    assert_eq!(status, 200, "{alert}");
    let changes: Vec<&str> = alert["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["change"].as_str()).collect())
        .unwrap_or_default();
    for expected in ["firing", "escalated", "acknowledged", "resolved"] {
        assert!(changes.contains(&expected), "{expected} in {changes:?}");
    }

    // QuestDB: the lifecycle and the audit trail.
    let actions = env.table("alert_actions");
    env.store
        .wait_for_count_async(&actions, 2, Duration::from_secs(20))
        .await?;
    let rows = env
        .store
        .rows(&actions, &["alert_id", "action", "actor", "tier"])?;
    let acted: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r[1].as_str().unwrap_or_default().to_owned(),
                r[2].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        acted,
        [
            ("escalated".to_owned(), "system".to_owned()),
            ("acknowledged".to_owned(), "sq-c0".to_owned())
        ],
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r[0] == Value::Symbol(alert_id.clone())));
    let audit = env.table("audit");
    env.store
        .wait_for_count_async(&audit, 3, Duration::from_secs(20))
        .await?;
    let rows = env
        .store
        .rows(&audit, &["supervisor", "action", "status", "outcome"])?;
    let trail: Vec<(String, String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap_or_default().to_owned(),
                r[1].as_str().unwrap_or_default().to_owned(),
                r[2].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            ("sq-c1".to_owned(), "denied".to_owned(), 403),
            ("sq-c1".to_owned(), "acknowledge".to_owned(), 403),
            ("sq-c0".to_owned(), "acknowledge".to_owned(), 200),
        ],
        "{rows:?}"
    );
    running.stop().await;
    Ok(())
}
