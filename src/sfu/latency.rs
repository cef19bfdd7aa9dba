//! A fixed-size latency histogram in microseconds: cheap enough to update for every
//! forwarded packet, and two snapshots can be subtracted to get the figures of a time span
//! (what `sunwai bench` does with the counts `/api/media` shows).
//!
//! Buckets are log-linear: exact below 8 µs, then four per power of two, so a quantile is
//! known to within 25 %. Quantiles report the bucket's upper bound (never optimistic).

use serde::{Deserialize, Serialize};

/// 8 exact buckets, then 4 per power of two from 8 µs up to 2^25 µs (about 33 s).
pub const BUCKETS: usize = 8 + 4 * 22;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: [u64; BUCKETS],
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: [0; BUCKETS],
        }
    }
}

/// One bucket as shown to clients: values up to `le_us` (and above the previous bound).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub le_us: u64,
    pub count: u64,
}

fn bucket_of(us: u64) -> usize {
    if us < 8 {
        return us as usize;
    }
    let log2 = 63 - us.leading_zeros() as usize;
    let sub = ((us >> (log2 - 2)) & 3) as usize;
    (8 + (log2 - 3) * 4 + sub).min(BUCKETS - 1)
}

/// The largest value (µs) that falls in bucket `b`.
fn upper_us(b: usize) -> u64 {
    if b < 8 {
        return b as u64;
    }
    let log2 = 3 + (b - 8) / 4;
    let sub = ((b - 8) % 4) as u64;
    ((5 + sub) << (log2 - 2)) - 1
}

impl LatencyHistogram {
    pub fn record(&mut self, us: u64, count: u64) {
        self.counts[bucket_of(us)] += count;
    }

    pub fn add(&mut self, o: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
            *a += b;
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The non-empty buckets.
    pub fn buckets(&self) -> Vec<Bucket> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(b, c)| Bucket {
                le_us: upper_us(b),
                count: *c,
            })
            .collect()
    }

    /// Rebuilds a histogram from `buckets()` (bounds not produced by `buckets()` land in
    /// the bucket that holds them).
    pub fn from_buckets(buckets: &[Bucket]) -> LatencyHistogram {
        let mut h = LatencyHistogram::default();
        for b in buckets {
            h.record(b.le_us, b.count);
        }
        h
    }

    /// What was recorded in `self` and not yet in `earlier` (a later snapshot minus an
    /// earlier one of the same counters).
    pub fn since(&self, earlier: &LatencyHistogram) -> LatencyHistogram {
        let mut h = self.clone();
        for (a, b) in h.counts.iter_mut().zip(earlier.counts.iter()) {
            *a = a.saturating_sub(*b);
        }
        h
    }

    /// The value at quantile `q` (0..=1), as its bucket's upper bound; `None` when empty.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64 * q.clamp(0.0, 1.0)).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(upper_us(b));
            }
        }
        Some(upper_us(BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut last = 0;
        for us in 0..200_000u64 {
            let b = bucket_of(us);
            assert!(b >= last, "{us}");
            assert!(us <= upper_us(b), "{us} above the bound of its bucket {b}");
            if b > 0 {
                assert!(us > upper_us(b - 1), "{us} belongs below bucket {b}");
            }
            last = b;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_are_upper_bounds_within_a_quarter() {
        let mut h = LatencyHistogram::default();
        for us in 1..=1000 {
            h.record(us, 1);
        }
        let p50 = h.quantile_us(0.5).unwrap();
        let p99 = h.quantile_us(0.99).unwrap();
        assert!((500..=625).contains(&p50), "{p50}");
        assert!((990..=1240).contains(&p99), "{p99}");
        assert_eq!(LatencyHistogram::default().quantile_us(0.5), None);
    }

    #[test]
    fn snapshots_subtract_and_survive_a_round_trip() {
        let mut a = LatencyHistogram::default();
        a.record(100, 5);
        let mut b = a.clone();
        b.record(3000, 7);
        let d = b.since(&a);
        assert_eq!(d.total(), 7);
        assert_eq!(LatencyHistogram::from_buckets(&b.buckets()), b);
        assert!(d.quantile_us(0.5).unwrap() >= 3000);
    }
}
