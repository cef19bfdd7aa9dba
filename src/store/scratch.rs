//! Throwaway PostgreSQL databases for tests: one per test, so tests run in parallel.
//!
//! Is: test support that both the store's own tests and the integration tests (which see
//! only the public API) use, so it is public but hidden from the documentation. Is not
//! used by the server.
//!
//! The server comes from `SUNWAI_TEST_DATABASE_URL`: a URL whose user may create and drop
//! databases (`scripts/test` starts a throwaway server and sets it). Without it, a test
//! that needs PostgreSQL fails with a message saying so; it is never skipped.

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use super::StoreError;

/// The variable naming the test server.
pub const ENV: &str = "SUNWAI_TEST_DATABASE_URL";

/// A database made for one test. [`ScratchDatabase::drop`] removes it; a test that fails
/// before that leaves it behind (the test server is thrown away as a whole).
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database, with the test server's credentials.
    pub url: String,
}

/// The test server's URL from [`ENV`], or a message that says how to get one.
pub fn server_url() -> Result<String, StoreError> {
    match std::env::var(ENV) {
        Ok(url) if !url.trim().is_empty() => Ok(url),
        _ => Err(StoreError::Unavailable(format!(
            "{ENV} is not set, and the PostgreSQL tests need a server where they may create \
             databases. Run scripts/test, which starts a throwaway one; or start one with \
             `eval \"$(scripts/test-postgres start)\"` and run cargo test in that shell; or \
             set {ENV} to a postgres:// URL of a user with CREATEDB."
        ))),
    }
}

impl ScratchDatabase {
    /// Creates an empty database with a random name on the test server.
    pub async fn create() -> Result<ScratchDatabase, StoreError> {
        let admin_url = server_url()?;
        let name = format!("sunwai_test_{}", uuid::Uuid::new_v4().simple());
        let url = with_database(&admin_url, &name)?;
        let mut admin = connect(&admin_url).await?;
        // The name is ours (letters, digits, '_'), so it can go into the text unquoted.
        let created = admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await;
        let closed = admin.close().await;
        created.map_err(|e| StoreError::Database(format!("creating {name}: {e}")))?;
        closed.map_err(|e| StoreError::Database(e.to_string()))?;
        Ok(ScratchDatabase {
            admin_url,
            name,
            url,
        })
    }

    /// Drops the database, ending any connection still open to it.
    pub async fn drop(self) -> Result<(), StoreError> {
        let mut admin = connect(&self.admin_url).await?;
        let name = &self.name;
        let dropped = admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await;
        let _ = admin.close().await;
        dropped.map_err(|e| StoreError::Database(format!("dropping {name}: {e}")))?;
        Ok(())
    }
}

async fn connect(url: &str) -> Result<PgConnection, StoreError> {
    PgConnection::connect(url)
        .await
        .map_err(|e| StoreError::Unavailable(format!("connecting to the test server: {e}")))
}

/// `url` with its database (the path) replaced by `name`; the query string is kept.
fn with_database(url: &str, name: &str) -> Result<String, StoreError> {
    let bad = || StoreError::Invalid(format!("{ENV} is not a postgres:// URL"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme, "postgres" | "postgresql") {
        return Err(bad());
    }
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or_default();
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_and_the_rest_kept() {
        for (url, want) in [
            (
                "postgres://u:p%2F@127.0.0.1:5433/postgres",
                "postgres://u:p%2F@127.0.0.1:5433/x",
            ),
            ("postgres://u@h", "postgres://u@h/x"),
            (
                "postgresql://u@h/db?sslmode=disable",
                "postgresql://u@h/x?sslmode=disable",
            ),
            ("postgres:///?host=/run/pg", "postgres:///x?host=/run/pg"),
        ] {
            assert_eq!(with_database(url, "x").unwrap(), want, "{url}");
        }
        assert!(with_database("mysql://u@h/db", "x").is_err());
        assert!(with_database("not a url", "x").is_err());
    }
}
