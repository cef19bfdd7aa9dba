//! `sunwai bench`: how many hearings a machine carries, and how close the SFU comes to a
//! plain UDP relay on the same machine in the same run.
//!
//! It runs its own `sunwai serve` (this executable) in a scratch directory, pinned to one
//! core with `taskset`, and drives it from this process (which should run on another
//! core): `sunwai loadtest`'s calls, monitors and waiting citizens. Each SFU run is
//! followed by a run of a plain userspace UDP relay (`sunwai bench relay`, pinned the same
//! way) carrying the same packet rate and sizes without crypto; CPU time comes from
//! /proc/<pid>/stat for both, so the headline is a ratio that holds on a noisy machine.
//! Then the capacity search (calls added until loss, latency or the server's core give
//! out) and the waiting room at scale. See docs/benchmarks.md.

mod relay;
mod waiting;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::loadtest::{self, LoadtestArgs, Phase};
use crate::sfu::latency::{Bucket, LatencyHistogram};

pub use relay::relay_main;

const DESK: &str = "bench";
const WAIT_DESK: &str = "bench-wait";
const PASSWORD: &str = "bench password, loopback only";
const PREFIX: &str = "bench-officer";
const SUPERVISOR: &str = "bench-supervisor";

#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub relay: Option<BenchCmd>,
    /// Alternating SFU / relay runs (medians and spread over these).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Calls in each SFU run.
    #[arg(long, default_value_t = 8)]
    pub calls: usize,
    /// Seconds of steady state per run.
    #[arg(long, default_value_t = 15)]
    pub duration: u64,
    /// Video each side sends, kbit/s (audio: one Opus-sized packet per 20 ms).
    #[arg(long, default_value_t = 1500)]
    pub video_kbps: u64,
    /// Silent monitors during the SFU runs (on the first calls).
    #[arg(long, default_value_t = 1)]
    pub monitors: usize,
    /// Citizens who only wait during the SFU runs.
    #[arg(long, default_value_t = 200)]
    pub load_waiters: usize,
    /// Milliseconds between call set-ups (ramp-up).
    #[arg(long, default_value_t = 200)]
    pub ramp_ms: u64,
    /// Capacity search: calls added this many at a time; 0 skips the search.
    #[arg(long, default_value_t = 4)]
    pub capacity_step: usize,
    /// Capacity search: stop at this many calls.
    #[arg(long, default_value_t = 80)]
    pub capacity_max: usize,
    /// Waiting citizens for the waiting-room scale run; 0 skips it.
    #[arg(long, default_value_t = 10_000)]
    pub waiters: usize,
    /// Dispatches measured in the waiting-room run.
    #[arg(long, default_value_t = 10)]
    pub dispatches: usize,
    /// The core the server and the relay are pinned to (`taskset -c`).
    #[arg(long, default_value_t = 0)]
    pub cpu: usize,
    /// Do not pin (when taskset is missing, or for a quick look).
    #[arg(long)]
    pub no_pin: bool,
    /// The server executable (default: this one), e.g. an older build to compare.
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// A tiny run that only checks that everything works: 1 run, 1 call, 2 s, 20 waiters.
    #[arg(long)]
    pub smoke: bool,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum BenchCmd {
    /// The plain UDP relay of the baseline: every datagram received is sent to --to.
    /// Prints its address, then runs until killed.
    Relay {
        #[arg(long)]
        to: std::net::SocketAddr,
    },
}

/// Everything one SFU run measured over its steady state.
#[derive(Clone, Debug, Serialize)]
pub struct SfuRun {
    pub calls: usize,
    pub monitors: usize,
    pub waiters: usize,
    pub steady_secs: f64,
    pub forwarded: u64,
    pub forwarded_per_sec: f64,
    /// Server process CPU (user + system) per forwarded packet.
    pub cpu_us_per_packet: f64,
    /// Share of one core the server used.
    pub server_core: f64,
    /// Share of one core this process (the load) used.
    pub load_core: f64,
    pub loss_percent: f64,
    pub latency_p50_us: Option<u64>,
    pub latency_p99_us: Option<u64>,
    pub first_packet_p50_ms: Option<f64>,
    pub first_packet_p95_ms: Option<f64>,
    /// Server memory growth from start to all calls up, per call (monitors included).
    pub memory_per_call_kib: f64,
    /// Server resident memory with every call up, and at start.
    pub rss_calls_kib: u64,
    pub rss_start_kib: u64,
    pub memory_per_waiter_kib: Option<f64>,
    pub monitor_packets: u64,
    /// Mean size of the forwarded packets' RTP (for the relay's datagrams).
    pub audio_share: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Pair {
    pub sfu: SfuRun,
    pub relay: relay::RelayRun,
    pub ratio: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

fn spread(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    };
    Some(Spread {
        median,
        min: v[0],
        max: v[v.len() - 1],
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub sfu_cpu_us_per_packet: Option<Spread>,
    pub relay_cpu_us_per_packet: Option<Spread>,
    pub ratio: Option<Spread>,
    pub forwarded_per_sec: Option<Spread>,
    pub loss_percent: Option<Spread>,
    pub latency_p50_us: Option<Spread>,
    pub latency_p99_us: Option<Spread>,
    pub first_packet_p50_ms: Option<Spread>,
    pub first_packet_p95_ms: Option<Spread>,
    pub memory_per_call_kib: Option<Spread>,
    pub memory_per_waiter_kib: Option<Spread>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Capacity {
    pub steps: Vec<SfuRun>,
    /// The most calls that met every limit.
    pub max_calls: usize,
    /// Why the search stopped.
    pub stopped_by: String,
    /// Calls per core the measured cost per call allows at 75 % of a core.
    pub projected_calls_per_core: Option<f64>,
    /// Memory per added call between the smallest and the largest step (start-up costs
    /// cancel out).
    pub memory_per_added_call_kib: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub pinned_core: Option<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub machine: Machine,
    pub runs: Vec<Pair>,
    pub summary: Summary,
    pub capacity: Option<Capacity>,
    pub waiting: Option<waiting::WaitingRun>,
}

// ---------------------------------------------------------------------------------------
// The server under test.
// ---------------------------------------------------------------------------------------

/// Prefixes a command with `taskset -c <cpu>` unless pinning is off.
fn pinned(exe: &Path, cpu: Option<usize>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(exe);
            c
        }
        None => Command::new(exe),
    }
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(exe: &Path, config: &Path, cpu: Option<usize>) -> Result<Server> {
        let mut child = pinned(exe, cpu)
            .args(["serve", "--config"])
            .arg(config)
            .env_remove("SUNWAI_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting sunwai serve")?;
        let mut out = BufReader::new(child.stdout.take().context("no stdout")?);
        let mut line = String::new();
        out.read_line(&mut line)?;
        let Some(url) = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(|u| u.trim_end_matches('/').to_owned())
        else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the server did not start: {line:?}");
        };
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        Ok(Server { child, url })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    /// SIGTERM, so that the server (or a profiler wrapped around it) ends cleanly; SIGKILL
    /// if it has not stopped within five seconds.
    fn drop(&mut self) {
        let termed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if termed {
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User plus system CPU time of a process, from /proc/<pid>/stat.
pub(crate) fn cpu_secs(pid: &str) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("unexpected /proc/{pid}/stat"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 =
        f.get(11).context("utime")?.parse::<u64>()? + f.get(12).context("stime")?.parse::<u64>()?;
    Ok(ticks as f64 / clock_ticks())
}

/// The kernel's USER_HZ: 100 on every Linux architecture sunwai runs on.
fn clock_ticks() -> f64 {
    100.0
}

/// Resident memory of a process in KiB.
fn rss_kib(pid: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")
}

fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn machine(cpu: Option<usize>) -> Machine {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    // The machine's cores, not the ones this process may run on (it is pinned too).
    let cores = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0)
        .max(1);
    Machine {
        cores,
        cpu_model,
        pinned_core: cpu,
    }
}

fn write_config(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("sunwai.toml");
    let desk = |id: &str, prefix: &str| {
        format!(
            r#"
[[desks]]
id = "{id}"
name = "Bench {id}"
prefix = "{prefix}"
time_zone = "UTC"
windows = ["00:00-24:00"]

[desks.policy]
offer_timeout_secs = 30
wrap_up_secs = 30
late_join = "admit_with_warning"
close = "serve_all"
max_waiting = 100000
"#
        )
    };
    let text = format!(
        r#"listen = "127.0.0.1:0"
data_dir = "{data}"
log = "warn"
shutdown_grace_secs = 0

[limits]
joins_per_minute_per_address = 10000000
logins_per_minute_per_address = 10000000
logins_per_minute_per_account = 10000000
messages_per_second = 10000
hello_timeout_secs = 60

[media]
workers = 1
base_port = 0
# The load generator is not a phone link: packets its own process drops when the machine
# is busy would look like a weak link and pause video, and the runs would not compare.
pause_video_on_weak_links = false
{}{}"#,
        desk(DESK, "BEN"),
        desk(WAIT_DESK, "BWT"),
        data = dir.join("data").display()
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

async fn accounts(data: &Path, officers: usize) -> Result<()> {
    use crate::core::ids::DeskId;
    use crate::store::{NewUser, Role, Store};
    let store = Store::open_sqlite(data).await?;
    let phc = crate::auth::hash_password(PASSWORD)?;
    let desk = DeskId::parse(DESK)?;
    for n in 1..=officers {
        let name = format!("{PREFIX}{n}");
        store
            .create_user(NewUser {
                username: name.clone(),
                display_name: name,
                role: Role::Officer,
                desk: Some(desk.clone()),
                password_phc: phc.clone(),
            })
            .await?;
    }
    store
        .create_user(NewUser {
            username: SUPERVISOR.into(),
            display_name: SUPERVISOR.into(),
            role: Role::Supervisor,
            desk: None,
            password_phc: phc,
        })
        .await?;
    store.close().await;
    Ok(())
}

/// `GET path` with a bearer token; the JSON body.
async fn get_json(server: &str, path: &str, token: &str) -> Result<serde_json::Value> {
    let authority = server.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(authority).await?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: {authority}\r\nauthorization: Bearer {token}\r\n\
         connection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await?;
    let text = String::from_utf8_lossy(&resp);
    let start = text.find('{').context("no JSON in the reply")?;
    let end = text.rfind('}').context("no JSON in the reply")?;
    Ok(serde_json::from_str(&text[start..=end])?)
}

/// What the bench reads from the server at a moment of a run.
#[derive(Clone, Debug, Default)]
struct Snap {
    at: Option<Instant>,
    cpu: f64,
    load_cpu: f64,
    rss_kib: u64,
    forwarded: u64,
    latency: LatencyHistogram,
}

async fn snap(server: &Server, token: &str) -> Result<Snap> {
    let pid = server.pid().to_string();
    let media = get_json(&server.url, "/api/media", token).await?;
    let buckets: Vec<Bucket> =
        serde_json::from_value(media["forward_latency_us"].clone()).unwrap_or_default();
    Ok(Snap {
        at: Some(Instant::now()),
        cpu: cpu_secs(&pid)?,
        load_cpu: cpu_secs("self")?,
        rss_kib: rss_kib(&pid)?,
        forwarded: media["rtp_forwarded"].as_u64().unwrap_or(0),
        latency: LatencyHistogram::from_buckets(&buckets),
    })
}

struct Setup {
    exe: PathBuf,
    config: PathBuf,
    cpu: Option<usize>,
}

/// One SFU run on a fresh server: `calls` calls, monitors and waiters, measured over the
/// steady state.
async fn sfu_run(
    s: &Setup,
    args: &BenchArgs,
    calls: usize,
    waiters: usize,
    duration: u64,
) -> Result<SfuRun> {
    let server = Server::start(&s.exe, &s.config, s.cpu)?;
    let token = loadtest::login(&server.url, SUPERVISOR, PASSWORD).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(&server.pid().to_string())?;
    let snaps: Arc<Mutex<Vec<(Phase, Snap)>>> = Arc::default();
    let lt = LoadtestArgs {
        server: server.url.clone(),
        calls,
        duration,
        desk: DESK.into(),
        officer_prefix: PREFIX.into(),
        password_env: String::new(),
        video_kbps: args.video_kbps,
        instant_connect: true,
        monitors: args.monitors.min(calls),
        supervisor: SUPERVISOR.into(),
        waiters,
        waiter_desk: Some(WAIT_DESK.into()),
        ramp_ms: args.ramp_ms,
        json: true,
        password: Some(PASSWORD.into()),
    };
    let report = {
        let snaps = snaps.clone();
        let server = &server;
        let token = &token;
        loadtest::run_with(lt, move |phase| {
            let snaps = snaps.clone();
            async move {
                match snap(server, token).await {
                    Ok(sn) => snaps
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((phase, sn)),
                    Err(e) => eprintln!("bench: reading the server failed: {e:#}"),
                }
            }
        })
        .await?
    };
    drop(server);
    let snaps = snaps.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let get = |p: Phase| {
        snaps
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, s)| s.clone())
            .with_context(|| format!("no snapshot at {p:?}"))
    };
    let (up, a, b) = (
        get(Phase::CallsUp)?,
        get(Phase::SteadyStart)?,
        get(Phase::SteadyEnd)?,
    );
    let secs = match (a.at, b.at) {
        (Some(x), Some(y)) => y.duration_since(x).as_secs_f64(),
        _ => 0.0,
    }
    .max(1e-3);
    let forwarded = b.forwarded.saturating_sub(a.forwarded);
    let cpu = b.cpu - a.cpu;
    let lat = b.latency.since(&a.latency);
    let (mut audio, mut all) = (0u64, 0u64);
    for c in &report.calls {
        for d in [&c.citizen_to_officer, &c.officer_to_citizen] {
            audio += d.audio_received;
            all += d.audio_received + d.video_received;
        }
    }
    Ok(SfuRun {
        calls,
        monitors: args.monitors.min(calls),
        waiters: report.waiters,
        steady_secs: secs,
        forwarded,
        forwarded_per_sec: forwarded as f64 / secs,
        cpu_us_per_packet: if forwarded == 0 {
            f64::NAN
        } else {
            cpu * 1e6 / forwarded as f64
        },
        server_core: cpu / secs,
        load_core: (b.load_cpu - a.load_cpu) / secs,
        loss_percent: report.loss_percent,
        latency_p50_us: lat.quantile_us(0.5),
        latency_p99_us: lat.quantile_us(0.99),
        first_packet_p50_ms: report.start_to_first_packet_p50_ms,
        first_packet_p95_ms: report.start_to_first_packet_p95_ms,
        memory_per_call_kib: up.rss_kib.saturating_sub(before) as f64 / calls as f64,
        rss_calls_kib: up.rss_kib,
        rss_start_kib: before,
        memory_per_waiter_kib: (report.waiters > 0)
            .then(|| a.rss_kib.saturating_sub(up.rss_kib) as f64 / report.waiters as f64),
        monitor_packets: report.monitor_packets,
        audio_share: if all == 0 {
            0.0
        } else {
            audio as f64 / all as f64
        },
    })
}

fn summarise(runs: &[Pair]) -> Summary {
    let f = |g: &dyn Fn(&Pair) -> Option<f64>| spread(runs.iter().filter_map(g));
    Summary {
        sfu_cpu_us_per_packet: f(&|p| Some(p.sfu.cpu_us_per_packet)),
        relay_cpu_us_per_packet: f(&|p| Some(p.relay.cpu_us_per_packet)),
        ratio: f(&|p| Some(p.ratio)),
        forwarded_per_sec: f(&|p| Some(p.sfu.forwarded_per_sec)),
        loss_percent: f(&|p| Some(p.sfu.loss_percent)),
        latency_p50_us: f(&|p| p.sfu.latency_p50_us.map(|v| v as f64)),
        latency_p99_us: f(&|p| p.sfu.latency_p99_us.map(|v| v as f64)),
        first_packet_p50_ms: f(&|p| p.sfu.first_packet_p50_ms),
        first_packet_p95_ms: f(&|p| p.sfu.first_packet_p95_ms),
        memory_per_call_kib: f(&|p| Some(p.sfu.memory_per_call_kib)),
        memory_per_waiter_kib: f(&|p| p.sfu.memory_per_waiter_kib),
    }
}

/// Adds calls until a limit is reached: loss 0.5 %, in-server p99 5 ms, or 75 % of the
/// server's core; also stops when the load generator itself runs out of core.
async fn capacity(s: &Setup, args: &BenchArgs) -> Result<Capacity> {
    let mut steps = Vec::new();
    let mut max_calls = 0;
    let mut stopped_by = format!("reached --capacity-max {}", args.capacity_max);
    let mut n = args.capacity_step;
    while n <= args.capacity_max {
        let r = match sfu_run(s, args, n, 0, args.duration).await {
            Ok(r) => r,
            Err(e) => {
                stopped_by = format!("{n} calls could not be set up: {e:#}");
                break;
            }
        };
        eprintln!(
            "bench: capacity {n} calls: loss {:.3} %, p99 {:?} µs, server core {:.0} %, load core {:.0} %",
            r.loss_percent,
            r.latency_p99_us,
            r.server_core * 100.0,
            r.load_core * 100.0
        );
        let why = if r.loss_percent >= 0.5 {
            Some("loss reached 0.5 %")
        } else if r.latency_p99_us.is_some_and(|p| p >= 5_000) {
            Some("in-server p99 latency reached 5 ms")
        } else if r.server_core >= 0.75 {
            Some("the server's core reached 75 %")
        } else {
            None
        };
        let load_bound = r.load_core >= 0.9;
        steps.push(r);
        if let Some(why) = why {
            stopped_by = format!("{why} at {n} calls");
            break;
        }
        max_calls = n;
        if load_bound {
            stopped_by = format!(
                "the load generator used a whole core at {n} calls (the server had not reached a limit)"
            );
            break;
        }
        n += args.capacity_step;
    }
    // Server core per call, from the largest passing step.
    let projected_calls_per_core = steps
        .iter()
        .rev()
        .find(|r| r.calls == max_calls)
        .filter(|r| r.server_core > 0.0)
        .map(|r| 0.75 / (r.server_core / r.calls as f64));
    let memory_per_added_call_kib = match (steps.first(), steps.last()) {
        (Some(a), Some(b)) if b.calls > a.calls => Some(
            (b.rss_calls_kib as f64 - b.rss_start_kib as f64 - a.rss_calls_kib as f64
                + a.rss_start_kib as f64)
                / (b.calls - a.calls) as f64,
        ),
        _ => None,
    };
    Ok(Capacity {
        steps,
        max_calls,
        stopped_by,
        projected_calls_per_core,
        memory_per_added_call_kib,
    })
}

pub async fn run(mut args: BenchArgs) -> Result<BenchReport> {
    if args.smoke {
        args.runs = 1;
        args.calls = 1;
        args.duration = 2;
        args.load_waiters = 5;
        args.ramp_ms = 0;
        args.capacity_step = 1;
        args.capacity_max = 1;
        args.waiters = 20;
        args.dispatches = 2;
    }
    if args.runs == 0 || args.calls == 0 {
        bail!("--runs and --calls must be at least 1");
    }
    let need = args.waiters.max(args.load_waiters) as u64 + 1024;
    if let Some(limit) = open_files_limit() {
        if limit < need {
            bail!(
                "{limit} open files allowed; the waiting-room run needs about {need}: raise it (ulimit -n {need})"
            );
        }
    }
    let cpu = (!args.no_pin).then_some(args.cpu);
    let scratch = std::env::temp_dir().join(format!("sunwai-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(scratch.join("data"))?;
    let result = run_in(&args, &scratch, cpu).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn run_in(args: &BenchArgs, scratch: &Path, cpu: Option<usize>) -> Result<BenchReport> {
    let config = write_config(scratch)?;
    let officers = args.calls.max(args.capacity_max).max(1);
    accounts(&scratch.join("data"), officers).await?;
    let setup = Setup {
        exe: match &args.server_bin {
            Some(p) => p.clone(),
            None => std::env::current_exe()?,
        },
        config,
        cpu,
    };
    let relay_exe = std::env::current_exe()?;
    let mut runs = Vec::new();
    let progress = crate::progress::Progress::bar(
        args.runs as u64,
        "alternating SFU and relay runs",
        args.json,
    );
    for i in 0..args.runs {
        let sfu = sfu_run(&setup, args, args.calls, args.load_waiters, args.duration)
            .await
            .with_context(|| format!("SFU run {}", i + 1))?;
        let rate = sfu.forwarded_per_sec;
        let audio_share = sfu.audio_share;
        let duration = args.duration;
        let relay = tokio::task::spawn_blocking({
            let exe = relay_exe.clone();
            move || relay::run(&exe, cpu, rate, audio_share, duration)
        })
        .await?
        .with_context(|| format!("relay run {}", i + 1))?;
        let ratio = sfu.cpu_us_per_packet / relay.cpu_us_per_packet;
        progress.line(format!(
            "bench: run {}: SFU {:.1} µs/packet at {:.0} packets/s, relay {:.1} µs/packet: ratio {:.2}",
            i + 1,
            sfu.cpu_us_per_packet,
            sfu.forwarded_per_sec,
            relay.cpu_us_per_packet,
            ratio
        ));
        progress.step();
        runs.push(Pair { sfu, relay, ratio });
    }
    progress.done();
    let summary = summarise(&runs);
    let capacity = if args.capacity_step > 0 {
        Some(capacity(&setup, args).await?)
    } else {
        None
    };
    let waiting = if args.waiters > 0 {
        let server = Server::start(&setup.exe, &setup.config, cpu)?;
        let r = waiting::run(
            &server.url,
            server.pid(),
            DESK,
            &format!("{PREFIX}1"),
            PASSWORD,
            args.waiters,
            args.dispatches,
        )
        .await
        .context("waiting-room run")?;
        Some(r)
    } else {
        None
    };
    Ok(BenchReport {
        machine: machine(cpu),
        runs,
        summary,
        capacity,
        waiting,
    })
}

fn show(s: &Option<Spread>, digits: usize) -> String {
    match s {
        Some(s) => format!("{:.d$} ({:.d$}–{:.d$})", s.median, s.min, s.max, d = digits),
        None => "-".into(),
    }
}

pub fn print_report(r: &BenchReport) {
    println!(
        "machine: {} cores, {}; server pinned to core {}",
        r.machine.cores,
        r.machine.cpu_model,
        r.machine
            .pinned_core
            .map_or("(none)".into(), |c| c.to_string())
    );
    println!("{} alternating runs; median (min–max):", r.runs.len());
    let s = &r.summary;
    for (name, v, d) in [
        (
            "SFU CPU µs per forwarded packet",
            &s.sfu_cpu_us_per_packet,
            1,
        ),
        ("relay CPU µs per packet", &s.relay_cpu_us_per_packet, 1),
        ("ratio SFU / relay", &s.ratio, 2),
        ("forwarded packets per second", &s.forwarded_per_sec, 0),
        ("loss %", &s.loss_percent, 3),
        ("in-server latency p50 µs", &s.latency_p50_us, 0),
        ("in-server latency p99 µs", &s.latency_p99_us, 0),
        ("accept to first packet p50 ms", &s.first_packet_p50_ms, 1),
        ("accept to first packet p95 ms", &s.first_packet_p95_ms, 1),
        ("server memory per call KiB", &s.memory_per_call_kib, 0),
        (
            "server memory per waiting citizen KiB",
            &s.memory_per_waiter_kib,
            1,
        ),
    ] {
        println!("  {name:<40} {}", show(v, d));
    }
    if let Some(c) = &r.capacity {
        println!(
            "capacity: {} calls met every limit; stopped: {}",
            c.max_calls, c.stopped_by
        );
        for st in &c.steps {
            println!(
                "  {:>3} calls: {:>6.0} packets/s, server core {:>3.0} %, load core {:>3.0} %, loss {:.3} %, p99 {} µs",
                st.calls,
                st.forwarded_per_sec,
                st.server_core * 100.0,
                st.load_core * 100.0,
                st.loss_percent,
                st.latency_p99_us.map_or("-".into(), |v| v.to_string())
            );
        }
        if let Some(p) = c.projected_calls_per_core {
            println!("  projected: {p:.0} hearings per core at 75 % of a core");
        }
        if let Some(m) = c.memory_per_added_call_kib {
            println!("  server memory per added call: {m:.0} KiB");
        }
    }
    if let Some(w) = &r.waiting {
        waiting::print(w);
    }
}
