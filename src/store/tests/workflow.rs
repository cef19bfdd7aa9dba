//! The police workflow: outcome, status, and what a citizen may see of it.

use super::*;

pub(super) async fn outcome_auto_forwards_once(s: &Store) {
    let (id, _) = create_at(s, "2026-03-10T04:30:00Z").await;
    let (off, name) = officer("SI Verma");
    let by = Actor::User { id: off, name };
    let mut outcome = Outcome {
        category: "theft".into(),
        station: String::new(),
        action: "advised".into(),
        notes: "caller was calm".into(),
    };
    s.save_outcome(id, &outcome, &by, t("2026-03-10T04:40:00Z"))
        .await
        .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.outcome.as_ref(), Some(&outcome));
    assert_eq!(
        c.status,
        Status::Received,
        "no station, nowhere to forward to"
    );

    outcome.station = "Kotwali".into();
    outcome.action = "FIR advised".into();
    s.save_outcome(id, &outcome, &by, t("2026-03-10T04:41:00Z"))
        .await
        .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(
        c.outcome.as_ref(),
        Some(&outcome),
        "saving again overwrites"
    );
    assert_eq!(c.status, Status::Forwarded);
    let last = c.history.last().unwrap();
    assert_eq!(
        (last.kind, last.status),
        (HistoryKind::Status, Some(Status::Forwarded))
    );
    assert_eq!(last.actor, by);

    // Once past Received, a new outcome no longer moves the status.
    s.set_status(
        id,
        Status::UnderInvestigation,
        &by,
        "",
        t("2026-03-10T05:00:00Z"),
    )
    .await
    .unwrap();
    outcome.station = "Civil Lines".into();
    s.save_outcome(id, &outcome, &by, t("2026-03-10T05:01:00Z"))
        .await
        .unwrap();
    let c = must_get(s, id).await;
    assert_eq!(c.status, Status::UnderInvestigation);
    use HistoryKind as K;
    let want = [
        K::Created,
        K::Outcome,
        K::Outcome,
        K::Status,
        K::Status,
        K::Outcome,
    ];
    assert_eq!(kinds(&c), want);
}

pub(super) async fn set_status_writes_history(s: &Store) {
    let (id, _) = create_at(s, "2026-03-10T04:30:00Z").await;
    let (sup, name) = officer("Insp. Rao");
    let by = Actor::User { id: sup, name };
    for (status, note, at) in [
        (Status::Forwarded, "sent to Kotwali", "2026-03-11T04:30:00Z"),
        (
            Status::UnderInvestigation,
            "IO assigned",
            "2026-03-12T04:30:00Z",
        ),
        (Status::Resolved, "phone recovered", "2026-03-20T04:30:00Z"),
    ] {
        s.set_status(id, status, &by, note, t(at)).await.unwrap();
    }
    let c = must_get(s, id).await;
    assert_eq!(c.status, Status::Resolved);
    assert_eq!(c.updated_at, t("2026-03-20T04:30:00Z"));
    let changes: Vec<_> = c.history[1..]
        .iter()
        .map(|h| (h.kind, h.status, h.detail.as_str(), h.actor.clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (
                HistoryKind::Status,
                Some(Status::Forwarded),
                "sent to Kotwali",
                by.clone()
            ),
            (
                HistoryKind::Status,
                Some(Status::UnderInvestigation),
                "IO assigned",
                by.clone()
            ),
            (
                HistoryKind::Status,
                Some(Status::Resolved),
                "phone recovered",
                by.clone()
            ),
        ]
    );
}

pub(super) async fn status_lookup_needs_mobile_and_hides_notes(s: &Store) {
    let (id, r) = create_at(s, "2026-03-10T04:30:00Z").await;
    let (off, name) = officer("SI Verma");
    let by = Actor::User { id: off, name };
    let at = t("2026-03-10T04:31:00Z");
    let note = "SECRET note about a suspect".to_owned();
    s.apply(RecordEvent::Note {
        id,
        at,
        actor: by.clone(),
        text: note,
    })
    .await
    .unwrap();
    let outcome = Outcome {
        category: "theft".into(),
        station: "Kotwali".into(),
        action: "CONFIDENTIAL action".into(),
        notes: "PRIVATE officer notes".into(),
    };
    s.save_outcome(id, &outcome, &by, t("2026-03-10T04:40:00Z"))
        .await
        .unwrap();
    s.set_status(
        id,
        Status::UnderInvestigation,
        &by,
        "INTERNAL remark",
        t("2026-03-11T04:00:00Z"),
    )
    .await
    .unwrap();

    let wrong = Mobile::parse("9876500000").unwrap();
    assert!(s.status_lookup(r.as_str(), &wrong).await.unwrap().is_none());
    let right = Mobile::parse("+91 98765 43210").unwrap();
    assert!(s
        .status_lookup("PRY-2026-000009", &right)
        .await
        .unwrap()
        .is_none());

    let v = s
        .status_lookup(&r.as_str().to_lowercase(), &right)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.reference, r);
    assert_eq!(v.status, Status::UnderInvestigation);
    assert_eq!(v.station.as_deref(), Some("Kotwali"));
    assert_eq!(v.created_at, t("2026-03-10T04:30:00Z"));
    assert_eq!(v.updated_at, t("2026-03-11T04:00:00Z"));
    let statuses: Vec<Status> = v.history.iter().map(|h| h.status).collect();
    assert_eq!(
        statuses,
        [
            Status::Received,
            Status::Forwarded,
            Status::UnderInvestigation
        ]
    );
    let json = serde_json::to_string(&v).unwrap();
    for hidden in [
        "SECRET",
        "CONFIDENTIAL",
        "PRIVATE",
        "INTERNAL",
        "Verma",
        "राम",
        "98765",
    ] {
        assert!(!json.contains(hidden), "{hidden} leaked: {json}");
    }
}

/// Text with a NUL character is refused before anything is written, whatever the backend
/// (PostgreSQL cannot store it; SQLite refuses it too so that both behave alike).
pub(super) async fn text_with_nul_is_refused_and_changes_nothing(s: &Store) {
    let (id, _) = create_at(s, "2026-03-10T04:30:00Z").await;
    let (off, name) = officer("SI Verma");
    let by = Actor::User { id: off, name };
    let at = t("2026-03-10T04:40:00Z");
    let invalid = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Invalid(_)));

    let outcome = Outcome {
        category: "theft".into(),
        station: "Kotwali".into(),
        action: "advised".into(),
        notes: "a\0b".into(),
    };
    assert!(invalid(s.save_outcome(id, &outcome, &by, at).await));
    assert!(invalid(
        s.set_status(id, Status::Resolved, &by, "done\0", at).await
    ));
    let note = RecordEvent::Note {
        id,
        at,
        actor: by.clone(),
        text: "\0".into(),
    };
    assert!(invalid(s.apply(note).await));
    let c = must_get(s, id).await;
    assert_eq!(c.status, Status::Received);
    assert!(c.outcome.is_none());
    assert_eq!(kinds(&c), [HistoryKind::Created]);

    let mut new = new_video("prayagraj", "PRY", "2026-03-10T04:31:00Z");
    new.intake.description = "x\0y".into();
    let refused = s.create_complaint(new).await.map(|_| ());
    assert!(invalid(refused));
    let user = NewUser {
        username: "verma".into(),
        display_name: "SI\0Verma".into(),
        role: Role::Officer,
        desk: None,
        password_phc: "$argon2id$x".into(),
    };
    assert!(invalid(s.create_user(user).await.map(|_| ())));
    let audit = NewAudit::new(at, AuditActor::cli_from_env(), AuditAction::SignOut);
    let audit = NewAudit {
        reference: Some("PRY\0".into()),
        ..audit
    };
    assert!(invalid(s.audit(audit).await));

    // Nothing was written: the next reference is the second one.
    let (_, next) = create_at(s, "2026-03-10T04:32:00Z").await;
    assert_eq!(next.as_str(), "PRY-2026-000002");
    assert!(s.list_users().await.unwrap().is_empty());
    assert!(s
        .audit_log(&AuditFilter::default())
        .await
        .unwrap()
        .is_empty());
}
