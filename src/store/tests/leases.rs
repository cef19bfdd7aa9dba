//! Desk leases: one owner per desk at a time, taken over only after the lease expired,
//! with the epoch counting changes of hands.

use super::*;

const A: &str = "node-a";
const B: &str = "node-b";

pub(super) async fn a_lease_has_one_holder_until_it_expires(s: &Store) {
    let d = desk("prayagraj");
    let t0 = t("2026-03-10T04:00:00Z");
    let secs = |n: i64| t0 + jiff::SignedDuration::from_secs(n);
    assert_eq!(
        s.claim_lease(&d, A, "http://a", t0, secs(10))
            .await
            .unwrap(),
        Some(1)
    );
    // Held: another node cannot take it, even a moment before it expires.
    assert_eq!(
        s.claim_lease(&d, B, "http://b", secs(9), secs(19))
            .await
            .unwrap(),
        None
    );
    let counts = DeskCounts {
        waiting: 4,
        in_call: 1,
        officers_on_duty: 2,
    };
    assert!(s.renew_lease(&d, A, 1, secs(20), counts).await.unwrap());
    assert_eq!(s.leases().await.unwrap()[0].counts, counts);
    assert_eq!(
        s.claim_lease(&d, B, "http://b", secs(15), secs(25))
            .await
            .unwrap(),
        None
    );
    // Expired: B takes it over, in a new epoch, and A can no longer renew or release.
    assert_eq!(
        s.claim_lease(&d, B, "http://b", secs(20), secs(30))
            .await
            .unwrap(),
        Some(2)
    );
    assert!(!s.renew_lease(&d, A, 1, secs(31), counts).await.unwrap());
    assert!(!s.release_lease(&d, A, 1).await.unwrap());
    let all = s.leases().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].node.as_str(), all[0].url.as_str(), all[0].epoch),
        (B, "http://b", 2)
    );
    assert_eq!(all[0].until, secs(30));
    assert_eq!(
        all[0].counts,
        DeskCounts::default(),
        "a new owner starts afresh"
    );
    // A clean stop gives it up at once.
    assert!(s.release_lease(&d, B, 2).await.unwrap());
    assert_eq!(
        s.claim_lease(&d, A, "http://a", secs(21), secs(31))
            .await
            .unwrap(),
        Some(3)
    );
    // Desks are leased independently.
    let other = desk("lucknow");
    assert_eq!(
        s.claim_lease(&other, B, "http://b", secs(21), secs(31))
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(s.leases().await.unwrap().len(), 2);
}

pub(super) async fn racing_nodes_never_both_win_a_desk(s: &Store) {
    let d = desk("prayagraj");
    let t0 = t("2026-03-10T04:00:00Z");
    let until = t0 + jiff::SignedDuration::from_secs(10);
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (s, d) = (s.clone(), d.clone());
        tasks.push(tokio::spawn(async move {
            let node = format!("node-{n}");
            s.claim_lease(&d, &node, "http://x", t0, until)
                .await
                .unwrap()
                .map(|_| node)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let held = s.leases().await.unwrap();
    assert_eq!(held[0].node, winners[0]);
}

pub(super) async fn writes_under_a_lost_lease_are_refused(s: &Store) {
    let d = desk("prayagraj");
    let t0 = t("2026-03-10T04:00:00Z");
    let secs = |n: i64| t0 + jiff::SignedDuration::from_secs(n);
    let (id, _) = create_at(s, "2026-03-10T04:00:00Z").await;
    let place = |seq| QueuePlace {
        id,
        desk: d.clone(),
        class: QueueClass::Normal,
        seq,
        at: t0,
    };
    let fence = |node: &str, epoch| Fence {
        desk: d.clone(),
        node: node.to_owned(),
        epoch,
    };
    assert_eq!(
        s.claim_lease(&d, A, "http://a", t0, secs(10))
            .await
            .unwrap(),
        Some(1)
    );
    s.place_fenced(&place(1), &fence(A, 1)).await.unwrap();
    // B takes the desk over: A's writes are refused, and change nothing.
    assert_eq!(
        s.claim_lease(&d, B, "http://b", secs(10), secs(20))
            .await
            .unwrap(),
        Some(2)
    );
    let left = RecordEvent::Abandoned {
        id,
        at: secs(11),
        reason: "grace_expired".into(),
    };
    let refused = s.place_fenced(&place(2), &fence(A, 1)).await;
    assert!(matches!(refused, Err(StoreError::Fenced(_))), "{refused:?}");
    let refused = s.apply_fenced(left.clone(), &fence(A, 1)).await;
    assert!(matches!(refused, Err(StoreError::Fenced(_))), "{refused:?}");
    let room = s.waiting_room(&d).await.unwrap();
    assert_eq!(room[0].place, Some((QueueClass::Normal, 1)));
    assert_eq!(must_get(s, id).await.disposition, Disposition::Waiting);
    // The new owner's writes go through; so do unfenced ones (a single node).
    s.place_fenced(&place(3), &fence(B, 2)).await.unwrap();
    s.apply_fenced(left, &fence(B, 2)).await.unwrap();
    assert_eq!(must_get(s, id).await.disposition, Disposition::Abandoned);
    let refused = s.place_fenced(&place(4), &fence(B, 3)).await;
    assert!(
        matches!(refused, Err(StoreError::Fenced(_))),
        "a later epoch is not held yet"
    );
    // A supervisor's change to the schedule is fenced the same way.
    let extended = |minutes: i64| ScheduleOverride {
        kind: OverrideKind::Extended,
        from: secs(0),
        until: secs(minutes * 60),
    };
    s.save_overrides(&d, &[extended(30)], Some(&fence(B, 2)))
        .await
        .unwrap();
    let refused = s
        .save_overrides(&d, &[extended(60)], Some(&fence(A, 1)))
        .await;
    assert!(matches!(refused, Err(StoreError::Fenced(_))), "{refused:?}");
    assert_eq!(s.overrides(&d).await.unwrap(), vec![extended(30)]);
}
