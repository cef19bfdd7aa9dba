//! Routing a WebSocket connection to the node that owns its desk, when several nodes
//! serve one deployment (`crate::cluster`). A connection learns its desk from what the
//! client says: a staff member's assigned desk or a citizen's ticket at `hello`, or the
//! desk a citizen joins. From that moment, if another node owns the desk, the connection
//! is relayed there whole; on a single node nothing here does anything.

use sunwai_signaling::{self as wire, close_code, ClientMsg, ErrorCode};

use super::ws::Conn;
use crate::cluster::relay::Upstream;
use crate::cluster::Owner;
use crate::core::ids::DeskId;

const MOVING: &str = "this desk is moving to another server; reconnect in a few seconds";

impl Conn {
    /// The desk of the ticket's record, if clustering is on and this node does not serve
    /// it.
    pub(super) async fn ticket_desk_elsewhere(&self, ticket: &str) -> Option<DeskId> {
        self.app.cluster()?;
        let hash = crate::auth::hash_token(ticket);
        let record = self.app.store().find_by_ticket(&hash).await.ok()??;
        self.app
            .desk(record.desk.as_str())
            .is_none()
            .then_some(record.desk)
    }

    /// Relays the connection, from its `hello` on, to the node that owns `desk`. Returns
    /// whether the connection is dealt with (relayed, or told to come back shortly);
    /// `false` when this node serves the desk, or it is unknown, or there is no cluster.
    pub(super) async fn relay_hello(&mut self, desk: &DeskId, hello: &ClientMsg) -> bool {
        if !self.served_elsewhere(desk.as_str()) {
            return false;
        }
        let Some(url) = self.owner_url(desk).await else {
            return self.moving(None);
        };
        let cookie = self.cookie_session.clone();
        let sent = async {
            let mut up = self.upstream(&url, cookie.as_deref()).await?;
            up.send_text(&to_json(hello)).await?;
            Ok::<_, crate::cluster::relay::RelayError>(up)
        };
        match sent.await {
            Ok(up) => {
                // The owner's welcome, and everything after it, reaches the client as is.
                self.identity = None;
                self.relay = Some(up);
                true
            }
            Err(e) => {
                tracing::warn!(%desk, error = %e, "could not relay a connection to the desk's node");
                self.moving(None)
            }
        }
    }

    /// Relays a citizen's `join` of a desk another node owns (this node has welcomed them
    /// already). Returns whether the join is dealt with; `false` when the desk is unknown.
    pub(super) async fn relay_join(&mut self, join: &ClientMsg, desk: &str, id: u64) -> bool {
        if !self.served_elsewhere(desk) {
            return false;
        }
        let Ok(desk) = DeskId::parse(desk) else {
            return false;
        };
        let Some(url) = self.owner_url(&desk).await else {
            return self.moving(Some(id));
        };
        let hello = ClientMsg::Hello {
            v: wire::PROTOCOL_VERSION,
            session: None,
            ticket: None,
            lang: None,
        };
        let sent = async {
            let mut up = self.upstream(&url, None).await?;
            up.send_text(&to_json(&hello)).await?;
            up.skip_welcome().await?;
            up.send_text(&to_json(join)).await?;
            Ok::<_, crate::cluster::relay::RelayError>(up)
        };
        match sent.await {
            Ok(up) => {
                self.relay = Some(up);
                true
            }
            Err(e) => {
                tracing::warn!(%desk, error = %e, "could not relay a join to the desk's node");
                self.moving(Some(id))
            }
        }
    }

    /// Whether `desk` is a configured desk that, in a cluster, this node does not serve.
    pub(super) fn served_elsewhere(&self, desk: &str) -> bool {
        self.app.cluster().is_some()
            && self.app.desk_config(desk).is_some()
            && self.app.desk(desk).is_none()
    }

    /// The owner's URL, when a live lease names one and this connection may be relayed.
    pub(super) async fn owner_url(&self, desk: &DeskId) -> Option<String> {
        let cluster = self.app.cluster()?;
        if self.relayed {
            return None;
        }
        match cluster.owner(self.app.store(), desk).await {
            Ok(Owner::There(url)) => Some(url),
            Ok(Owner::Nobody) => None,
            Err(e) => {
                tracing::warn!(%desk, error = %e, "could not read the desk's lease");
                None
            }
        }
    }

    pub(super) async fn upstream(
        &self,
        url: &str,
        cookie: Option<&str>,
    ) -> Result<Upstream, crate::cluster::relay::RelayError> {
        let node = self.app.cluster().map_or("", |c| c.node().id.as_str());
        Upstream::connect(url, node, self.ip, cookie).await
    }

    /// Nobody can serve the desk this moment (its node died and another has not taken it
    /// over yet): say so, and close so that the client comes back with back-off.
    fn moving(&mut self, re: Option<u64>) -> bool {
        self.reply_err(re, ErrorCode::Unavailable, MOVING);
        self.close_with(close_code::GOING_AWAY, "desk moving: reconnect");
        true
    }
}

fn to_json(msg: &ClientMsg) -> String {
    // Serialising a message type to JSON cannot fail: no maps with non-string keys.
    serde_json::to_string(msg).unwrap_or_default()
}
