//! A small async signaling client over tokio-tungstenite, for integration tests and the
//! load generator. It speaks the protocol; it is not a browser and does no media.
//!
//! Messages are delivered in the order the server sent them, with one twist: while
//! [`Client::request`] waits for its reply, or [`Client::recv_until`] for a matching
//! message, every other message that arrives is kept in a bounded buffer
//! ([`BUFFER_LIMIT`]) and handed out by later calls to [`Client::recv`], still in order.
//! Nothing is silently discarded, except server messages of a type this crate does not
//! know, which the protocol says clients must ignore.
//!
//! WebSocket pings are answered by tungstenite and never surface; a close frame surfaces
//! as [`ClientError::Closed`].

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::parse::{parse_server, ParseError};
use crate::wire::{close_code, ClientMsg, ErrorCode, ServerMsg, Welcome, PROTOCOL_VERSION};

/// Re-exported so callers can build raw frames for [`Client::send_frame`] without depending
/// on tungstenite themselves.
pub use tokio_tungstenite::tungstenite;

/// At most this many messages are held back while waiting for a reply or a match.
pub const BUFFER_LIMIT: usize = 1024;

/// How long [`Client::request`] and [`Client::hello`] wait for their answer by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The read buffer a connection starts with. The library's default (128 KiB) is zeroed
/// again before every read, which for a client of many small messages costs more than
/// parsing them (it was most of the load generator's CPU with 10,000 waiting citizens);
/// the buffer still grows for a larger message.
pub const READ_BUFFER: usize = 4 * 1024;

/// The WebSocket settings a client connects with: [`READ_BUFFER`], everything else the
/// library's defaults.
pub fn ws_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default().read_buffer_size(READ_BUFFER)
}

/// Close code reported when the connection ended without a close frame (RFC 6455 1006).
pub const ABNORMAL_CLOSURE: u16 = 1006;
/// Close code reported for a close frame without a status (RFC 6455 1005).
pub const NO_STATUS: u16 = 1005;

/// What can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("websocket: {0}")]
    Ws(#[from] tungstenite::Error),
    /// A message could not be serialized.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The server sent a frame this client cannot read (bad JSON, bad fields, binary).
    #[error("bad frame from server: {0}")]
    Parse(#[from] ParseError),
    #[error("timed out")]
    Timeout,
    /// The connection is closed. `code` is the close frame's code, [`NO_STATUS`] for a
    /// close frame without one, or [`ABNORMAL_CLOSURE`] if the connection simply ended.
    #[error("closed ({code}) {reason}")]
    Closed { code: u16, reason: String },
    /// More than [`BUFFER_LIMIT`] messages arrived while waiting; the newest was dropped.
    #[error("more than {BUFFER_LIMIT} unread messages")]
    Buffer,
    /// The server answered, but not in the way the caller required.
    #[error("unexpected reply: {0:?}")]
    UnexpectedReply(Box<ServerMsg>),
    /// [`Client::request`] was given a message without a request id.
    #[error("`{0}` has no id and gets no reply; use send()")]
    NotARequest(&'static str),
}

/// One signaling connection.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    last_id: u64,
    buffer: VecDeque<ServerMsg>,
    closed: Option<(u16, String)>,
    request_timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("last_id", &self.last_id)
            .field("buffered", &self.buffer.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Opens a connection, e.g. to `ws://127.0.0.1:8080/ws`, without an `Origin` header.
    pub async fn connect(url: &str) -> Result<Client, ClientError> {
        Self::open(url, None).await
    }

    /// Opens a connection sending `Origin: <origin>`, as a browser on that origin would.
    pub async fn connect_with_origin(url: &str, origin: &str) -> Result<Client, ClientError> {
        Self::open(url, Some(origin)).await
    }

    async fn open(url: &str, origin: Option<&str>) -> Result<Client, ClientError> {
        let mut request = url.into_client_request()?;
        if let Some(origin) = origin {
            let value = HeaderValue::from_str(origin)
                .map_err(|e| ClientError::Ws(tungstenite::Error::HttpFormat(e.into())))?;
            request.headers_mut().insert("Origin", value);
        }
        let (ws, _response) =
            tokio_tungstenite::connect_async_with_config(request, Some(ws_config()), false).await?;
        Ok(Client {
            ws,
            last_id: 0,
            buffer: VecDeque::new(),
            closed: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        })
    }

    /// Changes how long [`Client::request`] and [`Client::hello`] wait.
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.request_timeout = timeout;
    }

    /// A fresh request id: 1, 2, 3, …
    pub fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    /// How many messages are held back for later [`Client::recv`] calls.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Sends one message.
    pub async fn send(&mut self, msg: &ClientMsg) -> Result<(), ClientError> {
        let text = serde_json::to_string(msg)?;
        tracing::trace!(kind = msg.type_name(), "send");
        self.send_frame(Message::text(text)).await
    }

    /// Sends arbitrary text as one frame, for hostile-input tests.
    pub async fn send_raw_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.send_frame(Message::text(text)).await
    }

    /// Sends any WebSocket frame (binary, ping, …), for hostile-input tests.
    pub async fn send_frame(&mut self, frame: Message) -> Result<(), ClientError> {
        if let Some((code, reason)) = &self.closed {
            return Err(ClientError::Closed {
                code: *code,
                reason: reason.clone(),
            });
        }
        self.ws.send(frame).await?;
        Ok(())
    }

    /// The next message: a held-back one if any, else the next from the server. Waits
    /// forever; see [`Client::recv_timeout`].
    pub async fn recv(&mut self) -> Result<ServerMsg, ClientError> {
        match self.buffer.pop_front() {
            Some(msg) => Ok(msg),
            None => self.read().await,
        }
    }

    /// [`Client::recv`] with a deadline. Cancel-safe: on timeout nothing is lost.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Result<ServerMsg, ClientError> {
        tokio::time::timeout(timeout, self.recv())
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    /// Returns the first message, held back or new, for which `pred` is true. Messages
    /// that do not match are kept, in order, for later [`Client::recv`] calls; they are
    /// not discarded. On timeout the kept messages stay kept.
    pub async fn recv_until(
        &mut self,
        mut pred: impl FnMut(&ServerMsg) -> bool,
        timeout: Duration,
    ) -> Result<ServerMsg, ClientError> {
        if let Some(i) = self.buffer.iter().position(&mut pred) {
            return Ok(self.buffer.remove(i).expect("index from position"));
        }
        tokio::time::timeout(timeout, async {
            loop {
                let msg = self.read().await?;
                if pred(&msg) {
                    return Ok(msg);
                }
                self.hold(msg)?;
            }
        })
        .await
        .map_err(|_| ClientError::Timeout)?
    }

    /// Sends the request `build(id)` with a fresh id and returns the reply whose `re`
    /// matches (`ok`, `error`, `joined`, `pong`, …); an `error` reply is returned as
    /// `Ok(ServerMsg::Error { .. })`. Other messages arriving meanwhile are held back for
    /// [`Client::recv`]. Times out after the request timeout (10 s unless changed).
    pub async fn request(
        &mut self,
        build: impl FnOnce(u64) -> ClientMsg,
    ) -> Result<ServerMsg, ClientError> {
        let id = self.next_id();
        let msg = build(id);
        let Some(id) = msg.request_id() else {
            return Err(ClientError::NotARequest(msg.type_name()));
        };
        self.send(&msg).await?;
        let timeout = self.request_timeout;
        tokio::time::timeout(timeout, async {
            loop {
                let reply = self.read().await?;
                if reply.reply_to() == Some(id) {
                    return Ok(reply);
                }
                self.hold(reply)?;
            }
        })
        .await
        .map_err(|_| ClientError::Timeout)?
    }

    /// [`Client::request`] for requests answered by a plain `ok`; any other reply becomes
    /// [`ClientError::UnexpectedReply`].
    pub async fn request_ok(
        &mut self,
        build: impl FnOnce(u64) -> ClientMsg,
    ) -> Result<(), ClientError> {
        match self.request(build).await? {
            ServerMsg::Ok { .. } => Ok(()),
            other => Err(ClientError::UnexpectedReply(Box::new(other))),
        }
    }

    /// Sends `hello` (staff `session` or citizen `ticket`, both absent for a new citizen)
    /// and waits for `welcome`. An `error` or anything else first becomes
    /// [`ClientError::UnexpectedReply`].
    pub async fn hello(
        &mut self,
        session: Option<&str>,
        ticket: Option<&str>,
    ) -> Result<Welcome, ClientError> {
        self.send(&ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            session: session.map(str::to_owned),
            ticket: ticket.map(str::to_owned),
            lang: None,
        })
        .await?;
        match self.recv_timeout(self.request_timeout).await? {
            ServerMsg::Welcome(welcome) => Ok(welcome),
            other => Err(ClientError::UnexpectedReply(Box::new(other))),
        }
    }

    /// Closes the connection normally and waits briefly for the server's close frame.
    pub async fn close(mut self) -> Result<(), ClientError> {
        if self.closed.is_some() {
            return Ok(());
        }
        let frame = CloseFrame {
            code: CloseCode::from(close_code::NORMAL),
            reason: "bye".into(),
        };
        match self.ws.close(Some(frame)).await {
            Ok(()) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Ok(())
            }
            Err(e) => return Err(e.into()),
        }
        // Drain until the server answers the close (or gives up), ignoring what is left.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
        Ok(())
    }

    fn hold(&mut self, msg: ServerMsg) -> Result<(), ClientError> {
        if self.buffer.len() >= BUFFER_LIMIT {
            tracing::warn!(
                kind = msg.type_name(),
                "client buffer full; message dropped"
            );
            return Err(ClientError::Buffer);
        }
        self.buffer.push_back(msg);
        Ok(())
    }

    /// The next message from the socket, skipping control frames and unknown types.
    async fn read(&mut self) -> Result<ServerMsg, ClientError> {
        loop {
            if let Some((code, reason)) = &self.closed {
                return Err(ClientError::Closed {
                    code: *code,
                    reason: reason.clone(),
                });
            }
            let frame = match self.ws.next().await {
                None
                | Some(Err(
                    tungstenite::Error::ConnectionClosed
                    | tungstenite::Error::AlreadyClosed
                    | tungstenite::Error::Protocol(
                        tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                    ),
                )) => {
                    self.closed = Some((ABNORMAL_CLOSURE, String::new()));
                    continue;
                }
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(frame)) => frame,
            };
            match frame {
                Message::Text(text) => match parse_server(text.as_str()) {
                    Ok(msg) => {
                        tracing::trace!(kind = msg.type_name(), "recv");
                        return Ok(msg);
                    }
                    Err(e) if e.code == ErrorCode::UnknownType => {
                        tracing::debug!(error = %e, "ignoring unknown server message");
                    }
                    Err(e) => return Err(e.into()),
                },
                Message::Binary(_) => {
                    return Err(ParseError {
                        code: ErrorCode::Malformed,
                        message: "binary frame".to_owned(),
                        re: None,
                    }
                    .into())
                }
                Message::Close(frame) => {
                    self.closed = Some(match frame {
                        Some(f) => (u16::from(f.code), f.reason.to_string()),
                        None => (NO_STATUS, String::new()),
                    });
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }
}
