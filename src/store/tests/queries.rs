//! Listing, filtering, CSV export and the open entries of a desk.

use super::*;

fn ids(cs: &[Complaint]) -> Vec<EntryId> {
    cs.iter().map(|c| c.id).collect()
}

async fn list(s: &Store, f: Filter) -> Vec<EntryId> {
    ids(&s.list(&f).await.unwrap())
}

pub(super) async fn list_filters(s: &Store) {
    // a: prayagraj, 1 March; b: prayagraj, 2 March, forwarded; c: lucknow, 3 March, Sita.
    let (a, _) = create_at(s, "2026-03-01T04:30:00Z").await;
    let (b, _) = create_at(s, "2026-03-02T04:30:00Z").await;
    let mut new = new_video("lucknow", "LKO", "2026-03-03T04:30:00Z");
    new.intake = intake("Sita Devi", "+44 20 7946 0958");
    let c = new.id;
    s.create_complaint(new).await.unwrap();
    s.set_status(
        b,
        Status::Forwarded,
        &Actor::System,
        "",
        t("2026-03-02T05:00:00Z"),
    )
    .await
    .unwrap();
    let reason = "left".to_owned();
    s.apply(RecordEvent::Abandoned {
        id: a,
        at: t("2026-03-01T05:00:00Z"),
        reason,
    })
    .await
    .unwrap();

    assert_eq!(list(s, Filter::default()).await, [c, b, a], "newest first");
    let all = s.list(&Filter::default()).await.unwrap();
    assert!(
        all.iter().all(|c| c.history.is_empty()),
        "lists skip history"
    );

    let by_desk = Filter {
        desk: Some(desk("prayagraj")),
        ..Filter::default()
    };
    assert_eq!(list(s, by_desk).await, [b, a]);
    let by_status = Filter {
        status: Some(Status::Forwarded),
        ..Filter::default()
    };
    assert_eq!(list(s, by_status).await, [b]);
    let abandoned = Filter {
        disposition: Some(Disposition::Abandoned),
        ..Filter::default()
    };
    assert_eq!(list(s, abandoned).await, [a]);
    let waiting = Filter {
        desk: Some(desk("prayagraj")),
        disposition: Some(Disposition::Waiting),
        ..Filter::default()
    };
    assert_eq!(list(s, waiting).await, [b]);

    // since is inclusive, until exclusive.
    let range = Filter {
        since: Some(t("2026-03-02T04:30:00Z")),
        until: Some(t("2026-03-03T04:30:00Z")),
        ..Filter::default()
    };
    assert_eq!(list(s, range).await, [b]);
    let since = Filter {
        since: Some(t("2026-03-02T00:00:00Z")),
        ..Filter::default()
    };
    assert_eq!(list(s, since).await, [c, b]);

    let text = |q: &str| Filter {
        text: Some(q.into()),
        ..Filter::default()
    };
    assert_eq!(list(s, text("sita")).await, [c], "name, ignoring case");
    assert_eq!(list(s, text("राम")).await, [b, a], "Devanagari name");
    assert_eq!(list(s, text("7946")).await, [c], "part of the mobile");
    assert_eq!(list(s, text("pry-2026-000002")).await, [b], "reference");
    assert_eq!(
        list(s, text("  ")).await,
        [c, b, a],
        "blank text filters nothing"
    );
    assert_eq!(list(s, text("nobody")).await, []);

    let page = |limit, offset| Filter {
        limit,
        offset,
        ..Filter::default()
    };
    assert_eq!(list(s, page(2, 0)).await, [c, b]);
    assert_eq!(list(s, page(2, 2)).await, [a]);
    assert_eq!(list(s, page(1, 1)).await, [b]);
    assert_eq!(list(s, page(0, 0)).await, [c, b, a], "0 means the default");
    assert_eq!(
        list(s, page(u32::MAX, 0)).await,
        [c, b, a],
        "capped, not an error"
    );
}

pub(super) async fn list_text_is_literal_and_case_blind(s: &Store) {
    let mut new = new_video("prayagraj", "PRY", "2026-03-01T04:30:00Z");
    new.intake.name = "100% Ram_K".into();
    let odd = new.id;
    s.create_complaint(new).await.unwrap();
    let (plain, _) = create_at(s, "2026-03-02T04:30:00Z").await;
    let text = |q: &str| Filter {
        text: Some(q.into()),
        ..Filter::default()
    };
    assert_eq!(
        list(s, text("%")).await,
        [odd],
        "% is a character, not a wildcard"
    );
    assert_eq!(list(s, text("m_k")).await, [odd], "_ too");
    assert_eq!(list(s, text("100% RAM")).await, [odd]);
    assert_eq!(list(s, text("PRY")).await, [plain, odd]);
}

pub(super) async fn export_csv_round_trips(s: &Store) {
    let mut new = new_video("prayagraj", "PRY", "2026-03-10T04:30:00Z");
    let tricky = "राम, \"कुमार\"\nदूसरी पंक्ति";
    new.intake.name = tricky.into();
    new.intake.description = "=HYPERLINK(\"x\")".into();
    let id = new.id;
    s.create_complaint(new).await.unwrap();
    let (off, name) = officer("SI Verma");
    let at = t("2026-03-10T04:31:00Z");
    s.apply(RecordEvent::Answered {
        id,
        at,
        officer: off,
        officer_name: name.clone(),
    })
    .await
    .unwrap();
    s.apply(RecordEvent::Ended {
        id,
        at: t("2026-03-10T04:36:00Z"),
        by: "officer".into(),
    })
    .await
    .unwrap();
    let outcome = Outcome {
        station: "Kotwali".into(),
        ..Outcome::default()
    };
    let by = Actor::User { id: off, name };
    s.save_outcome(id, &outcome, &by, t("2026-03-10T04:37:00Z"))
        .await
        .unwrap();
    create_at(s, "2026-03-09T04:30:00Z").await;

    let mut out = Vec::new();
    let n = s
        .export_csv(&Filter::default(), &kolkata(), &mut out)
        .await
        .unwrap();
    assert_eq!(n, 2);

    let mut rd = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, super::super::export::HEADER);
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let r = &rows[0];
    assert_eq!(&r[col("reference")], "PRY-2026-000001");
    assert_eq!(&r[col("id")], id.to_string());
    assert_eq!(
        &r[col("name")],
        tricky,
        "comma, quotes, newline, Devanagari survive"
    );
    assert_eq!(
        &r[col("description")],
        "'=HYPERLINK(\"x\")",
        "formula neutralised"
    );
    assert_eq!(&r[col("mobile")], "+919876543210");
    assert_eq!(&r[col("created_at")], "2026-03-10T10:00:00+05:30");
    assert_eq!(&r[col("answered_at")], "2026-03-10T10:01:00+05:30");
    assert_eq!(&r[col("offered_at")], "");
    assert_eq!((&r[col("wait_secs")], &r[col("talk_secs")]), ("60", "300"));
    assert_eq!(&r[col("disposition")], "completed");
    assert_eq!(&r[col("status")], "forwarded");
    assert_eq!(&r[col("officer_name")], "SI Verma");
    assert_eq!(&r[col("outcome_station")], "Kotwali");
    assert_eq!(&rows[1][col("reference")], "PRY-2026-000002");

    // A filter applies; no match still gives the header.
    let mut out = Vec::new();
    let f = Filter {
        desk: Some(desk("lucknow")),
        ..Filter::default()
    };
    assert_eq!(s.export_csv(&f, &TimeZone::UTC, &mut out).await.unwrap(), 0);
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
}

pub(super) async fn export_ignores_limit_and_pages_through_ties(s: &Store) {
    // More records than an export page (3 under test), several at the same instant, so
    // that paging must break ties to neither skip nor repeat a record.
    let mut want = std::collections::BTreeSet::new();
    for i in 0..10 {
        let at = format!("2026-03-10T04:3{}:00Z", i / 4);
        want.insert(create_at(s, &at).await.1.to_string());
    }
    let mut out = Vec::new();
    let f = Filter {
        limit: 2,
        offset: 5,
        ..Filter::default()
    };
    assert_eq!(s.export_csv(&f, &kolkata(), &mut out).await.unwrap(), 10);
    let mut rd = csv::Reader::from_reader(out.as_slice());
    let got: Vec<String> = rd.records().map(|r| r.unwrap()[0].to_owned()).collect();
    assert_eq!(got.len(), 10);
    assert_eq!(
        got.iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        want
    );
    let times: Vec<Timestamp> = {
        let all = s.list(&Filter::default()).await.unwrap();
        all.iter().map(|c| c.created_at).collect()
    };
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
}

pub(super) async fn open_entries_per_desk_in_queue_order(s: &Store) {
    let (first, _) = create_at(s, "2026-03-10T04:30:00Z").await;
    let (second, _) = create_at(s, "2026-03-10T04:31:00Z").await;
    let (third, _) = create_at(s, "2026-03-10T04:32:00Z").await;
    let (done, _) = create_at(s, "2026-03-10T04:33:00Z").await;
    s.create_complaint(new_video("lucknow", "LKO", "2026-03-10T04:29:00Z"))
        .await
        .unwrap();
    let (off, name) = officer("SI Verma");
    let at = t("2026-03-10T04:40:00Z");
    let ev = |id| RecordEvent::Answered {
        id,
        at,
        officer: off,
        officer_name: name.clone(),
    };
    s.apply(ev(second)).await.unwrap();
    s.apply(ev(done)).await.unwrap();
    s.apply(RecordEvent::Ended {
        id: done,
        at,
        by: "server".into(),
    })
    .await
    .unwrap();
    let next = None;
    s.apply(RecordEvent::CarriedOver {
        id: third,
        at,
        next_window_opens_at: next,
    })
    .await
    .unwrap();

    let open = s.open_entries(&desk("prayagraj")).await.unwrap();
    assert_eq!(
        ids(&open),
        [first, second, third],
        "oldest first; in-call included"
    );
    let dispositions: Vec<_> = open.iter().map(|c| c.disposition).collect();
    use Disposition as D;
    assert_eq!(dispositions, [D::Waiting, D::InCall, D::CarriedOver]);
    assert_eq!(
        open[0].intake.name, "राम कुमार",
        "enough to rebuild the queue entry"
    );
}
