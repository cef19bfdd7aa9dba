//! SQL text shared by every backend.
//!
//! Placeholders are `$1, $2, …`: PostgreSQL's native form, which SQLite (and sqlx's SQLite
//! driver) accept too, so one text serves both. Everything here is plain SQL that both
//! dialects run unchanged (`INSERT … ON CONFLICT … DO UPDATE … RETURNING` needs SQLite
//! 3.35+, which the bundled library is). Where a backend needs something else (how a
//! write transaction begins, row locking), its module (`sqlite.rs`, `postgres.rs`) says so.
//!
//! Types are chosen so that one binding fits both: times and counts are bound as `i64`
//! (INTEGER in SQLite, BIGINT in PostgreSQL), flags as `bool` (INTEGER 0/1, BOOLEAN), ids
//! and enums as text, hashes as bytes (BLOB, BYTEA).

/// Columns of `complaints` in the order [`super::rows::RawComplaint`] reads them by name.
macro_rules! complaint_columns {
    () => {
        "id, reference, desk, channel, name, mobile, area, category, description, language, \
         created_at, offered_at, answered_at, ended_at, wait_secs, talk_secs, officer_id, \
         officer_name, disposition, outcome_category, outcome_station, outcome_action, \
         outcome_notes, status, updated_at"
    };
}
pub(super) use complaint_columns;

/// Allocates the next sequence number of a (prefix, year) pair. A single statement, so the
/// read and the increment cannot interleave with another transaction's.
pub(super) const NEXT_REFERENCE: &str = "\
    INSERT INTO reference_counters (prefix, year, last_seq) VALUES ($1, $2, 1) \
    ON CONFLICT (prefix, year) DO UPDATE SET last_seq = reference_counters.last_seq + 1 \
    RETURNING last_seq";

pub(super) const INSERT_COMPLAINT: &str = "\
    INSERT INTO complaints (id, reference, desk, channel, name, mobile, area, category, \
        description, language, ticket_hash, created_at, disposition, status, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $12)";

pub(super) const INSERT_HISTORY: &str = "\
    INSERT INTO complaint_history \
        (complaint_id, at, actor_kind, actor_id, actor_name, kind, detail, status) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

pub(super) const SELECT_BY_ID: &str = concat!(
    "SELECT ",
    complaint_columns!(),
    " FROM complaints WHERE id = $1"
);
/// The same, locking the row until the transaction ends (PostgreSQL; SQLite has no row
/// locks and needs none, see `sqlite::write_tx`).
pub(super) const SELECT_BY_ID_FOR_UPDATE: &str = concat!(
    "SELECT ",
    complaint_columns!(),
    " FROM complaints WHERE id = $1 FOR UPDATE"
);
pub(super) const SELECT_BY_REFERENCE: &str = concat!(
    "SELECT ",
    complaint_columns!(),
    " FROM complaints WHERE reference = $1"
);
pub(super) const SELECT_BY_TICKET: &str = concat!(
    "SELECT ",
    complaint_columns!(),
    " FROM complaints WHERE ticket_hash = $1"
);
pub(super) const SELECT_BY_REFERENCE_AND_MOBILE: &str = concat!(
    "SELECT ",
    complaint_columns!(),
    " FROM complaints WHERE reference = $1 AND mobile = $2"
);
/// Queue order: oldest first. `in_call` is included because a call cannot survive a
/// restart; the waiting room decides what to do with it.
pub(super) const SELECT_OPEN: &str = concat!(
    "SELECT ",
    complaint_columns!(),
    " FROM complaints WHERE desk = $1 \
      AND disposition IN ('waiting', 'carried_over', 'in_call') \
      ORDER BY created_at ASC, id ASC"
);

/// Records in a desk's live waiting room: waiting (also while offered) or in a call.
pub(super) const SELECT_IN_ROOM: &str = concat!(
    "SELECT ",
    complaint_columns!(),
    " FROM complaints WHERE desk = $1 AND disposition IN ('waiting', 'in_call') \
      ORDER BY created_at ASC, id ASC"
);

pub(super) const SELECT_PLACES: &str =
    "SELECT complaint_id, class, seq FROM queue_places WHERE desk = $1";

/// Gives a record its place, replacing an earlier one.
pub(super) const UPSERT_PLACE: &str = "\
    INSERT INTO queue_places (complaint_id, desk, class, seq, placed_at) \
    VALUES ($1, $2, $3, $4, $5) \
    ON CONFLICT (complaint_id) DO UPDATE SET \
        desk = excluded.desk, class = excluded.class, seq = excluded.seq, \
        placed_at = excluded.placed_at";

pub(super) const DELETE_PLACE: &str = "DELETE FROM queue_places WHERE complaint_id = $1";

/// A desk's schedule overrides, replaced as a whole (see `migrations/*/0005_*`).
pub(super) const DELETE_OVERRIDES: &str = "DELETE FROM schedule_overrides WHERE desk = $1";
pub(super) const INSERT_OVERRIDE: &str = "\
    INSERT INTO schedule_overrides (desk, seq, kind, from_ms, until_ms) \
    VALUES ($1, $2, $3, $4, $5)";
pub(super) const SELECT_OVERRIDES: &str = "\
    SELECT kind, from_ms, until_ms FROM schedule_overrides WHERE desk = $1 ORDER BY seq";

pub(super) const SELECT_HISTORY: &str = "\
    SELECT at, actor_kind, actor_id, actor_name, kind, detail, status \
    FROM complaint_history WHERE complaint_id = $1 ORDER BY at ASC, seq ASC";

pub(super) const UPDATE_LIFECYCLE: &str = "\
    UPDATE complaints SET offered_at = $2, answered_at = $3, ended_at = $4, wait_secs = $5, \
        talk_secs = $6, officer_id = $7, officer_name = $8, disposition = $9, updated_at = $10 \
    WHERE id = $1";

pub(super) const UPDATE_OUTCOME: &str = "\
    UPDATE complaints SET outcome_category = $2, outcome_station = $3, outcome_action = $4, \
        outcome_notes = $5, status = $6, updated_at = $7 \
    WHERE id = $1";

pub(super) const UPDATE_STATUS: &str =
    "UPDATE complaints SET status = $2, updated_at = $3 WHERE id = $1";

pub(super) const USER_DISPLAY_NAME: &str = "SELECT display_name FROM users WHERE id = $1";

macro_rules! user_columns {
    () => {
        "id, username, display_name, role, desk, disabled, created_at"
    };
}

pub(super) const INSERT_USER: &str = "\
    INSERT INTO users (id, username, display_name, role, desk, disabled, created_at, password_phc) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub(super) const USER_BY_NAME: &str = concat!(
    "SELECT ",
    user_columns!(),
    ", password_phc FROM users WHERE username = $1"
);
pub(super) const USER_BY_ID: &str =
    concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
pub(super) const LIST_USERS: &str =
    concat!("SELECT ", user_columns!(), " FROM users ORDER BY username");
pub(super) const SET_DISABLED: &str = "UPDATE users SET disabled = $2 WHERE username = $1";
pub(super) const DELETE_USER_SESSIONS: &str =
    "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = $1)";
pub(super) const SET_PASSWORD: &str = "UPDATE users SET password_phc = $2 WHERE username = $1";

pub(super) const INSERT_SESSION: &str =
    "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)";
pub(super) const SESSION_USER: &str = "\
    SELECT u.id, u.username, u.display_name, u.role, u.desk, u.disabled, u.created_at \
    FROM sessions s JOIN users u ON u.id = s.user_id \
    WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled";
pub(super) const DELETE_SESSION: &str = "DELETE FROM sessions WHERE token_hash = $1";
pub(super) const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1";

pub(super) const USER_USERNAME: &str = "SELECT username FROM users WHERE id = $1";

/// Columns of `audit_log` in the order [`super::rows::RawAudit`] reads them by name.
macro_rules! audit_columns {
    () => {
        "seq, at, actor_kind, actor_id, actor_name, action, record_id, reference, address, detail"
    };
}
pub(super) use audit_columns;

pub(super) const INSERT_AUDIT: &str = "\
    INSERT INTO audit_log \
        (at, actor_kind, actor_id, actor_name, action, record_id, reference, address, detail) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Takes a desk's lease for a node: a desk nobody holds, one whose lease has expired (at
/// `$4`), or one this node held before (it restarted with the same id). A change of hands
/// bumps `epoch`. One statement, so two nodes racing for a desk cannot both win: the one
/// whose row comes back holds it.
pub(super) const CLAIM_LEASE: &str = "\
    INSERT INTO desk_leases (desk, node_id, node_url, epoch, lease_until) \
    VALUES ($1, $2, $3, 1, $5) \
    ON CONFLICT (desk) DO UPDATE SET \
        node_id = excluded.node_id, node_url = excluded.node_url, \
        epoch = desk_leases.epoch + 1, lease_until = excluded.lease_until, \
        waiting = 0, in_call = 0, officers = 0 \
    WHERE desk_leases.lease_until <= $4 OR desk_leases.node_id = excluded.node_id \
    RETURNING epoch";
/// Extends a lease the node still holds in the same epoch, with the desk's counts.
pub(super) const RENEW_LEASE: &str = "\
    UPDATE desk_leases SET lease_until = $4, waiting = $5, in_call = $6, officers = $7 \
    WHERE desk = $1 AND node_id = $2 AND epoch = $3";
/// Gives a held lease up at once (a clean stop), so another node need not wait for it.
pub(super) const RELEASE_LEASE: &str = "\
    UPDATE desk_leases SET lease_until = 0 WHERE desk = $1 AND node_id = $2 AND epoch = $3";
/// The fence of a write (see `Fence`): the lease still held by this node in this epoch.
/// `FOR SHARE` on PostgreSQL (see `postgres::LEASE_FENCE`) keeps a takeover's UPDATE
/// waiting until the write has committed.
pub(super) const LEASE_FENCE: &str =
    "SELECT epoch FROM desk_leases WHERE desk = $1 AND node_id = $2 AND epoch = $3";
pub(super) const LEASE_FENCE_FOR_SHARE: &str = "SELECT epoch FROM desk_leases \
    WHERE desk = $1 AND node_id = $2 AND epoch = $3 FOR SHARE";
pub(super) const SELECT_LEASES: &str = "\
    SELECT desk, node_id, node_url, epoch, lease_until, waiting, in_call, officers \
    FROM desk_leases ORDER BY desk";
