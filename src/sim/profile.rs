//! When citizens arrive during a hearing window.
//!
//! The built-in profiles are Poisson processes: arrivals are independent, `calls` are
//! expected per window (the actual number varies from day to day, as it does in life), and
//! the profile says how they spread over the window. A recorded profile replays real
//! arrival times, one recorded day per simulated day.

use std::collections::BTreeMap;
use std::io::Read;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rand::Rng;

use super::model::exponential;
use super::{from_secs, secs, InputError};
use crate::core::schedule::Window;

/// One day of recorded arrivals, as local times of day.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedDay {
    /// `None` when the file gave times of day only.
    pub date: Option<Date>,
    pub times: Vec<Time>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// The same rate all through the window.
    Steady,
    /// `share` of the day's citizens arrive evenly over the first `within` of the window,
    /// the rest evenly over the remainder: the crowd at the opening.
    Rush { share: f64, within: SignedDuration },
    /// Recorded arrival times; simulated day `i` replays recorded day `i` (cycling).
    Recorded(Vec<RecordedDay>),
}

/// The crowd at the opening: 60% of the day's citizens in the first 20 minutes.
pub const RUSH_SHARE: f64 = 0.6;
pub const RUSH_WITHIN: SignedDuration = SignedDuration::from_secs(20 * 60);

/// Column names taken as the arrival time, in order of preference.
const TIME_COLUMNS: [&str; 5] = ["created_at", "joined_at", "arrived_at", "arrival", "time"];

impl Arrivals {
    pub fn rush() -> Self {
        Arrivals::Rush {
            share: RUSH_SHARE,
            within: RUSH_WITHIN,
        }
    }

    /// "steady" or "rush"; anything else is taken to be a file name by the caller.
    pub fn builtin(name: &str) -> Option<Self> {
        match name {
            "steady" => Some(Arrivals::Steady),
            "rush" => Some(Arrivals::rush()),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Arrivals::Steady => "steady".into(),
            Arrivals::Rush { share, within } => format!(
                "rush at opening ({:.0}% in the first {:.0} min)",
                share * 100.0,
                secs(*within) / 60.0
            ),
            Arrivals::Recorded(days) => format!(
                "recorded: {} arrivals over {} day(s)",
                days.iter().map(|d| d.times.len()).sum::<usize>(),
                days.len()
            ),
        }
    }

    /// Where the fraction `u` (0..1) of the day's arrivals has been reached, as a fraction
    /// of the window: the inverse of the profile's cumulative distribution.
    fn position(&self, u: f64, window: SignedDuration) -> f64 {
        match self {
            Arrivals::Rush { share, within } => {
                let w = (secs(*within) / secs(window)).clamp(0.0, 1.0);
                if u < *share {
                    u / share * w
                } else {
                    w + (u - share) / (1.0 - share) * (1.0 - w)
                }
            }
            Arrivals::Steady | Arrivals::Recorded(_) => u,
        }
    }

    /// The busiest stretch of the profile: (expected arrivals per second there, its length).
    pub fn peak(&self, calls: f64, window: SignedDuration) -> (f64, SignedDuration) {
        let len = secs(window);
        match self {
            Arrivals::Rush { share, within }
                if *within < window && *share * len > secs(*within) =>
            {
                (calls * share / secs(*within), *within)
            }
            _ => (calls / len, window),
        }
    }

    /// The arrival instants of simulated day `day` in `window`, in order. Built-in profiles
    /// draw a Poisson process with `calls` expected arrivals; recorded ones replay the times
    /// of day of a recorded day on the window's date (times outside the window stay, and
    /// the room refuses them as it would).
    pub fn draw(
        &self,
        day: usize,
        window: crate::core::schedule::Window,
        tz: &TimeZone,
        calls: f64,
        rng: &mut impl Rng,
    ) -> Vec<Timestamp> {
        let len = window.closes_at.duration_since(window.opens_at);
        match self {
            Arrivals::Recorded(days) => {
                let rec = &days[day % days.len()];
                let date = window.opens_at.to_zoned_datetime(tz.clone()).date();
                let mut out: Vec<Timestamp> = rec
                    .times
                    .iter()
                    .filter_map(|t| tz.to_timestamp(date.to_datetime(*t)).ok())
                    .collect();
                out.sort();
                out
            }
            _ => {
                // A unit-rate Poisson process on [0, calls), mapped through the profile.
                let mut out = Vec::new();
                let mut x = exponential(rng, 1.0);
                while x < calls {
                    let at = self.position(x / calls, len) * secs(len);
                    out.push(window.opens_at + from_secs(at));
                    x += exponential(rng, 1.0);
                }
                out
            }
        }
    }

    /// Recorded arrivals from a CSV: a header row, and a time column named `created_at` (as
    /// in `sunwai records export`), `joined_at`, `arrived_at`, `arrival` or `time`. Values
    /// are RFC 3339 timestamps (`2026-11-28T12:03:10+05:30`), local date-times
    /// (`2026-11-28 12:03:10`) or local times of day (`12:03:10`, all one day). When there
    /// is a `channel` column, only `video` rows count (written complaints did not queue).
    pub fn from_csv(reader: impl Read, tz: &TimeZone) -> Result<Self, InputError> {
        let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let headers = r.headers()?.clone();
        let find = |name: &str| headers.iter().position(|h| h.trim() == name);
        let col = TIME_COLUMNS
            .iter()
            .find_map(|c| find(c))
            .ok_or_else(|| InputError::MissingColumn(TIME_COLUMNS.join(" or ")))?;
        let channel = find("channel");
        let mut days: BTreeMap<Option<Date>, Vec<Time>> = BTreeMap::new();
        for row in r.records() {
            let row = row?;
            let line = row.position().map_or(0, |p| p.line());
            if let Some(c) = channel {
                if row.get(c).is_some_and(|v| v.trim() != "video") {
                    continue;
                }
            }
            let raw = row.get(col).unwrap_or("").trim();
            let (date, time) = parse_arrival(raw, tz).ok_or_else(|| InputError::BadRow {
                line,
                message: format!(
                    "{raw:?} is not a time such as 2026-11-28T12:03:10+05:30, \
                     2026-11-28 12:03:10 or 12:03:10"
                ),
            })?;
            days.entry(date).or_default().push(time);
        }
        if days.is_empty() {
            return Err(InputError::Empty);
        }
        Ok(Arrivals::Recorded(
            days.into_iter()
                .map(|(date, mut times)| {
                    times.sort();
                    RecordedDay { date, times }
                })
                .collect(),
        ))
    }
}

fn parse_arrival(raw: &str, tz: &TimeZone) -> Option<(Option<Date>, Time)> {
    if let Ok(ts) = raw.parse::<Timestamp>() {
        let z = ts.to_zoned_datetime(tz.clone());
        return Some((Some(z.date()), z.time()));
    }
    if let Ok(dt) = raw.parse::<DateTime>() {
        return Some((Some(dt.date()), dt.time()));
    }
    raw.parse::<Time>().ok().map(|t| (None, t))
}

/// The length of a window, for callers that only have its ends.
pub fn window_len(w: Window) -> SignedDuration {
    w.closes_at.duration_since(w.opens_at)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn window() -> Window {
        Window {
            opens_at: "2026-11-28T06:30:00Z".parse().unwrap(),
            closes_at: "2026-11-28T08:30:00Z".parse().unwrap(),
        }
    }

    fn kolkata() -> TimeZone {
        TimeZone::get("Asia/Kolkata").unwrap()
    }

    #[test]
    fn the_rush_puts_most_arrivals_in_the_first_twenty_minutes() {
        let mut rng = StdRng::seed_from_u64(3);
        let (mut early, mut all) = (0, 0);
        for day in 0..200 {
            let times = Arrivals::rush().draw(day, window(), &kolkata(), 72.0, &mut rng);
            assert!(times.windows(2).all(|p| p[0] <= p[1]));
            assert!(times.iter().all(|t| window().contains(*t)));
            all += times.len();
            early += times
                .iter()
                .filter(|t| t.duration_since(window().opens_at) < RUSH_WITHIN)
                .count();
        }
        let per_day = all as f64 / 200.0;
        assert!((per_day - 72.0).abs() < 2.0, "{per_day} a day");
        let share = early as f64 / all as f64;
        assert!((share - 0.6).abs() < 0.02, "{share} early");
        // The peak is the rush itself: 43.2 people in 20 minutes.
        let (rate, span) = Arrivals::rush().peak(72.0, window_len(window()));
        assert_eq!(span, RUSH_WITHIN);
        assert!((rate * 1200.0 - 43.2).abs() < 1e-9);
    }

    #[test]
    fn recorded_arrivals_replay_by_day() {
        let csv = "reference,channel,created_at\n\
                   PRY-1,video,2026-11-27T12:01:00+05:30\n\
                   PRY-2,written,2026-11-27T09:00:00+05:30\n\
                   PRY-3,video,2026-11-28T12:10:00+05:30\n\
                   PRY-4,video,2026-11-27T12:00:30+05:30\n";
        let a = Arrivals::from_csv(csv.as_bytes(), &kolkata()).unwrap();
        let Arrivals::Recorded(days) = &a else {
            panic!("{a:?}")
        };
        assert_eq!(days.len(), 2);
        assert_eq!(
            days[0].times,
            vec![Time::constant(12, 0, 30, 0), Time::constant(12, 1, 0, 0)]
        );
        let mut rng = StdRng::seed_from_u64(0);
        let t = a.draw(1, window(), &kolkata(), 0.0, &mut rng);
        assert_eq!(
            t,
            vec!["2026-11-28T06:40:00Z".parse::<Timestamp>().unwrap()]
        );
        let plain = Arrivals::from_csv("time\n12:05\n12:00:10\n".as_bytes(), &kolkata()).unwrap();
        assert_eq!(
            plain,
            Arrivals::Recorded(vec![RecordedDay {
                date: None,
                times: vec![Time::constant(12, 0, 10, 0), Time::constant(12, 5, 0, 0)]
            }])
        );
    }

    #[test]
    fn bad_arrival_files_get_typed_errors() {
        let tz = kolkata();
        match Arrivals::from_csv("created_at\n12:00\nnoon\n".as_bytes(), &tz) {
            Err(InputError::BadRow { line: 3, message }) => assert!(message.contains("noon")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Arrivals::from_csv("name,mobile\nA,1\n".as_bytes(), &tz),
            Err(InputError::MissingColumn(_))
        ));
        assert!(matches!(
            Arrivals::from_csv("created_at\n".as_bytes(), &tz),
            Err(InputError::Empty)
        ));
        assert!(matches!(
            Arrivals::from_csv("channel,created_at\nwritten,12:00\n".as_bytes(), &tz),
            Err(InputError::Empty)
        ));
    }
}
