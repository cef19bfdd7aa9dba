//! Hearing schedule: when a desk's hearing window is open, and the supervisor's runtime
//! overrides to it.
//!
//! What it is: [`ScheduleSpec`] is a desk's static configuration (time zone, daily windows,
//! weekdays, closed dates), validated once by [`ScheduleSpec::parse`]. [`Schedule`] adds the
//! supervisor's overrides (open now, close now, extend) and answers "is a window open at
//! `now`, and which one?" as a pure function of its data and `now`.
//!
//! What it is not: it never reads the clock, sets no timers (the shell decides when to ask
//! again) and stores nothing; overrides are exposed as plain data for the shell to persist.
//!
//! Model and invariants:
//! - Every window is half-open, `[opens_at, closes_at)`: open at exactly `opens_at`, closed at
//!   exactly `closes_at`.
//! - Whether the desk is open at an instant is decided by the *last* override whose interval
//!   contains it (opened or extended: open; closed: closed), or else by the weekly schedule.
//!   Overrides therefore apply in order, and a later "open now" can reopen a closed stretch.
//! - A reported [`Window`] is a maximal open stretch: overlapping or touching pieces merge.
//!   So an ad-hoc window that runs into a scheduled one, an extension that reaches the next
//!   window, and the configured windows "12:00-13:00" plus "13:00-14:00" all report as one
//!   window. Callers never see two windows that touch.
//! - Daily windows are local civil times of the desk's zone. A local time that does not exist
//!   (a spring-forward gap) or exists twice (a fall-back fold) is resolved with jiff's
//!   "compatible" disambiguation, the rule of RFC 5545 and Temporal: a time in a gap moves
//!   forward by the gap's length (02:30 becomes 03:30 on New York's spring-forward day), and a
//!   time in a fold takes its first occurrence. A window whose ends resolve to an empty or
//!   inverted interval that day is skipped that day. An occurrence never leaves its own local
//!   day, from that day's local midnight to the next.
//! - A window may not cross midnight; "24:00" as an end means the next local midnight. An
//!   overnight hearing is two windows, "18:00-24:00" and "00:00-06:00", which merge.
//! - Work is bounded: a query scans day by day at most [`LOOKAHEAD_DAYS`] ahead (and, only
//!   while the desk has been open without a break, at most [`LOOKBACK_DAYS`] back). A window
//!   that runs past either bound is reported clipped there; only a desk open round the clock
//!   can notice.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// The zone a desk uses when its configuration names none.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Kolkata";

/// The longest a supervisor may open or extend a window in one step: a working day.
pub const MAX_OVERRIDE_MINUTES: u32 = 720;

/// How far ahead a query looks for the next window: a year, with room for a leap year and a
/// window late on the last day.
pub const LOOKAHEAD_DAYS: u32 = 400;

/// How far back a query looks for the start of a window that is open now.
pub const LOOKBACK_DAYS: u32 = 400;

/// An interval of time during which hearings are held: `[opens_at, closes_at)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub opens_at: Timestamp,
    pub closes_at: Timestamp,
}

impl Window {
    /// Whether `t` falls in the window (closed at exactly `closes_at`).
    pub fn contains(&self, t: Timestamp) -> bool {
        self.opens_at <= t && t < self.closes_at
    }

    fn is_empty(&self) -> bool {
        self.opens_at >= self.closes_at
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowStatus {
    Open(Window),
    /// `next` is `None` when no window opens within [`LOOKAHEAD_DAYS`].
    Closed {
        next: Option<Window>,
    },
}

impl WindowStatus {
    pub fn is_open(&self) -> bool {
        matches!(self, WindowStatus::Open(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("unknown time zone {0:?}: use an IANA name such as \"Asia/Kolkata\"")]
    UnknownTimeZone(String),
    #[error(
        "bad hearing window {0:?}: give one or more windows as HH:MM-HH:MM within one day, \
         ending after they start (\"24:00\" may end a window)"
    )]
    BadWindow(String),
    #[error("hearing windows overlap")]
    OverlappingWindows,
    #[error("unknown weekday {0:?}: use mon, tue, wed, thu, fri, sat or sun")]
    BadWeekday(String),
    #[error("bad closed date {0:?}: use a real date written YYYY-MM-DD")]
    BadDate(String),
    #[error("a hearing window is already open")]
    AlreadyOpen,
    #[error("no hearing window is open")]
    NotOpen,
    #[error("{0} minutes is out of range: use 1 to {MAX_OVERRIDE_MINUTES}")]
    BadMinutes(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayEnd {
    At(Time),
    /// "24:00": kept apart from a `Time` because the next midnight belongs to the next day.
    Midnight,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DailyWindow {
    start: Time,
    end: DayEnd,
}

/// Static, validated configuration.
#[derive(Clone, Debug)]
pub struct ScheduleSpec {
    tz: TimeZone,
    /// Sorted by start; no two overlap.
    windows: Vec<DailyWindow>,
    /// Indexed by `Weekday::to_monday_zero_offset`.
    weekdays: [bool; 7],
    /// Sorted and deduplicated, for binary search.
    closed_dates: Vec<Date>,
}

impl ScheduleSpec {
    /// tz: IANA name ("Asia/Kolkata"); windows: "HH:MM-HH:MM" strings (one or more, may not
    /// overlap, end after start, "24:00" allowed as an end); weekdays: "mon".."sun" or full
    /// names, any case (empty slice = every day); closed_dates: "YYYY-MM-DD".
    /// Surrounding whitespace is ignored everywhere, since these come from config files.
    pub fn parse(
        tz: &str,
        windows: &[String],
        weekdays: &[String],
        closed_dates: &[String],
    ) -> Result<Self, ScheduleError> {
        let unknown_tz = || ScheduleError::UnknownTimeZone(tz.to_owned());
        let zone = TimeZone::get(tz.trim()).map_err(|_| unknown_tz())?;
        // jiff answers "Etc/Unknown" with a placeholder zone that would silently act as UTC.
        if zone.is_unknown() {
            return Err(unknown_tz());
        }

        if windows.is_empty() {
            return Err(ScheduleError::BadWindow(String::new()));
        }
        let mut parsed = windows
            .iter()
            .map(|raw| parse_window(raw))
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort_unstable_by_key(|&(start, end, _)| (start, end));
        // Touching windows (one ends as the next starts) are allowed; they report as one.
        if parsed.windows(2).any(|pair| pair[1].0 < pair[0].1) {
            return Err(ScheduleError::OverlappingWindows);
        }

        let mut days = [weekdays.is_empty(); 7];
        for raw in weekdays {
            let day = parse_weekday(raw)?;
            days[weekday_index(day)] = true;
        }

        let mut closed = closed_dates
            .iter()
            .map(|raw| parse_date(raw))
            .collect::<Result<Vec<_>, _>>()?;
        closed.sort_unstable();
        closed.dedup();

        Ok(Self {
            tz: zone,
            windows: parsed.into_iter().map(|(_, _, window)| window).collect(),
            weekdays: days,
            closed_dates: closed,
        })
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    fn is_hearing_day(&self, day: Date) -> bool {
        self.weekdays[weekday_index(day.weekday())]
            && self.closed_dates.binary_search(&day).is_err()
    }

    /// `None` only at the ends of jiff's supported range, where there is nothing to schedule.
    fn local(&self, day: Date, time: Time) -> Option<Timestamp> {
        self.tz
            .to_ambiguous_timestamp(day.to_datetime(time))
            .compatible()
            .ok()
    }

    fn local_midnight(&self, day: Date) -> Option<Timestamp> {
        self.local(day, Time::midnight())
    }
}

fn weekday_index(day: Weekday) -> usize {
    // to_monday_zero_offset is 0..=6 by construction, so this indexes a [_; 7].
    usize::from(day.to_monday_zero_offset().unsigned_abs())
}

/// Returns start and end in minutes after midnight (for ordering), and the window.
fn parse_window(raw: &str) -> Result<(u16, u16, DailyWindow), ScheduleError> {
    let bad = || ScheduleError::BadWindow(raw.to_owned());
    let (start, end) = raw.split_once('-').ok_or_else(bad)?;
    let start = parse_hhmm(start.trim()).ok_or_else(bad)?;
    let end = parse_hhmm(end.trim()).ok_or_else(bad)?;
    if start >= MINUTES_PER_DAY || end <= start {
        return Err(bad());
    }
    let start_time = minutes_to_time(start).ok_or_else(bad)?;
    let end_time = if end == MINUTES_PER_DAY {
        DayEnd::Midnight
    } else {
        DayEnd::At(minutes_to_time(end).ok_or_else(bad)?)
    };
    Ok((
        start,
        end,
        DailyWindow {
            start: start_time,
            end: end_time,
        },
    ))
}

const MINUTES_PER_DAY: u16 = 24 * 60;

/// "H:MM" or "HH:MM", 00:00 to 24:00, in minutes after midnight.
fn parse_hhmm(s: &str) -> Option<u16> {
    let (hours, minutes) = s.split_once(':')?;
    if !(1..=2).contains(&hours.len()) || minutes.len() != 2 {
        return None;
    }
    let hours: u16 = parse_digits(hours)?;
    let minutes: u16 = parse_digits(minutes)?;
    match (hours, minutes) {
        (24, 0) => Some(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Some(hours * 60 + minutes),
        _ => None,
    }
}

fn minutes_to_time(minutes: u16) -> Option<Time> {
    let hour = i8::try_from(minutes / 60).ok()?;
    let minute = i8::try_from(minutes % 60).ok()?;
    Time::new(hour, minute, 0, 0).ok()
}

/// Digits only: `str::parse` alone would also take a sign.
fn parse_digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_weekday(raw: &str) -> Result<Weekday, ScheduleError> {
    let day = match raw.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return Err(ScheduleError::BadWeekday(raw.to_owned())),
    };
    Ok(day)
}

/// Strictly "YYYY-MM-DD": jiff's own parser also takes forms (with a time, say) that in a
/// list of holidays are more likely a mistake than intended.
fn parse_date(raw: &str) -> Result<Date, ScheduleError> {
    let bad = || ScheduleError::BadDate(raw.to_owned());
    let s = raw.trim();
    if s.len() != 10 || s.get(4..5) != Some("-") || s.get(7..8) != Some("-") {
        return Err(bad());
    }
    let year: i16 = s.get(0..4).and_then(parse_digits).ok_or_else(bad)?;
    let month: i8 = s.get(5..7).and_then(parse_digits).ok_or_else(bad)?;
    let day: i8 = s.get(8..10).and_then(parse_digits).ok_or_else(bad)?;
    Date::new(year, month, day).map_err(|_| bad())
}

/// The start of `now`'s local day in `tz` (`now` itself in the rare zone where that day
/// has no representable start).
pub fn local_midnight(now: Timestamp, tz: &TimeZone) -> Timestamp {
    now.to_zoned_datetime(tz.clone())
        .start_of_day()
        .map(|z| z.timestamp())
        .unwrap_or(now)
}

/// A supervisor's change to the schedule, as data. Each covers a half-open interval of time;
/// an override whose interval is empty (for example from a corrupted store) changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Override {
    /// An ad-hoc window: open over `window`, whatever the schedule says.
    Opened { window: Window },
    /// The window that was to close at `from` stays open until `until`.
    Extended { from: Timestamp, until: Timestamp },
    /// Closed over `[from, until)`: the rest of the window that was open at `from`.
    Closed { from: Timestamp, until: Timestamp },
}

impl Override {
    fn interval(&self) -> Window {
        match *self {
            Override::Opened { window } => window,
            Override::Extended { from, until } | Override::Closed { from, until } => Window {
                opens_at: from,
                closes_at: until,
            },
        }
    }

    fn forces_open(&self) -> bool {
        !matches!(self, Override::Closed { .. })
    }
}

/// Spec plus the supervisor's runtime overrides. Owned by one desk actor; plain data.
#[derive(Clone, Debug)]
pub struct Schedule {
    spec: ScheduleSpec,
    /// In the order given: later overrides win where they overlap earlier ones.
    overrides: Vec<Override>,
    /// Derived from `overrides`: where they force the desk open, and where closed. Each is
    /// sorted, its intervals disjoint and not touching, and the two never intersect.
    forced_open: Vec<Window>,
    forced_closed: Vec<Window>,
}

impl Schedule {
    pub fn new(spec: ScheduleSpec) -> Self {
        Self::with_overrides(spec, Vec::new())
    }

    /// Restores a schedule with overrides from [`Schedule::overrides`], in that order.
    pub fn with_overrides(spec: ScheduleSpec, overrides: Vec<Override>) -> Self {
        let mut schedule = Self {
            spec,
            overrides: Vec::new(),
            forced_open: Vec::new(),
            forced_closed: Vec::new(),
        };
        for o in overrides {
            schedule.push(o);
        }
        schedule
    }

    pub fn spec(&self) -> &ScheduleSpec {
        &self.spec
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.spec.tz
    }

    /// Overrides as data, in the order they apply, so the shell can persist them and restore
    /// them with [`Schedule::with_overrides`] after a restart.
    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// Whether a hearing window is open at `now`, and which one; if closed, the next window to
    /// open after now (`None` if none within [`LOOKAHEAD_DAYS`]).
    pub fn status(&self, now: Timestamp) -> WindowStatus {
        for window in self.windows_from(now, true) {
            if window.closes_at <= now {
                continue;
            }
            return if window.opens_at <= now {
                WindowStatus::Open(window)
            } else {
                WindowStatus::Closed { next: Some(window) }
            };
        }
        WindowStatus::Closed { next: None }
    }

    /// The first window that opens strictly after `t` (taking overrides into account): with
    /// `t` inside a window, the one after it.
    pub fn next_window_after(&self, t: Timestamp) -> Option<Window> {
        // No look-back: a window reported clipped at the scan's start began before `t` anyway.
        self.windows_from(t, false).find(|w| w.opens_at > t)
    }

    /// Opens a window now for `minutes` (1..=720) and returns the window as
    /// [`Schedule::status`] now reports it: longer than asked if it runs into a scheduled
    /// window. Works on closed days and outside hours. Err(AlreadyOpen) if a window is open.
    pub fn open_now(&mut self, now: Timestamp, minutes: u32) -> Result<Window, ScheduleError> {
        let length = override_length(minutes)?;
        if self.status(now).is_open() {
            return Err(ScheduleError::AlreadyOpen);
        }
        let closes_at = now
            .checked_add(length)
            .map_err(|_| ScheduleError::BadMinutes(minutes))?;
        let window = Window {
            opens_at: now,
            closes_at,
        };
        self.push(Override::Opened { window });
        Ok(self.open_window_at(now).unwrap_or(window))
    }

    /// Closes the open window at `now`: the rest of it is cancelled, later windows are
    /// unaffected. Err(NotOpen) if closed.
    pub fn close_now(&mut self, now: Timestamp) -> Result<(), ScheduleError> {
        let window = self.open_window_at(now).ok_or(ScheduleError::NotOpen)?;
        self.push(Override::Closed {
            from: now,
            until: window.closes_at,
        });
        Ok(())
    }

    /// Extends the open window by `minutes` (1..=720); repeated extensions add up. If the
    /// extension reaches the next window, the two merge. Returns the new window.
    /// Err(NotOpen) if closed.
    pub fn extend(&mut self, now: Timestamp, minutes: u32) -> Result<Window, ScheduleError> {
        let length = override_length(minutes)?;
        let window = self.open_window_at(now).ok_or(ScheduleError::NotOpen)?;
        let until = window
            .closes_at
            .checked_add(length)
            .map_err(|_| ScheduleError::BadMinutes(minutes))?;
        self.push(Override::Extended {
            from: window.closes_at,
            until,
        });
        Ok(self.open_window_at(now).unwrap_or(Window {
            opens_at: window.opens_at,
            closes_at: until,
        }))
    }

    /// Drops overrides that ended before `now` and so can no longer change what `status`
    /// reports for `now` or later (keeps memory bounded). One that shaped the start of the
    /// window open now is kept until that window has closed, so its `opens_at` stays put.
    pub fn prune(&mut self, now: Timestamp) {
        // Removing an override only changes the schedule inside its own interval. While a
        // window is open, keeping everything that ends at or after its start keeps the instant
        // just before that start as it was, hence the start itself.
        let open = self.open_window_at(now);
        let keep = |o: &Override| {
            let interval = o.interval();
            !interval.is_empty()
                && match open {
                    Some(open) => interval.closes_at >= open.opens_at,
                    None => interval.closes_at > now,
                }
        };
        let kept: Vec<Override> = self.overrides.iter().filter(|o| keep(o)).cloned().collect();
        if kept.len() != self.overrides.len() {
            *self = Self::with_overrides(self.spec.clone(), kept);
        }
    }

    fn push(&mut self, o: Override) {
        let interval = o.interval();
        if !interval.is_empty() {
            if o.forces_open() {
                insert(&mut self.forced_open, interval);
                remove(&mut self.forced_closed, interval);
            } else {
                insert(&mut self.forced_closed, interval);
                remove(&mut self.forced_open, interval);
            }
        }
        self.overrides.push(o);
    }

    fn open_window_at(&self, now: Timestamp) -> Option<Window> {
        match self.status(now) {
            WindowStatus::Open(window) => Some(window),
            WindowStatus::Closed { .. } => None,
        }
    }

    /// Windows in order, from the one around `t`'s previous local day up to
    /// [`LOOKAHEAD_DAYS`] after `t`. With `look_back`, the scan first walks back (bounded)
    /// while the desk was open across a local midnight, so a window open at `t` is reported
    /// from its real start.
    fn windows_from(&self, t: Timestamp, look_back: bool) -> Windows<'_> {
        let today = self.spec.tz.to_datetime(t).date();
        // Start a day early: on odd zones a day's local midnight may resolve after `t`.
        let start = [today.yesterday().ok(), Some(today)]
            .into_iter()
            .flatten()
            .find_map(|day| Some((day, self.spec.local_midnight(day)?)));
        let mut pieces = Vec::with_capacity(self.spec.windows.len() + 2);
        let mut days_left = LOOKAHEAD_DAYS + 2;

        let start = match start {
            Some((mut day, mut day_start)) if look_back => {
                for _ in 0..LOOKBACK_DAYS {
                    let Some(prev) = day.yesterday().ok() else {
                        break;
                    };
                    let Some(prev_start) = self.spec.local_midnight(prev) else {
                        break;
                    };
                    let prev_end = day_start.max(prev_start);
                    self.day_pieces(prev, prev_start, prev_end, &mut pieces);
                    // A day that does not exist in this zone (an empty slice) says nothing,
                    // so look past it.
                    let open_across = prev_start == prev_end
                        || pieces.iter().any(|piece| piece.closes_at >= prev_end);
                    if !open_across {
                        break;
                    }
                    day = prev;
                    day_start = prev_start;
                    days_left += 1;
                }
                Some((day, day_start))
            }
            other => other,
        };

        Windows {
            schedule: self,
            next_day: start,
            days_left,
            pieces,
            cursor: 0,
            building: None,
        }
    }

    /// Fills `out` with the open pieces of local day `day`, whose slice of time is
    /// `[start, end)`, sorted by opening. Pieces may touch or overlap; `Windows` merges them.
    fn day_pieces(&self, day: Date, start: Timestamp, end: Timestamp, out: &mut Vec<Window>) {
        out.clear();
        if start >= end {
            return;
        }
        if self.spec.is_hearing_day(day) {
            for daily in &self.spec.windows {
                let Some(opens_at) = self.spec.local(day, daily.start) else {
                    continue;
                };
                let closes_at = match daily.end {
                    DayEnd::At(time) => match self.spec.local(day, time) {
                        Some(closes_at) => closes_at,
                        None => continue,
                    },
                    DayEnd::Midnight => end,
                };
                // Clamping to the day keeps pieces ordered across days even when a gap
                // pushes a late window past midnight.
                let piece = Window {
                    opens_at: opens_at.max(start),
                    closes_at: closes_at.min(end),
                };
                if !piece.is_empty() {
                    push_uncovered(out, piece, &self.forced_closed);
                }
            }
        }
        let first = self.forced_open.partition_point(|f| f.closes_at <= start);
        for forced in self.forced_open[first..]
            .iter()
            .take_while(|f| f.opens_at < end)
        {
            out.push(Window {
                opens_at: forced.opens_at.max(start),
                closes_at: forced.closes_at.min(end),
            });
        }
        // Needed even for scheduled pieces alone: a gap can resolve a later local time to an
        // earlier instant.
        out.sort_unstable_by_key(|piece| piece.opens_at);
    }
}

fn override_length(minutes: u32) -> Result<SignedDuration, ScheduleError> {
    if (1..=MAX_OVERRIDE_MINUTES).contains(&minutes) {
        Ok(SignedDuration::from_mins(i64::from(minutes)))
    } else {
        Err(ScheduleError::BadMinutes(minutes))
    }
}

/// Pushes the parts of `piece` not covered by `cuts` (sorted, disjoint) onto `out`.
fn push_uncovered(out: &mut Vec<Window>, piece: Window, cuts: &[Window]) {
    let mut from = piece.opens_at;
    let first = cuts.partition_point(|c| c.closes_at <= from);
    for cut in cuts[first..]
        .iter()
        .take_while(|c| c.opens_at < piece.closes_at)
    {
        if cut.opens_at > from {
            out.push(Window {
                opens_at: from,
                closes_at: cut.opens_at,
            });
        }
        from = from.max(cut.closes_at);
    }
    if from < piece.closes_at {
        out.push(Window {
            opens_at: from,
            closes_at: piece.closes_at,
        });
    }
}

/// Adds non-empty `w` to a sorted set of disjoint, non-touching intervals, merging what it
/// overlaps or touches.
fn insert(set: &mut Vec<Window>, w: Window) {
    let lo = set.partition_point(|x| x.closes_at < w.opens_at);
    // Every interval before `lo` ends before `w` starts, hence starts before `w` ends, so
    // `hi >= lo` for a sound set; `max` keeps `splice` from panicking on an unsound one.
    let hi = set.partition_point(|x| x.opens_at <= w.closes_at).max(lo);
    let mut merged = w;
    if let (Some(first), Some(last)) = (set.get(lo), hi.checked_sub(1).and_then(|i| set.get(i))) {
        if lo < hi {
            merged.opens_at = merged.opens_at.min(first.opens_at);
            merged.closes_at = merged.closes_at.max(last.closes_at);
        }
    }
    set.splice(lo..hi, std::iter::once(merged));
}

/// Removes non-empty `w` from a sorted set of disjoint intervals.
fn remove(set: &mut Vec<Window>, w: Window) {
    let lo = set.partition_point(|x| x.closes_at <= w.opens_at);
    let hi = set.partition_point(|x| x.opens_at < w.closes_at).max(lo);
    let mut rest = Vec::with_capacity(2);
    if let Some(first) = set.get(lo).filter(|_| lo < hi) {
        if first.opens_at < w.opens_at {
            rest.push(Window {
                opens_at: first.opens_at,
                closes_at: w.opens_at,
            });
        }
    }
    if let Some(last) = hi
        .checked_sub(1)
        .and_then(|i| set.get(i))
        .filter(|_| lo < hi)
    {
        if last.closes_at > w.closes_at {
            rest.push(Window {
                opens_at: w.closes_at,
                closes_at: last.closes_at,
            });
        }
    }
    set.splice(lo..hi, rest);
}

/// The merged windows of a schedule, in order, computed one local day at a time.
struct Windows<'a> {
    schedule: &'a Schedule,
    /// The day to load next and the instant its slice starts; `None` once the scan is over.
    next_day: Option<(Date, Timestamp)>,
    days_left: u32,
    /// The loaded day's pieces, sorted by opening; `cursor` is the next to merge.
    pieces: Vec<Window>,
    cursor: usize,
    /// The window being merged, not yet known to be complete.
    building: Option<Window>,
}

impl Windows<'_> {
    fn load_next_day(&mut self) -> bool {
        let Some((day, start)) = self.next_day.take() else {
            return false;
        };
        let Some(days_left) = self.days_left.checked_sub(1) else {
            return false;
        };
        self.days_left = days_left;
        let Some(tomorrow) = day.tomorrow().ok() else {
            return false;
        };
        let Some(next_start) = self.schedule.spec.local_midnight(tomorrow) else {
            return false;
        };
        // Each day's slice starts where the previous one ended, so slices tile time and
        // pieces arrive in order across days.
        let end = next_start.max(start);
        self.schedule.day_pieces(day, start, end, &mut self.pieces);
        self.cursor = 0;
        self.next_day = Some((tomorrow, end));
        true
    }
}

impl Iterator for Windows<'_> {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        loop {
            let Some(&piece) = self.pieces.get(self.cursor) else {
                if self.load_next_day() {
                    continue;
                }
                return self.building.take();
            };
            self.cursor += 1;
            match &mut self.building {
                Some(current) if piece.opens_at <= current.closes_at => {
                    current.closes_at = current.closes_at.max(piece.closes_at);
                }
                Some(current) => {
                    let done = *current;
                    self.building = Some(piece);
                    return Some(done);
                }
                None => self.building = Some(piece),
            }
        }
    }
}

#[cfg(test)]
mod tests;
