//! Forwarding a REST request about a desk to the node that serves it (several nodes): the
//! supervisor's forecast needs the live room, which only the owner has. A plain HTTP/1 GET
//! over a fresh connection, with the caller's credentials and address, and the answer
//! passed back as it came (its body capped at [`MAX_BODY`]).

use std::net::IpAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

use super::relay::RELAYED_HEADER;

/// Set on a forwarded answer: the node that answered it (its URL), for operators and tests.
pub const SERVED_BY_HEADER: &str = "x-sunwai-served-by";

/// A forecast runs simulations on the owner: give it time.
const TIMEOUT: Duration = Duration::from_secs(60);
const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("could not reach the desk's node: {0}")]
    Connect(String),
    #[error("the desk's node did not answer in time")]
    Timeout,
    #[error("the desk's node answered badly: {0}")]
    Answer(String),
}

/// GETs `path` (with its query) from the node at `url` (`http://host:port`).
pub async fn get(
    url: &str,
    path: &str,
    headers: &HeaderMap,
    client: IpAddr,
    relayed_by: &str,
) -> Result<Response<Body>, ForwardError> {
    tokio::time::timeout(TIMEOUT, fetch(url, path, headers, client, relayed_by))
        .await
        .map_err(|_| ForwardError::Timeout)?
}

async fn fetch(
    url: &str,
    path: &str,
    headers: &HeaderMap,
    client: IpAddr,
    relayed_by: &str,
) -> Result<Response<Body>, ForwardError> {
    let host = url.strip_prefix("http://").unwrap_or(url);
    let connect = |e: &dyn std::fmt::Display| ForwardError::Connect(e.to_string());
    let stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| connect(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| connect(&e))?;
    // Drives the connection until the answer is read; ends with it.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::get(path)
        .header(header::HOST, host)
        .header("x-forwarded-for", client.to_string())
        .header(RELAYED_HEADER, relayed_by);
    for name in [
        header::COOKIE,
        header::AUTHORIZATION,
        header::ACCEPT_LANGUAGE,
    ] {
        for v in headers.get_all(&name) {
            req = req.header(&name, v);
        }
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| ForwardError::Answer(e.to_string()))?;
    let answer = sender
        .send_request(req)
        .await
        .map_err(|e| ForwardError::Answer(e.to_string()))?;
    let (mut parts, body) = answer.into_parts();
    // This hop's framing, not the answer's: the body is passed on whole.
    for name in [
        header::TRANSFER_ENCODING,
        header::CONNECTION,
        header::CONTENT_LENGTH,
    ] {
        parts.headers.remove(name);
    }
    if let Ok(v) = header::HeaderValue::from_str(url) {
        parts.headers.insert(SERVED_BY_HEADER, v);
    }
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| ForwardError::Answer(e.to_string()))?
        .to_bytes();
    Ok(Response::from_parts(parts, Body::from(body)))
}
