//! Where the server's certificate comes from: files (`tls_cert`, `tls_key`), a domain with
//! automatic certificates over ACME (`domain` and the `[acme]` section), or a certificate
//! it makes for itself (`tls = "self-signed"`, for a trial on a LAN). At most one of them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Let's Encrypt's production directory: the default ACME server.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// The `[acme]` section as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AcmeFile {
    pub directory: String,
    pub contact: String,
    pub ca_file: String,
    pub challenge: String,
    pub http_listen: String,
    pub renew_days: u32,
    pub check_hours: u32,
}

/// A PEM certificate chain and its private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Which ACME challenge proves the domain is ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// TLS-ALPN-01 on the HTTPS port (nothing else needs to be open), else HTTP-01.
    Auto,
    TlsAlpn01,
    Http01,
}

/// Validated ACME settings.
#[derive(Clone, Debug)]
pub struct AcmeSettings {
    pub domain: String,
    pub directory: String,
    /// `mailto:` URLs the ACME server may write to about the certificate.
    pub contact: Vec<String>,
    /// Trust this CA (PEM) for the ACME server's own HTTPS, instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    pub challenge: Challenge,
    pub renew_before: Duration,
    pub check_every: Duration,
}

/// Where the certificate comes from.
#[derive(Clone, Debug)]
pub enum TlsSource {
    Files(TlsFiles),
    Acme(Box<AcmeSettings>),
    SelfSigned,
}

/// TLS as validated: the certificate's source, and the plain-HTTP listener that redirects
/// to HTTPS (and answers ACME's HTTP-01 challenges).
#[derive(Clone, Debug)]
pub struct TlsSettings {
    pub source: TlsSource,
    pub http_listen: Option<SocketAddr>,
}

/// The TLS settings as written: `tls_cert`/`tls_key`, `domain`, `tls` and `[acme]`.
pub(super) struct TlsInput<'a> {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub domain: Option<&'a str>,
    pub mode: Option<&'a str>,
    pub acme: &'a AcmeFile,
    pub listen: SocketAddr,
}

impl TlsInput<'_> {
    pub(super) fn validate(self) -> Result<Option<TlsSettings>, ConfigError> {
        let bad = |m: String| ConfigError::Invalid(m);
        let files = match (self.cert, self.key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err(bad("tls_cert and tls_key: give both (or neither)".into())),
        };
        let domain = self.domain.map(str::trim).filter(|d| !d.is_empty());
        let self_signed = match self.mode.map(str::trim).filter(|m| !m.is_empty()) {
            None => false,
            Some("self-signed") => true,
            Some(other) => {
                return Err(bad(format!(
                    "tls: {other:?} is not a mode; the one mode is \"self-signed\" (for files use tls_cert and tls_key, for automatic certificates domain)"
                )))
            }
        };
        let chosen = [files.is_some(), domain.is_some(), self_signed];
        if chosen.iter().filter(|c| **c).count() > 1 {
            return Err(bad(
                "tls_cert/tls_key, domain and tls = \"self-signed\": choose one way to get the certificate".into(),
            ));
        }
        let source = match (files, domain) {
            (Some(files), _) => TlsSource::Files(files),
            (None, Some(domain)) => TlsSource::Acme(Box::new(self.acme.validate(domain)?)),
            (None, None) if self_signed => TlsSource::SelfSigned,
            (None, None) => return Ok(None),
        };
        let http_listen = match self.acme.http_listen.trim() {
            "off" => None,
            // With a domain, port 80 on the address HTTPS listens on.
            "" if matches!(source, TlsSource::Acme(_)) => {
                Some(SocketAddr::new(self.listen.ip(), 80))
            }
            "" => None,
            a => Some(a.parse().map_err(|_| {
                bad(format!(
                    "acme.http_listen: {a:?} is not an address such as 0.0.0.0:80 (or \"off\")"
                ))
            })?),
        };
        if matches!(source, TlsSource::Acme(ref a) if a.challenge == Challenge::Http01)
            && http_listen.is_none()
        {
            return Err(bad(
                "acme.challenge = \"http-01\" needs acme.http_listen (port 80 reachable from the internet)".into(),
            ));
        }
        Ok(Some(TlsSettings {
            source,
            http_listen,
        }))
    }
}

impl AcmeFile {
    fn validate(&self, domain: &str) -> Result<AcmeSettings, ConfigError> {
        let bad = |m: String| ConfigError::Invalid(m);
        let domain = domain.to_ascii_lowercase();
        if !is_domain(&domain) {
            return Err(bad(format!(
                "domain: {domain:?} is not a host name such as hearing.example.org (an IP address cannot have a certificate from ACME)"
            )));
        }
        let directory = self.directory.trim();
        if !directory.starts_with("https://") {
            return Err(bad(format!(
                "acme.directory: {directory:?} is not an https:// URL"
            )));
        }
        let contact = self
            .contact
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| {
                let c = if c.starts_with("mailto:") {
                    c.to_owned()
                } else {
                    format!("mailto:{c}")
                };
                if c.len() > 8 && c.contains('@') {
                    Ok(c)
                } else {
                    Err(bad(format!("acme.contact: {c:?} is not an e-mail address")))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let challenge = match self.challenge.trim() {
            "auto" => Challenge::Auto,
            "tls-alpn-01" => Challenge::TlsAlpn01,
            "http-01" => Challenge::Http01,
            other => {
                return Err(bad(format!(
                    "acme.challenge: {other:?} is not auto, tls-alpn-01 or http-01"
                )))
            }
        };
        if !(1..=60).contains(&self.renew_days) {
            return Err(bad(format!(
                "acme.renew_days: {} is not between 1 and 60",
                self.renew_days
            )));
        }
        if !(1..=24).contains(&self.check_hours) {
            return Err(bad(format!(
                "acme.check_hours: {} is not between 1 and 24",
                self.check_hours
            )));
        }
        let ca_file = Some(self.ca_file.trim())
            .filter(|f| !f.is_empty())
            .map(PathBuf::from);
        Ok(AcmeSettings {
            domain,
            directory: directory.to_owned(),
            contact,
            ca_file,
            challenge,
            renew_before: Duration::from_secs(u64::from(self.renew_days) * 86_400),
            check_every: Duration::from_secs(u64::from(self.check_hours) * 3600),
        })
    }
}

/// A DNS host name with at least two labels, each of letters, digits and inner hyphens.
fn is_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && !labels.last().unwrap().bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> AcmeFile {
        AcmeFile {
            directory: LETS_ENCRYPT.into(),
            contact: String::new(),
            ca_file: String::new(),
            challenge: "auto".into(),
            http_listen: String::new(),
            renew_days: 30,
            check_hours: 12,
        }
    }

    fn input<'a>(acme: &'a AcmeFile) -> TlsInput<'a> {
        TlsInput {
            cert: None,
            key: None,
            domain: None,
            mode: None,
            acme,
            listen: "0.0.0.0:443".parse().unwrap(),
        }
    }

    #[test]
    fn a_domain_gets_acme_with_port_80_beside_https() {
        let a = acme();
        let t = TlsInput {
            domain: Some("Hearing.Example.org"),
            ..input(&a)
        }
        .validate()
        .unwrap()
        .unwrap();
        let TlsSource::Acme(s) = t.source else {
            panic!("acme")
        };
        assert_eq!(s.domain, "hearing.example.org");
        assert_eq!(s.challenge, Challenge::Auto);
        assert_eq!(s.renew_before, Duration::from_secs(30 * 86_400));
        assert_eq!(t.http_listen, Some("0.0.0.0:80".parse().unwrap()));
        assert!(input(&a).validate().unwrap().is_none(), "no TLS by default");
    }

    #[test]
    fn bad_tls_settings_are_named() {
        let a = acme();
        let cases: Vec<(TlsInput, &str)> = vec![
            (
                TlsInput {
                    domain: Some("192.168.1.10"),
                    ..input(&a)
                },
                "domain",
            ),
            (
                TlsInput {
                    domain: Some("localhost"),
                    ..input(&a)
                },
                "domain",
            ),
            (
                TlsInput {
                    domain: Some("x.example.org"),
                    mode: Some("self-signed"),
                    ..input(&a)
                },
                "choose one",
            ),
            (
                TlsInput {
                    mode: Some("auto"),
                    ..input(&a)
                },
                "self-signed",
            ),
            (
                TlsInput {
                    cert: Some("c.pem".into()),
                    ..input(&a)
                },
                "tls_key",
            ),
        ];
        for (i, want) in cases {
            let e = i.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        for (edit, want) in [
            (
                (|a: &mut AcmeFile| a.directory = "http://acme.test/dir".into())
                    as fn(&mut AcmeFile),
                "acme.directory",
            ),
            (|a| a.challenge = "dns-01".into(), "acme.challenge"),
            (|a| a.renew_days = 0, "acme.renew_days"),
            (|a| a.contact = "nobody".into(), "acme.contact"),
            (|a| a.http_listen = "port 80".into(), "acme.http_listen"),
            (
                |a| {
                    a.challenge = "http-01".into();
                    a.http_listen = "off".into();
                },
                "needs acme.http_listen",
            ),
        ] {
            let mut a = acme();
            edit(&mut a);
            let e = TlsInput {
                domain: Some("hearing.example.org"),
                ..input(&a)
            }
            .validate()
            .unwrap_err()
            .to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn self_signed_and_files() {
        let a = acme();
        let t = TlsInput {
            mode: Some("self-signed"),
            ..input(&a)
        }
        .validate()
        .unwrap()
        .unwrap();
        assert!(matches!(t.source, TlsSource::SelfSigned));
        let t = TlsInput {
            cert: Some("c.pem".into()),
            key: Some("k.pem".into()),
            ..input(&a)
        }
        .validate()
        .unwrap()
        .unwrap();
        assert!(matches!(t.source, TlsSource::Files(_)));
    }
}
