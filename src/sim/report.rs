//! Figures from a run: service (answered, waits, abandonment, tokens, utilisation) and the
//! accuracy of what citizens were told. The structs are plain data for the table and for
//! `--json`.
//!
//! Definitions (all over citizens who arrived after the warm-up):
//! - *queued*: joined and were not handed a token at joining;
//! - *answered within t*: share of those who joined whose call started within t of joining
//!   (a token for the next window counts as not answered);
//! - *wait* (average, 95th percentile): of answered calls;
//! - *estimate error*: the estimate told at joining (whole minutes, as shown) minus the
//!   actual wait. For citizens who gave up, the actual wait is when their turn would have
//!   come had they stayed (first come, first served makes that exact): leaving them out
//!   would drop exactly the long waits. *Relative* error divides by the actual wait, or by
//!   one minute when the wait was shorter (a citizen is told whole minutes);
//! - *told wrongly about today*: told at joining they would be reached before the window
//!   closes and were not (or would not have been, had they stayed), or told they would not
//!   be (a token at joining, or a warning) when they would have been.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::run::{Citizen, Day, Fate, Outcome, Scenario};
use super::secs;
use crate::core::room::{ClosePolicy, LateJoin};

/// Minutes waited at which the estimate in force is compared with the wait still to come.
pub const CHECKPOINTS_MIN: [i64; 8] = [0, 5, 10, 15, 20, 30, 45, 60];

#[derive(Clone, Debug, Serialize)]
pub struct Inputs {
    pub days: u32,
    pub seed: u64,
    pub window: String,
    pub arrivals: String,
    pub calls_per_day: f64,
    pub call_length: String,
    pub mean_call_secs: f64,
    pub officers: String,
    pub patience: String,
    pub accept_secs: [f64; 2],
    pub wrap_up_secs: f64,
    pub late_join: String,
    pub close: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Service {
    pub arrivals: usize,
    pub refused: usize,
    pub joined: usize,
    pub queued: usize,
    pub answered: usize,
    pub answered_share: f64,
    pub within_2m: f64,
    pub within_5m: f64,
    pub avg_wait_secs: f64,
    pub p95_wait_secs: f64,
    pub abandoned: usize,
    pub abandoned_share: f64,
    pub tokens_at_join: usize,
    pub tokens_at_close: usize,
    pub utilisation: f64,
    /// Answered after the window had closed (kept on by `serve_all`).
    pub answered_after_close: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Shrink {
    pub waited_min: i64,
    pub citizens: usize,
    pub median_abs_error_secs: f64,
    pub median_rel_error: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Accuracy {
    /// Citizens with an estimate at joining and a known (or counterfactual) start.
    pub citizens: usize,
    pub median_abs_error_secs: f64,
    pub p90_abs_error_secs: f64,
    pub median_rel_error: f64,
    pub p90_rel_error: f64,
    /// Mean of (estimate − actual): positive means estimates run long.
    pub mean_signed_error_secs: f64,
    pub by_time_waited: Vec<Shrink>,
    pub told_reachable: usize,
    pub told_reachable_not_reached: usize,
    pub told_unreachable: usize,
    pub told_unreachable_but_reached: usize,
    pub wrongly_told_share: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct QueueShape {
    /// Average number waiting at each minute after the opening, over all days.
    pub waiting_by_minute: Vec<f64>,
    pub max_waiting: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub inputs: Inputs,
    pub service: Service,
    pub estimates: Accuracy,
    pub queue: QueueShape,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<super::Recommendation>,
}

/// The q-quantile (0..=1) of `xs`, by linear interpolation; 0 when empty.
pub fn quantile(xs: &mut [f64], q: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (xs.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64)
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

fn rel(err: f64, actual: f64) -> f64 {
    err.abs() / actual.max(60.0)
}

/// The estimate a citizen saw at `t` (the last one sent at or before it).
fn estimate_at(c: &Citizen, t: Timestamp) -> Option<SignedDuration> {
    c.told
        .iter()
        .take_while(|n| n.at <= t)
        .last()
        .and_then(|n| n.estimate)
}

/// When the citizen stopped waiting in the room.
fn left_queue(c: &Citizen) -> Option<Timestamp> {
    match c.fate {
        Fate::Answered { at }
        | Fate::Abandoned { at }
        | Fate::CarriedAtJoin { at }
        | Fate::CarriedAtClose { at } => Some(at),
        Fate::Refused | Fate::Waiting => None,
    }
}

/// Share of those who joined whose call started within `limit` of joining.
pub fn answered_within(out: &Outcome, limit: SignedDuration) -> f64 {
    let joined = out
        .days
        .iter()
        .flat_map(|d| &d.citizens)
        .filter(|c| c.measured && c.joined());
    let (mut n, mut ok) = (0, 0);
    for c in joined {
        n += 1;
        if matches!(c.fate, Fate::Answered { .. }) && c.wait().is_some_and(|w| w <= limit) {
            ok += 1;
        }
    }
    share(ok, n)
}

pub fn summarize(sc: &Scenario, out: &Outcome) -> Report {
    let measured = || {
        out.days
            .iter()
            .flat_map(|d| d.citizens.iter().map(move |c| (d, c)))
            .filter(|(_, c)| c.measured)
    };
    let arrivals = measured().count();
    let refused = measured().filter(|(_, c)| !c.joined()).count();
    let count = |f: &dyn Fn(&Fate) -> bool| measured().filter(|(_, c)| f(&c.fate)).count();
    let tokens_at_join = count(&|f| matches!(f, Fate::CarriedAtJoin { .. }));
    let tokens_at_close = count(&|f| matches!(f, Fate::CarriedAtClose { .. }));
    let abandoned = count(&|f| matches!(f, Fate::Abandoned { .. }));
    let joined = arrivals - refused;
    let queued = joined - tokens_at_join;
    let mut waits: Vec<f64> = measured()
        .filter(|(_, c)| matches!(c.fate, Fate::Answered { .. }))
        .filter_map(|(_, c)| c.wait().map(secs))
        .collect();
    let answered = waits.len();
    debug_assert!(answered <= queued);
    let answered_after_close = measured()
        .filter(|(d, c)| matches!(c.fate, Fate::Answered { at } if at >= d.window.closes_at))
        .count();
    let within = |limit: f64| share(waits.iter().filter(|w| **w <= limit).count(), joined);
    let (within_2m, within_5m) = (within(120.0), within(300.0));
    let avg_wait_secs = if answered > 0 {
        waits.iter().sum::<f64>() / answered as f64
    } else {
        0.0
    };
    let p95_wait_secs = quantile(&mut waits, 0.95);
    let on_duty: f64 = out.days.iter().map(|d| secs(d.officer_on_duty)).sum();
    let in_call: f64 = out.days.iter().map(|d| secs(d.officer_in_call)).sum();
    let service = Service {
        arrivals,
        refused,
        joined,
        queued,
        answered,
        answered_share: share(answered, queued),
        within_2m,
        within_5m,
        avg_wait_secs,
        p95_wait_secs,
        abandoned,
        abandoned_share: share(abandoned, queued),
        tokens_at_join,
        tokens_at_close,
        utilisation: if on_duty > 0.0 {
            in_call / on_duty
        } else {
            0.0
        },
        answered_after_close,
    };
    Report {
        inputs: inputs(sc),
        service,
        estimates: accuracy(out),
        queue: queue_shape(out),
        recommendation: None,
    }
}

fn inputs(sc: &Scenario) -> Inputs {
    let tz = sc.schedule.time_zone();
    let schedule = crate::core::schedule::Schedule::new(sc.schedule.clone());
    let window = tz
        .to_timestamp(sc.first_day.to_datetime(jiff::civil::Time::midnight()))
        .ok()
        .and_then(|t| schedule.next_window_after(t))
        .map(|w| {
            let f = |t: Timestamp| {
                t.to_zoned_datetime(tz.clone())
                    .strftime("%H:%M")
                    .to_string()
            };
            format!(
                "{}-{} {}",
                f(w.opens_at),
                f(w.closes_at),
                tz.iana_name().unwrap_or("")
            )
        })
        .unwrap_or_default();
    Inputs {
        days: sc.days,
        seed: sc.seed,
        window,
        arrivals: sc.arrivals.describe(),
        calls_per_day: sc.calls,
        call_length: sc.call_length.describe(),
        mean_call_secs: sc.call_length.mean_secs(),
        officers: sc.officers.describe(),
        patience: sc.patience.describe(),
        accept_secs: [secs(sc.behaviour.accept_min), secs(sc.behaviour.accept_max)],
        wrap_up_secs: secs(sc.policy.wrap_up),
        late_join: match sc.policy.late_join {
            LateJoin::CarryOver => "carry_over",
            LateJoin::AdmitWithWarning => "admit_with_warning",
        }
        .into(),
        close: match sc.policy.close {
            ClosePolicy::ServeAll => "serve_all",
            ClosePolicy::CarryOver => "carry_over",
        }
        .into(),
    }
}

/// The accuracy of what citizens were told.
pub fn accuracy(out: &Outcome) -> Accuracy {
    let (mut abs, mut rels, mut signed) = (Vec::new(), Vec::new(), Vec::new());
    let mut shrink: Vec<(Vec<f64>, Vec<f64>)> = vec![(vec![], vec![]); CHECKPOINTS_MIN.len()];
    let (mut yes, mut yes_wrong, mut no, mut no_wrong) = (0, 0, 0, 0);
    for day in &out.days {
        for c in day.citizens.iter().filter(|c| c.measured && c.joined()) {
            reachability(day, c, &mut yes, &mut yes_wrong, &mut no, &mut no_wrong);
            let (Some(start), Some(left)) = (c.start, left_queue(c)) else {
                continue;
            };
            if matches!(c.fate, Fate::CarriedAtJoin { .. }) {
                continue;
            }
            for (k, m) in CHECKPOINTS_MIN.iter().enumerate() {
                let t = c.arrived + SignedDuration::from_secs(m * 60);
                if *m > 0 && (t >= start || t >= left) {
                    break;
                }
                if let Some(est) = estimate_at(c, t) {
                    let actual = secs(start.duration_since(t));
                    let err = secs(est) - actual;
                    if k == 0 {
                        abs.push(err.abs());
                        rels.push(rel(err, actual));
                        signed.push(err);
                    }
                    shrink[k].0.push(err.abs());
                    shrink[k].1.push(rel(err, actual));
                }
            }
        }
    }
    let n = abs.len();
    Accuracy {
        citizens: n,
        median_abs_error_secs: quantile(&mut abs, 0.5),
        p90_abs_error_secs: quantile(&mut abs, 0.9),
        median_rel_error: quantile(&mut rels, 0.5),
        p90_rel_error: quantile(&mut rels, 0.9),
        mean_signed_error_secs: if n > 0 {
            signed.iter().sum::<f64>() / n as f64
        } else {
            0.0
        },
        by_time_waited: CHECKPOINTS_MIN
            .iter()
            .zip(shrink)
            .map(|(m, (mut a, mut r))| Shrink {
                waited_min: *m,
                citizens: a.len(),
                median_abs_error_secs: quantile(&mut a, 0.5),
                median_rel_error: quantile(&mut r, 0.5),
            })
            .collect(),
        told_reachable: yes,
        told_reachable_not_reached: yes_wrong,
        told_unreachable: no,
        told_unreachable_but_reached: no_wrong,
        wrongly_told_share: share(yes_wrong + no_wrong, yes + no),
    }
}

fn reachability(
    day: &Day,
    c: &Citizen,
    yes: &mut usize,
    yes_wrong: &mut usize,
    no: &mut usize,
    no_wrong: &mut usize,
) {
    let reached = c.start.is_some_and(|s| s < day.window.closes_at);
    let told = match c.fate {
        Fate::CarriedAtJoin { .. } => Some(false),
        _ => c
            .told
            .first()
            .filter(|t| t.estimate.is_some())
            .map(|t| t.reachable),
    };
    match told {
        Some(true) => {
            *yes += 1;
            *yes_wrong += usize::from(!reached);
        }
        Some(false) => {
            *no += 1;
            *no_wrong += usize::from(reached);
        }
        None => {}
    }
}

fn queue_shape(out: &Outcome) -> QueueShape {
    let mut sums: Vec<f64> = Vec::new();
    let mut max_waiting = 0;
    for d in &out.days {
        let Some(end) = d.queue.last().map(|q| q.0) else {
            continue;
        };
        let minutes = (end.duration_since(d.window.opens_at).as_secs() / 60).max(0) as usize + 1;
        if sums.len() < minutes {
            sums.resize(minutes, 0.0);
        }
        let mut k = 0;
        for (m, sum) in sums.iter_mut().enumerate().take(minutes) {
            let t = d.window.opens_at + SignedDuration::from_secs(m as i64 * 60);
            while k + 1 < d.queue.len() && d.queue[k + 1].0 <= t {
                k += 1;
            }
            if d.queue[k].0 <= t {
                *sum += f64::from(d.queue[k].1);
            }
        }
        max_waiting = max_waiting.max(d.queue.iter().map(|q| q.1).max().unwrap_or(0));
    }
    let days = out.days.len().max(1) as f64;
    QueueShape {
        waiting_by_minute: sums
            .into_iter()
            .map(|s| (s / days * 100.0).round() / 100.0)
            .collect(),
        max_waiting,
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn mins(s: f64) -> String {
    format!("{:.1} min", s / 60.0)
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let i = &self.inputs;
        let s = &self.service;
        let e = &self.estimates;
        let days = f64::from(i.days.max(1));
        let _ = writeln!(o, "Simulated {} hearing day(s), seed {}", i.days, i.seed);
        let _ = writeln!(o, "  window        {}", i.window);
        let _ = writeln!(
            o,
            "  arrivals      {}, {} expected a day",
            i.arrivals, i.calls_per_day
        );
        let _ = writeln!(o, "  calls         {}", i.call_length);
        let _ = writeln!(o, "  officers      {}", i.officers);
        let _ = writeln!(
            o,
            "  behaviour     accept after {:.0}-{:.0} s, wrap-up {:.0} s; patience {}",
            i.accept_secs[0], i.accept_secs[1], i.wrap_up_secs, i.patience
        );
        let _ = writeln!(
            o,
            "  policies      late_join {}, close {}",
            i.late_join, i.close
        );
        let _ = writeln!(o);
        let _ = writeln!(o, "Service                            total   per day");
        let row = |o: &mut String, name: &str, n: usize, extra: String| {
            let _ = writeln!(o, "  {name:<30} {n:>7} {:>9.1}  {extra}", n as f64 / days);
        };
        row(&mut o, "citizens arriving", s.arrivals, String::new());
        if s.refused > 0 {
            row(
                &mut o,
                "refused (window closed, full)",
                s.refused,
                String::new(),
            );
        }
        row(
            &mut o,
            "token at joining (next window)",
            s.tokens_at_join,
            pct(share(s.tokens_at_join, s.joined)),
        );
        row(&mut o, "queued", s.queued, String::new());
        row(&mut o, "answered", s.answered, pct(s.answered_share));
        if s.answered_after_close > 0 {
            row(
                &mut o,
                "  of which after the close",
                s.answered_after_close,
                String::new(),
            );
        }
        row(
            &mut o,
            "gave up waiting",
            s.abandoned,
            pct(s.abandoned_share),
        );
        if s.tokens_at_close > 0 {
            row(
                &mut o,
                "token at the close",
                s.tokens_at_close,
                String::new(),
            );
        }
        let _ = writeln!(
            o,
            "  answered within 2 min          {:>7}",
            pct(s.within_2m)
        );
        let _ = writeln!(
            o,
            "  answered within 5 min          {:>7}",
            pct(s.within_5m)
        );
        let _ = writeln!(
            o,
            "  average wait (answered)        {:>11}",
            mins(s.avg_wait_secs)
        );
        let _ = writeln!(
            o,
            "  95th percentile wait           {:>11}",
            mins(s.p95_wait_secs)
        );
        let _ = writeln!(
            o,
            "  officer utilisation (in call)  {:>7}",
            pct(s.utilisation)
        );
        let _ = writeln!(
            o,
            "  most waiting at once           {:>7}",
            self.queue.max_waiting
        );
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "Estimates ({} citizens told an estimate at joining)",
            e.citizens
        );
        let _ = writeln!(
            o,
            "  error at joining     median {:>9} ({}), 90th percentile {} ({})",
            mins(e.median_abs_error_secs),
            pct(e.median_rel_error),
            mins(e.p90_abs_error_secs),
            pct(e.p90_rel_error)
        );
        let _ = writeln!(
            o,
            "  bias                 {:+.1} min (positive: estimates run long)",
            e.mean_signed_error_secs / 60.0
        );
        let _ = writeln!(o, "  as the wait goes on  waited   citizens   median error");
        for k in &e.by_time_waited {
            if k.citizens == 0 {
                continue;
            }
            let _ = writeln!(
                o,
                "                       {:>3} min   {:>8}   {:>8} ({})",
                k.waited_min,
                k.citizens,
                mins(k.median_abs_error_secs),
                pct(k.median_rel_error)
            );
        }
        let _ = writeln!(
            o,
            "  told 'reached today', then not        {} of {}",
            e.told_reachable_not_reached, e.told_reachable
        );
        let _ = writeln!(
            o,
            "  told 'not today', would have been     {} of {}",
            e.told_unreachable_but_reached, e.told_unreachable
        );
        let _ = writeln!(
            o,
            "  told something wrong about today      {}",
            pct(e.wrongly_told_share)
        );
        if let Some(r) = &self.recommendation {
            let _ = writeln!(o);
            o.push_str(&r.table());
        }
        o
    }
}
