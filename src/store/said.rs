//! The words of a record's history, both ways: what the server writes in a history row's
//! `detail` for the events it records itself, and what a page needs to say it again in the
//! reader's language (`Said`).
//!
//! Is: the one place that knows the format of those details (an officer's name after
//! "offered to", an outcome's fields, a reason's key), so the text in the database and the
//! structure staff pages translate cannot drift apart. Is not: a translation; the pages
//! hold the words (`web/i18n`). Free text that staff wrote (notes, a status change's
//! note, an outcome's action and notes) passes through as it is.

use jiff::Timestamp;
use serde::Serialize;

use super::model::{Actor, HistoryKind, Outcome, QueueClass};

const OFFERED_TO: &str = "offered to ";
const ENDED_BY: &str = "ended by ";
const FORWARDED_TO: &str = "forwarded to ";
const NEXT_WINDOW: &str = "next window opens ";
const QUEUE_PLACE: &str = "queue place ";
pub(super) const NO_NEXT_WINDOW: &str = "no next window scheduled";
pub(super) const OFFER_TIMED_OUT: &str = "offer timed out";
pub(super) const OFFER_DECLINED: &str = "offer declined";
pub(super) const ANSWERED: &str = "answered";
pub(super) const RESUMED: &str = "call resumed";
pub const MONITOR_STARTED: &str = "silent monitoring started";
pub const MONITOR_STOPPED: &str = "silent monitoring stopped";

pub(super) fn offered_to(officer_name: &str) -> String {
    format!("{OFFERED_TO}{officer_name}")
}

pub(super) fn ended_by(by: &str) -> String {
    format!("{ENDED_BY}{by}")
}

pub(super) fn forwarded_to(station: &str) -> String {
    format!("{FORWARDED_TO}{station}")
}

pub(super) fn next_window(opens_at: Option<Timestamp>) -> String {
    match opens_at {
        Some(t) => format!("{NEXT_WINDOW}{t}"),
        None => NO_NEXT_WINDOW.to_owned(),
    }
}

pub fn queue_place(class: QueueClass, seq: u64) -> String {
    format!("{QUEUE_PLACE}{} {seq}", class.as_str())
}

pub(super) fn outcome(o: &Outcome) -> String {
    format!(
        "category: {}; station: {}; action: {}; notes: {}",
        o.category, o.station, o.action, o.notes
    )
}

/// A history row's detail, as a page says it: which words, with which values. Category,
/// station, channel and reason values are keys the page looks up in the catalog or its
/// translations; `Text` is written by a person (or by an older server) and shown as it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Said {
    /// Nothing to add to the row's kind ("answered", "call resumed", back in the queue).
    Nothing,
    /// Filed by video or in writing.
    Channel { channel: String },
    /// Offered to this officer.
    Officer { name: String },
    /// Why: an offer timed out or was declined (`timed_out`, `declined`); who ended a call
    /// (`officer`, `citizen`, `citizen_lost`, `no_show`); why a call broke off
    /// (`officer_lost`, `server_restart`); why a citizen left (`left`, `grace_expired`,
    /// `no_show`, `refused`).
    Reason { reason: String },
    /// Carried over to the window that opens then (none scheduled: `None`).
    NextWindow { opens_at: Option<String> },
    /// The officer's outcome.
    Outcome {
        category: String,
        station: String,
        action: String,
        notes: String,
    },
    /// A status change made by saving an outcome with a station.
    Forwarded { station: String },
    /// The waiting room gave the record its place.
    Place { class: String, seq: String },
    /// A supervisor started (`true`) or stopped listening in.
    Monitoring { started: bool },
    /// Free text.
    Text { text: String },
}

impl Said {
    /// What the row with this kind, actor and detail says.
    pub fn of(kind: HistoryKind, actor: &Actor, detail: &str) -> Said {
        let text = || Said::Text {
            text: detail.to_owned(),
        };
        let reason = |r: &str| Said::Reason {
            reason: r.to_owned(),
        };
        match kind {
            HistoryKind::Created => Said::Channel {
                channel: detail.to_owned(),
            },
            HistoryKind::Offered => match detail.strip_prefix(OFFERED_TO) {
                Some(name) => Said::Officer {
                    name: name.to_owned(),
                },
                None => text(),
            },
            HistoryKind::OfferDeclined => match detail {
                OFFER_TIMED_OUT => reason("timed_out"),
                OFFER_DECLINED => reason("declined"),
                _ => text(),
            },
            HistoryKind::Answered | HistoryKind::Resumed | HistoryKind::Requeued
                if matches!(detail, ANSWERED | RESUMED | "") =>
            {
                Said::Nothing
            }
            HistoryKind::Ended => match detail.strip_prefix(ENDED_BY) {
                Some(by) => reason(by),
                None => text(),
            },
            HistoryKind::Interrupted | HistoryKind::Abandoned if is_key(detail) => reason(detail),
            HistoryKind::CarriedOver => match detail.strip_prefix(NEXT_WINDOW) {
                Some(t) => Said::NextWindow {
                    opens_at: Some(t.to_owned()),
                },
                None if detail == NO_NEXT_WINDOW => Said::NextWindow { opens_at: None },
                None => text(),
            },
            HistoryKind::Outcome => parse_outcome(detail).unwrap_or_else(text),
            HistoryKind::Status => match detail.strip_prefix(FORWARDED_TO) {
                Some(station) if is_key(station) => Said::Forwarded {
                    station: station.to_owned(),
                },
                _ => text(),
            },
            HistoryKind::Note => match (actor, detail) {
                (Actor::System, d) => {
                    match d.strip_prefix(QUEUE_PLACE).and_then(|p| p.split_once(' ')) {
                        Some((class, seq)) => Said::Place {
                            class: class.to_owned(),
                            seq: seq.to_owned(),
                        },
                        None => text(),
                    }
                }
                (Actor::User { .. }, MONITOR_STARTED) => Said::Monitoring { started: true },
                (Actor::User { .. }, MONITOR_STOPPED) => Said::Monitoring { started: false },
                _ => text(),
            },
            _ => text(),
        }
    }
}

/// A key as the server writes them: lower-case ASCII letters, digits, `-` and `_`.
fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Category and station are keys (no `;`); the notes, the longer free text, start at the
/// first "; notes: " (an action that itself contains "; notes: " is split there: its
/// words are all still shown, some under the wrong heading).
fn parse_outcome(detail: &str) -> Option<Said> {
    let rest = detail.strip_prefix("category: ")?;
    let (category, rest) = rest.split_once("; station: ")?;
    let (station, rest) = rest.split_once("; action: ")?;
    let (action, notes) = rest.split_once("; notes: ")?;
    Some(Said::Outcome {
        category: category.to_owned(),
        station: station.to_owned(),
        action: action.to_owned(),
        notes: notes.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::UserId;

    fn officer() -> Actor {
        Actor::User {
            id: UserId(uuid::Uuid::nil()),
            name: "SI Verma".into(),
        }
    }

    fn key(s: &str) -> Said {
        Said::Reason { reason: s.into() }
    }

    #[test]
    fn what_the_server_writes_reads_back_as_words_to_translate() {
        use HistoryKind as K;
        let sys = Actor::System;
        let o = Outcome {
            category: "fraud".into(),
            station: "civil-lines".into(),
            action: "FIR; called the bank".into(),
            notes: "UPI ₹20,000".into(),
        };
        let at: Timestamp = "2026-11-29T06:30:00Z".parse().unwrap();
        let cases = [
            (
                K::Created,
                sys.clone(),
                "video".to_owned(),
                Said::Channel {
                    channel: "video".into(),
                },
            ),
            (
                K::Offered,
                sys.clone(),
                offered_to("SI Verma"),
                Said::Officer {
                    name: "SI Verma".into(),
                },
            ),
            (
                K::OfferDeclined,
                sys.clone(),
                OFFER_TIMED_OUT.into(),
                key("timed_out"),
            ),
            (
                K::OfferDeclined,
                officer(),
                OFFER_DECLINED.into(),
                key("declined"),
            ),
            (K::Answered, officer(), ANSWERED.into(), Said::Nothing),
            (K::Resumed, officer(), RESUMED.into(), Said::Nothing),
            (K::Requeued, sys.clone(), String::new(), Said::Nothing),
            (
                K::Ended,
                officer(),
                ended_by("citizen_lost"),
                key("citizen_lost"),
            ),
            (
                K::Interrupted,
                sys.clone(),
                "officer_lost".into(),
                key("officer_lost"),
            ),
            (
                K::Abandoned,
                Actor::Citizen,
                "grace_expired".into(),
                key("grace_expired"),
            ),
            (
                K::CarriedOver,
                sys.clone(),
                next_window(Some(at)),
                Said::NextWindow {
                    opens_at: Some(at.to_string()),
                },
            ),
            (
                K::CarriedOver,
                sys.clone(),
                next_window(None),
                Said::NextWindow { opens_at: None },
            ),
            (
                K::Outcome,
                officer(),
                outcome(&o),
                Said::Outcome {
                    category: o.category.clone(),
                    station: o.station.clone(),
                    action: o.action.clone(),
                    notes: o.notes.clone(),
                },
            ),
            (
                K::Status,
                officer(),
                forwarded_to("civil-lines"),
                Said::Forwarded {
                    station: "civil-lines".into(),
                },
            ),
            (
                K::Note,
                sys.clone(),
                queue_place(QueueClass::Carried, 7),
                Said::Place {
                    class: "carried".into(),
                    seq: "7".into(),
                },
            ),
            (
                K::Note,
                officer(),
                MONITOR_STARTED.into(),
                Said::Monitoring { started: true },
            ),
            (
                K::Note,
                officer(),
                MONITOR_STOPPED.into(),
                Said::Monitoring { started: false },
            ),
        ];
        for (kind, actor, detail, want) in cases {
            assert_eq!(Said::of(kind, &actor, &detail), want, "{kind:?} {detail:?}");
        }
    }

    #[test]
    fn what_people_wrote_stays_their_text() {
        use HistoryKind as K;
        let text = |s: &str| Said::Text { text: s.into() };
        // A supervisor's status note, even one that looks like a forward, and their notes.
        for (kind, actor, detail) in [
            (K::Status, officer(), "SHO Civil Lines informed"),
            (K::Status, officer(), "forwarded to the SP office, by hand"),
            (K::Note, officer(), "queue place normal 3"),
            (K::Note, Actor::System, "something older servers wrote"),
            (K::Outcome, officer(), "fraud"),
            (K::Interrupted, Actor::System, "Officer lost"),
        ] {
            assert_eq!(Said::of(kind, &actor, detail), text(detail), "{kind:?}");
        }
        // An outcome whose notes contain the separator keeps every word.
        let o = Outcome {
            category: "theft".into(),
            station: "kotwali".into(),
            action: "FIR".into(),
            notes: "a; notes: b".into(),
        };
        let Said::Outcome { action, notes, .. } = Said::of(K::Outcome, &officer(), &outcome(&o))
        else {
            panic!("an outcome");
        };
        assert_eq!((action.as_str(), notes.as_str()), ("FIR", "a; notes: b"));
    }
}
