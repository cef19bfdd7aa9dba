//! The code that runs the shared SQL, written once and compiled once per backend.
//!
//! Is: transactions, binding parameters, reading rows into the model. Is not: the rules of
//! the record (`plan`), the SQL text (`sql`, `query`), or connection set-up. This directory
//! is not a module of `store` itself: `sqlite.rs` and `postgres.rs` each include it with
//! `#[path]`, after defining the names it uses (`Db`, `Conn`, `Pool`, `Args`, `write_tx`,
//! `read_tx`, `SELECT_FOR_UPDATE`). So every query runs through the same lines on both
//! backends, with concrete sqlx types and no trait bounds to spell out; what differs
//! between the two is in those two files and nowhere else.

pub(in crate::store) mod audit;
pub(in crate::store) mod leases;
pub(in crate::store) mod users;
mod writes;

pub(in crate::store) use writes::{
    apply, create_complaint, place, save_outcome, save_overrides, set_status,
};

use jiff::tz::TimeZone;
use jiff::Timestamp;
use sqlx::{AssertSqlSafe, SqlSafeStr};

use super::{read_tx, write_tx, Args, Conn, Db, Pool, LEASE_FENCE, SELECT_FOR_UPDATE};
use crate::core::ids::{DeskId, EntryId};
use crate::store::export::CsvOut;
use crate::store::model::*;
use crate::store::query::{self, By, Cursor, Param};
use crate::store::rows::{complaint_from_row, history_from_row};
use crate::store::{sql, Fail};

/// Records per query while exporting. Tiny under test, so that paging is exercised.
const EXPORT_PAGE: u32 = if cfg!(test) { 3 } else { 500 };

type Query<'q> = sqlx::query::Query<'q, Db, Args>;

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
async fn fetch_complaints(conn: &mut Conn, q: Query<'_>) -> Result<Vec<Complaint>, Fail> {
    let mut out = Vec::new();
    for row in q.fetch_all(conn).await? {
        out.push(complaint_from_row!(&row).into_complaint(Vec::new())?);
    }
    Ok(out)
}

async fn history(conn: &mut Conn, id: EntryId) -> Result<Vec<HistoryEntry>, Fail> {
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

/// One record with its history.
async fn load(conn: &mut Conn, by: &By) -> Result<Option<Complaint>, Fail> {
    let (sql, params) = by.query();
    let Some(mut c) = fetch_complaints(conn, query_with(sql, params)).await?.pop() else {
        return Ok(None);
    };
    c.history = history(conn, c.id).await?;
    Ok(Some(c))
}

pub(in crate::store) async fn get(pool: &Pool, by: By) -> Result<Option<Complaint>, Fail> {
    // One read transaction: record and history come from the same snapshot.
    let mut tx = read_tx(pool).await?;
    let c = load(&mut tx, &by).await?;
    tx.commit().await?;
    Ok(c)
}

pub(in crate::store) async fn list(pool: &Pool, f: &Filter) -> Result<Vec<Complaint>, Fail> {
    let (sql, params) = query::list_query(f, None, f.effective_limit(), f.offset);
    let mut conn = pool.acquire().await?;
    fetch_complaints(&mut conn, query_with(AssertSqlSafe(sql), params)).await
}

pub(in crate::store) async fn export_csv<W: std::io::Write + Send>(
    pool: &Pool,
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

pub(in crate::store) async fn open_entries(
    pool: &Pool,
    desk: &DeskId,
) -> Result<Vec<Complaint>, Fail> {
    let mut conn = pool.acquire().await?;
    let q = sqlx::query(sql::SELECT_OPEN).bind(desk.as_str().to_owned());
    fetch_complaints(&mut conn, q).await
}

/// The desk's waiting room as the last run left it: records and places from one snapshot,
/// in queue order (placed entries by class and seq, the rest after them, oldest first).
pub(in crate::store) async fn waiting_room(
    pool: &Pool,
    desk: &DeskId,
) -> Result<Vec<OpenEntry>, Fail> {
    use sqlx::Row;
    let mut tx = read_tx(pool).await?;
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
        let bad =
            || crate::store::StoreError::Corrupt(format!("queue place of {id}: {class} {seq}"));
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
    // Placed entries by place, then the rest oldest first (the sort is stable).
    out.sort_by_key(|e| e.place.map_or((1, 0, 0), |(c, s)| (0, c.rank(), s)));
    Ok(out)
}

pub(in crate::store) async fn overrides(
    pool: &Pool,
    desk: &DeskId,
) -> Result<Vec<ScheduleOverride>, Fail> {
    use sqlx::Row;
    let rows = sqlx::query(sql::SELECT_OVERRIDES)
        .bind(desk.as_str().to_owned())
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let kind: String = row.try_get("kind")?;
        let from: i64 = row.try_get("from_ms")?;
        let until: i64 = row.try_get("until_ms")?;
        let bad = || {
            crate::store::StoreError::Corrupt(format!(
                "schedule override of desk {desk}: {kind} {from}..{until}"
            ))
        };
        out.push(ScheduleOverride {
            kind: OverrideKind::parse(&kind).ok_or_else(bad)?,
            from: Timestamp::from_millisecond(from).map_err(|_| bad())?,
            until: Timestamp::from_millisecond(until).map_err(|_| bad())?,
        });
    }
    Ok(out)
}
