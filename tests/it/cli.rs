//! The binary as an operator uses it: the example configuration, accounts, export, and
//! `serve` starting with no setup.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};

pub(crate) fn sunwai() -> Command {
    crate::helpers::sunwai_command()
}

pub(crate) fn run(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = sunwai()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_example_is_complete_and_valid() {
    let (ok, out, _) = run(&["config", "example"], None);
    assert!(ok);
    assert!(out.contains("listen = \"127.0.0.1:8080\""));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sunwai.toml");
    std::fs::write(&path, &out).unwrap();
    let (ok, out, err) = run(
        &["config", "check", "--config", path.to_str().unwrap()],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.contains("desk ssp-prayagraj"));
    // Environment variables override the file; flags override both.
    let out = sunwai()
        .args(["config", "check", "--config", path.to_str().unwrap()])
        .env("SUNWAI_LISTEN", "127.0.0.1:9123")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("listen 127.0.0.1:9123"));
    std::fs::write(&path, "listen = \"everywhere\"").unwrap();
    let (ok, _, err) = run(
        &["config", "check", "--config", path.to_str().unwrap()],
        None,
    );
    assert!(!ok);
    assert!(err.contains("listen"), "{err}");
}

#[test]
fn accounts_and_export_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, out, err) = run(
        &[
            "user",
            "add",
            "--data-dir",
            d,
            "--role",
            "officer",
            "--name",
            "sharma",
            "--display-name",
            "Insp. Sharma",
            "--desk",
            "ssp-prayagraj",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    assert!(ok, "{err}");
    assert!(out.contains("added officer sharma"));
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "--data-dir",
            d,
            "--role",
            "officer",
            "--name",
            "sharma",
            "--desk",
            "ssp-prayagraj",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    assert!(!ok, "a duplicate name is refused");
    assert!(!err.is_empty());
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "--data-dir",
            d,
            "--role",
            "officer",
            "--name",
            "x",
            "--desk",
            "ssp-prayagraj",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!ok && err.contains("at least 10"), "{err}");
    let (ok, _, _) = run(&["user", "disable", "--data-dir", d, "sharma"], None);
    assert!(ok);
    let (ok, out, _) = run(&["user", "list", "--data-dir", d], None);
    assert!(
        ok && out.contains("sharma") && out.contains("disabled"),
        "{out}"
    );
    let (ok, out, err) = run(&["records", "export", "--data-dir", d], None);
    assert!(ok, "{err}");
    // UTF-8 with a byte-order mark, so that Excel reads Hindi text; --plain leaves it out.
    assert!(out.starts_with("\u{feff}reference,"), "{out}");
    assert!(err.contains("0 records"));
    let (ok, out, err) = run(&["records", "export", "--plain", "--data-dir", d], None);
    assert!(ok, "{err}");
    assert!(out.starts_with("reference,"), "{out}");
}

/// A `sunwai serve` running on 127.0.0.1 with a port of its own choosing.
pub(crate) struct Served {
    pub child: Child,
    /// host:port, from the URL the server printed.
    pub addr: String,
    // Kept open while the server runs: it may print more.
    _stdout: BufReader<ChildStdout>,
}

/// Starts `sunwai serve --listen 127.0.0.1:0` with `args` added, and waits for the URL it
/// prints.
pub(crate) fn serve(args: &[&str], stderr: Stdio) -> Served {
    let mut child = sunwai()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    Served {
        child,
        addr,
        _stdout: stdout,
    }
}

#[test]
fn serve_starts_with_no_setup_and_prints_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = serve(&["--data-dir", data.to_str().unwrap()], Stdio::null());
    // Moved out of `served`, whose standard output stays open to the end of the test.
    let (mut child, addr) = (served.child, served.addr);
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    std::io::Read::read_to_string(&mut s, &mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(dir.path().join("data").join("sunwai.db").exists());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn sigterm_stops_the_server_even_with_a_websocket_open() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(&["--data-dir", dir.path().to_str().unwrap()], Stdio::null());
    let (mut child, addr) = (served.child, served.addr);
    let mut ws = sunwai_signaling::Client::connect(&format!("ws://{addr}/ws"))
        .await
        .unwrap();
    ws.hello(None, None).await.unwrap();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "still running 20 s after SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}");
    drop(ws);
}
