//! Schedule tests: window edges, weekdays, holidays, daylight saving, overrides, parsing.

use super::*;
use jiff::civil::DateTime;

const IST: &str = "Asia/Kolkata";
const NY: &str = "America/New_York";
const LONDON: &str = "Europe/London";

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn spec(tz: &str, windows: &[&str], weekdays: &[&str], closed: &[&str]) -> ScheduleSpec {
    ScheduleSpec::parse(tz, &strings(windows), &strings(weekdays), &strings(closed))
        .expect("test spec is valid")
}

fn daily(tz: &str, windows: &[&str]) -> Schedule {
    Schedule::new(spec(tz, windows, &[], &[]))
}

/// A local civil time such as "2026-03-09 12:00" in zone `tz` (compatible resolution).
fn at(tz: &str, civil: &str) -> Timestamp {
    let dt: DateTime = civil.parse().expect("test civil time parses");
    TimeZone::get(tz)
        .expect("test zone exists")
        .to_timestamp(dt)
        .expect("test civil time resolves")
}

/// An instant in UTC, for the times local notation cannot pin down (inside a fold).
fn utc(s: &str) -> Timestamp {
    s.parse().expect("test timestamp parses")
}

fn win(tz: &str, opens: &str, closes: &str) -> Window {
    Window {
        opens_at: at(tz, opens),
        closes_at: at(tz, closes),
    }
}

fn open(tz: &str, opens: &str, closes: &str) -> WindowStatus {
    WindowStatus::Open(win(tz, opens, closes))
}

fn closed(tz: &str, opens: &str, closes: &str) -> WindowStatus {
    WindowStatus::Closed {
        next: Some(win(tz, opens, closes)),
    }
}

fn check_statuses(schedule: &Schedule, tz: &str, cases: &[(&str, WindowStatus)]) {
    for (now, expected) in cases {
        assert_eq!(
            schedule.status(at(tz, now)),
            *expected,
            "status at {now} in {tz}"
        );
    }
}

#[test]
fn window_edges_are_half_open() {
    let s = daily(IST, &["12:00-14:00"]);
    let today = open(IST, "2026-03-09 12:00", "2026-03-09 14:00");
    let next_today = closed(IST, "2026-03-09 12:00", "2026-03-09 14:00");
    let tomorrow = closed(IST, "2026-03-10 12:00", "2026-03-10 14:00");
    check_statuses(
        &s,
        IST,
        &[
            ("2026-03-09 00:00", next_today),
            ("2026-03-09 11:59:59", next_today),
            ("2026-03-09 11:59:59.999999999", next_today),
            ("2026-03-09 12:00", today),
            ("2026-03-09 13:00", today),
            ("2026-03-09 13:59:59", today),
            ("2026-03-09 13:59:59.999999999", today),
            ("2026-03-09 14:00", tomorrow),
            ("2026-03-09 23:59:59", tomorrow),
        ],
    );
    // The window is the IST wall-clock time: 06:30 to 08:30 UTC.
    assert_eq!(
        win(IST, "2026-03-09 12:00", "2026-03-09 14:00"),
        Window {
            opens_at: utc("2026-03-09T06:30:00Z"),
            closes_at: utc("2026-03-09T08:30:00Z"),
        }
    );
}

#[test]
fn two_windows_per_day() {
    // Given out of order on purpose: parse sorts them.
    let s = daily(IST, &["15:00-17:00", "10:00-12:00"]);
    check_statuses(
        &s,
        IST,
        &[
            (
                "2026-03-09 09:00",
                closed(IST, "2026-03-09 10:00", "2026-03-09 12:00"),
            ),
            (
                "2026-03-09 11:00",
                open(IST, "2026-03-09 10:00", "2026-03-09 12:00"),
            ),
            (
                "2026-03-09 12:00",
                closed(IST, "2026-03-09 15:00", "2026-03-09 17:00"),
            ),
            (
                "2026-03-09 16:59:59",
                open(IST, "2026-03-09 15:00", "2026-03-09 17:00"),
            ),
            (
                "2026-03-09 17:00",
                closed(IST, "2026-03-10 10:00", "2026-03-10 12:00"),
            ),
        ],
    );
}

#[test]
fn touching_windows_report_as_one() {
    let s = daily(IST, &["12:00-13:00", "13:00-14:00"]);
    let whole = open(IST, "2026-03-09 12:00", "2026-03-09 14:00");
    check_statuses(
        &s,
        IST,
        &[("2026-03-09 12:30", whole), ("2026-03-09 13:30", whole)],
    );
}

#[test]
fn overnight_windows_merge_across_midnight() {
    let s = daily(IST, &["00:00-06:00", "18:00-24:00"]);
    let night = open(IST, "2026-03-09 18:00", "2026-03-10 06:00");
    check_statuses(
        &s,
        IST,
        &[
            (
                "2026-03-09 12:00",
                closed(IST, "2026-03-09 18:00", "2026-03-10 06:00"),
            ),
            ("2026-03-09 18:00", night),
            ("2026-03-09 23:59:59", night),
            ("2026-03-10 00:00", night),
            ("2026-03-10 05:59:59", night),
            (
                "2026-03-10 06:00",
                closed(IST, "2026-03-10 18:00", "2026-03-11 06:00"),
            ),
        ],
    );
}

#[test]
fn round_the_clock_desk_is_bounded() {
    let s = daily(IST, &["00:00-24:00"]);
    let now = at(IST, "2026-03-09 12:00");
    let WindowStatus::Open(w) = s.status(now) else {
        panic!("a round-the-clock desk is open");
    };
    let days = |d: SignedDuration| d.as_secs() / 86_400;
    assert!((LOOKBACK_DAYS as i64 - 2..=LOOKBACK_DAYS as i64 + 2)
        .contains(&days(now.duration_since(w.opens_at))));
    assert!((LOOKAHEAD_DAYS as i64 - 2..=LOOKAHEAD_DAYS as i64 + 2)
        .contains(&days(w.closes_at.duration_since(now))));
    assert_eq!(s.next_window_after(now), None);
}

#[test]
fn weekday_filter() {
    // 2026-03-09 is a Monday.
    let s = Schedule::new(spec(IST, &["12:00-14:00"], &["mon", "Wed"], &[]));
    let monday = win(IST, "2026-03-09 12:00", "2026-03-09 14:00");
    let wednesday = win(IST, "2026-03-11 12:00", "2026-03-11 14:00");
    let next_monday = win(IST, "2026-03-16 12:00", "2026-03-16 14:00");
    check_statuses(
        &s,
        IST,
        &[
            (
                "2026-03-08 13:00",
                WindowStatus::Closed { next: Some(monday) },
            ),
            ("2026-03-09 13:00", WindowStatus::Open(monday)),
            (
                "2026-03-10 13:00",
                WindowStatus::Closed {
                    next: Some(wednesday),
                },
            ),
            ("2026-03-11 13:00", WindowStatus::Open(wednesday)),
            (
                "2026-03-12 13:00",
                WindowStatus::Closed {
                    next: Some(next_monday),
                },
            ),
        ],
    );
}

#[test]
fn holidays_are_skipped_with_weekends() {
    let weekdays = ["mon", "tue", "wed", "thu", "fri"];
    // Thursday and Friday closed, then the weekend: next window is Monday.
    let s = Schedule::new(spec(
        IST,
        &["12:00-14:00"],
        &weekdays,
        &["2026-03-13", "2026-03-12"],
    ));
    let monday = closed(IST, "2026-03-16 12:00", "2026-03-16 14:00");
    check_statuses(
        &s,
        IST,
        &[
            (
                "2026-03-11 13:00",
                open(IST, "2026-03-11 12:00", "2026-03-11 14:00"),
            ),
            ("2026-03-11 14:00", monday),
            ("2026-03-12 13:00", monday),
            ("2026-03-13 00:00", monday),
            ("2026-03-14 13:00", monday),
            ("2026-03-16 11:00", monday),
        ],
    );
    // A single holiday in a daily schedule.
    let s = Schedule::new(spec(IST, &["12:00-14:00"], &[], &["2026-01-26"]));
    check_statuses(
        &s,
        IST,
        &[(
            "2026-01-26 13:00",
            closed(IST, "2026-01-27 12:00", "2026-01-27 14:00"),
        )],
    );
}

#[test]
fn no_window_within_a_year_is_none() {
    // Every day of the coming ~13 months closed: nothing to report, and no endless scan.
    let mut day: Date = "2026-03-10".parse().unwrap();
    let mut closed = Vec::new();
    for _ in 0..420 {
        closed.push(day.to_string());
        day = day.tomorrow().unwrap();
    }
    let s =
        Schedule::new(ScheduleSpec::parse(IST, &strings(&["12:00-14:00"]), &[], &closed).unwrap());
    assert_eq!(
        s.status(at(IST, "2026-03-09 15:00")),
        WindowStatus::Closed { next: None }
    );
    assert_eq!(s.next_window_after(at(IST, "2026-03-09 15:00")), None);
}

/// Each case: zone, daily window, instant, expected window (as UTC instants) that is
/// open at that instant.
#[test]
fn daylight_saving_transition_days() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        // New York springs forward 2026-03-08 02:00 -> 03:00 (EST -5 to EDT -4).
        (NY, "12:00-14:00", "2026-03-07T18:00:00Z", "2026-03-07T17:00:00Z", "2026-03-07T19:00:00Z"),
        (NY, "12:00-14:00", "2026-03-08T17:00:00Z", "2026-03-08T16:00:00Z", "2026-03-08T18:00:00Z"),
        // 02:30 does not exist: it moves forward by the gap to 03:30 EDT; 04:00 EDT ends.
        (NY, "02:30-04:00", "2026-03-08T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-08T08:00:00Z"),
        (NY, "02:30-04:00", "2026-03-09T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-09T08:00:00Z"),
        // A window wholly inside the gap moves with it: 03:00-03:30 EDT.
        (NY, "02:00-02:30", "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"),
        // New York falls back 2026-11-01 02:00 -> 01:00 (EDT to EST).
        (NY, "12:00-14:00", "2026-10-31T17:00:00Z", "2026-10-31T16:00:00Z", "2026-10-31T18:00:00Z"),
        (NY, "12:00-14:00", "2026-11-01T18:00:00Z", "2026-11-01T17:00:00Z", "2026-11-01T19:00:00Z"),
        // 01:00 happens twice; the window starts at the first and so spans both passes.
        (NY, "01:00-02:00", "2026-11-01T06:30:00Z", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z"),
        // London springs forward 2026-03-29 01:00 GMT -> 02:00 BST.
        (LONDON, "12:00-14:00", "2026-03-28T12:00:00Z", "2026-03-28T12:00:00Z", "2026-03-28T14:00:00Z"),
        (LONDON, "12:00-14:00", "2026-03-29T11:00:00Z", "2026-03-29T11:00:00Z", "2026-03-29T13:00:00Z"),
        (LONDON, "00:30-03:00", "2026-03-29T01:00:00Z", "2026-03-29T00:30:00Z", "2026-03-29T02:00:00Z"),
        // London falls back 2026-10-25 02:00 BST -> 01:00 GMT.
        (LONDON, "12:00-14:00", "2026-10-24T11:00:00Z", "2026-10-24T11:00:00Z", "2026-10-24T13:00:00Z"),
        (LONDON, "12:00-14:00", "2026-10-25T12:00:00Z", "2026-10-25T12:00:00Z", "2026-10-25T14:00:00Z"),
        (LONDON, "01:30-02:30", "2026-10-25T01:45:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z"),
    ];
    for &(tz, window, now, opens, closes) in cases {
        let s = daily(tz, &[window]);
        let expected = WindowStatus::Open(Window {
            opens_at: utc(opens),
            closes_at: utc(closes),
        });
        assert_eq!(s.status(utc(now)), expected, "{tz} {window} at {now}");
        // Closed again at exactly the close.
        assert!(
            !s.status(utc(closes)).is_open(),
            "{tz} {window} at {closes}"
        );
    }
}

#[test]
fn window_that_resolves_empty_in_a_gap_is_skipped_that_day() {
    // London 2026-03-29: 01:30 GMT (gap, moved to 02:30 BST) is 01:30Z, and 02:30 BST is
    // also 01:30Z: nothing is left, so the next window is the next day's.
    let s = daily(LONDON, &["01:30-02:30"]);
    assert_eq!(
        s.status(utc("2026-03-29T00:00:00Z")),
        WindowStatus::Closed {
            next: Some(Window {
                opens_at: utc("2026-03-30T00:30:00Z"),
                closes_at: utc("2026-03-30T01:30:00Z"),
            })
        }
    );
    // New York 02:30-03:00 would be 03:30-03:00 EDT, inverted.
    let s = daily(NY, &["02:30-03:00"]);
    assert_eq!(
        s.next_window_after(utc("2026-03-08T00:00:00Z")),
        Some(Window {
            opens_at: utc("2026-03-09T06:30:00Z"),
            closes_at: utc("2026-03-09T07:00:00Z"),
        })
    );
}

#[test]
fn next_window_after_inside_and_outside_windows() {
    let s = daily(IST, &["12:00-14:00"]);
    let today = win(IST, "2026-03-09 12:00", "2026-03-09 14:00");
    let tomorrow = win(IST, "2026-03-10 12:00", "2026-03-10 14:00");
    let cases = [
        ("2026-03-09 08:00", today),
        ("2026-03-09 11:59:59", today),
        ("2026-03-09 12:00", tomorrow),
        ("2026-03-09 13:00", tomorrow),
        ("2026-03-09 14:00", tomorrow),
        ("2026-03-09 20:00", tomorrow),
    ];
    for (t, expected) in cases {
        assert_eq!(s.next_window_after(at(IST, t)), Some(expected), "after {t}");
    }
}

#[test]
fn status_and_next_window_agree() {
    let s = Schedule::new(spec(
        IST,
        &["10:00-11:00", "12:00-14:00"],
        &["tue", "fri"],
        &["2026-03-13"],
    ));
    let mut t = at(IST, "2026-03-08 00:00");
    let end = at(IST, "2026-03-22 00:00");
    while t < end {
        let next = s.next_window_after(t);
        match s.status(t) {
            WindowStatus::Open(w) => {
                assert!(w.contains(t));
                assert_eq!(s.status(w.opens_at), WindowStatus::Open(w));
                assert!(!s.status(w.closes_at).is_open());
                assert!(next.is_some_and(|n| n.opens_at >= w.closes_at));
            }
            WindowStatus::Closed { next: expected } => assert_eq!(next, expected),
        }
        t = t.checked_add(SignedDuration::from_mins(17)).unwrap();
    }
}

#[test]
fn open_now_outside_hours_and_on_holidays() {
    let mut s = Schedule::new(spec(IST, &["12:00-14:00"], &[], &["2026-03-09"]));
    let now = at(IST, "2026-03-09 16:00");
    let w = s.open_now(now, 30).unwrap();
    assert_eq!(w, win(IST, "2026-03-09 16:00", "2026-03-09 16:30"));
    check_statuses(
        &s,
        IST,
        &[
            (
                "2026-03-09 15:59:59",
                closed(IST, "2026-03-09 16:00", "2026-03-09 16:30"),
            ),
            ("2026-03-09 16:00", WindowStatus::Open(w)),
            ("2026-03-09 16:29:59", WindowStatus::Open(w)),
            (
                "2026-03-09 16:30",
                closed(IST, "2026-03-10 12:00", "2026-03-10 14:00"),
            ),
        ],
    );
    assert_eq!(
        s.open_now(at(IST, "2026-03-09 16:10"), 30),
        Err(ScheduleError::AlreadyOpen)
    );
    assert_eq!(
        s.overrides(),
        &[Override::Opened { window: w }],
        "a refused open leaves no trace"
    );
}

#[test]
fn open_now_merges_with_a_scheduled_window() {
    let mut s = daily(IST, &["12:00-14:00"]);
    let w = s.open_now(at(IST, "2026-03-09 11:30"), 60).unwrap();
    let merged = win(IST, "2026-03-09 11:30", "2026-03-09 14:00");
    assert_eq!(w, merged);
    check_statuses(
        &s,
        IST,
        &[
            ("2026-03-09 11:45", WindowStatus::Open(merged)),
            ("2026-03-09 13:59", WindowStatus::Open(merged)),
        ],
    );
    assert_eq!(
        s.open_now(at(IST, "2026-03-09 13:00"), 10),
        Err(ScheduleError::AlreadyOpen)
    );
}

#[test]
fn close_now_cancels_the_rest_of_the_window_only() {
    let mut s = daily(IST, &["12:00-14:00"]);
    s.close_now(at(IST, "2026-03-09 13:00")).unwrap();
    let tomorrow = closed(IST, "2026-03-10 12:00", "2026-03-10 14:00");
    check_statuses(
        &s,
        IST,
        &[
            (
                "2026-03-09 12:30",
                open(IST, "2026-03-09 12:00", "2026-03-09 13:00"),
            ),
            ("2026-03-09 13:00", tomorrow),
            ("2026-03-09 13:30", tomorrow),
            (
                "2026-03-10 12:30",
                open(IST, "2026-03-10 12:00", "2026-03-10 14:00"),
            ),
        ],
    );
    assert_eq!(
        s.close_now(at(IST, "2026-03-09 13:30")),
        Err(ScheduleError::NotOpen)
    );
    // The supervisor changes their mind: a later open wins over the earlier close.
    let w = s.open_now(at(IST, "2026-03-09 13:10"), 20).unwrap();
    assert_eq!(w, win(IST, "2026-03-09 13:10", "2026-03-09 13:30"));
    assert_eq!(s.status(at(IST, "2026-03-09 13:20")), WindowStatus::Open(w));
}

#[test]
fn close_now_ends_an_ad_hoc_window() {
    let mut s = daily(IST, &["12:00-14:00"]);
    s.open_now(at(IST, "2026-03-09 18:00"), 60).unwrap();
    s.close_now(at(IST, "2026-03-09 18:20")).unwrap();
    assert_eq!(
        s.status(at(IST, "2026-03-09 18:20")),
        closed(IST, "2026-03-10 12:00", "2026-03-10 14:00")
    );
    assert_eq!(
        s.status(at(IST, "2026-03-09 18:10")),
        open(IST, "2026-03-09 18:00", "2026-03-09 18:20")
    );
}

#[test]
fn extend_moves_the_close_and_adds_up() {
    let mut s = daily(IST, &["12:00-14:00"]);
    let w = s.extend(at(IST, "2026-03-09 13:50"), 30).unwrap();
    assert_eq!(w, win(IST, "2026-03-09 12:00", "2026-03-09 14:30"));
    assert_eq!(s.status(at(IST, "2026-03-09 14:10")), WindowStatus::Open(w));
    let w = s.extend(at(IST, "2026-03-09 14:10"), 30).unwrap();
    assert_eq!(w, win(IST, "2026-03-09 12:00", "2026-03-09 15:00"));
    check_statuses(
        &s,
        IST,
        &[
            ("2026-03-09 14:59:59", WindowStatus::Open(w)),
            (
                "2026-03-09 15:00",
                closed(IST, "2026-03-10 12:00", "2026-03-10 14:00"),
            ),
        ],
    );
    assert_eq!(
        s.extend(at(IST, "2026-03-09 15:00"), 30),
        Err(ScheduleError::NotOpen)
    );
}

#[test]
fn extend_into_the_next_window_merges() {
    let mut s = daily(IST, &["12:00-14:00", "14:30-16:00"]);
    let w = s.extend(at(IST, "2026-03-09 13:50"), 45).unwrap();
    assert_eq!(w, win(IST, "2026-03-09 12:00", "2026-03-09 16:00"));
    assert_eq!(s.status(at(IST, "2026-03-09 14:20")), WindowStatus::Open(w));
    assert_eq!(
        s.next_window_after(at(IST, "2026-03-09 13:00")),
        Some(win(IST, "2026-03-10 12:00", "2026-03-10 14:00"))
    );
}

#[test]
fn next_window_after_sees_overrides() {
    let mut s = daily(IST, &["12:00-14:00"]);
    s.open_now(at(IST, "2026-03-09 17:00"), 30).unwrap();
    assert_eq!(
        s.next_window_after(at(IST, "2026-03-09 13:00")),
        Some(win(IST, "2026-03-09 17:00", "2026-03-09 17:30"))
    );
    s.close_now(at(IST, "2026-03-09 17:10")).unwrap();
    assert_eq!(
        s.next_window_after(at(IST, "2026-03-09 13:00")),
        Some(win(IST, "2026-03-09 17:00", "2026-03-09 17:10"))
    );
}

#[test]
fn minutes_out_of_range_are_refused() {
    let now = at(IST, "2026-03-09 13:00");
    for minutes in [0, MAX_OVERRIDE_MINUTES + 1, u32::MAX] {
        let mut s = daily(IST, &["12:00-14:00"]);
        assert_eq!(
            s.extend(now, minutes),
            Err(ScheduleError::BadMinutes(minutes))
        );
        assert_eq!(
            s.open_now(at(IST, "2026-03-09 15:00"), minutes),
            Err(ScheduleError::BadMinutes(minutes))
        );
        assert!(s.overrides().is_empty());
    }
    let mut s = daily(IST, &["12:00-14:00"]);
    assert!(s.extend(now, 1).is_ok());
    assert!(s.extend(now, MAX_OVERRIDE_MINUTES).is_ok());
    assert!(s
        .open_now(at(IST, "2026-03-10 03:00"), MAX_OVERRIDE_MINUTES)
        .is_ok());
}

#[test]
fn overrides_round_trip_as_data() {
    let mut s = daily(IST, &["12:00-14:00"]);
    s.open_now(at(IST, "2026-03-09 09:00"), 60).unwrap();
    s.extend(at(IST, "2026-03-09 13:50"), 30).unwrap();
    s.close_now(at(IST, "2026-03-09 14:20")).unwrap();
    let restored: Vec<Override> = s.overrides().to_vec();
    let r = Schedule::with_overrides(s.spec().clone(), restored);
    assert_eq!(r.overrides(), s.overrides());
    let mut t = at(IST, "2026-03-09 08:00");
    while t < at(IST, "2026-03-10 16:00") {
        assert_eq!(r.status(t), s.status(t));
        t = t.checked_add(SignedDuration::from_mins(5)).unwrap();
    }
}

#[test]
fn empty_overrides_change_nothing() {
    let t = at(IST, "2026-03-09 13:00");
    let s = Schedule::with_overrides(
        spec(IST, &["12:00-14:00"], &[], &[]),
        vec![
            Override::Closed { from: t, until: t },
            Override::Opened {
                window: Window {
                    opens_at: at(IST, "2026-03-09 16:00"),
                    closes_at: at(IST, "2026-03-09 15:00"),
                },
            },
        ],
    );
    assert_eq!(
        s.status(t),
        open(IST, "2026-03-09 12:00", "2026-03-09 14:00")
    );
    assert_eq!(
        s.status(at(IST, "2026-03-09 15:30")),
        closed(IST, "2026-03-10 12:00", "2026-03-10 14:00")
    );
}

#[test]
fn prune_drops_only_what_no_longer_matters() {
    let mut s = daily(IST, &["12:00-14:00"]);
    s.open_now(at(IST, "2026-03-09 11:00"), 60).unwrap();
    s.extend(at(IST, "2026-03-09 13:00"), 30).unwrap();
    assert_eq!(s.overrides().len(), 2);

    // While the window is open, the ad-hoc start still shapes it: kept.
    let now = at(IST, "2026-03-09 12:30");
    let before = s.status(now);
    s.prune(now);
    assert_eq!(s.overrides().len(), 2);
    assert_eq!(s.status(now), before);

    // After it closed, both ended: dropped, and the present and future are unchanged.
    let now = at(IST, "2026-03-09 15:00");
    let before = s.status(now);
    s.prune(now);
    assert!(s.overrides().is_empty());
    assert_eq!(s.status(now), before);

    // An override that has not ended is kept.
    s.open_now(at(IST, "2026-03-09 16:00"), 60).unwrap();
    s.prune(at(IST, "2026-03-09 16:30"));
    assert_eq!(s.overrides().len(), 1);

    // A close whose window is long gone is dropped, even though the past now reads open.
    let mut s = daily(IST, &["12:00-14:00"]);
    s.close_now(at(IST, "2026-03-09 12:10")).unwrap();
    let now = at(IST, "2026-03-09 20:00");
    let before = s.status(now);
    s.prune(now);
    assert!(s.overrides().is_empty());
    assert_eq!(s.status(now), before);
}

#[test]
fn prune_keeps_a_close_that_bounds_the_open_window() {
    // Closed 13:00-14:00, reopened 14:00-15:00. Dropping the close would make the open
    // window appear to have started at 12:00.
    let mut s = daily(IST, &["12:00-14:00"]);
    s.close_now(at(IST, "2026-03-09 13:00")).unwrap();
    s.open_now(at(IST, "2026-03-09 14:00"), 60).unwrap();
    let now = at(IST, "2026-03-09 14:30");
    let before = s.status(now);
    assert_eq!(before, open(IST, "2026-03-09 14:00", "2026-03-09 15:00"));
    s.prune(now);
    assert_eq!(s.status(now), before);
}

#[test]
fn parse_accepts_reasonable_input() {
    let s = ScheduleSpec::parse(
        " Asia/Kolkata ",
        &strings(&[" 9:00 - 10:30 ", "22:00-24:00"]),
        &strings(&["MON", "Tuesday", "sun", "mon"]),
        &strings(&["2026-01-26", "2026-01-26", " 2026-08-15 "]),
    )
    .unwrap();
    assert_eq!(s.time_zone().iana_name(), Some("Asia/Kolkata"));
    assert!(ScheduleSpec::parse("UTC", &strings(&["00:00-24:00"]), &[], &[]).is_ok());
    assert!(ScheduleSpec::parse(DEFAULT_TIME_ZONE, &strings(&["12:00-14:00"]), &[], &[]).is_ok());
}

/// Zone, windows, weekdays, closed dates, and the error expected.
type ParseCase<'a> = (
    &'a str,
    &'a [&'a str],
    &'a [&'a str],
    &'a [&'a str],
    ScheduleError,
);

#[test]
fn parse_rejects_every_bad_input_kind() {
    use ScheduleError::*;
    let ok = ["12:00-14:00"];
    #[rustfmt::skip]
    let cases: &[ParseCase] = &[
        ("Mars/Olympus", &ok, &[], &[], UnknownTimeZone("Mars/Olympus".into())),
        ("", &ok, &[], &[], UnknownTimeZone("".into())),
        ("Etc/Unknown", &ok, &[], &[], UnknownTimeZone("Etc/Unknown".into())),
        (IST, &[], &[], &[], BadWindow("".into())),
        (IST, &["25:00-26:00"], &[], &[], BadWindow("25:00-26:00".into())),
        (IST, &["12:00-25:00"], &[], &[], BadWindow("12:00-25:00".into())),
        (IST, &["14:00-12:00"], &[], &[], BadWindow("14:00-12:00".into())),
        (IST, &["12:00-12:00"], &[], &[], BadWindow("12:00-12:00".into())),
        (IST, &["24:00-24:00"], &[], &[], BadWindow("24:00-24:00".into())),
        (IST, &["22:00-02:00"], &[], &[], BadWindow("22:00-02:00".into())),
        (IST, &["12:60-13:00"], &[], &[], BadWindow("12:60-13:00".into())),
        (IST, &["12:00-24:01"], &[], &[], BadWindow("12:00-24:01".into())),
        (IST, &["+1:00-2:00"], &[], &[], BadWindow("+1:00-2:00".into())),
        (IST, &["noon-2pm"], &[], &[], BadWindow("noon-2pm".into())),
        (IST, &["12:00"], &[], &[], BadWindow("12:00".into())),
        (IST, &["10:00-12:00", "11:00-13:00"], &[], &[], OverlappingWindows),
        (IST, &["10:00-12:00", "10:00-12:00"], &[], &[], OverlappingWindows),
        (IST, &["10:00-16:00", "12:00-13:00"], &[], &[], OverlappingWindows),
        (IST, &ok, &["funday"], &[], BadWeekday("funday".into())),
        (IST, &ok, &["mon", ""], &[], BadWeekday("".into())),
        (IST, &ok, &[], &["2026-02-30"], BadDate("2026-02-30".into())),
        (IST, &ok, &[], &["2026-2-3"], BadDate("2026-2-3".into())),
        (IST, &ok, &[], &["26-01-2026"], BadDate("26-01-2026".into())),
        (IST, &ok, &[], &["2026-01-26T00:00"], BadDate("2026-01-26T00:00".into())),
        (IST, &ok, &[], &["२०२६-०१-२६"], BadDate("२०२६-०१-२६".into())),
    ];
    for (tz, windows, weekdays, dates, expected) in cases {
        let got = ScheduleSpec::parse(tz, &strings(windows), &strings(weekdays), &strings(dates));
        assert_eq!(
            got.err().as_ref(),
            Some(expected),
            "{tz} {windows:?} {weekdays:?} {dates:?}"
        );
    }
}

#[test]
fn error_messages_are_readable() {
    assert_eq!(
        ScheduleError::BadMinutes(0).to_string(),
        "0 minutes is out of range: use 1 to 720"
    );
    assert_eq!(
        ScheduleError::BadWeekday("funday".into()).to_string(),
        "unknown weekday \"funday\": use mon, tue, wed, thu, fri, sat or sun"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_override() -> impl Strategy<Value = Override> {
        // Minutes from 2026-03-09 00:00 IST, spread over four days.
        let base = at(IST, "2026-03-09 00:00");
        let t = move |m: i64| base.checked_add(SignedDuration::from_mins(m)).unwrap();
        (0..3u8, 0..5760i64, -30..800i64).prop_map(move |(kind, start, len)| {
            let (from, until) = (t(start), t(start + len));
            match kind {
                0 => Override::Opened {
                    window: Window {
                        opens_at: from,
                        closes_at: until,
                    },
                },
                1 => Override::Extended { from, until },
                _ => Override::Closed { from, until },
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn parse_never_panics(
            tz in ".{0,20}",
            windows in proptest::collection::vec(".{0,14}", 0..4),
            weekdays in proptest::collection::vec(".{0,8}", 0..3),
            dates in proptest::collection::vec("[0-9-]{0,12}", 0..3),
        ) {
            let _ = ScheduleSpec::parse(&tz, &windows, &weekdays, &dates);
        }

        #[test]
        fn status_is_consistent_under_overrides(
            overrides in proptest::collection::vec(any_override(), 0..8),
            probes in proptest::collection::vec(0..5760i64, 1..12),
        ) {
            let s = Schedule::with_overrides(
                spec(IST, &["10:00-11:00", "12:00-14:00"], &[], &["2026-03-10"]),
                overrides,
            );
            let base = at(IST, "2026-03-09 00:00");
            for m in probes {
                let t = base.checked_add(SignedDuration::from_mins(m)).unwrap();
                let next = s.next_window_after(t);
                match s.status(t) {
                    WindowStatus::Open(w) => {
                        prop_assert!(w.contains(t));
                        prop_assert_eq!(s.status(w.opens_at), WindowStatus::Open(w));
                        prop_assert!(!s.status(w.closes_at).is_open());
                        prop_assert!(next.is_some_and(|n| n.opens_at > w.closes_at));
                    }
                    WindowStatus::Closed { next: expected } => {
                        prop_assert_eq!(next, expected);
                        prop_assert!(next.is_some_and(|n| n.opens_at > t));
                    }
                }
                let mut pruned = s.clone();
                pruned.prune(t);
                prop_assert_eq!(pruned.status(t), s.status(t));
            }
        }
    }
}
