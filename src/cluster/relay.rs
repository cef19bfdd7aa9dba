//! Relaying a WebSocket connection to the node that owns its desk: this node opens its own
//! WebSocket to the owner and passes frames both ways, one at a time (each send waits for
//! the other side, so nothing piles up here), until either side closes. The owner sees an
//! ordinary client, with the client's address in `X-Forwarded-For` and the relaying node's
//! name in [`RELAYED_HEADER`], and answers it exactly as it would answer the client.
//!
//! This node keeps watching the client while relaying: it pings it and closes both sides
//! when the client has gone silent, as it would for a connection of its own.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::ws::{self as axum_ws, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use sunwai_signaling::{close_code, ServerMsg};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Set on a relayed upgrade request: the node that relays it. A relayed connection is
/// served where it lands, never relayed again, so a stale view of the leases cannot make
/// a loop.
pub const RELAYED_HEADER: &str = "x-sunwai-relayed-by";

/// How long reaching the owner, and its welcome, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("could not reach the desk's node: {0}")]
    Connect(String),
    #[error("the desk's node closed the connection")]
    Closed,
    #[error("the desk's node did not answer in time")]
    Timeout,
}

type ClientSink = SplitSink<WebSocket, axum_ws::Message>;
type ClientStream = SplitStream<WebSocket>;

/// A WebSocket to the node that owns the desk.
pub struct Upstream {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Upstream {
    /// Opens `/ws` on the node at `url` (`http://host:port`) for a client at `client`,
    /// with the client's staff session cookie if it came with one.
    pub async fn connect(
        url: &str,
        relayed_by: &str,
        client: IpAddr,
        session_cookie: Option<&str>,
    ) -> Result<Upstream, RelayError> {
        let host = url.strip_prefix("http://").unwrap_or(url);
        let bad = |e: &dyn std::fmt::Display| RelayError::Connect(e.to_string());
        let mut req = format!("ws://{host}/ws")
            .into_client_request()
            .map_err(|e| bad(&e))?;
        let h = req.headers_mut();
        let value = |s: &str| HeaderValue::from_str(s).map_err(|e| bad(&e));
        h.insert("x-forwarded-for", value(&client.to_string())?);
        h.insert(RELAYED_HEADER, value(relayed_by)?);
        if let Some(token) = session_cookie {
            let cookie = format!("{}={token}", crate::http::SESSION_COOKIE);
            h.insert("cookie", value(&cookie)?);
        }
        let config = sunwai_signaling::client::ws_config();
        let connect = tokio_tungstenite::connect_async_with_config(req, Some(config), false);
        let (ws, _) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| RelayError::Timeout)?
            .map_err(|e| bad(&e))?;
        Ok(Upstream { ws })
    }

    pub async fn send_text(&mut self, text: &str) -> Result<(), RelayError> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|_| RelayError::Closed)
    }

    /// Reads up to and including the owner's `welcome`: for a relay that starts after this
    /// node has already welcomed the client.
    pub async fn skip_welcome(&mut self) -> Result<(), RelayError> {
        let wait = async {
            while let Some(frame) = self.ws.next().await {
                let Ok(Message::Text(text)) = frame else {
                    continue;
                };
                if let Ok(ServerMsg::Welcome(_)) = serde_json::from_str::<ServerMsg>(&text) {
                    return Ok(());
                }
            }
            Err(RelayError::Closed)
        };
        tokio::time::timeout(CONNECT_TIMEOUT, wait)
            .await
            .map_err(|_| RelayError::Timeout)?
    }

    /// The next text frame from the owner; `None` once the connection is gone.
    pub async fn next_text(&mut self) -> Option<String> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(t)) => return Some(t.as_str().to_owned()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Passes frames both ways until either side closes, the client goes silent for
    /// `idle`, or `closing` turns true (this node is stopping).
    pub async fn pump(
        mut self,
        sink: &mut ClientSink,
        stream: &mut ClientStream,
        idle: Duration,
        mut closing: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut last_heard = tokio::time::Instant::now();
        let mut ping = tokio::time::interval(idle / 3);
        ping.tick().await;
        loop {
            tokio::select! {
                frame = stream.next() => {
                    let Some(Ok(frame)) = frame else { break };
                    last_heard = tokio::time::Instant::now();
                    let up = match frame {
                        axum_ws::Message::Text(t) => Message::text(t.as_str()),
                        axum_ws::Message::Binary(b) => Message::Binary(b),
                        axum_ws::Message::Close(c) => Message::Close(c.map(|c| CloseFrame {
                            code: CloseCode::from(c.code),
                            reason: c.reason.as_str().into(),
                        })),
                        axum_ws::Message::Ping(_) | axum_ws::Message::Pong(_) => continue,
                    };
                    let closed = matches!(up, Message::Close(_));
                    if self.ws.send(up).await.is_err() || closed {
                        break;
                    }
                }
                frame = self.ws.next() => {
                    let down = match frame {
                        Some(Ok(Message::Text(t))) => axum_ws::Message::Text(t.as_str().into()),
                        Some(Ok(Message::Binary(b))) => axum_ws::Message::Binary(b),
                        Some(Ok(Message::Close(c))) => {
                            let c = c.map(|c| axum_ws::CloseFrame {
                                code: u16::from(c.code),
                                reason: c.reason.as_str().into(),
                            });
                            let _ = sink.send(axum_ws::Message::Close(c)).await;
                            return;
                        }
                        Some(Ok(_)) => continue,
                        // The owner went away (it died, say): the client reconnects, and is
                        // routed to whichever node takes the desk over.
                        Some(Err(_)) | None => {
                            close(sink, close_code::GOING_AWAY, "desk's node went away").await;
                            return;
                        }
                    };
                    if sink.send(down).await.is_err() {
                        break;
                    }
                }
                _ = ping.tick() => {
                    if sink.send(axum_ws::Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                }
                () = tokio::time::sleep_until(last_heard + idle) => {
                    close(sink, close_code::IDLE_TIMEOUT, "idle").await;
                    break;
                }
                Ok(()) = async { closing.wait_for(|c| *c).await.map(|_| ()) } => {
                    close(sink, close_code::GOING_AWAY, "server restarting").await;
                    break;
                }
            }
        }
        let _ = self.ws.close(None).await;
    }
}

async fn close(sink: &mut ClientSink, code: u16, reason: &'static str) {
    let frame = axum_ws::CloseFrame {
        code,
        reason: axum_ws::Utf8Bytes::from_static(reason),
    };
    let _ = sink.send(axum_ws::Message::Close(Some(frame))).await;
}
