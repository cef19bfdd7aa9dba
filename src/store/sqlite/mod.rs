//! SQLite backend: connection setup and the glue that runs the shared SQL.
//!
//! Is: opening the database file, transactions, binding parameters, reading rows. Is not:
//! the rules of the record (those are in `plan`, shared with other backends).
//!
//! Dialect notes for a PostgreSQL twin of this file: write transactions here begin with
//! `BEGIN IMMEDIATE` (see [`write_tx`]); PostgreSQL would use a plain `BEGIN` and lock the
//! record with `SELECT … FOR UPDATE` before a read-modify-write.

pub(super) mod audit;
pub(super) mod users;
mod writes;

pub(super) use writes::{apply, create_complaint, place, save_outcome, set_status};

use std::path::Path;
use std::time::Duration;

use jiff::tz::TimeZone;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, SqlSafeStr, Sqlite, Transaction};

use super::export::CsvOut;
use super::model::*;
use super::query::{self, By, Cursor, Param};
use super::rows::{complaint_from_row, history_from_row};
use super::{sql, Fail, StoreError};
use crate::core::ids::{DeskId, EntryId};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Writers mostly wait on SQLite's single write lock, so a few connections are plenty;
/// they let reads proceed while a write runs (WAL).
const MAX_CONNECTIONS: u32 = 4;
/// How long a writer waits for the write lock before giving up with "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Records per query while exporting. Tiny under test, so that paging is exercised.
const EXPORT_PAGE: u32 = if cfg!(test) { 3 } else { 500 };

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

pub(super) async fn open(data_dir: &Path) -> Result<SqlitePool, Fail> {
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
async fn write_tx(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, Fail> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

fn bind_all(mut q: Query<'_>, params: Vec<Param>) -> Query<'_> {
    for p in params {
        q = match p {
            Param::Text(s) => q.bind(s),
            Param::Int(i) => q.bind(i),
            Param::Blob(b) => q.bind(b),
        };
    }
    q
}

fn query_with(sql: impl SqlSafeStr, params: Vec<Param>) -> Query<'static> {
    bind_all(sqlx::query(sql), params)
}

/// Reads records selected with `complaint_columns!()`, without history.
async fn fetch_complaints(
    conn: &mut SqliteConnection,
    q: Query<'_>,
) -> Result<Vec<Complaint>, Fail> {
    let mut out = Vec::new();
    for row in q.fetch_all(conn).await? {
        out.push(complaint_from_row!(&row).into_complaint(Vec::new())?);
    }
    Ok(out)
}

async fn history(conn: &mut SqliteConnection, id: EntryId) -> Result<Vec<HistoryEntry>, Fail> {
    let rows = sqlx::query(sql::SELECT_HISTORY)
        .bind(id.to_string())
        .fetch_all(conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(history_from_row!(row).into_entry()?);
    }
    Ok(out)
}

/// One record, optionally with its history.
async fn load(
    conn: &mut SqliteConnection,
    by: &By,
    with_history: bool,
) -> Result<Option<Complaint>, Fail> {
    let (sql, params) = by.query();
    let Some(mut c) = fetch_complaints(conn, query_with(sql, params)).await?.pop() else {
        return Ok(None);
    };
    if with_history {
        c.history = history(conn, c.id).await?;
    }
    Ok(Some(c))
}

pub(super) async fn get(pool: &SqlitePool, by: By) -> Result<Option<Complaint>, Fail> {
    // One read transaction: record and history come from the same snapshot.
    let mut tx = pool.begin().await?;
    let c = load(&mut tx, &by, true).await?;
    tx.commit().await?;
    Ok(c)
}

pub(super) async fn list(pool: &SqlitePool, f: &Filter) -> Result<Vec<Complaint>, Fail> {
    let (sql, params) = query::list_query(f, None, f.effective_limit(), f.offset);
    let mut conn = pool.acquire().await?;
    fetch_complaints(&mut conn, query_with(AssertSqlSafe(sql), params)).await
}

pub(super) async fn export_csv<W: std::io::Write + Send>(
    pool: &SqlitePool,
    f: &Filter,
    tz: &TimeZone,
    out: W,
) -> Result<usize, Fail> {
    let mut csv = CsvOut::new(out, tz)?;
    let mut cursor: Option<Cursor> = None;
    loop {
        let (sql, params) = query::list_query(f, cursor.as_ref(), EXPORT_PAGE, 0);
        // A connection per page, not for the whole export: a slow writer on the other
        // end must not hold a connection for long.
        let page = {
            let mut conn = pool.acquire().await?;
            fetch_complaints(&mut conn, query_with(AssertSqlSafe(sql), params)).await?
        };
        for c in &page {
            csv.row(c)?;
        }
        match page.last() {
            Some(last) if page.len() == EXPORT_PAGE as usize => {
                cursor = Some((last.created_at.as_millisecond(), last.id.to_string()));
            }
            _ => break,
        }
    }
    Ok(csv.finish()?)
}

pub(super) async fn open_entries(pool: &SqlitePool, desk: &DeskId) -> Result<Vec<Complaint>, Fail> {
    let mut conn = pool.acquire().await?;
    let q = sqlx::query(sql::SELECT_OPEN).bind(desk.as_str().to_owned());
    fetch_complaints(&mut conn, q).await
}

pub(super) async fn waiting_room(pool: &SqlitePool, desk: &DeskId) -> Result<Vec<OpenEntry>, Fail> {
    // One read transaction: records and places from the same snapshot.
    let mut tx = pool.begin().await?;
    let q = sqlx::query(sql::SELECT_IN_ROOM).bind(desk.as_str().to_owned());
    let records = fetch_complaints(&mut tx, q).await?;
    let rows = sqlx::query(sql::SELECT_PLACES)
        .bind(desk.as_str().to_owned())
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut places = std::collections::HashMap::new();
    for row in &rows {
        let id: String = row.try_get("complaint_id")?;
        let class: String = row.try_get("class")?;
        let seq: i64 = row.try_get("seq")?;
        let bad = || StoreError::Corrupt(format!("queue place of {id}: {class} {seq}"));
        let class = QueueClass::parse(&class).ok_or_else(bad)?;
        let seq = u64::try_from(seq).map_err(|_| bad())?;
        places.insert(id, (class, seq));
    }
    let mut out: Vec<OpenEntry> = records
        .into_iter()
        .map(|c| {
            let place = places.get(&c.id.to_string()).copied();
            OpenEntry {
                complaint: c,
                place,
            }
        })
        .collect();
    // Queue order: placed entries by place, then the rest oldest first (stable sort).
    out.sort_by_key(|e| e.place.map_or((1, 0, 0), |(c, s)| (0, c.rank(), s)));
    Ok(out)
}

pub(super) async fn integrity_check(pool: &SqlitePool) -> Result<Vec<String>, Fail> {
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
