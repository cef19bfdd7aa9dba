//! The supervisor's chart data and forecast over real HTTP, from a desk with real
//! citizens and an officer connected over WebSockets.

use serde_json::Value;
use sunwai::core::ids::{DeskId, EntryId};
use sunwai::core::intake::{Intake, Language, Mobile};
use sunwai::store::{Channel, NewComplaint};

use crate::helpers::*;

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let r = app
        .http("GET", path, &[("authorization", &auth)], None)
        .await;
    let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

#[tokio::test]
async fn the_forecast_shrinks_the_backlog_with_more_officers() {
    // 12:05, in a window that opened at 10:00 and closes at 12:30: 25 minutes left, and
    // the last 30 minutes of arrivals set the rate.
    let app = spawn_app_with(|c| {
        c.desks[0].windows = vec!["10:00-12:30".into()];
        c.limits.joins_per_minute_per_address = 100;
    })
    .await;
    let mut citizens = Vec::new();
    for n in 0..20 {
        let mut c = app.citizen().await;
        join(&mut c, &format!("Citizen {n}")).await;
        citizens.push(c);
    }
    let _officer = app.officer("officer1").await;
    let sup = app.login("supervisor").await;

    let (status, f) = get(&app, &format!("/api/desks/{DESK}/forecast"), &sup).await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["open"], true);
    assert_eq!(f["waiting_now"], 20);
    assert_eq!(f["officers_now"], 1);
    // A fresh desk has no earlier days: the last 30 minutes' rate, 20 in 30 minutes, for
    // the 25 minutes left.
    assert_eq!(f["arrivals"]["basis"]["kind"], "recent", "{f}");
    assert_eq!(f["arrivals"]["basis"]["arrivals"], 20);
    let expected = f["arrivals"]["expected"].as_f64().unwrap();
    assert!((expected - 20.0 * 25.0 / 30.0).abs() < 0.01, "{f}");
    assert_eq!(f["calls_used"], 0, "no calls yet: the estimator's mean");
    let p = f["projections"].as_array().unwrap();
    let officers: Vec<u64> = p.iter().map(|p| p["officers"].as_u64().unwrap()).collect();
    assert_eq!(officers, [1, 2, 3]);
    let backlog: Vec<u64> = p
        .iter()
        .map(|p| p["backlog_at_close"].as_u64().unwrap())
        .collect();
    // One officer hears about four in 25 minutes.
    assert!(backlog[0] >= 14, "{f}");
    assert!(backlog[0] > backlog[1] && backlog[1] > backlog[2], "{f}");
    assert_eq!(f["advice"]["kind"], "more", "{f}");
    assert_eq!(f["advice"]["from"], backlog[0]);

    // Asked again within 30 s: the same forecast, not a new one.
    let (_, again) = get(&app, &format!("/api/desks/{DESK}/forecast"), &sup).await;
    assert_eq!(again["at"], f["at"]);

    // The chart: every one of them arrived in the 12:05 interval, nobody answered yet.
    let (status, t) = get(&app, &format!("/api/desks/{DESK}/today"), &sup).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["interval_secs"], 300);
    let starts = t["starts"].as_array().unwrap();
    let arrivals = t["arrivals"].as_array().unwrap();
    assert_eq!(starts.len(), 30, "10:00 to 12:30 in 5 minutes");
    assert_eq!(arrivals.len(), 30);
    assert_eq!(arrivals[25], 20, "{t}");
    assert_eq!(arrivals[24], 0);
    assert_eq!(arrivals[26], Value::Null, "12:10 has not begun");
    app.stop().await;
}

#[tokio::test]
async fn no_forecast_while_the_window_is_closed_and_unknown_desks_are_not_found() {
    let app = spawn_app_with(|c| c.desks[0].windows = vec!["09:00-10:00".into()]).await;
    let sup = app.login("supervisor").await;
    let (status, f) = get(&app, &format!("/api/desks/{DESK}/forecast"), &sup).await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["open"], false);
    assert_eq!(f["projections"], Value::Array(vec![]));
    assert_eq!(f["advice"], Value::Null);
    // Today's window (09:00-10:00) is charted although closed.
    let (_, t) = get(&app, &format!("/api/desks/{DESK}/today"), &sup).await;
    assert_eq!(t["starts"].as_array().unwrap().len(), 12, "{t}");
    assert_eq!(t["arrivals"][0], 0);
    for path in ["/api/desks/nowhere/forecast", "/api/desks/nowhere/today"] {
        let (status, _) = get(&app, path, &sup).await;
        assert_eq!(status, 404, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn earlier_days_shape_the_arrivals_expected() {
    let app = spawn_app_with(|c| c.desks[0].windows = vec!["10:00-12:30".into()]).await;
    // Three earlier days: ten arrivals around 11:00 and ten around 12:10 each.
    let store = app.store().await;
    let tz = jiff::tz::TimeZone::get("Asia/Kolkata").unwrap();
    for day in 1..=3 {
        for (k, hm) in (0..10)
            .map(|m| format!("11:0{m}"))
            .chain((0..10).map(|m| format!("12:1{m}")))
            .enumerate()
        {
            let at: jiff::Timestamp = format!("2026-11-{:02}T{hm}:00+05:30", 28 - day)
                .parse()
                .unwrap();
            let new = NewComplaint {
                id: EntryId::new_random(),
                desk: DeskId::parse(DESK).unwrap(),
                prefix: "PRY".into(),
                tz: tz.clone(),
                channel: Channel::Video,
                intake: Intake {
                    name: format!("Earlier {day}-{k}"),
                    mobile: Mobile::parse("9876543210").unwrap(),
                    area: "Kotwali".into(),
                    category: "theft".into(),
                    description: String::new(),
                    language: Language::Hindi,
                },
                created_at: at,
                ticket_hash: None,
            };
            store.create_complaint(new).await.unwrap();
        }
    }
    store.close().await;
    // Today, by 12:05: five so far.
    let mut citizens = Vec::new();
    for n in 0..5 {
        let mut c = app.citizen().await;
        join(&mut c, &format!("Citizen {n}")).await;
        citizens.push(c);
    }
    let sup = app.login("supervisor").await;
    let (status, f) = get(&app, &format!("/api/desks/{DESK}/forecast"), &sup).await;
    assert_eq!(status, 200, "{f}");
    let basis = &f["arrivals"]["basis"];
    assert_eq!(basis["kind"], "history", "{f}");
    assert_eq!(basis["days"], 3);
    assert_eq!(basis["so_far"], 5);
    assert_eq!(basis["usual_so_far"], 10.0);
    assert_eq!(basis["usual_rest"], 10.0);
    // Ten usually come after 12:05; today runs at (5 + 5) / (10 + 5) of the usual.
    let expected = f["arrivals"]["expected"].as_f64().unwrap();
    assert!((expected - 10.0 * 10.0 / 15.0).abs() < 0.01, "{f}");
    app.stop().await;
}
