//! The probe and metrics endpoints: `/healthz` (the process serves), `/readyz` (caches
//! synced, or standing by for the lease) and `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// Readiness shared between the controller and the probe handler.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
}

impl Health {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    health: Arc<Health>,
}

pub fn router(metrics: Metrics, health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { metrics, health })
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.health.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced")
    }
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    match state.metrics.render() {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// Binds `addr` and serves until `shutdown` resolves. Returns the bound address (useful
/// with port 0) and the serving task.
pub async fn spawn(
    addr: SocketAddr,
    metrics: Metrics,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router(metrics, health);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn get_text(addr: SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    async fn endpoints_answer_over_http() {
        let metrics = Metrics::new().unwrap();
        metrics.set_leader(true);
        let health = Arc::new(Health::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr, task) = spawn(
            "127.0.0.1:0".parse().unwrap(),
            metrics,
            health.clone(),
            async move {
                let _ = stop_rx.await;
            },
        )
        .await
        .unwrap();
        let timeout = std::time::Duration::from_secs(10);

        let health_resp = tokio::time::timeout(timeout, get_text(addr, "/healthz"))
            .await
            .unwrap();
        assert!(health_resp.starts_with("HTTP/1.1 200"), "{health_resp}");
        let not_ready = tokio::time::timeout(timeout, get_text(addr, "/readyz"))
            .await
            .unwrap();
        assert!(not_ready.starts_with("HTTP/1.1 503"), "{not_ready}");
        health.set_ready(true);
        let ready = tokio::time::timeout(timeout, get_text(addr, "/readyz"))
            .await
            .unwrap();
        assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
        let metrics_resp = tokio::time::timeout(timeout, get_text(addr, "/metrics"))
            .await
            .unwrap();
        assert!(
            metrics_resp.contains("apilink_leader{controller=\"apisourcelink\"} 1"),
            "{metrics_resp}"
        );
        assert!(metrics_resp.contains("text/plain; version=0.0.4"));

        stop_tx.send(()).unwrap();
        tokio::time::timeout(timeout, task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}
