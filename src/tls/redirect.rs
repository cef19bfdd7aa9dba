//! Plain HTTP beside HTTPS: ACME's HTTP-01 challenges, and a permanent redirect of
//! everything else to the same path over HTTPS (a citizen who types the address without
//! `https://` still arrives).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use super::acme::Http01;

#[derive(Clone)]
struct Plain {
    http01: Http01,
    /// The HTTPS port browsers should use (omitted from URLs when 443).
    https_port: u16,
}

/// Serves plain HTTP on `listener` until the process ends.
pub fn spawn(listener: TcpListener, http01: Http01, https_port: u16) {
    let router = Router::new()
        .route("/.well-known/acme-challenge/{token}", get(challenge))
        .fallback(redirect)
        .with_state(Plain { http01, https_port });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "the plain-HTTP listener stopped");
        }
    });
}

async fn challenge(State(p): State<Plain>, Path(token): Path<String>) -> Response {
    let answer = p
        .http01
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&token)
        .cloned();
    match answer {
        Some(key_auth) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            key_auth,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn redirect(State(p): State<Plain>, headers: HeaderMap, uri: Uri) -> Response {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_only)
    else {
        return (StatusCode::BAD_REQUEST, "a Host header is needed").into_response();
    };
    let port = if p.https_port == 443 {
        String::new()
    } else {
        format!(":{}", p.https_port)
    };
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let to = format!("https://{host}{port}{path}");
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, to)]).into_response()
}

/// The host of a Host header, without its port; `None` for anything that is not a plain
/// host name or address (no redirects to elsewhere built from a forged header).
fn host_only(h: &str) -> Option<&str> {
    let host = if h.starts_with('[') {
        &h[..=h.find(']')?]
    } else {
        h.split(':').next()?
    };
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'));
    ok.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::host_only;

    #[test]
    fn hosts_lose_their_port_and_odd_ones_are_refused() {
        assert_eq!(
            host_only("hearing.example.org"),
            Some("hearing.example.org")
        );
        assert_eq!(
            host_only("hearing.example.org:80"),
            Some("hearing.example.org")
        );
        assert_eq!(host_only("[::1]:80"), Some("[::1]"));
        assert_eq!(host_only("evil.example/x"), None);
        assert_eq!(host_only("a@b"), None);
        assert_eq!(host_only(""), None);
    }
}
