//! Configuration: defaults, an optional TOML file, SUNWAI_* environment variables and
//! command-line flags, merged in that order, then validated into the types the server uses.
//! Validation happens once at start-up; a bad setting stops the process with a message that
//! names it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

mod cidr;
mod cluster;
mod database;
mod tls;
pub use cidr::Cidr;
pub use cluster::{ClusterFile, ClusterSettings};
pub use database::{redacted, Database, DatabaseUrl};
pub use tls::{AcmeFile, AcmeSettings, Challenge, TlsFiles, TlsSettings, TlsSource, LETS_ENCRYPT};

use crate::core::ids::DeskId;
use crate::core::room::{ClosePolicy, LateJoin, Policy};
use crate::core::schedule::ScheduleSpec;

/// The commented example printed by `sunwai config example`; every value in it is the default.
pub const EXAMPLE: &str = include_str!("example.toml");

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Labelled {
    pub key: String,
    pub hi: String,
    pub en: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyFile {
    pub offer_timeout_secs: u32,
    pub citizen_grace_secs: u32,
    pub officer_grace_secs: u32,
    pub wrap_up_secs: u32,
    pub assumed_call_secs: u32,
    pub late_join: String,
    pub close: String,
    pub max_waiting: u32,
}

impl Default for PolicyFile {
    fn default() -> Self {
        Self {
            offer_timeout_secs: 30,
            citizen_grace_secs: 120,
            officer_grace_secs: 60,
            wrap_up_secs: 30,
            assumed_call_secs: 360,
            late_join: "carry_over".into(),
            close: "serve_all".into(),
            max_waiting: 500,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeskFile {
    pub id: String,
    pub name: String,
    pub prefix: String,
    #[serde(default = "default_tz")]
    pub time_zone: String,
    #[serde(default = "default_windows")]
    pub windows: Vec<String>,
    #[serde(default)]
    pub weekdays: Vec<String>,
    #[serde(default)]
    pub closed_dates: Vec<String>,
    #[serde(default)]
    pub policy: PolicyFile,
}

fn default_tz() -> String {
    "Asia/Kolkata".into()
}
fn default_windows() -> Vec<String> {
    vec!["12:00-14:00".into()]
}

/// Flood limits; see the example configuration for their meaning.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Limits {
    pub joins_per_minute_per_address: u32,
    pub logins_per_minute_per_address: u32,
    pub logins_per_minute_per_account: u32,
    pub status_lookups_per_minute_per_address: u32,
    pub written_complaints_per_hour_per_address: u32,
    pub messages_per_second: u32,
    pub hello_timeout_secs: u32,
    pub idle_timeout_secs: u32,
}

/// The `[media]` section as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MediaFile {
    pub enabled: bool,
    pub bind: String,
    pub base_port: u16,
    pub workers: u32,
    pub announce: String,
    pub allowed_networks: Vec<String>,
    pub ice_servers: Vec<String>,
    pub turn_secret: String,
    pub turn_ttl_secs: u32,
    pub instant_connect_position: u32,
    pub pause_video_on_weak_links: bool,
    pub audio_redundancy: bool,
}

/// Validated media settings.
#[derive(Clone, Debug)]
pub struct MediaSettings {
    pub enabled: bool,
    /// `None`: the address the server listens on (see [`crate::sfu::media_bind`]).
    pub bind: Option<std::net::IpAddr>,
    pub base_port: u16,
    pub workers: usize,
    pub announce: Option<std::net::IpAddr>,
    pub allowed_networks: Vec<Cidr>,
    pub ice_servers: Vec<String>,
    pub turn_secret: Option<String>,
    pub turn_ttl_secs: u32,
    pub instant_connect_position: u32,
    pub pause_video_on_weak_links: bool,
    pub audio_redundancy: bool,
}

/// The configuration as written (file, environment, flags), before validation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    /// A PostgreSQL server to keep the records in, instead of SQLite in `data_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<DatabaseUrl>,
    pub log: String,
    pub origins: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (CIDR ranges).
    pub trusted_proxies: Vec<String>,
    /// PEM certificate chain and private key: serve HTTPS/WSS directly. Both or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate for this domain, obtained and renewed over ACME.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `"self-signed"`: serve HTTPS with a certificate the server makes and keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    pub acme: AcmeFile,
    pub limits: Limits,
    pub media: MediaFile,
    pub cluster: ClusterFile,
    /// Seconds calls in progress may go on after SIGTERM before the server stops anyway.
    pub shutdown_grace_secs: u32,
    pub categories: Vec<Labelled>,
    pub stations: Vec<Labelled>,
    pub desks: Vec<DeskFile>,
}

impl Default for FileConfig {
    fn default() -> Self {
        // The example file is the single source of the defaults.
        toml_defaults()
    }
}

impl FileConfig {
    /// The defaults overlaid with the TOML `text`, as `--config` would read it (without
    /// the environment and flags). Not validated: call [`FileConfig::validate`].
    pub fn from_toml(text: &str) -> Result<FileConfig, ConfigError> {
        Figment::from(Toml::string(EXAMPLE))
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))
    }
}

fn toml_defaults() -> FileConfig {
    Figment::from(Toml::string(EXAMPLE))
        .extract()
        .expect("the embedded example configuration parses (checked by a test)")
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("listen: {0:?} is not an address such as 127.0.0.1:8080")]
    Listen(String),
    #[error("desk {desk}: {message}")]
    Desk { desk: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// A validated desk.
#[derive(Clone, Debug)]
pub struct DeskConfig {
    pub id: DeskId,
    pub name: String,
    pub prefix: String,
    pub schedule: ScheduleSpec,
    pub policy: Policy,
}

/// The validated configuration the server runs with.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where the records live.
    pub database: Database,
    pub log: String,
    /// Origins allowed to open the WebSocket, normalised (lowercase, no trailing '/').
    /// Empty: the server's own address (see `App::allowed_origins`).
    pub origins: Vec<String>,
    /// Peers whose `X-Forwarded-For` header names the client (see `http::limits::client_ip`).
    pub trusted_proxies: Vec<Cidr>,
    /// Serve TLS directly, with a certificate from files, ACME or made here.
    pub tls: Option<TlsSettings>,
    pub limits: Limits,
    pub media: MediaSettings,
    /// Several nodes sharing the database; `None` when this node owns every desk.
    pub cluster: Option<ClusterSettings>,
    /// How long calls in progress may go on after a shutdown is asked for.
    pub shutdown_grace: std::time::Duration,
    pub categories: Vec<Labelled>,
    pub stations: Vec<Labelled>,
    pub desks: Vec<DeskConfig>,
}

/// Values given on the command line; `None` leaves the lower layers alone.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<DatabaseUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
}

impl MediaFile {
    fn validate(&self) -> Result<MediaSettings, ConfigError> {
        let bad = |m: String| ConfigError::Invalid(format!("media.{m}"));
        let bind = match self.bind.trim() {
            "" => None,
            b => Some(
                b.parse()
                    .map_err(|_| bad(format!("bind: {b:?} is not an IP address")))?,
            ),
        };
        let announce = match self.announce.trim() {
            "" => None,
            a => Some(
                a.parse()
                    .map_err(|_| bad(format!("announce: {a:?} is not an IP address")))?,
            ),
        };
        let allowed_networks = self
            .allowed_networks
            .iter()
            .map(|c| Cidr::parse(c).map_err(|e| bad(format!("allowed_networks: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if self.enabled && allowed_networks.is_empty() {
            return Err(bad(
                "allowed_networks: list at least one network, or no browser can connect".into(),
            ));
        }
        for url in &self.ice_servers {
            if !["stun:", "turn:", "turns:"]
                .iter()
                .any(|p| url.starts_with(p))
            {
                return Err(bad(format!(
                    "ice_servers: {url:?} is not a stun:, turn: or turns: URL"
                )));
            }
        }
        let workers = match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n if n <= 64 => n as usize,
            n => return Err(bad(format!("workers: {n} is more than 64"))),
        };
        if self.base_port != 0 && usize::from(self.base_port) + workers > 65536 {
            return Err(bad("base_port: the workers' ports run past 65535".into()));
        }
        if self.turn_ttl_secs == 0 {
            return Err(bad("turn_ttl_secs: must be more than 0".into()));
        }
        let secret = self.turn_secret.trim();
        Ok(MediaSettings {
            enabled: self.enabled,
            bind,
            base_port: self.base_port,
            workers,
            announce,
            allowed_networks,
            ice_servers: self.ice_servers.clone(),
            turn_secret: (!secret.is_empty()).then(|| secret.to_owned()),
            turn_ttl_secs: self.turn_ttl_secs,
            instant_connect_position: self.instant_connect_position,
            pause_video_on_weak_links: self.pause_video_on_weak_links,
            audio_redundancy: self.audio_redundancy,
        })
    }
}

impl Config {
    /// Merges defaults < file < SUNWAI_* environment < flags, then validates.
    pub fn load(file: Option<&Path>, flags: &Overrides) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Toml::string(EXAMPLE));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.to_owned()));
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig
            .merge(Env::prefixed("SUNWAI_").split("__"))
            .merge(Serialized::defaults(flags));
        let raw: FileConfig = fig.extract().map_err(Box::new)?;
        raw.validate()
    }
}

fn secs(s: u32) -> SignedDuration {
    SignedDuration::from_secs(i64::from(s))
}

fn keys_ok(list: &[Labelled], what: &str) -> Result<(), ConfigError> {
    if list.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "{what}: at least one is needed"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for l in list {
        let ok = !l.key.is_empty()
            && l.key.len() <= 40
            && l.key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok {
            return Err(ConfigError::Invalid(format!(
                "{what}: key {:?} must be 1-40 of a-z, 0-9, '-', '_'",
                l.key
            )));
        }
        if !seen.insert(&l.key) {
            return Err(ConfigError::Invalid(format!(
                "{what}: key {:?} appears twice",
                l.key
            )));
        }
    }
    Ok(())
}

impl PolicyFile {
    fn validate(&self) -> Result<Policy, String> {
        let late_join = match self.late_join.as_str() {
            "carry_over" => LateJoin::CarryOver,
            "admit_with_warning" => LateJoin::AdmitWithWarning,
            other => {
                return Err(format!(
                    "late_join: {other:?} is not carry_over or admit_with_warning"
                ))
            }
        };
        let close = match self.close.as_str() {
            "serve_all" => ClosePolicy::ServeAll,
            "carry_over" => ClosePolicy::CarryOver,
            other => return Err(format!("close: {other:?} is not serve_all or carry_over")),
        };
        let within = |v: u32, lo: u32, hi: u32, name: &str| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name}: {v} is outside {lo}..={hi}"))
            }
        };
        within(self.offer_timeout_secs, 5, 600, "offer_timeout_secs")?;
        within(self.citizen_grace_secs, 5, 3600, "citizen_grace_secs")?;
        within(self.officer_grace_secs, 0, 3600, "officer_grace_secs")?;
        within(self.wrap_up_secs, 0, 1800, "wrap_up_secs")?;
        within(self.assumed_call_secs, 30, 7200, "assumed_call_secs")?;
        within(self.max_waiting, 1, 100_000, "max_waiting")?;
        Ok(Policy {
            offer_timeout: secs(self.offer_timeout_secs),
            citizen_grace: secs(self.citizen_grace_secs),
            officer_grace: secs(self.officer_grace_secs),
            wrap_up: secs(self.wrap_up_secs),
            assumed_call: secs(self.assumed_call_secs),
            late_join,
            close,
            max_waiting: self.max_waiting as usize,
        })
    }
}

impl FileConfig {
    pub fn validate(self) -> Result<Config, ConfigError> {
        let listen: SocketAddr = self
            .listen
            .parse()
            .map_err(|_| ConfigError::Listen(self.listen.clone()))?;
        let mut origins = Vec::new();
        for o in &self.origins {
            let n = o.trim().trim_end_matches('/').to_ascii_lowercase();
            let host = n
                .strip_prefix("https://")
                .or_else(|| n.strip_prefix("http://"));
            let ok = host.is_some_and(|h| !h.is_empty() && !h.contains('/'));
            if !ok {
                return Err(ConfigError::Invalid(format!(
                    "origins: {o:?} is not scheme://host[:port]"
                )));
            }
            origins.push(n);
        }
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|c| {
                Cidr::parse(c).map_err(|e| ConfigError::Invalid(format!("trusted_proxies: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let media = self.media.validate()?;
        let database =
            Database::choose(self.database_url, &self.data_dir).map_err(ConfigError::Invalid)?;
        let tls = tls::TlsInput {
            cert: self.tls_cert,
            key: self.tls_key,
            domain: self.domain.as_deref(),
            mode: self.tls.as_deref(),
            acme: &self.acme,
            listen,
        }
        .validate()?;
        let cluster = self.cluster.validate(&database, tls.is_some())?;
        let l = &self.limits;
        for (name, v) in [
            (
                "joins_per_minute_per_address",
                l.joins_per_minute_per_address,
            ),
            (
                "logins_per_minute_per_address",
                l.logins_per_minute_per_address,
            ),
            (
                "logins_per_minute_per_account",
                l.logins_per_minute_per_account,
            ),
            (
                "status_lookups_per_minute_per_address",
                l.status_lookups_per_minute_per_address,
            ),
            (
                "written_complaints_per_hour_per_address",
                l.written_complaints_per_hour_per_address,
            ),
            ("messages_per_second", l.messages_per_second),
            ("hello_timeout_secs", l.hello_timeout_secs),
            ("idle_timeout_secs", l.idle_timeout_secs),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!(
                    "limits.{name} must be at least 1"
                )));
            }
        }
        if self.shutdown_grace_secs > 3600 {
            return Err(ConfigError::Invalid(format!(
                "shutdown_grace_secs: {} is more than 3600",
                self.shutdown_grace_secs
            )));
        }
        keys_ok(&self.categories, "categories")?;
        keys_ok(&self.stations, "stations")?;
        if self.desks.is_empty() {
            return Err(ConfigError::Invalid(
                "desks: at least one desk is needed".into(),
            ));
        }
        let mut desks = Vec::with_capacity(self.desks.len());
        for d in &self.desks {
            let err = |message: String| ConfigError::Desk {
                desk: d.id.clone(),
                message,
            };
            let id = DeskId::parse(&d.id).map_err(|e| err(e.to_string()))?;
            if desks.iter().any(|x: &DeskConfig| x.id == id) {
                return Err(err("appears twice".into()));
            }
            let name = d.name.trim();
            if name.is_empty() || name.chars().count() > 80 {
                return Err(err("name must be 1 to 80 characters".into()));
            }
            if !(2..=6).contains(&d.prefix.len())
                || !d.prefix.bytes().all(|b| b.is_ascii_uppercase())
            {
                return Err(err(format!(
                    "prefix {:?} must be 2 to 6 letters A-Z",
                    d.prefix
                )));
            }
            let schedule =
                ScheduleSpec::parse(&d.time_zone, &d.windows, &d.weekdays, &d.closed_dates)
                    .map_err(|e| err(e.to_string()))?;
            let policy = d.policy.validate().map_err(err)?;
            desks.push(DeskConfig {
                id,
                name: name.to_owned(),
                prefix: d.prefix.clone(),
                schedule,
                policy,
            });
        }
        Ok(Config {
            listen,
            data_dir: self.data_dir,
            database,
            log: self.log,
            origins,
            trusted_proxies,
            tls,
            limits: self.limits,
            media,
            cluster,
            shutdown_grace: std::time::Duration::from_secs(u64::from(self.shutdown_grace_secs)),
            categories: self.categories,
            stations: self.stations,
            desks,
        })
    }
}

impl Config {
    pub fn category_keys(&self) -> Vec<String> {
        self.categories.iter().map(|c| c.key.clone()).collect()
    }
    pub fn station(&self, key: &str) -> Option<&Labelled> {
        self.stations.iter().find(|s| s.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_the_defaults_and_valid() {
        let c = FileConfig::default().validate().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(
            c.listen.ip().is_loopback(),
            "nothing listens beyond loopback by default"
        );
        assert_eq!(c.desks.len(), 1);
        assert_eq!(c.desks[0].policy, Policy::default());
        assert!(c.categories.iter().any(|x| x.key == "other"));
        assert!(
            matches!(c.database, Database::Sqlite { ref dir } if *dir == c.data_dir),
            "records in SQLite in the data directory by default"
        );
    }

    #[test]
    fn bad_settings_are_named() {
        type Mutation = fn(&mut FileConfig);
        let cases: Vec<(Mutation, &str)> = vec![
            (|c| c.listen = "8080".into(), "listen"),
            (|c| c.desks[0].id = "SSP Prayagraj".into(), "desk id"),
            (|c| c.desks[0].prefix = "pry".into(), "prefix"),
            (
                |c| c.desks[0].windows = vec!["14:00-12:00".into()],
                "window",
            ),
            (|c| c.desks[0].time_zone = "Mars/Olympus".into(), "zone"),
            (|c| c.desks[0].policy.close = "never".into(), "close"),
            (
                |c| c.desks[0].policy.offer_timeout_secs = 0,
                "offer_timeout_secs",
            ),
            (|c| c.desks.clear(), "desks"),
            (|c| c.categories[1].key = "theft".into(), "twice"),
            (
                |c| c.trusted_proxies = vec!["10.0.0.1/8".into()],
                "trusted_proxies",
            ),
            (|c| c.tls_cert = Some("cert.pem".into()), "tls_key"),
            (
                |c| c.database_url = Some(DatabaseUrl::new("sqlite://x.db")),
                "database_url",
            ),
        ];
        for (mutate, what) in cases {
            let mut c = FileConfig::default();
            mutate(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(!e.is_empty(), "{what}");
        }
        let c = FileConfig {
            trusted_proxies: vec!["127.0.0.1/32".into(), "::1".into()],
            tls_cert: Some("cert.pem".into()),
            tls_key: Some("key.pem".into()),
            ..FileConfig::default()
        };
        let c = c.validate().unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        match c.tls.unwrap().source {
            TlsSource::Files(f) => assert_eq!(f.key, PathBuf::from("key.pem")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sunwai.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9001\"\ndata_dir = \"/srv/x\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), &Overrides::default()).unwrap();
        assert_eq!(c.listen.port(), 9001);
        let flags = Overrides {
            listen: Some("127.0.0.1:9002".into()),
            ..Overrides::default()
        };
        let c = Config::load(Some(&path), &flags).unwrap();
        assert_eq!(c.listen.port(), 9002);
        assert_eq!(c.data_dir, PathBuf::from("/srv/x"));
        assert_eq!(
            c.database,
            Database::Sqlite {
                dir: "/srv/x".into()
            }
        );
        let url = "postgres://sunwai:pw@db.example/sunwai";
        let flags = Overrides {
            database_url: Some(DatabaseUrl::new(url)),
            ..Overrides::default()
        };
        let c = Config::load(Some(&path), &flags).unwrap();
        assert_eq!(c.database, Database::Postgres(DatabaseUrl::new(url)));
        assert!(matches!(
            Config::load(Some(&dir.path().join("nope.toml")), &flags),
            Err(ConfigError::MissingFile(_))
        ));
    }
}
