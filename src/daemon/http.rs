//! The daemon's HTTP endpoint (axum), bound to 127.0.0.1 by default:
//!
//! * `GET /healthz`: the process is alive (never needs the token),
//! * `GET /readyz`: a run has finished and the store is writable,
//! * `GET /report.json`: the last complete report, byte for byte,
//! * `GET /metrics`: Prometheus text, computed from that report,
//! * `GET /`: the dashboard for people,
//! * `GET /objects/<sha256>`: an archived object, with its sniffed type,
//!   `X-Content-Type-Options: nosniff` and a sandboxing CSP.
//!
//! With `daemon.token` set, everything but `/healthz` needs
//! `Authorization: Bearer <token>`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{dashboard, Shared};
use crate::check::sniff::{sniff, SNIFF_LEN};
use crate::store::objects::relative_object_path;

/// What the handlers need: the last run, where the store is, the token.
#[derive(Clone)]
pub struct AppState {
    pub shared: Arc<Shared>,
    pub store: PathBuf,
    pub token: Option<String>,
}

/// The daemon's routes.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/readyz", get(readyz))
        .route("/report.json", get(report))
        .route("/metrics", get(metrics))
        .route("/", get(index))
        .route("/objects/{sha256}", get(object))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(protected)
        .with_state(state)
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Constant-time comparison (`subtle`) so timing says nothing of the
        // token. Both sides are hashed first: `ct_eq` on slices returns
        // early on a length mismatch, and fixed-size digests keep the
        // token's length out of the timing too.
        let ok = given.is_some_and(|g| {
            use sha2::{Digest, Sha256};
            use subtle::ConstantTimeEq;
            let (g, t) = (
                Sha256::digest(g.as_bytes()),
                Sha256::digest(token.as_bytes()),
            );
            bool::from(g.as_slice().ct_eq(t.as_slice()))
        });
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "token required\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.shared.last().is_none() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no run has finished yet\n").into_response();
    }
    let probe = tempfile::tempfile_in(state.store.join("tmp"));
    match probe {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not writable: {e}\n"),
        )
            .into_response(),
    }
}

async fn report(State(state): State<AppState>) -> Response {
    match state.shared.last() {
        Some(run) => (
            [(header::CONTENT_TYPE, "application/json")],
            run.report.clone(),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "no run has finished yet\n").into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state
        .shared
        .last()
        .map(|r| r.metrics.clone())
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn index(State(state): State<AppState>) -> Html<String> {
    Html(dashboard::render(state.shared.last().as_deref()))
}

async fn object(State(state): State<AppState>, Path(sha256): Path<String>) -> Response {
    // Only a digest can name a file: no path is built from the request.
    let Some(relative) = relative_object_path(&sha256) else {
        return (StatusCode::BAD_REQUEST, "not a sha256 digest\n").into_response();
    };
    let path = state.store.join(relative);
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::NOT_FOUND, "no such object\n").into_response(),
    };
    let kind = sniff(&bytes[..bytes.len().min(SNIFF_LEN)]);
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.as_str()),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}
