//! The baseline: a plain userspace UDP relay (one socket, one thread, a blocking receive
//! and a send per datagram, no crypto), fed the SFU run's packet rate and sizes by a
//! generator in the bench process and measured like the server, from /proc.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::sfu::client::{AUDIO_PAYLOAD, VIDEO_PAYLOAD};

/// RTP header plus the SRTP authentication tag: what the SFU's datagrams carry on top of
/// the payload.
const OVERHEAD: usize = 12 + 10;

#[derive(Clone, Debug, Serialize)]
pub struct RelayRun {
    pub packets: u64,
    pub packets_per_sec: f64,
    pub cpu_us_per_packet: f64,
    /// Share of one core the relay used.
    pub core: f64,
}

/// `sunwai bench relay --to ADDR`: prints its address, then relays until killed.
pub fn relay_main(to: SocketAddr) -> Result<()> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    println!("{}", sock.local_addr()?);
    std::io::stdout().flush()?;
    let mut buf = [0u8; 2048];
    loop {
        let (n, _) = sock.recv_from(&mut buf)?;
        // A full buffer drops the datagram, as the SFU's flush does.
        let _ = sock.send_to(&buf[..n], to);
    }
}

struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Relays `rate` packets per second (a share `audio_share` of them audio-sized) for
/// `secs` seconds of steady state.
pub fn run(
    exe: &Path,
    cpu: Option<usize>,
    rate: f64,
    audio_share: f64,
    secs: u64,
) -> Result<RelayRun> {
    let sink = UdpSocket::bind("127.0.0.1:0")?;
    sink.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut child = super::pinned(exe, cpu)
        .args(["bench", "relay", "--to"])
        .arg(sink.local_addr()?.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the relay")?;
    let out = child.stdout.take().context("no stdout")?;
    let relay = Relay(child);
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line)?;
    let addr: SocketAddr = line.trim().parse().context("the relay's address")?;
    let pid = relay.0.id().to_string();

    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let counter = {
        let (stop, received) = (stop.clone(), received.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if sink.recv_from(&mut buf).is_ok() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let sender = {
        let stop = stop.clone();
        std::thread::spawn(move || -> Result<()> {
            let sock = UdpSocket::bind("127.0.0.1:0")?;
            let audio = vec![0x80u8; AUDIO_PAYLOAD + OVERHEAD];
            let video = vec![0x80u8; VIDEO_PAYLOAD + OVERHEAD];
            let start = Instant::now();
            let mut sent = 0u64;
            let mut audio_due = 0.0;
            while !stop.load(Ordering::Relaxed) {
                let due = (start.elapsed().as_secs_f64() * rate) as u64;
                while sent < due {
                    audio_due += audio_share;
                    let pkt = if audio_due >= 1.0 {
                        audio_due -= 1.0;
                        &audio
                    } else {
                        &video
                    };
                    let _ = sock.send_to(pkt, addr);
                    sent += 1;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        })
    };
    // A second to settle, then the measured steady state.
    std::thread::sleep(Duration::from_secs(1));
    let (c0, n0, t0) = (
        super::cpu_secs(&pid)?,
        received.load(Ordering::Relaxed),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(secs));
    let (c1, n1, elapsed) = (
        super::cpu_secs(&pid)?,
        received.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
    );
    stop.store(true, Ordering::Relaxed);
    let _ = counter.join();
    if let Ok(r) = sender.join() {
        r?;
    }
    drop(relay);
    let packets = n1 - n0;
    Ok(RelayRun {
        packets,
        packets_per_sec: packets as f64 / elapsed,
        cpu_us_per_packet: if packets == 0 {
            f64::NAN
        } else {
            (c1 - c0) * 1e6 / packets as f64
        },
        core: (c1 - c0) / elapsed,
    })
}
