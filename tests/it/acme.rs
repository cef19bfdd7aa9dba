//! Automatic HTTPS against a real ACME server: Debian's `pebble` (with its mock DNS,
//! `pebble-challtestsrv`, answering every name with 127.0.0.1), started here with a CA of
//! its own that only these tests trust. The server proves the domain with TLS-ALPN-01 and
//! with HTTP-01, keeps the certificate and the account, renews while running, redirects
//! plain HTTP, and keeps serving when the ACME server refuses. And `--tls self-signed`.
//! `scripts/test` installs pebble; these tests fail rather than skip without it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::helpers::*;

const DOMAIN: &str = "hearing.sunwai.test";

/// `N` distinct ports free on 127.0.0.1 now (held together while chosen, so no two are
/// the same).
fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| held[i].local_addr().unwrap().port())
}

/// pebble and its mock DNS, killed on drop.
struct Pebble {
    children: Vec<Child>,
    dir: tempfile::TempDir,
    directory: String,
    /// The CA of pebble's own HTTPS (what `acme.ca_file` names).
    api_ca: PathBuf,
    management: SocketAddr,
    /// Where the server under test must answer HTTP-01 and TLS-ALPN-01 (its HTTPS port).
    http_port: u16,
    tls_port: u16,
}

impl Pebble {
    /// Validates HTTP-01 on `http_port` and TLS-ALPN-01 on `tls_port` of 127.0.0.1 (ports
    /// chosen here, with its own); issues certificates valid for `validity`; refuses names
    /// in `blocked`.
    fn start(validity: Duration, blocked: &[&str]) -> Pebble {
        for tool in ["pebble", "pebble-challtestsrv"] {
            assert!(
                Command::new(tool).arg("-h").output().is_ok(),
                "{tool} is missing: run scripts/test, which installs Debian's pebble"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        // pebble's own HTTPS: a CA made now, and a certificate for 127.0.0.1 it signs.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let api_ca = dir.path().join("api-ca.pem");
        std::fs::write(&api_ca, ca.pem()).unwrap();
        std::fs::write(dir.path().join("api.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("api.key"), key.serialize_pem()).unwrap();

        let [api, management, dns, dns_management, http_port, tls_port] = free_ports::<6>();
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{api}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("api.pem"),
            "privateKey": dir.path().join("api.key"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "domainBlocklist": blocked,
            "certificateValidityPeriod": validity.as_secs(),
        }});
        let config_file = dir.path().join("pebble.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
        let dns_server = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management}")])
            .stdout(log("dns.log"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_file)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            // No random sleeps before validating, no random "bad nonce" refusals.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log("pebble.log"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Pebble {
            children: vec![dns_server, pebble],
            dir,
            directory: format!("https://127.0.0.1:{api}/dir"),
            api_ca,
            management: ([127, 0, 0, 1], management).into(),
            http_port,
            tls_port,
        };
        let until = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", api)).is_err()
            || std::net::TcpStream::connect(p.management).is_err()
        {
            assert!(Instant::now() < until, "pebble did not start: {}", p.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// The root pebble issues certificates under (made at its start).
    async fn root(&self) -> CertificateDer<'static> {
        let ca = CertificateDer::from_pem_file(&self.api_ca).unwrap();
        let r = get(self.management, "127.0.0.1", &[ca], "/roots/0").await;
        let pem = &r[r.find("-----BEGIN").expect("a PEM root")..];
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn client(roots: &[CertificateDer<'static>]) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(store)
            .with_no_client_auth(),
    )
}

/// A TLS connection to `addr` for `name` that trusts only `roots`; the error when the
/// server's certificate is not one of theirs for that name.
async fn connect(
    addr: SocketAddr,
    name: &str,
    roots: &[CertificateDer<'static>],
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    TlsConnector::from(client(roots)).connect(name, tcp).await
}

/// GET `path` over TLS; the whole response as text.
async fn get(
    addr: SocketAddr,
    name: &str,
    roots: &[CertificateDer<'static>],
    path: &str,
) -> String {
    let mut s = connect(addr, name, roots).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut raw)).await;
    String::from_utf8_lossy(&raw).into_owned()
}

/// The fingerprint of the certificate `addr` presents for DOMAIN, once it is one `root`
/// issued (waits up to `within`).
async fn issued(
    addr: SocketAddr,
    root: &CertificateDer<'static>,
    within: Duration,
    log: impl Fn() -> String,
) -> String {
    let until = Instant::now() + within;
    loop {
        if let Ok(s) = connect(addr, DOMAIN, std::slice::from_ref(root)).await {
            let der = &s.get_ref().1.peer_certificates().unwrap()[0];
            return sunwai::tls::certs::fingerprint(der.as_ref());
        }
        assert!(
            Instant::now() < until,
            "no certificate from the ACME server within {within:?}; pebble says:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_gets_its_certificate_over_tls_alpn_keeps_it_and_renews_it_while_running() {
    // Certificates live 45 s here: renewed with a third of that left, 30 s after issue.
    let pebble = Pebble::start(Duration::from_secs(45), &[]);
    let https_port = pebble.tls_port;
    let root = pebble.root().await;
    let (directory, ca) = (pebble.directory.clone(), pebble.api_ca.clone());
    let app = spawn_app_with(move |c| {
        c.listen = format!("127.0.0.1:{https_port}");
        c.domain = Some(DOMAIN.into());
        c.acme.directory = directory;
        c.acme.ca_file = ca.display().to_string();
        c.acme.contact = "it-cell@sunwai.test".into();
        c.acme.http_listen = "off".into();
    })
    .await;

    // Nothing listens on pebble's HTTP-01 port: the domain was proven over TLS-ALPN-01.
    let first = issued(app.addr, &root, Duration::from_secs(60), || pebble.log()).await;
    assert!(
        !pebble.log().contains("validate w/ HTTP"),
        "{}",
        pebble.log()
    );
    // Kept in the data directory, readable by the server's user only.
    let acme = app.dir.path().join("acme");
    for f in [
        "account.json",
        &format!("{DOMAIN}.crt"),
        &format!("{DOMAIN}.key"),
    ] {
        assert_eq!(mode(&acme.join(f)), 0o600, "{f}");
    }

    // HTTPS and WSS with it.
    let health = get(app.addr, DOMAIN, std::slice::from_ref(&root), "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let tls = connect(app.addr, DOMAIN, std::slice::from_ref(&root))
        .await
        .unwrap();
    // From a page of the domain: the domain's origin is the server's own.
    let url = format!("wss://{DOMAIN}:{https_port}/ws");
    let v = wss_hello(tls, &url, &format!("https://{DOMAIN}:{https_port}")).await;
    assert_eq!(v["type"], "welcome", "{v}");

    // Renewed while running: a new certificate from the same CA, no restart.
    let until = Instant::now() + Duration::from_secs(60);
    let second = loop {
        let now = issued(app.addr, &root, Duration::from_secs(10), || pebble.log()).await;
        if now != first {
            break now;
        }
        assert!(Instant::now() < until, "not renewed 60 s after issue");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // After a restart, the kept certificate is served from the first handshake.
    let app = app.restart().await;
    let kept = sunwai::tls::certs::fingerprint(
        CertificateDer::from_pem_file(acme.join(format!("{DOMAIN}.crt")))
            .unwrap()
            .as_ref(),
    );
    let s = connect(app.addr, DOMAIN, std::slice::from_ref(&root))
        .await
        .expect("the kept certificate at once");
    let served =
        sunwai::tls::certs::fingerprint(s.get_ref().1.peer_certificates().unwrap()[0].as_ref());
    assert_eq!(served, kept);
    assert!(
        served == second || served != first,
        "the renewed one or a newer one"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_01_proves_the_domain_and_plain_http_redirects_to_https() {
    let pebble = Pebble::start(Duration::from_secs(3600), &[]);
    let (https_port, http_port) = (pebble.tls_port, pebble.http_port);
    let root = pebble.root().await;
    let (directory, ca) = (pebble.directory.clone(), pebble.api_ca.clone());
    let app = spawn_app_with(move |c| {
        c.listen = format!("127.0.0.1:{https_port}");
        c.domain = Some(DOMAIN.into());
        c.acme.directory = directory;
        c.acme.ca_file = ca.display().to_string();
        c.acme.challenge = "http-01".into();
        c.acme.http_listen = format!("127.0.0.1:{http_port}");
    })
    .await;
    issued(app.addr, &root, Duration::from_secs(60), || pebble.log()).await;
    assert!(
        pebble.log().contains("validate w/ HTTP:"),
        "validated over HTTP-01:\n{}",
        pebble.log()
    );

    // A citizen who types the address without https:// arrives at the same page over HTTPS.
    let mut s = TcpStream::connect(("127.0.0.1", http_port)).await.unwrap();
    let req =
        format!("GET /status?ref=PRY-1 HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut raw)).await;
    let r = String::from_utf8_lossy(&raw);
    assert!(r.starts_with("HTTP/1.1 308"), "{r}");
    let location = format!("location: https://{DOMAIN}:{https_port}/status?ref=PRY-1");
    assert!(
        r.to_ascii_lowercase()
            .contains(&location.to_ascii_lowercase()),
        "{r}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_acme_server_leaves_the_server_serving() {
    let pebble = Pebble::start(Duration::from_secs(3600), &[DOMAIN]);
    let https_port = pebble.tls_port;
    let (directory, ca) = (pebble.directory.clone(), pebble.api_ca.clone());
    let app = spawn_app_with(move |c| {
        c.listen = format!("127.0.0.1:{https_port}");
        c.domain = Some(DOMAIN.into());
        c.acme.directory = directory;
        c.acme.ca_file = ca.display().to_string();
        c.acme.http_listen = "off".into();
    })
    .await;
    // The order is refused (the name is on pebble's block list), so nothing is kept, and
    // the server goes on with its stand-in certificate: a self-signed one for the domain.
    let until = Instant::now() + Duration::from_secs(20);
    while !pebble.log().contains("POST /order-plz") {
        assert!(Instant::now() < until, "no order:\n{}", pebble.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !pebble.log().contains("Issued certificate"),
        "{}",
        pebble.log()
    );
    let stand_in = app.dir.path().join("acme").join(format!("{DOMAIN}.crt"));
    assert!(!stand_in.exists());
    // Trusting only what the server presents, the stand-in is served and pages answer.
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let config = insecure_client(seen.clone());
    let name = ServerName::try_from(DOMAIN).unwrap();
    let mut s = TlsConnector::from(config).connect(name, tcp).await.unwrap();
    s.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut raw)).await;
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"));
    let der = seen.lock().unwrap().clone().unwrap();
    let info = sunwai::tls::certs::info_of(&der).unwrap();
    assert!(
        info.self_signed && info.names == vec![DOMAIN.to_owned()],
        "{info:?}"
    );
    app.stop().await;
}

#[test]
fn self_signed_mode_makes_keeps_and_prints_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = sunwai_command()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--tls",
                "self-signed",
                "--data-dir",
            ])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut text = String::new();
        while !text.contains("fingerprint") || !text.ends_with('\n') || text.lines().count() < 3 {
            let mut line = String::new();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "the server stopped: {text}"
            );
            text.push_str(&line);
        }
        let _ = child.kill();
        let _ = child.wait();
        text
    };
    let first = start();
    assert!(first.contains("https://127.0.0.1:"), "{first}");
    let printed = first.lines().last().unwrap().trim().to_owned();
    let kept = CertificateDer::from_pem_file(dir.path().join("tls/self-signed.crt")).unwrap();
    assert_eq!(
        printed,
        sunwai::tls::certs::fingerprint(kept.as_ref()),
        "{first}"
    );
    assert_eq!(mode(&dir.path().join("tls/self-signed.key")), 0o600);
    // The same certificate at the next start.
    let second = start();
    assert_eq!(second.lines().last().unwrap().trim(), printed);
}

/// A client that accepts any certificate and remembers it (to look at a stand-in).
fn insecure_client(
    seen: Arc<std::sync::Mutex<Option<CertificateDer<'static>>>>,
) -> Arc<ClientConfig> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    #[derive(Debug)]
    struct Any(
        Arc<std::sync::Mutex<Option<CertificateDer<'static>>>>,
        Arc<rustls::crypto::CryptoProvider>,
    );
    impl ServerCertVerifier for Any {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            *self.0.lock().unwrap() = Some(end_entity.clone().into_owned());
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.1.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.1.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.1.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    config
        .dangerous()
        .set_certificate_verifier(Arc::new(Any(seen, provider)));
    Arc::new(config)
}
