//! The waiting room of one desk and its dispatch: first come, first served; any number of
//! on-duty officers, each with at most one caller; offers with an accept timeout; grace
//! periods for dropped citizens; window-aware admission and close policies.
//!
//! Pure and deterministic: `handle(command, now)` changes the state and returns effects;
//! `tick(now)` fires whatever timers are due; `next_deadline()` says when to call `tick`
//! next. No I/O, no clock, no randomness. A command that fails changes nothing.
//!
//! Invariants (checked by `check_invariants`, exercised by property tests):
//! - queue positions are exactly 1..=n with no gaps;
//! - no citizen is with two officers, no officer has two citizens, and the officer and
//!   entry sides of every offer and call agree;
//! - an entry leaves the room only with a record note saying how (ended, abandoned,
//!   carried over): nobody disappears.
//! - every entry's place in the queue is announced as a `RecordNote::Placed` whenever it is
//!   given one, so that the persisted places plus the records rebuild the room after a
//!   restart ([`Room::restore`], in `restore.rs`).

mod citizen;
mod dispatch;
pub mod effects;
pub mod estimate;
mod officer;
pub mod policy;
mod restore;
#[cfg(test)]
mod tests;
mod view;

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};

use crate::core::ids::{EntryId, UserId};
use crate::core::intake::Intake;
use crate::core::schedule::{Schedule, ScheduleError, Window, WindowStatus};

pub use effects::*;
pub use estimate::Estimator;
pub use policy::{ClosePolicy, LateJoin, Policy};
pub use restore::{Saved, Today};
pub use view::{OfficerView, QueueItemView, RoomView};

/// Where in the queue an entry stands, before first-come-first-served order applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Put back after their officer dropped mid-call: front of the queue.
    Interrupted = 0,
    /// Holds a token from an earlier window: ahead of today's new arrivals.
    Carried = 1,
    Normal = 2,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Join {
        entry: EntryId,
        intake: Intake,
        class: Class,
    },
    Leave {
        entry: EntryId,
    },
    Hangup {
        entry: EntryId,
    },
    CitizenLost {
        entry: EntryId,
    },
    CitizenBack {
        entry: EntryId,
    },
    OnDuty {
        officer: UserId,
        name: String,
    },
    OffDuty {
        officer: UserId,
    },
    OfficerLost {
        officer: UserId,
    },
    Ready {
        officer: UserId,
    },
    Accept {
        officer: UserId,
        entry: EntryId,
    },
    Decline {
        officer: UserId,
        entry: EntryId,
    },
    EndCall {
        officer: UserId,
    },
    /// The officer ends a call the citizen never turned up in.
    NoShow {
        officer: UserId,
    },
    Broadcast {
        text: String,
    },
    OpenNow {
        minutes: u32,
    },
    CloseNow,
    Extend {
        minutes: u32,
    },
    /// The server is shutting down: refuse joins and make no new offers; calls in
    /// progress (and offers already made) go on.
    Drain,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RoomError {
    #[error("the hearing window is closed")]
    WindowClosed { next: Option<Window> },
    #[error("the queue is full")]
    QueueFull,
    #[error("this citizen is already in the queue")]
    AlreadyQueued,
    #[error("no such citizen in this waiting room")]
    UnknownEntry,
    #[error("the officer is not on duty")]
    NotOnDuty,
    #[error("there is no such offer for this officer")]
    NoSuchOffer,
    #[error("not in a call")]
    NotInCall,
    #[error("end the current call first")]
    InCall,
    #[error("a message must be 1 to {0} characters")]
    BadMessage(usize),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

pub const MESSAGE_MAX: usize = 280;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntryState {
    Waiting,
    Offered {
        officer: UserId,
        expires_at: Timestamp,
    },
    InCall {
        officer: UserId,
        since: Timestamp,
    },
}

/// What a citizen was last told, so that unchanged positions are not resent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Told {
    position: u32,
    estimate_min: Option<i64>,
    reachable: bool,
    officers: u32,
}

#[derive(Clone, Debug)]
struct Entry {
    intake: Intake,
    joined_at: Timestamp,
    key: (Class, u64),
    state: EntryState,
    /// Set while the citizen's connection is gone; they keep their place until grace ends.
    lost_since: Option<Timestamp>,
    /// Officers who declined or missed this citizen: not offered to them again.
    declined_by: Vec<UserId>,
    told: Option<Told>,
    /// Set when this citizen's officer dropped mid-call: that officer resumes the call if
    /// they are back on duty before the time given and the citizen is still waiting.
    held_for: Option<(UserId, Timestamp)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OfficerState {
    Ready,
    Offered { entry: EntryId },
    InCall { entry: EntryId },
    WrapUp { until: Timestamp },
    Away,
}

#[derive(Clone, Debug)]
struct Officer {
    name: String,
    state: OfficerState,
    /// When the current state began (longest-idle officers get offers first).
    since: Timestamp,
    last_call_ended: Option<Timestamp>,
}

/// Counters for the supervisor's wallboard, reset when the desk's local date changes.
#[derive(Clone, Debug, Default)]
struct DayStats {
    date: Option<jiff::civil::Date>,
    calls: u32,
    answered: u32,
    total_wait: SignedDuration,
    total_talk: SignedDuration,
    abandoned: u32,
    carried_over: u32,
}

#[derive(Clone, Debug)]
pub struct Room {
    policy: Policy,
    schedule: Schedule,
    estimator: Estimator,
    entries: HashMap<EntryId, Entry>,
    /// Queue order of entries not in a call.
    order: BTreeMap<(Class, u64), EntryId>,
    officers: BTreeMap<UserId, Officer>,
    next_seq: u64,
    /// Whether the window was open when last looked at; `None` before the first look.
    was_open: Option<bool>,
    stats: DayStats,
    scratch: Vec<SignedDuration>,
    /// Set by `Command::Drain`: no joins, no new offers.
    draining: bool,
}

impl Room {
    pub fn new(policy: Policy, schedule: Schedule) -> Self {
        let estimator = Estimator::new(policy.assumed_call, policy.wrap_up / 2);
        Self {
            policy,
            schedule,
            estimator,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            officers: BTreeMap::new(),
            next_seq: 0,
            was_open: None,
            stats: DayStats::default(),
            scratch: Vec::new(),
            draining: false,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// What the room has measured (call length, pause, give-up rate) for its estimates.
    pub fn estimator(&self) -> &Estimator {
        &self.estimator
    }

    /// Number of citizens in the room (waiting, offered or in a call).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, entry: EntryId) -> bool {
        self.entries.contains_key(&entry)
    }

    /// Whether `Command::Drain` was applied.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Whether any call or offer is in progress (a draining desk waits for none).
    pub fn is_busy(&self) -> bool {
        self.officers.values().any(|o| {
            matches!(
                o.state,
                OfficerState::Offered { .. } | OfficerState::InCall { .. }
            )
        })
    }

    /// Applies one command at `now`. On error nothing has changed.
    pub fn handle(&mut self, cmd: Command, now: Timestamp) -> Result<Vec<Effect>, RoomError> {
        let mut fx = Vec::new();
        self.observe_window(now, &mut fx);
        match cmd {
            Command::Join {
                entry,
                intake,
                class,
            } => self.join(entry, intake, class, now, &mut fx)?,
            Command::Leave { entry } => self.leave(entry, now, &mut fx)?,
            Command::Hangup { entry } => self.hangup(entry, now, &mut fx)?,
            Command::CitizenLost { entry } => self.citizen_lost(entry, now, &mut fx)?,
            Command::CitizenBack { entry } => self.citizen_back(entry, now, &mut fx)?,
            Command::OnDuty { officer, name } => self.on_duty(officer, name, now, &mut fx),
            Command::OffDuty { officer } => self.off_duty(officer, &mut fx)?,
            Command::OfficerLost { officer } => self.officer_lost(officer, now, &mut fx)?,
            Command::Ready { officer } => self.ready(officer, now, &mut fx)?,
            Command::Accept { officer, entry } => self.accept(officer, entry, now, &mut fx)?,
            Command::Decline { officer, entry } => self.decline(officer, entry, now, &mut fx)?,
            Command::EndCall { officer } => self.end_call(officer, now, &mut fx)?,
            Command::NoShow { officer } => self.no_show(officer, now, &mut fx)?,
            Command::Broadcast { text } => self.broadcast(text, &mut fx)?,
            Command::OpenNow { minutes } => {
                self.schedule.open_now(now, minutes)?;
                self.keep_overrides(now, &mut fx);
                self.observe_window(now, &mut fx);
            }
            Command::CloseNow => {
                self.schedule.close_now(now)?;
                self.keep_overrides(now, &mut fx);
                self.observe_window(now, &mut fx);
            }
            Command::Extend { minutes } => {
                self.schedule.extend(now, minutes)?;
                self.keep_overrides(now, &mut fx);
            }
            Command::Drain => self.draining = true,
        }
        self.settle(now, &mut fx);
        Ok(fx)
    }

    /// Fires every timer due at `now`: offer timeouts, grace periods, wrap-ups, window
    /// edges, and refreshes estimates as time passes.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Effect> {
        let mut fx = Vec::new();
        self.observe_window(now, &mut fx);
        self.fire_timers(now, &mut fx);
        self.settle(now, &mut fx);
        fx
    }

    /// Says which overrides are in force after a supervisor's change, for the shell to keep.
    fn keep_overrides(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        self.schedule.prune(now);
        fx.push(Effect::Schedule(self.schedule.overrides().to_vec()));
    }

    /// Dispatches free officers and tells waiting citizens where they stand.
    fn settle(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        self.schedule.prune(now);
        self.dispatch(now, fx);
        self.publish_positions(now, fx);
    }

    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}
