//! The supervisor's wallboard beyond the live snapshot: today's arrivals and waits by
//! interval (the chart) and the forecast for the rest of the window (what one or two more
//! officers would change). Supervisors only; both are figures about the desk, with no
//! personal data, so reading them is not audited.
//!
//! The forecast costs real CPU (dozens of simulated runs), so it runs on the blocking pool,
//! at most one at a time in the process, and each desk's answer is reused for
//! [`FORECAST_FRESH`]: however many supervisors watch, a desk is forecast at most twice a
//! minute.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};

use super::api::{ClientIp, Staff};
use super::error::ApiError;
use crate::app::App;
use crate::core::ids::DeskId;
use crate::core::schedule::{local_midnight, Schedule, Window, WindowStatus};
use crate::desk::DeskHandle;
use crate::sim::forecast::{
    forecast as run_forecast, rest_of_window, second_of_day, Advice, Assumptions, Projection, Rest,
};
use crate::sim::{Behaviour, CallLength, Patience};
use crate::store::{Complaint, Role, User};

/// How long a desk's forecast is reused.
pub const FORECAST_FRESH: SignedDuration = SignedDuration::from_secs(30);
/// Earlier days whose arrivals shape the expectation for the rest of the window.
const HISTORY_DAYS: i64 = 14;
/// With at least this many recent calls the forecast draws call lengths from the most
/// recent [`CALLS_USED`]; with fewer, from the estimator's mean call.
const CALLS_FOR_EMPIRICAL: usize = 20;
const CALLS_USED: usize = 300;
/// Runs per officer count; the figures shown are the medians.
const RUNS: u32 = 9;
/// Most records read for the chart or the forecast (today's, or two weeks' for the
/// forecast).
const MAX_RECORDS: u32 = 20_000;
/// Chart intervals tried, shortest first: the first giving at most `MAX_BUCKETS`.
const INTERVALS_MIN: [i64; 5] = [5, 10, 15, 30, 60];
const MAX_BUCKETS: i64 = 48;

/// Each desk's latest forecast, and the one-at-a-time guard.
pub struct ForecastCache {
    desks: HashMap<DeskId, Mutex<Option<ForecastOut>>>,
    running: Semaphore,
}

impl ForecastCache {
    pub fn new<'a>(desks: impl Iterator<Item = &'a DeskId>) -> Arc<Self> {
        Arc::new(ForecastCache {
            desks: desks.map(|d| (d.clone(), Mutex::new(None))).collect(),
            running: Semaphore::new(1),
        })
    }
}

/// The desk, if `user` is a supervisor who may see it.
/// A desk another node of a cluster serves is not here: the handlers forward those first
/// (`super::elsewhere`).
fn supervised(app: &App, user: &User, desk: &str) -> Result<DeskHandle, ApiError> {
    if user.role != Role::Supervisor {
        return Err(ApiError::Forbidden);
    }
    let desk = app.desk(desk).ok_or(ApiError::NotFound)?;
    if user.desk.as_ref().is_some_and(|d| *d != desk.id) {
        return Err(ApiError::Forbidden);
    }
    Ok(desk)
}

/// The desk's video records (citizens who joined the waiting room) created since `since`,
/// newest first.
async fn video_records(
    app: &App,
    desk: &DeskId,
    since: Timestamp,
) -> Result<Vec<Complaint>, ApiError> {
    Ok(app.store().video_records(desk, since, MAX_RECORDS).await?)
}

// ---- today's chart ---------------------------------------------------------------------------

/// Per interval, in columns (as the chart takes them). Intervals that have not begun yet
/// have no figures; the average and longest wait are of calls answered in the interval.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TodayOut {
    pub at: Option<Timestamp>,
    pub opens_at: Option<Timestamp>,
    pub closes_at: Option<Timestamp>,
    pub interval_secs: i64,
    /// Start of each interval, in Unix seconds.
    pub starts: Vec<i64>,
    pub arrivals: Vec<Option<u32>>,
    pub answered: Vec<Option<u32>>,
    pub avg_wait_secs: Vec<Option<f64>>,
    pub longest_wait_secs: Vec<Option<i64>>,
}

/// One record as the chart sees it.
#[derive(Clone, Copy, Debug)]
struct Joined {
    created: Timestamp,
    answered: Option<(Timestamp, i64)>,
}

impl From<&Complaint> for Joined {
    fn from(c: &Complaint) -> Self {
        Joined {
            created: c.created_at,
            answered: c.answered_at.map(|at| {
                let wait = c
                    .wait_secs
                    .unwrap_or_else(|| at.duration_since(c.created_at).as_secs());
                (at, wait)
            }),
        }
    }
}

/// Today's window to chart: the open one, or else today's first scheduled one.
fn todays_window(app: &App, desk: &DeskHandle, now: Timestamp) -> Option<Window> {
    if let WindowStatus::Open(w) = desk.status().window {
        return Some(w);
    }
    let midnight = local_midnight(now, &desk.time_zone);
    let spec = app.config().desks.iter().find(|d| d.id == desk.id)?;
    let w = Schedule::new(spec.schedule.clone())
        .next_window_after(midnight - SignedDuration::from_secs(1))?;
    (w.opens_at < midnight + SignedDuration::from_hours(24)).then_some(w)
}

/// The chart's columns: the window (widened to take in every record), cut into equal
/// intervals aligned to the local midnight.
fn chart(
    window: Option<Window>,
    records: &[Joined],
    now: Timestamp,
    midnight: Timestamp,
) -> TodayOut {
    let first = records.iter().map(|r| r.created).min();
    let last = records
        .iter()
        .map(|r| r.answered.map_or(r.created, |(a, _)| a.max(r.created)))
        .max();
    let start = match (window.map(|w| w.opens_at), first) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => match a.or(b) {
            Some(t) => t,
            None => return TodayOut::default(),
        },
    };
    let end = match (window.map(|w| w.closes_at), last) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => a.or(b).unwrap_or(start),
    };
    let span = end.duration_since(start).as_secs().max(1);
    let interval = INTERVALS_MIN
        .iter()
        .map(|m| m * 60)
        .find(|iv| (span + iv - 1) / iv <= MAX_BUCKETS)
        .unwrap_or(3600);
    let from_midnight = start.duration_since(midnight).as_secs();
    let first_start = midnight.as_second() + from_midnight.div_euclid(interval) * interval;
    let n = ((end.as_second() - first_start + interval - 1) / interval).max(1) as usize;
    let mut out = TodayOut {
        at: Some(now),
        opens_at: window.map(|w| w.opens_at),
        closes_at: window.map(|w| w.closes_at),
        interval_secs: interval,
        starts: (0..n as i64).map(|i| first_start + i * interval).collect(),
        ..TodayOut::default()
    };
    let slot = |t: Timestamp| {
        let i = (t.as_second() - first_start).div_euclid(interval);
        (0..n as i64).contains(&i).then_some(i as usize)
    };
    let mut arrivals = vec![0u32; n];
    let mut waits: Vec<Vec<i64>> = vec![Vec::new(); n];
    for r in records {
        if let Some(i) = slot(r.created) {
            arrivals[i] += 1;
        }
        if let Some((at, wait)) = r.answered {
            if let Some(i) = slot(at) {
                waits[i].push(wait.max(0));
            }
        }
    }
    for i in 0..n {
        let begun = out.starts[i] <= now.as_second();
        let w = &waits[i];
        out.arrivals.push(begun.then_some(arrivals[i]));
        out.answered.push(begun.then_some(w.len() as u32));
        out.avg_wait_secs
            .push((begun && !w.is_empty()).then(|| w.iter().sum::<i64>() as f64 / w.len() as f64));
        out.longest_wait_secs
            .push(w.iter().copied().max().filter(|_| begun));
    }
    out
}

/// `GET /api/desks/{desk}/today`: arrivals and waits across today's window.
pub async fn today(
    State(app): State<App>,
    Staff(user): Staff,
    Path(desk): Path<String>,
    OriginalUri(uri): OriginalUri,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(r) = super::elsewhere::forwarded(&app, &user, &desk, &uri, &headers, ip).await {
        return r;
    }
    let desk = supervised(&app, &user, &desk)?;
    let now = app.clock().now();
    let midnight = local_midnight(now, &desk.time_zone);
    let records = video_records(&app, &desk.id, midnight).await?;
    let joined: Vec<Joined> = records.iter().map(Joined::from).collect();
    let window = todays_window(&app, &desk, now);
    Ok(Json(chart(window, &joined, now, midnight)).into_response())
}

// ---- the forecast ----------------------------------------------------------------------------

/// The forecast and what it assumed.
#[derive(Clone, Debug, Serialize)]
pub struct ForecastOut {
    /// Whether a window is open (there is no forecast otherwise).
    pub open: bool,
    pub at: Timestamp,
    pub closes_at: Option<Timestamp>,
    pub waiting_now: u32,
    pub officers_now: u32,
    /// Citizens expected in the rest of the window, and from what.
    pub arrivals: Option<Rest>,
    pub mean_call_secs: i64,
    /// Recent calls whose lengths were drawn from; 0: the waiting room's mean call (a
    /// lognormal around it) was used instead.
    pub calls_used: usize,
    /// Mean patience of those who wait, from the rate at which they have been giving up;
    /// `None` while nobody has.
    pub mean_patience_secs: Option<i64>,
    pub runs: u32,
    pub projections: Vec<Projection>,
    pub advice: Option<Advice>,
}

/// `GET /api/desks/{desk}/forecast`: the rest of today's window with the officers on duty
/// and with one or two more.
pub async fn forecast(
    State(app): State<App>,
    Extension(cache): Extension<Arc<ForecastCache>>,
    Staff(user): Staff,
    Path(desk): Path<String>,
    OriginalUri(uri): OriginalUri,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(r) = super::elsewhere::forwarded(&app, &user, &desk, &uri, &headers, ip).await {
        return r;
    }
    let desk = supervised(&app, &user, &desk)?;
    let slot = cache.desks.get(&desk.id).ok_or(ApiError::NotFound)?;
    // Held while computing: a second supervisor waits for this answer instead of
    // starting another.
    let mut cached = slot.lock().await;
    if let Some(f) = cached.as_ref() {
        if app.clock().now().duration_since(f.at) < FORECAST_FRESH {
            return Ok(Json(f.clone()).into_response());
        }
    }
    let _turn = cache
        .running
        .acquire()
        .await
        .map_err(|_| ApiError::Internal("forecast guard closed".into()))?;
    let fresh = compute(&app, &desk).await?;
    *cached = Some(fresh.clone());
    Ok(Json(fresh).into_response())
}

async fn compute(app: &App, desk: &DeskHandle) -> Result<ForecastOut, ApiError> {
    let room = desk
        .room_copy()
        .await
        .map_err(|e| ApiError::Internal(format!("desk: {e}")))?;
    let now = app.clock().now();
    let (waiting_now, _, officers_now, _) = room.counts();
    let mut out = ForecastOut {
        open: false,
        at: now,
        closes_at: None,
        waiting_now,
        officers_now,
        arrivals: None,
        mean_call_secs: 0,
        calls_used: 0,
        mean_patience_secs: None,
        runs: 0,
        projections: Vec::new(),
        advice: None,
    };
    let WindowStatus::Open(window) = room.schedule().status(now) else {
        return Ok(out);
    };
    let tz = &desk.time_zone;
    let midnight = local_midnight(now, tz);
    let since = (midnight - SignedDuration::from_hours(24 * HISTORY_DAYS)).min(window.opens_at);
    let records = video_records(app, &desk.id, since).await?;

    // Arrivals: today's since midnight, earlier days' by local date, all as seconds of
    // the local day.
    let mut today = Vec::new();
    let mut past: std::collections::BTreeMap<jiff::civil::Date, Vec<i64>> = Default::default();
    for c in &records {
        if c.created_at >= midnight {
            today.push(c.created_at.duration_since(midnight).as_secs());
        } else {
            let date = c.created_at.to_zoned_datetime(tz.clone()).date();
            past.entry(date)
                .or_default()
                .push(second_of_day(c.created_at, tz));
        }
    }
    let past: Vec<Vec<i64>> = past.into_values().collect();
    let sod = |t: Timestamp| t.duration_since(midnight).as_secs();
    let rest = rest_of_window(
        &today,
        &past,
        sod(window.opens_at),
        sod(now),
        sod(window.closes_at),
    );

    // Call lengths: the most recent calls (records come newest first).
    let talks: Vec<f64> = records
        .iter()
        .filter_map(|c| c.talk_secs)
        .take(CALLS_USED)
        .map(|s| s.max(1) as f64)
        .collect();
    let call_length = if talks.len() >= CALLS_FOR_EMPIRICAL {
        CallLength::Empirical { secs: talks }
    } else {
        let mean = room.estimator().mean_call().as_secs_f64().max(1.0);
        CallLength::LogNormal {
            mean_secs: mean,
            cv: 0.5,
        }
    };
    let rate = room.estimator().give_up_rate();
    let patience = if rate > 0.0 {
        Patience::Exponential {
            mean: crate::sim::from_secs(1.0 / rate),
        }
    } else {
        Patience::Unlimited
    };
    let how = Assumptions {
        expected_arrivals: rest.expected,
        call_length: call_length.clone(),
        patience,
        behaviour: Behaviour::default(),
        extra_officers: vec![0, 1, 2],
        runs: RUNS,
        seed: 1,
    };
    let f = tokio::task::spawn_blocking(move || run_forecast(&room, now, &how))
        .await
        .map_err(|e| ApiError::Internal(format!("forecast task: {e}")))?
        .map_err(|e| ApiError::Internal(format!("forecast: {e}")))?;
    let Some(f) = f else {
        return Ok(out);
    };
    out.open = true;
    out.closes_at = Some(window.closes_at);
    out.arrivals = Some(rest);
    out.mean_call_secs = call_length.mean_secs().round() as i64;
    out.calls_used = match &call_length {
        CallLength::Empirical { secs } => secs.len(),
        _ => 0,
    };
    out.mean_patience_secs = match patience {
        Patience::Exponential { mean } => Some(mean.as_secs()),
        Patience::Unlimited => None,
    };
    out.runs = f.runs;
    out.projections = f.projections;
    out.advice = Some(f.advice);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hm: &str) -> Timestamp {
        format!("2026-11-28T{hm}:00+05:30").parse().unwrap()
    }

    fn window() -> Window {
        Window {
            opens_at: at("12:00"),
            closes_at: at("14:00"),
        }
    }

    fn joined(created: &str, answered: Option<(&str, i64)>) -> Joined {
        Joined {
            created: at(created),
            answered: answered.map(|(a, w)| (at(a), w)),
        }
    }

    #[test]
    fn the_chart_cuts_the_window_into_five_minute_intervals() {
        let records = [
            joined("12:01", Some(("12:03", 120))),
            joined("12:02", Some(("12:12", 600))),
            joined("12:04", Some(("12:14", 600))),
            joined("12:06", None),
        ];
        let c = chart(Some(window()), &records, at("12:20"), at("00:00"));
        assert_eq!(c.interval_secs, 300);
        assert_eq!(c.starts.len(), 24);
        assert_eq!(c.starts[0], at("12:00").as_second());
        assert_eq!(
            c.arrivals[..5],
            [Some(3), Some(1), Some(0), Some(0), Some(0)]
        );
        assert_eq!(c.answered[..3], [Some(1), Some(0), Some(2)]);
        assert_eq!(c.avg_wait_secs[..3], [Some(120.0), None, Some(600.0)]);
        assert_eq!(c.longest_wait_secs[2], Some(600));
        // 12:20 has begun; 12:25 has not.
        assert_eq!(c.arrivals[4], Some(0));
        assert_eq!(c.arrivals[5], None);
        assert_eq!(c.answered[23], None);
    }

    #[test]
    fn the_chart_takes_in_records_outside_the_window_and_stays_small() {
        // A window opened early by the supervisor: 11:40 is charted too.
        let records = [joined("11:40", Some(("11:41", 60)))];
        let c = chart(Some(window()), &records, at("13:00"), at("00:00"));
        assert_eq!(c.starts[0], at("11:40").as_second());
        assert_eq!(c.arrivals[0], Some(1));
        // A long day gets longer intervals, never more than 48.
        let long = Window {
            opens_at: at("08:00"),
            closes_at: at("20:00"),
        };
        let c = chart(Some(long), &[], at("09:00"), at("00:00"));
        assert_eq!(c.interval_secs, 900);
        assert!(c.starts.len() <= 48);
        // No window today and nobody came: nothing to chart.
        assert_eq!(
            chart(None, &[], at("09:00"), at("00:00")),
            TodayOut::default()
        );
    }
}
