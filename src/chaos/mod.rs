//! `sunwai chaos`: the real server, N citizens and M officers driven over real WebSockets
//! by the signaling client, and the server killed with SIGKILL at random moments K times.
//!
//! The server is this same executable run as `sunwai serve` in a scratch data directory,
//! on a fixed loopback port so that clients reconnect to the same address. Citizens join
//! one after another (so the order of their acknowledged joins is the queue order), wait,
//! are called, and reconnect with their ticket whenever the connection drops. Officers go
//! on duty, accept every offer, talk for a random while and end the call, and reconnect
//! (and go on duty again) after every kill.
//!
//! After each restart, before the officers are let back, a supervisor's snapshot of the
//! restored queue is checked against the records: everyone who had been answered (cut
//! calls) is ahead of everyone who had not, those who had not are in the order they
//! joined, and every citizen still waiting is in it. At the end the database must pass its
//! integrity check, every acknowledged join must have its record, and every call whose end
//! an officer had acknowledged must be recorded as completed.

mod report;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sunwai_signaling::{Client, ClientMsg, DutyState, IntakeMsg, ServerMsg};
use tokio::sync::watch;
use uuid::Uuid;

use crate::core::ids::{DeskId, EntryId};
use crate::store::{Disposition, NewUser, Role, Store};

pub use report::Report;

const DESK: &str = "chaos";

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub citizens: usize,
    pub officers: usize,
    pub kills: usize,
    /// Kills come at random after 0.2 s to this long.
    pub max_gap: Duration,
    /// Calls last a random time up to twice this.
    pub mean_call: Duration,
    /// Citizens arrive a random time apart, up to twice this.
    pub mean_arrival: Duration,
    pub seed: u64,
    /// The scratch data directory; it must not exist yet.
    pub data_dir: PathBuf,
    /// Give up waiting for everyone to be served after this long.
    pub timeout: Duration,
}

/// Where each citizen ended up, as the driver saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fate {
    Waiting,
    /// Told their call ended.
    Served,
    /// Lost their place: removed, not recognised, or gone without a call.
    Lost(String),
}

#[derive(Default)]
struct Shared {
    /// Acknowledged joins in order: entry and ticket.
    joined: Vec<(Uuid, String)>,
    fate: HashMap<Uuid, Fate>,
    /// Calls whose `end_call` an officer had acknowledged.
    ended: HashSet<Uuid>,
    restarts: Vec<Duration>,
    order_checks: usize,
    order_violations: Vec<String>,
    missing_after_restart: usize,
    /// Citizens in restored queues, and how many of them had had a call cut.
    restored: usize,
    calls_cut: usize,
}

type State = Arc<Mutex<Shared>>;

fn lock(s: &State) -> std::sync::MutexGuard<'_, Shared> {
    // A panicking driver task must not hide the figures of the others.
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// The server under test.
struct Server {
    exe: PathBuf,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Starts `sunwai serve` and waits until it listens.
    fn start(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut child = Command::new(&self.exe)
            .args(["serve", "--config"])
            .arg(&self.config)
            .env_remove("SUNWAI_CONFIG")
            // Its own media ports, chosen by the system: never those of a real server.
            .env("SUNWAI_MEDIA__BASE_PORT", "0")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("starting sunwai serve")?;
        let mut out = BufReader::new(child.stdout.take().context("no stdout")?);
        let mut line = String::new();
        out.read_line(&mut line)?;
        if !line.contains("http://") {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the server did not start (see {}): {line:?}",
                self.log.display()
            );
        }
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        self.child = Some(child);
        Ok(started.elapsed())
    }

    /// SIGKILL, and reap it.
    fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// SIGTERM, and wait for the graceful stop.
    fn terminate(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            let status = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status()?;
            if !status.success() {
                c.kill()?;
            }
            c.wait()?;
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// A free loopback port (bound and released at once).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn write_config(dir: &Path, port: u16) -> anyhow::Result<PathBuf> {
    let path = dir.join("sunwai.toml");
    let text = format!(
        r#"listen = "127.0.0.1:{port}"
data_dir = "{data}"
log = "warn"
shutdown_grace_secs = 0

[limits]
joins_per_minute_per_address = 1000000
logins_per_minute_per_address = 1000000
messages_per_second = 10000

[[desks]]
id = "{DESK}"
name = "Chaos desk"
prefix = "CHS"
time_zone = "UTC"
windows = ["00:00-24:00"]

[desks.policy]
offer_timeout_secs = 10
citizen_grace_secs = 300
officer_grace_secs = 30
wrap_up_secs = 0
late_join = "admit_with_warning"
max_waiting = 100000
"#,
        data = dir.join("data").display()
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Staff accounts with sessions made directly in the store (no password sign-in needed):
/// officers' tokens and the supervisor's.
async fn accounts(data: &Path, officers: usize) -> anyhow::Result<(Vec<String>, String)> {
    let store = Store::open_sqlite(data).await?;
    let desk = DeskId::parse(DESK)?;
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let mut tokens = Vec::new();
    for n in 0..officers {
        let desk = Some(desk.clone());
        tokens.push(account(&store, format!("officer{n}"), Role::Officer, desk, expires).await?);
    }
    let supervisor = account(&store, "supervisor".into(), Role::Supervisor, None, expires).await?;
    store.close().await;
    Ok((tokens, supervisor))
}

/// An account nobody can sign in to with a password, and a session token for it.
async fn account(
    store: &Store,
    name: String,
    role: Role,
    desk: Option<DeskId>,
    expires: jiff::Timestamp,
) -> anyhow::Result<String> {
    let user = store
        .create_user(NewUser {
            username: name.clone(),
            display_name: name,
            role,
            desk,
            password_phc: crate::auth::decoy_phc().to_owned(),
        })
        .await?;
    let (token, hash) = crate::auth::new_secret_token();
    store.create_session(&hash, user.id, expires).await?;
    Ok(token)
}

fn intake(n: usize) -> IntakeMsg {
    IntakeMsg {
        name: format!("Citizen {n}"),
        mobile: "98765 43210".into(),
        area: "Kotwali".into(),
        category: "theft".into(),
        description: String::new(),
        language: "hi".into(),
        consent: true,
    }
}

async fn connect(url: &str, session: Option<&str>, ticket: Option<&str>) -> Option<Client> {
    let mut c = Client::connect(url).await.ok()?;
    let w = c.hello(session, ticket).await.ok()?;
    // A citizen whose ticket is no longer recognised has nothing to resume.
    if ticket.is_some() && w.resumed.is_none() {
        return None;
    }
    Some(c)
}

/// Joins citizens one after another, each after the previous join was acknowledged.
async fn arrivals(url: String, plan: Plan, state: State, stop: watch::Receiver<bool>) {
    let mut rng = StdRng::seed_from_u64(plan.seed ^ 0xA441);
    let mut tasks = Vec::new();
    for n in 0..plan.citizens {
        let gap = rng.random_range(0..=2 * plan.mean_arrival.as_millis() as u64);
        tokio::time::sleep(Duration::from_millis(gap)).await;
        let (client, entry, ticket) = loop {
            if let Some(mut c) = connect(&url, None, None).await {
                let reply = c
                    .request(|id| ClientMsg::Join {
                        id,
                        desk: DESK.into(),
                        intake: intake(n),
                    })
                    .await;
                if let Ok(ServerMsg::Joined { entry, ticket, .. }) = reply {
                    break (c, entry, ticket);
                }
            }
            // Refused or cut off by a kill: not acknowledged, so simply try again.
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        {
            let mut s = lock(&state);
            s.joined.push((entry, ticket.clone()));
            s.fate.insert(entry, Fate::Waiting);
        }
        let citizen = citizen(url.clone(), client, entry, ticket, state.clone());
        tasks.push(tokio::spawn(citizen));
        if *stop.borrow() {
            break;
        }
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// One citizen: waits, is called, and comes back with the ticket after every drop.
async fn citizen(url: String, mut client: Client, entry: Uuid, ticket: String, state: State) {
    let fate = loop {
        match client.recv().await {
            Ok(ServerMsg::CallEnded { .. }) => break Fate::Served,
            Ok(ServerMsg::Removed { reason }) => break Fate::Lost(format!("removed: {reason}")),
            Ok(ServerMsg::CarriedOver { .. }) => break Fate::Lost("carried over".into()),
            Ok(_) => continue,
            Err(_) => {}
        }
        // Dropped (a kill): back with the ticket, with a little jitter, for up to two
        // minutes (the grace period is longer).
        let deadline = Instant::now() + Duration::from_secs(120);
        let back = loop {
            tokio::time::sleep(Duration::from_millis(50 + u64::from(entry.as_bytes()[0]))).await;
            let attempt = async {
                let mut c = Client::connect(&url).await.ok()?;
                let w = c.hello(None, Some(&ticket)).await.ok()?;
                Some((c, w.resumed.map(|r| r.state)))
            };
            if let Some(r) = attempt.await {
                break Some(r);
            }
            if Instant::now() > deadline {
                break None;
            }
        };
        match back {
            Some((c, Some(state))) if state == "waiting" || state == "in_call" => client = c,
            Some((_, Some(state))) if state == "completed" => break Fate::Served,
            Some((_, Some(state))) => break Fate::Lost(format!("resumed as {state}")),
            Some((_, None)) => break Fate::Lost("ticket not recognised".into()),
            None => break Fate::Lost("could not reconnect".into()),
        }
    };
    lock(&state).fate.insert(entry, fate);
}

/// One officer: on duty, accepts every offer, talks a while, ends the call; after a drop
/// waits for the gate (open while no restart is being checked), reconnects and goes on
/// duty again.
async fn officer(
    url: String,
    token: String,
    plan: Plan,
    n: usize,
    state: State,
    mut gate: watch::Receiver<bool>,
    done: watch::Receiver<bool>,
) {
    let mut rng = StdRng::seed_from_u64(plan.seed ^ (n as u64 + 1).wrapping_mul(0x9E37));
    'connection: while !*done.borrow() {
        if gate.wait_for(|open| *open).await.is_err() {
            return;
        }
        let Some(mut c) = connect(&url, Some(&token), None).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if c.request_ok(|id| ClientMsg::GoOnDuty { id }).await.is_err() {
            continue;
        }
        loop {
            if *done.borrow() {
                return;
            }
            let msg = match c.recv_timeout(Duration::from_millis(500)).await {
                Ok(m) => m,
                Err(sunwai_signaling::ClientError::Timeout) => continue,
                Err(_) => continue 'connection,
            };
            match msg {
                ServerMsg::Offer { entry, .. } => {
                    // An offer may have gone meanwhile (`out_of_order`): fine.
                    let _ = c.request(|id| ClientMsg::Accept { id, entry }).await;
                }
                ServerMsg::CallStarted { entry, .. } | ServerMsg::CallResumed { entry, .. } => {
                    let ms = rng.random_range(0..=2 * plan.mean_call.as_millis() as u64);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    let r = c
                        .request(|id| ClientMsg::EndCall { id, no_show: false })
                        .await;
                    if matches!(r, Ok(ServerMsg::Ok { .. })) {
                        lock(&state).ended.insert(entry);
                    }
                }
                ServerMsg::Duty {
                    state: DutyState::Away,
                } => {
                    let _ = c.request(|id| ClientMsg::Ready { id }).await;
                }
                _ => {}
            }
        }
    }
}

/// After a restart, before officers are back: the restored queue, as the supervisor sees
/// it, against the records and the acknowledged joins.
async fn check_restored(url: &str, token: &str, data: &Path, state: &State) -> anyhow::Result<()> {
    // Everyone whose join was acknowledged by now is in the room from the start.
    let known: HashMap<Uuid, usize> = lock(state)
        .joined
        .iter()
        .enumerate()
        .map(|(i, (e, _))| (*e, i))
        .collect();
    let mut sup = connect(url, Some(token), None)
        .await
        .context("the supervisor could not connect")?;
    sup.request_ok(|id| ClientMsg::Watch {
        id,
        desk: DESK.into(),
    })
    .await?;
    let snapshot = loop {
        if let ServerMsg::Desk { snapshot } = sup.recv_timeout(Duration::from_secs(10)).await? {
            break snapshot;
        }
    };
    let queue: Vec<Uuid> = snapshot.queue.iter().map(|q| q.entry).collect();
    // Officers are kept out, so nobody is answered or served meanwhile: the records agree
    // with the snapshot (new arrivals aside, which `known` leaves out).
    let store = Store::open_sqlite(data).await?;
    let open = store.waiting_room(&DeskId::parse(DESK)?).await?;
    store.close().await;
    let answered: HashSet<Uuid> = open
        .iter()
        .filter(|o| o.complaint.answered_at.is_some())
        .map(|o| o.complaint.id.0)
        .collect();
    let mut violations = Vec::new();
    let mut seen_fresh = false;
    let mut last = None;
    for e in &queue {
        if answered.contains(e) {
            if seen_fresh {
                violations.push(format!("{e}: a cut call behind a citizen never called"));
            }
            continue;
        }
        seen_fresh = true;
        // Joins that were never acknowledged (cut off by a kill) are not ordered here.
        let Some(&i) = known.get(e) else { continue };
        if last.is_some_and(|l| i < l) {
            violations.push(format!("{e}: joined {i}th but behind a later joiner"));
        }
        last = Some(i);
    }
    // Whose record still says waiting or in a call must be in the restored queue.
    let in_queue: HashSet<&Uuid> = queue.iter().collect();
    let missing = open
        .iter()
        .map(|o| o.complaint.id.0)
        .filter(|e| known.contains_key(e) && !in_queue.contains(e))
        .count();
    let mut s = lock(state);
    s.order_checks += 1;
    s.restored += queue.len();
    s.calls_cut += queue.iter().filter(|e| answered.contains(e)).count();
    s.order_violations.extend(violations);
    s.missing_after_restart += missing;
    Ok(())
}

/// Runs the plan and returns its figures.
pub async fn run(plan: Plan, progress: &crate::progress::Progress) -> anyhow::Result<Report> {
    let started = Instant::now();
    if plan.data_dir.exists() {
        bail!(
            "{} exists already; chaos needs a fresh directory",
            plan.data_dir.display()
        );
    }
    let data = plan.data_dir.join("data");
    std::fs::create_dir_all(&data)?;
    let port = free_port()?;
    let config = write_config(&plan.data_dir, port)?;
    let (officer_tokens, supervisor) = accounts(&data, plan.officers).await?;
    let url = format!("ws://127.0.0.1:{port}/ws");
    let mut server = Server {
        exe: std::env::current_exe()?,
        config,
        log: plan.data_dir.join("server.log"),
        child: None,
    };
    server.start()?;

    let state: State = Arc::default();
    let (gate_tx, gate) = watch::channel(true);
    let (done_tx, done) = watch::channel(false);
    let arrivals = tokio::spawn(arrivals(
        url.clone(),
        plan.clone(),
        state.clone(),
        done.clone(),
    ));
    let officers: Vec<_> = officer_tokens
        .into_iter()
        .enumerate()
        .map(|(n, token)| {
            tokio::spawn(officer(
                url.clone(),
                token,
                plan.clone(),
                n,
                state.clone(),
                gate.clone(),
                done.clone(),
            ))
        })
        .collect();

    let mut rng = StdRng::seed_from_u64(plan.seed);
    for _ in 0..plan.kills {
        let gap = rng.random_range(200..=plan.max_gap.as_millis().max(200) as u64);
        tokio::time::sleep(Duration::from_millis(gap)).await;
        gate_tx.send_replace(false);
        server.kill()?;
        let down = Instant::now();
        server.start()?;
        lock(&state).restarts.push(down.elapsed());
        check_restored(&url, &supervisor, &data, &state).await?;
        gate_tx.send_replace(true);
        progress.step();
    }

    // Let everyone be served.
    let deadline = started + plan.timeout;
    let timed_out = loop {
        let finished = {
            let s = lock(&state);
            s.joined.len() == plan.citizens && s.fate.values().all(|f| *f != Fate::Waiting)
        };
        if finished {
            break false;
        }
        if Instant::now() > deadline {
            break true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    done_tx.send_replace(true);
    for o in officers {
        let _ = tokio::time::timeout(Duration::from_secs(5), o).await;
    }
    arrivals.abort();
    server.terminate()?;

    // The records.
    let store = Store::open_sqlite(&data).await?;
    let integrity = store.check_integrity().await.err().map(|e| e.to_string());
    // Everything the driver saw (a citizen task still running after a timeout writes into
    // the emptied state, which nobody reads).
    let s = std::mem::take(&mut *lock(&state));
    let mut records_lost = 0;
    let mut ends_lost = 0;
    let mut served_unrecorded = 0;
    let mut stuck = Vec::new();
    for (entry, _) in &s.joined {
        match store.get(EntryId(*entry)).await? {
            None => records_lost += 1,
            Some(c) => {
                if s.fate.get(entry) == Some(&Fate::Waiting) {
                    let history: Vec<&str> = c.history.iter().map(|h| h.kind.as_str()).collect();
                    stuck.push(format!(
                        "{} {}: {}",
                        c.reference,
                        c.disposition,
                        history.join(", ")
                    ));
                }
                let completed = c.disposition == Disposition::Completed;
                if s.ended.contains(entry) && !completed {
                    ends_lost += 1;
                }
                if s.fate.get(entry) == Some(&Fate::Served) && !completed {
                    served_unrecorded += 1;
                }
            }
        }
    }
    store.close().await;
    let mut lost: Vec<String> = s
        .fate
        .values()
        .filter_map(|f| match f {
            Fate::Lost(why) => Some(why.clone()),
            _ => None,
        })
        .collect();
    lost.sort();
    Ok(Report {
        citizens: plan.citizens,
        officers: plan.officers,
        kills: plan.kills,
        seed: plan.seed,
        joined: s.joined.len(),
        served: s.fate.values().filter(|f| **f == Fate::Served).count(),
        still_waiting: s.fate.values().filter(|f| **f == Fate::Waiting).count(),
        stuck,
        citizens_lost: lost.len(),
        lost_reasons: lost,
        records_lost,
        ends_lost,
        served_unrecorded,
        order_checks: s.order_checks,
        order_violations: s.order_violations.clone(),
        missing_after_restart: s.missing_after_restart,
        restored: s.restored,
        calls_cut: s.calls_cut,
        integrity,
        timed_out,
        mean_restart_ms: mean_ms(&s.restarts),
        max_restart_ms: s.restarts.iter().max().map_or(0, |d| d.as_millis() as u64),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn mean_ms(d: &[Duration]) -> u64 {
    if d.is_empty() {
        return 0;
    }
    (d.iter().sum::<Duration>().as_millis() / d.len() as u128) as u64
}
