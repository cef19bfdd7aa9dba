//! Two officers and five citizens through a hearing window over real WebSockets, then the
//! records checked in the database.

use std::time::Duration;

use sunwai::store::{Disposition, Status};
use sunwai_signaling::{ClientMsg, ErrorCode, OutcomeMsg, ServerMsg};

use crate::helpers::*;

fn is_offer(m: &ServerMsg) -> bool {
    matches!(m, ServerMsg::Offer { .. })
}

async fn take_offer(officer: &mut sunwai_signaling::Client) -> (uuid::Uuid, String, String) {
    match expect(officer, "an offer", is_offer).await {
        ServerMsg::Offer {
            entry,
            reference,
            intake,
            expires_in_secs,
            ..
        } => {
            assert!(expires_in_secs > 0 && expires_in_secs <= 30);
            (entry, reference, intake.name)
        }
        _ => unreachable!(),
    }
}

async fn accept(officer: &mut sunwai_signaling::Client, entry: uuid::Uuid) {
    officer
        .request_ok(|id| ClientMsg::Accept { id, entry })
        .await
        .unwrap();
    expect(
        officer,
        "call_started",
        |m| matches!(m, ServerMsg::CallStarted { entry: e, .. } if *e == entry),
    )
    .await;
}

async fn end(officer: &mut sunwai_signaling::Client, entry: uuid::Uuid) {
    officer
        .request_ok(|id| ClientMsg::EndCall { id, no_show: false })
        .await
        .unwrap();
    expect(
        officer,
        "call_ended",
        |m| matches!(m, ServerMsg::CallEnded { entry: e, .. } if *e == entry),
    )
    .await;
    officer
        .request_ok(|id| ClientMsg::Ready { id })
        .await
        .unwrap();
}

#[tokio::test]
async fn two_officers_and_five_citizens_through_a_window() {
    let app = spawn_app().await;
    let mut sup = app.staff("supervisor").await;
    sup.request_ok(|id| ClientMsg::Watch {
        id,
        desk: DESK.into(),
    })
    .await
    .unwrap();

    // Five citizens join before any officer is on duty: positions 1..5, no estimate yet.
    let mut citizens = Vec::new();
    let mut joined = Vec::new();
    for n in 1..=5 {
        let mut c = app.citizen().await;
        let j = join(&mut c, &format!("Citizen {n}")).await;
        assert!(j.reference.starts_with("PRY-2026-"), "{}", j.reference);
        assert!(j.ticket.len() >= 22, "ticket has at least 128 bits");
        match expect(&mut c, "queue", |m| matches!(m, ServerMsg::Queue { .. })).await {
            ServerMsg::Queue {
                position,
                estimate_secs,
                officers_on_duty,
                window,
                ..
            } => {
                assert_eq!(position, n);
                assert_eq!(
                    estimate_secs, None,
                    "no officer on duty: no made-up estimate"
                );
                assert_eq!(officers_on_duty, 0);
                assert!(window.open);
            }
            _ => unreachable!(),
        }
        citizens.push(c);
        joined.push(j);
    }

    // The supervisor's wallboard shows them.
    let snapshot = expect(
        &mut sup,
        "a desk snapshot with five waiting",
        |m| matches!(m, ServerMsg::Desk { snapshot } if snapshot.waiting == 5),
    )
    .await;
    if let ServerMsg::Desk { snapshot } = snapshot {
        assert_eq!(snapshot.queue[0].reference, joined[0].reference);
    }

    // A message to everyone waiting.
    sup.request_ok(|id| ClientMsg::Broadcast {
        id,
        desk: DESK.into(),
        text: "अधिकारी 10 मिनट में आएंगे".into(),
    })
    .await
    .unwrap();
    for c in citizens.iter_mut() {
        expect(
            c,
            "the broadcast",
            |m| matches!(m, ServerMsg::Message { text, .. } if text.contains("10 मिनट")),
        )
        .await;
    }

    // Two officers come on duty; the first in line goes to the first officer.
    let mut a = app.officer("officer1").await;
    let (e1, r1, name1) = take_offer(&mut a).await;
    assert_eq!(
        (e1, r1.as_str(), name1.as_str()),
        (joined[0].entry, joined[0].reference.as_str(), "Citizen 1")
    );
    expect(&mut citizens[0], "you_are_next", |m| {
        matches!(m, ServerMsg::YouAreNext {})
    })
    .await;
    let mut b = app.officer("officer2").await;
    let (e2, _, _) = take_offer(&mut b).await;
    assert_eq!(e2, joined[1].entry);

    // Officer B declines; citizen 2 keeps their place and goes back to B's next offer
    // only after B is offered someone else.
    b.request_ok(|id| ClientMsg::Decline { id, entry: e2 })
        .await
        .unwrap();
    let (e3, _, _) = take_offer(&mut b).await;
    assert_eq!(
        e3, joined[2].entry,
        "the declining officer gets the next citizen"
    );
    accept(&mut a, e1).await;
    accept(&mut b, e3).await;
    match expect(&mut citizens[0], "call_started", |m| {
        matches!(m, ServerMsg::CallStarted { .. })
    })
    .await
    {
        ServerMsg::CallStarted {
            peer_name,
            reference,
            ..
        } => {
            assert_eq!(peer_name, "Insp. Sharma");
            assert_eq!(reference, joined[0].reference);
        }
        _ => unreachable!(),
    }
    // Citizens 2, 4, 5 wait at positions 1, 2, 3 with estimates now that officers are on duty.
    for (i, want) in [(1usize, 1u32), (3, 2), (4, 3)] {
        let m = expect(&mut citizens[i], "an updated position", |m| matches!(m, ServerMsg::Queue { position, estimate_secs: Some(_), .. } if *position == want)).await;
        assert!(matches!(
            m,
            ServerMsg::Queue {
                officers_on_duty: 2,
                ..
            }
        ));
    }

    // Officer A fills in the complaint during the call and ends it.
    let outcome = OutcomeMsg {
        category: "theft".into(),
        station: "kotwali".into(),
        action: "FIR to be registered".into(),
        notes: "Phone stolen at the bus stand".into(),
    };
    a.request_ok(|id| ClientMsg::SaveOutcome {
        id,
        entry: e1,
        outcome: outcome.clone(),
    })
    .await
    .unwrap();
    // An officer cannot write into a call they did not take.
    let r = b
        .request(|id| ClientMsg::SaveOutcome {
            id,
            entry: e1,
            outcome: outcome.clone(),
        })
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            ServerMsg::Error {
                code: ErrorCode::NotAllowed,
                ..
            }
        ),
        "{r:?}"
    );
    end(&mut a, e1).await;
    match expect(&mut citizens[0], "call_ended", |m| {
        matches!(m, ServerMsg::CallEnded { .. })
    })
    .await
    {
        ServerMsg::CallEnded { reference, by, .. } => {
            assert_eq!(reference, joined[0].reference);
            assert_eq!(by, "officer");
        }
        _ => unreachable!(),
    }

    // Citizen 4 reloads the page: a new connection with the ticket keeps their place.
    let ticket4 = joined[3].ticket.clone();
    drop(citizens.remove(3));
    let mut c4 = sunwai_signaling::Client::connect(&app.ws_url())
        .await
        .unwrap();
    let welcome = c4.hello(None, Some(&ticket4)).await.unwrap();
    let resumed = welcome.resumed.expect("resumed");
    assert_eq!(resumed.reference, joined[3].reference);
    assert_eq!(resumed.state, "waiting");
    citizens.insert(3, c4);

    // Officer A is offered citizen 2 (who B declined), takes and ends the call.
    let (e, _, _) = take_offer(&mut a).await;
    assert_eq!(e, joined[1].entry);
    accept(&mut a, e).await;
    end(&mut a, e).await;

    // Citizen 5 gives up and leaves.
    citizens[4]
        .request_ok(|id| ClientMsg::Leave { id })
        .await
        .unwrap();
    expect(
        &mut citizens[4],
        "removed",
        |m| matches!(m, ServerMsg::Removed { reason } if reason == "left"),
    )
    .await;

    // Citizen 4 (reconnected) is next for A; B ends their call with citizen 3.
    let (e, _, _) = take_offer(&mut a).await;
    assert_eq!(e, joined[3].entry);
    accept(&mut a, e).await;
    expect(&mut citizens[3], "call_started after the reload", |m| {
        matches!(m, ServerMsg::CallStarted { .. })
    })
    .await;
    end(&mut b, e3).await;

    // The supervisor closes the window: a newcomer is told when the next one opens.
    sup.request_ok(|id| ClientMsg::CloseWindow {
        id,
        desk: DESK.into(),
    })
    .await
    .unwrap();
    let mut late = app.citizen().await;
    let (code, message) = join_refused(&mut late, "Late").await;
    assert_eq!(code, ErrorCode::WindowClosed);
    assert!(message.contains("next one opens"), "{message}");
    // The call in progress goes on and ends normally.
    end(&mut a, joined[3].entry).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The records, read back from the database.
    let store = app.store().await;
    let mut refs = std::collections::HashSet::new();
    for (i, j) in joined.iter().enumerate() {
        let c = store
            .get_by_reference(&j.reference)
            .await
            .unwrap()
            .expect("a record for every citizen");
        assert!(refs.insert(c.reference.to_string()));
        assert!(!c.history.is_empty());
        if i == 4 {
            assert_eq!(c.disposition, Disposition::Abandoned);
            assert!(c.answered_at.is_none());
        } else {
            assert_eq!(c.disposition, Disposition::Completed, "citizen {}", i + 1);
            assert!(c.answered_at.is_some() && c.ended_at.is_some());
            assert!(c.wait_secs.is_some() && c.talk_secs.is_some());
            assert!(c.officer_name.is_some());
        }
    }
    let c1 = store
        .get_by_reference(&joined[0].reference)
        .await
        .unwrap()
        .unwrap();
    let o = c1.outcome.expect("the officer's outcome");
    assert_eq!(
        (o.station.as_str(), o.action.as_str()),
        ("kotwali", "FIR to be registered")
    );
    assert_eq!(
        c1.status,
        Status::Forwarded,
        "an outcome with a station forwards the complaint"
    );
    assert_eq!(c1.officer_name.as_deref(), Some("Insp. Sharma"));
    let c2 = store
        .get_by_reference(&joined[1].reference)
        .await
        .unwrap()
        .unwrap();
    assert!(
        c2.history.iter().any(|h| h.detail.contains("declin")
            || format!("{:?}", h.kind).to_lowercase().contains("declin")),
        "{:?}",
        c2.history
    );
    store.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_late_joiner_is_told_before_waiting_and_carried_to_the_next_window() {
    // Two minutes left in a window of one officer with six-minute calls: the second
    // citizen cannot be reached today.
    let app = spawn_app_with(|c| c.desks[0].windows = vec!["12:00-12:07".into()]).await;
    let mut a = app.officer("officer1").await;
    let mut c1 = app.citizen().await;
    join(&mut c1, "First").await;
    let (e1, _, _) = take_offer(&mut a).await;
    accept(&mut a, e1).await;
    let mut c2 = app.citizen().await;
    let j2 = join(&mut c2, "Second").await;
    match expect(&mut c2, "carried_over", |m| {
        matches!(m, ServerMsg::CarriedOver { .. })
    })
    .await
    {
        ServerMsg::CarriedOver {
            reference,
            next_opens_at,
            reason,
        } => {
            assert_eq!(reference, j2.reference);
            assert_eq!(reason, sunwai_signaling::CarryReason::BeyondWindow);
            assert_eq!(next_opens_at.as_deref(), Some("2026-11-29T06:30:00Z"));
        }
        _ => unreachable!(),
    }
    let store = app.store().await;
    let rec = store
        .get_by_reference(&j2.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.disposition, Disposition::CarriedOver);
    store.close().await;
    app.stop().await;
}
