//! What a write does to a record, decided in plain Rust before any SQL runs.
//!
//! Is: the rules of the record (what an event sets, when an outcome forwards, how a
//! reference looks) shared by every backend. Is not: a queue state machine. The waiting
//! room in `core` decides what happens; the store writes down what it is told, so events
//! are never rejected for arriving in an unusual order.

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::model::*;
use super::said;
use super::StoreError;
use crate::core::ids::UserId;

/// The lifecycle columns of a record, as events see and change them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Lifecycle {
    pub created_at: Timestamp,
    pub offered_at: Option<Timestamp>,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub wait_secs: Option<i64>,
    pub talk_secs: Option<i64>,
    pub officer: Option<UserId>,
    pub officer_name: Option<String>,
    pub disposition: Disposition,
}

impl Lifecycle {
    pub fn of(c: &Complaint) -> Self {
        Lifecycle {
            created_at: c.created_at,
            offered_at: c.offered_at,
            answered_at: c.answered_at,
            ended_at: c.ended_at,
            wait_secs: c.wait_secs,
            talk_secs: c.talk_secs,
            officer: c.officer,
            officer_name: c.officer_name.clone(),
            disposition: c.disposition,
        }
    }
}

/// A history row to append.
#[derive(Clone, Debug)]
pub(super) struct NewHistory {
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: HistoryKind,
    pub detail: String,
    pub status: Option<Status>,
}

impl NewHistory {
    fn new(at: Timestamp, actor: Actor, kind: HistoryKind, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        NewHistory {
            at,
            actor,
            kind,
            detail,
            status: None,
        }
    }
}

impl NewHistory {
    /// The row's text is storable (see [`check_text`]).
    pub fn check_text(&self) -> Result<(), StoreError> {
        let name = match &self.actor {
            Actor::User { name, .. } => name.as_str(),
            Actor::Citizen | Actor::System => "",
        };
        check_text([self.detail.as_str(), name])
    }
}

/// Refuses text containing NUL, on every backend: PostgreSQL cannot store it in a text
/// column, and what one backend refuses the other must refuse too. Checked before a write
/// runs any SQL, so the refusal is `Invalid`, never a database error.
pub(super) fn check_text<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<(), StoreError> {
    if texts.into_iter().any(|t| t.contains('\0')) {
        return Err(StoreError::Invalid(
            "text must not contain the NUL character".into(),
        ));
    }
    Ok(())
}

/// Whole seconds from `a` to `b`, never negative (clocks can step back).
fn secs_between(a: Timestamp, b: Timestamp) -> i64 {
    (b.as_millisecond() - a.as_millisecond()).max(0) / 1000
}

/// Applies `ev` to `s` and returns the history row that records it. `decliner_name` is the
/// display name of the officer in an `OfferDeclined`, looked up by the caller.
pub(super) fn apply_event(
    s: &mut Lifecycle,
    ev: &RecordEvent,
    decliner_name: Option<String>,
) -> NewHistory {
    use RecordEvent as E;
    match ev {
        E::Offered {
            at, officer_name, ..
        } => {
            // The first offer is what "time to first offer" reports measure.
            s.offered_at.get_or_insert(*at);
            let detail = said::offered_to(officer_name);
            NewHistory::new(*at, Actor::System, HistoryKind::Offered, detail)
        }
        E::OfferDeclined {
            at,
            officer,
            timed_out,
            ..
        } => {
            let (actor, detail) = if *timed_out {
                (Actor::System, said::OFFER_TIMED_OUT)
            } else {
                let name = decliner_name.unwrap_or_default();
                (Actor::User { id: *officer, name }, said::OFFER_DECLINED)
            };
            NewHistory::new(*at, actor, HistoryKind::OfferDeclined, detail)
        }
        E::Answered {
            at,
            officer,
            officer_name,
            ..
        } => {
            // After an interruption the citizen is answered again; the wait they experienced
            // is until the first answer, so answered_at and wait_secs keep their first value.
            if s.answered_at.is_none() {
                s.answered_at = Some(*at);
                s.wait_secs = Some(secs_between(s.created_at, *at));
            }
            s.officer = Some(*officer);
            s.officer_name = Some(officer_name.clone());
            s.disposition = Disposition::InCall;
            let actor = Actor::User {
                id: *officer,
                name: officer_name.clone(),
            };
            NewHistory::new(*at, actor, HistoryKind::Answered, said::ANSWERED)
        }
        E::Ended { at, by, .. } => {
            // Talk time runs from the first answer, so a call that broke off and resumed
            // counts its gap: that is how long the citizen was being attended to.
            s.ended_at = Some(*at);
            s.talk_secs = s.answered_at.map(|a| secs_between(a, *at));
            s.disposition = Disposition::Completed;
            let actor = match (by.as_str(), s.officer, &s.officer_name) {
                ("officer", Some(id), name) => Actor::User {
                    id,
                    name: name.clone().unwrap_or_default(),
                },
                ("citizen", ..) => Actor::Citizen,
                _ => Actor::System,
            };
            NewHistory::new(*at, actor, HistoryKind::Ended, said::ended_by(by))
        }
        E::Interrupted { at, reason, .. } => {
            s.disposition = Disposition::Waiting;
            NewHistory::new(*at, Actor::System, HistoryKind::Interrupted, reason.clone())
        }
        E::Abandoned { at, reason, .. } => {
            s.disposition = Disposition::Abandoned;
            NewHistory::new(*at, Actor::Citizen, HistoryKind::Abandoned, reason.clone())
        }
        E::CarriedOver {
            at,
            next_window_opens_at,
            ..
        } => {
            s.disposition = Disposition::CarriedOver;
            let detail = said::next_window(*next_window_opens_at);
            NewHistory::new(*at, Actor::System, HistoryKind::CarriedOver, detail)
        }
        E::Resumed {
            at,
            officer,
            officer_name,
            ..
        } => {
            s.officer = Some(*officer);
            s.officer_name = Some(officer_name.clone());
            s.disposition = Disposition::InCall;
            let actor = Actor::User {
                id: *officer,
                name: officer_name.clone(),
            };
            NewHistory::new(*at, actor, HistoryKind::Resumed, said::RESUMED)
        }
        E::Requeued { at, .. } => {
            s.disposition = Disposition::Waiting;
            NewHistory::new(*at, Actor::System, HistoryKind::Requeued, "")
        }
        E::Note {
            at, actor, text, ..
        } => NewHistory::new(*at, actor.clone(), HistoryKind::Note, text.clone()),
    }
}

/// Whether the event takes the record out of the waiting room (its place goes with it).
pub(super) fn leaves_room(ev: &RecordEvent) -> bool {
    matches!(
        ev,
        RecordEvent::Ended { .. } | RecordEvent::Abandoned { .. } | RecordEvent::CarriedOver { .. }
    )
}

/// The history rows for saving `outcome`, and the status the record ends up with: a
/// station means the complaint has somewhere to go, so a received one is forwarded.
pub(super) fn outcome_plan(
    current: Status,
    outcome: &Outcome,
    by: &Actor,
    at: Timestamp,
) -> (Status, Vec<NewHistory>) {
    let detail = said::outcome(outcome);
    let mut rows = vec![NewHistory::new(
        at,
        by.clone(),
        HistoryKind::Outcome,
        detail,
    )];
    let station = outcome.station.trim();
    if current == Status::Received && !station.is_empty() {
        let note = said::forwarded_to(station);
        rows.push(status_row(Status::Forwarded, by, &note, at));
        return (Status::Forwarded, rows);
    }
    (current, rows)
}

pub(super) fn status_row(status: Status, by: &Actor, note: &str, at: Timestamp) -> NewHistory {
    NewHistory {
        status: Some(status),
        ..NewHistory::new(at, by.clone(), HistoryKind::Status, note)
    }
}

pub(super) fn created_row(channel: Channel, at: Timestamp) -> NewHistory {
    NewHistory {
        status: Some(Status::Received),
        ..NewHistory::new(at, Actor::Citizen, HistoryKind::Created, channel.as_str())
    }
}

pub(super) fn initial_disposition(channel: Channel) -> Disposition {
    match channel {
        Channel::Video => Disposition::Waiting,
        Channel::Written => Disposition::Written,
    }
}

/// 2 to 6 ASCII uppercase letters: short enough to read out, and no digit or '-' that
/// could be confused with the rest of the reference.
pub(super) fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    let ok = (2..=6).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_uppercase());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "reference prefix must be 2 to 6 letters A-Z, not {prefix:?}"
        )))
    }
}

/// The year a reference carries: the calendar year at the desk, not in UTC.
pub(super) fn reference_year(at: Timestamp, tz: &TimeZone) -> i16 {
    tz.to_offset(at).to_datetime(at).year()
}

/// `PRY-2026-000123`. Past 999999 in a year the number simply grows a digit: a longer
/// reference is better than refusing a citizen.
pub(super) fn format_reference(prefix: &str, year: i16, seq: i64) -> String {
    format!("{prefix}-{year:04}-{seq:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        for ok in ["PR", "PRY", "ABCDEF"] {
            assert!(check_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["P", "ABCDEFG", "pry", "PR1", "PR-", "", "ÄB"] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }
}
