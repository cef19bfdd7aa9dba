//! The browser app: four pages (citizen, status check, officer, supervisor) and their
//! assets, embedded in the binary from `web/` (debug builds read the same files from disk).
//!
//! Every response carries a strict Content-Security-Policy (no inline scripts or styles),
//! `nosniff` and `no-referrer`. Files are revalidated on each use (`no-cache` with a strong
//! `ETag` from the file's hash): one small conditional request instead of stale scripts
//! after an upgrade, and a 304 without a body on a slow network. Text goes out gzipped to
//! browsers that accept it (all of them): a citizen's first visit on a 2G/3G phone is
//! about a third of the bytes. Each file is compressed once and kept, by content hash.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex};

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

/// Whether a request's `Accept-Encoding` takes gzip (a `q=0` refuses it).
fn accepts_gzip(req: &HeaderMap) -> bool {
    req.get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn compressible(path: &str) -> bool {
    [".html", ".js", ".css", ".json", ".svg"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

/// Compressed copies by content hash: made once per file (debug builds read files from
/// disk, so an edited file simply gets a new entry).
type ByHash = HashMap<[u8; 32], Arc<[u8]>>;
static GZIPPED: LazyLock<Mutex<ByHash>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn gzipped(hash: [u8; 32], data: &[u8]) -> Arc<[u8]> {
    let cached = GZIPPED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&hash)
        .cloned();
    if let Some(z) = cached {
        return z;
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let z: Arc<[u8]> = match enc.write_all(data).and_then(|()| enc.finish()) {
        Ok(z) => z.into(),
        Err(_) => return Arc::from(data),
    };
    GZIPPED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(hash, z.clone());
    z
}

fn file(path: &str, req: &HeaderMap) -> Response {
    let Some(f) = Assets::get(path) else {
        return not_found();
    };
    let hash = f.metadata.sha256_hash();
    let text = compressible(path);
    let gzip = text && accepts_gzip(req);
    // The compressed copy is another representation: another tag.
    let etag = format!(
        "\"{}{}\"",
        hash[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        if gzip { "-gz" } else { "" }
    );
    let fresh = req
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim() == etag || v.trim() == "*");
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        (
            [
                (header::CONTENT_TYPE, content_type(path)),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            axum::body::Bytes::from_owner(gzipped(hash, &f.data)),
        )
            .into_response()
    } else {
        (
            [(header::CONTENT_TYPE, content_type(path))],
            f.data.into_owned(),
        )
            .into_response()
    };
    let h = r.headers_mut();
    security_headers(h);
    if text {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    r
}
