//! What the waiting room asks the outside world to do after each command. The desk actor
//! routes each effect: citizen and officer notes to their connections, record notes to the
//! store, call notes to the SFU. Effects are data; the core never performs them.

use jiff::{SignedDuration, Timestamp};

use crate::core::ids::{EntryId, UserId};
use crate::core::schedule::{Override, Window};

use super::policy::ClosePolicy;

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Citizen(EntryId, CitizenNote),
    Officer(UserId, OfficerNote),
    Record(RecordNote),
    Call(CallNote),
    /// A supervisor changed the schedule: every override now in force, in order, to be
    /// kept so that a restart restores them (`Schedule::with_overrides`).
    Schedule(Vec<Override>),
}

/// Why a citizen is handed a token for the next window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CarryReason {
    /// At joining, the estimate said they could not be reached before the window closes.
    BeyondWindow,
    /// The window closed while they waited (close policy `carry_over`, or no officer left).
    WindowClosed,
}

/// Who or what ended a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndedBy {
    Officer,
    Citizen,
    /// The citizen's connection was lost and did not come back within the grace period.
    CitizenLost,
    /// The citizen never turned up in the call (the officer said so).
    NoShow,
}

impl EndedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            EndedBy::Officer => "officer",
            EndedBy::Citizen => "citizen",
            EndedBy::CitizenLost => "citizen_lost",
            EndedBy::NoShow => "no_show",
        }
    }
}

/// Why a citizen left the waiting room without a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeftBecause {
    /// They chose to leave.
    Left,
    /// They were disconnected for longer than the grace period.
    GraceExpired,
    /// Their call was answered but they never turned up in it.
    NoShow,
}

impl LeftBecause {
    pub fn as_str(self) -> &'static str {
        match self {
            LeftBecause::Left => "left",
            LeftBecause::GraceExpired => "grace_expired",
            LeftBecause::NoShow => "no_show",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum CitizenNote {
    /// Where they stand. Sent on joining and whenever position, estimate or the number of
    /// officers on duty changes.
    Position {
        position: u32,
        waiting: u32,
        /// `None` when no officer is on duty: we do not pretend to know.
        estimate: Option<SignedDuration>,
        reachable_today: bool,
        officers_on_duty: u32,
    },
    /// An officer is being offered their call right now.
    YouAreNext,
    CallStarted {
        officer_name: String,
    },
    /// The call continues after a reconnect.
    CallResumed {
        officer_name: String,
    },
    CallEnded {
        by: EndedBy,
    },
    /// The officer's connection dropped mid-call; the citizen is back at the front.
    OfficerLost,
    CarriedOver {
        reason: CarryReason,
        next: Option<Window>,
    },
    Left {
        because: LeftBecause,
    },
    Message {
        text: String,
    },
    /// The window closed; `policy` says whether they will still be served today.
    WindowClosed {
        policy: ClosePolicy,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DutyState {
    Off,
    Ready,
    Offered,
    InCall,
    WrapUp,
    /// Missed an offer: gets no more offers until they say they are ready.
    Away,
}

impl DutyState {
    pub fn as_str(self) -> &'static str {
        match self {
            DutyState::Off => "off",
            DutyState::Ready => "ready",
            DutyState::Offered => "offered",
            DutyState::InCall => "in_call",
            DutyState::WrapUp => "wrap_up",
            DutyState::Away => "away",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum OfficerNote {
    Duty(DutyState),
    Offer {
        entry: EntryId,
        waited: SignedDuration,
        expires_at: Timestamp,
    },
    OfferWithdrawn {
        entry: EntryId,
        reason: WithdrawReason,
    },
    CallStarted {
        entry: EntryId,
    },
    PeerLost {
        entry: EntryId,
    },
    CallResumed {
        entry: EntryId,
    },
    CallEnded {
        entry: EntryId,
        by: EndedBy,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithdrawReason {
    TimedOut,
    CitizenLeft,
    CitizenDisconnected,
}

impl WithdrawReason {
    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawReason::TimedOut => "timed_out",
            WithdrawReason::CitizenLeft => "citizen_left",
            WithdrawReason::CitizenDisconnected => "citizen_disconnected",
        }
    }
}

/// Lifecycle facts the complaint record must keep. Every entry that leaves the room does so
/// with exactly one of `Ended`, `Abandoned` or `CarriedOver`.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordNote {
    Offered {
        entry: EntryId,
        officer: UserId,
        officer_name: String,
    },
    Declined {
        entry: EntryId,
        officer: UserId,
        timed_out: bool,
    },
    Answered {
        entry: EntryId,
        officer: UserId,
        officer_name: String,
    },
    Ended {
        entry: EntryId,
        by: EndedBy,
    },
    /// The call broke off (the officer dropped, or the server stopped during it); the
    /// citizen is back at the front.
    Interrupted {
        entry: EntryId,
        officer: UserId,
        reason: InterruptReason,
    },
    /// The officer came back within their grace period and the call goes on.
    Resumed {
        entry: EntryId,
        officer: UserId,
        officer_name: String,
    },
    /// The entry's place in the queue: given on joining, on being put back at the front,
    /// and on restoring. Persisted (until the entry leaves) so that a restart rebuilds the
    /// queue in the same order.
    Placed {
        entry: EntryId,
        class: super::Class,
        seq: u64,
    },
    Abandoned {
        entry: EntryId,
        because: LeftBecause,
    },
    CarriedOver {
        entry: EntryId,
        reason: CarryReason,
        next: Option<Window>,
    },
    /// A carried-over citizen is back in the queue.
    Requeued {
        entry: EntryId,
    },
}

/// Why a call broke off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterruptReason {
    /// The officer's connection dropped.
    OfficerLost,
    /// The server stopped (a crash or a restart) while the call was in progress.
    ServerRestart,
}

impl InterruptReason {
    pub fn as_str(self) -> &'static str {
        match self {
            InterruptReason::OfficerLost => "officer_lost",
            InterruptReason::ServerRestart => "server_restart",
        }
    }
}

/// What the media layer must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallNote {
    Start { entry: EntryId, officer: UserId },
    Stop { entry: EntryId },
}
