//! `sunwai doctor`: is this deployment ready for citizens? A checklist of what goes wrong
//! on day one (the configuration, the certificate and its domain, the database, the staff
//! accounts, the media ports and the address browsers are told, the clock, the disk),
//! each with what to do about it. Read-only apart from what opening the database does
//! (its migrations); safe to run beside the server.

mod turn;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;

use serde::Serialize;

use crate::config::{Config, TlsSource};
use crate::store::Role;
use crate::tls::certs::{self, CertInfo};

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    /// Works, but look at it.
    Warn,
    /// Citizens will not get through until it is fixed.
    Fail,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub level: Level,
    pub detail: String,
    /// What to do, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            level: Level::Ok,
            detail: detail.into(),
            fix: None,
        }
    }
    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            level: Level::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            level: Level::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Every check's outcome, in order.
#[derive(Debug, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.level == Level::Fail)
    }

    /// The checklist as a person reads it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let mark = match c.level {
                Level::Ok => "✓",
                Level::Warn => "!",
                Level::Fail => "✗",
            };
            out.push_str(&format!("{mark} {}: {}\n", c.name, c.detail));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("    fix: {fix}\n"));
            }
        }
        let (fails, warns) = self.checks.iter().fold((0, 0), |(f, w), c| match c.level {
            Level::Fail => (f + 1, w),
            Level::Warn => (f, w + 1),
            Level::Ok => (f, w),
        });
        out.push_str(&match (fails, warns) {
            (0, 0) => "ready.\n".to_owned(),
            (0, w) => format!("ready, with {w} thing(s) to look at.\n"),
            (f, _) => format!("not ready: {f} problem(s) to fix.\n"),
        });
        out
    }
}

/// Runs every check on `config` (already loaded: a configuration that does not load is
/// reported by the caller as the first, failed check).
pub async fn run(config: &Config) -> Report {
    let mut checks = vec![Check::ok(
        "configuration",
        format!(
            "{} desk(s), listening on {}",
            config.desks.len(),
            config.listen
        ),
    )];
    checks.extend(certificate(config).await);
    checks.extend(database_and_staff(config).await);
    checks.extend(media(config));
    checks.extend(relays(config).await);
    checks.push(clock());
    checks.push(disk(&config.data_dir));
    Report { checks }
}

/// The check that stands for a configuration that does not load.
pub fn bad_configuration(error: &anyhow::Error) -> Report {
    Report {
        checks: vec![Check::fail(
            "configuration",
            format!("{error:#}"),
            "correct the setting named above (`sunwai config example` shows every setting with its default)",
        )],
    }
}

/// Days from now until `t` (negative when past).
fn days_left(t: jiff::Timestamp) -> i64 {
    t.duration_since(jiff::Timestamp::now()).as_secs() / 86_400
}

/// Validity and days left of a certificate: fails when expired or not yet valid, warns
/// under `warn_days`.
fn validity(name: &'static str, what: &str, info: &CertInfo, warn_days: i64, fix: &str) -> Check {
    let now = jiff::Timestamp::now();
    let left = days_left(info.not_after);
    let names = info.names.join(", ");
    if info.not_after <= now {
        Check::fail(
            name,
            format!("{what} for {names} expired on {}", info.not_after),
            fix,
        )
    } else if info.not_before > now {
        Check::fail(
            name,
            format!("{what} for {names} is valid only from {}", info.not_before),
            "check the clock of this machine (and of whoever made the certificate)",
        )
    } else if left < warn_days {
        Check::warn(name, format!("{what} for {names}: {left} day(s) left"), fix)
    } else {
        Check::ok(name, format!("{what} for {names}: {left} days left"))
    }
}

async fn certificate(config: &Config) -> Vec<Check> {
    const NAME: &str = "certificate";
    let Some(tls) = &config.tls else {
        let behind_proxy =
            !config.origins.is_empty() && config.origins.iter().all(|o| o.starts_with("https://"));
        return vec![if config.listen.ip().is_loopback() || behind_proxy {
            Check::ok(
                NAME,
                "none here: plain HTTP (behind an HTTPS proxy, or a trial on this machine)",
            )
        } else {
            Check::fail(
                NAME,
                format!("plain HTTP on {}: phones give the camera only to HTTPS pages", config.listen),
                "set domain = \"your.name\" (automatic certificate), or tls_cert and tls_key, or serve behind an HTTPS proxy and list its origin in origins",
            )
        }];
    };
    match &tls.source {
        TlsSource::Files(f) => {
            match certs::from_pem_files(&f.cert, &f.key, "tls_cert", "tls_key")
                .and_then(|ck| certs::info(&ck))
            {
                Ok(info) => {
                    let mut out = vec![validity(
                        NAME,
                        "tls_cert",
                        &info,
                        14,
                        "renew the certificate files, then restart outside the hearing window",
                    )];
                    let hosts: Vec<String> = config
                        .origins
                        .iter()
                        .filter_map(|o| o.strip_prefix("https://"))
                        .map(|h| h.split(':').next().unwrap_or(h).to_owned())
                        .collect();
                    if !hosts.is_empty() && !hosts.iter().any(|h| covers(&info.names, h)) {
                        out.push(Check::warn(
                            "certificate names",
                            format!(
                                "the certificate is for {}, the origins are {}",
                                info.names.join(", "),
                                hosts.join(", ")
                            ),
                            "use a certificate for the name citizens open",
                        ));
                    }
                    out
                }
                Err(e) => vec![Check::fail(
                    NAME,
                    format!("{e:#}"),
                    "point tls_cert and tls_key at a readable PEM chain and its key",
                )],
            }
        }
        TlsSource::SelfSigned if !config.data_dir.join("tls/self-signed.crt").exists() => {
            vec![Check::warn(
                NAME,
                "self-signed, not made yet",
                "start the server once: it makes the certificate and prints its fingerprint",
            )]
        }
        TlsSource::SelfSigned => match crate::tls::self_signed(&config.data_dir, config.listen) {
            Ok((_, info)) => vec![validity(
                NAME,
                &format!("self-signed (SHA-256 {})", info.fingerprint),
                &info,
                14,
                "delete data_dir/tls/ and restart to make a new one",
            )],
            Err(e) => vec![Check::fail(
                NAME,
                format!("{e:#}"),
                "make data_dir writable by the server's user",
            )],
        },
        TlsSource::Acme(a) => {
            let mut out = vec![dns(&a.domain).await];
            let kept = config
                .data_dir
                .join("acme")
                .join(format!("{}.crt", a.domain));
            let key = config
                .data_dir
                .join("acme")
                .join(format!("{}.key", a.domain));
            let renew_days = (a.renew_before.as_secs() / 86_400) as i64;
            out.push(if !kept.exists() {
                Check::warn(
                    NAME,
                    format!("none obtained yet for {}", a.domain),
                    "start the server: it obtains one within seconds when the domain's DNS points here and port 443 is open (its log says why not)",
                )
            } else {
                match certs::from_pem_files(&kept, &key, "kept certificate", "kept key").and_then(|ck| certs::info(&ck)) {
                    Ok(info) => validity(
                        NAME,
                        &format!("from {}", a.directory),
                        &info,
                        // Renewal starts at renew_days; well under it, renewal is failing.
                        (renew_days / 2).max(1),
                        "renewal is failing: read the server's log (`acme:` lines) for the certificate authority's reason",
                    ),
                    Err(e) => Check::fail(NAME, format!("{e:#}"), "delete data_dir/acme/ and restart: a new certificate is ordered"),
                }
            });
            out
        }
    }
}

/// Whether a certificate for `names` covers `host` (exactly, or one `*.` label).
fn covers(names: &[String], host: &str) -> bool {
    names.iter().any(|n| {
        n.eq_ignore_ascii_case(host)
            || n.strip_prefix("*.").is_some_and(|base| {
                host.split_once('.')
                    .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(base))
            })
    })
}

/// The domain resolves, and to an address of this machine (or, behind a NAT, not).
async fn dns(domain: &str) -> Check {
    const NAME: &str = "domain";
    let addrs: Vec<IpAddr> = match tokio::net::lookup_host((domain, 443)).await {
        Ok(it) => it.map(|a| a.ip()).collect(),
        Err(e) => {
            return Check::fail(
                NAME,
                format!("{domain} does not resolve: {e}"),
                format!("add a DNS A record for {domain} pointing at this server's public address"),
            )
        }
    };
    let shown: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
    if addrs.iter().any(|ip| is_local(*ip)) {
        Check::ok(
            NAME,
            format!("{domain} → {} (this machine)", shown.join(", ")),
        )
    } else {
        Check::warn(
            NAME,
            format!("{domain} → {}, not an address of this machine", shown.join(", ")),
            "fine behind a NAT or load balancer that forwards ports 443 and 80 here; otherwise correct the DNS record",
        )
    }
}

/// Whether `ip` is an address of this machine (a socket can be bound to it).
fn is_local(ip: IpAddr) -> bool {
    UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

async fn database_and_staff(config: &Config) -> Vec<Check> {
    let store = match crate::open_store(&config.database).await {
        Ok(s) => s,
        Err(e) => {
            return vec![Check::fail(
                "database",
                format!("{} cannot be opened: {e}", config.database),
                "check that data_dir is writable by the server's user, or that the PostgreSQL server in database_url is running and the user may connect",
            )]
        }
    };
    let mut out = vec![match writable(config) {
        Ok(()) => Check::ok(
            "database",
            format!("{}: open, schema up to date, writable", config.database),
        ),
        Err(e) => Check::fail(
            "database",
            format!("{}: {e}", config.database),
            "run the doctor as the server's user (sudo -u sunwai), and give that user the data directory",
        ),
    }];
    out.push(match store.list_users().await {
        Ok(users) => {
            let active: Vec<_> = users.iter().filter(|u| !u.disabled).collect();
            let supervisors = active.iter().filter(|u| u.role == Role::Supervisor).count();
            let officers = active.len() - supervisors;
            if active.is_empty() {
                Check::fail(
                    "staff accounts",
                    "none: nobody can sign in to take calls",
                    "sunwai user add --role supervisor --name admin (with the same --config), then officers with --role officer --desk DESK",
                )
            } else if supervisors == 0 || officers == 0 {
                Check::warn(
                    "staff accounts",
                    format!("{supervisors} supervisor(s), {officers} officer(s)"),
                    "add the missing role with `sunwai user add`",
                )
            } else {
                Check::ok(
                    "staff accounts",
                    format!("{supervisors} supervisor(s), {officers} officer(s)"),
                )
            }
        }
        Err(e) => Check::fail("staff accounts", format!("cannot be read: {e}"), "check the database"),
    });
    store.close().await;
    out
}

/// Whether the server's user can write where SQLite keeps the records (PostgreSQL: opening
/// it, with its migrations, already showed the connection works).
fn writable(config: &Config) -> Result<(), String> {
    let crate::config::Database::Sqlite { dir } = &config.database else {
        return Ok(());
    };
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    std::fs::write(&probe, b"probe")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("{} is not writable: {e}", dir.display()))
}

fn media(config: &Config) -> Vec<Check> {
    let m = &config.media;
    if !m.enabled {
        return vec![Check::warn(
            "media",
            "off: calls connect without audio or video",
            "set [media] enabled = true",
        )];
    }
    let ip = crate::sfu::media_bind(config.listen.ip(), m.bind);
    let mut out = Vec::new();
    if m.base_port == 0 {
        out.push(Check::warn(
            "media ports",
            "chosen by the system at start (base_port = 0): a firewall cannot be opened for them",
            "set [media] base_port (default 40000) and open UDP base_port and up",
        ));
    } else {
        let last = m.base_port as usize + m.workers.max(1) - 1;
        let busy: Vec<u16> = (m.base_port as usize..=last)
            .map(|p| p as u16)
            .filter(|p| UdpSocket::bind(SocketAddr::new(ip, *p)).is_err())
            .collect();
        let range = format!("UDP {ip}:{}–{last}", m.base_port);
        out.push(if busy.is_empty() {
            Check::ok("media ports", format!("{range} free to bind; open them in the firewall"))
        } else {
            Check::warn(
                "media ports",
                format!("{range}: {} in use", busy.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")),
                "fine if sunwai is running; otherwise another program holds them: stop it or change [media] base_port",
            )
        });
    }
    let told = m.announce.unwrap_or(ip);
    out.push(if !is_local(told) {
        Check::warn(
            "media address",
            format!("browsers are told {told}, which is not an address of this machine"),
            "fine behind a NAT that forwards the media ports here; otherwise correct [media] announce",
        )
    } else if is_private(told) && !config.listen.ip().is_loopback() {
        Check::warn(
            "media address",
            format!("browsers are told {told}, a private address: callers on the internet cannot reach it"),
            "set [media] announce to the public address (with the router forwarding the media ports here)",
        )
    } else if told.is_loopback() && !config.listen.ip().is_loopback() {
        Check::fail(
            "media address",
            format!("browsers are told {told}: only this machine can reach it"),
            "set [media] bind or announce to the address callers reach",
        )
    } else {
        Check::ok("media address", format!("browsers are told {told}"))
    });
    out
}

/// Each configured TURN server: a real allocation with the credentials a browser gets.
async fn relays(config: &Config) -> Vec<Check> {
    const NAME: &str = "TURN";
    let m = &config.media;
    if !m.enabled {
        return Vec::new();
    }
    let urls: Vec<&String> = m
        .ice_servers
        .iter()
        .filter(|u| u.starts_with("turn:") || u.starts_with("turns:"))
        .collect();
    if urls.is_empty() {
        return vec![Check::warn(
            NAME,
            "no relay configured: callers whose network blocks UDP (some offices and mobile networks) hear nothing",
            "run coturn and list it in [media] ice_servers with turn_secret (deployment.md, \"Media relay\")",
        )];
    }
    let now = jiff::Timestamp::now().as_second();
    let creds = crate::http::media::ice_servers(m, now, "doctor")
        .into_iter()
        .find_map(|s| s.username.zip(s.credential));
    let Some((user, pass)) = creds else {
        return vec![Check::fail(
            NAME,
            "no turn_secret: browsers get TURN URLs without credentials",
            "set [media] turn_secret to coturn's static-auth-secret",
        )];
    };
    let mut out = Vec::new();
    for url in urls {
        let check = match turn::Target::parse(url) {
            Err(e) => Check::fail(NAME, format!("{e:#}"), "correct the URL in [media] ice_servers"),
            Ok(target) => match turn::allocate(&target, &user, &pass).await {
                Ok(relayed) => Check::ok(NAME, format!("{url}: relay {relayed} allocated and given back")),
                Err(e) => Check::fail(
                    NAME,
                    format!("{url}: {e:#}"),
                    "check that coturn runs and listens there, that the port is open, and its certificate (turns:) is valid for the name",
                ),
            },
        };
        out.push(check);
    }
    out
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_private()
                || v.is_link_local()
                || (v.octets()[0] == 100 && (64..128).contains(&v.octets()[1]))
        }
        IpAddr::V6(v) => {
            (v.segments()[0] & 0xfe00) == 0xfc00 || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// The clock: certificates, tokens and the hearing window all depend on it.
fn clock() -> Check {
    let synced = std::process::Command::new("timedatectl")
        .args(["show", "-p", "NTPSynchronized", "--value"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "yes")
        .or_else(|| {
            Path::new("/run/systemd/timesync/synchronized")
                .exists()
                .then_some(true)
        });
    clock_says(jiff::Timestamp::now(), synced)
}

/// The clock check for the time `now` and whether NTP says it is synchronised.
fn clock_says(now: jiff::Timestamp, synced: Option<bool>) -> Check {
    const NAME: &str = "clock";
    if now.as_second() < 1_767_225_600 {
        // Before 2026: certainly wrong.
        return Check::fail(
            NAME,
            format!("the clock says {now}"),
            "set the time and enable NTP (timedatectl set-ntp true)",
        );
    }
    match synced {
        Some(true) => Check::ok(NAME, format!("{now}, synchronised over NTP")),
        Some(false) => Check::warn(
            NAME,
            format!("{now}, not synchronised"),
            "enable NTP: timedatectl set-ntp true",
        ),
        None => Check::warn(
            NAME,
            format!("{now}; whether it is synchronised is unknown (no timedatectl)"),
            "keep the clock on NTP (chrony or systemd-timesyncd)",
        ),
    }
}

/// Free space where the database and certificates live.
fn disk(dir: &Path) -> Check {
    const NAME: &str = "disk";
    // The nearest existing ancestor: a data directory made on first start may not exist yet.
    let mut at = dir;
    while !at.exists() {
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => break,
        }
    }
    let out = std::process::Command::new("df").arg("-Pk").arg(at).output();
    let free_kib = out.ok().and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)
            .and_then(|l| {
                l.split_whitespace()
                    .nth(3)
                    .and_then(|n| n.parse::<u64>().ok())
            })
    });
    let Some(kib) = free_kib else {
        return Check::warn(
            NAME,
            format!("free space at {} unknown (no df)", at.display()),
            "check it by hand",
        );
    };
    let gib = kib as f64 / (1024.0 * 1024.0);
    let detail = format!("{gib:.1} GiB free at {}", at.display());
    if gib < 1.0 {
        Check::fail(
            NAME,
            detail,
            "free some space: the records need room to be written",
        )
    } else if gib < 5.0 {
        Check::warn(
            NAME,
            detail,
            "a year of records and backups needs more: free some space",
        )
    } else {
        Check::ok(NAME, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_names_cover_hosts() {
        let names = vec![
            "hearing.example.org".to_owned(),
            "*.police.example".to_owned(),
        ];
        assert!(covers(&names, "hearing.example.org"));
        assert!(covers(&names, "prayagraj.police.example"));
        assert!(!covers(&names, "a.b.police.example"));
        assert!(!covers(&names, "example.org"));
    }

    #[test]
    fn private_addresses() {
        for ip in [
            "10.1.2.3",
            "192.168.1.10",
            "172.16.0.1",
            "100.64.0.1",
            "fd00::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["203.0.113.5", "8.8.8.8", "2001:db8::1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_clock_before_2026_fails_and_without_ntp_warns() {
        let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        assert_eq!(
            clock_says(t("2001-01-01T00:00:00Z"), Some(true)).level,
            Level::Fail
        );
        assert_eq!(
            clock_says(t("2026-12-08T06:30:00Z"), Some(true)).level,
            Level::Ok
        );
        assert_eq!(
            clock_says(t("2026-12-08T06:30:00Z"), Some(false)).level,
            Level::Warn
        );
        assert_eq!(
            clock_says(t("2026-12-08T06:30:00Z"), None).level,
            Level::Warn
        );
    }

    #[test]
    fn the_checklist_says_what_to_fix() {
        let r = Report {
            checks: vec![
                Check::ok("database", "open"),
                Check::fail("staff accounts", "none", "sunwai user add"),
            ],
        };
        assert!(r.failed());
        let t = r.text();
        assert!(t.contains("✓ database: open"), "{t}");
        assert!(
            t.contains("✗ staff accounts: none\n    fix: sunwai user add"),
            "{t}"
        );
        assert!(t.ends_with("not ready: 1 problem(s) to fix.\n"), "{t}");
    }
}
