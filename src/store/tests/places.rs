//! Waiting-room places: written as the room gives them, gone with the record's leaving
//! event, and read back in queue order for a restart.

use super::*;

fn place(id: EntryId, class: QueueClass, seq: u64) -> QueuePlace {
    QueuePlace {
        id,
        desk: desk("prayagraj"),
        class,
        seq,
        at: t("2026-03-10T04:40:00Z"),
    }
}

fn order(open: &[OpenEntry]) -> Vec<EntryId> {
    open.iter().map(|o| o.complaint.id).collect()
}

pub(super) async fn places_restore_the_queue_order(s: &Store) {
    let (a, _) = create_at(s, "2026-03-10T04:30:00Z").await;
    let (b, _) = create_at(s, "2026-03-10T04:31:00Z").await;
    let (c, _) = create_at(s, "2026-03-10T04:32:00Z").await;
    let (d, _) = create_at(s, "2026-03-10T04:33:00Z").await;
    let (placeless, _) = create_at(s, "2026-03-10T04:29:00Z").await;
    s.place(&place(a, QueueClass::Normal, 7)).await.unwrap();
    s.place(&place(b, QueueClass::Normal, 3)).await.unwrap();
    s.place(&place(c, QueueClass::Carried, 9)).await.unwrap();
    s.place(&place(d, QueueClass::Normal, 1)).await.unwrap();
    // Put back at the front: the place is replaced.
    s.place(&place(d, QueueClass::Interrupted, 10))
        .await
        .unwrap();
    let (off, name) = officer("SI Verma");
    let at = t("2026-03-10T04:41:00Z");
    s.apply(RecordEvent::Answered {
        id: b,
        at,
        officer: off,
        officer_name: name,
    })
    .await
    .unwrap();
    let open = s.waiting_room(&desk("prayagraj")).await.unwrap();
    assert_eq!(order(&open), [d, c, b, a, placeless]);
    assert_eq!(open[0].place, Some((QueueClass::Interrupted, 10)));
    assert_eq!(open[2].complaint.disposition, Disposition::InCall);
    assert_eq!(open[2].complaint.officer, Some(off));
    assert_eq!(open[4].place, None);
    assert!(s.waiting_room(&desk("lucknow")).await.unwrap().is_empty());
}

pub(super) async fn leaving_the_room_deletes_the_place(s: &Store) {
    let (a, _) = create_at(s, "2026-03-10T04:30:00Z").await;
    let (b, _) = create_at(s, "2026-03-10T04:31:00Z").await;
    let (c, _) = create_at(s, "2026-03-10T04:32:00Z").await;
    for (n, id) in [a, b, c].into_iter().enumerate() {
        s.place(&place(id, QueueClass::Normal, n as u64))
            .await
            .unwrap();
    }
    let at = t("2026-03-10T04:50:00Z");
    s.apply(RecordEvent::Abandoned {
        id: a,
        at,
        reason: "left".into(),
    })
    .await
    .unwrap();
    s.apply(RecordEvent::CarriedOver {
        id: b,
        at,
        next_window_opens_at: None,
    })
    .await
    .unwrap();
    let open = s.waiting_room(&desk("prayagraj")).await.unwrap();
    assert_eq!(order(&open), [c]);
    // A late place for a record that has left is refused: it cannot come back.
    let err = s.place(&place(a, QueueClass::Normal, 9)).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = s
        .place(&place(EntryId::new_random(), QueueClass::Normal, 9))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = s
        .place(&place(c, QueueClass::Normal, u64::MAX))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    // Requeued from a carried-over token: the place may be given again.
    s.apply(RecordEvent::Requeued { id: b, at }).await.unwrap();
    s.place(&place(b, QueueClass::Carried, 4)).await.unwrap();
    let open = s.waiting_room(&desk("prayagraj")).await.unwrap();
    assert_eq!(order(&open), [b, c]);
    s.apply(RecordEvent::Ended {
        id: c,
        at,
        by: "officer".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        order(&s.waiting_room(&desk("prayagraj")).await.unwrap()),
        [b]
    );
}

pub(super) async fn a_resumed_call_is_in_call_again(s: &Store) {
    let (id, _) = create_at(s, "2026-03-10T04:30:00Z").await;
    let (off, name) = officer("SI Verma");
    let at = |m: u32| t(&format!("2026-03-10T04:{m:02}:00Z"));
    s.apply(RecordEvent::Answered {
        id,
        at: at(35),
        officer: off,
        officer_name: name.clone(),
    })
    .await
    .unwrap();
    s.apply(RecordEvent::Interrupted {
        id,
        at: at(36),
        reason: "server_restart".into(),
    })
    .await
    .unwrap();
    s.apply(RecordEvent::Resumed {
        id,
        at: at(37),
        officer: off,
        officer_name: name,
    })
    .await
    .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.disposition, Disposition::InCall);
    assert_eq!(c.answered_at, Some(at(35)), "the first answer stays");
    use HistoryKind as K;
    assert_eq!(
        kinds(&c),
        [K::Created, K::Answered, K::Interrupted, K::Resumed]
    );
    assert_eq!(c.history[2].detail, "server_restart");
}

pub(super) async fn integrity_check_passes_on_a_sound_database(s: &Store) {
    create_at(s, "2026-03-10T04:30:00Z").await;
    s.check_integrity().await.unwrap();
}

pub(super) async fn schedule_overrides_are_kept_per_desk_in_order(s: &Store) {
    let d = desk("prayagraj");
    let other = desk("kaushambi");
    assert_eq!(s.overrides(&d).await.unwrap(), Vec::new());
    let o = |kind, from: &str, until: &str| ScheduleOverride {
        kind,
        from: t(from),
        until: t(until),
    };
    let first = vec![
        o(
            OverrideKind::Opened,
            "2026-03-10T03:30:00Z",
            "2026-03-10T04:00:00Z",
        ),
        o(
            OverrideKind::Extended,
            "2026-03-10T08:30:00Z",
            "2026-03-10T09:00:00Z",
        ),
    ];
    s.save_overrides(&d, &first, None).await.unwrap();
    let theirs = vec![o(
        OverrideKind::Closed,
        "2026-03-10T07:00:00Z",
        "2026-03-10T08:30:00Z",
    )];
    s.save_overrides(&other, &theirs, None).await.unwrap();
    assert_eq!(s.overrides(&d).await.unwrap(), first);
    // Replaced as a whole: a later close after the extension, in that order.
    let second = vec![
        first[1].clone(),
        o(
            OverrideKind::Closed,
            "2026-03-10T08:40:00Z",
            "2026-03-10T09:00:00Z",
        ),
    ];
    s.save_overrides(&d, &second, None).await.unwrap();
    assert_eq!(s.overrides(&d).await.unwrap(), second);
    assert_eq!(s.overrides(&other).await.unwrap(), theirs);
    s.save_overrides(&d, &[], None).await.unwrap();
    assert_eq!(s.overrides(&d).await.unwrap(), Vec::new());
}
