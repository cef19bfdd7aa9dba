//! The supervisor's forecast: what the rest of today's window looks like from where the desk
//! stands now, with the officers on duty and with one or two more.
//!
//! It runs a copy of the desk's live room (`core::room::Room`, with everyone waiting, every
//! offer and call, the schedule with the supervisor's changes and what the estimator has
//! measured) forward from now to the close, on a virtual clock, through the same event
//! loop as `sunwai simulate`. Citizens still to come arrive at a steady rate for the rest
//! of the window; call lengths, patience and how quickly officers accept come from the
//! caller (the HTTP layer measures them from today's records and the room). Several runs
//! with different seeds, and the median of each figure; every officer count sees the same
//! citizens in a run, so the counts differ only by their officers.

use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use super::model::{Behaviour, CallLength, Patience};
use super::profile::Arrivals;
use super::run::{DayRun, Fate, Officers, Scenario, SimError};
use crate::core::room::Room;
use crate::core::schedule::{Window, WindowStatus};

/// Most runs per officer count, whatever the caller asks.
pub const MAX_RUNS: u32 = 15;
/// Most citizens still to come in one run, so that one forecast stays cheap however wrong
/// the expectation is.
pub const MAX_ARRIVALS: f64 = 2000.0;

/// What the forecast assumes beyond the room itself.
#[derive(Clone, Debug)]
pub struct Assumptions {
    /// Citizens expected in the rest of the window (see [`rest_of_window`]); they arrive
    /// at a steady rate.
    pub expected_arrivals: f64,
    pub call_length: CallLength,
    pub patience: Patience,
    pub behaviour: Behaviour,
    /// Officers added to those on duty now, one projection each (0 is "as now").
    pub extra_officers: Vec<u32>,
    /// Runs per officer count (at most [`MAX_RUNS`]).
    pub runs: u32,
    pub seed: u64,
}

/// The medians over the runs for one officer count.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Projection {
    /// Officers added to those on duty now.
    pub extra: u32,
    /// Officers on duty in this projection.
    pub officers: u32,
    /// Not heard by the close: still waiting at the close, or told when they joined that
    /// they could not be reached today (a token for the next window), or refused because
    /// the queue was full.
    pub backlog_at_close: u32,
    /// The longest anyone waiting now or joining later has waited by the close: until their
    /// call started, until they gave up, or, still waiting, until the close.
    pub longest_wait_secs: i64,
    /// Calls started before the close, of those waiting now or joining later.
    pub answered_by_close: u32,
    /// Gave up before the close.
    pub gave_up: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Forecast {
    pub at: Timestamp,
    pub closes_at: Timestamp,
    pub waiting_now: u32,
    /// On duty now (any state; those marked away are counted, and taken to be back).
    pub officers_now: u32,
    /// Expected arrivals in the rest of the window.
    pub expected_arrivals: f64,
    pub runs: u32,
    pub projections: Vec<Projection>,
    pub advice: Advice,
}

/// What the page says, as data: the sentence itself comes from the page's translations.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Advice {
    /// Those on duty are expected to hear everyone by the close.
    Enough,
    /// With `extra` more officers the backlog at the close drops from `from` to `to`:
    /// the fewest tried that clear it, or else the most tried.
    More { extra: u32, from: u32, to: u32 },
    /// None of the counts tried lowers the backlog.
    NoGain { backlog: u32 },
}

/// How many citizens to expect in the rest of the window, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rest {
    pub expected: f64,
    pub basis: Basis,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Basis {
    /// The rate of the recent past, carried on to the close.
    Recent { arrivals: u32, secs: i64 },
    /// Earlier days' arrivals at the same times of day, scaled by how today compares
    /// with them so far.
    History {
        days: u32,
        so_far: u32,
        usual_so_far: f64,
        usual_rest: f64,
    },
}

/// Recent arrivals set the rate over this much of the past (or since the opening).
pub const RECENT: i64 = 30 * 60;
/// A rate is never measured over less than this, so that the first arrivals after the
/// opening do not read as a flood.
pub const RECENT_MIN: i64 = 5 * 60;
/// Earlier days are used once there are this many with arrivals in the window's hours.
pub const HISTORY_MIN_DAYS: usize = 2;
/// Today's ratio to the usual is pulled toward 1 as if this many more arrivals had come
/// both today and usually: early in the window a handful of arrivals does not rescale the
/// whole day.
const RATIO_PRIOR: f64 = 5.0;

/// The arrivals to expect between `now` and `closes` (seconds of the local day, as are
/// all the times here): from earlier days at the same hours, scaled by today so far, when
/// there are at least [`HISTORY_MIN_DAYS`] such days; else today's recent rate. Earlier
/// days with no arrivals in `opens..closes` (no hearing then) are left out.
pub fn rest_of_window(today: &[i64], past: &[Vec<i64>], opens: i64, now: i64, closes: i64) -> Rest {
    let count = |times: &[i64], from: i64, to: i64| {
        times.iter().filter(|t| (from..to).contains(*t)).count() as u32
    };
    let so_far = count(today, opens, now + 1);
    let days: Vec<(u32, u32)> = past
        .iter()
        .map(|d| (count(d, opens, now), count(d, now, closes)))
        .filter(|(a, b)| a + b > 0)
        .collect();
    if days.len() >= HISTORY_MIN_DAYS {
        let n = days.len() as f64;
        let usual_so_far = days.iter().map(|d| f64::from(d.0)).sum::<f64>() / n;
        let usual_rest = days.iter().map(|d| f64::from(d.1)).sum::<f64>() / n;
        let ratio = (f64::from(so_far) + RATIO_PRIOR) / (usual_so_far + RATIO_PRIOR);
        return Rest {
            expected: usual_rest * ratio,
            basis: Basis::History {
                days: days.len() as u32,
                so_far,
                usual_so_far,
                usual_rest,
            },
        };
    }
    let from = opens.max(now - RECENT);
    let arrivals = count(today, from, now + 1);
    let secs = (now - from).max(RECENT_MIN);
    Rest {
        expected: f64::from(arrivals) * (closes - now).max(0) as f64 / secs as f64,
        basis: Basis::Recent { arrivals, secs },
    }
}

/// Seconds since the local midnight: the time of day [`rest_of_window`] works in.
pub fn second_of_day(t: Timestamp, tz: &jiff::tz::TimeZone) -> i64 {
    let time = t.to_zoned_datetime(tz.clone()).time();
    i64::from(time.hour()) * 3600 + i64::from(time.minute()) * 60 + i64::from(time.second())
}

/// The forecast from `now`, or `None` when no window is open then.
pub fn forecast(
    room: &Room,
    now: Timestamp,
    how: &Assumptions,
) -> Result<Option<Forecast>, SimError> {
    let window = match room.schedule().status(now) {
        WindowStatus::Open(w) => w,
        WindowStatus::Closed { .. } => return Ok(None),
    };
    let (waiting_now, _, officers_now, _) = room.counts();
    let sc = scenario(room, how);
    let expected = how.expected_arrivals.clamp(0.0, MAX_ARRIVALS);
    let runs = how.runs.clamp(1, MAX_RUNS);
    let mut extras = how.extra_officers.clone();
    extras.sort_unstable();
    extras.dedup();
    let mut per_count: Vec<Vec<Projection>> = vec![Vec::with_capacity(runs as usize); extras.len()];
    for r in 0..runs {
        let seed = how.seed.wrapping_add(u64::from(r));
        let arrivals = {
            let mut rng = StdRng::seed_from_u64(seed);
            let rest = Window {
                opens_at: now,
                closes_at: window.closes_at,
            };
            Arrivals::Steady.draw(0, rest, sc.schedule.time_zone(), expected, &mut rng)
        };
        for (k, &extra) in extras.iter().enumerate() {
            // Every officer count sees the same citizens: the same seed, drawn in the
            // same order.
            let mut rng = StdRng::seed_from_u64(!seed);
            let mut copy = room.clone();
            let mut day = DayRun::resume(&sc, &mut copy, window, now, &arrivals, extra, &mut rng)?;
            day.advance(&mut copy, Some(window.closes_at))?;
            per_count[k].push(measure(
                day.citizens(),
                window.closes_at,
                extra,
                officers_now,
            ));
        }
    }
    let projections: Vec<Projection> = per_count.iter().map(|p| median(p)).collect();
    let advice = advise(&projections);
    Ok(Some(Forecast {
        at: now,
        closes_at: window.closes_at,
        waiting_now,
        officers_now,
        expected_arrivals: expected,
        runs,
        projections,
        advice,
    }))
}

/// A scenario carrying the desk's policy and the assumed behaviour; its own arrivals and
/// officers are not used (a resumed day brings its own).
fn scenario(room: &Room, how: &Assumptions) -> Scenario {
    let mut sc = Scenario::hearing_day(0);
    sc.policy = room.policy().clone();
    sc.schedule = room.schedule().spec().clone();
    sc.officers = Officers::Count(0);
    sc.call_length = how.call_length.clone();
    sc.patience = how.patience;
    sc.behaviour = how.behaviour;
    sc
}

pub(super) fn measure(
    citizens: &[super::run::Citizen],
    closes_at: Timestamp,
    extra: u32,
    officers_now: u32,
) -> Projection {
    let mut p = Projection {
        extra,
        officers: officers_now + extra,
        backlog_at_close: 0,
        longest_wait_secs: 0,
        answered_by_close: 0,
        gave_up: 0,
    };
    for c in citizens.iter().filter(|c| c.measured) {
        let waited_until = match c.fate {
            Fate::Answered { at } if at <= closes_at => {
                p.answered_by_close += 1;
                Some(at)
            }
            Fate::Abandoned { at } if at < closes_at => {
                p.gave_up += 1;
                Some(at)
            }
            Fate::CarriedAtJoin { .. } | Fate::Refused => {
                p.backlog_at_close += 1;
                None
            }
            // Still waiting at the close (or carried over at it, or leaving after it).
            _ => {
                p.backlog_at_close += 1;
                Some(closes_at)
            }
        };
        if let Some(t) = waited_until {
            let waited = t.duration_since(c.arrived).max(SignedDuration::ZERO);
            p.longest_wait_secs = p.longest_wait_secs.max(waited.as_secs());
        }
    }
    p
}

/// The median of each figure over the runs (the upper middle for an even count).
fn median(runs: &[Projection]) -> Projection {
    fn mid<T: Copy + Ord>(mut xs: Vec<T>) -> T {
        xs.sort_unstable();
        xs[xs.len() / 2]
    }
    let first = &runs[0];
    Projection {
        extra: first.extra,
        officers: first.officers,
        backlog_at_close: mid(runs.iter().map(|p| p.backlog_at_close).collect()),
        longest_wait_secs: mid(runs.iter().map(|p| p.longest_wait_secs).collect()),
        answered_by_close: mid(runs.iter().map(|p| p.answered_by_close).collect()),
        gave_up: mid(runs.iter().map(|p| p.gave_up).collect()),
    }
}

/// The advice from projections sorted by `extra`, the first being "as now".
pub fn advise(projections: &[Projection]) -> Advice {
    let Some(now) = projections.iter().find(|p| p.extra == 0) else {
        return Advice::NoGain { backlog: 0 };
    };
    let from = now.backlog_at_close;
    if from == 0 {
        return Advice::Enough;
    }
    let pick = projections
        .iter()
        .find(|p| p.extra > 0 && p.backlog_at_close == 0)
        .or_else(|| projections.iter().rfind(|p| p.extra > 0));
    match pick {
        Some(p) if p.backlog_at_close < from => Advice::More {
            extra: p.extra,
            from,
            to: p.backlog_at_close,
        },
        _ => Advice::NoGain { backlog: from },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::{EntryId, UserId};
    use crate::core::intake::{Intake, Language, Mobile};
    use crate::core::room::{Class, Command, Policy};
    use crate::core::schedule::{Schedule, ScheduleSpec};

    fn at(hm: &str) -> Timestamp {
        format!("2026-11-28T{hm}:00+05:30").parse().unwrap()
    }

    fn intake(n: u32) -> Intake {
        Intake {
            name: format!("Citizen {n}"),
            mobile: Mobile::parse("9876543210").unwrap(),
            area: "Kotwali".into(),
            category: "other".into(),
            description: String::new(),
            language: Language::Hindi,
        }
    }

    /// The 12:00–14:00 desk at 13:00: `waiting` citizens who joined from 12:05 on, one
    /// officer in a call since 12:58.
    fn busy_room(waiting: u32) -> Room {
        let spec = ScheduleSpec::parse("Asia/Kolkata", &["12:00-14:00".into()], &[], &[]).unwrap();
        let mut room = Room::new(Policy::default(), Schedule::new(spec));
        for n in 0..=waiting {
            let entry = EntryId(uuid::Uuid::from_u128(0xC0_0000 + u128::from(n)));
            let joined = at("12:05") + SignedDuration::from_secs(i64::from(n) * 60);
            let cmd = Command::Join {
                entry,
                intake: intake(n),
                class: Class::Normal,
            };
            room.handle(cmd, joined).unwrap();
        }
        let officer = UserId(uuid::Uuid::from_u128(0xAB));
        let cmd = Command::OnDuty {
            officer,
            name: "Insp. Sharma".into(),
        };
        room.handle(cmd, at("12:58")).unwrap();
        let first = EntryId(uuid::Uuid::from_u128(0xC0_0000));
        room.handle(
            Command::Accept {
                officer,
                entry: first,
            },
            at("12:58"),
        )
        .unwrap();
        room
    }

    fn assumptions() -> Assumptions {
        Assumptions {
            expected_arrivals: 12.0,
            call_length: CallLength::LogNormal {
                mean_secs: 360.0,
                cv: 0.5,
            },
            patience: Patience::Unlimited,
            behaviour: Behaviour::default(),
            extra_officers: vec![0, 1, 2],
            runs: 9,
            seed: 7,
        }
    }

    #[test]
    fn more_officers_shrink_the_backlog_at_the_close() {
        let room = busy_room(20);
        let f = forecast(&room, at("13:00"), &assumptions())
            .unwrap()
            .unwrap();
        assert_eq!(f.waiting_now, 20);
        assert_eq!(f.officers_now, 1);
        assert_eq!(f.closes_at, at("14:00"));
        assert!((f.expected_arrivals - 12.0).abs() < 1e-9);
        let backlog: Vec<u32> = f.projections.iter().map(|p| p.backlog_at_close).collect();
        let longest: Vec<i64> = f.projections.iter().map(|p| p.longest_wait_secs).collect();
        assert_eq!(
            f.projections.iter().map(|p| p.officers).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        // One officer takes about ten calls in the hour left: most of the 20 waiting and
        // the 12 to come are not heard today.
        assert!(backlog[0] >= 15, "{backlog:?}");
        assert!(
            backlog[0] > backlog[1] && backlog[1] > backlog[2],
            "{backlog:?}"
        );
        assert!(
            longest[0] >= longest[1] && longest[1] >= longest[2],
            "{longest:?}"
        );
        // The first to join has waited 55 minutes already, and waits on with one officer.
        assert!(longest[0] >= 55 * 60, "{longest:?}");
        match f.advice {
            Advice::More { extra, from, to } => {
                assert_eq!(from, backlog[0]);
                assert!(to < from && extra >= 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_live_room_is_untouched_and_runs_repeat() {
        let mut room = busy_room(8);
        let before = room.view(at("13:00"));
        let a = forecast(&room, at("13:00"), &assumptions()).unwrap();
        let b = forecast(&room, at("13:00"), &assumptions()).unwrap();
        assert_eq!(a, b, "the same seed gives the same forecast");
        assert_eq!(room.view(at("13:00")), before);
    }

    #[test]
    fn no_forecast_while_the_window_is_closed() {
        let room = busy_room(3);
        assert_eq!(forecast(&room, at("14:30"), &assumptions()).unwrap(), None);
    }

    #[test]
    fn a_quiet_desk_needs_nobody_more() {
        let room = busy_room(1);
        let mut how = assumptions();
        how.expected_arrivals = 2.0;
        let f = forecast(&room, at("13:00"), &how).unwrap().unwrap();
        assert_eq!(f.projections[0].backlog_at_close, 0, "{f:?}");
        assert_eq!(f.advice, Advice::Enough);
    }

    #[test]
    fn forecasts_come_close_to_what_then_happens() {
        use crate::sim::accuracy::{backlog, errors, forecast_against_outcome, longest_min};
        let patient = Patience::Unlimited;
        let impatient = Patience::Exponential {
            mean: SignedDuration::from_mins(20),
        };
        for (officers, patience) in [(2, patient), (3, impatient)] {
            for (hm, pairs) in forecast_against_outcome(officers, patience, 10, true) {
                let (actual, bias, mae) = errors(&pairs, backlog);
                let what = format!("{officers} officers, {patience:?}, at {hm}: {pairs:?}");
                assert!(mae <= 3.0 + 0.2 * actual, "{what}");
                assert!(bias.abs() <= 2.0 + 0.15 * actual, "{what}");
                let (actual, _, mae) = errors(&pairs, longest_min);
                assert!(mae <= 5.0 + 0.2 * actual, "longest wait: {what}");
            }
        }
    }

    #[test]
    fn advice_picks_the_fewest_that_clear_the_backlog() {
        let p = |extra, backlog| Projection {
            extra,
            officers: 1 + extra,
            backlog_at_close: backlog,
            longest_wait_secs: 0,
            answered_by_close: 0,
            gave_up: 0,
        };
        assert_eq!(
            advise(&[p(0, 11), p(1, 0), p(2, 0)]),
            Advice::More {
                extra: 1,
                from: 11,
                to: 0
            }
        );
        assert_eq!(
            advise(&[p(0, 11), p(1, 6), p(2, 2)]),
            Advice::More {
                extra: 2,
                from: 11,
                to: 2
            }
        );
        assert_eq!(
            advise(&[p(0, 4), p(1, 4), p(2, 4)]),
            Advice::NoGain { backlog: 4 }
        );
        assert_eq!(advise(&[p(0, 0), p(1, 0)]), Advice::Enough);
    }
}
