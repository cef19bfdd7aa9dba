//! Translation between the core's vocabulary and the wire protocol. Architecture invariant:
//! this (with ws.rs) is the only place that knows both `core` and `sunwai_signaling`.

use jiff::Timestamp;
use sunwai_signaling as wire;

use crate::core::ids::EntryId;
use crate::core::room::{CarryReason, CitizenNote, DutyState, OfficerNote, RoomError};
use crate::core::schedule::{ScheduleError, WindowStatus};
use crate::desk::{DeskError, DeskView, EntryInfo};

pub fn ts(t: Timestamp) -> String {
    // Whole seconds keep the wire tidy; nothing on it needs finer than that.
    t.round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// Local wall-clock time `after` from `now`, as HH:MM, rounded up to the minute.
pub fn local_hhmm(now: Timestamp, after: std::time::Duration, tz: &jiff::tz::TimeZone) -> String {
    let secs = after.as_secs().div_ceil(60) as i64 * 60;
    let t = now + jiff::SignedDuration::from_secs(secs);
    t.to_zoned_datetime(tz.clone())
        .strftime("%H:%M")
        .to_string()
}

pub fn window_info(s: &WindowStatus) -> wire::WindowInfo {
    match s {
        WindowStatus::Open(w) => wire::WindowInfo {
            open: true,
            opens_at: Some(ts(w.opens_at)),
            closes_at: Some(ts(w.closes_at)),
            next_opens_at: None,
            next_closes_at: None,
        },
        WindowStatus::Closed { next } => wire::WindowInfo {
            open: false,
            opens_at: None,
            closes_at: None,
            next_opens_at: next.map(|w| ts(w.opens_at)),
            next_closes_at: next.map(|w| ts(w.closes_at)),
        },
    }
}

/// A desk's window as people see it: the current one and, while it is open, the next.
pub fn desk_window_info(s: &crate::desk::DeskStatus) -> wire::WindowInfo {
    let mut info = window_info(&s.window);
    if let Some(next) = s.next_window.filter(|_| info.open) {
        info.next_opens_at = Some(ts(next.opens_at));
        info.next_closes_at = Some(ts(next.closes_at));
    }
    info
}

pub fn duty(s: DutyState) -> wire::DutyState {
    match s {
        DutyState::Off => wire::DutyState::Off,
        DutyState::Ready => wire::DutyState::Ready,
        DutyState::Offered => wire::DutyState::Offered,
        DutyState::InCall => wire::DutyState::InCall,
        DutyState::WrapUp => wire::DutyState::WrapUp,
        DutyState::Away => wire::DutyState::Away,
    }
}

/// What a citizen refused during a shutdown is told.
pub const SHUTTING_DOWN: &str =
    "the server is restarting and takes no new joins; please try again in a minute";

/// The error a client sees for a refused command.
pub fn room_error(re: Option<u64>, e: &RoomError, tz: &jiff::tz::TimeZone) -> wire::ServerMsg {
    use wire::ErrorCode as C;
    let code = match e {
        RoomError::WindowClosed { .. } => C::WindowClosed,
        RoomError::QueueFull => C::QueueFull,
        RoomError::UnknownEntry => C::NotFound,
        RoomError::ShuttingDown => C::ShuttingDown,
        RoomError::BadMessage(_) | RoomError::Schedule(ScheduleError::BadMinutes(_)) => {
            C::InvalidInput
        }
        RoomError::AlreadyQueued
        | RoomError::NotOnDuty
        | RoomError::NoSuchOffer
        | RoomError::NotInCall
        | RoomError::InCall
        | RoomError::Schedule(_) => C::OutOfOrder,
    };
    let message = match e {
        RoomError::WindowClosed { next: Some(w) } => {
            let local = w.opens_at.to_zoned_datetime(tz.clone());
            format!(
                "the hearing window is closed; the next one opens {}",
                local.strftime("%Y-%m-%d %H:%M %Z")
            )
        }
        RoomError::ShuttingDown => SHUTTING_DOWN.to_owned(),
        other => other.to_string(),
    };
    wire::ServerMsg::error(re, code, message)
}

pub fn desk_error(re: Option<u64>, e: &DeskError, tz: &jiff::tz::TimeZone) -> wire::ServerMsg {
    match e {
        DeskError::Room(r) => room_error(re, r, tz),
        DeskError::Gone => wire::ServerMsg::error(
            re,
            wire::ErrorCode::Unavailable,
            "the desk is shutting down",
        ),
    }
}

/// What a citizen's connection knows about itself, for filling in wire messages.
pub struct CitizenCtx<'a> {
    pub entry: EntryId,
    pub reference: &'a str,
    pub window: wire::WindowInfo,
}

pub fn citizen_note(note: CitizenNote, cx: &CitizenCtx<'_>, now: Timestamp) -> wire::ServerMsg {
    use wire::ServerMsg as S;
    let entry = cx.entry.0;
    let reference = cx.reference.to_owned();
    match note {
        CitizenNote::Position {
            position,
            waiting,
            estimate,
            reachable_today,
            officers_on_duty,
        } => S::Queue {
            position,
            waiting,
            estimate_secs: estimate.map(|d| d.as_secs().max(0) as u64),
            reachable_today,
            officers_on_duty,
            window: cx.window.clone(),
        },
        CitizenNote::YouAreNext => S::YouAreNext {},
        CitizenNote::CallStarted { officer_name } => S::CallStarted {
            entry,
            reference,
            peer_name: officer_name,
        },
        CitizenNote::CallResumed { officer_name } => S::CallResumed {
            entry,
            reference,
            peer_name: officer_name,
        },
        CitizenNote::CallEnded { by } => S::CallEnded {
            entry,
            reference,
            by: by.as_str().to_owned(),
        },
        CitizenNote::OfficerLost => S::OfficerLost {},
        CitizenNote::CarriedOver { reason, next } => S::CarriedOver {
            reference,
            next_opens_at: next.map(|w| ts(w.opens_at)),
            reason: match reason {
                CarryReason::BeyondWindow => wire::CarryReason::BeyondWindow,
                CarryReason::WindowClosed => wire::CarryReason::WindowClosed,
            },
        },
        CitizenNote::Left { because } => S::Removed {
            reason: because.as_str().to_owned(),
        },
        CitizenNote::Message { text } => S::Message { text, at: ts(now) },
        CitizenNote::WindowClosed { policy } => S::WindowClosing {
            closes_at: ts(now),
            policy: policy.as_str().to_owned(),
        },
    }
}

pub fn intake_view(i: &EntryInfo) -> wire::IntakeView {
    let x = &i.intake;
    wire::IntakeView {
        name: x.name.clone(),
        mobile: x.mobile.to_string(),
        area: x.area.clone(),
        category: x.category.clone(),
        description: x.description.clone(),
        language: x.language.code().to_owned(),
    }
}

pub fn officer_note(
    note: OfficerNote,
    about: Option<&EntryInfo>,
    now: Timestamp,
) -> wire::ServerMsg {
    use wire::ServerMsg as S;
    let reference = about.map(|i| i.reference.clone()).unwrap_or_default();
    let peer_name = about.map(|i| i.intake.name.clone()).unwrap_or_default();
    match note {
        OfficerNote::Duty(s) => S::Duty { state: duty(s) },
        OfficerNote::Offer {
            entry,
            waited,
            expires_at,
        } => S::Offer {
            entry: entry.0,
            reference,
            intake: about.map(intake_view).unwrap_or_else(|| wire::IntakeView {
                name: String::new(),
                mobile: String::new(),
                area: String::new(),
                category: String::new(),
                description: String::new(),
                language: "hi".into(),
            }),
            waited_secs: waited.as_secs().max(0) as u64,
            expires_in_secs: expires_at.duration_since(now).as_secs().max(0) as u64,
        },
        OfficerNote::OfferWithdrawn { entry, reason } => S::OfferWithdrawn {
            entry: entry.0,
            reason: reason.as_str().to_owned(),
        },
        OfficerNote::CallStarted { entry } => S::CallStarted {
            entry: entry.0,
            reference,
            peer_name,
        },
        OfficerNote::PeerLost { entry } => S::PeerLost { entry: entry.0 },
        OfficerNote::CallResumed { entry } => S::CallResumed {
            entry: entry.0,
            reference,
            peer_name,
        },
        OfficerNote::CallEnded { entry, by } => S::CallEnded {
            entry: entry.0,
            reference,
            by: by.as_str().to_owned(),
        },
    }
}

pub fn snapshot(v: &DeskView) -> wire::DeskSnapshot {
    let r = &v.view;
    let secs = |d: jiff::SignedDuration| d.as_secs().max(0) as u64;
    wire::DeskSnapshot {
        desk: v.desk.to_string(),
        at: ts(r.at),
        window: window_info(&r.window),
        waiting: r.waiting,
        longest_wait_secs: secs(r.longest_wait),
        avg_wait_secs: r.avg_wait.map(secs),
        avg_call_secs: r.avg_call.map(secs),
        calls_today: r.calls_today,
        abandoned_today: r.abandoned_today,
        carried_over_today: r.carried_over_today,
        projected_backlog_at_close: r.projected_backlog_at_close,
        categories: r
            .categories
            .iter()
            .map(|(c, n)| wire::CategoryCount {
                category: c.clone(),
                count: *n,
            })
            .collect(),
        officers: r
            .officers
            .iter()
            .map(|o| wire::OfficerView {
                id: o.id.0,
                name: o.name.clone(),
                state: duty(o.state),
                entry: o.entry.map(|e| e.0),
                since: ts(o.since),
                reconnecting: o
                    .entry
                    .and_then(|e| v.reconnecting.get(&e))
                    .map(|side| match side {
                        crate::desk::MediaSide::Citizen => wire::Role::Citizen,
                        crate::desk::MediaSide::Officer => wire::Role::Officer,
                    }),
            })
            .collect(),
        queue: r
            .queue
            .iter()
            .zip(&v.references)
            .map(|(q, reference)| wire::QueueItem {
                entry: q.entry.0,
                reference: reference.clone(),
                name: q.name.clone(),
                category: q.category.clone(),
                waited_secs: secs(q.waited),
                connected: q.connected,
            })
            .collect(),
    }
}
