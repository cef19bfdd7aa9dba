//! Starting the real server for a test, staff accounts, and small HTTP and signaling helpers.

use std::net::SocketAddr;
use std::time::Duration;

use sunwai::config::FileConfig;
use sunwai::desk::Clock;
use sunwai::store::{NewUser, Role, Store};
use sunwai_signaling::{Client, ClientMsg, IntakeMsg, ServerMsg};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::netlab::Lab;

/// Held by every test that runs real browsers (`browser`, `turn`, `weak_link`), and by the
/// media tests that count packets exactly (the load test's zero loss, the first media
/// test's counts), so that they take turns: two of them side by side on a
/// 2-core machine slow each other down enough to miss what they check (first frames within
/// 1 s of the accept; the load test saw 0.4 % loss and 0.7 s delays beside the browsers).
pub static BROWSERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What every test that drives real browsers needs: the repository root (where node runs
/// `tests/browser/`) and Chromium's path. Fails, never skips, when either is missing.
pub fn browser_tools() -> (&'static std::path::Path, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("tests/browser/node_modules/playwright-core").is_dir(),
        "the browser tests' node modules are missing: run scripts/test (or npm ci --prefix tests/browser)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/test, which installs it"
    );
    (root, chromium)
}

/// `node --test` for the browser tests, one file at a time. Its output goes to the
/// terminal as the tests run (TAP); node also writes a spec report, whose "failing tests"
/// part `run` returns on failure and also leaves in `target/test-failures/NAME.txt`, which
/// `scripts/test` prints last: a long log's end then says why.
pub struct NodeTests {
    pub cmd: std::process::Command,
    name: &'static str,
    report: tempfile::NamedTempFile,
}

impl NodeTests {
    /// The command, to be given its test files and environment.
    pub fn new(name: &'static str) -> NodeTests {
        let report = tempfile::NamedTempFile::new().unwrap();
        let _ = std::fs::remove_file(failures_file(name));
        let mut cmd = std::process::Command::new("node");
        cmd.arg("--test")
            .arg("--test-concurrency=1")
            .arg("--test-reporter=tap")
            .arg("--test-reporter-destination=stdout")
            .arg("--test-reporter=spec")
            .arg(format!(
                "--test-reporter-destination={}",
                report.path().display()
            ));
        NodeTests { cmd, name, report }
    }

    pub async fn run(self) -> Result<(), String> {
        let NodeTests {
            mut cmd,
            name,
            report,
        } = self;
        let status = tokio::task::spawn_blocking(move || cmd.status())
            .await
            .unwrap()
            .expect("could not run node");
        if status.success() {
            return Ok(());
        }
        let text = std::fs::read_to_string(report.path()).unwrap_or_default();
        let failed = format!("node: {status}\n{}", failing_part(&text));
        let file = failures_file(name);
        let _ = std::fs::create_dir_all(file.parent().unwrap());
        let _ = std::fs::write(file, &failed);
        Err(failed)
    }
}

fn failures_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("target/test-failures/{name}.txt"))
}

/// The "failing tests" section of a spec report, without frames inside node itself, at
/// most 120 lines.
fn failing_part(report: &str) -> String {
    let part = match report.find("failing tests:") {
        Some(at) => &report[at..],
        None => report,
    };
    let lines: Vec<&str> = part
        .lines()
        .filter(|l| !l.contains("(node:"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let shown = lines.len().min(120);
    let mut out = lines[..shown].join("\n");
    if lines.len() > shown {
        out.push_str(&format!("\n… {} more lines", lines.len() - shown));
    }
    out
}

pub const DESK: &str = "ssp-prayagraj";
pub const PASSWORD: &str = "correct horse battery";
pub const WAIT: Duration = Duration::from_secs(10);
/// The body of a written complaint to desk ssp-prayagraj, mobile 9876543210.
pub const WRITTEN_COMPLAINT: &str = r#"{"name":"सीता देवी","mobile":"+91 98765 43210","area":"Civil Lines","category":"fraud","description":"UPI fraud, ₹20,000 lost","language":"hi","consent":true}"#;

/// 2026-11-28 12:05 in Asia/Kolkata: inside the default 12:00–14:00 window, whatever the
/// real time is when the test runs.
pub fn hearing_time() -> jiff::Timestamp {
    "2026-11-28T06:35:00Z".parse().unwrap()
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub dir: TempDir,
    /// The TLS certificate's files, when the test made one.
    certs: Option<TempDir>,
    config: sunwai::config::Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the server with the default configuration, changed by `tweak`, after creating
/// the staff accounts `officer1`, `officer2` (desk ssp-prayagraj) and `supervisor`.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut FileConfig)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = FileConfig {
        data_dir: dir.path().to_owned(),
        listen: "127.0.0.1:0".into(),
        ..FileConfig::default()
    };
    // Media on system-chosen ports, so that servers can run side by side.
    cfg.media.base_port = 0;
    cfg.media.workers = 1;
    tweak(&mut cfg);
    let config = cfg.validate().unwrap();

    let store = Store::open_sqlite(dir.path()).await.unwrap();
    let phc = sunwai::auth::hash_password(PASSWORD).unwrap();
    for (username, display, role, desk) in [
        ("officer1", "Insp. Sharma", Role::Officer, Some(DESK)),
        ("officer2", "SI Verma", Role::Officer, Some(DESK)),
        ("supervisor", "SSP Office", Role::Supervisor, None),
    ] {
        let desk = desk.map(|d| sunwai::core::ids::DeskId::parse(d).unwrap());
        let new = NewUser {
            username: username.into(),
            display_name: display.into(),
            role,
            desk,
            password_phc: phc.clone(),
        };
        store.create_user(new).await.unwrap();
    }
    store.close().await;
    start(dir, config).await
}

/// The server for clients in `lab`'s namespaces: listening (and sending media) on the
/// lab's server address, over HTTPS with a certificate for that address made now (a phone
/// reaches a real deployment over HTTPS; browsers grant the camera only to a secure page),
/// otherwise as [`spawn_app_with`].
pub async fn spawn_app_in(lab: &Lab, tweak: impl FnOnce(&mut FileConfig)) -> TestApp {
    let made = rcgen::generate_simple_self_signed(vec![lab.server.to_string()]).unwrap();
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let server = lab.server;
    let mut app = spawn_app_with(move |c| {
        c.listen = format!("{server}:0");
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
        tweak(c);
    })
    .await;
    app.certs = Some(certs);
    app
}

/// Runs the server over the data directory `dir` on the configured address: on a fresh
/// port when the configuration's is 0 (so a restart gets a new one), else on that port
/// (an ACME server validates on a port it was told).
async fn start(dir: TempDir, config: sunwai::config::Config) -> TestApp {
    let listener = TcpListener::bind(config.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(sunwai::run_with_clock(
        listener,
        config.clone(),
        Clock::starting_at(hearing_time()),
        shutdown,
    ));
    TestApp {
        addr,
        dir,
        certs: None,
        config,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestApp {
    /// Where a browser opens the pages: `https://…` when the server serves TLS.
    pub fn base_url(&self) -> String {
        let scheme = if self.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            // Open WebSockets keep graceful shutdown waiting; tests don't need to wait for them.
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }

    /// Asks the server to stop (as SIGTERM does) without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// Waits up to `within` for the server to finish stopping; returns whether it did.
    pub async fn stopped_within(&mut self, within: Duration) -> bool {
        match self.task.as_mut() {
            Some(t) => match tokio::time::timeout(within, t).await {
                Ok(r) => {
                    r.unwrap().unwrap();
                    self.task = None;
                    true
                }
                Err(_) => false,
            },
            None => true,
        }
    }

    /// Stops the server gracefully, waits for it, and starts it again over the same data
    /// directory (on a new port), as a restart would.
    pub async fn restart(mut self) -> TestApp {
        self.begin_stop();
        assert!(
            self.stopped_within(WAIT).await,
            "the server did not stop in time"
        );
        let certs = self.certs.take();
        let TestApp { dir, config, .. } = self;
        let mut app = start(dir, config).await;
        app.certs = certs;
        app
    }

    /// Opens the data directory's store next to the running server (SQLite in WAL mode
    /// allows a second reader).
    pub async fn store(&self) -> Store {
        Store::open_sqlite(self.dir.path()).await.unwrap()
    }

    pub async fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> HttpResponse {
        http(self.addr, method, path, headers, body).await
    }

    /// Signs in over HTTP and returns the session token.
    pub async fn login(&self, username: &str) -> String {
        let body = format!(r#"{{"username":"{username}","password":"{PASSWORD}"}}"#);
        let r = self
            .http(
                "POST",
                "/api/login",
                &[("content-type", "application/json")],
                Some(&body),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let cookie = r.header("set-cookie").expect("a session cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    pub async fn citizen(&self) -> Client {
        let mut c = Client::connect(&self.ws_url()).await.unwrap();
        c.hello(None, None).await.unwrap();
        c
    }

    /// A signed-in staff member's connection, past hello.
    pub async fn staff(&self, username: &str) -> Client {
        let token = self.login(username).await;
        let mut c = Client::connect(&self.ws_url()).await.unwrap();
        c.hello(Some(&token), None).await.unwrap();
        c
    }

    /// An officer on duty.
    pub async fn officer(&self, username: &str) -> Client {
        let mut c = self.staff(username).await;
        c.request_ok(|id| ClientMsg::GoOnDuty { id }).await.unwrap();
        c
    }
}

pub fn intake(name: &str) -> IntakeMsg {
    IntakeMsg {
        name: name.into(),
        mobile: "98765 43210".into(),
        area: "Kotwali".into(),
        category: "theft".into(),
        description: "मेरा मोबाइल चोरी हो गया".into(),
        language: "hi".into(),
        consent: true,
    }
}

pub struct Joined {
    pub entry: uuid::Uuid,
    pub reference: String,
    pub ticket: String,
}

/// Joins the desk's waiting room and returns what `joined` said.
pub async fn join(c: &mut Client, name: &str) -> Joined {
    let reply = c
        .request(|id| ClientMsg::Join {
            id,
            desk: DESK.into(),
            intake: intake(name),
        })
        .await
        .unwrap();
    match reply {
        ServerMsg::Joined {
            entry,
            reference,
            ticket,
            ..
        } => Joined {
            entry,
            reference,
            ticket,
        },
        other => panic!("expected joined, got {other:?}"),
    }
}

/// Tries to join and expects a refusal; returns its code and message.
pub async fn join_refused(c: &mut Client, name: &str) -> (sunwai_signaling::ErrorCode, String) {
    let reply = c
        .request(|id| ClientMsg::Join {
            id,
            desk: DESK.into(),
            intake: intake(name),
        })
        .await
        .unwrap();
    match reply {
        ServerMsg::Error { code, message, .. } => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Waits for the first message matching `pred`, keeping others for later.
pub async fn expect(c: &mut Client, what: &str, pred: impl FnMut(&ServerMsg) -> bool) -> ServerMsg {
    match c.recv_until(pred, WAIT).await {
        Ok(m) => m,
        Err(e) => panic!("waiting for {what}: {e}"),
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as it came (after de-chunking), for bodies that are not text.
    pub bytes: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client over a real TCP connection (`Connection: close`).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> HttpResponse {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let rest = raw.get(split + 4..).unwrap_or_default();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let bytes = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    let body = String::from_utf8_lossy(&bytes).into_owned();
    HttpResponse {
        status,
        headers,
        body,
        bytes,
    }
}

fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = s.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&s[..eol]).trim(), 16).unwrap_or(0);
        let rest = &s[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// The `sunwai` binary with none of the tests' own SUNWAI_* environment, and media on
/// system-chosen ports so that several servers can run at once.
pub fn sunwai_command() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_sunwai"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SUNWAI_") {
            c.env_remove(k);
        }
    }
    c.env("SUNWAI_MEDIA__BASE_PORT", "0");
    c.env("SUNWAI_MEDIA__WORKERS", "1");
    c
}

/// The officer accepts `entry`; once the citizen hears the call has started, both connect
/// media through the SFU (webrtc-rs clients). Returns (citizen, officer) media and the
/// call's payload tag.
/// A citizen's and an officer's media client for the call tagged `tag`.
pub async fn publishers(
    tag: u32,
) -> (
    sunwai::sfu::client::MediaClient,
    sunwai::sfu::client::MediaClient,
) {
    use sunwai::sfu::client::{MediaClient, Role};
    use sunwai::sfu::Publisher;
    let c = MediaClient::new(Role::Publish(Publisher::Citizen), tag)
        .await
        .unwrap();
    let o = MediaClient::new(Role::Publish(Publisher::Officer), tag)
        .await
        .unwrap();
    (c, o)
}

pub async fn accept_with_media(
    citizen: &mut Client,
    officer: &mut Client,
    entry: uuid::Uuid,
) -> (
    sunwai::sfu::client::MediaClient,
    sunwai::sfu::client::MediaClient,
    u32,
) {
    use sunwai::loadtest::{call_tag, negotiate};
    officer
        .request_ok(|id| ClientMsg::Accept { id, entry })
        .await
        .unwrap();
    expect(citizen, "call_started", |m| {
        matches!(m, ServerMsg::CallStarted { .. })
    })
    .await;
    let tag = call_tag(entry);
    let (mut c, mut o) = publishers(tag).await;
    negotiate(citizen, &c).await.unwrap();
    negotiate(officer, &o).await.unwrap();
    c.wait_connected(Duration::from_secs(10)).await.unwrap();
    o.wait_connected(Duration::from_secs(10)).await.unwrap();
    (c, o, tag)
}

/// `sunwai serve --config CONFIG`, and the host:port it printed. The child is returned:
/// the caller kills and waits for it.
#[allow(clippy::zombie_processes)]
pub fn serve_config(
    config: &std::path::Path,
    stderr: std::process::Stdio,
) -> (std::process::Child, String) {
    let mut child = sunwai_command()
        .args(["serve", "--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    });
    (child, addr)
}

/// Opens `url` as a WebSocket over `stream` (a TLS connection) from a page of `origin`,
/// says hello, and returns the server's first reply.
pub async fn wss_hello<S>(stream: S, url: &str, origin: &str) -> serde_json::Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("origin", origin.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"hello","v":1}"#,
    ))
    .await
    .unwrap();
    let reply = tokio::time::timeout(WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    serde_json::from_str(reply.to_text().unwrap()).unwrap()
}
