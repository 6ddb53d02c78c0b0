//! Reloading without a restart: SIGHUP with a changed supervisors file puts a new supervisor
//! in charge of their community at once. The alert that fires after the reload reaches them,
//! and every message published around the reload is processed (none lost). A broken file
//! sent with SIGHUP is refused and the running supervisors stay.
//!
//! SIGHUP with a registry that gains a site and its device: the device's messages, refused as
//! `unknown_device` before, are stored as readings and reach the rules and the supervisor of
//! the new site after it, and nothing published around the reload is lost.
//!
//! The SIGHUP goes to this whole test process: the tests take turns (`ONE_AT_A_TIME`).

use std::time::Duration;

use weijian_service::reload::on_sighup;
use weijian_tests::grid::{config_with_delivery, registry, token};
use weijian_tests::harness::{metric, wait_metric, Env, Publisher};
use weijian_tests::questdb_double::Value;
use weijian_tests::receiver::Receiver;

/// Supervisors `jd-st` (the street, covering both communities) and, with `with_c0`, `sq-c0`
/// (community c0), each with a webhook to `hooks` at a path named after the cell.
fn supervisors(hooks: &Receiver, with_c0: bool) -> String {
    let mut toml = String::from("[delivery]\ngroup_window_secs = 0\n\n");
    let mut cells = vec![("jd-st", "{ district = \"d\", street = \"st\" }", "st")];
    if with_c0 {
        cells.push((
            "sq-c0",
            "{ district = \"d\", street = \"st\", community = \"c0\" }",
            "c0",
        ));
    }
    for (id, cell, path) in cells {
        toml.push_str(&format!(
            "[[supervisors]]\nid = \"{id}\"\nname = \"{id}\"\ncell = {cell}\n\
             token_sha256 = \"{}\"\nchannels = [{{ kind = \"webhook\", target = \"{}\" }}]\n\n",
            weijian_service::supervision::desk::token_sha256(&token(id)),
            hooks.url(path),
        ));
    }
    toml
}

/// One free-chlorine reading per minute of event time at `topic`'s device (`s0/d0`: site s0,
/// community c0); `low` ones at 0.20 mg/L, below the 0.3 outlet residual of GB 5749-2022
/// (rule W2).
async fn chlorine(
    publisher: &mut Publisher,
    topic: &str,
    start: i64,
    minutes: std::ops::Range<i64>,
    low: bool,
) -> anyhow::Result<()> {
    for minute in minutes {
        let wobble = ((minute * 37) % 11) as f64 / 1000.0;
        let value = if low { 0.20 } else { 0.55 } + wobble;
        publisher
            .publish(
                &format!("weijian/v1/{topic}/telemetry"),
                format!(
                    r#"{{"ts":{},"values":{{"free_chlorine_mg_l":{value},"turbidity_ntu":{},"ph":{}}}}}"#,
                    start + minute * 60_000,
                    0.3 + wobble,
                    7.2 + wobble
                ),
            )
            .await?;
    }
    publisher.flushed(Duration::from_secs(30)).await
}

/// Held by each test while it runs, so one test's SIGHUP never reloads another's weijian.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// weijian started from a configuration file (grid of `registry(0)`, the street supervisor
/// only), with SIGHUP reloading that file.
struct Started {
    env: Env,
    hooks: Receiver,
    path: std::path::PathBuf,
    running: weijian_service::pipeline::Running,
}

async fn start() -> anyhow::Result<Started> {
    let env = Env::new()?;
    let hooks = Receiver::start().await?;
    let text = config_with_delivery(&env, &registry(0), &supervisors(&hooks, false), "")?;
    let path = env.spool_dir.path().join("weijian.toml");
    std::fs::write(&path, text)?;
    let config = weijian_ingest::config::Config::load(&path, &weijian_ingest::config::ProcessEnv)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (running, shutdown) = env.start(config).await?;
    on_sighup(running.reloader.clone(), path.clone(), shutdown);
    Ok(Started {
        env,
        hooks,
        path,
        running,
    })
}

fn sighup() -> anyhow::Result<()> {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill -HUP failed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_new_supervisor_routes_the_next_alert_to_them_without_losing_a_message(
) -> anyhow::Result<()> {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Started {
        env,
        hooks,
        running,
        ..
    } = start().await?;

    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gw-s0");
    let start = chrono::Utc::now().timestamp_millis() - 40 * 60_000;
    chlorine(&mut publisher, "s0/d0", start, 0..5, false).await?;

    // A broken supervisors file is refused; the street supervisor stays in charge.
    std::fs::write(
        env.spool_dir.path().join("supervisors.toml"),
        "[[supervisors]]\nid = \n",
    )?;
    sighup()?;
    wait_metric(
        &running,
        "weijian_config_reloads_total",
        1.0,
        Duration::from_secs(10),
    )
    .await?;
    assert_eq!(metric(&running, "weijian_config_reloads_total"), 1.0);

    // The community supervisor of c0 is added: applied at once, no restart.
    std::fs::write(
        env.spool_dir.path().join("supervisors.toml"),
        supervisors(&hooks, true),
    )?;
    sighup()?;
    wait_metric(
        &running,
        "weijian_config_reloads_total",
        2.0,
        Duration::from_secs(10),
    )
    .await?;
    let applied = running
        .registry
        .gather()
        .iter()
        .filter(|f| f.name() == "weijian_config_reloads_total")
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| m.get_label().iter().any(|l| l.value() == "applied"))
        .map(|m| m.get_counter().get_value())
        .sum::<f64>();
    assert_eq!(applied, 1.0, "one reload applied, one refused");

    // 35 minutes below the residual: W2 fires and goes to the new community supervisor.
    chlorine(&mut publisher, "s0/d0", start, 5..40, true).await?;
    let c0 = hooks.wait_for("c0", 1, Duration::from_secs(30)).await?;
    assert_eq!(c0[0].body["kind"], "new", "{:?}", c0[0].body);
    assert_eq!(c0[0].body["tier"], "community");
    assert!(
        hooks.received("st").is_empty(),
        "the street hears only on escalation"
    );
    // Every message published around the two reloads was taken and processed.
    assert_eq!(publisher.acked(), 40);
    wait_metric(
        &running,
        "weijian_processed_messages_total",
        40.0,
        Duration::from_secs(10),
    )
    .await?;
    assert_eq!(metric(&running, "weijian_processed_messages_total"), 40.0);
    assert_eq!(metric(&running, "weijian_accepted_readings_total"), 120.0);
    running.stop().await;
    Ok(())
}

/// The site s2 (community c2) with its water monitor d2.
const SITE_S2: &str = "[[sites]]\nid = \"s2\"\nname = \"水厂2\"\nkind = \"water\"\n\
     grid = { district = \"d\", street = \"st\", community = \"c2\" }\n\
     water = { point = \"outlet\", disinfectant = \"free_chlorine\" }\n\n\
     [[devices]]\nid = \"d2\"\nsite = \"s2\"\nkind = \"water_monitor\"\nexpected_interval_secs = 60\n\n";

/// The street supervisor `jd-st` and the community supervisor `sq-c2` of the new site's
/// community (a cell only the new registry has), webhooks at `st` and `c2`.
fn supervisors_with_c2(hooks: &Receiver) -> String {
    let mut toml = supervisors(hooks, false);
    toml.push_str(&format!(
        "[[supervisors]]\nid = \"sq-c2\"\nname = \"sq-c2\"\n\
         cell = {{ district = \"d\", street = \"st\", community = \"c2\" }}\n\
         token_sha256 = \"{}\"\nchannels = [{{ kind = \"webhook\", target = \"{}\" }}]\n\n",
        weijian_service::supervision::desk::token_sha256(&token("sq-c2")),
        hooks.url("c2"),
    ));
    toml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_new_device_in_the_registry_stores_and_alerts_on_it_without_losing_a_message(
) -> anyhow::Result<()> {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Started {
        env,
        hooks,
        path,
        running,
        ..
    } = start().await?;

    let mut d0 = Publisher::connect(env.broker.host(), env.broker.port(), "gw-s0");
    let mut d2 = Publisher::connect(env.broker.host(), env.broker.port(), "gw-s2");
    let start = chrono::Utc::now().timestamp_millis() - 60 * 60_000;
    // d2 is not registered yet: its messages are quarantined.
    chlorine(&mut d2, "s2/d2", start, 0..3, false).await?;
    let quarantine = env.table("quarantine");
    env.store
        .wait_for_count_async(&quarantine, 3, Duration::from_secs(20))
        .await?;
    let reasons = env.store.rows(&quarantine, &["reason"])?;
    assert!(
        reasons
            .iter()
            .all(|r| r[0] == Value::Symbol("unknown_device".into())),
        "{reasons:?}"
    );

    // The file gains s2 and d2, and a supervisor for s2's community (a cell that only the
    // new registry has). d0 keeps publishing while weijian reloads.
    std::fs::write(
        &path,
        config_with_delivery(
            &env,
            &format!("{}{SITE_S2}", registry(0)),
            &supervisors_with_c2(&hooks),
            "",
        )?,
    )?;
    chlorine(&mut d0, "s0/d0", start, 0..10, false).await?;
    let during = tokio::spawn(async move {
        chlorine(&mut d0, "s0/d0", start, 10..30, false)
            .await
            .map(|()| d0)
    });
    sighup()?;
    wait_metric(
        &running,
        "weijian_config_reloads_total",
        1.0,
        Duration::from_secs(10),
    )
    .await?;
    let d0 = during.await??;
    let applied = running
        .registry
        .gather()
        .iter()
        .filter(|f| f.name() == "weijian_config_reloads_total")
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| m.get_label().iter().any(|l| l.value() == "applied"))
        .map(|m| m.get_counter().get_value())
        .sum::<f64>();
    assert_eq!(applied, 1.0, "the reload with the new registry is applied");

    // d2's next messages are readings, and 35 minutes below the residual raise W2 for s2,
    // delivered to the new community supervisor.
    chlorine(&mut d2, "s2/d2", start, 20..55, true).await?;
    let c2 = hooks.wait_for("c2", 1, Duration::from_secs(30)).await?;
    assert_eq!(c2[0].body["kind"], "new", "{:?}", c2[0].body);
    let alert = c2[0].body["alerts"][0].as_str().unwrap_or_default();
    assert!(alert.starts_with("W2/s2/d2/"), "{alert}");

    // Nothing was lost or doubled: 30 + 35 readings stored, 3 quarantined, all acknowledged.
    assert_eq!(d0.acked(), 30);
    assert_eq!(d2.acked(), 38);
    let readings = env.table("water_quality");
    env.store
        .wait_for_count_async(&readings, 65, Duration::from_secs(20))
        .await?;
    wait_metric(
        &running,
        "weijian_processed_messages_total",
        68.0,
        Duration::from_secs(10),
    )
    .await?;
    assert_eq!(env.store.count(&readings)?, 65);
    assert_eq!(env.store.count(&quarantine)?, 3);
    assert_eq!(metric(&running, "weijian_accepted_readings_total"), 195.0);
    running.stop().await;
    Ok(())
}
