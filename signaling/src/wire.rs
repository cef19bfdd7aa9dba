//! The messages of the signaling protocol, exactly as they travel over `/ws`.
//!
//! Every frame is one JSON object tagged by `"type"` (snake_case). [`ClientMsg`] is
//! everything a browser may send, [`ServerMsg`] everything the server may send. Both sets
//! are closed per protocol version; see `docs/protocol.md` for the rules that keep old
//! clients working when the protocol grows:
//!
//! * unknown fields are ignored (no `deny_unknown_fields` anywhere),
//! * a field added later is `#[serde(default)]`,
//! * a tag is never repurposed; a message whose meaning changes gets a new tag,
//! * enums the server sends have an `unknown` catch-all so an old client can still read
//!   the rest of a message that carries a value it does not know.
//!
//! These are plain data. They know nothing of the server's core types; the server
//! translates between the two at its edge.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The protocol version a client announces in `hello` and the server echoes in `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest text frame the server accepts, in bytes. Larger frames are answered with
/// `error { code: "too_large" }` (or the connection is closed with [`close_code::TOO_BIG`]
/// when the WebSocket layer refuses it outright).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// WebSocket close codes the server uses. The 4xxx codes are this protocol's own.
pub mod close_code {
    /// Normal closure: the client said goodbye, or the server finished with it.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down; reconnect with back-off.
    pub const GOING_AWAY: u16 = 1001;
    /// A binary frame or another protocol violation.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// The `Origin` header was refused or the client broke a rule it was told about.
    pub const POLICY: u16 = 1008;
    /// A frame larger than [`crate::MAX_MESSAGE_BYTES`].
    pub const TOO_BIG: u16 = 1009;
    /// The server failed; reconnect with back-off.
    pub const INTERNAL: u16 = 1011;
    /// No `hello` arrived in time after the connection opened.
    pub const HELLO_TIMEOUT: u16 = 4000;
    /// The same ticket or staff session connected again elsewhere; this connection is
    /// replaced. Do not reconnect automatically (two tabs would fight).
    pub const SUPERSEDED: u16 = 4001;
    /// The staff session expired or was revoked; sign in again.
    pub const SESSION_ENDED: u16 = 4002;
    /// Neither messages nor pongs arrived for too long.
    pub const IDLE_TIMEOUT: u16 = 4003;
    /// Too many bad or excessive messages; the client is misbehaving.
    pub const ABUSE: u16 = 4004;
}

fn default_language() -> String {
    "hi".to_owned()
}

// ---------------------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------------------

/// Everything a client may send. Requests carry a client-chosen `id`; the server's reply
/// carries the same number as `re`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message on every connection. No `id`: the reply is `welcome` or `error`.
    Hello {
        v: u32,
        /// Staff session token from the HTTP sign-in. Absent for citizens.
        #[serde(default)]
        session: Option<String>,
        /// A citizen's ticket from an earlier `joined`, to resume their place.
        #[serde(default)]
        ticket: Option<String>,
        /// Preferred UI language, e.g. "hi" or "en".
        #[serde(default)]
        lang: Option<String>,
    },

    // -- citizen --
    /// Take a place in a desk's waiting room. Reply: `joined` or `error`.
    Join {
        id: u64,
        desk: String,
        intake: IntakeMsg,
    },
    /// Give up the place in the waiting room.
    Leave {
        id: u64,
    },
    /// End the current call from the citizen's side.
    Hangup {
        id: u64,
    },

    // -- officer --
    GoOnDuty {
        id: u64,
    },
    GoOffDuty {
        id: u64,
    },
    /// End wrap-up early and take the next citizen.
    Ready {
        id: u64,
    },
    Accept {
        id: u64,
        entry: Uuid,
    },
    Decline {
        id: u64,
        entry: Uuid,
    },
    EndCall {
        id: u64,
        /// The citizen never turned up in the call: the record says so instead of
        /// counting a completed call.
        #[serde(default)]
        no_show: bool,
    },
    SaveOutcome {
        id: u64,
        entry: Uuid,
        outcome: OutcomeMsg,
    },

    // -- supervisor --
    /// Subscribe to a desk's live snapshot (`desk` messages).
    Watch {
        id: u64,
        desk: String,
    },
    Unwatch {
        id: u64,
        desk: String,
    },
    OpenWindow {
        id: u64,
        desk: String,
        minutes: u32,
    },
    CloseWindow {
        id: u64,
        desk: String,
    },
    ExtendWindow {
        id: u64,
        desk: String,
        minutes: u32,
    },
    /// Send a `message` to every citizen waiting at the desk.
    Broadcast {
        id: u64,
        desk: String,
        text: String,
    },
    /// Join a call silently to listen in.
    Monitor {
        id: u64,
        entry: Uuid,
    },
    StopMonitor {
        id: u64,
        entry: Uuid,
    },

    // -- media (any role in a call) --
    /// An SDP offer or answer. Reply: `ok` or `error`; the remote description follows as
    /// a separate `sdp` from the server.
    Sdp {
        id: u64,
        description: SessionDescription,
    },
    /// A trickled ICE candidate. Fire and forget: no `id`, no reply.
    Ice {
        candidate: IceCandidate,
    },
    /// No more candidates will follow. Fire and forget.
    EndOfCandidates {},

    /// Application-level keepalive and round-trip probe. Reply: `pong`.
    Ping {
        id: u64,
    },
}

impl ClientMsg {
    /// Every `"type"` tag of [`ClientMsg`], in declaration order.
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "join",
        "leave",
        "hangup",
        "go_on_duty",
        "go_off_duty",
        "ready",
        "accept",
        "decline",
        "end_call",
        "save_outcome",
        "watch",
        "unwatch",
        "open_window",
        "close_window",
        "extend_window",
        "broadcast",
        "monitor",
        "stop_monitor",
        "sdp",
        "ice",
        "end_of_candidates",
        "ping",
    ];

    /// The request id the server must echo as `re`, if this message is a request.
    pub fn request_id(&self) -> Option<u64> {
        use ClientMsg::*;
        match self {
            Hello { .. } | Ice { .. } | EndOfCandidates {} => None,
            Join { id, .. }
            | Leave { id }
            | Hangup { id }
            | GoOnDuty { id }
            | GoOffDuty { id }
            | Ready { id }
            | Accept { id, .. }
            | Decline { id, .. }
            | EndCall { id, .. }
            | SaveOutcome { id, .. }
            | Watch { id, .. }
            | Unwatch { id, .. }
            | OpenWindow { id, .. }
            | CloseWindow { id, .. }
            | ExtendWindow { id, .. }
            | Broadcast { id, .. }
            | Monitor { id, .. }
            | StopMonitor { id, .. }
            | Sdp { id, .. }
            | Ping { id } => Some(*id),
        }
    }

    /// The `"type"` tag of this message, for logs and metrics.
    pub fn type_name(&self) -> &'static str {
        use ClientMsg::*;
        match self {
            Hello { .. } => "hello",
            Join { .. } => "join",
            Leave { .. } => "leave",
            Hangup { .. } => "hangup",
            GoOnDuty { .. } => "go_on_duty",
            GoOffDuty { .. } => "go_off_duty",
            Ready { .. } => "ready",
            Accept { .. } => "accept",
            Decline { .. } => "decline",
            EndCall { .. } => "end_call",
            SaveOutcome { .. } => "save_outcome",
            Watch { .. } => "watch",
            Unwatch { .. } => "unwatch",
            OpenWindow { .. } => "open_window",
            CloseWindow { .. } => "close_window",
            ExtendWindow { .. } => "extend_window",
            Broadcast { .. } => "broadcast",
            Monitor { .. } => "monitor",
            StopMonitor { .. } => "stop_monitor",
            Sdp { .. } => "sdp",
            Ice { .. } => "ice",
            EndOfCandidates {} => "end_of_candidates",
            Ping { .. } => "ping",
        }
    }
}

/// A citizen's intake as typed into the form. Unvalidated: the server validates it and
/// answers `error { code: "invalid_input", field: "<name>" }` for the first bad field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntakeMsg {
    pub name: String,
    pub mobile: String,
    pub area: String,
    pub category: String,
    #[serde(default)]
    pub description: String,
    /// "hi" (default) or "en".
    #[serde(default = "default_language")]
    pub language: String,
    /// The citizen agreed to the recorded hearing terms. Must be `true`.
    pub consent: bool,
}

/// What the officer records at the end of a hearing. Every field may be left empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeMsg {
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub station: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub notes: String,
}

/// An SDP blob and its kind. Shaped like the browser's `RTCSessionDescriptionInit`, with
/// the kind under `sdp_type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionDescription {
    pub sdp_type: SdpKind,
    pub sdp: String,
}

/// `RTCSdpType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SdpKind {
    Offer,
    Answer,
    Pranswer,
    Rollback,
}

/// A trickled ICE candidate: the browser's `RTCIceCandidateInit` in snake_case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default)]
    pub sdp_mline_index: Option<u16>,
    #[serde(default)]
    pub username_fragment: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------------------

/// Everything the server may send.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Answer to a good `hello`.
    Welcome(Welcome),
    /// A request succeeded and has nothing else to say.
    Ok {
        re: u64,
    },
    /// A request (or, with `re: null`, a frame without a readable id) failed.
    Error {
        #[serde(default)]
        re: Option<u64>,
        code: ErrorCode,
        message: String,
        /// The offending field for `invalid_input`, e.g. "mobile".
        #[serde(default)]
        field: Option<String>,
    },

    // -- citizen --
    /// Answer to `join`: the citizen has a place. Keep `ticket` to resume after a reload.
    Joined {
        re: u64,
        entry: Uuid,
        reference: String,
        ticket: String,
        desk: String,
    },
    /// The citizen's place in the queue; sent on join and whenever it changes.
    Queue {
        position: u32,
        waiting: u32,
        /// `null` when no officer is on duty: the wait is honestly unknown.
        #[serde(default)]
        estimate_secs: Option<u64>,
        /// Whether the citizen is likely to be heard before today's window closes.
        reachable_today: bool,
        officers_on_duty: u32,
        window: WindowInfo,
    },
    /// The window closed (or will close) before the citizen's turn; their place carries
    /// to the next window.
    CarriedOver {
        reference: String,
        #[serde(default)]
        next_opens_at: Option<String>,
        reason: CarryReason,
    },
    /// An officer is being offered this citizen right now.
    YouAreNext {},
    /// A call began. For the officer, `peer_name` is the citizen's name; for the citizen,
    /// the officer's display name.
    CallStarted {
        entry: Uuid,
        reference: String,
        peer_name: String,
    },
    /// The call ended. `by` is "officer", "citizen" or "citizen_lost" (the citizen's
    /// connection did not come back within the grace period); more may be added.
    CallEnded {
        entry: Uuid,
        reference: String,
        by: String,
    },
    /// The call goes on after one side reconnected.
    CallResumed {
        entry: Uuid,
        reference: String,
        peer_name: String,
    },
    /// (Officer) the citizen's connection dropped mid-call; the call is held for the
    /// citizen's grace period, then ends.
    PeerLost {
        entry: Uuid,
    },
    /// (Citizen) the officer's connection dropped mid-call; the citizen is back at the
    /// front of the queue, and `queue` messages follow.
    OfficerLost {},
    /// The citizen lost their place, e.g. `reason: "grace_expired"`.
    Removed {
        reason: String,
    },
    /// A staff broadcast to waiting citizens.
    Message {
        text: String,
        at: String,
    },
    /// The window is closing or has just closed (`closes_at` may be now). `policy` says
    /// what happens to those still waiting: "serve_all" (still heard today) or
    /// "carry_over" (a `carried_over` follows).
    WindowClosing {
        closes_at: String,
        policy: String,
    },

    // -- officer --
    /// The officer's duty state changed.
    Duty {
        state: DutyState,
    },
    /// A citizen is offered to this officer; `accept` or `decline` within
    /// `expires_in_secs`.
    Offer {
        entry: Uuid,
        reference: String,
        intake: IntakeView,
        waited_secs: u64,
        expires_in_secs: u64,
    },
    /// The offer is gone: `reason` is "timed_out", "citizen_left" or
    /// "citizen_disconnected"; more may be added.
    OfferWithdrawn {
        entry: Uuid,
        reason: String,
    },

    // -- supervisor, and the officer's queue glance --
    /// A desk's live state, for watchers.
    Desk {
        snapshot: DeskSnapshot,
    },

    // -- media --
    Sdp {
        description: SessionDescription,
    },
    Ice {
        candidate: IceCandidate,
    },
    EndOfCandidates {},
    /// The media of one side of the call (`side`: `citizen` or `officer`) stopped arriving
    /// at the server (`reconnecting`: their network dropped or they reloaded; the call is
    /// kept) or arrives again (`connected`). Sent to the other side and to a monitoring
    /// supervisor; a page's own connection state comes from its peer connection.
    PeerMedia {
        side: Role,
        state: PeerMediaState,
    },
    /// Make a new offer on the same peer connection: the server's answer will put first
    /// the video codec the other side can decode.
    Renegotiate {},
    /// `side`'s video stopped (`paused`) or flows again (`flowing`) because `link`'s
    /// connection (`citizen` or `officer`: the sender's uplink or the receiver's downlink)
    /// is too weak for video, or has recovered. Speech goes on either way. Sent to both
    /// sides of the call; the page of `side` stops encoding video while it is paused.
    Video {
        side: Role,
        state: VideoState,
        link: Role,
    },

    /// Answer to `ping`.
    Pong {
        re: u64,
    },
}

impl ServerMsg {
    /// Every `"type"` tag of [`ServerMsg`], in declaration order.
    pub const TYPES: &'static [&'static str] = &[
        "welcome",
        "ok",
        "error",
        "joined",
        "queue",
        "carried_over",
        "you_are_next",
        "call_started",
        "call_ended",
        "call_resumed",
        "peer_lost",
        "officer_lost",
        "removed",
        "message",
        "window_closing",
        "duty",
        "offer",
        "offer_withdrawn",
        "desk",
        "sdp",
        "ice",
        "end_of_candidates",
        "peer_media",
        "renegotiate",
        "video",
        "pong",
    ];

    /// The request id this message answers, if it is a reply.
    pub fn reply_to(&self) -> Option<u64> {
        match self {
            ServerMsg::Ok { re } | ServerMsg::Joined { re, .. } | ServerMsg::Pong { re } => {
                Some(*re)
            }
            ServerMsg::Error { re, .. } => *re,
            _ => None,
        }
    }

    /// The `"type"` tag of this message, for logs and metrics.
    pub fn type_name(&self) -> &'static str {
        use ServerMsg::*;
        match self {
            Welcome(_) => "welcome",
            Ok { .. } => "ok",
            Error { .. } => "error",
            Joined { .. } => "joined",
            Queue { .. } => "queue",
            CarriedOver { .. } => "carried_over",
            YouAreNext {} => "you_are_next",
            CallStarted { .. } => "call_started",
            CallEnded { .. } => "call_ended",
            CallResumed { .. } => "call_resumed",
            PeerLost { .. } => "peer_lost",
            OfficerLost {} => "officer_lost",
            Removed { .. } => "removed",
            Message { .. } => "message",
            WindowClosing { .. } => "window_closing",
            Duty { .. } => "duty",
            Offer { .. } => "offer",
            OfferWithdrawn { .. } => "offer_withdrawn",
            Desk { .. } => "desk",
            Sdp { .. } => "sdp",
            Ice { .. } => "ice",
            EndOfCandidates {} => "end_of_candidates",
            PeerMedia { .. } => "peer_media",
            Renegotiate {} => "renegotiate",
            Video { .. } => "video",
            Pong { .. } => "pong",
        }
    }

    /// Shorthand for an `error` reply.
    pub fn error(re: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMsg::Error {
            re,
            code,
            message: message.into(),
            field: None,
        }
    }
}

/// The body of `welcome`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The protocol version the server speaks on this connection.
    pub v: u32,
    pub role: Role,
    /// The staff member's display name; `null` for citizens.
    #[serde(default)]
    pub name: Option<String>,
    /// Desks this connection may use (citizens: all public desks; staff: theirs).
    pub desks: Vec<DeskInfo>,
    /// STUN/TURN servers for `RTCPeerConnection`.
    pub ice_servers: Vec<IceServer>,
    /// Citizens only, when media is on: at this position or nearer the front, set up the
    /// media connection while still waiting, so the call starts without delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instant_connect_position: Option<u32>,
    /// Set when a citizen's `ticket` was recognised.
    #[serde(default)]
    pub resumed: Option<Resumed>,
}

/// Whether one side's media reaches the server (see [`ServerMsg::PeerMedia`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerMediaState {
    Reconnecting,
    Connected,
    /// A state this client does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

/// Whether one side's video is forwarded (see [`ServerMsg::Video`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoState {
    Paused,
    Flowing,
    /// A state this client does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

/// Who is on the other end of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Officer,
    Supervisor,
    /// A role this client does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

/// A desk a client can see.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeskInfo {
    pub id: String,
    pub name: String,
    pub window: WindowInfo,
}

/// A desk's hearing window. While `open`, `opens_at`/`closes_at` describe the current
/// window; while closed, `next_opens_at`/`next_closes_at` describe the next one. A time
/// that is `null` is not scheduled or not known; clients must not assume the other pair is
/// filled in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowInfo {
    pub open: bool,
    #[serde(default)]
    pub opens_at: Option<String>,
    #[serde(default)]
    pub closes_at: Option<String>,
    #[serde(default)]
    pub next_opens_at: Option<String>,
    #[serde(default)]
    pub next_closes_at: Option<String>,
}

/// One STUN or TURN server, shaped like the browser's `RTCIceServer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub credential: Option<String>,
}

/// What a citizen who resumed with a ticket still has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resumed {
    pub entry: Uuid,
    pub reference: String,
    pub desk: String,
    /// "waiting", "in_call", "carried_over", or the record's final state such as
    /// "completed" or "abandoned"; more may be added.
    pub state: String,
}

/// Why a citizen's place moved to the next window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarryReason {
    /// The queue ahead is longer than what the rest of the window can serve.
    BeyondWindow,
    /// The window closed while the citizen was waiting.
    WindowClosed,
    #[serde(other)]
    Unknown,
}

/// An officer's duty state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DutyState {
    Off,
    Ready,
    Offered,
    InCall,
    WrapUp,
    Away,
    #[serde(other)]
    Unknown,
}

/// The intake as an officer sees it (validated, normalised by the server).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntakeView {
    pub name: String,
    pub mobile: String,
    pub area: String,
    pub category: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_language")]
    pub language: String,
}

/// A desk's live state for supervisors (and officers' queue glance).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeskSnapshot {
    pub desk: String,
    /// When the snapshot was taken.
    pub at: String,
    pub window: WindowInfo,
    pub waiting: u32,
    pub longest_wait_secs: u64,
    #[serde(default)]
    pub avg_wait_secs: Option<u64>,
    #[serde(default)]
    pub avg_call_secs: Option<u64>,
    pub calls_today: u32,
    pub abandoned_today: u32,
    pub carried_over_today: u32,
    /// How many will still be waiting at close at the current pace; `null` if unknown.
    #[serde(default)]
    pub projected_backlog_at_close: Option<u32>,
    pub categories: Vec<CategoryCount>,
    pub officers: Vec<OfficerView>,
    pub queue: Vec<QueueItem>,
}

/// How many waiting citizens gave this category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryCount {
    pub category: String,
    pub count: u32,
}

/// One officer in a desk snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OfficerView {
    pub id: Uuid,
    pub name: String,
    pub state: DutyState,
    /// The citizen offered to or talking with the officer.
    #[serde(default)]
    pub entry: Option<Uuid>,
    /// When the officer entered `state`.
    pub since: String,
    /// In a call whose media one side is reconnecting (their network dropped, they
    /// reloaded): whose. Left out otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnecting: Option<Role>,
}

/// One waiting citizen in a desk snapshot, in queue order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    pub entry: Uuid,
    pub reference: String,
    pub name: String,
    pub category: String,
    pub waited_secs: u64,
    /// Whether the citizen's browser is connected right now (else in reconnect grace).
    pub connected: bool,
}

/// Why a request failed. Stable: codes are never renamed or reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, not an object, or a known type with missing or ill-typed fields.
    Malformed,
    /// `"type"` missing or not a type this server knows.
    UnknownType,
    /// The frame exceeds [`MAX_MESSAGE_BYTES`].
    TooLarge,
    /// `hello.v` is a version the server does not speak.
    UnsupportedVersion,
    /// Something other than `hello` came first.
    HelloRequired,
    /// The role or state of this connection does not permit the request.
    NotAllowed,
    /// Valid in general, but not now (e.g. `accept` without an offer).
    OutOfOrder,
    /// A field failed validation; see `field`.
    InvalidInput,
    UnknownDesk,
    WindowClosed,
    QueueFull,
    /// The entry, ticket or session does not exist (any more).
    NotFound,
    RateLimited,
    /// A dependency (e.g. the media server) is unavailable; retry later.
    Unavailable,
    /// The server is shutting down (a restart, usually): no new joins. Retry in a minute.
    ShuttingDown,
    Internal,
    /// A code this client does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The wire name, e.g. "not_allowed".
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Malformed => "malformed",
            UnknownType => "unknown_type",
            TooLarge => "too_large",
            UnsupportedVersion => "unsupported_version",
            HelloRequired => "hello_required",
            NotAllowed => "not_allowed",
            OutOfOrder => "out_of_order",
            InvalidInput => "invalid_input",
            UnknownDesk => "unknown_desk",
            WindowClosed => "window_closed",
            QueueFull => "queue_full",
            NotFound => "not_found",
            RateLimited => "rate_limited",
            Unavailable => "unavailable",
            ShuttingDown => "shutting_down",
            Internal => "internal",
            Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
