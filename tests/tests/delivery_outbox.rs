//! The notice outbox end to end: a webhook that is down for a while gets every notice, in
//! order, when it returns, even across a restart of weijian; and a burst (ten devices of one
//! site going offline together) is one notice per recipient, not ten.

use std::time::Duration;

use weijian_tests::grid::{config_with_delivery, registry, supervisors_toml};
use weijian_tests::harness::{Env, Publisher};
use weijian_tests::receiver::{Received, Receiver};

fn kinds(notices: &[Received]) -> Vec<String> {
    notices
        .iter()
        .map(|n| n.body["kind"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn parse(text: &str) -> anyhow::Result<weijian_ingest::config::Config> {
    weijian_ingest::config::Config::parse(text, "test", &weijian_ingest::config::ProcessEnv)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_down_across_a_restart_gets_every_notice_in_order_when_it_returns(
) -> anyhow::Result<()> {
    let env = Env::new()?;
    let hooks = Receiver::start().await?;
    hooks.set_failing(true);
    let text = config_with_delivery(
        &env,
        &registry(0),
        &supervisors_toml(&hooks, "group_window_secs = 0"),
        "",
    )?;

    // W2 at s0 fires and resolves while the community's webhook answers 503.
    let (running, _shutdown) = env.start(parse(&text)?).await?;
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gw-s0");
    let start = chrono::Utc::now().timestamp_millis() - 60 * 60_000;
    for minute in 0..60i64 {
        let low = (5..35).contains(&minute);
        let value = if low { 0.20 } else { 0.55 } + ((minute * 37) % 11) as f64 / 1000.0;
        publisher
            .publish(
                "weijian/v1/s0/d0/telemetry",
                format!(
                    r#"{{"ts":{},"values":{{"free_chlorine_mg_l":{value},"turbidity_ntu":0.3,"ph":7.2}}}}"#,
                    start + minute * 60_000
                ),
            )
            .await?;
    }
    publisher.flushed(Duration::from_secs(30)).await?;
    env.store
        .wait_for_count_async(&env.table("alerts"), 3, Duration::from_secs(30))
        .await?;
    // Both notices are in the outbox and the first has been refused (and retried).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while hooks.refused() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(hooks.refused() >= 2, "the webhook was tried and refused");
    running.stop().await;
    assert!(hooks.received("c0").is_empty());

    // weijian restarts while the webhook is still down, then the webhook comes back.
    let (running, _shutdown) = env.start(parse(&text)?).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    hooks.set_failing(false);
    let got = hooks.wait_for("c0", 2, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_now = hooks.received("c0");
    assert_eq!(
        kinds(&got_now),
        ["new", "resolved"],
        "every notice once, in order: {:?}",
        got.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    assert_eq!(got_now[0].body["alerts"], got_now[1].body["alerts"]);
    let keys: Vec<_> = got_now.iter().map(|r| r.idempotency_key.clone()).collect();
    assert!(keys[0].is_some() && keys[0] != keys[1], "{keys:?}");
    assert!(hooks.received("c1").is_empty() && hooks.received("st").is_empty());
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_devices_of_one_site_going_offline_together_are_one_notice_per_recipient(
) -> anyhow::Result<()> {
    let env = Env::new()?;
    let hooks = Receiver::start().await?;
    // A second supervisor of community c0, on their own webhook.
    let mut supervisors = supervisors_toml(&hooks, "group_window_secs = 5");
    supervisors.push_str(&format!(
        "[[supervisors]]\nid = \"sq-c0-deputy\"\nname = \"副职\"\n\
         cell = {{ district = \"d\", street = \"st\", community = \"c0\" }}\n\
         token_sha256 = \"{}\"\nchannels = [{{ kind = \"webhook\", target = \"{}\" }}]\n",
        weijian_service::supervision::desk::token_sha256("token-deputy"),
        hooks.url("c0-deputy")
    ));
    // Liveness follows when weijian hears from a device, so going offline takes silence: the
    // ten monitors report every second and this test's pack drops G1's 15-minute minimum
    // (offline after 3 x 1 s of silence).
    let pack = env.spool_dir.path().join("rules.toml");
    let g1_min = r#"min_mins = { value = 15, default = true, note = "never less than 15 min" }"#;
    assert!(alerting::rule::DEFAULT_PACK_TOML.contains(g1_min));
    std::fs::write(
        &pack,
        alerting::rule::DEFAULT_PACK_TOML.replacen(
            g1_min,
            r#"min_mins = { value = 0, default = true }"#,
            1,
        ),
    )?;
    let mut devices = registry(0);
    for i in 0..10 {
        devices.push_str(&format!(
            "[[devices]]\nid = \"x{i}\"\nsite = \"s0\"\nkind = \"water_monitor\"\nexpected_interval_secs = 1\n\n"
        ));
    }
    let text = config_with_delivery(&env, &devices, &supervisors, "")?.replacen(
        "[alerts]\n",
        &format!("[alerts]\nrules_file = {:?}\n", pack.display().to_string()),
        1,
    );
    let (running, _shutdown) = env.start(parse(&text)?).await?;

    // Each of the ten monitors reports once, then falls silent together.
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gw-s0");
    let ts = chrono::Utc::now().timestamp_millis();
    for i in 0..10 {
        publisher
            .publish(
                &format!("weijian/v1/s0/x{i}/telemetry"),
                format!(r#"{{"ts":{ts},"values":{{"free_chlorine_mg_l":0.55,"turbidity_ntu":0.3,"ph":7.2}}}}"#),
            )
            .await?;
    }
    publisher.flushed(Duration::from_secs(30)).await?;

    let main = hooks.wait_for("c0", 1, Duration::from_secs(30)).await?;
    let deputy = hooks
        .wait_for("c0-deputy", 1, Duration::from_secs(30))
        .await?;
    // Nothing more follows for this burst.
    tokio::time::sleep(Duration::from_secs(7)).await;
    for (who, first) in [("c0", &main[0]), ("c0-deputy", &deputy[0])] {
        let all = hooks.received(who);
        assert_eq!(all.len(), 1, "{who}: one notice, got {:?}", kinds(&all));
        let alerts = first.body["alerts"].as_array().cloned().unwrap_or_default();
        assert_eq!(alerts.len(), 10, "{who}: {:?}", first.body);
        assert!(alerts
            .iter()
            .all(|a| a.as_str().is_some_and(|a| a.starts_with("G1/s0/x"))));
        assert_eq!(first.body["kind"], "new");
    }
    assert!(hooks.received("c1").is_empty() && hooks.received("st").is_empty());
    running.stop().await;
    Ok(())
}
