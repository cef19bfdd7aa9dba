//! Glue for staff accounts and login sessions.

use super::Pool;
use jiff::Timestamp;
use sqlx::Row as _;

use super::write_tx;
use crate::core::ids::UserId;
use crate::store::model::*;
use crate::store::rows::{self, user_from_row};
use crate::store::{plan, sql, Fail, StoreError};

/// Usernames are case-insensitive: officers log in from phones that capitalise the first
/// letter on their own.
fn normalize_username(s: &str) -> String {
    s.trim().to_lowercase()
}

pub(in crate::store) async fn create_user(pool: &Pool, new: NewUser) -> Result<User, Fail> {
    let username = normalize_username(&new.username);
    let display_name = new.display_name.trim().to_owned();
    if username.is_empty() || display_name.is_empty() {
        return Err(
            StoreError::Invalid("username and display name must not be empty".into()).into(),
        );
    }
    plan::check_text([username.as_str(), &display_name, &new.password_phc])?;
    // Stored in milliseconds; truncate now so the returned user equals the stored one.
    let created_at = rows::ts(Timestamp::now().as_millisecond())?;
    let user = User {
        id: UserId::new_random(),
        username,
        display_name,
        role: new.role,
        desk: new.desk,
        disabled: false,
        created_at,
    };
    let inserted = sqlx::query(sql::INSERT_USER)
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(user.role.as_str())
        .bind(user.desk.as_ref().map(|d| d.as_str().to_owned()))
        .bind(false)
        .bind(user.created_at.as_millisecond())
        .bind(&new.password_phc)
        .execute(pool)
        .await;
    match inserted {
        Ok(_) => Ok(user),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(StoreError::Conflict(format!("username {:?} is taken", user.username)).into())
        }
        Err(e) => Err(e.into()),
    }
}

pub(in crate::store) async fn user_by_name(
    pool: &Pool,
    username: &str,
) -> Result<Option<UserWithHash>, Fail> {
    let row = sqlx::query(sql::USER_BY_NAME)
        .bind(normalize_username(username))
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let password_phc: String = row.try_get("password_phc")?;
    let user = user_from_row!(&row).into_user()?;
    Ok(Some(UserWithHash { user, password_phc }))
}

pub(in crate::store) async fn user(pool: &Pool, id: UserId) -> Result<Option<User>, Fail> {
    let row = sqlx::query(sql::USER_BY_ID)
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    match row {
        Some(row) => Ok(Some(user_from_row!(&row).into_user()?)),
        None => Ok(None),
    }
}

pub(in crate::store) async fn list_users(pool: &Pool) -> Result<Vec<User>, Fail> {
    let rows = sqlx::query(sql::LIST_USERS).fetch_all(pool).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(user_from_row!(row).into_user()?);
    }
    Ok(out)
}

pub(in crate::store) async fn set_disabled(
    pool: &Pool,
    username: &str,
    disabled: bool,
) -> Result<bool, Fail> {
    let username = normalize_username(username);
    let mut tx = write_tx(pool).await?;
    let found = sqlx::query(sql::SET_DISABLED)
        .bind(&username)
        .bind(disabled)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    if disabled {
        sqlx::query(sql::DELETE_USER_SESSIONS)
            .bind(&username)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(found)
}

pub(in crate::store) async fn set_password(
    pool: &Pool,
    username: &str,
    phc: &str,
) -> Result<bool, Fail> {
    plan::check_text([phc])?;
    let done = sqlx::query(sql::SET_PASSWORD)
        .bind(normalize_username(username))
        .bind(phc)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(in crate::store) async fn create_session(
    pool: &Pool,
    token_hash: &[u8; 32],
    user: UserId,
    expires_at: Timestamp,
) -> Result<(), Fail> {
    sqlx::query(sql::INSERT_SESSION)
        .bind(token_hash.to_vec())
        .bind(user.to_string())
        .bind(expires_at.as_millisecond())
        .execute(pool)
        .await?;
    Ok(())
}

pub(in crate::store) async fn session_user(
    pool: &Pool,
    token_hash: &[u8; 32],
    now: Timestamp,
) -> Result<Option<User>, Fail> {
    let row = sqlx::query(sql::SESSION_USER)
        .bind(token_hash.to_vec())
        .bind(now.as_millisecond())
        .fetch_optional(pool)
        .await?;
    match row {
        Some(row) => Ok(Some(user_from_row!(&row).into_user()?)),
        None => Ok(None),
    }
}

pub(in crate::store) async fn delete_session(
    pool: &Pool,
    token_hash: &[u8; 32],
) -> Result<(), Fail> {
    sqlx::query(sql::DELETE_SESSION)
        .bind(token_hash.to_vec())
        .execute(pool)
        .await?;
    Ok(())
}

pub(in crate::store) async fn delete_expired_sessions(
    pool: &Pool,
    now: Timestamp,
) -> Result<u64, Fail> {
    let done = sqlx::query(sql::DELETE_EXPIRED_SESSIONS)
        .bind(now.as_millisecond())
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
