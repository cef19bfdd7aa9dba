//! The records store: complaint records with their history, staff accounts and sessions.
//!
//! Is: the only place that talks to the database. [`Store`] is a cheap, cloneable handle
//! (it wraps a connection pool) with one async method per thing the server needs. Is not:
//! the queue. The waiting room in `core` decides what happens to a case; the store writes
//! down what it is told, durably, and answers questions about it.
//!
//! Invariants:
//! - Only this module imports sqlx. No sqlx type appears in a public signature; every
//!   failure is a [`StoreError`].
//! - Every change to a complaint appends a history row in the same transaction, so a
//!   record's history is complete and never ahead of or behind the record.
//! - A reference number is handed out at most once, allocated in the transaction that
//!   inserts its complaint.
//! - Every outcome save and status change writes its audit entry in the same
//!   transaction: the change and its audit entry are committed together or not at all,
//!   whichever path (REST, WebSocket, command line) asked for it.
//! - The audit log is append-only: nothing here updates or deletes an entry.
//! - An acknowledged write survives a crash or power loss (see [`Store::open_sqlite`];
//!   PostgreSQL with its default `fsync` and `synchronous_commit`).
//!
//! Backends: embedded SQLite ([`Store::open_sqlite`], the default) and PostgreSQL
//! ([`Store::open_postgres`]), behind a private enum. Everything but connection set-up is
//! shared: the rules of a record (`plan`), the SQL text (`sql`, `query`), reading rows
//! (`rows`) and the code that runs it all (`glue`, compiled once per backend). Timestamps
//! are integer unix milliseconds and ids text in both schemas (`migrations/sqlite`,
//! `migrations/postgres`), so one query text serves both. The conformance suite
//! (`tests`) runs every check against both.

mod audit;
mod error;
mod export;
pub mod model;
mod plan;
mod postgres;
mod query;
mod rows;
pub mod said;
#[doc(hidden)]
pub mod scratch;
mod ser;
mod sql;
mod sqlite;
mod string_enum;
#[cfg(test)]
mod tests;

use std::path::Path;

use jiff::tz::TimeZone;
use jiff::Timestamp;

pub use audit::{AuditAction, AuditActor, AuditEntry, AuditFilter, NewAudit};
pub use error::StoreError;
pub use export::BYTE_ORDER_MARK;
pub use model::*;

use error::{done, Fail};

use crate::core::ids::{DeskId, EntryId, UserId};
use crate::core::intake::Mobile;

/// A handle on the records database. Clones share one connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(sqlite::Pool),
    Postgres(postgres::Pool),
}

/// Calls the glue function of the same name on whichever backend `store` has, with its
/// pool first, and classifies the failure. Both arms run the same source (see `glue`).
macro_rules! on_backend {
    ($store:expr, $($f:ident)::+ ( $($arg:expr),* $(,)? )) => {
        match &$store.backend {
            Backend::Sqlite(p) => done(sqlite::$($f)::+(p, $($arg),*).await),
            Backend::Postgres(p) => done(postgres::$($f)::+(p, $($arg),*).await),
        }
    };
}

impl Store {
    /// Opens (creating if missing) `<data_dir>/sunwai.db` and brings its schema up to date.
    ///
    /// WAL journal with `synchronous=FULL`: every commit is fsynced to the log before it
    /// is acknowledged, so every acknowledged write survives power loss or `kill -9`
    /// (NORMAL would be faster and may lose the last commits on power loss; a complaint is
    /// worth more than the milliseconds). Foreign keys are enforced; writers wait on each
    /// other up to a busy timeout instead of failing.
    pub async fn open_sqlite(data_dir: &Path) -> Result<Store, StoreError> {
        let pool = done(sqlite::open(data_dir).await)?;
        Ok(Store {
            backend: Backend::Sqlite(pool),
        })
    }

    /// Connects to a PostgreSQL server at `url` (`postgres://user:password@host/database`)
    /// and brings the database's schema up to date. The database must exist; the user
    /// needs to create tables in it (on first start) and to read and write them.
    pub async fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let pool = done(postgres::open(url).await)?;
        Ok(Store {
            backend: Backend::Postgres(pool),
        })
    }

    /// Waits for running queries and closes every connection. Clones become unusable.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }

    /// Writes a new complaint and allocates its reference. Disposition `Waiting` (video)
    /// or `Written`, status `Received`. An id or ticket used before is `Conflict`.
    pub async fn create_complaint(&self, new: NewComplaint) -> Result<Reference, StoreError> {
        on_backend!(self, create_complaint(new))
    }

    /// Records a queue or call event. Unknown id: `NotFound`.
    pub async fn apply(&self, ev: RecordEvent) -> Result<(), StoreError> {
        on_backend!(self, apply(ev, None))
    }

    /// [`Store::apply`] on behalf of a desk's owner: `Fenced` (and nothing written) unless
    /// the fence's node still holds the desk's lease in its epoch.
    pub async fn apply_fenced(&self, ev: RecordEvent, fence: &Fence) -> Result<(), StoreError> {
        on_backend!(self, apply(ev, Some(fence)))
    }

    /// Saves (replacing) the officer's outcome. A station forwards a received complaint.
    /// Writes an [`AuditAction::OutcomeSave`] entry in the same transaction.
    pub async fn save_outcome(
        &self,
        id: EntryId,
        outcome: &Outcome,
        by: &Actor,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        on_backend!(self, save_outcome(id, outcome, by, at))
    }

    /// Changes the workflow status; any status may follow any other (supervisors correct
    /// mistakes), and each change is a history row with `note` and an
    /// [`AuditAction::StatusChange`] entry, both in the change's transaction.
    pub async fn set_status(
        &self,
        id: EntryId,
        status: Status,
        by: &Actor,
        note: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        on_backend!(self, set_status(id, status, by, note, at))
    }

    /// The full record with its history.
    pub async fn get(&self, id: EntryId) -> Result<Option<Complaint>, StoreError> {
        on_backend!(self, get(query::By::Id(id)))
    }

    /// The full record with its history; the reference is matched trimmed and uppercased.
    pub async fn get_by_reference(&self, reference: &str) -> Result<Option<Complaint>, StoreError> {
        let r = Reference::normalize(reference);
        on_backend!(self, get(query::By::Reference(r)))
    }

    /// The record whose ticket hashes to `ticket_hash`, with its history.
    pub async fn find_by_ticket(
        &self,
        ticket_hash: &[u8; 32],
    ) -> Result<Option<Complaint>, StoreError> {
        on_backend!(self, get(query::By::Ticket(*ticket_hash)))
    }

    /// Citizen status check: needs both reference and mobile; returns only what a citizen
    /// may see. A wrong mobile looks exactly like an unknown reference (`None`), so the
    /// answer does not confirm that a reference exists. Rate limiting is the caller's job.
    pub async fn status_lookup(
        &self,
        reference: &str,
        mobile: &Mobile,
    ) -> Result<Option<StatusView>, StoreError> {
        let by = query::By::ReferenceAndMobile(Reference::normalize(reference), mobile.clone());
        let found = on_backend!(self, get(by))?;
        Ok(found.map(rows::status_view))
    }

    /// Records matching `filter`, newest first, without history.
    pub async fn list(&self, filter: &Filter) -> Result<Vec<Complaint>, StoreError> {
        on_backend!(self, list(filter))
    }

    /// `desk`'s video records (citizens who joined its waiting room) created since `since`,
    /// newest first, at most about `max` (read in pages).
    pub async fn video_records(
        &self,
        desk: &DeskId,
        since: Timestamp,
        max: u32,
    ) -> Result<Vec<Complaint>, StoreError> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let f = Filter {
                desk: Some(desk.clone()),
                since: Some(since),
                limit: Filter::MAX_LIMIT,
                offset,
                ..Filter::default()
            };
            let page = self.list(&f).await?;
            let full = page.len() == Filter::MAX_LIMIT as usize;
            out.extend(page.into_iter().filter(|c| c.channel == Channel::Video));
            offset += Filter::MAX_LIMIT;
            if !full || offset >= max {
                return Ok(out);
            }
        }
    }

    /// CSV with a header row; times in `tz` as RFC 3339; returns rows written. Exports
    /// every matching record, newest first: `limit` and `offset` are ignored, because an
    /// export that silently stops at a page size is a wrong export. Reads in pages, so
    /// memory stays flat however many records match.
    pub async fn export_csv<W: std::io::Write + Send>(
        &self,
        filter: &Filter,
        tz: &TimeZone,
        out: W,
    ) -> Result<usize, StoreError> {
        on_backend!(self, export_csv(filter, tz, out))
    }

    /// Records still waiting, carried over or in a call (a call does not survive a
    /// restart), oldest first, without history: for restoring the waiting room.
    pub async fn open_entries(&self, desk: &DeskId) -> Result<Vec<Complaint>, StoreError> {
        on_backend!(self, open_entries(desk))
    }

    /// Gives a record its place in its desk's waiting room (replacing an earlier one). The
    /// place is deleted with the event that takes the record out of the room (ended,
    /// abandoned, carried over). A record not waiting or in a call: `Invalid`; unknown:
    /// `NotFound`.
    pub async fn place(&self, place: &QueuePlace) -> Result<(), StoreError> {
        on_backend!(self, place(place, None))
    }

    /// [`Store::place`] on behalf of a desk's owner (see [`Store::apply_fenced`]).
    pub async fn place_fenced(&self, place: &QueuePlace, fence: &Fence) -> Result<(), StoreError> {
        on_backend!(self, place(place, Some(fence)))
    }

    /// The desk's waiting room as the last run left it: records waiting or in a call, in
    /// queue order (by place; records without one after them, oldest first), without
    /// history. For restoring the room at start-up.
    pub async fn waiting_room(&self, desk: &DeskId) -> Result<Vec<OpenEntry>, StoreError> {
        on_backend!(self, waiting_room(desk))
    }

    /// Replaces `desk`'s schedule overrides (a supervisor opened, extended or closed its
    /// window) with `overrides`, in the order they apply. With `fence`, only while this
    /// node holds the desk (see [`Store::apply_fenced`]).
    pub async fn save_overrides(
        &self,
        desk: &DeskId,
        overrides: &[ScheduleOverride],
        fence: Option<&Fence>,
    ) -> Result<(), StoreError> {
        on_backend!(self, save_overrides(desk, overrides, fence))
    }

    /// `desk`'s schedule overrides as last saved, in the order they apply.
    pub async fn overrides(&self, desk: &DeskId) -> Result<Vec<ScheduleOverride>, StoreError> {
        on_backend!(self, overrides(desk))
    }

    /// Takes `desk`'s lease for `node` (reachable at `url`) until `until`, if nobody
    /// holds it at `now`, or `node` held it last. The new epoch when taken; `None` while
    /// another node holds it.
    pub async fn claim_lease(
        &self,
        desk: &DeskId,
        node: &str,
        url: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<u64>, StoreError> {
        on_backend!(self, leases::claim_lease(desk, node, url, now, until))
    }

    /// Extends `node`'s lease on `desk` to `until`, noting the desk's counts for the other
    /// nodes' desk lists; `false` if it no longer holds it in
    /// `epoch` (another node took the desk over).
    pub async fn renew_lease(
        &self,
        desk: &DeskId,
        node: &str,
        epoch: u64,
        until: Timestamp,
        counts: DeskCounts,
    ) -> Result<bool, StoreError> {
        on_backend!(self, leases::renew_lease(desk, node, epoch, until, counts))
    }

    /// Gives `node`'s lease on `desk` up at once; `false` if it no longer held it.
    pub async fn release_lease(
        &self,
        desk: &DeskId,
        node: &str,
        epoch: u64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, leases::release_lease(desk, node, epoch))
    }

    /// Every desk's lease, expired or not, by desk.
    pub async fn leases(&self) -> Result<Vec<DeskLease>, StoreError> {
        on_backend!(self, leases::leases())
    }

    /// Checks the database's structure and foreign keys. `Ok(())` when sound; otherwise
    /// `Corrupt` listing what the check found.
    pub async fn check_integrity(&self) -> Result<(), StoreError> {
        let found = on_backend!(self, integrity_check())?;
        if found.len() == 1 && found[0] == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt(found.join("; ")))
        }
    }

    /// Appends an entry to the audit log. `detail` must be a JSON object (`Invalid`).
    pub async fn audit(&self, entry: NewAudit) -> Result<(), StoreError> {
        on_backend!(self, audit::audit(entry))
    }

    /// Audit entries matching `filter`, newest first.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        on_backend!(self, audit::audit_log(filter))
    }

    /// Creates an account. The username is trimmed and lowercased; taken: `Conflict`.
    pub async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        on_backend!(self, users::create_user(new))
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserWithHash>, StoreError> {
        on_backend!(self, users::user_by_name(username))
    }

    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        on_backend!(self, users::user(id))
    }

    /// All accounts, by username.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        on_backend!(self, users::list_users())
    }

    /// Returns whether the user exists. Disabling also ends the user's sessions, so that
    /// enabling them again does not revive old logins.
    pub async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
    ) -> Result<bool, StoreError> {
        on_backend!(self, users::set_disabled(username, disabled))
    }

    /// Returns whether the user exists.
    pub async fn set_password_hash(&self, username: &str, phc: &str) -> Result<bool, StoreError> {
        on_backend!(self, users::set_password(username, phc))
    }

    /// Stores a session under the token's hash. Unknown user: `NotFound`.
    pub async fn create_session(
        &self,
        token_hash: &[u8; 32],
        user: UserId,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        on_backend!(self, users::create_session(token_hash, user, expires_at))
    }

    /// The session's user; `None` if the session is unknown, expired, or its user disabled.
    pub async fn session_user(
        &self,
        token_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        on_backend!(self, users::session_user(token_hash, now))
    }

    pub async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        on_backend!(self, users::delete_session(token_hash))
    }

    /// Deletes sessions expired at `now`; returns how many. Expired sessions are already
    /// refused; this only keeps the table small (call it now and then).
    pub async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        on_backend!(self, users::delete_expired_sessions(now))
    }
}
