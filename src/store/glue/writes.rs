//! Glue for the writes to a complaint: creation, events, outcome, status.
//!
//! Each write is one transaction ([`write_tx`]) that reads the record under a lock
//! ([`SELECT_FOR_UPDATE`]: SQLite's write lock is already held, PostgreSQL locks the row),
//! lets `plan` decide the change, then updates the record and appends history.

use jiff::Timestamp;

use super::{audit, fetch_complaints, write_tx, Conn, Pool, LEASE_FENCE, SELECT_FOR_UPDATE};
use crate::core::ids::{DeskId, EntryId};
use crate::store::audit::{AuditAction, NewAudit};
use crate::store::model::*;
use crate::store::plan::{self, Lifecycle, NewHistory};
use crate::store::rows::actor_columns;
use crate::store::{sql, Fail, StoreError};

async fn insert_history(conn: &mut Conn, id: EntryId, h: &NewHistory) -> Result<(), Fail> {
    let (kind, actor_id, actor_name) = actor_columns(&h.actor);
    sqlx::query(sql::INSERT_HISTORY)
        .bind(id.to_string())
        .bind(h.at.as_millisecond())
        .bind(kind)
        .bind(actor_id)
        .bind(actor_name)
        .bind(h.kind.as_str())
        .bind(&h.detail)
        .bind(h.status.map(Status::as_str))
        .execute(conn)
        .await?;
    Ok(())
}

pub(in crate::store) async fn create_complaint(
    pool: &Pool,
    new: NewComplaint,
) -> Result<Reference, Fail> {
    plan::check_prefix(&new.prefix)?;
    let i = &new.intake;
    plan::check_text([
        i.name.as_str(),
        &i.area,
        &i.category,
        &i.description,
        new.desk.as_str(),
    ])?;
    let year = plan::reference_year(new.created_at, &new.tz);
    let mut tx = write_tx(pool).await?;
    let seq: i64 = sqlx::query_scalar(sql::NEXT_REFERENCE)
        .bind(&new.prefix)
        .bind(i64::from(year))
        .fetch_one(&mut *tx)
        .await?;
    let reference = plan::format_reference(&new.prefix, year, seq);
    sqlx::query(sql::INSERT_COMPLAINT)
        .bind(new.id.to_string())
        .bind(&reference)
        .bind(new.desk.as_str())
        .bind(new.channel.as_str())
        .bind(&i.name)
        .bind(i.mobile.as_str())
        .bind(&i.area)
        .bind(&i.category)
        .bind(&i.description)
        .bind(i.language.code())
        .bind(new.ticket_hash.map(|h| h.to_vec()))
        .bind(new.created_at.as_millisecond())
        .bind(plan::initial_disposition(new.channel).as_str())
        .bind(Status::Received.as_str())
        .execute(&mut *tx)
        .await?;
    insert_history(
        &mut tx,
        new.id,
        &plan::created_row(new.channel, new.created_at),
    )
    .await?;
    tx.commit().await?;
    Ok(Reference(reference))
}

/// Loads a record, without history, for a read-modify-write inside the caller's write
/// transaction: no other writer can change it until that transaction ends. Unknown:
/// `NotFound`.
async fn load_for_update(conn: &mut Conn, id: EntryId) -> Result<Complaint, Fail> {
    let q = sqlx::query(SELECT_FOR_UPDATE).bind(id.to_string());
    let found = fetch_complaints(conn, q).await?.pop();
    Ok(found.ok_or(StoreError::NotFound)?)
}

fn later(a: Timestamp, b: Timestamp) -> i64 {
    a.max(b).as_millisecond()
}

/// Refuses the write unless `fence` (if any) still holds: the lease on its desk held by its
/// node in its epoch. Runs first in the write transaction.
async fn check_fence(conn: &mut Conn, fence: Option<&Fence>) -> Result<(), Fail> {
    let Some(f) = fence else { return Ok(()) };
    let epoch = i64::try_from(f.epoch)
        .map_err(|_| StoreError::Invalid(format!("lease epoch {}", f.epoch)))?;
    let held = sqlx::query(LEASE_FENCE)
        .bind(f.desk.as_str().to_owned())
        .bind(f.node.clone())
        .bind(epoch)
        .fetch_optional(&mut *conn)
        .await?;
    match held {
        Some(_) => Ok(()),
        None => Err(StoreError::Fenced(format!(
            "node {} no longer holds desk {} in epoch {}",
            f.node, f.desk, f.epoch
        ))
        .into()),
    }
}

pub(in crate::store) async fn apply(
    pool: &Pool,
    ev: RecordEvent,
    fence: Option<&Fence>,
) -> Result<(), Fail> {
    let id = ev.id();
    let mut tx = write_tx(pool).await?;
    check_fence(&mut tx, fence).await?;
    let c = load_for_update(&mut tx, id).await?;
    let decliner = match &ev {
        RecordEvent::OfferDeclined {
            officer,
            timed_out: false,
            ..
        } => {
            sqlx::query_scalar(sql::USER_DISPLAY_NAME)
                .bind(officer.to_string())
                .fetch_optional(&mut *tx)
                .await?
        }
        _ => None,
    };
    let mut s = Lifecycle::of(&c);
    let row = plan::apply_event(&mut s, &ev, decliner);
    row.check_text()?;
    plan::check_text(s.officer_name.as_deref())?;
    let ms = |t: Option<Timestamp>| t.map(Timestamp::as_millisecond);
    sqlx::query(sql::UPDATE_LIFECYCLE)
        .bind(id.to_string())
        .bind(ms(s.offered_at))
        .bind(ms(s.answered_at))
        .bind(ms(s.ended_at))
        .bind(s.wait_secs)
        .bind(s.talk_secs)
        .bind(s.officer.map(|o| o.to_string()))
        .bind(s.officer_name)
        .bind(s.disposition.as_str())
        .bind(later(c.updated_at, row.at))
        .execute(&mut *tx)
        .await?;
    insert_history(&mut tx, id, &row).await?;
    if plan::leaves_room(&ev) {
        sqlx::query(sql::DELETE_PLACE)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(in crate::store) async fn place(
    pool: &Pool,
    p: &QueuePlace,
    fence: Option<&Fence>,
) -> Result<(), Fail> {
    let seq = i64::try_from(p.seq)
        .map_err(|_| StoreError::Invalid(format!("queue seq {} is too large", p.seq)))?;
    let mut tx = write_tx(pool).await?;
    check_fence(&mut tx, fence).await?;
    // A place for a record that has left the room (or never existed) is refused, so that a
    // late place cannot bring a finished case back after a restart.
    let c = load_for_update(&mut tx, p.id).await?;
    if !matches!(c.disposition, Disposition::Waiting | Disposition::InCall) {
        return Err(StoreError::Invalid(format!(
            "record {} is {}, not in a waiting room",
            c.reference, c.disposition
        ))
        .into());
    }
    sqlx::query(sql::UPSERT_PLACE)
        .bind(p.id.to_string())
        .bind(p.desk.as_str())
        .bind(p.class.as_str())
        .bind(seq)
        .bind(p.at.as_millisecond())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces `desk`'s schedule overrides with `overrides`, in their order.
pub(in crate::store) async fn save_overrides(
    pool: &Pool,
    desk: &DeskId,
    overrides: &[ScheduleOverride],
    fence: Option<&Fence>,
) -> Result<(), Fail> {
    let mut tx = write_tx(pool).await?;
    check_fence(&mut tx, fence).await?;
    sqlx::query(sql::DELETE_OVERRIDES)
        .bind(desk.as_str().to_owned())
        .execute(&mut *tx)
        .await?;
    for (seq, o) in overrides.iter().enumerate() {
        let seq = i64::try_from(seq)
            .map_err(|_| StoreError::Invalid(format!("{seq} schedule overrides")))?;
        sqlx::query(sql::INSERT_OVERRIDE)
            .bind(desk.as_str().to_owned())
            .bind(seq)
            .bind(o.kind.as_str())
            .bind(o.from.as_millisecond())
            .bind(o.until.as_millisecond())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(in crate::store) async fn save_outcome(
    pool: &Pool,
    id: EntryId,
    outcome: &Outcome,
    by: &Actor,
    at: Timestamp,
) -> Result<(), Fail> {
    let mut tx = write_tx(pool).await?;
    let c = load_for_update(&mut tx, id).await?;
    let (status, rows) = plan::outcome_plan(c.status, outcome, by, at);
    for row in &rows {
        row.check_text()?;
    }
    sqlx::query(sql::UPDATE_OUTCOME)
        .bind(id.to_string())
        .bind(&outcome.category)
        .bind(&outcome.station)
        .bind(&outcome.action)
        .bind(&outcome.notes)
        .bind(status.as_str())
        .bind(later(c.updated_at, at))
        .execute(&mut *tx)
        .await?;
    for row in &rows {
        insert_history(&mut tx, id, row).await?;
    }
    let actor = audit::actor_of(&mut tx, by).await?;
    let entry = NewAudit::new(at, actor, AuditAction::OutcomeSave)
        .record(id, c.reference.as_str())
        .detail(serde_json::json!({
            "category": outcome.category,
            "station": outcome.station,
            "status_before": c.status.as_str(),
            "status_after": status.as_str(),
        }));
    audit::insert(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(())
}

pub(in crate::store) async fn set_status(
    pool: &Pool,
    id: EntryId,
    status: Status,
    by: &Actor,
    note: &str,
    at: Timestamp,
) -> Result<(), Fail> {
    let mut tx = write_tx(pool).await?;
    let c = load_for_update(&mut tx, id).await?;
    let row = plan::status_row(status, by, note, at);
    row.check_text()?;
    sqlx::query(sql::UPDATE_STATUS)
        .bind(id.to_string())
        .bind(status.as_str())
        .bind(later(c.updated_at, at))
        .execute(&mut *tx)
        .await?;
    insert_history(&mut tx, id, &row).await?;
    let actor = audit::actor_of(&mut tx, by).await?;
    let entry = NewAudit::new(at, actor, AuditAction::StatusChange)
        .record(id, c.reference.as_str())
        .detail(serde_json::json!({
            "from": c.status.as_str(),
            "to": status.as_str(),
            "note": note,
        }));
    audit::insert(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(())
}
