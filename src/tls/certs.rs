//! The certificate the server presents, which can change while it runs (an ACME renewal),
//! and the short-lived ones that answer ACME's TLS-ALPN-01 challenges.
//!
//! Is: a rustls certificate resolver with one current certificate and a table of challenge
//! certificates by domain; reading PEM files; what a certificate says (names, expiry,
//! fingerprint); making a self-signed certificate. Is not: where certificates come from
//! (`acme`, files, `self_signed` below) or the listener.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{bail, Context};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// The ALPN protocol of ACME's TLS-ALPN-01 challenge (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The certificate every handshake gets, and the challenge certificates for ACME's
/// validation handshakes (those that ask only for `acme-tls/1`).
#[derive(Debug)]
pub struct Certs {
    current: RwLock<Arc<CertifiedKey>>,
    challenges: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl Certs {
    pub fn new(first: Arc<CertifiedKey>) -> Arc<Certs> {
        Arc::new(Certs {
            current: RwLock::new(first),
            challenges: Mutex::new(HashMap::new()),
        })
    }

    /// From now on, handshakes get `cert` (connections already open keep theirs).
    pub fn replace(&self, cert: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = cert;
    }

    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Answers TLS-ALPN-01 validation handshakes for `domain` with `cert`, until
    /// [`Certs::forget_challenge`].
    pub fn set_challenge(&self, domain: &str, cert: Arc<CertifiedKey>) {
        self.challenges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(domain.to_owned(), cert);
    }

    pub fn forget_challenge(&self, domain: &str) {
        self.challenges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(domain);
    }
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let acme = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if acme {
            // Only a validation handshake asks for this protocol; it gets the challenge
            // certificate for the name it asks about, or none (the handshake fails).
            let name = hello.server_name()?;
            return self
                .challenges
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(name)
                .cloned();
        }
        Some(self.current())
    }
}

/// A certificate chain and its private key, as rustls uses them.
pub fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'_>,
) -> anyhow::Result<Arc<CertifiedKey>> {
    let signing = tokio_rustls::rustls::crypto::ring::sign::any_supported_type(key)
        .context("the private key is not of a supported type")?;
    let ck = CertifiedKey::new(chain, signing);
    ck.keys_match()
        .context("the certificate and the private key do not belong together")?;
    Ok(Arc::new(ck))
}

/// A chain and key from PEM text.
pub fn from_pem(chain_pem: &str, key_pem: &str) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("not a PEM certificate chain")?;
    if chain.is_empty() {
        bail!("holds no certificate");
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).context("no PEM private key")?;
    certified(chain, &key)
}

/// A chain and key from PEM files; errors name the file (as `what_cert`, `what_key`).
pub fn from_pem_files(
    cert: &Path,
    key: &Path,
    what_cert: &str,
    what_key: &str,
) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!(
                "{what_cert} {}: not a PEM certificate chain",
                cert.display()
            )
        })?;
    if chain.is_empty() {
        bail!("{what_cert} {}: holds no certificate", cert.display());
    }
    let key_der = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "{what_key} {}: no PEM private key could be read",
            key.display()
        )
    })?;
    certified(chain, &key_der)
        .with_context(|| format!("{what_cert} and {what_key} do not make a usable pair"))
}

/// What a certificate says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// DNS names and IP addresses it is for.
    pub names: Vec<String>,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// SHA-256 of the DER, as colon-separated upper-case hex (what browsers show).
    pub fingerprint: String,
    pub self_signed: bool,
}

/// Reads the leaf certificate of `ck`.
pub fn info(ck: &CertifiedKey) -> anyhow::Result<CertInfo> {
    let leaf = ck.end_entity_cert().context("no certificate")?;
    info_of(leaf)
}

pub fn info_of(der: &CertificateDer<'_>) -> anyhow::Result<CertInfo> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| anyhow::anyhow!("not an X.509 certificate: {e}"))?;
    let ts = |t: x509_parser::time::ASN1Time| {
        Timestamp::from_second(t.timestamp()).context("a certificate time out of range")
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_owned()),
                GeneralName::IPAddress(ip) => {
                    match ip.len() {
                        4 => names
                            .push(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip)?).to_string()),
                        16 => names
                            .push(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip)?).to_string()),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
    Ok(CertInfo {
        names,
        not_before: ts(cert.validity().not_before)?,
        not_after: ts(cert.validity().not_after)?,
        fingerprint: fingerprint(der.as_ref()),
        self_signed: cert.subject() == cert.issuer(),
    })
}

/// SHA-256 of `der` as `AB:CD:…`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A new self-signed certificate for `names` (host names or IP addresses), as PEM
/// (chain, key).
pub fn make_self_signed(names: Vec<String>) -> anyhow::Result<(String, String)> {
    let made = rcgen::generate_simple_self_signed(names).context("making a certificate")?;
    Ok((made.cert.pem(), made.signing_key.serialize_pem()))
}

/// The certificate that answers a TLS-ALPN-01 challenge for `domain`: self-signed, for that
/// name only, with the key authorization's SHA-256 in the critical acmeIdentifier
/// extension (RFC 8737).
pub fn challenge_cert(domain: &str, digest: &[u8]) -> anyhow::Result<Arc<CertifiedKey>> {
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()])
        .context("a challenge certificate's name")?;
    params
        .custom_extensions
        .push(rcgen::CustomExtension::new_acme_identifier(digest));
    let key = rcgen::KeyPair::generate().context("a challenge certificate's key")?;
    let cert = params
        .self_signed(&key)
        .context("a challenge certificate")?;
    let key_der = PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| anyhow::anyhow!("a challenge certificate's key: {e}"))?;
    // Not `certified`: its key check parses the certificate with webpki, which refuses
    // the critical extension this certificate exists for.
    let signing = tokio_rustls::rustls::crypto::ring::sign::any_supported_type(&key_der)
        .context("a challenge certificate's key")?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}

/// Writes `text` to `path` readable only by the owner (a private key), via a temporary
/// file and a rename so that a crash never leaves half a file.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_says_its_names_and_dates() {
        let (chain, key) =
            make_self_signed(vec!["sunwai.lan".into(), "192.168.1.10".into()]).unwrap();
        let ck = from_pem(&chain, &key).unwrap();
        let i = info(&ck).unwrap();
        assert_eq!(
            i.names,
            vec!["sunwai.lan".to_owned(), "192.168.1.10".to_owned()]
        );
        assert!(i.self_signed);
        assert!(i.not_before < Timestamp::now() && i.not_after > Timestamp::now());
        assert_eq!(i.fingerprint.len(), 32 * 3 - 1);
        // A key that is not the certificate's is refused.
        let (_, other_key) = make_self_signed(vec!["x.lan".into()]).unwrap();
        let e = from_pem(&chain, &other_key).unwrap_err();
        assert!(format!("{e:#}").contains("do not belong together"), "{e:#}");
        assert!(from_pem("junk", &key).is_err());
    }

    #[test]
    fn a_challenge_certificate_names_the_domain() {
        let ck = challenge_cert("hearing.example.org", &[7u8; 32]).unwrap();
        assert_eq!(
            info(&ck).unwrap().names,
            vec!["hearing.example.org".to_owned()]
        );
    }
}
