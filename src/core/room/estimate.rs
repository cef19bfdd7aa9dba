//! Wait estimates. Given when each on-duty officer is expected to be free and how long a
//! call and the pause after it take, it projects when each waiting citizen will be reached,
//! by handing the queue out, in order, to whichever officer frees up first.
//!
//! Honest by construction: with no officer on duty there is no estimate (callers show
//! "no officer on duty yet" rather than a made-up number).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use jiff::{SignedDuration, Timestamp};

/// How many recent calls the mean is taken over.
const RECENT: usize = 30;
/// How many calls' worth of weight the configured assumption keeps while data is scarce.
const PRIOR_WEIGHT: i64 = 3;
/// How many recent departures from the queue (answered or gave up) the give-up rate is
/// measured over.
const RECENT_WAITS: usize = 100;

#[derive(Clone, Debug)]
pub struct Estimator {
    assumed_call: SignedDuration,
    assumed_gap: SignedDuration,
    calls: VecDeque<SignedDuration>,
    gaps: VecDeque<SignedDuration>,
    /// Recent departures from the queue: how long each had waited, and whether they gave
    /// up (rather than being answered).
    waits: VecDeque<(SignedDuration, bool)>,
    /// Sums over `waits`, kept as it changes: seconds waited, and how many gave up.
    waited_secs: f64,
    gave_up: u32,
}

fn push_bounded(q: &mut VecDeque<SignedDuration>, d: SignedDuration) {
    if q.len() == RECENT {
        q.pop_front();
    }
    q.push_back(d.max(SignedDuration::ZERO));
}

/// The mean of `recent`, pulled toward `prior` while there are few samples.
fn blended(prior: SignedDuration, recent: &VecDeque<SignedDuration>) -> SignedDuration {
    let n = recent.len() as i64;
    let sum: i64 = recent.iter().map(|d| d.as_millis() as i64).sum();
    let ms = (prior.as_millis() as i64 * PRIOR_WEIGHT + sum) / (PRIOR_WEIGHT + n);
    SignedDuration::from_millis(ms)
}

/// What an on-duty officer is doing, as far as the estimate is concerned.
#[derive(Clone, Copy, Debug)]
pub enum Availability {
    /// Free now, or about to be (an offer is out).
    Now,
    /// In a call that started at this time.
    InCallSince(Timestamp),
    /// In wrap-up until this time.
    Until(Timestamp),
}

impl Estimator {
    pub fn new(assumed_call: SignedDuration, assumed_gap: SignedDuration) -> Self {
        Self {
            assumed_call,
            assumed_gap,
            calls: VecDeque::with_capacity(RECENT),
            gaps: VecDeque::with_capacity(RECENT),
            waits: VecDeque::with_capacity(RECENT_WAITS),
            waited_secs: 0.0,
            gave_up: 0,
        }
    }

    /// A citizen left the queue after waiting `waited`: answered, or they gave up.
    pub fn record_wait(&mut self, waited: SignedDuration, gave_up: bool) {
        if self.waits.len() == RECENT_WAITS {
            if let Some((w, g)) = self.waits.pop_front() {
                self.waited_secs -= w.as_secs_f64();
                self.gave_up -= u32::from(g);
            }
        }
        let waited = waited.max(SignedDuration::ZERO);
        self.waits.push_back((waited, gave_up));
        self.waited_secs += waited.as_secs_f64();
        self.gave_up += u32::from(gave_up);
    }

    /// How often waiting citizens give up, per second of waiting: recent departures who
    /// gave up over the time all of them waited. While data is scarce the assumption is
    /// that nobody gives up, worth a few calls' length of waiting.
    pub fn give_up_rate(&self) -> f64 {
        let prior = (PRIOR_WEIGHT as f64) * self.assumed_call.as_secs_f64();
        f64::from(self.gave_up) / (self.waited_secs.max(0.0) + prior).max(1.0)
    }

    pub fn record_call(&mut self, talk: SignedDuration) {
        push_bounded(&mut self.calls, talk);
    }

    /// The pause between an officer's call ending and their next call starting
    /// (wrap-up plus accepting the offer).
    pub fn record_gap(&mut self, gap: SignedDuration) {
        push_bounded(&mut self.gaps, gap);
    }

    pub fn mean_call(&self) -> SignedDuration {
        blended(self.assumed_call, &self.calls)
    }

    pub fn mean_gap(&self) -> SignedDuration {
        blended(self.assumed_gap, &self.gaps)
    }

    /// When an officer in this state is expected to take their next caller.
    fn free_at(&self, now: Timestamp, a: Availability) -> Timestamp {
        match a {
            Availability::Now => now,
            Availability::InCallSince(since) => {
                let mean = self.mean_call();
                let elapsed = now.duration_since(since);
                // A call that has run past the mean is still expected to take a while; a
                // quarter of the mean keeps the estimate from promising "any second now".
                let left = (mean - elapsed).max(mean / 4);
                now + left + self.mean_gap()
            }
            Availability::Until(t) => t.max(now),
        }
    }

    /// Expected waits for the first `n` citizens in queue order, written into `out`
    /// (cleared first). Leaves `out` empty when `officers` is empty: no estimate.
    pub fn waits(
        &self,
        now: Timestamp,
        officers: impl Iterator<Item = Availability>,
        n: usize,
        out: &mut Vec<SignedDuration>,
    ) {
        out.clear();
        let mut free: BinaryHeap<Reverse<Timestamp>> =
            officers.map(|a| Reverse(self.free_at(now, a))).collect();
        if free.is_empty() {
            return;
        }
        let cycle = self.mean_call() + self.mean_gap();
        // The moments an officer is expected to take the next caller, in order: `turns[k]`
        // is when the (k+1)-th caller from now is taken, in seconds from now.
        let mut turns: Vec<f64> = Vec::with_capacity(n + 1);
        let mut next_turn = || {
            // Invariant: the heap is non-empty (checked above, and every pop is pushed back).
            let Reverse(t) = free.pop().expect("heap of on-duty officers is non-empty");
            free.push(Reverse(t + cycle));
            t.duration_since(now)
                .max(SignedDuration::ZERO)
                .as_secs_f64()
        };
        let rate = self.give_up_rate();
        // How many of those ahead are expected to still be waiting when their turn comes:
        // each counts with the chance that they have not given up by then.
        let mut ahead = 0.0_f64;
        out.reserve(n);
        for _ in 0..n {
            let k = ahead.floor() as usize;
            while turns.len() < k + 2 {
                turns.push(next_turn());
            }
            // Between two turns, in proportion to the part of a person ahead.
            let frac = ahead - k as f64;
            let wait = turns[k] + frac * (turns[k + 1] - turns[k]);
            out.push(SignedDuration::from_millis((wait * 1000.0).round() as i64));
            ahead += (-rate * wait).exp();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        "2026-11-28T06:30:00Z".parse().unwrap()
    }
    fn mins(m: i64) -> SignedDuration {
        SignedDuration::from_secs(m * 60)
    }

    #[test]
    fn no_officer_no_estimate() {
        let e = Estimator::new(mins(6), SignedDuration::ZERO);
        let mut out = vec![mins(1)];
        e.waits(t0(), std::iter::empty(), 3, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn two_free_officers_take_the_queue_in_turns() {
        let e = Estimator::new(mins(6), SignedDuration::ZERO);
        let mut out = vec![];
        let officers = [Availability::Now, Availability::Now];
        e.waits(t0(), officers.into_iter(), 5, &mut out);
        assert_eq!(out, vec![mins(0), mins(0), mins(6), mins(6), mins(12)]);
    }

    #[test]
    fn a_busy_officer_frees_up_after_the_rest_of_the_mean_call() {
        let e = Estimator::new(mins(6), SignedDuration::ZERO);
        let mut out = vec![];
        let since = t0() - mins(2);
        e.waits(
            t0(),
            [Availability::InCallSince(since)].into_iter(),
            2,
            &mut out,
        );
        assert_eq!(out, vec![mins(4), mins(10)]);
        // A call that overran is expected to need a quarter of the mean more.
        let since = t0() - mins(20);
        e.waits(
            t0(),
            [Availability::InCallSince(since)].into_iter(),
            1,
            &mut out,
        );
        assert_eq!(out, vec![SignedDuration::from_secs(90)]);
    }

    #[test]
    fn people_likely_to_give_up_ahead_shorten_the_wait() {
        let mut e = Estimator::new(mins(6), SignedDuration::ZERO);
        assert_eq!(e.give_up_rate(), 0.0);
        // 10 gave up and 30 were answered, 100 minutes of waiting in all, plus the
        // assumption's 18 minutes with nobody giving up.
        for _ in 0..10 {
            e.record_wait(mins(4), true);
        }
        for _ in 0..30 {
            e.record_wait(mins(2), false);
        }
        let rate = e.give_up_rate();
        assert!((rate - 10.0 / (118.0 * 60.0)).abs() < 1e-12, "{rate}");
        let mut out = vec![];
        e.waits(t0(), [Availability::Now].into_iter(), 3, &mut out);
        // The first is taken now and is surely there; the second comes after one call.
        assert_eq!(out[..2], [mins(0), mins(6)]);
        // The second may give up in those six minutes, so the third waits less than 12.
        let stays = (-rate * 360.0).exp();
        let expected = 360.0 + stays * 360.0;
        assert!(
            (out[2].as_secs_f64() - expected).abs() < 0.01,
            "{:?}",
            out[2]
        );
        assert!(out[2] < mins(10) && out[2] > mins(9));
        // Only the last 100 departures count.
        for _ in 0..100 {
            e.record_wait(mins(2), false);
        }
        assert_eq!(e.give_up_rate(), 0.0);
    }

    #[test]
    fn measured_calls_pull_the_mean_away_from_the_assumption() {
        let mut e = Estimator::new(mins(6), SignedDuration::ZERO);
        for _ in 0..27 {
            e.record_call(mins(2));
        }
        // (3 * 6 + 27 * 2) / 30 = 2.4 minutes
        assert_eq!(e.mean_call(), SignedDuration::from_secs(144));
        for _ in 0..100 {
            e.record_call(mins(2));
        }
        assert_eq!(e.mean_call().as_secs(), (3 * 360 + 30 * 120) / 33);
    }
}
