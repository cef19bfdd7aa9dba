//! The browser app: four pages (citizen, status check, officer, supervisor) and their
//! assets, embedded in the binary from `web/` (debug builds read the same files from disk).
//!
//! Every response carries a strict Content-Security-Policy (no inline scripts or styles),
//! `nosniff` and `no-referrer`. Files are revalidated on each use (`no-cache` with a strong
//! `ETag` from the file's hash): one small conditional request instead of stale scripts
//! after an upgrade, and a 304 without a body on a slow network.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

use crate::app::App;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
     media-src 'self' blob:; connect-src 'self'; script-src 'self'; style-src 'self'; \
     frame-ancestors 'none'";

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/",
            get(|h: HeaderMap| async move { file("index.html", &h) }),
        )
        .route("/d/{desk}", get(desk_page))
        .route(
            "/status",
            get(|h: HeaderMap| async move { file("status.html", &h) }),
        )
        .route(
            "/officer",
            get(|h: HeaderMap| async move { file("officer.html", &h) }),
        )
        .route(
            "/supervisor",
            get(|h: HeaderMap| async move { file("supervisor.html", &h) }),
        )
        .route("/assets/{*path}", get(asset))
}

/// A desk's link. An unknown desk still gets the page (it says the link is not valid, in
/// the reader's language) but with a 404 status.
async fn desk_page(State(app): State<App>, Path(desk): Path<String>, h: HeaderMap) -> Response {
    let mut r = file("index.html", &h);
    if app.desk_config(&desk).is_none() && r.status() == StatusCode::OK {
        *r.status_mut() = StatusCode::NOT_FOUND;
    }
    r
}

async fn asset(Path(path): Path<String>, h: HeaderMap) -> Response {
    // Only plain relative paths; nothing that could step outside `web/`.
    let plain = !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if !plain {
        return not_found();
    }
    file(&path, &h)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn not_found() -> Response {
    let mut r = (StatusCode::NOT_FOUND, "not found").into_response();
    security_headers(r.headers_mut());
    r
}

fn file(path: &str, req: &HeaderMap) -> Response {
    let Some(f) = Assets::get(path) else {
        return not_found();
    };
    let hash = f.metadata.sha256_hash();
    let etag = format!(
        "\"{}\"",
        hash[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let fresh = req
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim() == etag || v.trim() == "*");
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, content_type(path))],
            f.data.into_owned(),
        )
            .into_response()
    };
    let h = r.headers_mut();
    security_headers(h);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    r
}
