//! Complaint creation, references and lookups.

use super::*;

pub(super) async fn create_and_get_with_history(s: &Store) {
    let new = new_video("prayagraj", "PRY", "2026-03-10T04:30:00Z");
    let id = new.id;
    let want_intake = new.intake.clone();
    let r = s.create_complaint(new).await.unwrap();
    assert_eq!(r.as_str(), "PRY-2026-000001");

    let c = must_get(s, id).await;
    assert_eq!(c.id, id);
    assert_eq!(c.reference, r);
    assert_eq!(c.desk, desk("prayagraj"));
    assert_eq!(c.channel, Channel::Video);
    assert_eq!(c.intake, want_intake);
    assert_eq!(c.created_at, t("2026-03-10T04:30:00Z"));
    assert_eq!(c.updated_at, c.created_at);
    assert_eq!(c.disposition, Disposition::Waiting);
    assert_eq!(c.status, Status::Received);
    assert_eq!(
        (c.offered_at, c.answered_at, c.ended_at),
        (None, None, None)
    );
    assert_eq!((c.wait_secs, c.talk_secs, c.officer), (None, None, None));
    assert!(c.outcome.is_none());
    assert_eq!(c.history.len(), 1);
    let h = &c.history[0];
    assert_eq!(h.kind, HistoryKind::Created);
    assert_eq!(h.actor, Actor::Citizen);
    assert_eq!(h.status, Some(Status::Received));
    assert_eq!(h.at, c.created_at);

    // Lookup by reference forgives case and spaces.
    let by_ref = s
        .get_by_reference(" pry-2026-000001 ")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_ref.id, id);
    assert_eq!(by_ref.history.len(), 1);
    assert!(s
        .get_by_reference("PRY-2026-000002")
        .await
        .unwrap()
        .is_none());
}

pub(super) async fn written_complaint(s: &Store) {
    let mut new = new_video("prayagraj", "PRY", "2026-03-10T04:30:00Z");
    new.channel = Channel::Written;
    let id = new.id;
    s.create_complaint(new).await.unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.channel, Channel::Written);
    assert_eq!(c.disposition, Disposition::Written);
    assert_eq!(c.status, Status::Received);
    assert!(s.open_entries(&desk("prayagraj")).await.unwrap().is_empty());
}

pub(super) async fn references_per_prefix_and_desk_year(s: &Store) {
    let mut refs = Vec::new();
    for (d, prefix, at) in [
        ("prayagraj", "PRY", "2026-03-10T04:30:00Z"),
        ("prayagraj", "PRY", "2026-03-10T04:31:00Z"),
        ("lucknow", "LKO", "2026-03-10T04:32:00Z"),
        // 23:30 on 31 December in Kolkata: still 2026 there.
        ("prayagraj", "PRY", "2026-12-31T18:00:00Z"),
        // 00:30 on 1 January in Kolkata, though still 2026 in UTC: a new year, from 1.
        ("prayagraj", "PRY", "2026-12-31T19:00:00Z"),
        ("lucknow", "LKO", "2026-12-31T19:00:00Z"),
        ("prayagraj", "PRY", "2027-01-01T09:00:00Z"),
    ] {
        let r = s.create_complaint(new_video(d, prefix, at)).await.unwrap();
        refs.push(r.to_string());
    }
    assert_eq!(
        refs,
        [
            "PRY-2026-000001",
            "PRY-2026-000002",
            "LKO-2026-000001",
            "PRY-2026-000003",
            "PRY-2027-000001",
            "LKO-2027-000001",
            "PRY-2027-000002",
        ]
    );
}

pub(super) async fn invalid_prefix_is_rejected(s: &Store) {
    for bad in ["pry", "P", "PRAYAGR", "PR1", ""] {
        let err = s
            .create_complaint(new_video("prayagraj", bad, "2026-03-10T04:30:00Z"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad}: {err}");
    }
}

pub(super) async fn concurrent_creates_get_distinct_references(s: &Store) {
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let at = format!("2026-03-10T05:{:02}:00Z", i % 60);
            s.create_complaint(new_video("prayagraj", "PRY", &at)).await
        }));
    }
    let mut refs = std::collections::BTreeSet::new();
    for task in tasks {
        refs.insert(task.await.unwrap().unwrap().to_string());
    }
    let want: std::collections::BTreeSet<String> =
        (1..=50).map(|n| format!("PRY-2026-{n:06}")).collect();
    assert_eq!(refs, want, "50 distinct references, no gaps");
}

pub(super) async fn duplicate_id_or_ticket_conflicts(s: &Store) {
    let mut first = new_video("prayagraj", "PRY", "2026-03-10T04:30:00Z");
    first.ticket_hash = Some([7; 32]);
    s.create_complaint(first.clone()).await.unwrap();

    let err = s.create_complaint(first.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");

    let mut same_ticket = new_video("prayagraj", "PRY", "2026-03-10T04:31:00Z");
    same_ticket.ticket_hash = Some([7; 32]);
    let err = s.create_complaint(same_ticket).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");

    // A refused create does not use up a reference number.
    let (_, r) = create_at(s, "2026-03-10T04:32:00Z").await;
    assert_eq!(r.as_str(), "PRY-2026-000002");
}

pub(super) async fn unknown_id_is_not_found(s: &Store) {
    let id = EntryId::new_random();
    let at = t("2026-03-10T04:30:00Z");
    assert!(s.get(id).await.unwrap().is_none());
    let err = s.apply(RecordEvent::Requeued { id, at }).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
    let err = s
        .save_outcome(id, &Outcome::default(), &Actor::System, at)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
    let err = s
        .set_status(id, Status::Resolved, &Actor::System, "", at)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
}

pub(super) async fn find_by_ticket(s: &Store) {
    let mut new = new_video("prayagraj", "PRY", "2026-03-10T04:30:00Z");
    let ticket = crate::auth::hash_token("ticket-for-ram");
    new.ticket_hash = Some(ticket);
    let id = new.id;
    s.create_complaint(new).await.unwrap();
    create_at(s, "2026-03-10T04:31:00Z").await; // one without a ticket

    let c = s.find_by_ticket(&ticket).await.unwrap().unwrap();
    assert_eq!(c.id, id);
    assert_eq!(c.history.len(), 1);
    assert!(s.find_by_ticket(&[0; 32]).await.unwrap().is_none());
}
