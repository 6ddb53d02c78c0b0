//! The operators' HTTP endpoints: `/metrics` (Prometheus text), `/healthz` (the process is
//! alive), `/readyz` (it can do its job: broker connected, spool not full; QuestDB being down
//! does not make it unready, because the spool absorbs the outage).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus::Registry;
use tokio_util::sync::CancellationToken;

/// What readiness depends on; implemented by the running pipeline.
pub trait Readiness: Send + Sync + 'static {
    /// `Ok` when ready, else the reasons it is not.
    fn readiness(&self) -> Result<(), Vec<String>>;
}

#[derive(Clone)]
struct AppState {
    registry: Registry,
    readiness: Arc<dyn Readiness>,
}

/// The router (separate from serving, for tests).
pub fn router(registry: Registry, readiness: Arc<dyn Readiness>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(AppState {
            registry,
            readiness,
        })
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        weijian_ingest::telemetry::metrics::render(&state.registry),
    )
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.readiness.readiness() {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", reasons.join("; ")),
        ),
    }
}

/// Binds `listen` and serves until `shutdown` is cancelled, with each request's remote
/// address available as `ConnectInfo<SocketAddr>`.
///
/// # Errors
/// The address cannot be bound.
pub async fn serve(
    listen: &str,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let handle = tokio::spawn(async move {
        // Connect info: handlers (the alert API's audit rows) read the client's address.
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = result {
            tracing::error!(%error, "HTTP server stopped with an error.");
        }
    });
    Ok((addr, handle))
}
