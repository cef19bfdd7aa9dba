//! The audit log: appending, reading back with filters, and the entries the store writes
//! itself with outcome saves and status changes.

use super::*;

fn entry(at: &str, actor: AuditActor, action: AuditAction) -> NewAudit {
    NewAudit::new(t(at), actor, action)
}

pub(super) async fn audit_append_and_filter(s: &Store) {
    let sharma = AuditActor::user(UserId::new_random(), "sharma");
    let rao = AuditActor::user(UserId::new_random(), "rao");
    let (id, reference) = create_at(s, "2026-03-10T04:30:00Z").await;
    let ip: std::net::IpAddr = "203.0.113.9".parse().unwrap();
    s.audit(
        entry("2026-03-10T05:00:00Z", sharma.clone(), AuditAction::SignIn)
            .address(ip)
            .detail(serde_json::json!({"username": "sharma"})),
    )
    .await
    .unwrap();
    s.audit(
        entry(
            "2026-03-10T05:01:00Z",
            sharma.clone(),
            AuditAction::RecordView,
        )
        .record(id, reference.as_str()),
    )
    .await
    .unwrap();
    s.audit(
        entry("2026-03-10T05:02:00Z", rao.clone(), AuditAction::RecordList)
            .detail(serde_json::json!({"filter": {"status": "received"}, "returned": 1})),
    )
    .await
    .unwrap();
    let cli = AuditActor::Cli {
        os_user: Some("backup".into()),
    };
    s.audit(entry(
        "2026-03-10T05:03:00Z",
        cli.clone(),
        AuditAction::RecordExport,
    ))
    .await
    .unwrap();
    s.audit(entry(
        "2026-03-10T05:04:00Z",
        AuditActor::Anonymous,
        AuditAction::SignInFailed,
    ))
    .await
    .unwrap();

    let all = s.audit_log(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), 5);
    let actions: Vec<_> = all.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::SignInFailed,
            AuditAction::RecordExport,
            AuditAction::RecordList,
            AuditAction::RecordView,
            AuditAction::SignIn,
        ],
        "newest first"
    );
    assert!(all.windows(2).all(|w| w[0].seq > w[1].seq));
    let first = all.last().unwrap();
    assert_eq!(first.actor, sharma);
    assert_eq!(first.address.as_deref(), Some("203.0.113.9"));
    assert_eq!(first.detail["username"], "sharma");
    assert_eq!(first.at, t("2026-03-10T05:00:00Z"));
    assert_eq!(all[1].actor, cli);
    assert_eq!(all[2].detail["returned"], 1);

    let only = |f: AuditFilter| async move {
        s.audit_log(&f)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect::<Vec<_>>()
    };
    let by_actor = only(AuditFilter {
        actor: Some("Sharma".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(by_actor, [AuditAction::RecordView, AuditAction::SignIn]);
    let AuditActor::User { id: rao_id, .. } = &rao else {
        unreachable!()
    };
    assert_eq!(
        only(AuditFilter {
            actor: Some(rao_id.to_string()),
            ..AuditFilter::default()
        })
        .await,
        [AuditAction::RecordList],
        "by user id"
    );
    for who in ["cli", "backup"] {
        assert_eq!(
            only(AuditFilter {
                actor: Some(who.into()),
                ..AuditFilter::default()
            })
            .await,
            [AuditAction::RecordExport],
            "{who}"
        );
    }
    assert_eq!(
        only(AuditFilter {
            actor: Some("anonymous".into()),
            ..AuditFilter::default()
        })
        .await,
        [AuditAction::SignInFailed]
    );
    for r in [
        reference.as_str().to_lowercase(),
        format!(" {reference} "),
        id.to_string(),
    ] {
        let got = s
            .audit_log(&AuditFilter {
                record: Some(r.clone()),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "{r}");
        assert_eq!(got[0].record, Some(id));
        assert_eq!(got[0].reference.as_deref(), Some(reference.as_str()));
    }
    let window = only(AuditFilter {
        since: Some(t("2026-03-10T05:01:00Z")),
        until: Some(t("2026-03-10T05:03:00Z")),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        window,
        [AuditAction::RecordList, AuditAction::RecordView],
        "since inclusive, until exclusive"
    );
    let paged = only(AuditFilter {
        limit: 2,
        offset: 1,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(paged, [AuditAction::RecordExport, AuditAction::RecordList]);
    assert_eq!(
        only(AuditFilter {
            action: Some(AuditAction::SignIn),
            ..AuditFilter::default()
        })
        .await,
        [AuditAction::SignIn]
    );
    // Text that looks like SQL is only ever a value.
    assert!(only(AuditFilter {
        actor: Some("x' OR '1'='1".into()),
        ..AuditFilter::default()
    })
    .await
    .is_empty());

    let err = s
        .audit(
            entry(
                "2026-03-10T06:00:00Z",
                AuditActor::System,
                AuditAction::SignOut,
            )
            .detail(serde_json::json!([1, 2])),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
}

/// Outcome saves and status changes are audited by the store, with the account's username
/// (not the display name) and what changed; a failed change leaves no audit entry.
pub(super) async fn outcome_and_status_changes_are_audited(s: &Store) {
    let verma = s
        .create_user(NewUser {
            username: "verma".into(),
            display_name: "SI Verma".into(),
            role: Role::Officer,
            desk: Some(desk("prayagraj")),
            password_phc: "$argon2id$x".into(),
        })
        .await
        .unwrap();
    let by = Actor::User {
        id: verma.id,
        name: verma.display_name.clone(),
    };
    let (id, reference) = create_at(s, "2026-03-10T04:30:00Z").await;
    let outcome = Outcome {
        category: "theft".into(),
        station: "kotwali".into(),
        action: "FIR advised".into(),
        notes: "private notes".into(),
    };
    s.save_outcome(id, &outcome, &by, t("2026-03-10T04:40:00Z"))
        .await
        .unwrap();
    s.set_status(
        id,
        Status::Resolved,
        &Actor::System,
        "closed by rule",
        t("2026-03-10T05:00:00Z"),
    )
    .await
    .unwrap();
    let log = s
        .audit_log(&AuditFilter {
            record: Some(reference.as_str().into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    let (status, saved) = (&log[0], &log[1]);
    assert_eq!(saved.action, AuditAction::OutcomeSave);
    assert_eq!(saved.actor, AuditActor::user(verma.id, "verma"));
    assert_eq!(saved.at, t("2026-03-10T04:40:00Z"));
    assert_eq!(saved.detail["station"], "kotwali");
    assert_eq!(saved.detail["status_before"], "received");
    assert_eq!(saved.detail["status_after"], "forwarded");
    assert!(
        !saved.detail.to_string().contains("private notes"),
        "notes stay in the record, not the log"
    );
    assert_eq!(status.action, AuditAction::StatusChange);
    assert_eq!(status.actor, AuditActor::System);
    assert_eq!(
        (&status.detail["from"], &status.detail["to"]),
        (
            &serde_json::json!("forwarded"),
            &serde_json::json!("resolved")
        )
    );
    assert_eq!(status.detail["note"], "closed by rule");
    assert_eq!(status.record, Some(id));

    // An account that does not exist (any more) keeps the name it was given.
    let (ghost, name) = officer("Former SI");
    s.set_status(
        id,
        Status::Forwarded,
        &Actor::User { id: ghost, name },
        "",
        t("2026-03-10T05:10:00Z"),
    )
    .await
    .unwrap();
    let last = &s.audit_log(&AuditFilter::default()).await.unwrap()[0];
    assert_eq!(last.actor, AuditActor::user(ghost, "Former SI"));

    // Unknown record: nothing changes, nothing is logged.
    let before = s.audit_log(&AuditFilter::default()).await.unwrap().len();
    let err = s
        .set_status(
            EntryId::new_random(),
            Status::Resolved,
            &by,
            "",
            t("2026-03-10T06:00:00Z"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
    let err = s
        .save_outcome(
            EntryId::new_random(),
            &outcome,
            &by,
            t("2026-03-10T06:00:00Z"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
    assert_eq!(
        s.audit_log(&AuditFilter::default()).await.unwrap().len(),
        before
    );
}

/// The schema refuses updates and deletes of the audit log, so even a script connected
/// with the server's own credentials cannot quietly rewrite it (a trigger on both).
pub(super) async fn audit_log_refuses_changes(s: &Store) {
    s.audit(entry(
        "2026-03-10T05:00:00Z",
        AuditActor::System,
        AuditAction::SignOut,
    ))
    .await
    .unwrap();
    for stmt in [
        "UPDATE audit_log SET actor_name = 'someone else'",
        "DELETE FROM audit_log",
    ] {
        let err = execute_raw(s, stmt).await.unwrap_err();
        assert!(err.contains("append-only"), "{stmt}: {err}");
    }
    let log = s.audit_log(&AuditFilter::default()).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].actor, AuditActor::System);
}

/// A supervisor bound to one desk reads only the entries about that desk's records or by
/// that desk's staff.
pub(super) async fn audit_log_narrowed_to_a_desk(s: &Store) {
    let account = |username: &str, desk_id: Option<&str>| NewUser {
        username: username.into(),
        display_name: username.into(),
        role: Role::Officer,
        desk: desk_id.map(desk),
        password_phc: "$argon2id$x".into(),
    };
    let verma = s
        .create_user(account("verma", Some("prayagraj")))
        .await
        .unwrap();
    let singh = s
        .create_user(account("singh", Some("kaushambi")))
        .await
        .unwrap();
    let boss = s.create_user(account("boss", None)).await.unwrap();
    let (here, here_ref) = create_at(s, "2026-03-10T04:30:00Z").await;
    let there_new = new_video("kaushambi", "KSB", "2026-03-10T04:31:00Z");
    let there = there_new.id;
    let there_ref = s.create_complaint(there_new).await.unwrap();
    let who = |u: &User| AuditActor::user(u.id, &u.username);
    let at = "2026-03-10T05:00:00Z";
    for e in [
        entry(at, who(&verma), AuditAction::RecordView).record(here, here_ref.as_str()),
        entry(at, who(&singh), AuditAction::RecordView).record(there, there_ref.as_str()),
        entry(at, who(&singh), AuditAction::SignIn),
        entry(at, who(&verma), AuditAction::SignIn),
        entry(at, who(&boss), AuditAction::RecordView).record(here, here_ref.as_str()),
        entry(at, who(&boss), AuditAction::RecordList),
        entry(at, AuditActor::cli_from_env(), AuditAction::RecordExport),
    ] {
        s.audit(e).await.unwrap();
    }
    let seen = |d: &str| {
        let f = AuditFilter {
            desk: Some(desk(d)),
            ..AuditFilter::default()
        };
        async move {
            let mut v: Vec<String> = s
                .audit_log(&f)
                .await
                .unwrap()
                .iter()
                .map(|e| format!("{} {}", e.actor, e.action.as_str()))
                .collect();
            v.sort();
            v
        }
    };
    assert_eq!(
        seen("prayagraj").await,
        ["boss record_view", "verma record_view", "verma sign_in"]
    );
    assert_eq!(
        seen("kaushambi").await,
        ["singh record_view", "singh sign_in"]
    );
    assert!(seen("elsewhere").await.is_empty());
    let all = s.audit_log(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), 7);
}
