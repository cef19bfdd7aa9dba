//! Automatic certificates for `domain` over ACME (RFC 8555), with `instant-acme`.
//!
//! Is: one task that keeps a valid certificate in [`Certs`]: it loads the one kept in
//! `data_dir/acme/` at start, orders a new one when there is none or it expires within
//! `renew_before`, proves the domain with TLS-ALPN-01 (a challenge certificate on the
//! HTTPS port) or HTTP-01 (a token on the plain-HTTP listener, `redirect`), keeps the
//! account key and the certificate on disk, and swaps the certificate in without a
//! restart. A failure is logged with the ACME server's own words and tried again later
//! (1 minute, doubling to the check interval); meanwhile the server serves what it has.
//! Is not: the listener, or DNS.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio_rustls::rustls::sign::CertifiedKey;

use super::certs::{self, Certs};
use crate::config::{AcmeSettings, Challenge};

/// HTTP-01 tokens being validated, and their key authorizations (served by `redirect`).
pub type Http01 = Arc<Mutex<HashMap<String, String>>>;

/// First retry after a failure; doubles up to the check interval.
const FIRST_RETRY: Duration = Duration::from_secs(60);
/// The longest a whole order may take, answers and validation included.
const OBTAIN_LIMIT: Duration = Duration::from_secs(600);
/// The least wait after a certificate was issued before the next order.
const MIN_AFTER_ISSUE: Duration = Duration::from_secs(10);
/// How long an order may take to be validated, and then to be issued.
const ORDER_TIMEOUT: Duration = Duration::from_secs(120);

/// What `data_dir/acme/account.json` holds.
#[derive(Serialize, Deserialize)]
struct KeptAccount {
    directory: String,
    credentials: AccountCredentials,
}

/// The certificate keeper for one domain.
pub struct Acme {
    settings: AcmeSettings,
    dir: PathBuf,
    certs: Arc<Certs>,
    http01: Http01,
    /// Whether a plain-HTTP listener runs (HTTP-01 can be answered).
    http_listener: bool,
}

impl Acme {
    /// The certificate to start with: the one kept from an earlier run when it is for this
    /// domain, else a self-signed stand-in until the first is issued (browsers warn for
    /// those first seconds).
    pub fn first_certificate(
        settings: &AcmeSettings,
        data_dir: &Path,
    ) -> anyhow::Result<Arc<CertifiedKey>> {
        let dir = data_dir.join("acme");
        if let Some(kept) = kept_certificate(&dir, &settings.domain) {
            return Ok(kept);
        }
        let (chain, key) = certs::make_self_signed(vec![settings.domain.clone()])?;
        certs::from_pem(&chain, &key)
    }

    pub fn new(
        settings: AcmeSettings,
        data_dir: &Path,
        certs: Arc<Certs>,
        http01: Http01,
        http_listener: bool,
    ) -> Acme {
        Acme {
            settings,
            dir: data_dir.join("acme"),
            certs,
            http01,
            http_listener,
        }
    }

    /// Keeps the certificate valid until the process ends.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(self) {
        let domain = self.settings.domain.clone();
        let mut retry = FIRST_RETRY;
        loop {
            let wait = match self.time_to_renew() {
                Some(left) if !left.is_zero() => left.min(self.settings.check_every),
                // An ACME server that stops answering half-way is a failure like any other.
                _ => match tokio::time::timeout(OBTAIN_LIMIT, self.obtain())
                    .await
                    .unwrap_or_else(|_| {
                        Err(anyhow::anyhow!(
                            "no answer from the ACME server within {OBTAIN_LIMIT:?}"
                        ))
                    }) {
                    Ok(not_after) => {
                        retry = FIRST_RETRY;
                        tracing::info!(%domain, %not_after, "acme: certificate obtained and in use");
                        // Next: when this one is due for renewal, but never at once (a
                        // certificate that is due on arrival must not make a tight loop).
                        self.time_to_renew()
                            .unwrap_or(self.settings.check_every)
                            .clamp(MIN_AFTER_ISSUE, self.settings.check_every)
                    }
                    Err(e) => {
                        tracing::error!(
                            %domain,
                            directory = %self.settings.directory,
                            error = format!("{e:#}"),
                            retry_in_secs = retry.as_secs(),
                            "acme: could not obtain a certificate; serving the current one meanwhile (`sunwai doctor` checks DNS and ports)"
                        );
                        let wait = retry;
                        retry = (retry * 2).min(self.settings.check_every);
                        wait
                    }
                },
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// How long until the current certificate should be renewed; `None` when it is not one
    /// an ACME server issued for this domain (the stand-in).
    fn time_to_renew(&self) -> Option<Duration> {
        let info = certs::info(&self.certs.current()).ok()?;
        if info.self_signed || !info.names.contains(&self.settings.domain) {
            return None;
        }
        let left = renew_at(info.not_before, info.not_after, self.settings.renew_before)
            .duration_since(Timestamp::now());
        Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
    }

    /// Orders a certificate, proves the domain, keeps it and puts it in use; returns when
    /// it expires.
    async fn obtain(&self) -> anyhow::Result<Timestamp> {
        let domain = self.settings.domain.as_str();
        let account = self.account().await?;
        let ids = [Identifier::Dns(domain.to_owned())];
        let mut order = account
            .new_order(&NewOrder::new(&ids))
            .await
            .context("the ACME server refused the order")?;
        let _cleanup = Cleanup {
            certs: &self.certs,
            http01: &self.http01,
            domain,
        };
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.context("reading an authorization")?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => bail!("the ACME server says the authorization is {other:?}"),
            }
            let offered: Vec<ChallengeType> =
                authz.challenges.iter().map(|c| c.r#type.clone()).collect();
            let kind = self.pick(&offered)?;
            let mut challenge = authz
                .challenge(kind.clone())
                .context("the chosen challenge went missing")?;
            let key_auth = challenge.key_authorization();
            match kind {
                ChallengeType::TlsAlpn01 => {
                    let cert = certs::challenge_cert(domain, key_auth.digest().as_ref())?;
                    self.certs.set_challenge(domain, cert);
                }
                _ => {
                    self.http01
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(challenge.token.clone(), key_auth.as_str().to_owned());
                }
            }
            tracing::info!(%domain, challenge = ?kind, "acme: proving the domain");
            challenge
                .set_ready()
                .await
                .context("the ACME server refused the challenge")?;
        }
        let policy = RetryPolicy::new().timeout(ORDER_TIMEOUT);
        let status = order
            .poll_ready(&policy)
            .await
            .context("waiting for the ACME server to validate the domain")?;
        if status != OrderStatus::Ready {
            let why = order
                .state()
                .error
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default();
            bail!(
                "the ACME server could not validate {domain} (order {status:?}{}{why}): does the domain's DNS point at this server, and is port 443 (or 80) reachable from the internet?",
                if why.is_empty() { "" } else { ": " }
            );
        }
        let key_pem = order.finalize().await.context("finalizing the order")?;
        let chain_pem = order
            .poll_certificate(&policy)
            .await
            .context("waiting for the certificate")?;
        let ck = certs::from_pem(&chain_pem, &key_pem).context("the issued certificate")?;
        let info = certs::info(&ck)?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        certs::write_private(&self.dir.join(format!("{domain}.key")), &key_pem)?;
        certs::write_private(&self.dir.join(format!("{domain}.crt")), &chain_pem)?;
        self.certs.replace(ck);
        Ok(info.not_after)
    }

    /// The challenge to answer among those offered.
    fn pick(&self, offered: &[ChallengeType]) -> anyhow::Result<ChallengeType> {
        let has = |t: &ChallengeType| offered.contains(t);
        let want: &[ChallengeType] = match self.settings.challenge {
            Challenge::TlsAlpn01 => &[ChallengeType::TlsAlpn01],
            Challenge::Http01 => &[ChallengeType::Http01],
            Challenge::Auto if self.http_listener => {
                &[ChallengeType::TlsAlpn01, ChallengeType::Http01]
            }
            Challenge::Auto => &[ChallengeType::TlsAlpn01],
        };
        want.iter().find(|t| has(t)).cloned().with_context(|| {
            format!("the ACME server offers none of the challenges this server can answer ({want:?}; offered {offered:?})")
        })
    }

    /// The ACME account: the kept one for this directory, or a new one (kept).
    async fn account(&self) -> anyhow::Result<Account> {
        let builder = || match &self.settings.ca_file {
            Some(ca) => Account::builder_with_root(ca)
                .with_context(|| format!("acme.ca_file {}", ca.display())),
            None => Account::builder().context("the system's trusted roots"),
        };
        let path = self.dir.join("account.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let kept: KeptAccount = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is damaged; remove it to make a new account",
                    path.display()
                )
            })?;
            if kept.directory == self.settings.directory {
                return builder()?
                    .from_credentials(kept.credentials)
                    .await
                    .context("the ACME server did not take the kept account");
            }
        }
        let contact: Vec<&str> = self.settings.contact.iter().map(String::as_str).collect();
        let (account, credentials) = builder()?
            .create(
                &NewAccount {
                    contact: &contact,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.settings.directory.clone(),
                None,
            )
            .await
            .with_context(|| format!("creating an account at {}", self.settings.directory))?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let kept = KeptAccount {
            directory: self.settings.directory.clone(),
            credentials,
        };
        certs::write_private(&path, &serde_json::to_string_pretty(&kept)?)?;
        tracing::info!(directory = %self.settings.directory, "acme: account made and kept");
        Ok(account)
    }
}

/// When to renew a certificate valid from `not_before` to `not_after`: `renew_before` its
/// end, or with a third of its life left if that comes later (a certificate shorter-lived
/// than `renew_before` is not renewed again the moment it arrives).
fn renew_at(not_before: Timestamp, not_after: Timestamp, renew_before: Duration) -> Timestamp {
    let life = not_after.duration_since(not_before);
    let margin = jiff::SignedDuration::try_from(renew_before)
        .unwrap_or(jiff::SignedDuration::MAX)
        .min(life / 3);
    not_after.checked_sub(margin).unwrap_or(not_before)
}

/// The kept certificate for `domain`, if there is a usable one.
fn kept_certificate(dir: &Path, domain: &str) -> Option<Arc<CertifiedKey>> {
    let cert = dir.join(format!("{domain}.crt"));
    let key = dir.join(format!("{domain}.key"));
    if !cert.exists() {
        return None;
    }
    match certs::from_pem_files(&cert, &key, "kept certificate", "kept key") {
        Ok(ck) => Some(ck),
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "acme: the kept certificate is not usable; ordering a new one"
            );
            None
        }
    }
}

/// Takes an order's challenge answers down however the order ends.
struct Cleanup<'a> {
    certs: &'a Certs,
    http01: &'a Http01,
    domain: &'a str,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        self.certs.forget_challenge(self.domain);
        self.http01
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_comes_with_a_third_of_the_life_left_or_the_margin() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let days = |d: u64| Duration::from_secs(d * 86_400);
        // Let's Encrypt's 90 days, 30 days before the end: day 60.
        let from = t("2026-12-01T00:00:00Z");
        let until = t("2027-03-01T00:00:00Z");
        assert_eq!(renew_at(from, until, days(30)), t("2027-01-30T00:00:00Z"));
        assert_eq!(renew_at(from, until, days(10)), t("2027-02-19T00:00:00Z"));
        // A 30-second certificate (a test CA) is renewed after 20 s, not at once.
        let until = t("2026-12-01T00:00:30Z");
        assert_eq!(renew_at(from, until, days(30)), t("2026-12-01T00:00:20Z"));
    }
}
