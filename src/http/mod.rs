//! The HTTP layer: a thin axum router. Handlers extract, call the store or a desk, and map
//! errors; no hearing logic lives here. `ws` serves the signaling protocol.

mod api;
mod citizen;
mod elsewhere;
mod error;
pub mod limits;
pub(crate) mod media;
pub mod openapi;
mod pages;
mod remote;
mod route;
mod staff;
pub mod translate;
mod wallboard;
mod ws;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::app::{metrics_handle, App};

pub use error::ApiError;

/// Frames above this are refused by the WebSocket layer itself; messages between the
/// protocol limit and this get a typed `too_large` reply instead.
const WS_FRAME_LIMIT: usize = 1024 * 1024;
/// The WebSocket read buffer each connection starts with.
const WS_BUFFER: usize = 4 * 1024;

pub const SESSION_COOKIE: &str = "sunwai_session";

pub fn router(app: App) -> Router {
    let forecasts = wallboard::ForecastCache::new(app.config().desks.iter().map(|d| &d.id));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/ws", get(ws_upgrade))
        .route("/api/desks", get(api::desks))
        .route("/api/catalog", get(api::catalog))
        .route("/api/desks/{desk}/complaints", post(api::written_complaint))
        .route("/api/desks/{desk}/today", get(wallboard::today))
        .route("/api/desks/{desk}/forecast", get(wallboard::forecast))
        .route("/api/status", post(api::status_lookup))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/me", get(api::me))
        .route("/api/records", get(api::records))
        .route("/api/records.csv", get(api::records_csv))
        .route("/api/records/{reference}", get(api::record))
        .route("/api/records/{reference}/status", post(api::set_status))
        .merge(pages::router())
        .route("/api/audit", get(api::audit_log))
        .route("/api/media", get(api::media_stats))
        .route("/api/openapi.json", get(openapi::serve))
        .layer(Extension(forecasts))
        .with_state(app)
}

async fn readyz(State(app): State<App>) -> Response {
    if app.is_ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn metrics(State(_app): State<App>) -> Response {
    let body = metrics_handle().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

async fn ws_upgrade(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !limits::origin_allowed(origin, app.origins()) {
        // A page on another site must not drive a citizen's or officer's session.
        return ApiError::Forbidden.into_response();
    }
    let cookie = session_cookie(&headers);
    let ip = limits::client_ip(peer, &headers, app.config());
    let relayed = headers.contains_key(crate::cluster::relay::RELAYED_HEADER);
    // Signaling messages are small: the library's default 128 KiB read buffer, allocated
    // for every connection, was most of a waiting citizen's memory (docs/benchmarks.md).
    // Both buffers still grow for a larger message.
    ws.max_message_size(WS_FRAME_LIMIT)
        .max_frame_size(WS_FRAME_LIMIT)
        .read_buffer_size(WS_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| ws::run(app, socket, cookie, ip, relayed))
}
