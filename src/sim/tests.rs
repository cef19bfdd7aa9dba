//! The simulator against queueing theory, against the room's own bookkeeping, and the
//! estimator against its accuracy targets. Fixed seeds throughout.

use jiff::SignedDuration;

use super::erlang;
use super::model::{Behaviour, CallLength, Patience};
use super::recommend::{recommend, Target};
use super::report::{answered_within, summarize};
use super::run::{simulate, Fate, Officers, Scenario};
use crate::core::room::{LateJoin, Policy, RecordNote};
use crate::core::schedule::ScheduleSpec;

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_secs(m * 60)
}

/// A long steady day with nobody giving up, officers who accept at once and no wrap-up:
/// exactly the M/M/c queue of Erlang C.
fn erlang_scenario(officers: u32, per_min: f64, days: u32, seed: u64) -> Scenario {
    let mut sc = Scenario::hearing_day(officers);
    sc.schedule = ScheduleSpec::parse("Asia/Kolkata", &["08:00-20:00".into()], &[], &[]).unwrap();
    sc.policy = Policy {
        wrap_up: SignedDuration::ZERO,
        late_join: LateJoin::AdmitWithWarning,
        ..Policy::default()
    };
    sc.arrivals = super::Arrivals::Steady;
    sc.calls = per_min * 12.0 * 60.0;
    sc.call_length = CallLength::Exponential { mean_secs: 360.0 };
    sc.patience = Patience::Unlimited;
    sc.behaviour = Behaviour::instant();
    sc.warmup = mins(60);
    sc.days = days;
    sc.seed = seed;
    sc
}

/// Tolerance of the comparison with Erlang C, in percentage points of service level.
const ERLANG_TOLERANCE: f64 = 0.03;

#[test]
fn a_steady_poisson_load_matches_erlang_c() {
    // Three officers, 6-minute calls, 0.35 arrivals a minute: 2.1 erlangs, 70% busy.
    let (c, per_min) = (3, 0.35);
    let sc = erlang_scenario(c, per_min, 30, 11);
    let out = simulate(&sc).unwrap();
    let (lambda, mu) = (per_min / 60.0, 1.0 / 360.0);
    for t in [0, 1, 2, 5, 10] {
        let sim = answered_within(&out, mins(t));
        let theory = erlang::service_level(c, lambda, mu, (t * 60) as f64);
        assert!(
            (sim - theory).abs() <= ERLANG_TOLERANCE,
            "P(wait <= {t} min): simulated {sim:.3}, Erlang C {theory:.3}"
        );
    }
    let r = summarize(&sc, &out);
    let theory = erlang::mean_wait(c, lambda, mu);
    let sim = r.service.avg_wait_secs * r.service.answered as f64 / r.service.joined as f64;
    assert!(
        (sim - theory).abs() <= 0.15 * theory,
        "mean wait: simulated {sim:.0} s, Erlang C {theory:.0} s"
    );
    let busy = r.service.utilisation;
    assert!((busy - 0.7).abs() < 0.03, "utilisation {busy}");
}

#[test]
fn the_simulator_drives_the_server_room_and_reads_its_records() {
    let mut sc = Scenario::hearing_day(4);
    sc.days = 3;
    let out = simulate(&sc).unwrap();
    for day in &out.days {
        // Every fate the simulator reports comes from a record note the room emitted...
        let answered = |e| {
            day.records
                .iter()
                .any(|r| matches!(r, RecordNote::Answered { entry, .. } if *entry == e))
        };
        let terminal = |e| {
            day.records
                .iter()
                .filter(|r| match r {
                    RecordNote::Ended { entry, .. }
                    | RecordNote::Abandoned { entry, .. }
                    | RecordNote::CarriedOver { entry, .. } => *entry == e,
                    _ => false,
                })
                .count()
        };
        for c in &day.citizens {
            match c.fate {
                Fate::Refused => assert_eq!(terminal(c.entry), 0),
                Fate::Waiting => panic!("{} still waiting at the end of the day", c.entry),
                Fate::Answered { .. } => {
                    assert!(answered(c.entry) && c.ended);
                    assert_eq!(terminal(c.entry), 1);
                }
                _ => {
                    assert!(!answered(c.entry));
                    assert_eq!(terminal(c.entry), 1);
                }
            }
        }
        // ...and agrees with the room's own counters for the day.
        let n = |f: fn(&Fate) -> bool| day.citizens.iter().filter(|c| f(&c.fate)).count() as u32;
        assert_eq!(day.room_calls, n(|f| matches!(f, Fate::Answered { .. })));
        assert_eq!(
            day.room_abandoned,
            n(|f| matches!(f, Fate::Abandoned { .. }))
        );
        assert_eq!(
            day.room_carried,
            n(|f| matches!(f, Fate::CarriedAtJoin { .. } | Fate::CarriedAtClose { .. }))
        );
        // Estimates are whole minutes, as the room rounds them for citizens.
        for c in &day.citizens {
            for t in &c.told {
                assert!(t.estimate.is_none_or(|e| e.as_secs() % 60 == 0));
            }
        }
    }
    // The desk's policy, not the simulator, decides who is handed a token at joining.
    let mut crowded = Scenario::hearing_day(2);
    crowded.patience = Patience::Unlimited;
    let tokens = |sc: &Scenario| summarize(sc, &simulate(sc).unwrap()).service.tokens_at_join;
    assert!(tokens(&crowded) > 0);
    crowded.policy.late_join = LateJoin::AdmitWithWarning;
    assert_eq!(tokens(&crowded), 0);
}

#[test]
fn the_same_seed_gives_the_same_day_and_another_seed_another() {
    let mut sc = Scenario::hearing_day(4);
    sc.days = 2;
    let a = summarize(&sc, &simulate(&sc).unwrap());
    let b = summarize(&sc, &simulate(&sc).unwrap());
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    sc.seed = 2;
    let c = summarize(&sc, &simulate(&sc).unwrap());
    assert_ne!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&c).unwrap()
    );
}

#[test]
fn recommend_finds_the_smallest_officer_count() {
    let mut sc = erlang_scenario(1, 0.5, 4, 5);
    sc.schedule = ScheduleSpec::parse("Asia/Kolkata", &["10:00-16:00".into()], &[], &[]).unwrap();
    sc.calls = 0.5 * 6.0 * 60.0;
    let target = Target::parse("80% within 2 minutes").unwrap();
    let r = recommend(&sc, target, 20).unwrap();
    let n = r.officers.expect("some count meets the target");
    assert_eq!(r.tried.len() as u32, n, "tried 1..=n");
    assert!(r.tried[n as usize - 1].answered_within_target >= 0.8);
    for t in &r.tried[..n as usize - 1] {
        assert!(t.answered_within_target < 0.8, "{t:?}");
    }
    // A steady load and exponential calls: close to Erlang C (3 erlangs → 5 officers).
    assert_eq!(r.erlang_c_average, 5);
    assert!(n.abs_diff(r.erlang_c_average) <= 1, "simulated {n}");
    // Rush at opening: more officers than Erlang C at the day's average rate.
    let rush = Scenario::hearing_day(1);
    let r = recommend(&rush, Target::parse("90% within 2m").unwrap(), 20).unwrap();
    assert!(r.officers.unwrap() > r.erlang_c_average, "{r:?}");
    assert!(r.explanation.iter().any(|l| l.contains("rush")));
    let _ = Officers::Count(1);
}

#[test]
fn durations_parse_the_way_people_write_them() {
    assert_eq!(
        super::parse_duration("6m").unwrap(),
        SignedDuration::from_secs(360)
    );
    assert_eq!(
        super::parse_duration("90s").unwrap(),
        SignedDuration::from_secs(90)
    );
    assert_eq!(
        super::parse_duration("2 minutes").unwrap(),
        SignedDuration::from_secs(120)
    );
    assert_eq!(
        super::parse_duration("1h 30m").unwrap(),
        SignedDuration::from_secs(5400)
    );
    assert!(super::parse_duration("soon").is_err());
    assert!(super::parse_duration("-5m").is_err());
}

/// The estimator's targets (docs/waiting.md): on the rush profile, 72 citizens in a two-hour
/// window, 6-minute calls and 3 to 6 officers, the median error of the estimate at joining
/// is within 20% of the actual wait, and at most 5% of citizens are told something wrong
/// about being reached today.
#[test]
fn the_estimator_meets_its_accuracy_targets_on_the_rush_profile() {
    for officers in 3..=6 {
        for seed in [1, 2] {
            let mut sc = Scenario::hearing_day(officers);
            sc.days = 20;
            sc.seed = seed;
            let e = summarize(&sc, &simulate(&sc).unwrap()).estimates;
            assert!(e.citizens > 1000);
            assert!(
                e.median_rel_error <= 0.20,
                "{officers} officers, seed {seed}: median error {:.1}%",
                e.median_rel_error * 100.0
            );
            assert!(
                e.wrongly_told_share <= 0.05,
                "{officers} officers, seed {seed}: {:.1}% told wrongly about today",
                e.wrongly_told_share * 100.0
            );
            // And it is not biased: on average within a minute either way.
            assert!(e.mean_signed_error_secs.abs() < 60.0, "{e:?}");
        }
    }
}
