//! Glue for desk leases: which node owns which desk's waiting room (see `sql::CLAIM_LEASE`).

use jiff::Timestamp;
use sqlx::Row as _;

use super::Pool;
use crate::core::ids::DeskId;
use crate::store::model::{DeskCounts, DeskLease};
use crate::store::{rows, sql, Fail, StoreError};

fn epoch_param(epoch: u64) -> Result<i64, Fail> {
    i64::try_from(epoch).map_err(|_| StoreError::Invalid(format!("lease epoch {epoch}")).into())
}

pub(in crate::store) async fn claim_lease(
    pool: &Pool,
    desk: &DeskId,
    node: &str,
    url: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<Option<u64>, Fail> {
    let row = sqlx::query(sql::CLAIM_LEASE)
        .bind(desk.as_str().to_owned())
        .bind(node.to_owned())
        .bind(url.to_owned())
        .bind(now.as_millisecond())
        .bind(until.as_millisecond())
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let epoch: i64 = row.try_get("epoch")?;
    let epoch = u64::try_from(epoch)
        .map_err(|_| StoreError::Corrupt(format!("lease epoch {epoch} of desk {desk}")))?;
    Ok(Some(epoch))
}

pub(in crate::store) async fn renew_lease(
    pool: &Pool,
    desk: &DeskId,
    node: &str,
    epoch: u64,
    until: Timestamp,
    counts: DeskCounts,
) -> Result<bool, Fail> {
    let done = sqlx::query(sql::RENEW_LEASE)
        .bind(desk.as_str().to_owned())
        .bind(node.to_owned())
        .bind(epoch_param(epoch)?)
        .bind(until.as_millisecond())
        .bind(i64::from(counts.waiting))
        .bind(i64::from(counts.in_call))
        .bind(i64::from(counts.officers_on_duty))
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(in crate::store) async fn release_lease(
    pool: &Pool,
    desk: &DeskId,
    node: &str,
    epoch: u64,
) -> Result<bool, Fail> {
    let done = sqlx::query(sql::RELEASE_LEASE)
        .bind(desk.as_str().to_owned())
        .bind(node.to_owned())
        .bind(epoch_param(epoch)?)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(in crate::store) async fn leases(pool: &Pool) -> Result<Vec<DeskLease>, Fail> {
    let rows = sqlx::query(sql::SELECT_LEASES).fetch_all(pool).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let desk: String = row.try_get("desk")?;
        let epoch: i64 = row.try_get("epoch")?;
        let until: i64 = row.try_get("lease_until")?;
        let bad = || StoreError::Corrupt(format!("lease of desk {desk:?}"));
        let count = |name: &str| -> Result<u32, Fail> {
            let n: i64 = row.try_get(name)?;
            Ok(u32::try_from(n).map_err(|_| bad())?)
        };
        out.push(DeskLease {
            desk: DeskId::parse(&desk).map_err(|_| bad())?,
            node: row.try_get("node_id")?,
            url: row.try_get("node_url")?,
            epoch: u64::try_from(epoch).map_err(|_| bad())?,
            until: rows::ts(until)?,
            counts: DeskCounts {
                waiting: count("waiting")?,
                in_call: count("in_call")?,
                officers_on_duty: count("officers")?,
            },
        });
    }
    Ok(out)
}
