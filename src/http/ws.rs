//! One task per WebSocket connection: reads client frames, checks them against the
//! connection's role, asks the desk actors, and writes what they send back. The role comes
//! from the server (a staff session, or a citizen's ticket), never from the client.
//!
//! A connection never blocks a desk: desks push into its bounded outbox, and if that fills
//! up the connection is closed as too slow. Bad frames get a typed error and the
//! connection goes on; nothing a client sends can panic the server.

use std::net::IpAddr;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, RateLimiter};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::StreamExt;
use sunwai_signaling::{self as wire, close_code, ClientMsg, ErrorCode, ServerMsg};

use super::citizen::CitizenSession;
use super::translate;
use crate::app::App;
use crate::desk::{ConnId, DeskHandle, Inbox, Outbound, Outbox};
use crate::store::{Role, User};

/// Refused (over-rate) messages after which a connection is closed as abusive.
const ABUSE_AFTER: u32 = 500;

pub enum Identity {
    Citizen,
    Staff(User),
}

pub struct Conn {
    pub app: App,
    pub id: ConnId,
    pub outbox: Outbox,
    pub identity: Option<Identity>,
    pub citizen: Option<CitizenSession>,
    /// The desk an officer is on duty at.
    pub on_duty: Option<DeskHandle>,
    /// The call an officer is in: their media leg's call.
    pub officer_entry: Option<crate::core::ids::EntryId>,
    /// The call a supervisor is silently monitoring.
    pub monitoring: Option<crate::core::ids::EntryId>,
    pub watching: Vec<DeskHandle>,
    /// Staff session token from the upgrade request's cookie.
    pub cookie_session: Option<String>,
    /// The client's address (for per-address limits).
    pub ip: IpAddr,
    /// Relayed here by another node of the cluster: served here or refused, never relayed
    /// on (see `crate::cluster::relay`).
    pub relayed: bool,
    /// Set when this connection is to be relayed to the node that owns its desk; the
    /// serving loop then passes frames through until either side closes.
    pub relay: Option<crate::cluster::relay::Upstream>,
    /// Links to the nodes serving desks a supervisor acts on from here.
    pub links: super::remote::Links,
    /// The staff session this connection signed in with (for those links).
    pub staff_session: Option<String>,
    limiter: DefaultDirectRateLimiter,
    /// Messages refused for exceeding the rate; past `ABUSE_AFTER` the connection is closed.
    refused: u32,
    pub(super) out: Vec<ServerMsg>,
    close: Option<(u16, &'static str)>,
}

pub async fn run(
    app: App,
    socket: WebSocket,
    cookie_session: Option<String>,
    ip: IpAddr,
    relayed: bool,
) {
    let id = app.next_conn();
    let limiter = RateLimiter::direct(app.limits().messages);
    let (outbox, inbox) = Outbox::new(id);
    let (links, remote) = super::remote::Links::new();
    let mut conn = Conn {
        app,
        id,
        outbox,
        identity: None,
        citizen: None,
        on_duty: None,
        officer_entry: None,
        monitoring: None,
        watching: Vec::new(),
        cookie_session,
        ip,
        relayed,
        relay: None,
        links,
        staff_session: None,
        limiter,
        refused: 0,
        out: Vec::new(),
        close: None,
    };
    conn.serve(socket, inbox, remote).await;
    Box::pin(conn.goodbye()).await;
}

impl Conn {
    async fn serve(
        &mut self,
        mut socket: WebSocket,
        mut inbox: Inbox,
        mut remote: tokio::sync::mpsc::Receiver<super::remote::Remote>,
    ) {
        let limits = &self.app.config().limits;
        let hello_timeout = Duration::from_secs(u64::from(limits.hello_timeout_secs));
        let idle_timeout = Duration::from_secs(u64::from(limits.idle_timeout_secs));
        let mut last_heard = tokio::time::Instant::now();
        let mut ping = tokio::time::interval(idle_timeout / 3);
        ping.tick().await;
        // The timers and the shutdown watch live across iterations: a waiting citizen's
        // connection wakes for every position update, and re-arming timers each time was
        // a measurable part of a dispatch to 10,000 waiters (docs/benchmarks.md).
        let hello = tokio::time::sleep(hello_timeout);
        let idle = tokio::time::sleep(idle_timeout);
        let mut closing = self.app.closing();
        let closing = async move { closing.wait_for(|c| *c).await.map(|_| ()) };
        tokio::pin!(hello, idle, closing);
        let mut closing_done = false;
        let slow = inbox.slow.clone();
        loop {
            tokio::select! {
                frame = socket.next() => {
                    let Some(Ok(frame)) = frame else { return };
                    last_heard = tokio::time::Instant::now();
                    match frame {
                        // Boxed: handling a message awaits the desks and the database, and
                        // held inline that state would make every idle connection's
                        // future several times larger (docs/benchmarks.md).
                        Message::Text(text) => Box::pin(self.on_text(text.as_str())).await,
                        Message::Binary(_) => self.reply_err(None, ErrorCode::Malformed, "binary frames are not part of the protocol"),
                        Message::Close(_) => return,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                out = inbox.recv() => match out {
                    Some(out) => self.on_outbound(out),
                    None => return,
                },
                Some(r) = remote.recv() => self.on_remote(r),
                () = slow.notified() => {
                    self.close = Some((close_code::POLICY, "too slow: messages were piling up"));
                }
                () = &mut hello, if self.identity.is_none() => {
                    self.close = Some((close_code::HELLO_TIMEOUT, "no hello"));
                }
                () = &mut idle => {
                    let idle_at = last_heard + idle_timeout;
                    if idle_at <= tokio::time::Instant::now() {
                        self.close = Some((close_code::IDLE_TIMEOUT, "idle"));
                    } else {
                        idle.as_mut().reset(idle_at);
                    }
                }
                r = &mut closing, if !closing_done => {
                    // Err: the server's stop signal is gone, which only happens as it exits.
                    closing_done = true;
                    if r.is_ok() {
                        self.close = Some((close_code::GOING_AWAY, "server restarting"));
                    }
                }
                _ = ping.tick() => {
                    if socket.send(Message::Ping(Default::default())).await.is_err() { return; }
                }
            }
            // Taken rather than drained: a connection that is mostly idle keeps no buffer.
            for msg in std::mem::take(&mut self.out) {
                let text = match serde_json::to_string(&msg) {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::error!(error = %e, "could not serialise a server message");
                        continue;
                    }
                };
                if socket
                    .send(Message::Text(Utf8Bytes::from(text)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if let Some((code, reason)) = self.close.take() {
                let frame = CloseFrame {
                    code,
                    reason: Utf8Bytes::from_static(reason),
                };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return;
            }
            if let Some(upstream) = self.relay.take() {
                let closing = self.app.closing();
                let (mut sink, mut stream) = socket.split();
                Box::pin(upstream.pump(&mut sink, &mut stream, idle_timeout, closing)).await;
                return;
            }
        }
    }

    pub fn send(&mut self, msg: ServerMsg) {
        self.out.push(msg);
    }

    pub fn reply_err(&mut self, re: Option<u64>, code: ErrorCode, message: impl Into<String>) {
        self.send(ServerMsg::error(re, code, message));
    }

    pub fn close_with(&mut self, code: u16, reason: &'static str) {
        self.close = Some((code, reason));
    }

    async fn on_text(&mut self, text: &str) {
        if self.limiter.check().is_err() {
            self.refused += 1;
            if self.refused >= ABUSE_AFTER {
                self.close_with(close_code::ABUSE, "too many messages");
            } else if self.refused == 1 || self.refused.is_multiple_of(50) {
                // Say so, but don't answer a flood message for message.
                self.reply_err(None, ErrorCode::RateLimited, "too many messages: slow down");
            }
            return;
        }
        if text.len() > wire::MAX_MESSAGE_BYTES {
            let msg = format!("messages are limited to {} bytes", wire::MAX_MESSAGE_BYTES);
            self.reply_err(None, ErrorCode::TooLarge, msg);
            return;
        }
        let msg = match wire::parse_client(text) {
            Ok(m) => m,
            Err(e) => {
                self.send(e.to_reply());
                return;
            }
        };
        let re = msg.request_id();
        match (&self.identity, msg) {
            (
                None,
                ClientMsg::Hello {
                    v,
                    session,
                    ticket,
                    lang,
                },
            ) => self.hello(v, session, ticket, lang).await,
            (None, _) => self.reply_err(re, ErrorCode::HelloRequired, "say hello first"),
            (Some(_), ClientMsg::Hello { .. }) => {
                self.reply_err(None, ErrorCode::OutOfOrder, "hello was already said")
            }
            (_, ClientMsg::Ping { id }) => self.send(ServerMsg::Pong { re: id }),
            (Some(Identity::Citizen), msg) => self.citizen_msg(msg).await,
            (Some(Identity::Staff(user)), msg) => {
                let role = user.role;
                super::staff::staff_msg(self, role, msg).await
            }
        }
    }

    async fn hello(
        &mut self,
        v: u32,
        session: Option<String>,
        ticket: Option<String>,
        lang: Option<String>,
    ) {
        if v != wire::PROTOCOL_VERSION {
            let m = format!(
                "this server speaks protocol version {}",
                wire::PROTOCOL_VERSION
            );
            self.reply_err(None, ErrorCode::UnsupportedVersion, m);
            self.close_with(close_code::POLICY, "unsupported protocol version");
            return;
        }
        let hello = ClientMsg::Hello {
            v,
            session: session.clone(),
            ticket: ticket.clone(),
            lang,
        };
        let session = session.or_else(|| self.cookie_session.clone());
        let mut resumed = None;
        let (role, name) = match session {
            Some(token) => {
                let now = self.app.clock().now();
                match self
                    .app
                    .store()
                    .session_user(&crate::auth::hash_token(&token), now)
                    .await
                {
                    Ok(Some(user)) => {
                        self.staff_session = Some(token.clone());
                        let role = match user.role {
                            Role::Officer => wire::Role::Officer,
                            Role::Supervisor => wire::Role::Supervisor,
                        };
                        let name = user.display_name.clone();
                        let desk = user.desk.clone();
                        self.identity = Some(Identity::Staff(user));
                        // Staff with a desk work where that desk is served.
                        if let Some(desk) = desk {
                            if self.relay_hello(&desk, &hello).await {
                                return;
                            }
                        }
                        (role, Some(name))
                    }
                    Ok(None) => {
                        self.reply_err(
                            None,
                            ErrorCode::NotAllowed,
                            "the session has expired or is not valid: sign in again",
                        );
                        self.close_with(close_code::SESSION_ENDED, "session not valid");
                        return;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "session lookup failed");
                        self.reply_err(
                            None,
                            ErrorCode::Internal,
                            "could not check the session; try again",
                        );
                        return;
                    }
                }
            }
            None => {
                self.identity = Some(Identity::Citizen);
                if let Some(ticket) = ticket {
                    if let Some(desk) = self.ticket_desk_elsewhere(&ticket).await {
                        if self.relay_hello(&desk, &hello).await {
                            return;
                        }
                    }
                    resumed = self.resume(&ticket).await;
                }
                (wire::Role::Citizen, None)
            }
        };
        let desks = self.app.desk_list();
        let welcome = wire::Welcome {
            v: wire::PROTOCOL_VERSION,
            role,
            name,
            desks,
            ice_servers: super::media::ice_servers(
                &self.app.config().media,
                self.app.clock().now().as_second(),
                role_label(role),
            ),
            instant_connect_position: self.instant_connect_position(role),
            resumed,
        };
        // The welcome goes first, before anything the resumed entry's desk already pushed.
        self.out.insert(0, ServerMsg::Welcome(welcome));
    }

    fn on_outbound(&mut self, out: Outbound) {
        let now = self.app.clock().now();
        match out {
            Outbound::Citizen(note) => self.citizen_note(note, now),
            Outbound::Officer(note, about) => {
                use crate::core::room::OfficerNote as N;
                // The officer's media leg belongs to the offered or current call. It may be
                // set up while the offer rings (nothing is forwarded before they accept),
                // so that the call starts without connection delay.
                match &note {
                    N::Offer { entry, .. }
                    | N::CallStarted { entry }
                    | N::CallResumed { entry } => self.officer_entry = Some(*entry),
                    N::OfferWithdrawn { entry, .. } if self.officer_entry == Some(*entry) => {
                        self.officer_entry = None;
                        if let Some(sfu) = self.app.media() {
                            sfu.close_leg(entry.0, crate::sfu::Leg::Officer);
                        }
                    }
                    N::CallEnded { .. } => self.officer_entry = None,
                    _ => {}
                }
                let msg =
                    translate::officer_note(note, about.as_ref().map(|(_, i)| i.as_ref()), now);
                self.send(msg);
            }
            Outbound::Desk(view) => self.send(ServerMsg::Desk {
                snapshot: translate::snapshot(&view),
            }),
            Outbound::Superseded => {
                self.citizen = None;
                self.on_duty = None;
                self.close_with(close_code::SUPERSEDED, "opened in another window");
            }
            Outbound::Moved => {
                // The desk is gone from this node; the goodbyes would reach nobody.
                self.citizen = None;
                self.on_duty = None;
                self.watching.clear();
                self.close_with(close_code::GOING_AWAY, "desk moved: reconnect");
            }
            Outbound::Media(event) => {
                use crate::sfu::{LegEvent, Publisher};
                let side = |p: Publisher| match p {
                    Publisher::Citizen => wire::Role::Citizen,
                    Publisher::Officer => wire::Role::Officer,
                };
                // The desk hears of it too (its watchers see it with the officer), from
                // whichever side of the call this connection is.
                if let LegEvent::PeerReconnecting(p) | LegEvent::PeerConnected(p) = event {
                    let at = match (&self.citizen, &self.on_duty, self.officer_entry) {
                        (Some(c), _, _) => Some((c.desk.clone(), c.entry)),
                        (None, Some(desk), Some(entry)) => Some((desk.clone(), entry)),
                        _ => None,
                    };
                    if let Some((desk, entry)) = at {
                        let media_side = match p {
                            Publisher::Citizen => crate::desk::MediaSide::Citizen,
                            Publisher::Officer => crate::desk::MediaSide::Officer,
                        };
                        let reconnecting = matches!(event, LegEvent::PeerReconnecting(_));
                        desk.media_state(entry, media_side, reconnecting);
                    }
                }
                self.send(match event {
                    LegEvent::PeerReconnecting(p) => ServerMsg::PeerMedia {
                        side: side(p),
                        state: wire::PeerMediaState::Reconnecting,
                    },
                    LegEvent::PeerConnected(p) => ServerMsg::PeerMedia {
                        side: side(p),
                        state: wire::PeerMediaState::Connected,
                    },
                    LegEvent::Renegotiate => ServerMsg::Renegotiate {},
                    LegEvent::Video {
                        source,
                        paused,
                        link,
                    } => ServerMsg::Video {
                        side: side(source),
                        state: if paused {
                            wire::VideoState::Paused
                        } else {
                            wire::VideoState::Flowing
                        },
                        link: side(link),
                    },
                });
            }
            // Taken by `Inbox::recv`, never handed out.
            Outbound::AfterWrite(_) => {}
        }
    }

    /// For citizens when media is on: from which position on to set up media early.
    fn instant_connect_position(&self, role: wire::Role) -> Option<u32> {
        let m = &self.app.config().media;
        let on = role == wire::Role::Citizen && m.enabled && m.instant_connect_position > 0;
        on.then_some(m.instant_connect_position)
    }

    /// Tells the desks (and the SFU) this connection is gone.
    async fn goodbye(&mut self) {
        if let (Some(entry), Some(Identity::Staff(user))) = (self.monitoring.take(), &self.identity)
        {
            let user = user.clone();
            self.stop_monitor_leg(&user, entry).await;
        }
        if let Some(c) = self.citizen.take() {
            c.desk.citizen_gone(c.entry, self.id);
        }
        if let (Some(desk), Some(Identity::Staff(user))) = (self.on_duty.take(), &self.identity) {
            desk.officer_gone(user.id, self.id);
        }
        for d in self.watching.drain(..) {
            d.unwatch(self.id);
        }
    }
}

/// The label in TURN user names: who asked, never who they are.
fn role_label(role: wire::Role) -> &'static str {
    match role {
        wire::Role::Citizen => "citizen",
        wire::Role::Officer => "officer",
        wire::Role::Supervisor => "supervisor",
        _ => "user",
    }
}

#[cfg(test)]
mod tests {
    /// The size of what a function's call returns, without calling it.
    fn returned_size<F, A, B, C, D, E, R>(_: F) -> usize
    where
        F: FnOnce(A, B, C, D, E) -> R,
    {
        std::mem::size_of::<R>()
    }

    /// Every open WebSocket holds this future for as long as it is open: with 10,000
    /// citizens waiting it was two thirds of their memory (20 KiB each) before the handling
    /// of a message was boxed. The bound keeps it from growing back unnoticed.
    #[test]
    fn an_idle_connection_holds_a_small_future() {
        let size = returned_size(super::run);
        assert!(size <= 4096, "a connection's future is {size} bytes");
    }
}
