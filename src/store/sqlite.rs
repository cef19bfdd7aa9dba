//! SQLite backend: opening the database file, and how its transactions begin.
//!
//! Is: the connection settings (WAL, `synchronous=FULL`, foreign keys, busy timeout), the
//! schema (`migrations/sqlite`) and the few things SQLite does differently from PostgreSQL.
//! Is not: the queries. Those are in `glue`, one source compiled once per backend against
//! the names this file defines (`Db`, `Conn`, `Pool`, `Args`, `write_tx`, `read_tx`,
//! `SELECT_FOR_UPDATE`).

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Transaction;

use super::{sql, Fail, StoreError};

// The shared queries, compiled for this backend: including the same files in `sqlite`
// and `postgres` is the point (see `glue`), not the accident this lint looks for.
#[allow(clippy::duplicate_mod)]
#[path = "glue/mod.rs"]
mod glue;
pub(super) use glue::*;

type Db = sqlx::Sqlite;
type Conn = sqlx::SqliteConnection;
pub(super) type Pool = sqlx::SqlitePool;
type Args = sqlx::sqlite::SqliteArguments;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Writers mostly wait on SQLite's single write lock, so a few connections are plenty;
/// they let reads proceed while a write runs (WAL).
const MAX_CONNECTIONS: u32 = 4;
/// How long a writer waits for the write lock before giving up with "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A write transaction holds the database's one write lock from its start (see
/// [`write_tx`]), so reading the record before changing it needs no row lock.
const SELECT_FOR_UPDATE: &str = sql::SELECT_BY_ID;
/// The write lock is held from the transaction's start: no other writer can take the
/// lease over between the check and the commit.
const LEASE_FENCE: &str = sql::LEASE_FENCE;

pub(super) async fn open(data_dir: &Path) -> Result<Pool, Fail> {
    std::fs::create_dir_all(data_dir).map_err(StoreError::Io)?;
    let options = SqliteConnectOptions::new()
        .filename(data_dir.join("sunwai.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL in WAL mode fsyncs the log on every commit: an acknowledged write is on
        // disk and survives power loss or kill -9.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Begins a write transaction holding SQLite's write lock from the start. A deferred
/// transaction that reads and then writes can fail with SQLITE_BUSY when another writer
/// got in between, and that failure is not retried by the busy timeout; taking the lock
/// up front makes concurrent writers simply queue.
async fn write_tx(pool: &Pool) -> Result<Transaction<'static, Db>, Fail> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// A read transaction: in WAL mode every statement in it sees the same snapshot.
async fn read_tx(pool: &Pool) -> Result<Transaction<'static, Db>, Fail> {
    Ok(pool.begin().await?)
}

/// `PRAGMA integrity_check` and `foreign_key_check`: `["ok"]` when sound.
pub(super) async fn integrity_check(pool: &Pool) -> Result<Vec<String>, Fail> {
    use sqlx::Row;
    let mut conn = pool.acquire().await?;
    let rows = sqlx::query("PRAGMA integrity_check")
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::new();
    for row in &rows {
        out.push(row.try_get::<String, _>(0)?);
    }
    let fk = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut *conn)
        .await?;
    if !fk.is_empty() {
        out.push(format!("{} rows break a foreign key", fk.len()));
    }
    Ok(out)
}
