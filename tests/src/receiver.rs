//! A local webhook receiver for delivery tests: records every POST (path, `Idempotency-Key`,
//! JSON body) and can be switched to answer 503 (a channel that is down).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

/// One request the receiver accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub idempotency_key: Option<String>,
    pub body: serde_json::Value,
}

#[derive(Debug, Default)]
struct Inner {
    accepted: Vec<Received>,
    failing: bool,
    refused: usize,
}

/// The receiver; stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn take(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut st = inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if st.failing {
        st.refused += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let Ok(body) = serde_json::from_slice(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    st.accepted.push(Received {
        path,
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    });
    StatusCode::OK
}

impl Receiver {
    /// Starts on a free local port.
    ///
    /// # Errors
    /// No port could be bound.
    pub async fn start() -> anyhow::Result<Receiver> {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/{*path}", post(take))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Receiver { addr, inner, task })
    }

    /// The URL of `path` (without a leading slash) on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Answer 503 to everything (`true`) or accept again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.lock().failing = failing;
    }

    /// How many requests were refused while failing.
    pub fn refused(&self) -> usize {
        self.lock().refused
    }

    /// Everything accepted on `path`, in arrival order.
    pub fn received(&self, path: &str) -> Vec<Received> {
        self.lock()
            .accepted
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` has accepted at least `n` requests.
    ///
    /// # Errors
    /// Fewer after `timeout` (the error lists what arrived).
    pub async fn wait_for(
        &self,
        path: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Received>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.received(path);
            if got.len() >= n {
                return Ok(got);
            }
            if tokio::time::Instant::now() >= deadline {
                let kinds: Vec<String> = got
                    .iter()
                    .map(|r| r.body["kind"].as_str().unwrap_or("?").to_owned())
                    .collect();
                anyhow::bail!(
                    "{path}: {} of {n} notices after {timeout:?}: {kinds:?}",
                    got.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
