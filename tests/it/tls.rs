//! `serve --tls-cert/--tls-key`: HTTPS and WSS against the real server with a certificate
//! made at test time, the Secure cookie, and a handshake that never comes not holding up
//! other clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::*;

/// A self-signed certificate for localhost and 127.0.0.1, written as PEM files.
struct TestCert {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

fn test_cert() -> TestCert {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    TestCert {
        _dir: dir,
        cert,
        key,
        der: made.cert.der().clone(),
    }
}

/// A TLS connection to `addr` that trusts only `cert`.
async fn connect(addr: SocketAddr, cert: &CertificateDer<'static>) -> TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}

/// One HTTP/1.1 request over TLS; returns the status line, headers and body as text.
async fn https(
    addr: SocketAddr,
    cert: &CertificateDer<'static>,
    method: &str,
    path: &str,
    body: &str,
) -> String {
    let mut s = connect(addr, cert).await;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // A peer that closes without close_notify is fine here: we read what arrived.
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut raw)).await;
    String::from_utf8_lossy(&raw).into_owned()
}

#[tokio::test]
async fn https_and_wss_with_a_secure_cookie() {
    let cert = test_cert();
    let app = spawn_app_with(|c| {
        c.tls_cert = Some(cert.cert.clone());
        c.tls_key = Some(cert.key.clone());
    })
    .await;

    let health = https(app.addr, &cert.der, "GET", "/healthz", "").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    let login = format!(r#"{{"username":"supervisor","password":"{PASSWORD}"}}"#);
    let r = https(app.addr, &cert.der, "POST", "/api/login", &login).await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let cookie = r
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie in {r}"));
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    // WSS from a page on the server's own https origin: hello gets a welcome.
    let tls = connect(app.addr, &cert.der).await;
    let url = format!("wss://localhost:{}/ws", app.addr.port());
    let origin = format!("https://127.0.0.1:{}", app.addr.port());
    let v = wss_hello(tls, &url, &origin).await;
    assert_eq!(
        (v["type"].as_str(), v["role"].as_str()),
        (Some("welcome"), Some("citizen"))
    );

    // The plain-http origin is not the server's origin any more.
    let tls = connect(app.addr, &cert.der).await;
    let mut req = url.as_str().into_client_request().unwrap();
    let origin = format!("http://127.0.0.1:{}", app.addr.port());
    req.headers_mut().insert("origin", origin.parse().unwrap());
    assert!(tokio_tungstenite::client_async(req, tls).await.is_err());

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = http_raw(app.addr).await;
    assert!(!plain.starts_with("HTTP/1.1 200"), "{plain}");
    app.stop().await;
}

async fn http_raw(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut raw)).await;
    String::from_utf8_lossy(&raw).into_owned()
}

#[tokio::test]
async fn a_silent_connection_does_not_hold_up_the_handshakes_of_others() {
    let cert = test_cert();
    let app = spawn_app_with(|c| {
        c.tls_cert = Some(cert.cert.clone());
        c.tls_key = Some(cert.key.clone());
    })
    .await;
    // Several connections that never start a handshake.
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(TcpStream::connect(app.addr).await.unwrap());
    }
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        https(app.addr, &cert.der, "GET", "/healthz", ""),
    )
    .await
    .expect("served while others hang in the handshake");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    drop(silent);
    app.stop().await;
}

#[tokio::test]
async fn a_bad_certificate_file_stops_start_up_with_its_name() {
    let cert = test_cert();
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    for (c, k, want) in [
        (junk.clone(), cert.key.clone(), "tls_cert"),
        (cert.cert.clone(), junk.clone(), "tls_key"),
        (dir.path().join("missing.pem"), cert.key.clone(), "tls_cert"),
    ] {
        let mut fc = sunwai::config::FileConfig {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".into(),
            ..Default::default()
        };
        fc.tls_cert = Some(c);
        fc.tls_key = Some(k);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = sunwai::run(listener, fc.validate().unwrap(), async {})
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains(want), "{err:#}");
    }
}
