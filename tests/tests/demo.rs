//! The README's first command must keep working: `weijian demo` runs an embedded broker, the
//! simulated fleet and the pipeline, prints alerts and a status line, and writes to QuestDB when
//! one is reachable (here the in-process double: the demo writes unprefixed tables, so it is
//! not pointed at a shared real QuestDB).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use weijian_tests::questdb_double::QuestDbDouble;
use weijian_tools::demo::{run, DemoOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_the_fleet_through_the_pipeline_into_questdb() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    let options = DemoOptions {
        questdb: db.conf_string(),
        http_listen: "127.0.0.1:0".into(),
        backfill_hours: 3,
        speedup: 900.0,
        duration: Some(Duration::from_secs(16)),
        ..DemoOptions::default()
    };
    let mut out: Vec<u8> = Vec::new();
    let summary = run(options, CancellationToken::new(), &mut out).await?;
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("embedded MQTT broker"), "{text}");
    assert!(text.contains("QuestDB at http://"), "{text}");
    assert!(summary.published_messages > 100, "{summary:?}");
    assert!(summary.readings > 500, "{summary:?}");
    assert!(summary.questdb_up, "{summary:?}\n{text}");
    // Not `events`: bags, handovers and sterilization cycles follow working hours in China
    // Standard Time, so a night-time run may have none.
    for table in [
        "water_quality",
        "waste_store_env",
        "autoclave_telemetry",
        "device_status",
    ] {
        assert!(db.count(table) > 0, "no rows in {table}");
    }
    assert!(
        db.unexpected_columns().is_empty(),
        "{:?}",
        db.unexpected_columns()
    );
    assert!(
        db.rejected_requests().is_empty(),
        "{:?}",
        db.rejected_requests()
    );
    // Three simulated hours of the demo scenario raise alerts, printed Chinese first.
    assert!(summary.alerts_fired > 0, "{summary:?}\n{text}");
    assert!(text.contains("新预警 FIRING"), "{text}");
    assert!(db.count("alerts") > 0);
    // The demo's supervisors hear about them on their MQTT channels.
    assert!(summary.notices > 0, "{summary:?}\n{text}");
    assert!(text.contains("→ 通知 NOTICE new"), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_without_questdb_and_says_storage_is_unavailable() -> anyhow::Result<()> {
    let options = DemoOptions {
        // Nothing listens on port 1.
        questdb: "http::addr=127.0.0.1:1;".into(),
        http_listen: "127.0.0.1:0".into(),
        backfill_hours: 1,
        speedup: 600.0,
        duration: Some(Duration::from_secs(6)),
        ..DemoOptions::default()
    };
    let mut out: Vec<u8> = Vec::new();
    let summary = run(options, CancellationToken::new(), &mut out).await?;
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("storage is UNAVAILABLE"), "{text}");
    assert!(summary.readings > 0, "{summary:?}");
    assert!(!summary.questdb_up);
    Ok(())
}

/// The demo's output, shared with the test while the demo runs.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().map(|b| b.clone()).unwrap_or_default()).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_the_console_and_its_sign_ins_and_its_alerts_show_there(
) -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    let options = DemoOptions {
        questdb: db.conf_string(),
        http_listen: "127.0.0.1:0".into(),
        backfill_hours: 3,
        speedup: 900.0,
        duration: Some(Duration::from_secs(40)),
        ..DemoOptions::default()
    };
    let out = Shared::default();
    let mut writer = out.clone();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let demo = tokio::spawn(async move { run(options, stop, &mut writer).await });
    // The address and the sign-ins are printed once the service listens.
    let mut base = None;
    for _ in 0..200 {
        let text = out.text();
        if let Some(at) = text.find("console is on http://") {
            let rest = &text[at + "console is on ".len()..];
            base = rest.split('/').take(3).collect::<Vec<_>>().join("/").into();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let base = base.unwrap_or_else(|| panic!("no console address printed: {}", out.text()));
    let text = out.text();
    for token in ["demo-sq-shuichang", "demo-jd-binjiang", "demo-qu-linjiang"] {
        assert!(text.contains(token), "sign-in {token} not printed: {text}");
    }
    // A district supervisor signed in with the printed token sees the alerts as they fire.
    let b = base.clone();
    let seen = tokio::task::spawn_blocking(move || -> anyhow::Result<(String, String)> {
        let console =
            weijian_tests::console_client::ConsoleClient::sign_in(&b, "demo-qu-linjiang")?;
        for _ in 0..300 {
            let (status, page) = console.get("/alerts?state=all")?;
            anyhow::ensure!(status == 200, "HTTP {status}: {page}");
            if let Some(at) = page.find("href=\"/alerts/") {
                let link = page[at + 6..].split('"').next().unwrap_or("").to_owned();
                let (status, alert) = console.get(&link)?;
                anyhow::ensure!(status == 200, "HTTP {status} for {link}: {alert}");
                return Ok((page, alert));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        anyhow::bail!("no alert appeared in the console")
    })
    .await??;
    let (list, alert) = seen;
    assert!(list.contains("条预警"), "{list}");
    assert!(alert.contains("经过") && alert.contains("依据"), "{alert}");
    shutdown.cancel();
    demo.await??;
    Ok(())
}
