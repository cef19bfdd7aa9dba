//! The media path against the real `sunwai serve` process: `sunwai loadtest` as an
//! operator runs it, and 200 calls set up and torn down while the server's threads, file
//! descriptors and memory are watched from /proc.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::time::Duration;

use sunwai::loadtest::login;
use sunwai_signaling::{Client, ClientMsg, ServerMsg};

use crate::helpers::*;

const SECRET: &str = "load test password";

struct Served {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn add_user(dir: &str, name: &str, role: &str) {
    let mut args = vec![
        "user",
        "add",
        "--data-dir",
        dir,
        "--role",
        role,
        "--name",
        name,
        "--password-stdin",
    ];
    if role == "officer" {
        args.extend(["--desk", DESK]);
    }
    let mut child = sunwai_command()
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{SECRET}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sunwai serve` on an ephemeral port with two officers and a supervisor, and the
/// window opened by the supervisor (the process runs on the real clock).
async fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    for (name, role) in [
        ("officer1", "officer"),
        ("officer2", "officer"),
        ("boss", "supervisor"),
    ] {
        add_user(&d, name, role);
    }
    let mut child = sunwai_command()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &d])
        // Every caller here comes from 127.0.0.1.
        .env("SUNWAI_LIMITS__JOINS_PER_MINUTE_PER_ADDRESS", "100000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    // Keep reading in the background so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in out.lines() {});
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    let served = Served {
        child,
        url,
        _dir: dir,
    };
    let token = login(&served.url, "boss", SECRET).await.unwrap();
    let mut sup = Client::connect(&ws(&served.url)).await.unwrap();
    sup.hello(Some(&token), None).await.unwrap();
    // Already open (the real clock may be inside the window) is fine too.
    let _ = sup
        .request(|id| ClientMsg::OpenWindow {
            id,
            desk: DESK.into(),
            minutes: 120,
        })
        .await;
    let _ = sup.close().await;
    served
}

fn ws(url: &str) -> String {
    format!("ws://{}/ws", url.trim_start_matches("http://"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadtest_reports_two_calls_without_loss() {
    // Zero loss is checked: not while browsers share the two cores.
    let _browsers = BROWSERS.lock().await;
    let s = serve().await;
    let out = tokio::task::spawn_blocking({
        let url = s.url.clone();
        move || {
            sunwai_command()
                .args([
                    "loadtest",
                    "--server",
                    &url,
                    "--calls",
                    "2",
                    "--duration",
                    "5",
                    "--officer-prefix",
                    "officer",
                    "--json",
                ])
                .env("SUNWAI_LOADTEST_PASSWORD", SECRET)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(r["calls"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(r["loss_percent"], 0.0, "{r}");
    for c in r["calls"].as_array().unwrap() {
        assert_eq!(c["instant_connect"], true, "{c}");
        assert_eq!(c["corrupt"], 0);
        assert_eq!(c["foreign"], 0);
        for d in ["citizen_to_officer", "officer_to_citizen"] {
            let d = &c[d];
            // About 5 s of 1.5 Mbit/s video (~170 packets/s) and 50 audio packets/s.
            assert!(d["video_received"].as_u64().unwrap() > 500, "{d}");
            assert!(d["audio_received"].as_u64().unwrap() > 150, "{d}");
            assert!(d["start_to_first_packet_ms"].as_f64().is_some(), "{d}");
        }
    }
}

/// Threads, open file descriptors and resident memory of a process, from /proc.
fn footprint(pid: u32) -> (u64, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as u64;
    (field("Threads:"), fds, field("VmRSS:"))
}

async fn one_call(url: &str, officer: &mut Client, n: usize) {
    let mut citizen = Client::connect(&ws(url)).await.unwrap();
    citizen.hello(None, None).await.unwrap();
    let joined = join(&mut citizen, &format!("Caller {n}")).await;
    let offer = expect(officer, "an offer", |m| {
        matches!(m, ServerMsg::Offer { .. })
    })
    .await;
    let ServerMsg::Offer { entry, .. } = offer else {
        unreachable!()
    };
    assert_eq!(entry, joined.entry);
    let (c, o, _) = accept_with_media(&mut citizen, officer, entry).await;
    // Alternate who ends it: the officer, or the citizen hanging up.
    if n.is_multiple_of(2) {
        officer
            .request_ok(|id| ClientMsg::EndCall { id, no_show: false })
            .await
            .unwrap();
    } else {
        citizen
            .request_ok(|id| ClientMsg::Hangup { id })
            .await
            .unwrap();
    }
    expect(officer, "call_ended", |m| {
        matches!(m, ServerMsg::CallEnded { .. })
    })
    .await;
    c.close().await;
    o.close().await;
    let _ = citizen.close().await;
    let _ = officer.request(|id| ClientMsg::Ready { id }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_calls_come_and_go_without_leaking() {
    let s = serve().await;
    let pid = s.child.id();
    let token = login(&s.url, "officer1", SECRET).await.unwrap();
    let mut officer = Client::connect(&ws(&s.url)).await.unwrap();
    officer.hello(Some(&token), None).await.unwrap();
    officer
        .request_ok(|id| ClientMsg::GoOnDuty { id })
        .await
        .unwrap();
    let _ = officer.request(|id| ClientMsg::Ready { id }).await;
    let boss = format!("Bearer {}", login(&s.url, "boss", SECRET).await.unwrap());
    let addr: std::net::SocketAddr = s.url.trim_start_matches("http://").parse().unwrap();
    let media = |addr| {
        let boss = boss.clone();
        async move {
            let r = http(addr, "GET", "/api/media", &[("authorization", &boss)], None).await;
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()
        }
    };
    const WARM_UP: usize = 20;
    const CYCLES: usize = 200;
    let mut before = None;
    for n in 0..CYCLES {
        one_call(&s.url, &mut officer, n).await;
        if n + 1 == WARM_UP {
            tokio::time::sleep(Duration::from_millis(500)).await;
            before = Some(footprint(pid));
        }
    }
    // Closing is asynchronous on the worker; give it a moment.
    let mut v = media(addr).await;
    for _ in 0..50 {
        if v["peers"] == 0 && v["calls"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        v = media(addr).await;
    }
    assert_eq!(
        (v["peers"].as_u64(), v["calls"].as_u64()),
        (Some(0), Some(0)),
        "{v}"
    );
    assert_eq!(v["peers_created"], (2 * CYCLES) as u64, "{v}");
    assert_eq!(v["peers_removed"], (2 * CYCLES) as u64, "{v}");
    let (t0, f0, m0) = before.unwrap();
    let (t1, f1, m1) = footprint(pid);
    eprintln!(
        "after {WARM_UP} calls: {t0} threads, {f0} fds, {m0} KiB; after {CYCLES}: {t1} threads, {f1} fds, {m1} KiB"
    );
    assert!(t1 <= t0 + 1, "threads grew from {t0} to {t1}");
    // A leak per call would show as 180 or more; a few are the database pool opening
    // another connection under load (it keeps up to its maximum).
    assert!(f1 <= f0 + 6, "file descriptors grew from {f0} to {f1}");
    // 180 more calls: a leak of even 20 KiB per call would show as 3.5 MiB.
    assert!(m1 <= m0 + 3 * 1024, "memory grew from {m0} KiB to {m1} KiB");
}
