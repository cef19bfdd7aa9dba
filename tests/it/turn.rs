//! A citizen on a network that blocks UDP is still heard, through TURN over TCP and over
//! TLS on port 443: a real coturn (Debian's `turnserver`) with the REST credentials the
//! server hands out, a citizen whose namespace drops every UDP packet (nftables), and a
//! whole hearing per case in real browsers (`tests/browser/udp-blocked.mjs`). A server
//! without TURN is the control: with UDP blocked, no media flows.
//!
//! Each case has its own sunwai server with one TURN URL, so the transport is not the
//! browser's choice: the citizen's selected candidate pair must be a relay candidate of
//! that protocol (getStats' `relayProtocol`), coturn's log must show the allocation on that
//! listener, and the UDP the citizen tried must show in the namespace's drop counter.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::netlab::{Host, Lab};

pub(crate) const SECRET: &str = "lab-turn-secret-shared-with-coturn";
const REALM: &str = "turn.sunwai.test";
/// coturn's plain TCP listener (it also takes TLS here, as coturn's listeners do).
pub(crate) const TCP_PORT: u16 = 3478;
/// coturn's TLS listener: the port office firewalls leave open.
pub(crate) const TLS_PORT: u16 = 443;

/// A coturn process on the lab's server address, killed when dropped.
pub(crate) struct Coturn {
    child: Child,
    dir: tempfile::TempDir,
}

impl Coturn {
    /// Starts coturn listening on `ip` (TCP on 3478, TLS on 443, with a certificate for
    /// `ip` issued by a lab CA whose certificate is `ca()`), relaying over UDP from `ip` to
    /// `ip` only: every other private and special range is denied, as in deployment.md.
    pub(crate) fn start(ip: Ipv4Addr, secret: &str) -> Coturn {
        let turnserver =
            std::env::var("TURNSERVER").unwrap_or_else(|_| "/usr/bin/turnserver".into());
        assert!(
            Path::new(&turnserver).exists(),
            "{turnserver} is missing: run scripts/test, which installs coturn"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);

        // A CA and a certificate for the TURN server's address signed by it.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sunwai lab TURN CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![ip.to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, ip.to_string());
        let cert = params.signed_by(&key, &ca).unwrap();
        std::fs::write(p("ca.pem"), ca.pem()).unwrap();
        std::fs::write(p("cert.pem"), cert.pem()).unwrap();
        std::fs::write(p("key.pem"), key.serialize_pem()).unwrap();

        let conf = format!(
            "listening-ip={ip}\n\
             relay-ip={ip}\n\
             listening-port={TCP_PORT}\n\
             tls-listening-port={TLS_PORT}\n\
             cert={cert}\n\
             pkey={key}\n\
             use-auth-secret\n\
             static-auth-secret={secret}\n\
             realm={REALM}\n\
             fingerprint\n\
             no-udp\n\
             no-dtls\n\
             no-cli\n\
             no-multicast-peers\n\
             allowed-peer-ip={ip}\n\
             denied-peer-ip=0.0.0.0-0.255.255.255\n\
             denied-peer-ip=10.0.0.0-10.255.255.255\n\
             denied-peer-ip=100.64.0.0-100.127.255.255\n\
             denied-peer-ip=127.0.0.0-127.255.255.255\n\
             denied-peer-ip=169.254.0.0-169.254.255.255\n\
             denied-peer-ip=172.16.0.0-172.31.255.255\n\
             denied-peer-ip=192.168.0.0-192.168.255.255\n\
             userdb={db}\n\
             pidfile={pid}\n\
             log-file={log}\n\
             simple-log\n\
             verbose\n",
            cert = p("cert.pem").display(),
            key = p("key.pem").display(),
            db = p("turndb").display(),
            pid = p("turnserver.pid").display(),
            log = p("turn.log").display(),
        );
        std::fs::write(p("turnserver.conf"), conf).unwrap();
        let child = Command::new(&turnserver)
            .arg("-c")
            .arg(p("turnserver.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {turnserver}: {e}"));
        let mut turn = Coturn { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in [TCP_PORT, TLS_PORT] {
            let addr = SocketAddr::from((ip, port));
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "coturn is not listening on {addr}:\n{}",
                    turn.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // The listeners are this process's, not another TURN server's on the machine.
        assert!(
            matches!(turn.child.try_wait(), Ok(None)),
            "coturn exited:\n{}",
            turn.log()
        );
        turn
    }

    /// The certificate of the CA that issued the TLS listener's certificate.
    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("turn.log")).unwrap_or_default()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nftables in `host`'s namespace: every UDP packet in or out is counted and dropped.
fn block_udp(host: &Host) {
    let rules = "table inet sunwai_udp_blocked {\n\
                   chain out { type filter hook output priority 0; policy accept; meta l4proto udp counter drop; }\n\
                   chain in { type filter hook input priority 0; policy accept; meta l4proto udp counter drop; }\n\
                 }\n";
    let mut nft = host.command("nft");
    nft.args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = nft
        .spawn()
        .expect("nft (nftables) is needed: run scripts/test, which installs it");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), rules.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An NSS database under `home` (`.pki/nssdb`, where Chromium on Linux looks) that trusts
/// `ca` to issue server certificates.
fn trust_in_nss(home: &Path, ca: &Path) {
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let db = format!("sql:{}", db.display());
    let certutil = |args: &[&str]| {
        let out = Command::new("certutil")
            .args(["-d", &db])
            .args(args)
            .output()
            .expect("certutil (libnss3-tools) is needed: run scripts/test, which installs it");
        assert!(
            out.status.success(),
            "certutil {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    certutil(&["-N", "--empty-password"]);
    let ca = ca.to_str().unwrap();
    certutil(&["-A", "-t", "C,,", "-n", "sunwai lab TURN CA", "-i", ca]);
}

/// One TURN session of a citizen, as coturn's log tells it once the session is closed.
#[derive(Debug, Default)]
struct Session {
    /// The listener's port the citizen connected to.
    port: u16,
    /// Over TLS (coturn names the cipher and TLS version of the session).
    tls: bool,
    /// Packets from the peer (the SFU) to the citizen, and from the citizen to the peer.
    from_peer: u64,
    to_peer: u64,
}

/// The citizens' sessions in coturn's log (`simple-log`, `verbose`): the `new` line
/// says whether it is TLS, `peer usage` what was relayed (`rp`: packets received from
/// peers, `sp`: sent to them), `closed` the local address it came in on.
fn citizen_sessions(log: &str) -> Vec<Session> {
    let mut by_id: std::collections::BTreeMap<String, Session> = Default::default();
    let field = |line: &str, name: &str| -> Option<u64> {
        let rest = line.split(&format!(" {name}=")).nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    for line in log.lines().filter(|l| l.contains(":citizen>")) {
        let Some(id) = line
            .split("session ")
            .nth(1)
            .and_then(|r| r.split(':').next())
        else {
            continue;
        };
        let s = by_id.entry(id.to_owned()).or_default();
        if line.contains(": new, ") {
            s.tls = line.contains("method=TLS");
        } else if line.contains(": peer usage: ") {
            s.from_peer = field(line, "rp").unwrap_or(0);
            s.to_peer = field(line, "sp").unwrap_or(0);
        } else if line.contains(": closed ") {
            s.port = line
                .split(", local ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|a| a.parse::<SocketAddr>().ok())
                .map_or(0, |a| a.port());
        }
    }
    by_id.into_values().collect()
}

/// How many UDP packets the citizen's namespace has dropped on the way out.
fn udp_dropped(host: &Host) -> u64 {
    let out = host
        .command("nft")
        .args(["list", "chain", "inet", "sunwai_udp_blocked", "out"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("packets ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in the UDP block: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_whose_network_blocks_udp_is_heard_through_turn_over_tcp_and_tls() {
    let (root, chromium) = browser_tools();

    let _browsers = BROWSERS.lock().await;
    // Host 0: the citizen, whose network drops all UDP; host 1: the officer, whose does not.
    let lab = Lab::new(2);
    let (citizen_host, ip) = (&lab.hosts[0], lab.server);
    block_udp(citizen_host);
    let turn = Coturn::start(ip, SECRET);

    // The test servers' clock stands at the hearing time (helpers::hearing_time), days
    // before the real one, and TURN credentials expire at that clock's time plus the TTL,
    // while coturn judges them by the real clock: the TTL makes up the difference, so
    // that the credentials live an hour of real time, as in a deployment.
    let behind = (jiff::Timestamp::now().as_second() - hearing_time().as_second()).max(0);
    let ttl = u32::try_from(behind + 3600).expect("the hearing time is less than a century ago");
    let with_turn = |url: String| {
        move |c: &mut sunwai::config::FileConfig| {
            c.media.ice_servers = vec![url];
            c.media.turn_secret = SECRET.into();
            c.media.turn_ttl_secs = ttl;
        }
    };
    let tcp = spawn_app_in(
        &lab,
        with_turn(format!("turn:{ip}:{TCP_PORT}?transport=tcp")),
    )
    .await;
    let tls = spawn_app_in(
        &lab,
        with_turn(format!("turns:{ip}:{TLS_PORT}?transport=tcp")),
    )
    .await;
    let none = spawn_app_in(&lab, |_| {}).await;
    let cases = serde_json::json!([
        { "name": "tcp", "url": tcp.base_url(), "citizen": "chromium", "relay": "tcp" },
        { "name": "tls", "url": tls.base_url(), "citizen": "chromium", "relay": "tls" },
        { "name": "none", "url": none.base_url(), "citizen": "chromium", "relay": null },
    ]);

    // Chromium checks a TURN server's TLS certificate (the page's ignoreHTTPSErrors does
    // not reach it: without the CA, the handshake on 443 is dropped by the browser). The
    // lab CA goes into the NSS database of the home the browsers run with, where Chromium
    // on Linux takes locally trusted CAs from, as an administrator would install an
    // office's CA.
    let home = tempfile::tempdir().unwrap();
    trust_in_nss(home.path(), &turn.ca());

    let results = tempfile::NamedTempFile::new().unwrap();
    let mut node = NodeTests::new("udp-blocked");
    node.cmd
        .arg("tests/browser/udp-blocked.mjs")
        .current_dir(root)
        .env("SUNWAI_URL", tcp.base_url())
        .env("SUNWAI_INTEROP_URL", tcp.base_url())
        .env("SUNWAI_LAB", lab.json())
        .env("SUNWAI_PASSWORD", PASSWORD)
        .env("SUNWAI_TURN_CASES", cases.to_string())
        .env("SUNWAI_TURN_RESULTS", results.path())
        .env("CHROMIUM", &chromium)
        .env("HOME", home.path());
    let started = Instant::now();
    let outcome = node.run().await;
    let log = turn.log();
    if let Err(failed) = outcome {
        panic!("the browser cases failed: {failed}\ncoturn's log:\n{log}");
    }
    println!(
        "udp-blocked.mjs took {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Every case was a whole hearing, on the record.
    let heard: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(results.path()).unwrap()).unwrap();
    assert_eq!(heard.len(), 3, "{heard:?}");
    for (h, app) in heard.iter().zip([&tcp, &tls, &none]) {
        let reference = h["reference"].as_str().unwrap();
        let store = app.store().await;
        let rec = store.get_by_reference(reference).await.unwrap().unwrap();
        assert!(
            rec.answered_at.is_some() && rec.ended_at.is_some() && rec.outcome.is_some(),
            "{}: {rec:?}",
            h["name"]
        );
        store.close().await;
    }

    // coturn relayed the citizen's media both ways on each listener: over plain TCP on
    // 3478 and over TLS on 443 (its log is the server's side of getStats' relayProtocol).
    let deadline = Instant::now() + Duration::from_secs(5);
    let sessions = loop {
        let sessions = citizen_sessions(&turn.log());
        let relayed = |port: u16, tls: bool| {
            sessions
                .iter()
                .any(|s| s.port == port && s.tls == tls && s.from_peer > 0 && s.to_peer > 0)
        };
        if relayed(TCP_PORT, false) && relayed(TLS_PORT, true) {
            break sessions;
        }
        assert!(
            Instant::now() < deadline,
            "coturn relayed no citizen over TCP on {TCP_PORT} and over TLS on {TLS_PORT}: {sessions:?}\n{}",
            turn.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("coturn's sessions for citizens: {sessions:?}");

    // The citizen tried UDP, and the namespace dropped it.
    let dropped = udp_dropped(citizen_host);
    assert!(dropped > 0, "the citizen never tried UDP");
    println!("UDP packets dropped in the citizen's namespace: {dropped}");

    tcp.stop().await;
    tls.stop().await;
    none.stop().await;
}
