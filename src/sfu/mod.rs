//! The SFU: all audio and video of a hearing passes through here, so citizen and officer
//! never learn each other's address.
//!
//! `Sfu` is a cheap handle over the media workers (see [`worker`]). A call (identified by
//! the citizen's waiting-room entry) lives on one worker, chosen by hashing its id, so its
//! legs share a thread and forwarding never crosses threads. The signaling layer hands
//! offers and candidates over per (call, leg); the desk actor links a call when an officer
//! accepts and closes it when the call ends. Before `link`, a leg's media is received and
//! dropped: a citizen near the front connects while still waiting ("instant connect").

pub mod client;
pub mod codec;
mod forwarder;
pub mod latency;
mod red;
mod rewrite;
mod wire;
mod worker;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::config::Cidr;
use worker::Command;

/// Commands queued per worker before callers are told the server is busy.
const COMMAND_QUEUE: usize = 1024;

/// Who publishes media in a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Publisher {
    Citizen,
    Officer,
}

impl Publisher {
    pub fn name(self) -> &'static str {
        match self {
            Publisher::Citizen => "citizen",
            Publisher::Officer => "officer",
        }
    }
}

/// One peer connection of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Leg {
    Citizen,
    Officer,
    /// A supervisor's receive-only leg, by their connection id.
    Monitor(u64),
}

impl Leg {
    /// Whose media this leg receives.
    pub fn receives(self) -> &'static [Publisher] {
        match self {
            Leg::Citizen => &[Publisher::Officer],
            Leg::Officer => &[Publisher::Citizen],
            Leg::Monitor(_) => &[Publisher::Citizen, Publisher::Officer],
        }
    }

    pub fn publisher(self) -> Option<Publisher> {
        match self {
            Leg::Citizen => Some(Publisher::Citizen),
            Leg::Officer => Some(Publisher::Officer),
            Leg::Monitor(_) => None,
        }
    }

    pub fn kind_name(self) -> &'static str {
        match self {
            Leg::Citizen => "citizen",
            Leg::Officer => "officer",
            Leg::Monitor(_) => "monitor",
        }
    }
}

/// What the SFU tells the signaling layer about a leg of a call, for its page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegEvent {
    /// The other side's media stopped arriving (their network dropped, they reloaded): the
    /// server keeps the call and waits for them to come back.
    PeerReconnecting(Publisher),
    /// The other side's media arrives again (or for the first time on a new connection).
    PeerConnected(Publisher),
    /// This leg should make a new offer on the same connection: the other side can only
    /// decode a video codec this leg sends but does not send first, and the server's next
    /// answer will put it first.
    Renegotiate,
    /// `source`'s video stopped (`paused`) or starts again because `link` (whose
    /// connection: the publisher's own uplink, or the receiver's downlink) is too weak for
    /// it or has recovered. Told to both sides; the publisher stops or resumes encoding.
    Video {
        source: Publisher,
        paused: bool,
        link: Publisher,
    },
}

/// Where a leg's events go: called on the media worker's thread, so it must not block
/// (the signaling layer queues the event for the leg's connection without waiting).
pub type LegEvents = Arc<dyn Fn(LegEvent) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the offer could not be used: {0}")]
    BadSdp(String),
    #[error("the media worker is busy")]
    Busy,
    #[error("the media workers have stopped")]
    Gone,
    #[error("media failure: {0}")]
    Internal(String),
}

/// The address the media sockets bind to: the configured one, else the address the
/// server listens on. When that is every address (`0.0.0.0`, `::`), one concrete address
/// is needed all the same (browsers must be told where to send, and replies must come
/// from the address they sent to): the one the system would send from towards the
/// internet, found by a route look-up that sends nothing. Loopback when there is no route.
pub fn media_bind(listen: IpAddr, configured: Option<IpAddr>) -> IpAddr {
    if let Some(ip) = configured {
        return ip;
    }
    if !listen.is_unspecified() {
        return listen;
    }
    // Documentation addresses (RFC 5737, RFC 3849): only the route to them is looked up.
    let (any, probe): (SocketAddr, SocketAddr) = if listen.is_ipv4() {
        (([0, 0, 0, 0], 0).into(), ([203, 0, 113, 1], 9).into())
    } else {
        (
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
            (std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9).into(),
        )
    };
    let routed = std::net::UdpSocket::bind(any)
        .and_then(|s| s.connect(probe).and_then(|()| s.local_addr()))
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified());
    routed.unwrap_or(if listen.is_ipv4() {
        IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
    } else {
        IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
    })
}

/// Where and how the workers run.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    pub bind: IpAddr,
    /// Worker i listens on `base_port + i`; 0 lets the system pick (tests).
    pub base_port: u16,
    pub workers: usize,
    /// The address announced to browsers (1:1 NAT); `None` announces the bound address.
    pub announce: Option<IpAddr>,
    /// Networks that media may come from; anything else is dropped unread.
    pub allowed_networks: Vec<Cidr>,
    pub adaptation: Adaptation,
}

/// How calls adapt to weak links (`[media]` settings).
#[derive(Clone, Copy, Debug)]
pub struct Adaptation {
    /// Pause video on links too weak for it beside speech (see `forwarder::gate`).
    pub pause_video_on_weak_links: bool,
    /// Send audio with redundancy (RED) to legs whose downlink loses it (see `red`).
    pub audio_redundancy: bool,
}

/// Counters of one worker, or summed over all.
#[derive(Clone, Debug, Default)]
pub struct WorkerStats {
    pub peers: u64,
    pub calls: u64,
    pub peers_created: u64,
    pub peers_removed: u64,
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub rtp_in: u64,
    pub rtp_out: u64,
    pub rtcp_in: u64,
    pub rtp_before_call: u64,
    /// Video not forwarded to a receiver that is still waiting for a keyframe.
    pub rtp_held_for_keyframe: u64,
    pub rtp_unknown_track: u64,
    pub rtp_write_errors: u64,
    /// Forwarded packets whose header extensions the leg refused (sent without them).
    pub extensions_refused: u64,
    pub keyframe_requests_in: u64,
    pub keyframe_requests_out: u64,
    pub keyframe_requests_throttled: u64,
    /// Datagrams from an address no peer has validated (and not a check naming one).
    pub unknown_source: u64,
    /// Connectivity checks naming an ICE username no peer of the worker has.
    pub unknown_ufrag: u64,
    /// Answers to the crate's own checks, routed by the address that triggered them.
    pub check_replies_routed: u64,
    /// Legs that failed after connecting (ICE or DTLS lost, consent expired).
    pub legs_failed: u64,
    /// Publishers whose media stopped arriving mid-call for `STALLED_AFTER` (the other
    /// side's page was told "reconnecting").
    pub legs_stalled: u64,
    /// Video not forwarded to a receiver that did not negotiate the publisher's codec.
    pub rtp_codec_unshared: u64,
    /// Legs asked to renegotiate so that they send the codec the other side decodes.
    pub codec_renegotiations: u64,
    /// Receiver estimates (REMB) sent to publishers.
    pub rembs_out: u64,
    /// Times a direction's video paused for a weak link, and resumed.
    pub video_pauses: u64,
    pub video_resumes: u64,
    /// Video packets not forwarded while their direction was paused.
    pub video_paused_dropped: u64,
    /// Audio packets sent with the previous packet as a redundant block (RED), and RED
    /// packets refused as malformed.
    pub audio_redundant_out: u64,
    pub audio_red_malformed: u64,
    pub sources_refused: u64,
    pub candidates_refused: u64,
    pub send_dropped: u64,
    pub send_errors: u64,
    pub setup_timeouts: u64,
    pub renegotiations: u64,
    pub ice_restarts: u64,
    /// CPU time of the worker thread(s).
    pub cpu_ns: u64,
    /// Receive to send inside the worker, per forwarded packet.
    pub forward_latency: latency::LatencyHistogram,
}

impl WorkerStats {
    fn add(&mut self, o: &WorkerStats) {
        macro_rules! sum {
            ($($f:ident),*) => { $( self.$f += o.$f; )* };
        }
        sum!(
            peers,
            calls,
            peers_created,
            peers_removed,
            datagrams_in,
            datagrams_out,
            bytes_in,
            bytes_out,
            rtp_in,
            rtp_out,
            rtcp_in,
            rtp_before_call,
            rtp_held_for_keyframe,
            rtp_unknown_track,
            rtp_write_errors,
            extensions_refused,
            keyframe_requests_in,
            keyframe_requests_out,
            keyframe_requests_throttled,
            unknown_source,
            unknown_ufrag,
            check_replies_routed,
            legs_failed,
            legs_stalled,
            rtp_codec_unshared,
            codec_renegotiations,
            rembs_out,
            video_pauses,
            video_resumes,
            video_paused_dropped,
            audio_redundant_out,
            audio_red_malformed,
            sources_refused,
            candidates_refused,
            send_dropped,
            send_errors,
            setup_timeouts,
            renegotiations,
            ice_restarts,
            cpu_ns
        );
        self.forward_latency.add(&o.forward_latency);
    }
}

struct WorkerHandle {
    tx: mpsc::Sender<Command>,
    addr: SocketAddr,
}

#[derive(Clone)]
pub struct Sfu {
    inner: Arc<Inner>,
}

/// Dropping the last `Sfu` closes the workers' command queues: each worker then closes
/// its peer connections, flushes and ends its thread.
struct Inner {
    workers: Vec<WorkerHandle>,
}

impl Sfu {
    /// Binds one socket per worker and starts them.
    pub fn start(cfg: &MediaConfig) -> std::io::Result<Sfu> {
        let allowed = Arc::new(cfg.allowed_networks.clone());
        let mut workers = Vec::new();
        for i in 0..cfg.workers.max(1) {
            let port = match cfg.base_port {
                0 => 0,
                p => p
                    .checked_add(i as u16)
                    .ok_or_else(|| std::io::Error::other("media ports run past 65535"))?,
            };
            let bind = SocketAddr::new(cfg.bind, port);
            let (tx, addr) = worker::spawn(
                bind,
                cfg.announce,
                i,
                allowed.clone(),
                cfg.adaptation,
                COMMAND_QUEUE,
            )?;
            workers.push(WorkerHandle { tx, addr });
        }
        Ok(Sfu {
            inner: Arc::new(Inner { workers }),
        })
    }

    /// The UDP addresses the workers are bound to.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.inner.workers.iter().map(|w| w.addr).collect()
    }

    fn worker(&self, call: Uuid) -> &WorkerHandle {
        let (hi, lo) = call.as_u64_pair();
        let n = self.inner.workers.len() as u64;
        &self.inner.workers[((hi ^ lo) % n) as usize]
    }

    fn send(&self, call: Uuid, cmd: Command) -> Result<(), MediaError> {
        self.worker(call).tx.try_send(cmd).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => MediaError::Busy,
            mpsc::error::TrySendError::Closed(_) => MediaError::Gone,
        })
    }

    /// Answers a browser's offer for one leg of a call. A new offer from the same browser
    /// peer connection renegotiates (tracks, directions, ICE restart); one from a new peer
    /// connection (a reload) replaces the leg.
    /// `events` receives what the page of this leg should hear about the call's media.
    pub async fn answer(
        &self,
        call: Uuid,
        leg: Leg,
        offer: String,
        events: Option<LegEvents>,
    ) -> Result<String, MediaError> {
        let (reply, rx) = oneshot::channel();
        self.send(
            call,
            Command::Offer {
                call,
                leg,
                sdp: offer,
                events,
                reply,
            },
        )?;
        rx.await.map_err(|_| MediaError::Gone)?
    }

    /// A trickled candidate; dropped when its address is not in the allowed networks.
    pub fn remote_candidate(&self, call: Uuid, leg: Leg, candidate: String) {
        let _ = self.send(
            call,
            Command::Candidate {
                call,
                leg,
                candidate,
            },
        );
    }

    /// The call started: forward between its legs.
    pub fn link(&self, call: Uuid) {
        if let Err(e) = self.send(call, Command::Link { call }) {
            tracing::warn!(error = %e, %call, "media: could not link a call");
        }
    }

    pub fn close_leg(&self, call: Uuid, leg: Leg) {
        let _ = self.send(call, Command::CloseLeg { call, leg });
    }

    /// The call ended: every leg is closed and forgotten.
    pub fn close_call(&self, call: Uuid) {
        if let Err(e) = self.send(call, Command::CloseCall { call }) {
            tracing::warn!(error = %e, %call, "media: could not close a call");
        }
    }

    /// Counters summed over the workers.
    pub async fn stats(&self) -> WorkerStats {
        let mut total = WorkerStats::default();
        for w in &self.inner.workers {
            let (reply, rx) = oneshot::channel();
            if w.tx.send(Command::Stats { reply }).await.is_ok() {
                if let Ok(s) = rx.await {
                    total.add(&s);
                }
            }
        }
        total
    }
}
