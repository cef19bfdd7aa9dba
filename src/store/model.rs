//! The records store's vocabulary: plain data types that cross the store's boundary.
//!
//! Is: complaint records, their history, queue/call events, users. Is not: storage. Nothing
//! here knows about SQL; the string forms (`as_str`/`parse`) are what the database holds and
//! what the JSON APIs show, so changing one is a data migration.

use jiff::Timestamp;
use serde::Serialize;

use crate::core::ids::{DeskId, EntryId, UserId};
use crate::core::intake::Intake;

use super::ser;
use super::string_enum::string_enum;

string_enum!(
    /// How the complaint reached us.
    Channel { Video => "video", Written => "written" }
);

string_enum!(
    /// How the queue treated the case. Changed only by [`RecordEvent`]s (and creation).
    Disposition {
        Waiting => "waiting",
        InCall => "in_call",
        Completed => "completed",
        Abandoned => "abandoned",
        CarriedOver => "carried_over",
        Written => "written",
    }
);

string_enum!(
    /// Where the complaint is in the police workflow. Independent of [`Disposition`]: a
    /// completed call can be anywhere from received to resolved.
    Status {
        Received => "received",
        Forwarded => "forwarded",
        UnderInvestigation => "under_investigation",
        Resolved => "resolved",
    }
);

string_enum!(
    /// A staff account's role.
    Role { Officer => "officer", Supervisor => "supervisor" }
);

string_enum!(
    /// What a history row records.
    HistoryKind {
        Created => "created",
        Offered => "offered",
        OfferDeclined => "offer_declined",
        Answered => "answered",
        Ended => "ended",
        Interrupted => "interrupted",
        Abandoned => "abandoned",
        CarriedOver => "carried_over",
        Requeued => "requeued",
        Resumed => "resumed",
        Note => "note",
        Outcome => "outcome",
        Status => "status",
    }
);

string_enum!(
    /// Where in a waiting room a place is, before first-come-first-served order applies:
    /// interrupted calls first, then tokens from an earlier window, then everyone else.
    QueueClass { Interrupted => "interrupted", Carried => "carried", Normal => "normal" }
);

impl QueueClass {
    /// Front of the queue first.
    pub fn rank(self) -> u8 {
        match self {
            QueueClass::Interrupted => 0,
            QueueClass::Carried => 1,
            QueueClass::Normal => 2,
        }
    }
}

/// A citizen's place in a desk's waiting room, kept so that a restart restores the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuePlace {
    pub id: EntryId,
    pub desk: DeskId,
    pub class: QueueClass,
    /// Order within the class; larger is later. At most `i64::MAX`.
    pub seq: u64,
    pub at: Timestamp,
}

string_enum!(
    /// What a supervisor did to a desk's hearing window.
    OverrideKind { Opened => "opened", Extended => "extended", Closed => "closed" }
);

/// A supervisor's change to a desk's schedule over the half-open interval `[from, until)`:
/// a window opened, a window kept open longer, or the rest of a window closed. Kept so that
/// a restart keeps it (see `migrations/*/0005_schedule_overrides.sql`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleOverride {
    pub kind: OverrideKind,
    pub from: Timestamp,
    pub until: Timestamp,
}

/// Which node owns a desk's waiting room, until when (see `migrations/*/0004_desk_leases.sql`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeskLease {
    pub desk: DeskId,
    pub node: String,
    /// Where other nodes reach the owner's HTTP listener.
    pub url: String,
    /// Goes up by one every time the desk changes hands.
    pub epoch: u64,
    pub until: Timestamp,
    /// The desk's counts as of the owner's last renewal.
    pub counts: DeskCounts,
}

/// A record write made on behalf of a desk's owner: refused (`StoreError::Fenced`) unless
/// `node` still holds the desk's lease in `epoch`, so that a node that lost a desk cannot
/// write into the room another node has taken over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub desk: DeskId,
    pub node: String,
    pub epoch: u64,
}

/// How many are waiting, in a call, and on duty at a desk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeskCounts {
    pub waiting: u32,
    pub in_call: u32,
    pub officers_on_duty: u32,
}

/// A record still in a desk's waiting room (waiting or in a call), with its place if one
/// was written.
#[derive(Clone, Debug)]
pub struct OpenEntry {
    pub complaint: Complaint,
    pub place: Option<(QueueClass, u64)>,
}

/// A complaint's public reference, e.g. `PRY-2026-000123`: desk prefix, year in the desk's
/// time zone at creation, and a per-(prefix, year) sequence number. Citizens read it out on
/// the phone, so it is short, uppercase and unambiguous.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Reference(pub(super) String);

impl Reference {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical form of a reference as a citizen might type it: trimmed, uppercase.
    pub fn normalize(typed: &str) -> String {
        typed.trim().to_ascii_uppercase()
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who did something to a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    Citizen,
    User {
        #[serde(serialize_with = "ser::display")]
        id: UserId,
        name: String,
    },
    System,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Citizen => f.write_str("citizen"),
            Actor::System => f.write_str("system"),
            Actor::User { name, .. } => f.write_str(name),
        }
    }
}

/// A new complaint, written when a citizen joins a waiting room or files in writing.
#[derive(Clone, Debug)]
pub struct NewComplaint {
    pub id: EntryId,
    pub desk: DeskId,
    /// The desk's reference prefix: 2 to 6 ASCII uppercase letters.
    pub prefix: String,
    /// The desk's time zone; decides which year the reference carries.
    pub tz: jiff::tz::TimeZone,
    pub channel: Channel,
    pub intake: Intake,
    pub created_at: Timestamp,
    /// SHA-256 of the citizen's ticket (their bearer token for the waiting room).
    pub ticket_hash: Option<[u8; 32]>,
}

/// Something that happened to a case in the queue or in its call.
#[derive(Clone, Debug)]
pub enum RecordEvent {
    Offered {
        id: EntryId,
        at: Timestamp,
        officer: UserId,
        officer_name: String,
    },
    OfferDeclined {
        id: EntryId,
        at: Timestamp,
        officer: UserId,
        timed_out: bool,
    },
    Answered {
        id: EntryId,
        at: Timestamp,
        officer: UserId,
        officer_name: String,
    },
    /// `by` is "officer", "citizen" or "server".
    Ended {
        id: EntryId,
        at: Timestamp,
        by: String,
    },
    /// The call broke off (the officer's connection, a server restart); the citizen is
    /// back in the queue.
    Interrupted {
        id: EntryId,
        at: Timestamp,
        reason: String,
    },
    Abandoned {
        id: EntryId,
        at: Timestamp,
        reason: String,
    },
    CarriedOver {
        id: EntryId,
        at: Timestamp,
        next_window_opens_at: Option<Timestamp>,
    },
    /// A carried-over citizen is back in a queue.
    Requeued { id: EntryId, at: Timestamp },
    /// An interrupted call goes on with the same officer.
    Resumed {
        id: EntryId,
        at: Timestamp,
        officer: UserId,
        officer_name: String,
    },
    /// History only (for example monitoring started or stopped).
    Note {
        id: EntryId,
        at: Timestamp,
        actor: Actor,
        text: String,
    },
}

impl RecordEvent {
    pub fn id(&self) -> EntryId {
        self.key().0
    }

    pub fn at(&self) -> Timestamp {
        self.key().1
    }

    fn key(&self) -> (EntryId, Timestamp) {
        use RecordEvent::*;
        match self {
            Offered { id, at, .. }
            | OfferDeclined { id, at, .. }
            | Answered { id, at, .. }
            | Ended { id, at, .. }
            | Interrupted { id, at, .. }
            | Abandoned { id, at, .. }
            | CarriedOver { id, at, .. }
            | Requeued { id, at }
            | Resumed { id, at, .. }
            | Note { id, at, .. } => (*id, *at),
        }
    }
}

/// What the officer decided. Saved again, it replaces the previous one (history keeps both).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub category: String,
    /// The police station the complaint is forwarded to; empty while undecided.
    pub station: String,
    pub action: String,
    pub notes: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: HistoryKind,
    /// As written: English, for logs and exports.
    pub detail: String,
    /// The detail as words for a page to say in its own language (`said`).
    pub said: super::said::Said,
    /// The status after this entry, on entries that set one (creation, status changes).
    pub status: Option<Status>,
}

/// A full complaint record, as staff see it.
#[derive(Clone, Debug, Serialize)]
pub struct Complaint {
    #[serde(serialize_with = "ser::display")]
    pub id: EntryId,
    pub reference: Reference,
    #[serde(serialize_with = "ser::display")]
    pub desk: DeskId,
    pub channel: Channel,
    #[serde(serialize_with = "ser::intake")]
    pub intake: Intake,
    pub created_at: Timestamp,
    pub offered_at: Option<Timestamp>,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub wait_secs: Option<i64>,
    pub talk_secs: Option<i64>,
    #[serde(serialize_with = "ser::opt_display")]
    pub officer: Option<UserId>,
    pub officer_name: Option<String>,
    pub disposition: Disposition,
    pub outcome: Option<Outcome>,
    pub status: Status,
    /// When anything about the record last changed.
    pub updated_at: Timestamp,
    /// Oldest first. Empty in lists ([`Store::list`](super::Store::list)), which skip it.
    pub history: Vec<HistoryEntry>,
}

/// What a citizen may see about their own complaint: no officer notes, no staff names, no
/// other person's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusView {
    pub reference: Reference,
    pub status: Status,
    /// The station it was forwarded to, once there is one.
    pub station: Option<String>,
    pub created_at: Timestamp,
    /// When the status last changed.
    pub updated_at: Timestamp,
    /// Status changes, oldest first.
    pub history: Vec<StatusChange>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusChange {
    pub at: Timestamp,
    pub status: Status,
}

/// Which complaints to list or export. `since` is inclusive, `until` exclusive (creation
/// time). `text` matches a substring of reference, name or mobile, ignoring ASCII case.
#[derive(Clone, Debug)]
pub struct Filter {
    pub desk: Option<DeskId>,
    pub status: Option<Status>,
    pub disposition: Option<Disposition>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub text: Option<String>,
    /// 0 means the default (100); more than 1000 is capped at 1000. Export ignores it.
    pub limit: u32,
    pub offset: u32,
}

impl Filter {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 1000;

    pub(super) fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => Self::DEFAULT_LIMIT,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            desk: None,
            status: None,
            disposition: None,
            since: None,
            until: None,
            text: None,
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct NewUser {
    /// Case-insensitive; stored trimmed and lowercased.
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// `None`: all desks (supervisors).
    pub desk: Option<DeskId>,
    pub password_phc: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    #[serde(serialize_with = "ser::display")]
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    #[serde(serialize_with = "ser::opt_display")]
    pub desk: Option<DeskId>,
    pub disabled: bool,
    pub created_at: Timestamp,
}

/// A user with their password hash: only for verifying a login. Deliberately not
/// `Serialize`, so the hash cannot end up in a JSON response by accident.
#[derive(Clone, Debug)]
pub struct UserWithHash {
    pub user: User,
    pub password_phc: String,
}
