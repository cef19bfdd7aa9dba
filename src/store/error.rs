//! The store's one error type, and how database failures map onto it.
//!
//! Is: [`StoreError`], which callers match on, and the private conversion from sqlx's
//! errors. Is not: a place for retries; a caller that gets `Unavailable` decides itself.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken: a username taken, an id or ticket used twice.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller passed something the store will not write (a malformed prefix, …).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database holds a value the model cannot represent.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database is busy beyond the timeouts, or closed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("export failed: {0}")]
    Export(String),
    /// A write made under a desk lease this node no longer holds in that epoch: another
    /// node has taken the desk over (several nodes; see [`super::Fence`]).
    #[error("fenced: {0}")]
    Fenced(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Whether trying the same write again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// A failure inside a backend, before it is classified for callers. Kept private so that
/// sqlx's error type never reaches a public signature, while `?` still works in the glue.
pub(super) enum Fail {
    Db(sqlx::Error),
    Migrate(sqlx::migrate::MigrateError),
    Store(StoreError),
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        Fail::Db(e)
    }
}

impl From<sqlx::migrate::MigrateError> for Fail {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Fail::Migrate(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl Fail {
    pub(super) fn into_store(self) -> StoreError {
        match self {
            Fail::Store(e) => e,
            Fail::Migrate(e) => StoreError::Database(format!("migration failed: {e}")),
            Fail::Db(sqlx::Error::RowNotFound) => StoreError::NotFound,
            Fail::Db(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                StoreError::Conflict(e.message().to_owned())
            }
            // The only foreign keys point at the complaint or user a write is about.
            Fail::Db(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                StoreError::NotFound
            }
            Fail::Db(sqlx::Error::Database(e)) if is_busy(e.code().as_deref()) => {
                StoreError::Unavailable(e.message().to_owned())
            }
            Fail::Db(e @ (sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)) => {
                StoreError::Unavailable(e.to_string())
            }
            Fail::Db(sqlx::Error::Io(e)) => StoreError::Io(e),
            Fail::Db(e) => StoreError::Database(e.to_string()),
        }
    }
}

pub(super) fn done<T>(r: Result<T, Fail>) -> Result<T, StoreError> {
    r.map_err(Fail::into_store)
}

/// Whether a database error code means "someone else holds the lock, try later": SQLite's
/// BUSY and LOCKED (5 and 6, in the low byte of extended codes), PostgreSQL's
/// lock_not_available (55P03), serialization_failure (40001), deadlock_detected (40P01)
/// and cannot_connect_now (57P03, a server starting up or shutting down).
fn is_busy(code: Option<&str>) -> bool {
    match code {
        // PostgreSQL's codes (SQLSTATE) have five characters, some of them all digits;
        // SQLite's are numbers below 10000.
        Some(c) if c.len() == 5 => matches!(c, "55P03" | "40001" | "40P01" | "57P03"),
        Some(c) => c.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn busy_codes() {
        for busy in ["5", "6", "261", "517", "55P03", "40001", "40P01", "57P03"] {
            assert!(super::is_busy(Some(busy)), "{busy}");
        }
        // 22021 (PostgreSQL's character_not_in_repertoire) is 0x5605: busy by SQLite's rule.
        for other in ["1", "19", "2067", "787", "23505", "22021", "x"] {
            assert!(!super::is_busy(Some(other)), "{other}");
        }
        assert!(!super::is_busy(None));
    }
}
