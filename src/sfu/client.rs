//! A WebRTC client in Rust, on webrtc-rs's async API: what `sunwai loadtest` and the tests
//! use to take part in calls like a browser does. It publishes synthetic audio and video
//! whose payloads carry where they come from, a sequence number, the send time and a
//! checksum, so the receiving side can count loss, reordering, corruption and delay, and
//! tell whether a packet came from the right call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::{Bytes, BytesMut};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::rtp::extension::HeaderExtension;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder,
};

use super::{codec, Publisher};

/// Video payload per packet, and the audio payload of one 20 ms Opus frame.
pub const VIDEO_PAYLOAD: usize = 1_100;
pub const AUDIO_PAYLOAD: usize = 160;
const TICK: Duration = Duration::from_millis(20);

const MAGIC: [u8; 4] = *b"SWM1";
const HEADER: usize = 28;
const TRAILER: usize = 8;

/// Where a packet was published: which call (a tag both sides agree on), who, and what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    pub call: u32,
    pub publisher: u8,
    pub video: bool,
}

impl Origin {
    pub fn new(call: u32, publisher: Publisher, video: bool) -> Origin {
        let publisher = match publisher {
            Publisher::Citizen => 0,
            Publisher::Officer => 1,
        };
        Origin {
            call,
            publisher,
            video,
        }
    }
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Microseconds since the first call in this process: the clock both sides of a loopback
/// test share.
pub fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// A payload of `len` bytes: origin, sequence number, send time, filler, checksum.
pub fn make_payload(origin: Origin, seq: u64, sent_us: u64, len: usize) -> Bytes {
    let len = len.max(HEADER + TRAILER);
    let mut b = BytesMut::zeroed(len);
    b[0..4].copy_from_slice(&MAGIC);
    b[4..8].copy_from_slice(&origin.call.to_be_bytes());
    b[8] = origin.publisher;
    b[9] = u8::from(origin.video);
    b[12..20].copy_from_slice(&seq.to_be_bytes());
    b[20..28].copy_from_slice(&sent_us.to_be_bytes());
    let mut x = seq ^ 0x9E37_79B9_7F4A_7C15;
    for chunk in b[HEADER..len - TRAILER].chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let sum = fnv1a(&b[..len - TRAILER]);
    b[len - TRAILER..].copy_from_slice(&sum.to_be_bytes());
    b.freeze()
}

/// Video goes out as VP8 would: each payload starts with a one-byte VP8 payload
/// descriptor (S set on a frame's first packet, partition 0) and a byte standing for the
/// VP8 payload header (P clear on a keyframe), so the SFU sees frames and keyframes as it
/// does from a browser.
pub const VP8_PREFIX: usize = 2;

/// A video payload of `len` bytes: [`VP8_PREFIX`], then [`make_payload`].
pub fn make_video_payload(
    origin: Origin,
    seq: u64,
    sent_us: u64,
    len: usize,
    frame_start: bool,
    keyframe: bool,
) -> Bytes {
    let descriptor = if frame_start { 0x10 } else { 0x00 };
    let header = if frame_start && keyframe { 0x00 } else { 0x01 };
    let inner = make_payload(origin, seq, sent_us, len.saturating_sub(VP8_PREFIX));
    let mut b = BytesMut::with_capacity(VP8_PREFIX + inner.len());
    b.extend_from_slice(&[descriptor, header]);
    b.extend_from_slice(&inner);
    b.freeze()
}

/// Checks a payload made by [`make_payload`] or [`make_video_payload`]: (origin, sequence,
/// send time).
pub fn read_payload(b: &[u8]) -> Option<(Origin, u64, u64)> {
    read_plain_payload(b).or_else(|| read_plain_payload(b.get(VP8_PREFIX..)?))
}

fn read_plain_payload(b: &[u8]) -> Option<(Origin, u64, u64)> {
    let n = b.len();
    if n < HEADER + TRAILER || b[0..4] != MAGIC {
        return None;
    }
    let sum = u64::from_be_bytes(b[n - TRAILER..].try_into().ok()?);
    if fnv1a(&b[..n - TRAILER]) != sum {
        return None;
    }
    let origin = Origin {
        call: u32::from_be_bytes(b[4..8].try_into().ok()?),
        publisher: b[8],
        video: b[9] != 0,
    };
    let seq = u64::from_be_bytes(b[12..20].try_into().ok()?);
    let sent = u64::from_be_bytes(b[20..28].try_into().ok()?);
    Some((origin, seq, sent))
}

/// What arrived from one origin.
#[derive(Clone, Debug, Default)]
pub struct Received {
    pub packets: u64,
    pub bytes: u64,
    /// Sequence numbers skipped (lost, or not yet arrived).
    pub gaps: u64,
    /// Packets older than the newest already seen.
    pub late: u64,
    pub first_seq: Option<u64>,
    pub highest_seq: u64,
    pub first_at: Option<Instant>,
    /// Video: the first packet that arrived began a keyframe (what the SFU guarantees a
    /// receiver that joins a stream already running).
    pub first_keyframe: bool,
    /// One-way delays (µs) on the shared loopback clock.
    pub delays_us: Vec<u32>,
    /// Jitter (RFC 3550 style, µs) of the one-way delay.
    pub jitter_us: f64,
    last_delay: Option<i64>,
}

type RemoteTrack = (Origin, Arc<dyn TrackRemote>, u32);

#[derive(Default)]
struct Shared {
    rx: Mutex<BTreeMap<Origin, Received>>,
    /// Packets that failed the checksum, or came from another call.
    corrupt: AtomicU64,
    foreign: AtomicU64,
    call: u32,
    sent_audio: AtomicU64,
    sent_video: AtomicU64,
    keyframe_requests: AtomicU64,
    /// The next video frame is a keyframe (at the start, and after a request).
    keyframe_wanted: AtomicBool,
    keyframes_sent: AtomicU64,
    /// The received tracks with their SSRCs, to address keyframe requests.
    remote: Mutex<Vec<RemoteTrack>>,
}

impl Shared {
    fn on_rtp(&self, track: &Arc<dyn TrackRemote>, pkt: &rtp::Packet) {
        let now = now_us();
        let Some((origin, seq, sent)) = read_payload(&pkt.payload) else {
            self.corrupt.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if origin.call != self.call {
            self.foreign.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut rx = self.rx.lock().unwrap_or_else(|p| p.into_inner());
        let r = rx.entry(origin).or_default();
        match r.first_seq {
            None => {
                r.first_seq = Some(seq);
                r.highest_seq = seq;
                r.first_at = Some(Instant::now());
                r.first_keyframe = origin.video && codec::vp8_keyframe_start(&pkt.payload);
                self.remote.lock().unwrap_or_else(|p| p.into_inner()).push((
                    origin,
                    track.clone(),
                    pkt.header.ssrc,
                ));
            }
            Some(_) if seq > r.highest_seq => {
                r.gaps += seq - r.highest_seq - 1;
                r.highest_seq = seq;
            }
            Some(_) => {
                r.late += 1;
                r.gaps = r.gaps.saturating_sub(1);
            }
        }
        r.packets += 1;
        r.bytes += pkt.payload.len() as u64;
        let delay = now.saturating_sub(sent) as i64;
        if let Some(last) = r.last_delay {
            let d = (delay - last).abs() as f64;
            r.jitter_us += (d - r.jitter_us) / 16.0;
        }
        r.last_delay = Some(delay);
        if r.delays_us.len() < 200_000 {
            r.delays_us.push(delay.clamp(0, i64::from(u32::MAX)) as u32);
        }
    }
}

struct Handler {
    shared: Arc<Shared>,
    gathered: mpsc::Sender<()>,
    state: watch::Sender<RTCPeerConnectionState>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.try_send(());
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.state.send(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let shared = self.shared.clone();
        tokio::spawn(async move {
            while let Some(ev) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(pkt) = ev {
                    shared.on_rtp(&track, &pkt);
                }
            }
        });
    }
}

/// What a client publishes and receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends and receives audio and video.
    Publish(Publisher),
    /// Receives both sides of a call, sends nothing.
    Monitor,
}

pub struct MediaClient {
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    role: Role,
    state: watch::Receiver<RTCPeerConnectionState>,
    gathered: tokio::sync::Mutex<mpsc::Receiver<()>>,
    tracks: Option<(Arc<TrackLocalStaticRTP>, u32, Arc<TrackLocalStaticRTP>, u32)>,
    /// The video sender while video is sent (None after `set_video(false)`).
    video_sender: tokio::sync::Mutex<Option<Arc<dyn webrtc::rtp_transceiver::RtpSender>>>,
}

/// A summary of what one client saw.
#[derive(Clone, Debug, Default)]
pub struct ClientReport {
    pub sent_audio: u64,
    pub sent_video: u64,
    pub received: BTreeMap<Origin, Received>,
    pub corrupt: u64,
    pub foreign: u64,
    pub keyframe_requests: u64,
    /// Keyframes this publisher sent (the first, and one per request).
    pub keyframes_sent: u64,
}

fn local_track(publisher: Publisher, kind: RtpCodecKind, ssrc: u32) -> Arc<TrackLocalStaticRTP> {
    let k = if kind == RtpCodecKind::Audio {
        "audio"
    } else {
        "video"
    };
    let id = format!("{}-{k}", publisher.name());
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        publisher.name().to_owned(),
        id.clone(),
        id,
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: match kind {
                RtpCodecKind::Audio => codec::opus(),
                _ => codec::vp8(),
            },
            ..Default::default()
        }],
    )))
}

impl MediaClient {
    /// A peer connection on loopback UDP with its tracks (or, for a monitor, four
    /// receive-only transceivers). `call` tags this call's payloads.
    pub async fn new(role: Role, call: u32) -> Result<MediaClient> {
        let shared = Arc::new(Shared {
            call,
            keyframe_wanted: AtomicBool::new(true),
            ..Default::default()
        });
        let (gathered_tx, gathered) = mpsc::channel(1);
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let handler = Arc::new(Handler {
            shared: shared.clone(),
            gathered: gathered_tx,
            state: state_tx,
        });
        let mut me = codec::media_engine(false)?;
        let registry = codec::registry(&mut me, codec::Estimate::default())?;
        let pc: Arc<dyn PeerConnection> = Arc::new(
            PeerConnectionBuilder::new()
                .with_configuration(RTCConfigurationBuilder::new().build())
                .with_media_engine(me)
                .with_interceptor_registry(registry)
                .with_setting_engine(
                    SettingEngineBuilder::new()
                        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
                        .build(),
                )
                .with_handler(handler)
                .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
                .build()
                .await?,
        );
        let mut tracks = None;
        let mut video_sender = None;
        match role {
            Role::Publish(p) => {
                let (a_ssrc, v_ssrc) = (rand::random::<u32>(), rand::random::<u32>());
                let a = local_track(p, RtpCodecKind::Audio, a_ssrc);
                let v = local_track(p, RtpCodecKind::Video, v_ssrc);
                pc.add_track(a.clone() as Arc<dyn TrackLocal>).await?;
                video_sender = Some(pc.add_track(v.clone() as Arc<dyn TrackLocal>).await?);
                tracks = Some((a, a_ssrc, v, v_ssrc));
            }
            Role::Monitor => {
                for kind in [
                    RtpCodecKind::Audio,
                    RtpCodecKind::Video,
                    RtpCodecKind::Audio,
                    RtpCodecKind::Video,
                ] {
                    let init = RTCRtpTransceiverInit {
                        direction: RTCRtpTransceiverDirection::Recvonly,
                        ..Default::default()
                    };
                    pc.add_transceiver_from_kind(kind, Some(init)).await?;
                }
            }
        }
        Ok(MediaClient {
            pc,
            shared,
            role,
            state,
            gathered: tokio::sync::Mutex::new(gathered),
            tracks,
            video_sender: tokio::sync::Mutex::new(video_sender),
        })
    }

    /// An offer with every candidate in it (this client does not trickle).
    pub async fn offer(&self) -> Result<String> {
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer).await?;
        let mut g = self.gathered.lock().await;
        // Gathering completes once per ICE generation; later offers reuse the candidates.
        let _ = tokio::time::timeout(Duration::from_secs(5), g.recv()).await;
        Ok(self
            .pc
            .local_description()
            .await
            .context("no local description")?
            .sdp)
    }

    pub async fn apply_answer(&self, sdp: String) -> Result<()> {
        self.pc
            .set_remote_description(RTCSessionDescription::answer(sdp)?)
            .await?;
        Ok(())
    }

    pub async fn wait_connected(&mut self, timeout: Duration) -> Result<()> {
        let wait = async {
            loop {
                let s = *self.state.borrow_and_update();
                match s {
                    RTCPeerConnectionState::Connected => return Ok(()),
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        bail!("the media connection is {s}")
                    }
                    _ => {}
                }
                self.state.changed().await?;
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .context("the media connection did not connect in time")?
    }

    /// Publishes Opus-sized audio every 20 ms and video at `video_bps` until `stop` turns
    /// true; counts keyframe requests that reach this publisher.
    pub fn publish(&self, video_bps: u64, stop: watch::Receiver<bool>) {
        let (Role::Publish(publisher), Some((audio, a_ssrc, video, v_ssrc))) =
            (self.role, self.tracks.clone())
        else {
            return;
        };
        let shared = self.shared.clone();
        let v = video.clone();
        tokio::spawn(async move {
            while let Some(ev) = v.poll().await {
                let TrackLocalEvent::OnRtcpPacket(pkts) = ev else {
                    continue;
                };
                let asks = pkts.iter().any(|p| {
                    p.as_any()
                        .downcast_ref::<PictureLossIndication>()
                        .is_some_and(|pli| pli.media_ssrc == v_ssrc)
                        || codec::is_keyframe_request(p.as_ref())
                            && p.as_any().downcast_ref::<PictureLossIndication>().is_none()
                });
                if asks {
                    shared.keyframe_requests.fetch_add(1, Ordering::Relaxed);
                    shared.keyframe_wanted.store(true, Ordering::Relaxed);
                }
            }
        });
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let mut stop = stop;
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let (oa, ov) = (
                Origin::new(shared.call, publisher, false),
                Origin::new(shared.call, publisher, true),
            );
            let (mut a_seq, mut v_seq) = (0u64, 0u64);
            let (mut a_rtp, mut v_rtp) = (rand::random::<u16>(), rand::random::<u16>());
            let (a_ts0, v_ts0) = (rand::random::<u32>(), rand::random::<u32>());
            let per_tick = video_bps as f64 / 8.0 * TICK.as_secs_f64();
            let mut budget = 0.0;
            let start = Instant::now();
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => {}
                }
                if *stop.borrow() {
                    break;
                }
                let us = start.elapsed().as_micros() as u64;
                let pkt = rtp::Packet {
                    header: rtp::header::Header {
                        version: 2,
                        payload_type: codec::PT_OPUS,
                        sequence_number: a_rtp,
                        timestamp: a_ts0.wrapping_add((us * 48 / 1000) as u32),
                        ssrc: a_ssrc,
                        ..Default::default()
                    },
                    payload: make_payload(oa, a_seq, now_us(), AUDIO_PAYLOAD),
                };
                let level = HeaderExtension::AudioLevel(AudioLevelExtension {
                    level: (a_seq % 127) as u8,
                    voice: true,
                });
                if audio.write_rtp_with_extensions(pkt, &[level]).await.is_ok() {
                    shared.sent_audio.fetch_add(1, Ordering::Relaxed);
                }
                a_seq += 1;
                a_rtp = a_rtp.wrapping_add(1);
                budget += per_tick;
                let n = (budget / VIDEO_PAYLOAD as f64).floor() as usize;
                budget -= (n * VIDEO_PAYLOAD) as f64;
                let ts = v_ts0.wrapping_add((us * 90 / 1000) as u32);
                let keyframe = n > 0 && shared.keyframe_wanted.swap(false, Ordering::Relaxed);
                if keyframe {
                    shared.keyframes_sent.fetch_add(1, Ordering::Relaxed);
                }
                for i in 0..n {
                    let pkt = rtp::Packet {
                        header: rtp::header::Header {
                            version: 2,
                            payload_type: codec::PT_VP8,
                            sequence_number: v_rtp,
                            timestamp: ts,
                            ssrc: v_ssrc,
                            marker: i + 1 == n,
                            ..Default::default()
                        },
                        payload: make_video_payload(
                            ov,
                            v_seq,
                            now_us(),
                            VIDEO_PAYLOAD,
                            i == 0,
                            keyframe,
                        ),
                    };
                    if video.write_rtp_with_extensions(pkt, &[]).await.is_ok() {
                        shared.sent_video.fetch_add(1, Ordering::Relaxed);
                    }
                    v_seq += 1;
                    v_rtp = v_rtp.wrapping_add(1);
                }
            }
        });
    }

    /// New ICE credentials in the next offer (what a browser does after a network change).
    pub async fn restart_ice(&self) -> Result<()> {
        self.pc.restart_ice().await?;
        Ok(())
    }

    /// Stops or resumes sending video (audio-only mode); the next offer carries the change.
    pub async fn set_video(&self, on: bool) -> Result<()> {
        let mut sender = self.video_sender.lock().await;
        match (on, sender.as_ref(), &self.tracks) {
            (false, Some(s), _) => {
                self.pc.remove_track(s).await?;
                *sender = None;
            }
            (true, None, Some((_, _, video, _))) => {
                *sender = Some(
                    self.pc
                        .add_track(video.clone() as Arc<dyn TrackLocal>)
                        .await?,
                );
            }
            _ => {}
        }
        Ok(())
    }

    /// Asks the server for a keyframe of the video received from `publisher`.
    pub async fn request_keyframe(&self, publisher: Publisher) -> Result<()> {
        let want = Origin::new(self.shared.call, publisher, true);
        let found = self
            .shared
            .remote
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(o, _, _)| *o == want)
            .map(|(_, t, ssrc)| (t.clone(), *ssrc));
        let (track, ssrc) = found.context("no video received from that side yet")?;
        track
            .write_rtcp(vec![Box::new(PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            })])
            .await?;
        Ok(())
    }

    pub fn report(&self) -> ClientReport {
        ClientReport {
            sent_audio: self.shared.sent_audio.load(Ordering::Relaxed),
            sent_video: self.shared.sent_video.load(Ordering::Relaxed),
            received: self
                .shared
                .rx
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            corrupt: self.shared.corrupt.load(Ordering::Relaxed),
            foreign: self.shared.foreign.load(Ordering::Relaxed),
            keyframe_requests: self.shared.keyframe_requests.load(Ordering::Relaxed),
            keyframes_sent: self.shared.keyframes_sent.load(Ordering::Relaxed),
        }
    }

    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_corruption_is_seen() {
        let o = Origin::new(7, Publisher::Officer, true);
        let p = make_payload(o, 42, 1234, VIDEO_PAYLOAD);
        assert_eq!(read_payload(&p), Some((o, 42, 1234)));
        let mut bad = p.to_vec();
        bad[600] ^= 1;
        assert_eq!(read_payload(&bad), None);
        assert_eq!(read_payload(&p[..20]), None);
    }
}
