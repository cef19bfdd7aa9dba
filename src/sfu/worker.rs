//! One media worker: one OS thread, one UDP socket, and the [`Forwarder`] that holds every
//! peer connection of the calls placed on it.
//!
//! The loop: receive a batch of datagrams and hand each to the forwarder with its receive
//! time, let it process them (and any command or timer due), write everything it queued,
//! then sleep until the next datagram, command or deadline. The worker alone owns its
//! forwarder: no locks on the media path.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::forwarder::Forwarder;
use super::{Leg, LegEvents, MediaError, WorkerStats};
use crate::config::Cidr;

/// Datagrams read per wake-up before the queued output is flushed.
const BATCH: usize = 64;
/// A deadline already past wakes the loop at once, but it never spins faster than this.
const MIN_SLEEP: Duration = Duration::from_micros(200);

pub enum Command {
    Offer {
        call: Uuid,
        leg: Leg,
        sdp: String,
        events: Option<LegEvents>,
        reply: oneshot::Sender<Result<String, MediaError>>,
    },
    Candidate {
        call: Uuid,
        leg: Leg,
        candidate: String,
    },
    Link {
        call: Uuid,
    },
    CloseLeg {
        call: Uuid,
        leg: Leg,
    },
    CloseCall {
        call: Uuid,
    },
    Stats {
        reply: oneshot::Sender<WorkerStats>,
    },
}

/// Binds the worker's socket (large buffers: one socket carries every call of the worker,
/// and a scheduling hiccup at thousands of packets a second overflows the default) and
/// starts its thread.
pub fn spawn(
    bind: SocketAddr,
    announce: Option<IpAddr>,
    index: usize,
    allowed: Arc<Vec<Cidr>>,
    adaptation: super::Adaptation,
    commands: usize,
) -> std::io::Result<(mpsc::Sender<Command>, SocketAddr)> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(bind),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Best effort: the kernel caps these at net.core.rmem_max / wmem_max.
    let _ = sock.set_recv_buffer_size(4 << 20);
    let _ = sock.set_send_buffer_size(4 << 20);
    sock.bind(&bind.into())?;
    sock.set_nonblocking(true)?;
    let std_sock: std::net::UdpSocket = sock.into();
    let local = std_sock.local_addr()?;
    let candidate_addr = SocketAddr::new(announce.unwrap_or(local.ip()), local.port());
    let (tx, rx) = mpsc::channel(commands);
    std::thread::Builder::new()
        .name(format!("media-{index}"))
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "media worker could not start its runtime");
                    return;
                }
            };
            rt.block_on(async move {
                match UdpSocket::from_std(std_sock) {
                    Ok(socket) => {
                        let mut fwd = Forwarder::new(candidate_addr, allowed, Instant::now());
                        fwd.pause_video_on_weak_links(adaptation.pause_video_on_weak_links);
                        fwd.audio_redundancy(adaptation.audio_redundancy);
                        Worker::new(index, socket, fwd).run(rx).await
                    }
                    Err(e) => tracing::error!(error = %e, "media worker socket"),
                }
            });
        })?;
    Ok((tx, local))
}

struct Worker {
    index: usize,
    socket: UdpSocket,
    fwd: Forwarder,
    /// What was last published to the metrics registry, to publish differences.
    published: WorkerStats,
    next_metrics: Instant,
    /// Receive time of the oldest datagram of the current batch, and the forwarded count
    /// when it arrived.
    batch_started: Option<(Instant, u64)>,
}

impl Worker {
    fn new(index: usize, socket: UdpSocket, fwd: Forwarder) -> Self {
        Worker {
            index,
            socket,
            fwd,
            published: WorkerStats::default(),
            next_metrics: Instant::now() + Duration::from_secs(1),
            batch_started: None,
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut buf = vec![0u8; 2048];
        loop {
            let now = Instant::now();
            self.fwd.process(now);
            self.flush();
            if now >= self.next_metrics {
                self.next_metrics = now + Duration::from_secs(1);
                self.publish_metrics();
            }
            let deadline = self
                .fwd
                .poll_timeout(now)
                .min(self.next_metrics)
                .max(now + MIN_SLEEP);
            tokio::select! {
                biased;
                cmd = rx.recv() => match cmd {
                    // Every handle is gone: the server is stopping.
                    None => break,
                    Some(cmd) => self.command(cmd),
                },
                r = self.socket.recv_from(&mut buf) => {
                    let Ok((n, src)) = r else { continue };
                    self.received(&buf[..n], src);
                    for _ in 1..BATCH {
                        match self.socket.try_recv_from(&mut buf) {
                            Ok((n, src)) => self.received(&buf[..n], src),
                            Err(_) => break,
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
        }
        self.fwd.close_all();
        self.flush();
        self.publish_metrics();
    }

    fn received(&mut self, data: &[u8], src: SocketAddr) {
        let now = Instant::now();
        if self.batch_started.is_none() {
            self.batch_started = Some((now, self.fwd.forwarded()));
        }
        self.fwd.handle_datagram(data, src, now);
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::Offer {
                call,
                leg,
                sdp,
                events,
                reply,
            } => {
                let r = self.fwd.offer(call, leg, &sdp, events, now);
                let _ = reply.send(r);
            }
            Command::Candidate {
                call,
                leg,
                candidate,
            } => self.fwd.remote_candidate(call, leg, candidate),
            Command::Link { call } => self.fwd.link(call, now),
            Command::CloseLeg { call, leg } => self.fwd.close_leg(call, leg),
            Command::CloseCall { call } => self.fwd.close_call(call),
            Command::Stats { reply } => {
                let mut s = self.fwd.stats();
                s.cpu_ns = thread_cpu_ns();
                let _ = reply.send(s);
            }
        }
    }

    /// Writes everything queued. Never waits: when the socket's buffer is full the datagram
    /// is dropped and counted, so a slow path never stalls the other calls of this worker.
    fn flush(&mut self) {
        while let Some(m) = self.fwd.poll_transmit() {
            let r = self.socket.try_send_to(&m.message, m.transport.peer_addr);
            let stats = self.fwd.stats_mut();
            match r {
                Ok(_) => {
                    stats.datagrams_out += 1;
                    stats.bytes_out += m.message.len() as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => stats.send_dropped += 1,
                Err(_) => stats.send_errors += 1,
            }
        }
        // Every packet forwarded in this batch is charged the wait of the batch's oldest
        // datagram: an upper bound, for one clock read per batch.
        if let Some((started, before)) = self.batch_started.take() {
            let stats = self.fwd.stats_mut();
            let n = stats.rtp_out.saturating_sub(before);
            if n > 0 {
                let waited = started.elapsed();
                stats.forward_latency.record(waited.as_micros() as u64, n);
                metrics::histogram!("sunwai_media_forward_latency_seconds")
                    .record_many(waited.as_secs_f64(), n as usize);
            }
        }
    }

    fn publish_metrics(&mut self) {
        let s = self.fwd.stats();
        let p = &self.published;
        let w = self.index.to_string();
        for (name, now, before) in [
            ("sunwai_media_rtp_in_total", s.rtp_in, p.rtp_in),
            ("sunwai_media_rtp_forwarded_total", s.rtp_out, p.rtp_out),
            (
                "sunwai_media_send_dropped_total",
                s.send_dropped,
                p.send_dropped,
            ),
            (
                "sunwai_media_send_errors_total",
                s.send_errors,
                p.send_errors,
            ),
            (
                "sunwai_media_write_errors_total",
                s.rtp_write_errors,
                p.rtp_write_errors,
            ),
            (
                "sunwai_media_held_for_keyframe_total",
                s.rtp_held_for_keyframe,
                p.rtp_held_for_keyframe,
            ),
            (
                "sunwai_media_keyframe_requests_total",
                s.keyframe_requests_out,
                p.keyframe_requests_out,
            ),
            (
                "sunwai_media_refused_sources_total",
                s.sources_refused,
                p.sources_refused,
            ),
            (
                "sunwai_media_refused_candidates_total",
                s.candidates_refused,
                p.candidates_refused,
            ),
            (
                "sunwai_media_setup_timeouts_total",
                s.setup_timeouts,
                p.setup_timeouts,
            ),
        ] {
            if now > before {
                metrics::counter!(name, "worker" => w.clone()).increment(now - before);
            }
        }
        metrics::gauge!("sunwai_media_peers", "worker" => w).set(s.peers as f64);
        self.published = s;
    }
}

/// CPU time this thread has used, from the scheduler's own accounting.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
