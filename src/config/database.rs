//! Where the records live: SQLite in the data directory, or a PostgreSQL server.
//!
//! A database URL usually carries a password, so [`DatabaseUrl`] never shows it: its
//! `Debug` and `Display` print the URL with the password replaced by `***`, and only
//! [`DatabaseUrl::expose`] gives the real text, to the one place that connects.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A database URL as configured. Shown only with its password hidden.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }

    /// The URL with its password: for connecting, never for showing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redacted(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", redacted(&self.0))
    }
}

/// The validated choice of database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// `sunwai.db` in this directory (the data directory).
    Sqlite { dir: PathBuf },
    /// A PostgreSQL server; several nodes may share it.
    Postgres(DatabaseUrl),
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite { dir } => write!(f, "SQLite {}", dir.join("sunwai.db").display()),
            Database::Postgres(url) => write!(f, "PostgreSQL {url}"),
        }
    }
}

impl Database {
    /// No URL (or an empty one): SQLite in `data_dir`. A `postgres://` or `postgresql://`
    /// URL: that server. Anything else is refused, without repeating the URL (it may hold
    /// a password).
    pub fn choose(url: Option<DatabaseUrl>, data_dir: &std::path::Path) -> Result<Self, String> {
        let Some(url) = url.filter(|u| !u.is_blank()) else {
            return Ok(Database::Sqlite {
                dir: data_dir.to_owned(),
            });
        };
        let scheme = url.0.trim().split_once("://").map(|(s, _)| s);
        match scheme {
            Some("postgres" | "postgresql") => {
                Ok(Database::Postgres(DatabaseUrl(url.0.trim().to_owned())))
            }
            _ => Err(
                "database_url: use a postgres://user:password@host/database URL, \
                      or leave it out to keep the records in SQLite in data_dir"
                    .into(),
            ),
        }
    }
}

/// `url` with the password of its user part and any `password=` parameter replaced by
/// `***`. Text that is not a URL is hidden whole, since where a password would be in it
/// cannot be told.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".into();
    };
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let mut out = format!("{scheme}://");
    match main.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:***")),
                None => out.push_str(userinfo),
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(main),
    }
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_the_rest_shown() {
        for (url, want) in [
            (
                "postgres://sunwai:pa:ss@w0rd@db.example:5432/sunwai",
                "postgres://sunwai:***@db.example:5432/sunwai",
            ),
            ("postgres://sunwai@db/sunwai", "postgres://sunwai@db/sunwai"),
            (
                "postgresql://db/sunwai?user=s&password=x&sslmode=require",
                "postgresql://db/sunwai?user=s&password=***&sslmode=require",
            ),
            ("sunwai:secret", "***"),
        ] {
            assert_eq!(redacted(url), want, "{url}");
        }
        let url = DatabaseUrl::new("postgres://u:hunter2@h/d");
        assert!(!format!("{url} {url:?}").contains("hunter2"));
        let db = Database::Postgres(url.clone());
        assert!(!format!("{db} {db:?}").contains("hunter2"));
        assert_eq!(url.expose(), "postgres://u:hunter2@h/d");
    }

    #[test]
    fn choice_of_backend() {
        let dir = std::path::Path::new("/srv/sunwai");
        let sqlite = Database::Sqlite { dir: dir.into() };
        assert_eq!(Database::choose(None, dir), Ok(sqlite.clone()));
        assert_eq!(
            Database::choose(Some(DatabaseUrl::new(" ")), dir),
            Ok(sqlite)
        );
        let pg = Database::choose(Some(DatabaseUrl::new("postgresql://u@h/d")), dir);
        assert!(matches!(pg, Ok(Database::Postgres(_))));
        let err = Database::choose(Some(DatabaseUrl::new("mysql://u:hunter2@h/d")), dir);
        assert!(!err.unwrap_err().contains("hunter2"));
    }
}
