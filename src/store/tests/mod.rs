//! Conformance suite for the records store.
//!
//! Every check is an `async fn(&Store)` that makes no assumption about the backend beyond a
//! fresh, empty database. `conformance!` runs each one twice: as `sqlite::NAME` on a
//! database file in a temporary directory, and as `postgres::NAME` on a database of its
//! own on the PostgreSQL server named by `SUNWAI_TEST_DATABASE_URL` (see `scratch`).
//! Without that variable the PostgreSQL tests fail, saying how to set it; they never skip.

mod audit;
mod complaints;
mod leases;
mod lifecycle;
mod places;
mod queries;
mod users;
mod workflow;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::*;
use crate::core::ids::{DeskId, EntryId, UserId};
use crate::core::intake::{Intake, Language, Mobile};

/// Parses an RFC 3339 time; test input only.
pub(super) fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub(super) fn kolkata() -> TimeZone {
    TimeZone::get("Asia/Kolkata").unwrap()
}

pub(super) fn desk(s: &str) -> DeskId {
    DeskId::parse(s).unwrap()
}

pub(super) fn intake(name: &str, mobile: &str) -> Intake {
    Intake {
        name: name.into(),
        mobile: Mobile::parse(mobile).unwrap(),
        area: "Kotwali".into(),
        category: "theft".into(),
        description: "मोबाइल चोरी हो गया".into(),
        language: Language::Hindi,
    }
}

pub(super) fn new_video(desk_id: &str, prefix: &str, at: &str) -> NewComplaint {
    NewComplaint {
        id: EntryId::new_random(),
        desk: desk(desk_id),
        prefix: prefix.into(),
        tz: kolkata(),
        channel: Channel::Video,
        intake: intake("राम कुमार", "9876543210"),
        created_at: t(at),
        ticket_hash: None,
    }
}

/// Creates a video complaint at desk "prayagraj" (prefix PRY).
pub(super) async fn create_at(s: &Store, at: &str) -> (EntryId, Reference) {
    let new = new_video("prayagraj", "PRY", at);
    let id = new.id;
    (id, s.create_complaint(new).await.unwrap())
}

pub(super) async fn must_get(s: &Store, id: EntryId) -> Complaint {
    s.get(id).await.unwrap().expect("record exists")
}

pub(super) fn officer(name: &str) -> (UserId, String) {
    (UserId::new_random(), name.to_owned())
}

pub(super) fn kinds(c: &Complaint) -> Vec<HistoryKind> {
    c.history.iter().map(|h| h.kind).collect()
}

/// A fresh store on a new SQLite file; the directory lives as long as the guard.
pub(super) async fn fresh_sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path()).await.unwrap();
    (store, dir)
}

/// A fresh store on a new PostgreSQL database; drop it with [`scratch::ScratchDatabase::drop`].
pub(super) async fn fresh_postgres() -> (Store, scratch::ScratchDatabase) {
    let db = scratch::ScratchDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open_postgres(&db.url).await.unwrap();
    (store, db)
}

/// Runs each listed check against every backend, each on a fresh database.
macro_rules! conformance {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                // Multi-threaded, so concurrent writers really are concurrent.
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _dir) = super::fresh_sqlite().await;
                    super::$module::$name(&store).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, db) = super::fresh_postgres().await;
                    super::$module::$name(&store).await;
                    store.close().await;
                    db.drop().await.unwrap();
                }
            )*
        }
    };
}

conformance!(
    complaints::create_and_get_with_history,
    complaints::written_complaint,
    complaints::references_per_prefix_and_desk_year,
    complaints::invalid_prefix_is_rejected,
    complaints::concurrent_creates_get_distinct_references,
    complaints::duplicate_id_or_ticket_conflicts,
    lifecycle::lifecycle_offered_answered_ended,
    lifecycle::interrupted_then_answered_again,
    lifecycle::offer_declined_and_notes,
    lifecycle::abandoned,
    lifecycle::carried_over_then_requeued,
    complaints::unknown_id_is_not_found,
    workflow::outcome_auto_forwards_once,
    workflow::set_status_writes_history,
    workflow::status_lookup_needs_mobile_and_hides_notes,
    workflow::text_with_nul_is_refused_and_changes_nothing,
    complaints::find_by_ticket,
    queries::list_filters,
    queries::list_text_is_literal_and_case_blind,
    queries::export_csv_round_trips,
    queries::export_ignores_limit_and_pages_through_ties,
    queries::open_entries_per_desk_in_queue_order,
    places::places_restore_the_queue_order,
    places::leaving_the_room_deletes_the_place,
    places::a_resumed_call_is_in_call_again,
    places::integrity_check_passes_on_a_sound_database,
    places::schedule_overrides_are_kept_per_desk_in_order,
    users::users_create_list_and_conflict,
    users::disable_and_password,
    users::sessions_expire_and_die_with_disabled_user,
    audit::audit_append_and_filter,
    audit::outcome_and_status_changes_are_audited,
    audit::audit_log_refuses_changes,
    audit::audit_log_narrowed_to_a_desk,
    leases::a_lease_has_one_holder_until_it_expires,
    leases::racing_nodes_never_both_win_a_desk,
    leases::writes_under_a_lost_lease_are_refused,
);

/// Runs `stmt` directly on the store's database, bypassing the store: what a script
/// connecting with the server's credentials could do. The error's text, if it fails.
pub(super) async fn execute_raw(s: &Store, stmt: &'static str) -> Result<u64, String> {
    let done = match &s.backend {
        Backend::Sqlite(pool) => sqlx::query(stmt)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Backend::Postgres(pool) => sqlx::query(stmt)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    };
    done.map_err(|e| e.to_string())
}

/// Durability across reopen: the first store is dropped without `close`, as a crash would
/// leave it, and a second one opened on the same database (migrations find nothing to do).
async fn reopen_keeps_data<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Store>,
{
    let (id, reference) = {
        let s = open().await;
        let (id, r) = create_at(&s, "2026-03-10T04:30:00Z").await;
        let (off, name) = officer("SI Verma");
        let at = t("2026-03-10T04:31:00Z");
        s.apply(RecordEvent::Answered {
            id,
            at,
            officer: off,
            officer_name: name,
        })
        .await
        .unwrap();
        (id, r)
    };
    let s = open().await;
    let c = must_get(&s, id).await;
    assert_eq!(c.reference, reference);
    assert_eq!(c.disposition, Disposition::InCall);
    assert_eq!(c.wait_secs, Some(60));
    assert_eq!(kinds(&c), [HistoryKind::Created, HistoryKind::Answered]);
    // The counter survived too: the next reference continues the sequence.
    let (_, next) = create_at(&s, "2026-03-10T05:00:00Z").await;
    assert_eq!(next.as_str(), "PRY-2026-000002");
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reopen_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    reopen_keeps_data(|| async { Store::open_sqlite(dir.path()).await.unwrap() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reopen_keeps_data() {
    let db = scratch::ScratchDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    reopen_keeps_data(|| async { Store::open_postgres(&db.url).await.unwrap() }).await;
    db.drop().await.unwrap();
}

/// Several nodes may start at once against a new database: the schema is created once
/// (migrations take an advisory lock) and every node comes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_starting_together_migrate_once() {
    let db = scratch::ScratchDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let opens = (0..4).map(|_| Store::open_postgres(&db.url));
    let stores = futures_util::future::join_all(opens).await;
    let stores: Vec<Store> = stores.into_iter().map(Result::unwrap).collect();
    let (_, first) = create_at(&stores[0], "2026-03-10T04:30:00Z").await;
    let (_, second) = create_at(&stores[3], "2026-03-10T04:31:00Z").await;
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("PRY-2026-000001", "PRY-2026-000002")
    );
    for s in stores {
        s.close().await;
    }
    db.drop().await.unwrap();
}

/// A connection is encrypted exactly when the URL asks for it (`scripts/test-postgres` asks
/// for `sslmode=require` where the server has a certificate).
#[tokio::test]
async fn postgres_tls_as_the_url_asks() {
    let (s, db) = fresh_postgres().await;
    let Backend::Postgres(pool) = &s.backend else {
        unreachable!("opened with open_postgres")
    };
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(pool)
        .await
        .unwrap();
    let asked = db.url.contains("sslmode=require") || db.url.contains("sslmode=verify");
    assert_eq!(ssl, asked, "TLS in use: {ssl}");
    s.close().await;
    db.drop().await.unwrap();
}

/// A URL that does not parse, or a wrong password, is an error (not a panic) that names
/// the server but does not repeat the password.
#[tokio::test]
async fn postgres_bad_url_is_an_error_without_the_password() {
    let server = scratch::server_url().unwrap_or_else(|e| panic!("{e}"));
    let (scheme, rest) = server.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').unwrap();
    let user = userinfo.split(':').next().unwrap();
    let wrong_password = format!("{scheme}://{user}:s3cret-pw@{host}");
    for url in [
        "postgres://sunwai:s3cret-pw@[not-a-host/sunwai".to_owned(),
        wrong_password,
    ] {
        let err = Store::open_postgres(&url).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("s3cret-pw"), "{text}");
        assert!(!err.is_transient(), "{text}");
    }
}

/// Compile-time check: the handle is shareable and its futures can run on any worker
/// thread (axum handlers and spawned tasks require `Send`).
#[allow(dead_code)]
fn store_and_futures_are_send(s: &Store, f: &Filter) {
    fn send<T: Send>(_: T) {}
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<Store>();
    send(s.list(f));
    send(s.export_csv(f, &TimeZone::UTC, Vec::new()));
    send(s.apply(RecordEvent::Requeued {
        id: EntryId::new_random(),
        at: Timestamp::UNIX_EPOCH,
    }));
    send(s.session_user(&[0; 32], Timestamp::UNIX_EPOCH));
}

/// PostgreSQL refuses TRUNCATE of the audit log too (SQLite has no TRUNCATE); UPDATE and
/// DELETE are in the suite (`audit::audit_log_refuses_changes`).
#[tokio::test]
async fn postgres_audit_log_refuses_truncate() {
    let (s, db) = fresh_postgres().await;
    s.audit(NewAudit::new(
        t("2026-03-10T05:00:00Z"),
        AuditActor::System,
        AuditAction::SignOut,
    ))
    .await
    .unwrap();
    let err = execute_raw(&s, "TRUNCATE audit_log").await.unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    assert_eq!(s.audit_log(&AuditFilter::default()).await.unwrap().len(), 1);
    s.close().await;
    db.drop().await.unwrap();
}

/// The durability settings `open_sqlite` promises are the ones every connection runs with.
#[tokio::test]
async fn sqlite_connections_are_wal_full_sync_with_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open_sqlite(dir.path()).await.unwrap();
    let Backend::Sqlite(pool) = &s.backend else {
        unreachable!("opened with open_sqlite")
    };
    let mut conn = pool.acquire().await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1), "2 is FULL");
    assert!(busy >= 1000, "busy_timeout {busy} ms");
    drop(conn);
    s.close().await;
}
