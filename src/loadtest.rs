//! `sunwai loadtest`: real calls against a running server. For each call an officer signs
//! in, goes on duty and accepts; a citizen joins; both connect media through the server's
//! SFU (webrtc-rs clients) and send synthetic audio and video for the duration; then each
//! side reports what it sent, what arrived, what was lost, jitter, and the time from the
//! call's start to the first packet from the other side.
//!
//! Officers are existing accounts named `<prefix>1`, `<prefix>2`, … sharing one password
//! (create them with `sunwai user add`). Plain `http://` only: run it inside the network,
//! against the server's own listener.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use sunwai_signaling::{Client, ClientMsg, IntakeMsg, SdpKind, ServerMsg, SessionDescription};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use uuid::Uuid;

use crate::sfu::client::{ClientReport, MediaClient, Origin, Role};
use crate::sfu::Publisher;

const STEP: Duration = Duration::from_secs(15);

#[derive(Clone, Debug, clap::Args)]
pub struct LoadtestArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub server: String,
    /// Concurrent calls.
    #[arg(long, default_value_t = 2)]
    pub calls: usize,
    /// Seconds of media per call.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// The desk to call.
    #[arg(long, default_value = "ssp-prayagraj")]
    pub desk: String,
    /// Officer accounts are PREFIX1, PREFIX2, ...
    #[arg(long, default_value = "loadtest")]
    pub officer_prefix: String,
    /// The environment variable holding the officers' password.
    #[arg(long, default_value = "SUNWAI_LOADTEST_PASSWORD")]
    pub password_env: String,
    /// Video bitrate each side sends, in kbit/s (audio: one Opus-sized packet per 20 ms).
    #[arg(long, default_value_t = 1500)]
    pub video_kbps: u64,
    /// Instant connect: citizens connect media while they wait (when the server offers
    /// it) and officers while the offer rings; `false` connects both after the accept.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub instant_connect: bool,
    /// Silent monitors: a supervisor listens in on each of the first M calls.
    #[arg(long, default_value_t = 0)]
    pub monitors: usize,
    /// The supervisor account the monitors sign in as (same password as the officers).
    #[arg(long, default_value = "loadtest-supervisor")]
    pub supervisor: String,
    /// Citizens who only wait (WebSocket only, no media), joined once the calls are up.
    #[arg(long, default_value_t = 0)]
    pub waiters: usize,
    /// The desk the waiting citizens join (default: --desk, behind the calls).
    #[arg(long)]
    pub waiter_desk: Option<String>,
    /// Milliseconds between setting up one call and the next (ramp-up).
    #[arg(long, default_value_t = 0)]
    pub ramp_ms: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The officers' password when a program drives the load (`sunwai bench`).
    #[arg(skip)]
    pub password: Option<String>,
}

/// Moments of a run at which a caller of [`run_with`] may look at the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Every call is set up and its media connected, and the monitors listen; no
    /// waiters yet.
    CallsUp,
    /// The waiters have joined: the steady state starts.
    SteadyStart,
    /// The steady state ends (media still flowing).
    SteadyEnd,
}

/// One direction of one call.
#[derive(Clone, Debug, Serialize)]
pub struct Direction {
    pub audio_sent: u64,
    pub audio_received: u64,
    pub video_sent: u64,
    pub video_received: u64,
    pub lost: u64,
    pub loss_percent: f64,
    pub jitter_ms: f64,
    pub delay_p50_ms: f64,
    pub delay_p99_ms: f64,
    /// From the receiver's `call_started` to its first packet from the other side.
    pub start_to_first_packet_ms: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CallReport {
    pub call: usize,
    pub entry: Uuid,
    /// The citizen's media was connected before the call started.
    pub instant_connect: bool,
    pub citizen_to_officer: Direction,
    pub officer_to_citizen: Direction,
    pub corrupt: u64,
    pub foreign: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub calls: Vec<CallReport>,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub loss_percent: f64,
    pub start_to_first_packet_p50_ms: Option<f64>,
    pub start_to_first_packet_p95_ms: Option<f64>,
    /// Packets the monitors received, and how many waiters held a place.
    pub monitor_packets: u64,
    pub waiters: usize,
    /// Seconds of steady state (every call, monitor and waiter up).
    pub steady_secs: f64,
}

/// Offers `media` for this connection's leg over signaling and applies the answer.
pub async fn negotiate(ws: &mut Client, media: &MediaClient) -> Result<()> {
    let sdp = media.offer().await?;
    let reply = ws
        .request(|id| ClientMsg::Sdp {
            id,
            description: SessionDescription {
                sdp_type: SdpKind::Offer,
                sdp,
            },
        })
        .await?;
    if !matches!(reply, ServerMsg::Ok { .. }) {
        bail!("the server refused the offer: {reply:?}");
    }
    let answer = ws
        .recv_until(|m| matches!(m, ServerMsg::Sdp { .. }), STEP)
        .await?;
    let ServerMsg::Sdp { description } = answer else {
        unreachable!()
    };
    media.apply_answer(description.sdp).await
}

/// The tag both sides put in their payloads: the low bits of the entry id.
pub fn call_tag(entry: Uuid) -> u32 {
    entry.as_u128() as u32
}

/// Signs in over HTTP and returns the session token.
pub async fn login(server: &str, username: &str, password: &str) -> Result<String> {
    let authority = server
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--server must be an http:// URL"))?
        .trim_end_matches('/');
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let mut s = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    let req = format!(
        "POST /api/login HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await?;
    let text = String::from_utf8_lossy(&resp);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.starts_with("HTTP/1.1 200") {
        bail!(
            "signing in as {username} failed: {}",
            head.lines().next().unwrap_or("")
        );
    }
    // The body may be chunked; the token is the only JSON string field we need.
    let start = body.find('{').context("no JSON in the sign-in reply")?;
    let end = body.rfind('}').context("no JSON in the sign-in reply")?;
    let v: serde_json::Value = serde_json::from_str(&body[start..=end])?;
    v["token"]
        .as_str()
        .map(str::to_owned)
        .context("no token in the sign-in reply")
}

fn ws_url(server: &str) -> String {
    format!(
        "ws://{}/ws",
        server.trim_start_matches("http://").trim_end_matches('/')
    )
}

fn intake(i: usize) -> IntakeMsg {
    IntakeMsg {
        name: format!("Load Test {i}"),
        mobile: "9000000000".into(),
        area: "Load test".into(),
        category: "other".into(),
        description: "load test call".into(),
        language: "en".into(),
        consent: true,
    }
}

struct Side {
    media: MediaClient,
    started: Instant,
    ws: Client,
}

/// An officer takes the one caller waiting: signs in, goes on duty, accepts, connects.
async fn officer_side(
    args: &LoadtestArgs,
    i: usize,
    password: &str,
    want: Uuid,
    stop: &watch::Receiver<bool>,
) -> Result<Side> {
    let name = format!("{}{}", args.officer_prefix, i + 1);
    let token = login(&args.server, &name, password).await?;
    let mut ws = Client::connect(&ws_url(&args.server)).await?;
    ws.hello(Some(&token), None).await?;
    ws.request_ok(|id| ClientMsg::GoOnDuty { id }).await?;
    let _ = ws.request(|id| ClientMsg::Ready { id }).await?;
    let offer = ws
        .recv_until(|m| matches!(m, ServerMsg::Offer { .. }), STEP)
        .await
        .with_context(|| format!("{name}: no caller offered"))?;
    let ServerMsg::Offer { entry, .. } = offer else {
        unreachable!()
    };
    if entry != want {
        bail!(
            "{name} was offered another caller: is someone else using desk {}?",
            args.desk
        );
    }
    // Instant connect, the officer's half: media is set up while the offer rings.
    let mut early = None;
    if args.instant_connect {
        let mut m = MediaClient::new(Role::Publish(Publisher::Officer), call_tag(entry)).await?;
        negotiate(&mut ws, &m).await?;
        m.publish(args.video_kbps * 1000, stop.clone());
        m.wait_connected(STEP).await?;
        early = Some(m);
    }
    ws.request_ok(|id| ClientMsg::Accept { id, entry }).await?;
    ws.recv_until(
        |m| matches!(m, ServerMsg::CallStarted { entry: e, .. } if *e == entry),
        STEP,
    )
    .await?;
    let started = Instant::now();
    let media = match early {
        Some(m) => m,
        None => {
            let m = MediaClient::new(Role::Publish(Publisher::Officer), call_tag(entry)).await?;
            negotiate(&mut ws, &m).await?;
            m.publish(args.video_kbps * 1000, stop.clone());
            m
        }
    };
    Ok(Side { media, started, ws })
}

/// A citizen joins (and, when the server offers it, connects media while waiting), tells
/// `joined` its entry, then waits for the call to start.
async fn citizen_side(
    args: Arc<LoadtestArgs>,
    i: usize,
    joined: tokio::sync::oneshot::Sender<Uuid>,
    stop: watch::Receiver<bool>,
) -> Result<(Side, Uuid, bool)> {
    let mut ws = Client::connect(&ws_url(&args.server)).await?;
    let welcome = ws.hello(None, None).await?;
    let early_from = welcome
        .instant_connect_position
        .filter(|_| args.instant_connect);
    let reply = ws
        .request(|id| ClientMsg::Join {
            id,
            desk: args.desk.clone(),
            intake: intake(i),
        })
        .await?;
    let ServerMsg::Joined { entry, .. } = reply else {
        bail!("citizen {i} could not join: {reply:?}");
    };
    let mut media = None;
    if let Some(n) = early_from {
        let m = ws
            .recv_until(|m| matches!(m, ServerMsg::Queue { .. }), STEP)
            .await?;
        if matches!(m, ServerMsg::Queue { position, .. } if position <= n) {
            let mut c =
                MediaClient::new(Role::Publish(Publisher::Citizen), call_tag(entry)).await?;
            negotiate(&mut ws, &c).await?;
            c.publish(args.video_kbps * 1000, stop.clone());
            c.wait_connected(STEP).await?;
            media = Some(c);
        }
    }
    let _ = joined.send(entry);
    ws.recv_until(|m| matches!(m, ServerMsg::CallStarted { .. }), STEP * 4)
        .await
        .with_context(|| format!("citizen {i}: the call did not start"))?;
    let started = Instant::now();
    let early = media.is_some();
    let media = match media {
        Some(m) => m,
        None => {
            let c = MediaClient::new(Role::Publish(Publisher::Citizen), call_tag(entry)).await?;
            negotiate(&mut ws, &c).await?;
            c.publish(args.video_kbps * 1000, stop.clone());
            c
        }
    };
    Ok((Side { media, started, ws }, entry, early))
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    Some(sorted[i])
}

fn direction(
    from: &ClientReport,
    to: &ClientReport,
    to_started: Instant,
    tag: u32,
    who: Publisher,
) -> Direction {
    let audio = to.received.get(&Origin::new(tag, who, false));
    let video = to.received.get(&Origin::new(tag, who, true));
    let got = |r: Option<&crate::sfu::client::Received>| r.map_or(0, |r| r.packets);
    // Both sides publish from the moment their media connects, like a browser, and the
    // server drops what comes before the call: count from the first packet received.
    let expected = |sent: u64, r: Option<&crate::sfu::client::Received>| {
        sent.saturating_sub(r.and_then(|r| r.first_seq).unwrap_or(0))
    };
    let sent = expected(from.sent_audio, audio) + expected(from.sent_video, video);
    let received = got(audio) + got(video);
    let lost = sent.saturating_sub(received);
    let mut delays: Vec<f64> = [audio, video]
        .into_iter()
        .flatten()
        .flat_map(|r| r.delays_us.iter().map(|d| f64::from(*d) / 1000.0))
        .collect();
    delays.sort_by(f64::total_cmp);
    let first = [audio, video]
        .into_iter()
        .flatten()
        .filter_map(|r| r.first_at)
        .min();
    Direction {
        audio_sent: expected(from.sent_audio, audio),
        audio_received: got(audio),
        video_sent: expected(from.sent_video, video),
        video_received: got(video),
        lost,
        loss_percent: if sent == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / sent as f64
        },
        jitter_ms: video.map_or(0.0, |r| r.jitter_us / 1000.0),
        delay_p50_ms: percentile(&delays, 0.5).unwrap_or(0.0),
        delay_p99_ms: percentile(&delays, 0.99).unwrap_or(0.0),
        start_to_first_packet_ms: first
            .map(|f| f.saturating_duration_since(to_started).as_secs_f64() * 1000.0),
    }
}

/// Sets up call `i` (citizen waiting first, then an officer accepts them).
async fn set_up(
    args: Arc<LoadtestArgs>,
    i: usize,
    password: &str,
) -> Result<(Side, Side, Uuid, bool, watch::Sender<bool>)> {
    let (joined_tx, joined) = tokio::sync::oneshot::channel();
    // Both sides publish as soon as their media connects, as a browser does.
    let (stop_tx, stop) = watch::channel(false);
    let citizen = tokio::spawn(citizen_side(args.clone(), i, joined_tx, stop.clone()));
    let entry = match joined.await {
        Ok(e) => e,
        Err(_) => {
            return Err(citizen
                .await?
                .err()
                .unwrap_or_else(|| anyhow!("citizen {i} failed")))
        }
    };
    let officer = officer_side(&args, i, password, entry, &stop).await?;
    let (citizen, entry, early) = citizen.await??;
    Ok((citizen, officer, entry, early, stop_tx))
}

/// One call set up: both sides, and the switch that stops their media.
struct Live {
    i: usize,
    citizen: Side,
    officer: Side,
    entry: Uuid,
    early: bool,
    stop: watch::Sender<bool>,
}

/// The reports of one call, then hang-up.
async fn finish_call(mut call: Live) -> CallReport {
    let c = call.citizen.media.report();
    let o = call.officer.media.report();
    let tag = call_tag(call.entry);
    let report = CallReport {
        call: call.i + 1,
        entry: call.entry,
        instant_connect: call.early,
        citizen_to_officer: direction(&c, &o, call.officer.started, tag, Publisher::Citizen),
        officer_to_citizen: direction(&o, &c, call.citizen.started, tag, Publisher::Officer),
        corrupt: c.corrupt + o.corrupt,
        foreign: c.foreign + o.foreign,
    };
    let _ = call
        .officer
        .ws
        .request(|id| ClientMsg::EndCall { id, no_show: false })
        .await;
    let _ = call
        .officer
        .ws
        .request(|id| ClientMsg::GoOffDuty { id })
        .await;
    call.citizen.media.close().await;
    call.officer.media.close().await;
    let _ = call.citizen.ws.close().await;
    let _ = call.officer.ws.close().await;
    report
}

/// A supervisor listening in on a call.
async fn monitor(
    args: &LoadtestArgs,
    password: &str,
    entry: Uuid,
) -> Result<(Client, MediaClient)> {
    let token = login(&args.server, &args.supervisor, password).await?;
    let mut ws = Client::connect(&ws_url(&args.server)).await?;
    ws.hello(Some(&token), None).await?;
    ws.request_ok(|id| ClientMsg::Monitor { id, entry }).await?;
    let mut m = MediaClient::new(Role::Monitor, call_tag(entry)).await?;
    negotiate(&mut ws, &m).await?;
    m.wait_connected(STEP).await?;
    Ok((ws, m))
}

/// A citizen who joins and waits, reading what the server sends, until `stop`; then
/// gives up their place.
async fn waiter(args: Arc<LoadtestArgs>, i: usize, mut stop: watch::Receiver<bool>) -> Result<()> {
    let mut ws = Client::connect(&ws_url(&args.server)).await?;
    ws.hello(None, None).await?;
    let desk = args
        .waiter_desk
        .clone()
        .unwrap_or_else(|| args.desk.clone());
    let reply = ws
        .request(|id| ClientMsg::Join {
            id,
            desk,
            intake: intake(100_000 + i),
        })
        .await?;
    if !matches!(reply, ServerMsg::Joined { .. }) {
        bail!("waiter {i} could not join: {reply:?}");
    }
    loop {
        tokio::select! {
            m = ws.recv() => { m?; }
            _ = stop.changed() => break,
        }
    }
    let _ = ws.request(|id| ClientMsg::Leave { id }).await;
    let _ = ws.close().await;
    Ok(())
}

pub async fn run(args: LoadtestArgs) -> Result<Report> {
    run_with(args, |_| async {}).await
}

/// Runs the load: sets the calls up one after another (ramp-up), connects their media,
/// adds the monitors and the waiters, holds the steady state for `--duration` seconds, and
/// reports. `probe` is awaited at each [`Phase`].
pub async fn run_with<F, Fut>(args: LoadtestArgs, mut probe: F) -> Result<Report>
where
    F: FnMut(Phase) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let password = match &args.password {
        Some(p) => p.clone(),
        None => std::env::var(&args.password_env)
            .with_context(|| format!("set {} to the officers' password", args.password_env))?,
    };
    if args.calls == 0 {
        bail!("--calls must be at least 1");
    }
    let args = Arc::new(args);
    // Calls are set up one after another so that each officer takes the caller meant for
    // them; the media of all calls then runs at once.
    let mut live = Vec::new();
    for i in 0..args.calls {
        if i > 0 && args.ramp_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.ramp_ms)).await;
        }
        let (citizen, officer, entry, early, stop) = set_up(args.clone(), i, &password)
            .await
            .with_context(|| format!("setting up call {}", i + 1))?;
        live.push(Live {
            i,
            citizen,
            officer,
            entry,
            early,
            stop,
        });
    }
    for c in &mut live {
        c.citizen.media.wait_connected(STEP).await?;
        c.officer.media.wait_connected(STEP).await?;
    }
    let mut monitors = Vec::new();
    for c in live.iter().take(args.monitors) {
        monitors.push(
            monitor(&args, &password, c.entry)
                .await
                .with_context(|| format!("monitoring call {}", c.i + 1))?,
        );
    }
    probe(Phase::CallsUp).await;
    let (stop_waiters, waiting) = watch::channel(false);
    let mut waiters = tokio::task::JoinSet::new();
    for i in 0..args.waiters {
        waiters.spawn(waiter(args.clone(), i, waiting.clone()));
        if i % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    // Waiters that fail to join end at once; the others run until stopped.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut waiting_now = args.waiters;
    while let Some(r) = waiters.try_join_next() {
        r??;
        waiting_now -= 1;
    }
    probe(Phase::SteadyStart).await;
    let steady = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    probe(Phase::SteadyEnd).await;
    let steady_secs = steady.elapsed().as_secs_f64();
    for c in &live {
        let _ = c.stop.send(true);
    }
    // Let what is in flight arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let monitor_packets = monitors
        .iter()
        .map(|(_, m)| m.report().received.values().map(|r| r.packets).sum::<u64>())
        .sum();
    for (ws, m) in monitors {
        m.close().await;
        let _ = ws.close().await;
    }
    let _ = stop_waiters.send(true);
    while let Some(r) = waiters.join_next().await {
        r??;
    }
    let mut calls = Vec::new();
    for c in live {
        calls.push(finish_call(c).await);
    }
    let mut sent = 0;
    let mut received = 0;
    let mut firsts = Vec::new();
    for c in &calls {
        for d in [&c.citizen_to_officer, &c.officer_to_citizen] {
            sent += d.audio_sent + d.video_sent;
            received += d.audio_received + d.video_received;
            firsts.extend(d.start_to_first_packet_ms);
        }
    }
    firsts.sort_by(f64::total_cmp);
    let lost = sent.saturating_sub(received);
    Ok(Report {
        calls,
        packets_sent: sent,
        packets_received: received,
        loss_percent: if sent == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / sent as f64
        },
        start_to_first_packet_p50_ms: percentile(&firsts, 0.5),
        start_to_first_packet_p95_ms: percentile(&firsts, 0.95),
        monitor_packets,
        waiters: waiting_now,
        steady_secs,
    })
}

pub fn print_table(r: &Report) {
    println!(
        "{:>4}  {:>16}  {:>9}  {:>9}  {:>7}  {:>9}  {:>9}  {:>10}",
        "call", "direction", "sent", "received", "loss %", "jitter ms", "p99 ms", "first ms"
    );
    for c in &r.calls {
        for (name, d) in [
            ("citizen→officer", &c.citizen_to_officer),
            ("officer→citizen", &c.officer_to_citizen),
        ] {
            println!(
                "{:>4}  {:>16}  {:>9}  {:>9}  {:>7.2}  {:>9.2}  {:>9.2}  {:>10}",
                c.call,
                name,
                d.audio_sent + d.video_sent,
                d.audio_received + d.video_received,
                d.loss_percent,
                d.jitter_ms,
                d.delay_p99_ms,
                d.start_to_first_packet_ms
                    .map_or("-".into(), |v| format!("{v:.1}")),
            );
        }
    }
    let by: BTreeMap<bool, usize> = r.calls.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.instant_connect).or_default() += 1;
        m
    });
    println!(
        "total: {} packets sent, {} received, {:.3} % lost; call start to first packet p50 {} ms, p95 {} ms; instant connect in {} of {} calls",
        r.packets_sent,
        r.packets_received,
        r.loss_percent,
        r.start_to_first_packet_p50_ms.map_or("-".into(), |v| format!("{v:.1}")),
        r.start_to_first_packet_p95_ms.map_or("-".into(), |v| format!("{v:.1}")),
        by.get(&true).copied().unwrap_or(0),
        r.calls.len()
    );
    println!(
        "steady state {:.1} s with {} waiting citizens; monitors received {} packets",
        r.steady_secs, r.waiters, r.monitor_packets
    );
}
