//! Several nodes sharing one PostgreSQL database: three real `sunwai serve` processes on
//! loopback, one desk. Citizens and an officer come in through every node (the non-owners
//! relay them to the owner); the owner is killed with SIGKILL; another node takes the desk
//! over once its lease expires; every citizen, reconnecting by ticket through a surviving
//! node, gets their place back in the same order; the officer goes on with the next one;
//! and every record is in the database.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use sunwai::core::ids::{DeskId, EntryId};
use sunwai::store::scratch::ScratchDatabase;
use sunwai::store::{Disposition, NewUser, Role, Store};
use sunwai_signaling::{Client, ClientMsg, ServerMsg};

use crate::helpers::*;

/// Short leases, so that a takeover takes about two seconds.
const LEASE_SECS: u32 = 2;
/// How long the takeover may take before the test fails: the lease, a renewal period
/// and plenty of room for a slow machine.
const TAKEOVER: Duration = Duration::from_secs(30);

fn write_config(dir: &Path, node: &str, url: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{node}.toml"));
    let text = format!(
        r#"
listen = "127.0.0.1:0"
data_dir = "{data}"
database_url = "{url}"
log = "info,sqlx=warn"
# A call is still in progress when the test stops the survivors.
shutdown_grace_secs = 1

[limits]
joins_per_minute_per_address = 1000
messages_per_second = 1000

[media]
enabled = false

[cluster]
enabled = true
node_id = "{node}"
lease_secs = {LEASE_SECS}

[[desks]]
id = "{DESK}"
name = "SSP Prayagraj"
prefix = "PRY"
time_zone = "UTC"
windows = ["00:00-24:00"]

[desks.policy]
late_join = "admit_with_warning"
"#,
        data = dir.join(node).display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

struct Node {
    name: String,
    addr: String,
    child: Child,
}

impl Node {
    // The child is killed and waited for by the test.
    #[allow(clippy::zombie_processes)]
    fn start(dir: &Path, name: &str, db: &str) -> Node {
        let config = write_config(dir, name, db);
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let (child, addr) = serve_config(&config, Stdio::from(log));
        Node {
            name: name.to_owned(),
            addr,
            child,
        }
    }

    fn ws(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    async fn login(&self, username: &str) -> String {
        let body = format!(r#"{{"username":"{username}","password":"{PASSWORD}"}}"#);
        let ct = [("content-type", "application/json")];
        let r = http(
            self.addr.parse().unwrap(),
            "POST",
            "/api/login",
            &ct,
            Some(&body),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The node holding the desk's live lease (by name) and its epoch, once one does.
async fn owner(store: &Store) -> Option<(String, u64)> {
    let desk = DeskId::parse(DESK).unwrap();
    let deadline = tokio::time::Instant::now() + TAKEOVER;
    while tokio::time::Instant::now() < deadline {
        let now = jiff::Timestamp::now();
        let live = store
            .leases()
            .await
            .unwrap()
            .into_iter()
            .find(|l| l.desk == desk && l.until > now);
        if let Some(l) = live {
            return Some((l.node, l.epoch));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Reconnects by ticket through `url` until the desk's new owner has the place back.
async fn resume(url: &str, ticket: &str) -> Client {
    let deadline = tokio::time::Instant::now() + TAKEOVER;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no place back within {TAKEOVER:?}"
        );
        if let Ok(mut c) = Client::connect(url).await {
            if let Ok(w) = c.hello(None, Some(ticket)).await {
                if w.resumed.as_ref().is_some_and(|r| r.state == "waiting") {
                    return c;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for the citizen's queue position to be `want`.
async fn position(c: &mut Client, want: u32) {
    expect(
        c,
        &format!("position {want}"),
        |m| matches!(m, ServerMsg::Queue { position, .. } if *position == want),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_desk_goes_on_elsewhere_in_order_with_every_record() {
    let db = ScratchDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open_postgres(&db.url).await.unwrap();
    let phc = sunwai::auth::hash_password(PASSWORD).unwrap();
    let desk = DeskId::parse(DESK).unwrap();
    for (username, role, desk) in [
        ("officer1", Role::Officer, Some(desk.clone())),
        ("supervisor", Role::Supervisor, None),
    ] {
        let new = NewUser {
            username: username.into(),
            display_name: username.into(),
            role,
            desk,
            password_phc: phc.clone(),
        };
        store.create_user(new).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "n0", &db.url);
    let (ok, out, err) = crate::cli::run(
        &["config", "check", "--config", config.to_str().unwrap()],
        None,
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("cluster node n0 at the bound address, leases of 2 s"),
        "{out}"
    );
    let mut nodes: Vec<Node> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| Node::start(dir.path(), n, &db.url))
        .collect();

    // One node owns the desk; the others relay to it.
    let (owner_name, epoch) = owner(&store).await.expect("a node owns the desk");
    let owner_at = nodes.iter().position(|n| n.name == owner_name).unwrap();
    let others: Vec<usize> = (0..3).filter(|i| *i != owner_at).collect();

    // Six citizens, through every node in turn (four of them through a non-owner).
    let mut citizens = Vec::new();
    let mut joined = Vec::new();
    for i in 0..6 {
        let via = &nodes[i % 3];
        let mut c = Client::connect(&via.ws()).await.unwrap();
        let w = c.hello(None, None).await.unwrap();
        assert!(
            w.desks.iter().any(|d| d.id == DESK),
            "every node lists the desk"
        );
        joined.push(join(&mut c, &format!("Citizen {i}")).await);
        citizens.push(c);
    }
    for (i, c) in citizens.iter_mut().enumerate() {
        position(c, i as u32 + 1).await;
    }

    // A supervisor of every desk, signed in at a node that does not serve the desk, sees
    // its live queue (over that node's link to the owner) and its counts in the desk list.
    let via = &nodes[others[1]];
    let token = via.login("supervisor").await;
    let mut supervisor = Client::connect(&via.ws()).await.unwrap();
    supervisor.hello(Some(&token), None).await.unwrap();
    supervisor
        .request_ok(|id| ClientMsg::Watch {
            id,
            desk: DESK.into(),
        })
        .await
        .unwrap();
    expect(
        &mut supervisor,
        "the desk's queue",
        |m| matches!(m, ServerMsg::Desk { snapshot } if snapshot.queue.len() == 6),
    )
    .await;
    supervisor
        .request_ok(|id| ClientMsg::Broadcast {
            id,
            desk: DESK.into(),
            text: "सुनवाई जारी है".into(),
        })
        .await
        .unwrap();
    expect(&mut citizens[5], "the broadcast", |m| {
        matches!(m, ServerMsg::Message { .. })
    })
    .await;
    let listed = async {
        loop {
            let r = http(via.addr.parse().unwrap(), "GET", "/api/desks", &[], None).await;
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            if v[0]["waiting"] == 6 && v[0]["node"] == owner_name.as_str() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(TAKEOVER, listed)
        .await
        .expect("the desk list shows the owner's counts");
    // A supervisor's chart and forecast are answered by the desk's node: the non-owner
    // forwards the request (the forecast needs the live room).
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    let path = format!("/api/desks/{DESK}/today");
    let r = http(via.addr.parse().unwrap(), "GET", &path, &auth, None).await;
    assert_eq!(r.status, 200);
    let owner_url = format!("http://{}", nodes[owner_at].addr);
    assert_eq!(r.header("x-sunwai-served-by"), Some(owner_url.as_str()));
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let arrivals: u64 = v["arrivals"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_u64())
        .sum();
    assert_eq!(arrivals, 6, "arrivals in today's chart");

    // The officer signs in at a non-owner and hears the first citizen.
    let via = &nodes[others[0]];
    let token = via.login("officer1").await;
    let mut officer = Client::connect(&via.ws()).await.unwrap();
    officer.hello(Some(&token), None).await.unwrap();
    officer
        .request_ok(|id| ClientMsg::GoOnDuty { id })
        .await
        .unwrap();
    let first = EntryId(joined[0].entry);
    expect(
        &mut officer,
        "the first offer",
        |m| matches!(m, ServerMsg::Offer { entry, .. } if *entry == first.0),
    )
    .await;
    officer
        .request_ok(|id| ClientMsg::Accept { id, entry: first.0 })
        .await
        .unwrap();
    officer
        .request_ok(|id| ClientMsg::EndCall { id, no_show: false })
        .await
        .unwrap();

    // The owner dies. Its lease runs out and a surviving node takes the desk over.
    let mut dead = nodes.remove(owner_at);
    dead.child.kill().unwrap(); // SIGKILL
    dead.child.wait().unwrap();
    drop(citizens);
    drop(officer);
    // The supervisor's link to the dead node broke: they are told to reconnect.
    let closed = supervisor.recv_until(|_| false, TAKEOVER).await;
    assert!(
        matches!(
            closed,
            Err(sunwai_signaling::ClientError::Closed { code: 1001, .. })
        ),
        "{closed:?}"
    );

    // Everyone still waiting comes back by ticket through a survivor, in the same order.
    let mut back = Vec::new();
    for (i, j) in joined.iter().enumerate().skip(1) {
        let via = &nodes[i % nodes.len()];
        back.push(resume(&via.ws(), &j.ticket).await);
    }
    for (i, c) in back.iter_mut().enumerate() {
        position(c, i as u32 + 1).await;
    }
    let (new_owner, new_epoch) = owner(&store).await.expect("the desk has a new owner");
    assert_ne!(new_owner, dead.name);
    assert!(new_epoch > epoch, "the epoch counts the change of hands");

    // The officer, back through the node that does not own the desk now (or any survivor),
    // is offered the next citizen in line.
    let via = nodes
        .iter()
        .find(|n| n.name != new_owner)
        .unwrap_or(&nodes[0]);
    let mut officer = Client::connect(&via.ws()).await.unwrap();
    officer.hello(Some(&token), None).await.unwrap();
    officer
        .request_ok(|id| ClientMsg::GoOnDuty { id })
        .await
        .unwrap();
    let second = joined[1].entry;
    expect(
        &mut officer,
        "the next offer",
        |m| matches!(m, ServerMsg::Offer { entry, .. } if *entry == second),
    )
    .await;
    officer
        .request_ok(|id| ClientMsg::Accept { id, entry: second })
        .await
        .unwrap();
    expect(&mut back[0], "the call", |m| {
        matches!(m, ServerMsg::CallStarted { .. })
    })
    .await;

    // Every record is there: the first heard and completed, the rest waiting or in call.
    for (i, j) in joined.iter().enumerate() {
        let c = store
            .get(EntryId(j.entry))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("record of citizen {i} lost"));
        assert_eq!(c.reference.to_string(), j.reference);
        let want = match i {
            0 => Disposition::Completed,
            1 => Disposition::InCall,
            _ => Disposition::Waiting,
        };
        assert_eq!(c.disposition, want, "citizen {i}");
    }
    store.check_integrity().await.unwrap();
    let log = std::fs::read_to_string(dir.path().join(format!("{new_owner}.log"))).unwrap();
    assert!(log.contains("desk lease taken"), "{log}");

    store.close().await;
    for n in nodes {
        n.stop();
    }
    db.drop().await.unwrap();
}
