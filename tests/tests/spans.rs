//! Tracing spans an operator can follow: a drain batch (`drain_batch`) and a notice delivery
//! (`notice_delivery`) each have one, so every log line inside them names the batch or the
//! notice. One test per file: it installs the process-wide subscriber.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;
use weijian_tests::grid::{config_with_delivery, registry, supervisors_toml};
use weijian_tests::harness::{Env, Publisher};
use weijian_tests::receiver::Receiver;

/// Records the name and fields of every span opened.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Vec::new();
        attrs.record(
            &mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                fields.push(format!("{}={value:?}", field.name()));
            },
        );
        if let Ok(mut spans) = self.0.lock() {
            spans.push(format!("{} {}", attrs.metadata().name(), fields.join(" ")));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_batch_and_a_notice_delivery_each_have_a_span() -> anyhow::Result<()> {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(spans.clone());
    tracing::subscriber::set_global_default(subscriber)?;

    let env = Env::new()?;
    let hooks = Receiver::start().await?;
    let text = config_with_delivery(
        &env,
        &registry(0),
        &supervisors_toml(&hooks, "group_window_secs = 0"),
        "",
    )?;
    let config =
        weijian_ingest::config::Config::parse(&text, "test", &weijian_ingest::config::ProcessEnv)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (running, _shutdown) = env.start(config).await?;
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gw-s0");
    // 30 minutes of free chlorine below the outlet residual (GB 5749-2022): W2 fires.
    let start = chrono::Utc::now().timestamp_millis() - 30 * 60_000;
    for minute in 0..30 {
        let wobble = ((minute * 37) % 11) as f64 / 1000.0;
        publisher
            .publish(
                "weijian/v1/s0/d0/telemetry",
                format!(
                    r#"{{"ts":{},"values":{{"free_chlorine_mg_l":{}}}}}"#,
                    start + minute * 60_000,
                    0.2 + wobble
                ),
            )
            .await?;
    }
    publisher.flushed(Duration::from_secs(30)).await?;
    hooks.wait_for("c0", 1, Duration::from_secs(30)).await?;
    running.stop().await;

    let spans = spans.0.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(
        spans.iter().any(|s| s.starts_with("drain_batch records=")),
        "{spans:?}"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.starts_with("notice_delivery notice=") && s.contains("channel=\"webhook\"")),
        "{spans:?}"
    );
    Ok(())
}
