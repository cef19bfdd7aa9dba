//! PostgreSQL backend: connecting to a server, and how its transactions begin.
//!
//! Is: the connection pool, the schema (`migrations/postgres`, which mirrors
//! `migrations/sqlite` column for column) and the few things PostgreSQL does differently
//! from SQLite. Is not: the queries, which are in `glue` and shared with SQLite.
//!
//! Differences from SQLite, all here:
//! - Writers do not share one database lock. A write transaction is a plain `BEGIN` (read
//!   committed) and locks the record it changes with `SELECT … FOR UPDATE` before reading
//!   it, so two changes to one record queue instead of losing one of them. A reference is
//!   allocated with one `INSERT … ON CONFLICT DO UPDATE … RETURNING`, which PostgreSQL
//!   runs atomically whatever runs beside it.
//! - A read of a record and its history runs in one `REPEATABLE READ` transaction, so
//!   both come from the same snapshot (SQLite's WAL gives that to every transaction).
//! - Durability is the server's: an acknowledged commit survives a crash with
//!   PostgreSQL's defaults (`fsync = on`, `synchronous_commit = on`); keep them.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Transaction;

use super::{sql, Fail, StoreError};

// The shared queries, compiled for this backend: including the same files in `sqlite`
// and `postgres` is the point (see `glue`), not the accident this lint looks for.
#[allow(clippy::duplicate_mod)]
#[path = "glue/mod.rs"]
mod glue;
pub(super) use glue::*;

type Db = sqlx::Postgres;
type Conn = sqlx::PgConnection;
pub(super) type Pool = sqlx::PgPool;
type Args = sqlx::postgres::PgArguments;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per process. Each desk writes through one record writer, and requests
/// mostly read one record; a handful of connections serve a node, and several nodes on
/// one server stay well below PostgreSQL's default of 100.
const MAX_CONNECTIONS: u32 = 10;

const SELECT_FOR_UPDATE: &str = sql::SELECT_BY_ID_FOR_UPDATE;
/// A fenced write locks the lease row (shared) until it commits, so a takeover cannot
/// slip in between the check and the commit.
const LEASE_FENCE: &str = sql::LEASE_FENCE_FOR_SHARE;

/// Connects to `url` (`postgres://user:password@host:port/database`, or any form
/// PostgreSQL's own clients accept as a URL) and brings the schema up to date. Several
/// processes may start at once: migrations take an advisory lock.
///
/// A server that refuses connections is retried for up to 30 seconds (it may be starting
/// too). Errors name the server, user and database, never the password.
pub(super) async fn open(url: &str) -> Result<Pool, Fail> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("not a PostgreSQL URL: {e}")))?;
    let server = describe(&options);
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect_with(options)
        .await
        .map_err(|e| match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => {
                StoreError::Unavailable(format!("cannot reach PostgreSQL at {server}: {e}"))
            }
            e => StoreError::Database(format!("connecting to PostgreSQL at {server}: {e}")),
        })?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// `user@host:port/database`, for messages: everything but the password.
fn describe(o: &PgConnectOptions) -> String {
    let host = match o.get_socket() {
        Some(dir) => dir.display().to_string(),
        None => o.get_host().to_owned(),
    };
    let user = o.get_username();
    let port = o.get_port();
    let database = o.get_database().unwrap_or(user);
    format!("{user}@{host}:{port}/{database}")
}

/// A write transaction: read committed; the record is locked when it is read
/// ([`SELECT_FOR_UPDATE`]).
async fn write_tx(pool: &Pool) -> Result<Transaction<'static, Db>, Fail> {
    Ok(pool.begin().await?)
}

/// A read transaction whose statements all see one snapshot.
async fn read_tx(pool: &Pool) -> Result<Transaction<'static, Db>, Fail> {
    Ok(pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?)
}

/// PostgreSQL checks its own pages and enforces foreign keys on every write; what is left
/// to check here is that every queue place belongs to a record still in a waiting room.
/// `["ok"]` when sound.
pub(super) async fn integrity_check(pool: &Pool) -> Result<Vec<String>, Fail> {
    let stray: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM queue_places p JOIN complaints c ON c.id = p.complaint_id \
         WHERE c.disposition NOT IN ('waiting', 'in_call')",
    )
    .fetch_one(pool)
    .await?;
    Ok(if stray == 0 {
        vec!["ok".to_owned()]
    } else {
        vec![format!(
            "{stray} queue places belong to records that left the room"
        )]
    })
}
