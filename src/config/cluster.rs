//! The `[cluster]` section: several nodes sharing one PostgreSQL database, each desk owned
//! by one node at a time (see `crate::cluster`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Database};

/// The `[cluster]` section as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterFile {
    pub enabled: bool,
    pub node_id: String,
    pub advertise_url: String,
    pub lease_secs: u32,
}

/// Validated cluster settings; present only when clustering is on.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    pub node_id: String,
    /// `None`: derived from the bound address at start-up.
    pub advertise_url: Option<String>,
    pub lease: Duration,
}

impl ClusterFile {
    pub(super) fn validate(
        &self,
        database: &Database,
        tls: bool,
    ) -> Result<Option<ClusterSettings>, ConfigError> {
        let bad = |m: String| ConfigError::Invalid(format!("cluster.{m}"));
        if !self.enabled {
            return Ok(None);
        }
        if !matches!(database, Database::Postgres(_)) {
            return Err(bad(
                "enabled: several nodes share one PostgreSQL database; set database_url".into(),
            ));
        }
        if tls {
            return Err(bad(
                "enabled: nodes reach each other over plain HTTP; terminate TLS in front of them instead of tls_cert".into(),
            ));
        }
        if !(2..=300).contains(&self.lease_secs) {
            return Err(bad(format!(
                "lease_secs: {} is not between 2 and 300",
                self.lease_secs
            )));
        }
        let node_id = self.node_id.trim();
        let node_id = if node_id.is_empty() {
            let id = uuid::Uuid::new_v4().simple().to_string();
            format!("node-{}", &id[..8])
        } else if node_id.len() <= 64
            && node_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            node_id.to_owned()
        } else {
            return Err(bad(format!(
                "node_id: {node_id:?} must be up to 64 letters, digits, '-', '_' or '.'"
            )));
        };
        let url = self.advertise_url.trim().trim_end_matches('/');
        let advertise_url = if url.is_empty() {
            None
        } else {
            let host = url.strip_prefix("http://").unwrap_or_default();
            if host.is_empty() || host.contains('/') {
                return Err(bad(format!(
                    "advertise_url: {url:?} is not http://host:port"
                )));
            }
            Some(url.to_owned())
        };
        Ok(Some(ClusterSettings {
            node_id,
            advertise_url,
            lease: Duration::from_secs(u64::from(self.lease_secs)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseUrl;

    fn file() -> ClusterFile {
        ClusterFile {
            enabled: true,
            node_id: String::new(),
            advertise_url: String::new(),
            lease_secs: 10,
        }
    }

    #[test]
    fn clustering_needs_postgres_plain_http_and_sane_values() {
        let pg = Database::Postgres(DatabaseUrl::new("postgres://u@h/d"));
        let lite = Database::Sqlite {
            dir: "/nonexistent".into(),
        };
        let off = ClusterFile {
            enabled: false,
            ..file()
        };
        assert!(off.validate(&lite, false).unwrap().is_none());
        assert!(file().validate(&lite, false).is_err());
        assert!(file().validate(&pg, true).is_err());
        let s = file().validate(&pg, false).unwrap().unwrap();
        assert!(s.node_id.starts_with("node-") && s.advertise_url.is_none());
        let other = file().validate(&pg, false).unwrap().unwrap();
        assert_ne!(s.node_id, other.node_id, "a random id per start");
        for (f, ok) in [
            (
                ClusterFile {
                    lease_secs: 1,
                    ..file()
                },
                false,
            ),
            (
                ClusterFile {
                    node_id: "a b".into(),
                    ..file()
                },
                false,
            ),
            (
                ClusterFile {
                    advertise_url: "https://x:1".into(),
                    ..file()
                },
                false,
            ),
            (
                ClusterFile {
                    advertise_url: "http://x/y".into(),
                    ..file()
                },
                false,
            ),
            (
                ClusterFile {
                    advertise_url: "http://10.0.0.1:8080/".into(),
                    ..file()
                },
                true,
            ),
        ] {
            assert_eq!(f.validate(&pg, false).is_ok(), ok, "{f:?}");
        }
    }
}
