//! Queue and call lifecycle events.

use super::*;

pub(super) async fn lifecycle_offered_answered_ended(s: &Store) {
    let (id, _) = create_at(s, "2026-03-10T04:30:00Z").await;
    let (off, name) = officer("SI Verma");
    let offered = t("2026-03-10T04:32:00Z");
    let officer_name = name.clone();
    s.apply(RecordEvent::Offered {
        id,
        at: offered,
        officer: off,
        officer_name,
    })
    .await
    .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.offered_at, Some(offered));
    assert_eq!(
        c.disposition,
        Disposition::Waiting,
        "an offer is not an answer"
    );
    assert_eq!(c.officer, None);

    let answered = t("2026-03-10T04:32:30.500Z");
    let officer_name = name.clone();
    s.apply(RecordEvent::Answered {
        id,
        at: answered,
        officer: off,
        officer_name,
    })
    .await
    .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.disposition, Disposition::InCall);
    assert_eq!(c.answered_at, Some(answered));
    assert_eq!(c.wait_secs, Some(150));
    assert_eq!(c.officer, Some(off));
    assert_eq!(c.officer_name.as_deref(), Some("SI Verma"));

    let ended = t("2026-03-10T04:40:00Z");
    s.apply(RecordEvent::Ended {
        id,
        at: ended,
        by: "officer".into(),
    })
    .await
    .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.disposition, Disposition::Completed);
    assert_eq!(c.ended_at, Some(ended));
    assert_eq!(c.talk_secs, Some(449));
    assert_eq!(c.updated_at, ended);
    assert_eq!(
        c.status,
        Status::Received,
        "events leave the workflow status alone"
    );
    use HistoryKind as K;
    assert_eq!(kinds(&c), [K::Created, K::Offered, K::Answered, K::Ended]);
    let who: Vec<Actor> = c.history.iter().map(|h| h.actor.clone()).collect();
    let verma = Actor::User { id: off, name };
    assert_eq!(who, [Actor::Citizen, Actor::System, verma.clone(), verma]);
}

pub(super) async fn interrupted_then_answered_again(s: &Store) {
    let (id, _) = create_at(s, "2026-03-10T04:30:00Z").await;
    let (a, a_name) = officer("SI Verma");
    let (b, b_name) = officer("SI Khan");
    let first = t("2026-03-10T04:31:00Z");
    s.apply(RecordEvent::Answered {
        id,
        at: first,
        officer: a,
        officer_name: a_name,
    })
    .await
    .unwrap();
    let broke = t("2026-03-10T04:33:00Z");
    let reason = "officer connection lost".to_owned();
    s.apply(RecordEvent::Interrupted {
        id,
        at: broke,
        reason,
    })
    .await
    .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.disposition, Disposition::Waiting);
    assert_eq!(
        c.answered_at,
        Some(first),
        "history of the first answer is kept"
    );

    let again = t("2026-03-10T04:35:00Z");
    s.apply(RecordEvent::Answered {
        id,
        at: again,
        officer: b,
        officer_name: b_name,
    })
    .await
    .unwrap();
    let end = t("2026-03-10T04:41:00Z");
    s.apply(RecordEvent::Ended {
        id,
        at: end,
        by: "citizen".into(),
    })
    .await
    .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.answered_at, Some(first));
    assert_eq!(c.wait_secs, Some(60), "the wait is until the first answer");
    assert_eq!(c.talk_secs, Some(600));
    assert_eq!(c.officer, Some(b), "the officer who finished the call");
    assert_eq!(c.disposition, Disposition::Completed);
    use HistoryKind as K;
    let want = [
        K::Created,
        K::Answered,
        K::Interrupted,
        K::Answered,
        K::Ended,
    ];
    assert_eq!(kinds(&c), want);
    assert_eq!(c.history[2].detail, "officer connection lost");
    assert_eq!(c.history[4].actor, Actor::Citizen);
}

pub(super) async fn offer_declined_and_notes(s: &Store) {
    let staff = s
        .create_user(NewUser {
            username: "verma".into(),
            display_name: "SI Verma".into(),
            role: Role::Officer,
            desk: None,
            password_phc: "x".into(),
        })
        .await
        .unwrap();
    let (id, _) = create_at(s, "2026-03-10T04:30:00Z").await;
    let at = t("2026-03-10T04:31:00Z");
    s.apply(RecordEvent::OfferDeclined {
        id,
        at,
        officer: staff.id,
        timed_out: false,
    })
    .await
    .unwrap();
    let other = UserId::new_random();
    s.apply(RecordEvent::OfferDeclined {
        id,
        at,
        officer: other,
        timed_out: true,
    })
    .await
    .unwrap();
    let actor = Actor::User {
        id: staff.id,
        name: "Supervisor Rao".into(),
    };
    let text = "monitoring started".to_owned();
    s.apply(RecordEvent::Note {
        id,
        at,
        actor: actor.clone(),
        text,
    })
    .await
    .unwrap();

    let c = must_get(s, id).await;
    assert_eq!(c.disposition, Disposition::Waiting);
    let h = &c.history;
    assert_eq!(h.len(), 4);
    assert_eq!(h[1].kind, HistoryKind::OfferDeclined);
    assert_eq!(
        h[1].actor,
        Actor::User {
            id: staff.id,
            name: "SI Verma".into()
        }
    );
    assert_eq!(
        (h[2].actor.clone(), h[2].detail.as_str()),
        (Actor::System, "offer timed out")
    );
    assert_eq!((h[3].kind, &h[3].actor), (HistoryKind::Note, &actor));
    assert_eq!(h[3].detail, "monitoring started");
}

pub(super) async fn abandoned(s: &Store) {
    let (id, _) = create_at(s, "2026-03-10T04:30:00Z").await;
    let at = t("2026-03-10T04:50:00Z");
    s.apply(RecordEvent::Abandoned {
        id,
        at,
        reason: "left the waiting room".into(),
    })
    .await
    .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.disposition, Disposition::Abandoned);
    assert_eq!((c.answered_at, c.wait_secs), (None, None));
    assert_eq!(c.history[1].kind, HistoryKind::Abandoned);
    assert!(s.open_entries(&desk("prayagraj")).await.unwrap().is_empty());
}

pub(super) async fn carried_over_then_requeued(s: &Store) {
    let (id, _) = create_at(s, "2026-03-10T07:25:00Z").await;
    let at = t("2026-03-10T07:30:00Z");
    let next = Some(t("2026-03-11T06:30:00Z"));
    s.apply(RecordEvent::CarriedOver {
        id,
        at,
        next_window_opens_at: next,
    })
    .await
    .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.disposition, Disposition::CarriedOver);
    assert!(
        c.history[1].detail.contains("2026-03-11T06:30:00Z"),
        "{}",
        c.history[1].detail
    );
    let open = s.open_entries(&desk("prayagraj")).await.unwrap();
    assert_eq!(open.iter().map(|c| c.id).collect::<Vec<_>>(), [id]);

    s.apply(RecordEvent::Requeued {
        id,
        at: t("2026-03-11T06:30:00Z"),
    })
    .await
    .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.disposition, Disposition::Waiting);
    use HistoryKind as K;
    assert_eq!(kinds(&c), [K::Created, K::CarriedOver, K::Requeued]);
}
