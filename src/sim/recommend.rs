//! `--recommend`: the fewest officers that meet a service target in simulation, set beside
//! what Erlang C says for the same load, with the reasons they differ.

use jiff::SignedDuration;
use serde::Serialize;

use super::erlang;
use super::profile::{window_len, Arrivals};
use super::report::{answered_within, summarize};
use super::run::{simulate, Officers, Scenario, SimError};
use super::{parse_duration, secs, InputError};
use crate::core::schedule::Schedule;

/// "90% within 2 minutes": the share of citizens to be answered within a time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    pub share: f64,
    pub within: SignedDuration,
}

impl Target {
    /// "90% within 2 minutes", "80% within 5m", "95% in 90s".
    pub fn parse(s: &str) -> Result<Target, InputError> {
        let bad = || {
            InputError::Invalid(format!(
                "{s:?} is not a target such as \"90% within 2 minutes\""
            ))
        };
        let (pct, rest) = s.trim().split_once('%').ok_or_else(bad)?;
        let share: f64 = pct.trim().parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&share) || share == 0.0 {
            return Err(bad());
        }
        let rest = rest.trim();
        let rest = rest
            .strip_prefix("within")
            .or_else(|| rest.strip_prefix("in"))
            .ok_or_else(bad)?;
        let within = parse_duration(rest).map_err(|_| bad())?;
        Ok(Target {
            share: share / 100.0,
            within,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "{}% within {}",
            self.share * 100.0,
            fmt_minutes(secs(self.within))
        )
    }
}

fn fmt_minutes(s: f64) -> String {
    if s % 60.0 == 0.0 {
        format!("{} min", s / 60.0)
    } else {
        format!("{s} s")
    }
}

/// One officer count tried in simulation.
#[derive(Clone, Debug, Serialize)]
pub struct Tried {
    pub officers: u32,
    pub answered_within_target: f64,
    pub avg_wait_secs: f64,
    pub abandoned_share: f64,
    pub tokens_share: f64,
    pub utilisation: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    pub target: String,
    /// The fewest officers meeting the target in simulation; `None` if none up to the cap.
    pub officers: Option<u32>,
    pub tried: Vec<Tried>,
    /// Erlang C at the window's average arrival rate.
    pub erlang_c_average: u32,
    /// Erlang C at the busiest stretch's arrival rate (the rush, if any).
    pub erlang_c_peak: u32,
    /// Minutes an officer is occupied per citizen: call, wrap-up and accepting the offer.
    pub handle_secs: f64,
    pub arrivals_per_hour: f64,
    pub peak_arrivals_per_hour: f64,
    pub explanation: Vec<String>,
}

impl Recommendation {
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let _ = writeln!(o, "Recommendation for {}", self.target);
        let _ = writeln!(
            o,
            "  officers   within target   avg wait   gave up   tokens   utilisation"
        );
        for t in &self.tried {
            let _ = writeln!(
                o,
                "  {:>8}   {:>12.1}%   {:>5.1} min   {:>6.1}%   {:>5.1}%   {:>10.1}%",
                t.officers,
                t.answered_within_target * 100.0,
                t.avg_wait_secs / 60.0,
                t.abandoned_share * 100.0,
                t.tokens_share * 100.0,
                t.utilisation * 100.0
            );
        }
        let _ = match self.officers {
            Some(n) => writeln!(o, "  simulation: {n} officer(s) meet the target"),
            None => writeln!(o, "  simulation: no officer count tried meets the target"),
        };
        let _ = writeln!(
            o,
            "  Erlang C:   {} at the average rate, {} at the peak rate",
            self.erlang_c_average, self.erlang_c_peak
        );
        for line in &self.explanation {
            let _ = writeln!(o, "  - {line}");
        }
        o
    }
}

/// Tries 1, 2, … officers (all on duty for the whole window) with the scenario's citizens
/// and seed, up to `max`, and stops at the first count that meets the target.
pub fn recommend(sc: &Scenario, target: Target, max: u32) -> Result<Recommendation, SimError> {
    recommend_with(sc, target, max, &mut |_| {})
}

/// [`recommend`], calling `trying` with each number of officers before simulating it.
pub fn recommend_with(
    sc: &Scenario,
    target: Target,
    max: u32,
    trying: &mut dyn FnMut(u32),
) -> Result<Recommendation, SimError> {
    let mut tried = Vec::new();
    let mut found = None;
    for n in 1..=max {
        trying(n);
        let s = Scenario {
            officers: Officers::Count(n),
            ..sc.clone()
        };
        let out = simulate(&s)?;
        let r = summarize(&s, &out);
        let ok = answered_within(&out, target.within);
        tried.push(Tried {
            officers: n,
            answered_within_target: ok,
            avg_wait_secs: r.service.avg_wait_secs,
            abandoned_share: r.service.abandoned_share,
            tokens_share: if r.service.joined > 0 {
                r.service.tokens_at_join as f64 / r.service.joined as f64
            } else {
                0.0
            },
            utilisation: r.service.utilisation,
        });
        if ok >= target.share {
            found = Some(n);
            break;
        }
    }
    Ok(explain(sc, target, found, tried))
}

fn explain(sc: &Scenario, target: Target, found: Option<u32>, tried: Vec<Tried>) -> Recommendation {
    let schedule = Schedule::new(sc.schedule.clone());
    let tz = sc.schedule.time_zone();
    let len = tz
        .to_timestamp(sc.first_day.to_datetime(jiff::civil::Time::midnight()))
        .ok()
        .and_then(|t| schedule.next_window_after(t))
        .map_or(SignedDuration::from_secs(7200), window_len);
    let calls = match &sc.arrivals {
        Arrivals::Recorded(days) => {
            days.iter().map(|d| d.times.len()).sum::<usize>() as f64 / days.len() as f64
        }
        _ => sc.calls,
    };
    let handle =
        sc.call_length.mean_secs() + secs(sc.policy.wrap_up) + sc.behaviour.mean_accept_secs();
    let mu = 1.0 / handle;
    let lambda = calls / secs(len);
    let (peak, span) = sc.arrivals.peak(calls, len);
    let t = secs(target.within);
    let avg_n = erlang::servers_for(lambda, mu, t, target.share);
    let peak_n = erlang::servers_for(peak, mu, t, target.share);
    let mut why = vec![format!(
        "Erlang C's load: {:.1} citizens an hour, each occupying an officer {:.1} min \
         (call, wrap-up, accepting) = {:.2} erlangs on average",
        lambda * 3600.0,
        handle / 60.0,
        lambda / mu
    )];
    if peak > lambda * 1.01 {
        why.push(format!(
            "the rush: {:.0} citizens an hour during the first {:.0} min ({:.2} erlangs); \
             Erlang C assumes a steady rate and cannot see a queue that builds at the \
             opening and takes the rest of the window to clear",
            peak * 3600.0,
            secs(span) / 60.0,
            peak / mu
        ));
    }
    let rush = peak > lambda * 1.01;
    if let Some(n) = found {
        if n > avg_n {
            why.push(format!(
                "the simulation needs {} more than Erlang C at the average rate: {}",
                n - avg_n,
                if rush {
                    "the queue that builds in the rush is waited out by those behind it"
                } else {
                    "the day is short, and waits pile up whenever arrivals bunch"
                }
            ));
        }
        if n < avg_n {
            why.push(format!(
                "the simulation needs {} fewer than Erlang C at the average rate: the window \
                 opens with nobody waiting, and the reasons below shorten queues",
                avg_n - n
            ));
        }
        if rush && n < peak_n {
            why.push(
                "fewer than Erlang C at the peak rate: the rush is short, so part of it can \
                 wait a little without breaking the target over the whole day"
                    .into(),
            );
        }
        if n == avg_n && !rush {
            why.push("the simulation agrees with Erlang C for this steady load".into());
        }
    }
    if let Some(last) = tried.last() {
        if last.abandoned_share > 0.0 {
            why.push(format!(
                "Erlang C assumes nobody gives up; in the simulation {:.1}% did at {} officer(s), \
                 which shortens the wait of those behind them",
                last.abandoned_share * 100.0,
                last.officers
            ));
        }
        if last.tokens_share > 0.0 {
            why.push(format!(
                "{:.1}% were handed a token for the next window at joining (counted as not \
                 answered in time)",
                last.tokens_share * 100.0
            ));
        }
    }
    if sc.call_length.cv() < 0.99 || sc.call_length.cv() > 1.01 {
        why.push(format!(
            "calls here vary with cv {:.2}; Erlang C assumes exponential calls (cv 1)",
            sc.call_length.cv()
        ));
    }
    Recommendation {
        target: target.describe(),
        officers: found,
        tried,
        erlang_c_average: avg_n,
        erlang_c_peak: peak_n,
        handle_secs: handle,
        arrivals_per_hour: lambda * 3600.0,
        peak_arrivals_per_hour: peak * 3600.0,
        explanation: why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t = Target::parse("90% within 2 minutes").unwrap();
        assert_eq!(t.share, 0.9);
        assert_eq!(t.within, SignedDuration::from_secs(120));
        assert_eq!(
            Target::parse("80% in 90s").unwrap().within,
            SignedDuration::from_secs(90)
        );
        assert_eq!(Target::parse(" 95 % within 5m ").unwrap().share, 0.95);
        for bad in [
            "90 within 2m",
            "120% within 2m",
            "90% by 2m",
            "90% within soon",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
