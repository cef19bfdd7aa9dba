//! Glue for the audit log: appending entries and reading them back.

use super::{Conn, Pool};
use sqlx::AssertSqlSafe;

use super::query_with;
use crate::store::audit::*;
use crate::store::model::Actor;
use crate::store::rows::{audit_actor_columns, audit_from_row};
use crate::store::{plan, query};
use crate::store::{sql, Fail, StoreError};

/// Appends `e` on `conn` (inside the caller's transaction, if it has one).
pub(super) async fn insert(conn: &mut Conn, e: &NewAudit) -> Result<(), Fail> {
    if !e.detail.is_object() {
        return Err(StoreError::Invalid("audit detail must be a JSON object".into()).into());
    }
    let (kind, actor_id, actor_name) = audit_actor_columns(&e.actor);
    plan::check_text(
        [actor_name.as_deref(), e.reference.as_deref()]
            .into_iter()
            .flatten(),
    )?;
    sqlx::query(sql::INSERT_AUDIT)
        .bind(e.at.as_millisecond())
        .bind(kind)
        .bind(actor_id)
        .bind(actor_name)
        .bind(e.action.as_str())
        .bind(e.record.map(|r| r.to_string()))
        .bind(e.reference.as_deref())
        .bind(e.address.map(|a| a.to_string()))
        .bind(e.detail.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// The audit actor for a record change by `a`: a user is named by their username (unique
/// and stable) rather than the display name the record's history keeps, when the account
/// exists.
pub(super) async fn actor_of(conn: &mut Conn, a: &Actor) -> Result<AuditActor, Fail> {
    let mut actor = AuditActor::of_record_actor(a);
    if let AuditActor::User { id, name } = &mut actor {
        let username: Option<String> = sqlx::query_scalar(sql::USER_USERNAME)
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(u) = username {
            *name = u;
        }
    }
    Ok(actor)
}

pub(in crate::store) async fn audit(pool: &Pool, e: NewAudit) -> Result<(), Fail> {
    let mut conn = pool.acquire().await?;
    insert(&mut conn, &e).await
}

pub(in crate::store) async fn audit_log(
    pool: &Pool,
    f: &AuditFilter,
) -> Result<Vec<AuditEntry>, Fail> {
    let (sql, params) = query::audit_query(f);
    let mut conn = pool.acquire().await?;
    let rows = query_with(AssertSqlSafe(sql), params)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(audit_from_row!(row).into_entry()?);
    }
    Ok(out)
}
