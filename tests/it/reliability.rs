//! Nothing lost: restarts restore the waiting room in order, an officer who drops resumes
//! the call, a graceful stop lets calls finish, and a client that cannot keep up is cut
//! off without holding up anyone else.

use std::time::Duration;

use sunwai::core::ids::EntryId;
use sunwai::store::{Disposition, HistoryKind};
use sunwai_signaling::{
    close_code, Client, ClientError, ClientMsg, DeskSnapshot, ErrorCode, ServerMsg, WindowInfo,
};
use uuid::Uuid;

use crate::helpers::*;

/// A citizen's connection resuming with `ticket`; returns the welcome's `resumed.state`.
async fn resume(app: &TestApp, ticket: &str) -> (Client, Option<String>) {
    let mut c = Client::connect(&app.ws_url()).await.unwrap();
    let w = c.hello(None, Some(ticket)).await.unwrap();
    (c, w.resumed.map(|r| r.state))
}

async fn position(c: &mut Client) -> u32 {
    match expect(c, "a queue position", |m| {
        matches!(m, ServerMsg::Queue { .. })
    })
    .await
    {
        ServerMsg::Queue { position, .. } => position,
        _ => unreachable!(),
    }
}

/// The supervisor's view of the queue: entries in order, and whether each is connected.
async fn queue(sup: &mut Client, what: &str, pred: impl Fn(&[(Uuid, bool)]) -> bool) -> Vec<Uuid> {
    let m = expect(sup, what, |m| match m {
        ServerMsg::Desk { snapshot } => {
            let q: Vec<(Uuid, bool)> = snapshot
                .queue
                .iter()
                .map(|q| (q.entry, q.connected))
                .collect();
            pred(&q)
        }
        _ => false,
    })
    .await;
    match m {
        ServerMsg::Desk { snapshot } => snapshot.queue.iter().map(|q| q.entry).collect(),
        _ => unreachable!(),
    }
}

async fn watch(app: &TestApp) -> Client {
    let mut sup = app.staff("supervisor").await;
    sup.request_ok(|id| ClientMsg::Watch {
        id,
        desk: DESK.into(),
    })
    .await
    .unwrap();
    sup
}

async fn accept_offer(officer: &mut Client) -> Uuid {
    let entry = match expect(officer, "an offer", |m| {
        matches!(m, ServerMsg::Offer { .. })
    })
    .await
    {
        ServerMsg::Offer { entry, .. } => entry,
        _ => unreachable!(),
    };
    officer
        .request_ok(|id| ClientMsg::Accept { id, entry })
        .await
        .unwrap();
    entry
}

#[tokio::test]
async fn a_restart_restores_the_waiting_room_in_order_with_the_call_first() {
    // No time to finish calls: the stop cuts the call in progress.
    let app = spawn_app_with(|c| c.shutdown_grace_secs = 0).await;
    let mut citizens = Vec::new();
    for name in ["Asha", "Bina", "Chandra"] {
        let mut c = app.citizen().await;
        let j = join(&mut c, name).await;
        citizens.push((c, j));
    }
    let mut officer = app.officer("officer1").await;
    let first = accept_offer(&mut officer).await;
    assert_eq!(first, citizens[0].1.entry);
    expect(&mut citizens[0].0, "the call", |m| {
        matches!(m, ServerMsg::CallStarted { .. })
    })
    .await;

    let app = app.restart().await;
    for (c, _) in &mut citizens {
        // The old server said goodbye: 1001, reconnect.
        let closed = c
            .recv_until(|_| false, WAIT)
            .await
            .expect_err("the connection closes");
        assert!(
            matches!(
                closed,
                ClientError::Closed {
                    code: close_code::GOING_AWAY,
                    ..
                }
            ),
            "{closed:?}"
        );
    }
    let ids: Vec<Uuid> = citizens.iter().map(|(_, j)| j.entry).collect();
    let mut sup = watch(&app).await;
    let restored = queue(&mut sup, "the restored queue", |q| q.len() == 3).await;
    assert_eq!(
        restored, ids,
        "the call in progress first, then the others in order"
    );

    // Back in reverse order: each gets their own place, not the order of return.
    let mut back = Vec::new();
    for (i, (_, j)) in citizens.iter().enumerate().rev() {
        let (mut c, state) = resume(&app, &j.ticket).await;
        assert_eq!(state.as_deref(), Some("waiting"));
        assert_eq!(position(&mut c).await, i as u32 + 1);
        back.push(c);
    }
    let (_, unknown) = resume(&app, "not-a-ticket").await;
    assert_eq!(unknown, None);

    // The record says why the call broke off.
    let store = app.store().await;
    let c = store.get(EntryId(first)).await.unwrap().unwrap();
    assert_eq!(c.disposition, Disposition::Waiting);
    let interrupted = c
        .history
        .iter()
        .find(|h| h.kind == HistoryKind::Interrupted)
        .expect("an interrupted row");
    assert_eq!(interrupted.detail, "server_restart");
    store.close().await;

    // The officer, back within the grace period, takes up the same call.
    let mut officer = app.officer("officer1").await;
    let m = expect(&mut officer, "the call resumed", |m| {
        matches!(m, ServerMsg::CallResumed { .. })
    })
    .await;
    assert!(matches!(m, ServerMsg::CallResumed { entry, .. } if entry == first));
    let asha = back.last_mut().unwrap();
    expect(asha, "the call resumed", |m| {
        matches!(m, ServerMsg::CallResumed { .. })
    })
    .await;
    app.stop().await;
}

/// The window in the supervisor's next snapshot that satisfies `pred`.
async fn window(sup: &mut Client, what: &str, pred: impl Fn(&WindowInfo) -> bool) -> WindowInfo {
    snapshot(sup, what, |s| pred(&s.window)).await.window
}

#[tokio::test]
async fn a_supervisors_extension_of_the_window_survives_a_restart() {
    let app = spawn_app().await;
    let mut sup = watch(&app).await;
    let scheduled = window(&mut sup, "the scheduled window", |w| w.open).await;
    let closes =
        |w: &WindowInfo| -> jiff::Timestamp { w.closes_at.as_deref().unwrap().parse().unwrap() };
    let scheduled_close = closes(&scheduled);
    // Acknowledged only once it is kept: a restart right after the answer finds it.
    sup.request_ok(|id| ClientMsg::ExtendWindow {
        id,
        desk: DESK.into(),
        minutes: 45,
    })
    .await
    .unwrap();
    let extended_close = scheduled_close + jiff::SignedDuration::from_mins(45);
    window(&mut sup, "the extended window", |w| {
        w.open && closes(w) == extended_close
    })
    .await;

    let app = app.restart().await;
    let mut sup = watch(&app).await;
    let w = window(&mut sup, "the window after the restart", |_| true).await;
    assert!(w.open, "{w:?}");
    assert_eq!(closes(&w), extended_close, "the extension is kept: {w:?}");
    app.stop().await;
}

#[tokio::test]
async fn the_days_counters_survive_a_restart() {
    let app = spawn_app().await;
    let mut officer = app.officer("officer1").await;
    // One call answered and ended, one citizen who gave up, one still waiting.
    let mut asha = app.citizen().await;
    join(&mut asha, "Asha").await;
    let first = accept_offer(&mut officer).await;
    officer
        .request_ok(|id| ClientMsg::EndCall { id, no_show: false })
        .await
        .unwrap();
    expect(
        &mut officer,
        "call_ended",
        |m| matches!(m, ServerMsg::CallEnded { entry, .. } if *entry == first),
    )
    .await;
    officer
        .request_ok(|id| ClientMsg::GoOffDuty { id })
        .await
        .unwrap();
    let mut bina = app.citizen().await;
    join(&mut bina, "Bina").await;
    bina.request_ok(|id| ClientMsg::Leave { id }).await.unwrap();
    let mut chandra = app.citizen().await;
    let waiting = join(&mut chandra, "Chandra").await;

    let counts = |s: &DeskSnapshot| (s.calls_today, s.abandoned_today, s.waiting);
    let mut sup = watch(&app).await;
    let before = snapshot(&mut sup, "the day so far", |s| counts(s) == (1, 1, 1)).await;
    assert!(before.avg_call_secs.is_some() && before.avg_wait_secs.is_some());

    let app = app.restart().await;
    let mut sup = watch(&app).await;
    let after = snapshot(&mut sup, "the day after the restart", |_| true).await;
    assert_eq!(counts(&after), (1, 1, 1), "{after:?}");
    assert_eq!(after.avg_call_secs, before.avg_call_secs);
    assert_eq!(after.avg_wait_secs, before.avg_wait_secs);
    assert_eq!(after.queue[0].entry, waiting.entry);
    app.stop().await;
}

/// The supervisor's next snapshot that satisfies `pred`.
async fn snapshot(
    sup: &mut Client,
    what: &str,
    pred: impl Fn(&DeskSnapshot) -> bool,
) -> DeskSnapshot {
    match expect(
        sup,
        what,
        |m| matches!(m, ServerMsg::Desk { snapshot } if pred(snapshot)),
    )
    .await
    {
        ServerMsg::Desk { snapshot } => snapshot,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn an_officer_who_drops_mid_call_resumes_the_same_call_on_return() {
    let app = spawn_app().await;
    let mut asha = app.citizen().await;
    let j = join(&mut asha, "Asha").await;
    let mut bina = app.citizen().await;
    join(&mut bina, "Bina").await;
    let mut officer = app.officer("officer1").await;
    assert_eq!(accept_offer(&mut officer).await, j.entry);
    drop(officer);
    expect(&mut asha, "officer_lost", |m| {
        matches!(m, ServerMsg::OfficerLost {})
    })
    .await;
    assert_eq!(position(&mut asha).await, 1, "back at the front");

    let mut officer = app.officer("officer1").await;
    let m = expect(&mut officer, "call_resumed", |m| {
        matches!(m, ServerMsg::CallResumed { .. })
    })
    .await;
    assert!(
        matches!(m, ServerMsg::CallResumed { entry, ref peer_name, .. } if entry == j.entry && peer_name == "Asha")
    );
    expect(&mut asha, "call_resumed", |m| {
        matches!(m, ServerMsg::CallResumed { ref peer_name, .. } if peer_name == "Insp. Sharma")
    })
    .await;
    officer
        .request_ok(|id| ClientMsg::EndCall { id, no_show: false })
        .await
        .unwrap();
    // The reply came after the record was written: it is there at once.
    let store = app.store().await;
    let c = store.get(EntryId(j.entry)).await.unwrap().unwrap();
    assert_eq!(c.disposition, Disposition::Completed);
    let kinds: Vec<HistoryKind> = c.history.iter().map(|h| h.kind).collect();
    assert!(
        kinds.ends_with(&[
            HistoryKind::Answered,
            HistoryKind::Interrupted,
            HistoryKind::Resumed,
            HistoryKind::Ended
        ]),
        "{kinds:?}"
    );
    store.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_graceful_stop_refuses_joins_lets_the_call_finish_and_keeps_the_waiting() {
    let mut app = spawn_app_with(|c| c.shutdown_grace_secs = 30).await;
    let mut asha = app.citizen().await;
    let a = join(&mut asha, "Asha").await;
    let mut bina = app.citizen().await;
    let b = join(&mut bina, "Bina").await;
    let mut officer = app.officer("officer1").await;
    assert_eq!(accept_offer(&mut officer).await, a.entry);
    let mut late = app.citizen().await;

    app.begin_stop();
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.http("GET", "/readyz", &[], None).await.status != 503 {
        assert!(tokio::time::Instant::now() < deadline, "/readyz stays 200");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, message) = join_refused(&mut late, "Late").await;
    assert_eq!(code, ErrorCode::ShuttingDown);
    assert!(message.contains("try again"), "{message}");
    // The call goes on: the server waits for it.
    assert!(!app.stopped_within(Duration::from_millis(500)).await);
    officer
        .request_ok(|id| ClientMsg::EndCall { id, no_show: false })
        .await
        .unwrap();
    assert!(app.stopped_within(WAIT).await, "stops once the call ended");
    let closed = bina.recv_until(|_| false, WAIT).await.unwrap_err();
    assert!(
        matches!(
            closed,
            ClientError::Closed {
                code: close_code::GOING_AWAY,
                ..
            }
        ),
        "{closed:?}"
    );

    // Bina is still waiting after the restart; Asha's call is complete.
    let app = app.restart().await;
    let (mut bina, state) = resume(&app, &b.ticket).await;
    assert_eq!(state.as_deref(), Some("waiting"));
    assert_eq!(position(&mut bina).await, 1);
    let (_, state) = resume(&app, &a.ticket).await;
    assert_eq!(state.as_deref(), Some("completed"));
    app.stop().await;
}

/// Reads `/metrics` and returns the value of an unlabelled counter (0 if absent).
async fn counter(app: &TestApp, name: &str) -> u64 {
    let body = app.http("GET", "/metrics", &[], None).await.body;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_citizen_who_stops_reading_is_cut_off_with_a_reason_and_others_go_on() {
    let app = spawn_app_with(|c| c.limits.messages_per_second = 100_000).await;
    let mut slow = app.citizen().await;
    join(&mut slow, "Slow").await;
    let mut fast = app.citizen().await;
    join(&mut fast, "Fast").await;
    let mut sup = app.staff("supervisor").await;
    let before = counter(&app, "sunwai_slow_clients_dropped_total").await;

    // The fast citizen reads everything, all the while.
    let reader = tokio::spawn(async move {
        let mut messages = 0u32;
        loop {
            match fast.recv_timeout(Duration::from_secs(3)).await {
                Ok(ServerMsg::Message { .. }) => messages += 1,
                Ok(_) => {}
                Err(_) => return messages,
            }
        }
    });
    // Long broadcasts until the slow one's queue (and the socket buffers) overflow.
    let text = "क".repeat(270);
    let mut sent = 0u32;
    while counter(&app, "sunwai_slow_clients_dropped_total").await == before {
        assert!(sent < 200_000, "the slow client was never cut off");
        for _ in 0..500 {
            sup.request_ok(|id| ClientMsg::Broadcast {
                id,
                desk: DESK.into(),
                text: text.clone(),
            })
            .await
            .unwrap();
            sent += 1;
        }
    }
    // What it had queued still arrives, then the close with its reason.
    let end = loop {
        match slow.recv_timeout(WAIT).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    match end {
        ClientError::Closed { code, reason } => {
            assert_eq!(code, close_code::POLICY);
            assert!(reason.contains("too slow"), "{reason}");
        }
        other => panic!("expected a close, got {other:?}"),
    }
    assert_eq!(
        reader.await.unwrap(),
        sent,
        "the fast one got every message"
    );
    app.stop().await;
}
