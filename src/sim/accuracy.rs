//! How good the supervisor's forecast is: forecasts made part-way through simulated
//! hearing days, set against what then happened on the same days. The test
//! `sim::forecast::tests::forecasts_come_close_to_what_then_happens` holds it to bounds on
//! a few days; `sunwai simulate --forecast-accuracy` prints the table of docs/waiting.md
//! ("How good is the forecast") over many.

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::forecast::{forecast, measure, rest_of_window, second_of_day, Assumptions, Projection};
use super::model::Patience;
use super::profile::Arrivals;
use super::run::{DayRun, Fate, Scenario};
use crate::core::room::Room;
use crate::core::schedule::Schedule;

/// Any day: the scenario's window is found from here.
fn day_start() -> Timestamp {
    Timestamp::from_second(1_795_824_000).expect("a valid timestamp") // 2026-11-28T00:00Z
}

/// When a citizen's visit ended, if it did.
fn left_at(c: &super::run::Citizen) -> Option<Timestamp> {
    match c.fate {
        Fate::Answered { at }
        | Fate::Abandoned { at }
        | Fate::CarriedAtJoin { at }
        | Fate::CarriedAtClose { at } => Some(at),
        Fate::Waiting | Fate::Refused => None,
    }
}

/// Forecasts made part-way through simulated days, against what then happened on the
/// same days: the rush profile (72 a day expected, 60% in the first 20 minutes) with
/// `officers` on duty, at 12:30, 13:00 and 13:30. The forecast knows the call-length
/// distribution and measures the rest as the server does: arrivals from two weeks of
/// earlier days like it (`history`) or from the last 30 minutes, the give-up rate from
/// the room's estimator. Returns (forecast median, actual) backlogs per time of day.
pub fn forecast_against_outcome(
    officers: u32,
    patience: Patience,
    days: u64,
    history: bool,
) -> Vec<(String, Vec<(Projection, Projection)>)> {
    let mut out = Vec::new();
    for (hm, after_opening) in [("12:30", 30), ("13:00", 60), ("13:30", 90)] {
        let mut pairs = Vec::new();
        for seed in 1..=days {
            let mut sc = Scenario::hearing_day(officers);
            sc.seed = seed;
            sc.patience = patience;
            let schedule = Schedule::new(sc.schedule.clone());
            let window = schedule
                .next_window_after(day_start())
                .expect("the hearing-day scenario has a daily window");
            let t = window.opens_at + SignedDuration::from_mins(after_opening);
            let mut room = Room::new(sc.policy.clone(), schedule);
            let mut next = 1;
            let mut day = DayRun::new(&sc, 0, window, &mut next);
            day.advance(&mut room, Some(t))
                .expect("the scenario's commands are valid");
            let tz = sc.schedule.time_zone().clone();
            let sod = |t: Timestamp| second_of_day(t, &tz);
            // Two weeks of earlier days like this one (other seeds).
            let past: Vec<Vec<i64>> = if history {
                (0..14)
                    .map(|k| {
                        let mut rng = StdRng::seed_from_u64(10_000 + seed * 100 + k);
                        let times = Arrivals::rush().draw(0, window, &tz, sc.calls, &mut rng);
                        times.into_iter().map(sod).collect()
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let today: Vec<i64> = day
                .citizens()
                .iter()
                .filter(|c| c.arrived <= t)
                .map(|c| sod(c.arrived))
                .collect();
            let rest = rest_of_window(
                &today,
                &past,
                sod(window.opens_at),
                sod(t),
                sod(window.closes_at),
            );
            let rate = room.estimator().give_up_rate();
            let how = Assumptions {
                expected_arrivals: rest.expected,
                call_length: sc.call_length.clone(),
                patience: if rate > 0.0 {
                    Patience::Exponential {
                        mean: crate::sim::from_secs(1.0 / rate),
                    }
                } else {
                    Patience::Unlimited
                },
                behaviour: sc.behaviour,
                extra_officers: vec![0],
                runs: 9,
                seed: 1000 + seed,
            };
            let f = forecast(&room, t, &how)
                .expect("the scenario's assumptions are valid")
                .expect("the window is open at t");
            day.advance(&mut room, Some(window.closes_at))
                .expect("the scenario's commands are valid");
            // Those waiting at `t` and those who came later, as the forecast saw them.
            let mut after: Vec<_> = day.citizens().to_vec();
            for c in &mut after {
                c.measured =
                    c.fate != Fate::Refused && (c.arrived > t || left_at(c).is_none_or(|l| l > t));
            }
            let actual = measure(&after, window.closes_at, 0, officers);
            pairs.push((f.projections[0].clone(), actual));
        }
        out.push((hm.to_owned(), pairs));
    }
    out
}

/// (mean actual, bias, mean absolute error) of a figure.
pub fn errors(
    pairs: &[(Projection, Projection)],
    of: impl Fn(&Projection) -> f64,
) -> (f64, f64, f64) {
    let n = pairs.len() as f64;
    let bias = pairs.iter().map(|(f, a)| of(f) - of(a)).sum::<f64>() / n;
    let mae = pairs
        .iter()
        .map(|(f, a)| (of(f) - of(a)).abs())
        .sum::<f64>()
        / n;
    let mean_actual = pairs.iter().map(|(_, a)| of(a)).sum::<f64>() / n;
    (mean_actual, bias, mae)
}

pub fn backlog(p: &Projection) -> f64 {
    f64::from(p.backlog_at_close)
}

pub fn longest_min(p: &Projection) -> f64 {
    p.longest_wait_secs as f64 / 60.0
}

/// The table of docs/waiting.md, from `days` simulated days per line.
pub fn table(days: u64) -> String {
    let mut out = String::new();
    out.push_str(
        "| officers | patience | at | backlog at close | forecast: bias, mean abs. error | \
         with the recent rate instead | longest wait | forecast: bias, mean abs. error |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    let patient = Patience::Unlimited;
    let impatient = Patience::Exponential {
        mean: SignedDuration::from_mins(20),
    };
    for (officers, patience, name) in [
        (2, patient, "none give up"),
        (3, patient, "none give up"),
        (4, patient, "none give up"),
        (2, impatient, "20 min"),
        (3, impatient, "20 min"),
    ] {
        let with = forecast_against_outcome(officers, patience, days, true);
        let without = forecast_against_outcome(officers, patience, days, false);
        for ((hm, a), (_, b)) in with.iter().zip(&without) {
            let (actual, bias, mae) = errors(a, backlog);
            let (_, bias_r, mae_r) = errors(b, backlog);
            let (long, lbias, lmae) = errors(a, longest_min);
            let _ = writeln!(
                out,
                "| {officers} | {name} | {hm} | {actual:.1} | {bias:+.1}, {mae:.1} | \
                 {bias_r:+.1}, {mae_r:.1} | {long:.0} min | {lbias:+.1}, {lmae:.1} min |"
            );
        }
    }
    out
}
