//! A supervisor's hand on desks that other nodes serve (several nodes, `crate::cluster`).
//! Officers and desk-bound supervisors are relayed whole to their desk's node at `hello`;
//! a supervisor of every desk stays here, and what they send about a desk served elsewhere
//! (`watch`, `unwatch`, opening, closing or extending its window, a broadcast) goes over a
//! link to that node, one per desk, signed in with the supervisor's own session. What the
//! link brings back (replies, desk snapshots) is passed on as if this node had sent it.
//!
//! Bounded: each link's outgoing queue and the connection's incoming queue hold
//! [`LINK_QUEUE`] messages; a full queue makes the sender wait, which slows the other
//! node's sends to this connection until its own outbox limit drops it as too slow.

use std::collections::HashMap;

use sunwai_signaling::{self as wire, close_code, ClientMsg, ErrorCode, ServerMsg};
use tokio::sync::mpsc;

use super::ws::Conn;
use crate::cluster::relay::Upstream;
use crate::core::ids::DeskId;

pub const LINK_QUEUE: usize = 64;

/// What the links bring back to the connection.
pub enum Remote {
    Msg(Box<ServerMsg>),
    /// A link broke (its node died, or gave the desk up): the client should reconnect.
    Lost,
}

/// This connection's links, by desk.
pub struct Links {
    links: HashMap<DeskId, mpsc::Sender<String>>,
    events: mpsc::Sender<Remote>,
}

impl Links {
    pub fn new() -> (Links, mpsc::Receiver<Remote>) {
        let (events, rx) = mpsc::channel(LINK_QUEUE);
        let links = Links {
            links: HashMap::new(),
            events,
        };
        (links, rx)
    }
}

/// The desk a supervisor's message is about, for the messages a link may carry.
pub fn desk_of(msg: &ClientMsg) -> Option<&str> {
    match msg {
        ClientMsg::Watch { desk, .. }
        | ClientMsg::Unwatch { desk, .. }
        | ClientMsg::OpenWindow { desk, .. }
        | ClientMsg::CloseWindow { desk, .. }
        | ClientMsg::ExtendWindow { desk, .. }
        | ClientMsg::Broadcast { desk, .. } => Some(desk),
        _ => None,
    }
}

impl Conn {
    /// Sends a supervisor's `msg` about `desk` to the node serving it. Returns `false`
    /// when this node serves the desk itself (or it is unknown, or there is no cluster).
    pub(super) async fn send_remote(&mut self, desk: &str, msg: &ClientMsg, id: u64) -> bool {
        if !self.served_elsewhere(desk) {
            return false;
        }
        let Ok(desk) = DeskId::parse(desk) else {
            return false;
        };
        let text = serde_json::to_string(msg).unwrap_or_default();
        if let Some(link) = self.links.links.get(&desk) {
            if link.send(text.clone()).await.is_ok() {
                return true;
            }
            self.links.links.remove(&desk);
        }
        match self.open_link(&desk).await {
            Some(link) if link.send(text).await.is_ok() => {
                self.links.links.insert(desk, link);
            }
            _ => self.reply_err(
                Some(id),
                ErrorCode::Unavailable,
                "the desk's server cannot be reached just now; try again in a few seconds",
            ),
        }
        true
    }

    async fn open_link(&mut self, desk: &DeskId) -> Option<mpsc::Sender<String>> {
        let url = self.owner_url(desk).await?;
        let hello = ClientMsg::Hello {
            v: wire::PROTOCOL_VERSION,
            session: self.staff_session.clone(),
            ticket: None,
            lang: None,
        };
        let opened = async {
            let mut up = self.upstream(&url, None).await?;
            up.send_text(&serde_json::to_string(&hello).unwrap_or_default())
                .await?;
            up.skip_welcome().await?;
            Ok::<_, crate::cluster::relay::RelayError>(up)
        };
        match opened.await {
            Ok(up) => {
                let (tx, rx) = mpsc::channel(LINK_QUEUE);
                tokio::spawn(link(up, rx, self.links.events.clone()));
                Some(tx)
            }
            Err(e) => {
                tracing::warn!(%desk, error = %e, "could not link to the desk's node");
                None
            }
        }
    }

    pub(super) fn on_remote(&mut self, r: Remote) {
        match r {
            Remote::Msg(m) => self.send(*m),
            Remote::Lost => self.close_with(close_code::GOING_AWAY, "desk moved: reconnect"),
        }
    }
}

/// Carries one link until the connection drops it or the other node goes.
async fn link(mut up: Upstream, mut outgoing: mpsc::Receiver<String>, back: mpsc::Sender<Remote>) {
    loop {
        tokio::select! {
            text = outgoing.recv() => match text {
                Some(t) => if up.send_text(&t).await.is_err() { break },
                // The connection is gone.
                None => return,
            },
            text = up.next_text() => {
                let Some(text) = text else { break };
                match serde_json::from_str::<ServerMsg>(&text) {
                    Ok(ServerMsg::Welcome(_) | ServerMsg::Pong { .. }) => {}
                    Ok(m) => {
                        if back.send(Remote::Msg(Box::new(m))).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "unreadable message on a desk link"),
                }
            }
        }
    }
    let _ = back.send(Remote::Lost).await;
}
