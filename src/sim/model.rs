//! What the simulator assumes about people: how long calls last, how long citizens are
//! willing to wait, and how quickly officers take an offered call. Sampling only; no state.

use std::io::Read;

use jiff::SignedDuration;
use rand::{Rng, RngExt};

use super::{from_secs, secs, InputError};

/// A uniform draw in [0, 1).
pub(crate) fn uniform(rng: &mut impl Rng) -> f64 {
    rng.random::<f64>()
}

/// An exponential draw with the given mean.
pub(crate) fn exponential(rng: &mut impl Rng, mean: f64) -> f64 {
    -mean * (1.0 - uniform(rng)).ln()
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1 = 1.0 - uniform(rng); // (0, 1]
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// How long calls last.
#[derive(Clone, Debug, PartialEq)]
pub enum CallLength {
    /// Memoryless: what queueing formulas such as Erlang C assume.
    Exponential { mean_secs: f64 },
    /// Right-skewed, with a given mean and coefficient of variation (standard deviation /
    /// mean): most calls near the typical length, a few much longer. `cv` 0 means every
    /// call lasts exactly the mean.
    LogNormal { mean_secs: f64, cv: f64 },
    /// Drawn at random from measured call lengths (seconds), e.g. past days' records.
    Empirical { secs: Vec<f64> },
}

impl CallLength {
    pub fn sample(&self, rng: &mut impl Rng) -> SignedDuration {
        let s = match self {
            CallLength::Exponential { mean_secs } => exponential(rng, *mean_secs),
            CallLength::LogNormal { mean_secs, cv } if *cv <= 0.0 => *mean_secs,
            CallLength::LogNormal { mean_secs, cv } => {
                let sigma2 = (1.0 + cv * cv).ln();
                let mu = mean_secs.ln() - sigma2 / 2.0;
                (mu + sigma2.sqrt() * standard_normal(rng)).exp()
            }
            CallLength::Empirical { secs } => {
                let i = ((uniform(rng) * secs.len() as f64) as usize).min(secs.len() - 1);
                secs[i]
            }
        };
        // A call lasts at least a second.
        from_secs(s.max(1.0))
    }

    pub fn mean_secs(&self) -> f64 {
        match self {
            CallLength::Exponential { mean_secs } | CallLength::LogNormal { mean_secs, .. } => {
                *mean_secs
            }
            CallLength::Empirical { secs } => secs.iter().sum::<f64>() / secs.len() as f64,
        }
    }

    /// Coefficient of variation: standard deviation over mean.
    pub fn cv(&self) -> f64 {
        match self {
            CallLength::Exponential { .. } => 1.0,
            CallLength::LogNormal { cv, .. } => *cv,
            CallLength::Empirical { secs } => {
                let m = self.mean_secs();
                let var = secs.iter().map(|s| (s - m).powi(2)).sum::<f64>() / secs.len() as f64;
                if m > 0.0 {
                    var.sqrt() / m
                } else {
                    0.0
                }
            }
        }
    }

    pub fn describe(&self) -> String {
        let m = self.mean_secs() / 60.0;
        match self {
            CallLength::Exponential { .. } => format!("exponential, mean {m:.1} min"),
            CallLength::LogNormal { cv, .. } => format!("lognormal, mean {m:.1} min, cv {cv:.2}"),
            CallLength::Empirical { secs } => format!(
                "from {} recorded calls, mean {m:.1} min, cv {:.2}",
                secs.len(),
                self.cv()
            ),
        }
    }

    /// Call lengths from a CSV with a `talk_secs` column (as written by `sunwai records
    /// export`); rows with an empty `talk_secs` (no call took place) are skipped.
    pub fn from_records_csv(reader: impl Read) -> Result<Self, InputError> {
        let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let col = r
            .headers()?
            .iter()
            .position(|h| h.trim() == "talk_secs")
            .ok_or_else(|| InputError::MissingColumn("talk_secs".into()))?;
        let mut secs = Vec::new();
        for row in r.records() {
            let row = row?;
            let line = row.position().map_or(0, |p| p.line());
            let raw = row.get(col).unwrap_or("").trim();
            if raw.is_empty() {
                continue;
            }
            match raw.parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => secs.push(s),
                _ => {
                    return Err(InputError::BadRow {
                        line,
                        message: format!("talk_secs {raw:?} is not a number of seconds"),
                    })
                }
            }
        }
        if secs.is_empty() {
            return Err(InputError::Empty);
        }
        Ok(CallLength::Empirical { secs })
    }
}

/// How long a citizen is willing to wait before giving up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Patience {
    /// Nobody gives up.
    Unlimited,
    /// Each citizen's patience is drawn from an exponential distribution with this mean:
    /// the usual assumption of call-centre models (Erlang A). Some leave after a minute,
    /// some would wait an hour.
    Exponential { mean: SignedDuration },
}

impl Patience {
    pub fn sample(&self, rng: &mut impl Rng) -> Option<SignedDuration> {
        match self {
            Patience::Unlimited => None,
            Patience::Exponential { mean } => Some(from_secs(exponential(rng, secs(*mean)))),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Patience::Unlimited => "unlimited (nobody gives up)".into(),
            Patience::Exponential { mean } => {
                format!("exponential, mean {:.0} min", secs(*mean) / 60.0)
            }
        }
    }
}

/// How officers behave, apart from call lengths. After a call they take the desk's
/// configured wrap-up (the room's own timer makes them ready again).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Behaviour {
    /// An offered call is accepted after a delay drawn uniformly from this range.
    pub accept_min: SignedDuration,
    pub accept_max: SignedDuration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            accept_min: SignedDuration::from_secs(3),
            accept_max: SignedDuration::from_secs(10),
        }
    }
}

impl Behaviour {
    /// Officers who accept the moment a call is offered (for comparisons with formulas).
    pub fn instant() -> Self {
        Self {
            accept_min: SignedDuration::ZERO,
            accept_max: SignedDuration::ZERO,
        }
    }

    pub fn sample_accept(&self, rng: &mut impl Rng) -> SignedDuration {
        let (lo, hi) = (secs(self.accept_min), secs(self.accept_max));
        from_secs(lo + (hi - lo).max(0.0) * uniform(rng))
    }

    pub fn mean_accept_secs(&self) -> f64 {
        (secs(self.accept_min) + secs(self.accept_max)) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn mean_and_cv(xs: &[f64]) -> (f64, f64) {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64;
        (m, v.sqrt() / m)
    }

    #[test]
    fn samples_have_the_asked_for_mean_and_spread() {
        let mut rng = StdRng::seed_from_u64(1);
        let n = 40_000;
        for (dist, cv) in [
            (
                CallLength::LogNormal {
                    mean_secs: 360.0,
                    cv: 0.5,
                },
                0.5,
            ),
            (CallLength::Exponential { mean_secs: 360.0 }, 1.0),
        ] {
            let xs: Vec<f64> = (0..n).map(|_| secs(dist.sample(&mut rng))).collect();
            let (m, c) = mean_and_cv(&xs);
            assert!((m - 360.0).abs() < 8.0, "{dist:?}: mean {m}");
            assert!((c - cv).abs() < 0.04, "{dist:?}: cv {c}");
        }
        let fixed = CallLength::LogNormal {
            mean_secs: 300.0,
            cv: 0.0,
        };
        assert_eq!(fixed.sample(&mut rng), SignedDuration::from_secs(300));
    }

    #[test]
    fn call_lengths_load_from_a_records_export() {
        let csv = "reference,talk_secs,wait_secs\nPRY-1,300,10\nPRY-2,,40\nPRY-3,420,0\n";
        let d = CallLength::from_records_csv(csv.as_bytes()).unwrap();
        assert_eq!(
            d,
            CallLength::Empirical {
                secs: vec![300.0, 420.0]
            }
        );
        assert_eq!(d.mean_secs(), 360.0);
        // An export made for Excel starts with a byte-order mark: the first column is
        // still found.
        let marked = "\u{feff}talk_secs,wait_secs\n300,10\n";
        assert_eq!(
            CallLength::from_records_csv(marked.as_bytes()).unwrap(),
            CallLength::Empirical { secs: vec![300.0] }
        );
        let bad = "talk_secs\n300\nlong\n";
        match CallLength::from_records_csv(bad.as_bytes()) {
            Err(InputError::BadRow { line: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            CallLength::from_records_csv("wait_secs\n3\n".as_bytes()),
            Err(InputError::MissingColumn(_))
        ));
        assert!(matches!(
            CallLength::from_records_csv("talk_secs\n\n".as_bytes()),
            Err(InputError::Empty)
        ));
    }
}
