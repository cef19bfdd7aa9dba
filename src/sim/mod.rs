//! The hearing-day simulator behind `sunwai simulate`.
//!
//! Is: a discrete-event loop on a virtual clock that drives the server's own waiting room
//! (`core::room::Room`, through `handle`, `tick` and `next_deadline`) with generated
//! citizens and officers, and measures what happened: waits, abandonment, tokens for the
//! next window, officer utilisation, and how far what each citizen was told (the estimate
//! and "you will be reached today") was from what then happened to them.
//!
//! Is not: a second model of the waiting room. Queue order, dispatch, offers, timers, the
//! window edges, the close policies and the estimates all come from `core::room`; the
//! simulator only decides when citizens arrive, how long calls last, how quickly officers
//! accept and when citizens give up. Randomness lives here, never in `core`: every day's
//! citizens are drawn from a seeded generator before the day runs, so two runs with the
//! same seed see the same citizens whatever the room does with them.
//!
//! Parts: `profile` (arrivals), `model` (call lengths, patience, officer behaviour), `run`
//! (the event loop), `report` (figures, table, JSON), `erlang` (Erlang C), `chart` (SVG),
//! `recommend` (smallest number of officers for a target), `forecast` (the supervisor's
//! forecast: a live room's copy run forward to the close).

pub mod accuracy;
pub mod chart;
pub mod erlang;
pub mod forecast;
pub mod model;
pub mod profile;
pub mod recommend;
pub mod report;
pub mod run;
#[cfg(test)]
mod tests;

use jiff::SignedDuration;

pub use model::{Behaviour, CallLength, Patience};
pub use profile::Arrivals;
pub use recommend::{recommend, recommend_with, Recommendation, Target};
pub use report::{summarize, Report};
pub use run::{simulate, simulate_with, Officers, Outcome, Scenario, Shift};

/// A problem with an input file (arrival times, call records) or a value on the command line.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the file has no column named {0}")]
    MissingColumn(String),
    #[error("line {line}: {message}")]
    BadRow { line: u64, message: String },
    #[error("the file has no usable rows")]
    Empty,
    #[error("{0}")]
    Invalid(String),
}

impl From<csv::Error> for InputError {
    fn from(e: csv::Error) -> Self {
        let line = e.position().map_or(0, |p| p.line());
        match e.into_kind() {
            csv::ErrorKind::Io(io) => InputError::Io(io),
            other => InputError::BadRow {
                line,
                message: format!("{other:?}"),
            },
        }
    }
}

/// A duration as people write it: "6m", "90s", "1h", "2 minutes", "1h 30m".
pub fn parse_duration(s: &str) -> Result<SignedDuration, InputError> {
    let bad = || InputError::Invalid(format!("{s:?} is not a duration such as 6m, 90s or 1h"));
    let d: SignedDuration = s.trim().parse().map_err(|_| bad())?;
    if d.is_negative() {
        return Err(bad());
    }
    Ok(d)
}

/// Seconds as a float, the unit the statistics work in.
pub(crate) fn secs(d: SignedDuration) -> f64 {
    d.as_secs_f64()
}

/// A duration from (non-negative, finite) seconds, to the millisecond.
pub(crate) fn from_secs(s: f64) -> SignedDuration {
    SignedDuration::from_millis((s.max(0.0) * 1000.0).round() as i64)
}
