//! A webhook receiver for `weijian bench`: the supervisor's end of alert delivery. It records,
//! for each probe device, when the first notice naming one of its G3 alerts arrived, so the
//! bench can report publish -> notice received (through the rule engine, delivery, the durable
//! outbox and an HTTP POST).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

use super::BenchError;

/// Probe send times by device, and the latencies measured.
#[derive(Debug, Default)]
struct Inner {
    sent_at: HashMap<String, Instant>,
    samples: Vec<(Instant, Duration)>,
}

/// The receiver; stops when dropped.
#[derive(Debug)]
pub struct WebhookSink {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn take(State(inner): State<Arc<Mutex<Inner>>>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let Ok(notice) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if notice["kind"] != "new" {
        return StatusCode::OK;
    }
    let ids = notice["alerts"].as_array().cloned().unwrap_or_default();
    if let Ok(mut st) = inner.lock() {
        for id in ids.iter().filter_map(|v| v.as_str()) {
            // `G3/{site}/{device}/{subject}/{started}`
            let mut parts = id.split('/');
            if parts.next() != Some("G3") {
                continue;
            }
            let Some(device) = parts.nth(1) else { continue };
            if let Some(sent) = st.sent_at.remove(device) {
                st.samples.push((sent, at - sent));
            }
        }
    }
    StatusCode::OK
}

impl WebhookSink {
    /// Listens on a free local port.
    ///
    /// # Errors
    /// No port could be bound.
    pub async fn start() -> Result<WebhookSink, BenchError> {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/notices", post(take))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(WebhookSink { addr, inner, task })
    }

    /// The webhook URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}/notices", self.addr)
    }

    /// Notes that a probe for `device` was published now.
    pub fn probe_sent(&self, device: &str, at: Instant) {
        if let Ok(mut st) = self.inner.lock() {
            st.sent_at.insert(device.to_owned(), at);
        }
    }

    /// Probes whose notice has not arrived yet.
    pub fn outstanding(&self) -> usize {
        self.inner.lock().map(|s| s.sent_at.len()).unwrap_or(0)
    }

    /// (probe send time, publish -> notice received) for every notice seen.
    pub fn samples(&self) -> Vec<(Instant, Duration)> {
        self.inner
            .lock()
            .map(|s| s.samples.clone())
            .unwrap_or_default()
    }
}

/// The supervisors file for the bench: one city-tier supervisor (sees every site) with a
/// webhook to `url`, and no grouping window, so each alert is its own notice at once (with the
/// default 60 s window the notice would wait for the window by design).
pub fn supervisors_toml(url: &str) -> String {
    format!(
        "[delivery]\ngroup_window_secs = 0\n\n[[supervisors]]\nid = \"bench-city\"\n\
         name = \"bench duty desk\"\ncell = {{}}\n\
         token_sha256 = \"{}\"\nchannels = [{{ kind = \"webhook\", target = \"{url}\" }}]\n",
        weijian_service::supervision::desk::token_sha256("bench")
    )
}
