//! `kill -9` during writes: the real `sunwai serve` binary is killed again and again while
//! citizens join and leave and written complaints arrive; afterwards the database is
//! sound, every acknowledged write is in it, and the waiting room comes back.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sunwai::core::ids::{DeskId, EntryId};
use sunwai::store::{Disposition, Store};
use sunwai_signaling::{Client, ClientMsg, ServerMsg};

use crate::helpers::*;

const KILLS: usize = 4;
const WRITERS: usize = 4;

/// A desk that is always open, and limits no test traffic trips over.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("sunwai.toml");
    let text = format!(
        r#"
listen = "127.0.0.1:0"
data_dir = "{}"
log = "warn"

[limits]
joins_per_minute_per_address = 1000000
written_complaints_per_hour_per_address = 1000000
messages_per_second = 100000

[[desks]]
id = "{DESK}"
name = "SSP Prayagraj"
prefix = "PRY"
time_zone = "UTC"
windows = ["00:00-24:00"]

[desks.policy]
late_join = "admit_with_warning"
max_waiting = 100000
"#,
        dir.join("data").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `sunwai serve` and returns it with its address once it listens.
fn serve(config: &Path) -> (Child, String) {
    serve_config(config, Stdio::null())
}

#[derive(Default)]
struct Acked {
    /// Joins answered with `joined`: (entry, ticket).
    joined: Vec<(uuid::Uuid, String)>,
    /// Leaves sent, and those answered with `ok`.
    leaving: BTreeSet<uuid::Uuid>,
    left: BTreeSet<uuid::Uuid>,
    /// Written complaints answered with 201: their references.
    written: Vec<String>,
}

/// Joins and leaves (every other citizen stays) until the server dies.
async fn citizen_writer(addr: String, acked: Arc<Mutex<Acked>>, n: usize) {
    let url = format!("ws://{addr}/ws");
    for i in 0.. {
        let Ok(mut c) = Client::connect(&url).await else {
            return;
        };
        if c.hello(None, None).await.is_err() {
            return;
        }
        let reply = c
            .request(|id| ClientMsg::Join {
                id,
                desk: DESK.into(),
                intake: intake(&format!("Citizen {n}-{i}")),
            })
            .await;
        let entry = match reply {
            Ok(ServerMsg::Joined { entry, ticket, .. }) => {
                acked.lock().unwrap().joined.push((entry, ticket));
                entry
            }
            _ => return,
        };
        if i % 2 == 0 {
            acked.lock().unwrap().leaving.insert(entry);
            match c.request(|id| ClientMsg::Leave { id }).await {
                Ok(ServerMsg::Ok { .. }) => {
                    acked.lock().unwrap().left.insert(entry);
                }
                _ => return,
            }
        }
    }
}

/// Files written complaints until the server dies.
async fn written_writer(addr: String, acked: Arc<Mutex<Acked>>) {
    let body = r#"{"name":"Ram","mobile":"9876543210","area":"Kotwali","category":"theft","description":"cycle stolen","language":"hi","consent":true}"#;
    loop {
        let path = format!("/api/desks/{DESK}/complaints");
        let sent = async {
            let addr: std::net::SocketAddr = addr.parse().ok()?;
            let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
            let req = format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            s.write_all(req.as_bytes()).await.ok()?;
            let mut resp = String::new();
            s.read_to_string(&mut resp).await.ok()?;
            Some(resp)
        };
        let Some(resp) = sent.await else { return };
        if !resp.starts_with("HTTP/1.1 201") {
            return;
        }
        let Some(json) = resp.split("\r\n\r\n").nth(1) else {
            return;
        };
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let reference = v["reference"].as_str().unwrap().to_owned();
        acked.lock().unwrap().written.push(reference);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_writes_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let acked = Arc::new(Mutex::new(Acked::default()));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("kill timing seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..KILLS {
        let (mut child, addr) = serve(&config);
        let mut tasks = Vec::new();
        for n in 0..WRITERS {
            tasks.push(tokio::spawn(citizen_writer(addr.clone(), acked.clone(), n)));
        }
        tasks.push(tokio::spawn(written_writer(addr.clone(), acked.clone())));
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..900))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for t in tasks {
            tokio::time::timeout(WAIT, t).await.unwrap().unwrap();
        }
    }
    let acked = Arc::try_unwrap(acked).ok().unwrap().into_inner().unwrap();
    assert!(
        acked.joined.len() >= 20,
        "only {} joins",
        acked.joined.len()
    );
    assert!(!acked.left.is_empty() && !acked.written.is_empty());

    let store = Store::open_sqlite(&dir.path().join("data")).await.unwrap();
    store.check_integrity().await.unwrap();
    for (entry, _) in &acked.joined {
        let c = store
            .get(EntryId(*entry))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged join {entry} lost"));
        let want: &[Disposition] = if acked.left.contains(entry) {
            &[Disposition::Abandoned]
        } else if acked.leaving.contains(entry) {
            // Killed before the reply: the leave may or may not have been written.
            &[Disposition::Abandoned, Disposition::Waiting]
        } else {
            &[Disposition::Waiting]
        };
        assert!(
            want.contains(&c.disposition),
            "{}: {}",
            c.reference,
            c.disposition
        );
    }
    for r in &acked.written {
        assert!(
            store.get_by_reference(r).await.unwrap().is_some(),
            "acknowledged written complaint {r} lost"
        );
    }
    // Everyone who joined and did not leave has a place. (Their order is the room's order
    // of joins, which concurrent writers cannot see; the chaos test checks order.)
    let desk = DeskId::parse(DESK).unwrap();
    let room = store.waiting_room(&desk).await.unwrap();
    let staying: Vec<uuid::Uuid> = acked
        .joined
        .iter()
        .map(|(e, _)| *e)
        .filter(|e| !acked.leaving.contains(e))
        .collect();
    for e in &staying {
        let o = room.iter().find(|o| o.complaint.id.0 == *e);
        assert!(
            o.is_some_and(|o| o.place.is_some()),
            "acknowledged join {e} has no place"
        );
    }
    store.close().await;

    // And the server brings them back: a ticket finds its place after the last kill -9.
    let (mut child, addr) = serve(&config);
    let (entry, ticket) = acked
        .joined
        .iter()
        .rev()
        .find(|(e, _)| !acked.leaving.contains(e))
        .unwrap()
        .clone();
    let mut c = Client::connect(&format!("ws://{addr}/ws")).await.unwrap();
    let w = c.hello(None, Some(&ticket)).await.unwrap();
    let resumed = w.resumed.expect("the ticket is recognised");
    assert_eq!((resumed.entry, resumed.state.as_str()), (entry, "waiting"));
    let ahead = room.iter().position(|o| o.complaint.id.0 == entry).unwrap();
    let m = expect(&mut c, "its place", |m| {
        matches!(m, ServerMsg::Queue { .. })
    })
    .await;
    assert!(
        matches!(m, ServerMsg::Queue { position, .. } if position as usize == ahead + 1),
        "{m:?}"
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
}
