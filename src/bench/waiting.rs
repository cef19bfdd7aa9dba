//! The waiting room at scale: W citizens wait on one desk (WebSocket only); an officer
//! takes callers one after another, and each dispatch (the call starting) moves everyone
//! behind up one place. Measured: from the officer's accept to each waiter's new position,
//! per dispatch, and the server's memory per waiter.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sunwai_signaling::{Client, ClientMsg, IntakeMsg, ServerMsg};
use tokio::sync::watch;

use crate::sfu::client::now_us;

#[derive(Clone, Debug, Serialize)]
pub struct Dispatch {
    pub waiting: usize,
    /// From the accept to a waiter's new position, over the waiters.
    pub update_p50_ms: f64,
    pub update_p99_ms: f64,
    /// To the last waiter's new position.
    pub update_last_ms: f64,
    /// Waiters who had not been told within the time-out.
    pub missed: usize,
    /// CPU time from the accept to the last update: the server's, and this process's
    /// (the waiters reading their messages).
    pub server_cpu_ms: f64,
    pub load_cpu_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct WaitingRun {
    pub waiters: usize,
    pub join_secs: f64,
    pub memory_per_waiter_kib: f64,
    pub dispatches: Vec<Dispatch>,
    /// Over the dispatches: the median and the worst of each dispatch's p99 and last.
    pub p99_median_ms: f64,
    pub p99_max_ms: f64,
    pub last_median_ms: f64,
    pub last_max_ms: f64,
}

struct Waiter {
    position: AtomicU32,
    /// `now_us()` of the latest position change.
    moved_at: AtomicU64,
    /// Offered or in a call: no longer waiting.
    gone: AtomicBool,
}

fn intake(i: usize) -> IntakeMsg {
    IntakeMsg {
        name: format!("Waiting {i}"),
        mobile: "9000000000".into(),
        area: "Load test".into(),
        category: "other".into(),
        description: "waiting-room bench".into(),
        language: "en".into(),
        consent: true,
    }
}

async fn waiter(
    url: String,
    desk: String,
    i: usize,
    me: Arc<Waiter>,
    joined: tokio::sync::oneshot::Sender<Result<()>>,
    mut stop: watch::Receiver<bool>,
) {
    let setup = async {
        let mut ws = Client::connect(&url).await?;
        ws.hello(None, None).await?;
        let reply = ws
            .request(|id| ClientMsg::Join {
                id,
                desk: desk.clone(),
                intake: intake(i),
            })
            .await?;
        if !matches!(reply, ServerMsg::Joined { .. }) {
            bail!("waiter {i} could not join: {reply:?}");
        }
        anyhow::Ok(ws)
    };
    let mut ws = match setup.await {
        Ok(ws) => {
            let _ = joined.send(Ok(()));
            ws
        }
        Err(e) => {
            let _ = joined.send(Err(e));
            return;
        }
    };
    loop {
        tokio::select! {
            m = ws.recv() => match m {
                Ok(ServerMsg::Queue { position, .. }) => {
                    if me.position.swap(position, Ordering::Relaxed) != position {
                        me.moved_at.store(now_us(), Ordering::Relaxed);
                    }
                }
                Ok(ServerMsg::YouAreNext {} | ServerMsg::CallStarted { .. }) => {
                    me.gone.store(true, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(_) => {
                    me.gone.store(true, Ordering::Relaxed);
                    return;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub async fn run(
    server: &str,
    pid: u32,
    desk: &str,
    officer: &str,
    password: &str,
    waiters: usize,
    dispatches: usize,
) -> Result<WaitingRun> {
    let url = format!("ws://{}/ws", server.trim_start_matches("http://"));
    let pid = pid.to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = super::rss_kib(&pid)?;
    let (stop_tx, stop) = watch::channel(false);
    let all: Vec<Arc<Waiter>> = (0..waiters)
        .map(|_| {
            Arc::new(Waiter {
                position: AtomicU32::new(0),
                moved_at: AtomicU64::new(0),
                gone: AtomicBool::new(false),
            })
        })
        .collect();
    // Joins in order (the queue is first come, first served), a few hundred in flight.
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    for (i, w) in all.iter().enumerate() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(waiter(
            url.clone(),
            desk.to_owned(),
            i,
            w.clone(),
            tx,
            stop.clone(),
        ));
        pending.push_back(rx);
        if pending.len() >= 256 {
            if let Some(rx) = pending.pop_front() {
                rx.await.context("a waiter vanished")??;
            }
        }
    }
    for rx in pending {
        rx.await.context("a waiter vanished")??;
    }
    let join_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = super::rss_kib(&pid)?;

    let token = crate::loadtest::login(server, officer, password).await?;
    let mut ws = Client::connect(&url).await?;
    ws.hello(Some(&token), None).await?;
    ws.request_ok(|id| ClientMsg::GoOnDuty { id }).await?;
    let mut out = Vec::new();
    for _ in 0..dispatches.min(waiters.saturating_sub(1)) {
        let _ = ws.request(|id| ClientMsg::Ready { id }).await?;
        let offer = ws
            .recv_until(
                |m| matches!(m, ServerMsg::Offer { .. }),
                Duration::from_secs(60),
            )
            .await
            .context("no caller offered")?;
        let ServerMsg::Offer { .. } = offer else {
            unreachable!()
        };
        // Let the updates of going on duty and of the offer land first.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let waiting: Vec<&Arc<Waiter>> = all
            .iter()
            .filter(|w| !w.gone.load(Ordering::Relaxed))
            .collect();
        let entry = match offer {
            ServerMsg::Offer { entry, .. } => entry,
            _ => unreachable!(),
        };
        let (server0, load0) = (super::cpu_secs(&pid)?, super::cpu_secs("self")?);
        let t0 = now_us();
        ws.request_ok(|id| ClientMsg::Accept { id, entry }).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let done = waiting.iter().all(|w| {
                w.gone.load(Ordering::Relaxed) || w.moved_at.load(Ordering::Relaxed) >= t0
            });
            if done || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (server1, load1) = (super::cpu_secs(&pid)?, super::cpu_secs("self")?);
        let mut delays = Vec::new();
        let mut missed = 0;
        for w in &waiting {
            if w.gone.load(Ordering::Relaxed) {
                continue;
            }
            let at = w.moved_at.load(Ordering::Relaxed);
            if at >= t0 {
                delays.push((at - t0) as f64 / 1000.0);
            } else {
                missed += 1;
            }
        }
        delays.sort_by(f64::total_cmp);
        out.push(Dispatch {
            waiting: delays.len() + missed,
            update_p50_ms: pct(&delays, 0.5),
            update_p99_ms: pct(&delays, 0.99),
            update_last_ms: delays.last().copied().unwrap_or(0.0),
            missed,
            server_cpu_ms: (server1 - server0) * 1000.0,
            load_cpu_ms: (load1 - load0) * 1000.0,
        });
        ws.recv_until(
            |m| matches!(m, ServerMsg::CallStarted { .. }),
            Duration::from_secs(30),
        )
        .await?;
        ws.request_ok(|id| ClientMsg::EndCall { id, no_show: false })
            .await?;
    }
    let _ = ws.request(|id| ClientMsg::GoOffDuty { id }).await;
    let _ = stop_tx.send(true);
    let mut p99: Vec<f64> = out.iter().map(|d| d.update_p99_ms).collect();
    let mut last: Vec<f64> = out.iter().map(|d| d.update_last_ms).collect();
    p99.sort_by(f64::total_cmp);
    last.sort_by(f64::total_cmp);
    Ok(WaitingRun {
        waiters,
        join_secs,
        memory_per_waiter_kib: after.saturating_sub(before) as f64 / waiters.max(1) as f64,
        dispatches: out,
        p99_median_ms: pct(&p99, 0.5),
        p99_max_ms: p99.last().copied().unwrap_or(0.0),
        last_median_ms: pct(&last, 0.5),
        last_max_ms: last.last().copied().unwrap_or(0.0),
    })
}

pub fn print(w: &WaitingRun) {
    println!(
        "waiting room: {} citizens joined in {:.1} s; server memory {:.1} KiB per waiter",
        w.waiters, w.join_secs, w.memory_per_waiter_kib
    );
    println!(
        "  accept to new position over {} dispatches: p99 median {:.1} ms (worst {:.1}); last waiter median {:.1} ms (worst {:.1})",
        w.dispatches.len(),
        w.p99_median_ms,
        w.p99_max_ms,
        w.last_median_ms,
        w.last_max_ms
    );
    let n = w.dispatches.len().max(1) as f64;
    println!(
        "  CPU per dispatch: server {:.0} ms, load generator {:.0} ms",
        w.dispatches.iter().map(|d| d.server_cpu_ms).sum::<f64>() / n,
        w.dispatches.iter().map(|d| d.load_cpu_ms).sum::<f64>() / n
    );
    let missed: usize = w.dispatches.iter().map(|d| d.missed).sum();
    if missed > 0 {
        println!("  {missed} position updates did not arrive within 30 s");
    }
}
