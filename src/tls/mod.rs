//! Serving HTTPS and WSS directly: rustls with the ring provider, TLS 1.2 and 1.3,
//! HTTP/1.1, with a certificate from files (`tls_cert`, `tls_key`), from an ACME server
//! for `domain` (`acme`, renewed while running), or made here (`tls = "self-signed"`).
//!
//! Is: turning the TLS settings into a server configuration whose certificate can change
//! (`certs::Certs`), the plain-HTTP listener beside it (`redirect`), and a listener that
//! hands axum connections whose handshake has completed. Is not: client certificates.
//!
//! Handshakes run in their own tasks, at most [`MAX_HANDSHAKES`] at once and each within
//! [`HANDSHAKE_TIMEOUT`], so a client that opens a connection and says nothing holds up
//! neither other clients nor the accept loop. A connection that negotiated ACME's
//! validation protocol is closed after its handshake: it was only there to see the
//! challenge certificate.

pub mod acme;
pub mod certs;
mod redirect;

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::{TlsSettings, TlsSource};
use acme::{Acme, Http01};
use certs::{CertInfo, Certs, ACME_TLS_ALPN};

/// A handshake not finished by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; connections beyond this are closed at once.
pub const MAX_HANDSHAKES: usize = 256;

/// TLS read from the settings, before the server listens: its configuration, and what is
/// to start once it does (the ACME keeper, the plain-HTTP listener).
pub struct Prepared {
    pub config: Arc<ServerConfig>,
    pub certs: Arc<Certs>,
    acme: Option<Acme>,
    http01: Http01,
    http_listen: Option<SocketAddr>,
}

/// Reads or makes the certificate the settings name and builds the server's TLS
/// configuration. Errors name the setting or file and what is wrong with it, so a bad
/// file stops start-up at once.
pub fn prepare(
    settings: &TlsSettings,
    data_dir: &Path,
    listen: SocketAddr,
) -> anyhow::Result<Prepared> {
    let http01 = Http01::default();
    let (first, acme_settings) = match &settings.source {
        TlsSource::Files(f) => (
            certs::from_pem_files(&f.cert, &f.key, "tls_cert", "tls_key")?,
            None,
        ),
        TlsSource::SelfSigned => (self_signed(data_dir, listen)?.0, None),
        TlsSource::Acme(a) => (
            Acme::first_certificate(a, data_dir)?,
            Some(a.as_ref().clone()),
        ),
    };
    let certs = Certs::new(first);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(certs.clone());
    // WebSockets need HTTP/1.1 (the server speaks nothing else); ACME's TLS-ALPN-01
    // validation asks for its own protocol.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if acme_settings.is_some() {
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    let acme = acme_settings.map(|a| {
        Acme::new(
            a,
            data_dir,
            certs.clone(),
            http01.clone(),
            settings.http_listen.is_some(),
        )
    });
    Ok(Prepared {
        config: Arc::new(config),
        certs,
        acme,
        http01,
        http_listen: settings.http_listen,
    })
}

impl Prepared {
    /// Starts the plain-HTTP listener (redirects to `https_port`; ACME's HTTP-01) and the
    /// ACME keeper. A port 80 that cannot be bound is logged, not fatal: HTTPS goes on,
    /// and ACME proves the domain over TLS-ALPN-01.
    pub async fn start(self, https_port: u16) -> Arc<ServerConfig> {
        if let Some(addr) = self.http_listen {
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    tracing::info!(%addr, "plain HTTP: redirects to HTTPS");
                    redirect::spawn(l, self.http01.clone(), https_port);
                }
                Err(e) => tracing::warn!(
                    %addr,
                    error = %e,
                    "cannot listen for plain HTTP (acme.http_listen): no redirect to HTTPS, and no HTTP-01 challenges"
                ),
            }
        }
        if let Some(acme) = self.acme {
            acme.spawn();
        }
        self.config
    }
}

/// The self-signed certificate kept in `data_dir/tls/`, made on first use for `localhost`,
/// the address the server listens on (or, listening on every address, the one its
/// default route leaves from), and the machine's host name.
pub fn self_signed(
    data_dir: &Path,
    listen: SocketAddr,
) -> anyhow::Result<(Arc<rustls::sign::CertifiedKey>, CertInfo)> {
    let dir = data_dir.join("tls");
    let (cert, key) = (dir.join("self-signed.crt"), dir.join("self-signed.key"));
    if !cert.exists() {
        let mut names = vec!["localhost".to_owned()];
        names.push(crate::sfu::media_bind(listen.ip(), None).to_string());
        if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
            let h = h.trim();
            if !h.is_empty() && h != "localhost" {
                names.push(h.to_owned());
            }
        }
        let (chain, key_pem) = certs::make_self_signed(names)?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        certs::write_private(&key, &key_pem)?;
        certs::write_private(&cert, &chain)?;
    }
    let ck = certs::from_pem_files(&cert, &key, "self-signed certificate", "its key")?;
    let info = certs::info(&ck)?;
    Ok((ck, info))
}

/// A listener whose connections are TLS streams past their handshake. Dropping it stops
/// the accept loop and closes the TCP listener.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp` (needs a tokio runtime).
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx));
        Ok(TlsListener { ready, local })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let accepted = tokio::select! {
            r = tcp.accept() => r,
            () = tx.closed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "too many TLS handshakes in progress; connection closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) if tls.get_ref().1.alpn_protocol() == Some(ACME_TLS_ALPN) => {
                    tracing::debug!(%peer, "an ACME validation handshake");
                }
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop only ends once this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
