//! The media forwarder: every sans-IO `rtc` peer connection of the calls placed on one
//! media worker, and every decision about what goes where. No sockets and no clock:
//! datagrams, commands and the time come in; datagrams to send, the next deadline and
//! page events (through each leg's [`LegEvents`]) go out. The worker (`worker.rs`) is the
//! thin socket loop around it; the tests drive it with in-memory peers and a fake clock.
//!
//! A datagram is matched to its peer (a STUN Binding request names its local ufrag;
//! anything else by the source address learned from an answered Binding request) and handed
//! over with its receive time. [`Forwarder::process`] then drains each peer's events and
//! reads (forwarding RTP and relaying keyframe requests to the other legs of the call) and
//! queues everything the peers want written, for [`Forwarder::poll_transmit`].
//!
//! Invariants: one owner (the worker's thread), so no locks on the media path; every
//! queue is drained on each `process`; a receiver's video starts at a keyframe; nothing is
//! forwarded before the desk links the call; a monitor never publishes and never lowers
//! what the citizen and officer are told they may send.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::{RTCIceConnectionState, RTCPeerConnectionState};
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::RTCRtpTransceiverDirection;
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use uuid::Uuid;

use super::codec::VideoCodec;
use super::{
    codec, red, rewrite, wire, Leg, LegEvent, LegEvents, MediaError, Publisher, WorkerStats,
};
use crate::config::Cidr;
use gate::{AudioRedundancy, Change, LinkSample, VideoGate};

/// Keyframe requests to one publisher's track that a receiver's decoder asked for (after
/// loss) are passed on at most once a second: a keyframe is several times a delta frame's
/// size, and the links that lose most, and ask most, can least afford them.
const KEYFRAME_REPAIR_GAP: Duration = Duration::from_secs(1);
/// A receiver still waiting for its first picture (or its first after a pause) has its
/// request repeated sooner: it shows nothing until a keyframe comes, and with a second here
/// Chromium showed an officer who accepted at once the first frame only after 1.3–1.5 s
/// instead of 0.6 s.
const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(300);

/// How long after a receiver's picture began its keyframe requests still count as waiting
/// for a first picture (the first keyframe may have lost a packet): a second's throttle
/// there made Chromium show the officer's first frame 1.04 s after an accept instead of
/// under 0.5 s.
const FIRST_PICTURE_GRACE: Duration = Duration::from_secs(2);

/// Why a keyframe is asked of a publisher, which decides how soon after the last request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keyframe {
    /// A call starts, a receiver connects or video resumes: at once.
    Now,
    /// A receiver has no picture yet: at most every `KEYFRAME_REQUEST_GAP`.
    FirstPicture,
    /// A receiver's decoder lost its picture: at most every `KEYFRAME_REPAIR_GAP`.
    Repair,
}

/// A publisher that still sends a codec some receiver lacks is asked again this often.
const STEER_GAP: Duration = Duration::from_secs(3);
/// A peer connection that has not connected this long after its answer is dropped.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// A leg with no connectivity check this long is "disconnected" (nothing is forwarded
/// to it), and this much longer again "failed" (removed).
const ICE_DISCONNECTED_AFTER: Duration = Duration::from_secs(15);
const ICE_FAILED_AFTER: Duration = Duration::from_secs(15);
/// A publisher in a live call from whom nothing at all (media, RTCP, connectivity checks)
/// has arrived this long has stalled: the other side is told it is reconnecting. Browsers
/// send RTCP at least every second or so, and audio all the time.
const STALLED_AFTER: Duration = Duration::from_secs(3);
/// What a receiver's estimate keeps back for audio (Opus with its overhead) when the rest is
/// offered to the publisher's video, and the least a publisher is told it may send.
const AUDIO_ALLOWANCE: u64 = 40_000;
/// What redundancy adds to the audio when a receiver's downlink gets it: a second copy of
/// each Opus frame (Chromium's ~32 kbit/s) and a 5-byte RED header per packet.
const REDUNDANCY_ALLOWANCE: u64 = 35_000;
const REMB_FLOOR: u64 = 30_000;
/// The share of a receiver's estimate offered to the publisher, in per cent: the estimator
/// over-shoots a shaped link once it has climbed to it (on the 300/150 kbit/s benchmark the
/// officer then sent 280–300 kbit/s of video into the citizen's 300 kbit/s downlink and a
/// third of the speech was concealed), so the publisher is told to stay below it.
const ESTIMATE_SHARE: u64 = 85;
/// What a receiving leg is taken to carry until its first feedback: a publisher starts
/// modestly rather than flooding a weak link in the first seconds of a call (Chrome starts
/// at 300 kbit/s of video of its own accord; without this, 44–49 % of the officer's speech
/// was concealed at a citizen on a 300 kbit/s link in the call's first four seconds).
const START_ESTIMATE: u64 = 150_000;
/// How long after a leg (re)connects, or its media returns after a stall, its links are
/// left unjudged for video pauses: its first reports and sequence numbers count the gap.
const LINKS_SETTLE: Duration = Duration::from_secs(5);
/// Housekeeping (setup time-outs, stalls, receiver estimates, metrics) runs this often.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Refusals logged per worker: one line per peer or source, up to this many.
const MAX_REFUSALS_LOGGED: usize = 1024;

/// Whom a refusal was logged for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Refusal {
    Peer(usize),
    Source(IpAddr),
}

struct InTrack {
    kind: RtpCodecKind,
    /// Audio only: what arrived of what was sent since the last sweep.
    loss: LossMeter,
    /// The video codec of the last payload type seen, and that payload type.
    codec: Option<(u8, Option<VideoCodec>)>,
    /// Audio only: the last payload type seen, and whether it is RED.
    red_in: Option<(u8, bool)>,
    /// Audio only: the sequence number, timestamp and Opus payload of the newest packet
    /// forwarded (what a receiver's redundant block carries with the next one).
    last_audio: Option<(u16, u32, Bytes)>,
    /// Negotiated extension id → index into `codec::FORWARDED_EXTENSIONS` on this leg.
    ext_in: Vec<(u8, usize)>,
    receiver_id: RTCRtpReceiverId,
    ssrc: u32,
    last_keyframe_request: Option<Instant>,
    /// Video: a receiver's request held back by the throttle goes out at this time (it is
    /// deferred, not dropped: the receiver may not ask again).
    keyframe_deferred: Option<Instant>,
}

impl InTrack {
    /// Sends the publisher a PLI for this track now; true when it was queued.
    fn send_pli(&mut self, pc: &mut RTCPeerConnection, now: Instant) -> bool {
        self.last_keyframe_request = Some(now);
        self.keyframe_deferred = None;
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: self.ssrc,
        };
        pc.rtp_receiver(self.receiver_id)
            .is_some_and(|mut r| r.write_rtcp(now, vec![Box::new(pli)]).is_ok())
    }
}

/// A local track on a receiving leg that carries one publisher's audio or video.
struct Slot {
    source: Publisher,
    kind: RtpCodecKind,
    sender_id: RTCRtpSenderId,
    track_id: String,
    ssrc: u32,
    /// The payload type negotiated on this leg for the codec being forwarded (for video,
    /// with that codec; `None` inside when this leg did not negotiate it), resolved at the
    /// first packet and again when the codec changes.
    pt: Option<(Option<VideoCodec>, Option<u8>)>,
    /// `FORWARDED_EXTENSIONS` index → id on this leg (0: not negotiated).
    ext_out: Vec<u8>,
    /// Video only: nothing has been forwarded to this slot yet, and nothing will be until
    /// a keyframe begins. A receiver's first video packet must start a keyframe: Chromium
    /// never assembles a frame on a stream it joined in the middle of a delta frame.
    awaiting_keyframe: bool,
    /// Sequence numbers on this leg continue from the last packet sent on it, whatever the
    /// publisher sent meanwhile (held for a keyframe, switched off): added to the
    /// publisher's numbers, and re-based at the first packet after a pause.
    seq: rewrite::SeqMap,
    /// Timestamps, re-based when the publisher's connection is replaced.
    ts: rewrite::TsMap,
    /// The leg's last negotiation lets the server send on this track (a browser in
    /// audio-only mode makes its video inactive).
    sending: bool,
    /// Video only: whether this leg's downlink carries this publisher's video.
    gate: VideoGate,
    /// Video only: when the last wait for a keyframe ended (the picture began).
    picture_from: Option<Instant>,
    /// Audio only: RED's payload type on this leg, if it negotiated RED over Opus.
    red_pt: Option<u8>,
    /// Audio only: whether this leg's downlink loses enough audio for redundancy.
    redundancy: AudioRedundancy,
}

/// Upstream audio loss above which a receiver's downlink is not judged this second.
const UPSTREAM_TOO_LOSSY: f64 = 0.04;

/// A jump in an inbound audio stream's sequence numbers beyond this (2 s of 20 ms frames)
/// is not counted as loss.
const MAX_GAP: i16 = 100;

/// Counts an inbound stream's packets against its sequence numbers, between samples.
#[derive(Default)]
struct LossMeter {
    /// The highest sequence number seen (extended), and where the current sample began.
    highest: Option<u64>,
    base: u64,
    received: u64,
}

impl LossMeter {
    fn packet(&mut self, seq: u16) {
        match self.highest {
            None => {
                self.highest = Some(u64::from(seq));
                self.base = u64::from(seq).saturating_sub(1);
            }
            Some(h) => {
                let ahead = seq.wrapping_sub(h as u16) as i16;
                if ahead > MAX_GAP {
                    // Seconds of audio missing at once is an outage (told as a stall) or a
                    // new stream, not a weak link: start counting again.
                    self.highest = Some(h + ahead as u64);
                    self.base = h + ahead as u64 - 1;
                    self.received = 0;
                } else if ahead > 0 {
                    self.highest = Some(h + ahead as u64);
                }
            }
        }
        self.received += 1;
    }

    /// The fraction lost since the last sample (`None` when nothing was expected).
    fn sample(&mut self) -> Option<f64> {
        let h = self.highest?;
        let expected = h.saturating_sub(self.base);
        let received = std::mem::take(&mut self.received);
        self.base = h;
        (expected > 0).then(|| 1.0 - (received.min(expected) as f64 / expected as f64))
    }
}

struct Peer {
    call: Uuid,
    leg: Leg,
    pc: RTCPeerConnection,
    /// The browser's SDP session id: a new one means a new browser peer connection.
    session: String,
    /// The video codecs this leg's first offer listed that the server forwards (empty:
    /// its video was refused and the call is audio only for it).
    video_codecs: Vec<VideoCodec>,
    /// The codec this leg's last answer put first (what it sends).
    steered: Option<VideoCodec>,
    /// Where this leg's page hears about the call's media.
    events: Option<LegEvents>,
    /// When anything last arrived from this leg.
    last_heard: Instant,
    /// A publisher whose media stopped arriving mid-call (the others were told).
    stalled: bool,
    /// When this leg was last asked to renegotiate for a codec.
    last_steer: Option<Instant>,
    /// What the path from the server to this leg's browser carries (send-side estimate
    /// from the browser's transport-wide feedback, audio loss from its reports).
    estimate: codec::Estimate,
    /// A publisher: whether its uplink carries its video.
    uplink: VideoGate,
    /// After a (re)connection or a stall, what its links lost meanwhile is not weakness:
    /// its video gates take no samples before this.
    judge_links_after: Instant,
    ufrag: String,
    addrs: Vec<SocketAddr>,
    connected: bool,
    ever_connected: bool,
    created: Instant,
    inbound: HashMap<String, InTrack>,
    slots: Vec<Slot>,
    next_timeout: Option<Instant>,
    /// rtc 0.21.1 queues the first DTLS flight when ICE connects but sends it only at the
    /// next `handle_timeout`; one is due on the next loop iteration.
    kick: bool,
    /// Set when the first packet was forwarded to this leg after the call was linked.
    first_forwarded: bool,
    /// The earliest deferred keyframe request of its tracks (`InTrack::keyframe_deferred`).
    keyframe_due: Option<Instant>,
    /// The leg's page is to be told again, at the next sweep, which video of its call is
    /// paused (its signaling connection was replaced: what was sent to the old one is lost).
    retell_video: bool,
}

#[derive(Default)]
struct Call {
    members: Vec<usize>,
    linked_at: Option<Instant>,
    /// Publishers the other legs were told are reconnecting (citizen, officer), so that
    /// they are told again when that side's media is back, and only then.
    reconnecting: [bool; 2],
}

fn side_index(p: Publisher) -> usize {
    match p {
        Publisher::Citizen => 0,
        Publisher::Officer => 1,
    }
}

pub struct Forwarder {
    /// What the host candidate announces: the configured public address, or the bound one.
    candidate_addr: SocketAddr,
    allowed: Arc<Vec<Cidr>>,
    peers: Vec<Option<Peer>>,
    free: Vec<usize>,
    by_ufrag: HashMap<String, usize>,
    by_addr: HashMap<SocketAddr, usize>,
    /// Sources of Binding requests not yet answered with a success: learned only once the
    /// crate has checked the request's MESSAGE-INTEGRITY (the ufrag is public, the password
    /// is not).
    pending: HashMap<SocketAddr, usize>,
    calls: HashMap<Uuid, Call>,
    /// Peers and sources whose refusal (outside `allowed_networks`) was logged already.
    refusals_logged: HashSet<Refusal>,
    touched: HashSet<usize>,
    inputs: HashSet<usize>,
    dead: Vec<usize>,
    out: VecDeque<TaggedBytesMut>,
    stats: WorkerStats,
    next_sweep: Instant,
    /// Whether video pauses on a weak link (`[media] pause_video_on_weak_links`).
    pause_video: bool,
    /// Whether audio to a lossy downlink carries redundancy (`[media] audio_redundancy`).
    audio_redundancy: bool,
}

impl Forwarder {
    pub fn new(candidate_addr: SocketAddr, allowed: Arc<Vec<Cidr>>, now: Instant) -> Self {
        Forwarder {
            candidate_addr,
            allowed,
            peers: Vec::new(),
            free: Vec::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            pending: HashMap::new(),
            calls: HashMap::new(),
            refusals_logged: HashSet::new(),
            touched: HashSet::new(),
            inputs: HashSet::new(),
            dead: Vec::new(),
            out: VecDeque::new(),
            stats: WorkerStats::default(),
            next_sweep: now + SWEEP_EVERY,
            pause_video: true,
            audio_redundancy: true,
        }
    }

    /// Whether video pauses on links too weak for it (on by default).
    pub fn pause_video_on_weak_links(&mut self, on: bool) {
        self.pause_video = on;
    }

    /// Whether audio sent over a lossy downlink carries RED (on by default; only to legs
    /// that negotiated it).
    pub fn audio_redundancy(&mut self, on: bool) {
        self.audio_redundancy = on;
    }

    /// Runs every timer due at `now` and the sweep, then drains what the inputs since the
    /// last call queued: call it after each batch of datagrams or commands and at the
    /// deadline [`Forwarder::poll_timeout`] names.
    pub fn process(&mut self, now: Instant) {
        self.handle_timers(now);
        self.drain_inputs(now);
    }

    /// The next datagram to send, with its destination.
    pub fn poll_transmit(&mut self) -> Option<TaggedBytesMut> {
        self.out.pop_front()
    }

    /// When [`Forwarder::process`] must run next if nothing arrives (never earlier than
    /// `now`).
    pub fn poll_timeout(&self, now: Instant) -> Instant {
        self.peers
            .iter()
            .flatten()
            .flat_map(|p| {
                let timer = if p.kick { Some(now) } else { p.next_timeout };
                timer.into_iter().chain(p.keyframe_due)
            })
            .chain(std::iter::once(self.next_sweep))
            .min()
            .unwrap_or(self.next_sweep)
            .max(now)
    }

    /// The counters so far, with the current numbers of peers and calls.
    pub fn stats(&self) -> WorkerStats {
        let mut s = self.stats.clone();
        s.peers = self.peers.iter().flatten().count() as u64;
        s.calls = self.calls.len() as u64;
        s
    }

    /// RTP packets forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.stats.rtp_out
    }

    /// For the socket loop's own counters (datagrams written, dropped, their latency).
    pub fn stats_mut(&mut self) -> &mut WorkerStats {
        &mut self.stats
    }

    /// Closes one leg (the page left, or replaced it).
    pub fn close_leg(&mut self, call: Uuid, leg: Leg) {
        if let Some(idx) = self.find(call, leg) {
            self.remove_peer(idx);
        }
    }

    /// Closes every leg of a call (it ended).
    pub fn close_call(&mut self, call: Uuid) {
        if let Some(c) = self.calls.remove(&call) {
            for idx in c.members {
                self.remove_peer(idx);
            }
        }
    }

    /// Closes everything (the server is stopping); what closing sends is queued.
    pub fn close_all(&mut self) {
        for idx in 0..self.peers.len() {
            self.remove_peer(idx);
        }
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        self.allowed.iter().any(|c| c.contains(ip))
    }

    fn find(&self, call: Uuid, leg: Leg) -> Option<usize> {
        self.calls.get(&call)?.members.iter().copied().find(|&i| {
            self.peers[i]
                .as_ref()
                .is_some_and(|p| p.leg == leg && p.call == call)
        })
    }

    // ---------------------------------------------------------------------------------
    // Signaling: an offer in, an answer out.
    // ---------------------------------------------------------------------------------

    /// A leg's offer (its first, a renegotiation, or a reload's new peer connection):
    /// returns the answer.
    pub fn offer(
        &mut self,
        call: Uuid,
        leg: Leg,
        sdp: &str,
        events: Option<LegEvents>,
        now: Instant,
    ) -> Result<String, MediaError> {
        let (sdp, removed) = wire::filter_candidates(sdp, |ip| self.allowed(ip));
        if removed > 0 {
            self.stats.candidates_refused += removed as u64;
        }
        let session = wire::sdp_session_id(&sdp)
            .ok_or_else(|| MediaError::BadSdp("the offer has no o= line".into()))?
            .to_owned();
        if let Some(idx) = self.find(call, leg) {
            let same = self.peers[idx]
                .as_ref()
                .is_some_and(|p| p.session == session);
            if same {
                if let (Some(p), Some(ev)) = (self.peers[idx].as_mut(), events) {
                    // A page whose signaling connection was replaced renegotiates so that
                    // the news reaches the new one; what went to the old one is repeated
                    // once the answer is in (the next sweep).
                    p.events = Some(ev);
                    p.retell_video = true;
                }
                return self.renegotiate(idx, sdp, now);
            }
            // A new browser peer connection (a reload): it replaces the old leg.
            self.remove_peer(idx);
        }
        self.new_peer(call, leg, session, sdp, events, now)
    }

    /// The video codec `call`'s citizen and officer should send, counting a publisher
    /// about to join that offered `joining` (see [`codec::choose`]). A supervisor's monitor
    /// does not count: listening in never changes what the two sides send.
    fn call_codec(&self, call: Uuid, joining: Option<&[VideoCodec]>) -> Option<VideoCodec> {
        let members = self
            .calls
            .get(&call)
            .map(|c| c.members.as_slice())
            .unwrap_or(&[]);
        let legs = members
            .iter()
            .filter_map(|&i| self.peers[i].as_ref())
            .filter(|p| p.leg.publisher().is_some())
            .map(|p| p.video_codecs.as_slice())
            .chain(joining);
        codec::choose(legs.collect::<Vec<_>>())
    }

    /// Asks every publisher of `call` that sends another codec than the call's (and can
    /// send the call's) to renegotiate; its next answer puts the call's codec first.
    fn steer_publishers(&mut self, call: Uuid) {
        let Some(want) = self.call_codec(call, None) else {
            return;
        };
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        for &idx in &c.members {
            let Some(p) = self.peers[idx].as_ref() else {
                continue;
            };
            if p.leg.publisher().is_none()
                || p.steered == Some(want)
                || !p.video_codecs.contains(&want)
            {
                continue;
            }
            if let Some(ev) = &p.events {
                ev(LegEvent::Renegotiate);
                self.stats.codec_renegotiations += 1;
            }
        }
    }

    /// `source`'s media stopped arriving in a live call: the others are told, once.
    fn side_lost(&mut self, call: Uuid, from: usize, source: Publisher) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.linked_at.is_none() || c.reconnecting[side_index(source)] {
            return;
        }
        c.reconnecting[side_index(source)] = true;
        self.stats.legs_stalled += 1;
        tracing::info!(%call, side = source.name(), "media: a side's media stopped arriving");
        self.tell_others(call, from, LegEvent::PeerReconnecting(source));
    }

    /// `source`'s media arrives again: the others are told if they were told it had gone.
    fn side_back(&mut self, call: Uuid, from: usize, source: Publisher, now: Instant) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if !std::mem::take(&mut c.reconnecting[side_index(source)]) {
            return;
        }
        // What every leg reports for the next seconds counts the gap.
        for &idx in &c.members {
            if let Some(p) = self.peers[idx].as_mut() {
                p.judge_links_after = now + LINKS_SETTLE;
            }
        }
        tracing::info!(%call, side = source.name(), "media: a side's media is back");
        self.tell_others(call, from, LegEvent::PeerConnected(source));
    }

    /// Tells the pages of `call`'s legs other than `from`'s about `from`'s media.
    fn tell_others(&self, call: Uuid, from: usize, event: LegEvent) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        for &idx in &c.members {
            if idx == from {
                continue;
            }
            if let Some(ev) = self.peers[idx].as_ref().and_then(|p| p.events.as_ref()) {
                ev(event);
            }
        }
    }

    fn new_peer(
        &mut self,
        call: Uuid,
        leg: Leg,
        session: String,
        sdp: String,
        events: Option<LegEvents>,
        now: Instant,
    ) -> Result<String, MediaError> {
        let (mut pc, estimate) = build_pc(now)?;
        let offer = RTCSessionDescription::offer(sdp.clone()).map_err(bad_sdp)?;
        pc.set_remote_description(now, offer).map_err(bad_sdp)?;
        let offered = wire::offered_video_codecs(&sdp);
        let video_codecs: Vec<VideoCodec> = offered.iter().map(|(c, _)| *c).collect();
        if video_codecs.is_empty() && !wire::offers_opus(&sdp) {
            return Err(MediaError::BadSdp(
                "the offer has no codec the server forwards (Opus audio, VP8 or H.264 video)"
                    .into(),
            ));
        }
        let joining = leg.publisher().is_some().then_some(video_codecs.as_slice());
        let steered = self.call_codec(call, joining);
        let first = codec::answer_order(&video_codecs, steered).first().copied();
        let mut slots = Vec::new();
        for source in leg.receives() {
            for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
                // An offer with no video codec the server forwards keeps its audio: its
                // video section gets no track and is rejected in the answer (port 0).
                let codec = match (kind, first) {
                    (RtpCodecKind::Audio, _) => codec::opus(),
                    (_, Some(video)) => video.codec(),
                    (_, None) => continue,
                };
                slots.push(add_slot(&mut pc, call, *source, kind, codec)?);
            }
        }
        let steered = prefer_codec(&mut pc, &offered, steered);
        prefer_audio(&mut pc, wire::offered_audio(&sdp));
        match_offer_directions(&mut pc, &sdp, leg);
        pc.add_local_candidate(host_candidate(self.candidate_addr)?)
            .map_err(internal)?;
        // End of our candidates: there is only the one.
        pc.add_local_candidate(RTCIceCandidateInit::default())
            .map_err(internal)?;
        let answer = pc.create_answer(None).map_err(bad_sdp)?;
        pc.set_local_description(now, answer).map_err(bad_sdp)?;
        refresh_sending(&mut pc, &mut slots);
        let answer = pc
            .local_description()
            .ok_or_else(|| MediaError::Internal("no local description".into()))?;
        let ufrag = wire::sdp_ufrag(&answer.sdp)
            .ok_or_else(|| MediaError::Internal("answer without ice-ufrag".into()))?
            .to_owned();
        if self.by_ufrag.contains_key(&ufrag) {
            return Err(MediaError::Internal("ICE ufrag collision".into()));
        }
        let next_timeout = pc.poll_timeout();
        let peer = Peer {
            call,
            leg,
            pc,
            session,
            video_codecs,
            steered,
            events,
            last_heard: now,
            stalled: false,
            last_steer: None,
            estimate,
            uplink: VideoGate::default(),
            judge_links_after: now,
            ufrag: ufrag.clone(),
            addrs: Vec::new(),
            connected: false,
            ever_connected: false,
            created: now,
            inbound: HashMap::new(),
            slots,
            next_timeout,
            kick: false,
            first_forwarded: false,
            keyframe_due: None,
            retell_video: false,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.peers[i] = Some(peer);
                i
            }
            None => {
                self.peers.push(Some(peer));
                self.peers.len() - 1
            }
        };
        self.by_ufrag.insert(ufrag, idx);
        self.calls.entry(call).or_default().members.push(idx);
        self.stats.peers_created += 1;
        self.touched.insert(idx);
        self.inputs.insert(idx);
        // The one who was there first may be sending a codec the newcomer cannot decode.
        self.steer_publishers(call);
        Ok(answer.sdp)
    }

    /// A new offer on the same browser peer connection: a track added or removed, a
    /// direction changed, or an ICE restart (new credentials, so the demux is re-keyed).
    fn renegotiate(&mut self, idx: usize, sdp: String, now: Instant) -> Result<String, MediaError> {
        let Some(p) = self.peers[idx].as_mut() else {
            return Err(MediaError::Internal("peer vanished".into()));
        };
        let directions = sdp.clone();
        let offer = RTCSessionDescription::offer(sdp).map_err(bad_sdp)?;
        p.pc.set_remote_description(now, offer).map_err(bad_sdp)?;
        let call = p.call;
        let want = self.call_codec(call, None);
        let Some(p) = self.peers[idx].as_mut() else {
            return Err(MediaError::Internal("peer vanished".into()));
        };
        // What the first offer listed (the crate keeps that negotiation), with the payload
        // types of this one.
        let offered: Vec<(VideoCodec, u8)> = wire::offered_video_codecs(&directions)
            .into_iter()
            .filter(|(c, _)| p.video_codecs.contains(c))
            .collect();
        p.steered = prefer_codec(&mut p.pc, &offered, want);
        match_offer_directions(&mut p.pc, &directions, p.leg);
        let answer = p.pc.create_answer(None).map_err(bad_sdp)?;
        p.pc.set_local_description(now, answer).map_err(bad_sdp)?;
        let resumed = refresh_sending(&mut p.pc, &mut p.slots);
        let (call, publisher) = (p.call, p.leg.publisher());
        let answer =
            p.pc.local_description()
                .ok_or_else(|| MediaError::Internal("no local description".into()))?;
        if let Some(u) = wire::sdp_ufrag(&answer.sdp) {
            if u != p.ufrag {
                let u = u.to_owned();
                self.by_ufrag.remove(&p.ufrag);
                self.pending.retain(|_, v| *v != idx);
                self.by_ufrag.insert(u.clone(), idx);
                p.ufrag = u;
                self.stats.ice_restarts += 1;
            }
        }
        // Payload types and extension ids may have changed: resolve them again.
        for s in &mut p.slots {
            s.pt = None;
        }
        self.stats.renegotiations += 1;
        self.touched.insert(idx);
        self.inputs.insert(idx);
        // Video that starts again (on this leg, or from it) starts with a keyframe.
        for source in resumed.into_iter().chain(publisher) {
            self.request_keyframe(call, source, now, Keyframe::Now);
        }
        Ok(answer.sdp)
    }

    /// A trickled candidate of a leg.
    pub fn remote_candidate(&mut self, call: Uuid, leg: Leg, candidate: String) {
        let ok = wire::candidate_ip(&candidate)
            .and_then(|ip| ip.parse().ok())
            .is_some_and(|ip| self.allowed(ip));
        if !ok {
            self.stats.candidates_refused += 1;
            return;
        }
        let Some(idx) = self.find(call, leg) else {
            return;
        };
        if let Some(p) = self.peers[idx].as_mut() {
            let init = RTCIceCandidateInit {
                candidate,
                ..Default::default()
            };
            // The server is ICE-lite and never dials candidates; a malformed one is harmless.
            let _ = p.pc.add_remote_candidate(init);
            self.touched.insert(idx);
        }
    }

    /// The desk started the call: forwarding between its legs begins, and each publisher
    /// is asked for a keyframe so that the other side shows video at once.
    pub fn link(&mut self, call: Uuid, now: Instant) {
        let c = self.calls.entry(call).or_default();
        if c.linked_at.is_none() {
            c.linked_at = Some(now);
        }
        for source in [Publisher::Citizen, Publisher::Officer] {
            self.request_keyframe(call, source, now, Keyframe::Now);
        }
        // Before the first feedback there is no estimate: both sides start modestly.
        self.send_receiver_estimates(now);
    }

    // ---------------------------------------------------------------------------------
    // Ingress.
    // ---------------------------------------------------------------------------------

    /// A datagram from `src`, received at `now`.
    pub fn handle_datagram(&mut self, data: &[u8], src: SocketAddr, now: Instant) {
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += data.len() as u64;
        let request_ufrag = wire::binding_request_ufrag(data);
        if !self.allowed(src.ip()) {
            self.stats.sources_refused += 1;
            self.log_refused(src, request_ufrag);
            return;
        }
        let idx = match request_ufrag {
            Some(ufrag) => {
                let idx = self.by_ufrag.get(ufrag).copied();
                if let Some(idx) = idx {
                    if self.by_addr.get(&src) != Some(&idx) {
                        self.pending.insert(src, idx);
                    }
                }
                idx
            }
            None => match self.by_addr.get(&src) {
                Some(&idx) => Some(idx),
                // The answer to a check the crate sent itself: rtc-ice 0.21.1 does not
                // answer a request that nominates a pair that has not succeeded yet (what
                // Firefox sends, nominating aggressively) but checks the pair first, and
                // only after that check succeeds does it answer the next request. So the
                // reply comes from an address that has not been answered yet: route it to
                // the peer whose ufrag that address named. The crate still checks the
                // transaction id and MESSAGE-INTEGRITY.
                None if wire::is_binding_success(data) => {
                    let idx = self.pending.get(&src).copied();
                    if idx.is_some() {
                        self.stats.check_replies_routed += 1;
                    }
                    idx
                }
                None => None,
            },
        };
        let Some(idx) = idx else {
            if request_ufrag.is_some() {
                self.stats.unknown_ufrag += 1;
            } else {
                self.stats.unknown_source += 1;
            }
            return;
        };
        let Some(p) = self.peers[idx].as_mut() else {
            return;
        };
        p.last_heard = now;
        if p.stalled && p.connected {
            p.stalled = false;
            p.judge_links_after = now + LINKS_SETTLE;
            if let Some(source) = p.leg.publisher() {
                let call = p.call;
                self.side_back(call, idx, source, now);
            }
        }
        let Some(p) = self.peers[idx].as_mut() else {
            return;
        };
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.candidate_addr,
                peer_addr: src,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(data),
        };
        if let Err(e) = p.pc.handle_read(msg) {
            tracing::trace!(error = %e, "media: datagram refused by the peer connection");
        }
        self.inputs.insert(idx);
        self.touched.insert(idx);
    }

    /// Says once per peer (or once per source, when the datagram names no peer of this
    /// worker) why media from `src` was refused: an operator who narrowed
    /// `allowed_networks` sees which caller it kept out.
    fn log_refused(&mut self, src: SocketAddr, ufrag: Option<&str>) {
        let peer = ufrag.and_then(|u| self.by_ufrag.get(u).copied());
        let key = match peer {
            Some(idx) => Refusal::Peer(idx),
            None => Refusal::Source(src.ip()),
        };
        if self.refusals_logged.len() >= MAX_REFUSALS_LOGGED {
            return;
        }
        if !self.refusals_logged.insert(key) {
            return;
        }
        match peer.and_then(|i| self.peers[i].as_ref()) {
            Some(p) => tracing::warn!(
                source = %src, call = %p.call, leg = p.leg.kind_name(),
                "media: refused a caller's connectivity check: the source is outside [media] allowed_networks"
            ),
            None => tracing::warn!(
                source = %src,
                "media: refused datagrams from a source outside [media] allowed_networks"
            ),
        }
    }

    fn handle_timers(&mut self, now: Instant) {
        for (idx, slot) in self.peers.iter_mut().enumerate() {
            let Some(p) = slot else { continue };
            if p.keyframe_due.is_some_and(|t| t <= now) {
                p.keyframe_due = None;
                for t in p.inbound.values_mut() {
                    match t.keyframe_deferred {
                        Some(at) if at <= now => {
                            if t.send_pli(&mut p.pc, now) {
                                self.stats.keyframe_requests_out += 1;
                            }
                        }
                        Some(at) => p.keyframe_due = Some(p.keyframe_due.map_or(at, |d| d.min(at))),
                        None => {}
                    }
                }
                self.touched.insert(idx);
            }
            let due = p.kick || p.next_timeout.is_some_and(|t| t <= now);
            if due {
                p.kick = false;
                if let Err(e) = p.pc.handle_timeout(now) {
                    tracing::trace!(error = %e, "media: timer");
                }
                self.inputs.insert(idx);
                self.touched.insert(idx);
            }
        }
        if now >= self.next_sweep {
            self.next_sweep = now + SWEEP_EVERY;
            let mut stalled = Vec::new();
            for (idx, slot) in self.peers.iter_mut().enumerate() {
                if let Some(p) = slot {
                    if !p.ever_connected && now.duration_since(p.created) > SETUP_TIMEOUT {
                        self.stats.setup_timeouts += 1;
                        self.dead.push(idx);
                    }
                    if let Some(source) = p.leg.publisher() {
                        if p.ever_connected
                            && !p.stalled
                            && now.duration_since(p.last_heard) > STALLED_AFTER
                        {
                            p.stalled = true;
                            stalled.push((p.call, idx, source));
                        }
                    }
                }
            }
            for (call, idx, source) in stalled {
                self.side_lost(call, idx, source);
            }
            self.adapt_to_links(now);
            self.retell_video();
            self.send_receiver_estimates(now);
        }
    }

    /// Drains the peers that had input (events and reads, forwarding as it goes), then
    /// collects every touched peer's output. Events can queue writes and reads can raise
    /// events, so both are drained until empty before anything is written.
    fn drain_inputs(&mut self, now: Instant) {
        while !self.inputs.is_empty() {
            let inputs: Vec<usize> = self.inputs.drain().collect();
            for idx in inputs {
                loop {
                    let events = self.drain_events(idx, now);
                    let reads = self.drain_reads(idx, now);
                    if events + reads == 0 {
                        break;
                    }
                }
            }
        }
        let touched: Vec<usize> = self.touched.drain().collect();
        // Addresses that now belong to another peer (a client re-used a port).
        let mut moved = Vec::new();
        for idx in touched {
            let Some(p) = self.peers[idx].as_mut() else {
                continue;
            };
            while let Some(m) = p.pc.poll_write() {
                if !self.pending.is_empty()
                    && wire::is_binding_success(&m.message)
                    && self.pending.get(&m.transport.peer_addr) == Some(&idx)
                {
                    let addr = m.transport.peer_addr;
                    self.pending.remove(&addr);
                    if let Some(old) = self.by_addr.insert(addr, idx) {
                        if old != idx {
                            moved.push((old, addr));
                        }
                    }
                    p.addrs.push(addr);
                }
                self.out.push_back(m);
            }
            p.next_timeout = p.pc.poll_timeout();
        }
        for (old, addr) in moved {
            if let Some(o) = self.peers[old].as_mut() {
                o.addrs.retain(|a| *a != addr);
            }
        }
        for idx in std::mem::take(&mut self.dead) {
            self.remove_peer(idx);
        }
    }

    fn drain_events(&mut self, idx: usize, now: Instant) -> usize {
        let mut n = 0;
        let mut wants_keyframes = None;
        let mut announce = None;
        let Some(p) = self.peers[idx].as_mut() else {
            return 0;
        };
        while let Some(ev) = p.pc.poll_event() {
            n += 1;
            match ev {
                RTCPeerConnectionEvent::OnIceConnectionStateChangeEvent(
                    RTCIceConnectionState::Connected,
                ) => p.kick = true,
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => match s {
                    RTCPeerConnectionState::Connected => {
                        if p.ever_connected {
                            // Back after a gap: what it missed is gone, so its video
                            // starts again at a keyframe, numbered on from before.
                            for slot in &mut p.slots {
                                slot.seq.pause();
                                if slot.kind == RtpCodecKind::Video {
                                    slot.awaiting_keyframe = true;
                                }
                            }
                        }
                        p.connected = true;
                        p.ever_connected = true;
                        p.stalled = false;
                        p.judge_links_after = now + LINKS_SETTLE;
                        // A receiver that just connected needs a keyframe to show video.
                        wants_keyframes = Some(p.call);
                        if let Some(source) = p.leg.publisher() {
                            announce = Some(source);
                        }
                    }
                    RTCPeerConnectionState::Disconnected => p.connected = false,
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        if s == RTCPeerConnectionState::Failed && p.ever_connected {
                            self.stats.legs_failed += 1;
                            tracing::info!(call = %p.call, leg = p.leg.kind_name(), "media: a leg's connection failed");
                        }
                        p.connected = false;
                        self.dead.push(idx);
                    }
                    _ => {}
                },
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    let (kind, ext_in) = match p.pc.rtp_receiver(init.receiver_id) {
                        Some(mut r) => {
                            let kind = r.track().kind();
                            let ext_in = r
                                .get_parameters()
                                .rtp_parameters
                                .header_extensions
                                .iter()
                                .filter_map(|e| {
                                    let i = codec::FORWARDED_EXTENSIONS
                                        .iter()
                                        .position(|u| *u == e.uri)?;
                                    Some((e.id as u8, i))
                                })
                                .collect();
                            (kind, ext_in)
                        }
                        None => (RtpCodecKind::Unspecified, Vec::new()),
                    };
                    p.inbound.insert(
                        init.track_id.clone(),
                        InTrack {
                            kind,
                            loss: LossMeter::default(),
                            codec: None,
                            red_in: None,
                            last_audio: None,
                            ext_in,
                            receiver_id: init.receiver_id,
                            ssrc: init.ssrc,
                            last_keyframe_request: None,
                            keyframe_deferred: None,
                        },
                    );
                }
                _ => {}
            }
        }
        if let Some(call) = wants_keyframes {
            self.tell_video_state(call, idx);
            if self.calls.get(&call).is_some_and(|c| c.linked_at.is_some()) {
                // Forced: the keyframe asked for when the call was linked may have gone by
                // before this leg connected (an officer who accepts at once), and it must
                // not wait out the throttle.
                for source in [Publisher::Citizen, Publisher::Officer] {
                    self.request_keyframe(call, source, now, Keyframe::Now);
                }
                if let Some(source) = announce {
                    self.side_back(call, idx, source, now);
                }
            }
        }
        n
    }

    /// Repeats the video state to the legs whose signaling connection was replaced.
    fn retell_video(&mut self) {
        let due: Vec<(Uuid, usize)> = self
            .peers
            .iter_mut()
            .enumerate()
            .filter_map(|(i, p)| {
                let p = p.as_mut()?;
                std::mem::take(&mut p.retell_video).then_some((p.call, i))
            })
            .collect();
        for (call, idx) in due {
            self.tell_video_state(call, idx);
        }
    }

    /// Tells leg `to` which video of its call is paused now: publishers' own weak uplinks
    /// (paused before this leg connected, such as a citizen whose phone could not carry
    /// video while waiting) and, when `to` publishes, the video paused for its own
    /// downlink and (a citizen's or officer's) the video it sends paused for the other
    /// side's downlink.
    fn tell_video_state(&self, call: Uuid, to: usize) {
        let (Some(c), Some(me)) = (self.calls.get(&call), self.peers[to].as_ref()) else {
            return;
        };
        let Some(ev) = me.events.as_ref() else {
            return;
        };
        let mine = me.leg.publisher();
        for &idx in &c.members {
            let Some(p) = self.peers[idx].as_ref() else {
                continue;
            };
            let Some(publisher) = p.leg.publisher() else {
                continue;
            };
            if p.uplink.paused() {
                ev(LegEvent::Video {
                    source: publisher,
                    paused: true,
                    link: publisher,
                });
            }
            // `publisher`'s downlink: the video it receives that is paused for it, told to
            // itself and to the sender of that video.
            for slot in &p.slots {
                let concerned = idx == to || mine == Some(slot.source);
                if slot.kind == RtpCodecKind::Video && slot.gate.paused() && concerned {
                    ev(LegEvent::Video {
                        source: slot.source,
                        paused: true,
                        link: publisher,
                    });
                }
            }
        }
    }

    fn drain_reads(&mut self, idx: usize, now: Instant) -> usize {
        let mut n = 0;
        loop {
            let Some(p) = self.peers[idx].as_mut() else {
                return n;
            };
            let Some(TaggedRTCMessage { message, .. }) = p.pc.poll_read() else {
                return n;
            };
            n += 1;
            match message {
                RTCMessage::RtpPacket(track_id, pkt) => {
                    self.stats.rtp_in += 1;
                    if !p.inbound.contains_key(&track_id) {
                        // The track's OnTrack was raised while its first packet was read.
                        self.drain_events(idx, now);
                    }
                    self.on_rtp(idx, &track_id, pkt, now);
                }
                RTCMessage::RtcpPacket(track_id, pkts) => {
                    self.stats.rtcp_in += 1;
                    if !pkts
                        .iter()
                        .any(|pk| codec::is_keyframe_request(pk.as_ref()))
                    {
                        continue;
                    }
                    // Keyframe requests about one of our senders carry its track id.
                    let Some(slot) = p.slots.iter().find(|s| s.track_id == track_id) else {
                        continue;
                    };
                    if slot.kind != RtpCodecKind::Video {
                        continue;
                    }
                    self.stats.keyframe_requests_in += 1;
                    let (call, source) = (p.call, slot.source);
                    // A receiver whose picture has only just begun (its first keyframe may
                    // not have decoded) is still waiting for its first picture.
                    let starting = slot.awaiting_keyframe
                        || slot
                            .picture_from
                            .is_none_or(|t| now.duration_since(t) < FIRST_PICTURE_GRACE);
                    let why = if starting {
                        Keyframe::FirstPicture
                    } else {
                        Keyframe::Repair
                    };
                    self.request_keyframe(call, source, now, why);
                }
                _ => {}
            }
        }
    }

    fn on_rtp(&mut self, from: usize, track_id: &str, mut pkt: rtp::Packet, now: Instant) {
        let Some(p) = self.peers[from].as_mut() else {
            return;
        };
        let Some(source) = p.leg.publisher() else {
            return; // monitors never publish
        };
        let Some(t) = p.inbound.get_mut(track_id) else {
            self.stats.rtp_unknown_track += 1;
            return;
        };
        if t.kind == RtpCodecKind::Audio {
            t.loss.packet(pkt.header.sequence_number);
        }
        let uplink_paused = p.uplink.paused();
        let call = p.call;
        if self.calls.get(&call).is_none_or(|c| c.linked_at.is_none()) {
            // Instant connect: connected before the call, nothing to forward to yet.
            self.stats.rtp_before_call += 1;
            return;
        }
        let kind = t.kind;
        // The video codec this packet carries, from its payload type on the publisher's leg
        // (looked up again only when the payload type changes).
        let pt_in = pkt.header.payload_type;
        let video_codec = match t.codec {
            Some((pt, c)) if pt == pt_in => c,
            _ => {
                let c = if kind == RtpCodecKind::Video {
                    p.pc.rtp_receiver(t.receiver_id).and_then(|mut r| {
                        r.get_parameters()
                            .rtp_parameters
                            .codecs
                            .iter()
                            .find(|c| c.payload_type == pt_in)
                            .and_then(|c| VideoCodec::from_mime(&c.rtp_codec.mime_type))
                    })
                } else {
                    None
                };
                t.codec = Some((pt_in, c));
                c
            }
        };
        if kind == RtpCodecKind::Video && video_codec.is_none() {
            // Retransmissions (RTX) and anything else end at this hop.
            return;
        }
        if kind == RtpCodecKind::Video && uplink_paused {
            // The publisher's own link is too weak for video (its page stops encoding).
            self.stats.video_paused_dropped += 1;
            return;
        }
        // Audio: RED is cut to its primary block (the receivers get redundancy, if they
        // need it, from the server); the newest Opus payload is kept for the next packet's
        // redundant block. Only the packet right before this one is worth carrying.
        let mut previous_audio = None;
        if kind == RtpCodecKind::Audio {
            let is_red = match t.red_in {
                Some((pt, red)) if pt == pt_in => red,
                _ => {
                    let red = p.pc.rtp_receiver(t.receiver_id).is_some_and(|mut r| {
                        r.get_parameters().rtp_parameters.codecs.iter().any(|c| {
                            c.payload_type == pt_in
                                && c.rtp_codec
                                    .mime_type
                                    .eq_ignore_ascii_case(codec::MIME_TYPE_RED)
                        })
                    });
                    t.red_in = Some((pt_in, red));
                    red
                }
            };
            if is_red {
                let Some((_, primary)) = red::primary(&pkt.payload) else {
                    self.stats.audio_red_malformed += 1;
                    return;
                };
                pkt.payload = primary;
            }
            let (seq, ts) = (pkt.header.sequence_number, pkt.header.timestamp);
            let newest = t
                .last_audio
                .as_ref()
                .is_none_or(|(last, _, _)| seq.wrapping_sub(*last) as i16 > 0);
            if newest {
                previous_audio = t
                    .last_audio
                    .replace((seq, ts, pkt.payload.clone()))
                    .filter(|(last, _, _)| seq.wrapping_sub(*last) == 1);
            }
        }
        // A RED payload built for one Opus payload type serves every leg that uses it.
        let mut red_built: Option<(u8, Option<Bytes>)> = None;
        // End-to-end extensions only, kept in a fixed array: no allocation per packet.
        let kept = rewrite::strip_extensions(&mut pkt, &t.ext_in);
        let keyframe_start = video_codec.is_some_and(|c| c.keyframe_start(&pkt.payload));
        let clock_rate = codec::clock_rate(kind);
        let mut unshared = false;
        let mut wants_keyframe = false;
        // Borrowed out of the call while forwarding (nothing below changes membership), so
        // the list is not copied for every packet.
        let (members, linked_at) = match self.calls.get_mut(&call) {
            Some(c) => (std::mem::take(&mut c.members), c.linked_at),
            None => return,
        };
        let last = members.iter().rposition(|&m| m != from);
        for (n, &sub) in members.iter().enumerate() {
            if sub == from {
                continue;
            }
            let Some(s) = self.peers[sub].as_mut() else {
                continue;
            };
            if !s.connected {
                continue;
            }
            let Some(slot) = s
                .slots
                .iter_mut()
                .find(|sl| sl.source == source && sl.kind == kind)
            else {
                continue;
            };
            if !slot.sending {
                continue;
            }
            if slot.gate.paused() {
                // This receiver's link is too weak for video.
                self.stats.video_paused_dropped += 1;
                continue;
            }
            let Some(mut sender) = s.pc.rtp_sender(slot.sender_id) else {
                continue;
            };
            let resolved = match slot.pt {
                Some((c, pt)) if c == video_codec => pt,
                previous => {
                    let params = sender.get_parameters();
                    let mime = match video_codec {
                        Some(c) => c.codec().mime_type,
                        None => codec::opus().mime_type,
                    };
                    let pt = params
                        .rtp_parameters
                        .codecs
                        .iter()
                        .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&mime))
                        .map(|c| c.payload_type);
                    let exts = &params.rtp_parameters.header_extensions;
                    slot.ext_out = codec::FORWARDED_EXTENSIONS
                        .iter()
                        .map(|u| exts.iter().find(|e| e.uri == *u).map_or(0, |e| e.id as u8))
                        .collect();
                    if kind == RtpCodecKind::Audio {
                        slot.red_pt = params
                            .rtp_parameters
                            .codecs
                            .iter()
                            .find(|c| {
                                c.rtp_codec
                                    .mime_type
                                    .eq_ignore_ascii_case(codec::MIME_TYPE_RED)
                            })
                            .map(|c| c.payload_type);
                    }
                    if previous.is_some() && kind == RtpCodecKind::Video {
                        // The publisher changed codec: the receiver's decoder starts again
                        // at a keyframe of the new one.
                        slot.awaiting_keyframe = true;
                    }
                    slot.pt = Some((video_codec, pt));
                    pt
                }
            };
            let Some(pt) = resolved else {
                // This leg did not negotiate the codec the publisher sends.
                self.stats.rtp_codec_unshared += 1;
                unshared = true;
                continue;
            };
            if slot.awaiting_keyframe {
                if !keyframe_start {
                    self.stats.rtp_held_for_keyframe += 1;
                    wants_keyframe = true;
                    continue;
                }
                slot.awaiting_keyframe = false;
                slot.picture_from = Some(now);
            }
            // Redundancy for a leg whose downlink loses audio: this packet carries the
            // previous one too.
            let mut out_pt = pt;
            let mut red_payload = None;
            if let (true, Some(red_pt), Some((_, prev_ts, prev))) = (
                self.audio_redundancy && slot.redundancy.on(),
                slot.red_pt,
                previous_audio.as_ref(),
            ) {
                let built = match &red_built {
                    Some((opus, built)) if *opus == pt => built.clone(),
                    _ => {
                        let offset = pkt.header.timestamp.wrapping_sub(*prev_ts);
                        let built = red::with_previous(pt, prev, offset, &pkt.payload);
                        red_built = Some((pt, built.clone()));
                        built
                    }
                };
                if let Some(built) = built {
                    red_payload = Some(built);
                    out_pt = red_pt;
                    self.stats.audio_redundant_out += 1;
                }
            }
            // The last receiver takes the packet itself; the others a copy (the payload is
            // shared, not copied).
            let this = if Some(n) == last {
                std::mem::take(&mut pkt)
            } else {
                pkt.clone()
            };
            let seq = slot.seq.map(this.header.sequence_number);
            let mut this = this;
            this.header.timestamp = slot.ts.map(this.header.timestamp, now, clock_rate);
            if let Some(payload) = red_payload {
                this.payload = payload;
            }
            let out = rewrite::for_leg(this, slot.ssrc, out_pt, seq, &kept, &slot.ext_out);
            let had_ext = out.header.extension;
            // A copy for the retry below only when there is something to retry without.
            let retry = had_ext.then(|| out.clone());
            let mut result = sender.write_rtp(now, out);
            if let (true, Some(out)) = (result.is_err(), retry) {
                // The crate refuses extension ids it did not negotiate for sending on this
                // leg: send the packet without them rather than lose it, and stop adding
                // them on this leg.
                self.stats.extensions_refused += 1;
                slot.ext_out.iter_mut().for_each(|id| *id = 0);
                result = sender.write_rtp(now, rewrite::without_extensions(out));
            }
            match result {
                Ok(()) => {
                    self.stats.rtp_out += 1;
                    if !s.first_forwarded {
                        s.first_forwarded = true;
                        if let Some(at) = linked_at {
                            let secs = now.saturating_duration_since(at).as_secs_f64();
                            metrics::histogram!(
                                "sunwai_media_first_packet_seconds",
                                "leg" => s.leg.kind_name()
                            )
                            .record(secs);
                        }
                    }
                }
                Err(_) => self.stats.rtp_write_errors += 1,
            }
            self.touched.insert(sub);
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.members = members;
        }
        if wants_keyframe {
            // Repeats a keyframe request that was lost, no more often than the throttle.
            self.request_keyframe(call, source, now, Keyframe::FirstPicture);
        }
        if unshared {
            // Normally settled when the second leg joined; a publisher that ignored the
            // request (or switched codec on its own) is asked again, at most once per
            // keyframe-request gap.
            self.steer_if_due(call, from, now);
        }
    }

    /// Asks a publisher that sends a codec some receiver lacks to renegotiate, at most
    /// once per `STEER_GAP`.
    fn steer_if_due(&mut self, call: Uuid, from: usize, now: Instant) {
        let Some(p) = self.peers[from].as_mut() else {
            return;
        };
        if p.last_steer
            .is_some_and(|t| now.duration_since(t) < STEER_GAP)
        {
            return;
        }
        p.last_steer = Some(now);
        // Forget what it was steered to, so that it is asked even if its answer was right.
        p.steered = None;
        self.steer_publishers(call);
    }

    /// Video gives way to speech on a weak link (see [`gate`]): once a second, each
    /// publisher's uplink is judged by the audio lost on its way here, and each receiver's
    /// downlink by its estimate and the audio loss it reports. A paused direction forwards
    /// no video; both pages are told (the publisher's stops encoding for nobody) and told
    /// again when it resumes, from a keyframe. A monitor's downlink pauses only its own
    /// video and tells nobody.
    /// Once a sweep: judges each direction's link from the audio it lost, pausing or
    /// resuming video (`gate`) and turning redundancy for a receiver's audio on or off.
    fn adapt_to_links(&mut self, now: Instant) {
        let (pause_video, redundancy) = (self.pause_video, self.audio_redundancy);
        if !pause_video && !redundancy {
            return;
        }
        let mut changes: Vec<(Uuid, Publisher, Change, Publisher, LinkSample)> = Vec::new();
        for c in self.calls.values() {
            // Uplinks first: what a receiver reports lost includes what never reached the
            // server, which is not its downlink's doing. A publisher's uplink is judged
            // from its connection on, also before the call is linked: a citizen who waits
            // with instant connect and whose phone cannot carry video beside speech starts
            // the call with video paused, instead of losing its first seconds of speech.
            let mut uplink_loss = [0.0f64; 2];
            for &idx in &c.members {
                let Some(p) = self.peers[idx].as_mut() else {
                    continue;
                };
                let Some(source) = p.leg.publisher() else {
                    continue;
                };
                let loss = p
                    .inbound
                    .values_mut()
                    .filter(|t| t.kind == RtpCodecKind::Audio)
                    .filter_map(|t| t.loss.sample())
                    .reduce(f64::max);
                uplink_loss[side_index(source)] = loss.unwrap_or(0.0);
                if !pause_video || !p.connected || now < p.judge_links_after {
                    continue;
                }
                let sample = LinkSample {
                    audio_loss: loss,
                    estimate: None,
                };
                if let Some(ch) = p.uplink.observe(now, sample) {
                    changes.push((p.call, source, ch, source, sample));
                }
            }
            if c.linked_at.is_none() {
                continue; // nothing is sent to anyone yet
            }
            for &idx in &c.members {
                let Some(p) = self.peers[idx].as_mut() else {
                    continue;
                };
                if !p.connected {
                    continue;
                }
                // The report is the worst of the audio streams this leg receives (a monitor
                // gets two): take away the worst loss they had before the server.
                let upstream = p
                    .slots
                    .iter()
                    .filter(|s| s.kind == RtpCodecKind::Audio)
                    .map(|s| uplink_loss[side_index(s.source)])
                    .fold(0.0, f64::max);
                if upstream > UPSTREAM_TOO_LOSSY {
                    // The report and the count here cover different seconds: with this much
                    // lost upstream their difference says nothing about the downlink (it
                    // paused the citizen's video for the officer's clean link).
                    continue;
                }
                let sample = LinkSample {
                    audio_loss: p.estimate.audio_loss().map(|l| (l - upstream).max(0.0)),
                    estimate: p.estimate.bits_per_second(),
                };
                if redundancy {
                    for slot in p.slots.iter_mut() {
                        if slot.kind != RtpCodecKind::Audio || slot.red_pt.is_none() {
                            continue;
                        }
                        let was = slot.redundancy.on();
                        if slot.redundancy.observe(now, sample.audio_loss) != was {
                            tracing::info!(
                                call = %p.call,
                                audio = slot.source.name(),
                                to = p.leg.kind_name(),
                                redundancy = !was,
                                audio_loss = ?sample.audio_loss,
                                "media: audio redundancy for a lossy downlink"
                            );
                        }
                    }
                }
                // Video: not in the first seconds after a (re)connection.
                if !pause_video || now < p.judge_links_after {
                    continue;
                }
                let receiver = p.leg.publisher();
                for slot in p.slots.iter_mut() {
                    if slot.kind != RtpCodecKind::Video || !slot.sending {
                        continue;
                    }
                    let Some(ch) = slot.gate.observe(now, sample) else {
                        continue;
                    };
                    if ch == Change::Resume {
                        slot.seq.pause();
                        slot.awaiting_keyframe = true;
                    }
                    if let Some(receiver) = receiver {
                        changes.push((p.call, slot.source, ch, receiver, sample));
                    }
                }
            }
        }
        for (call, source, change, link, sample) in changes {
            let paused = change == Change::Pause;
            if paused {
                self.stats.video_pauses += 1;
            } else {
                self.stats.video_resumes += 1;
                if link == source {
                    // The publisher's own link: every receiver starts again at a keyframe.
                    self.restart_video_of(call, source);
                }
                self.request_keyframe(call, source, now, Keyframe::Now);
            }
            tracing::info!(
                %call,
                video = source.name(),
                weak_link = link.name(),
                paused,
                audio_loss = ?sample.audio_loss,
                estimate = ?sample.estimate,
                "media: video gives way to speech"
            );
            let event = LegEvent::Video {
                source,
                paused,
                link,
            };
            let Some(c) = self.calls.get(&call) else {
                continue;
            };
            for &idx in &c.members {
                let Some(p) = self.peers[idx].as_ref() else {
                    continue;
                };
                // A publisher's own link: everyone in the call. A receiver's: that receiver
                // and the publisher.
                let concerned = link == source
                    || p.leg
                        .publisher()
                        .is_some_and(|me| me == source || me == link);
                if let (true, Some(ev)) = (concerned, p.events.as_ref()) {
                    ev(event);
                }
            }
        }
    }

    /// Every leg receiving `source`'s video starts it again at a keyframe.
    fn restart_video_of(&mut self, call: Uuid, source: Publisher) {
        self.for_slots_of(call, source, |slot| {
            if slot.kind == RtpCodecKind::Video {
                slot.seq.pause();
                slot.awaiting_keyframe = true;
            }
        });
    }

    /// Applies `f` to every slot, on every leg of `call`, that carries `source`'s media.
    fn for_slots_of(&mut self, call: Uuid, source: Publisher, mut f: impl FnMut(&mut Slot)) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        for &idx in &c.members {
            if let Some(p) = self.peers[idx].as_mut() {
                p.slots
                    .iter_mut()
                    .filter(|s| s.source == source)
                    .for_each(&mut f);
            }
        }
    }

    /// Tells each publisher in a live call what the other side's link carries: the lowest
    /// REMB, by [`remb_for`], among the legs that receive its video and are not paused
    /// (with the redundancy of its audio held back where a leg gets it). Monitors do not
    /// count: listening in never lowers what the two sides get. Browsers take it as a cap on their own estimate, so the officer's encoder
    /// lowers bitrate, frame rate and resolution for a citizen on a weak downlink.
    fn send_receiver_estimates(&mut self, now: Instant) {
        let mut rembs: Vec<(usize, u64)> = Vec::new();
        for c in self.calls.values() {
            if c.linked_at.is_none() {
                continue;
            }
            for &p in &c.members {
                let Some(me) = self.peers[p].as_ref() else {
                    continue;
                };
                let Some(source) = me.leg.publisher() else {
                    continue;
                };
                if me.uplink.paused() {
                    // Its own uplink cannot carry video: the least, at once and over the
                    // media path. The page is told to stop over signaling too, but a
                    // flooded uplink starves the signaling connection's TCP, and the
                    // browser would go on flooding until that gets through.
                    rembs.push((p, REMB_FLOOR));
                    continue;
                }
                let lowest = c
                    .members
                    .iter()
                    .filter_map(|&r| self.peers[r].as_ref())
                    .filter(|r| r.connected && r.leg.publisher().is_some())
                    .filter(|r| {
                        r.slots.iter().any(|s| {
                            s.source == source
                                && s.kind == RtpCodecKind::Video
                                && s.sending
                                && !s.gate.paused()
                        })
                    })
                    .map(|r| {
                        let redundant = self.audio_redundancy
                            && r.slots.iter().any(|s| {
                                s.source == source
                                    && s.kind == RtpCodecKind::Audio
                                    && s.redundancy.on()
                            });
                        let estimate = r.estimate.bits_per_second().unwrap_or(START_ESTIMATE);
                        remb_for(estimate, redundant)
                    })
                    .min();
                if let Some(lowest) = lowest {
                    rembs.push((p, lowest));
                }
            }
        }
        for (idx, bitrate) in rembs {
            let Some(p) = self.peers[idx].as_mut() else {
                continue;
            };
            for t in p.inbound.values() {
                if t.kind != RtpCodecKind::Video {
                    continue;
                }
                let remb = ReceiverEstimatedMaximumBitrate {
                    sender_ssrc: 0,
                    bitrate: bitrate as f32,
                    ssrcs: vec![t.ssrc],
                };
                if let Some(mut r) = p.pc.rtp_receiver(t.receiver_id) {
                    if r.write_rtcp(now, vec![Box::new(remb)]).is_ok() {
                        self.stats.rembs_out += 1;
                    }
                }
            }
            self.touched.insert(idx);
        }
    }

    /// Sends a PLI for `source`'s video in `call`, no sooner after the last one than `why`
    /// allows.
    fn request_keyframe(&mut self, call: Uuid, source: Publisher, now: Instant, why: Keyframe) {
        let gap = match why {
            Keyframe::Now => Duration::ZERO,
            Keyframe::FirstPicture => KEYFRAME_REQUEST_GAP,
            Keyframe::Repair => KEYFRAME_REPAIR_GAP,
        };
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        for &idx in &c.members {
            let Some(p) = self.peers[idx].as_mut() else {
                continue;
            };
            if p.leg.publisher() != Some(source) || !p.connected {
                continue;
            }
            for t in p.inbound.values_mut() {
                if t.kind != RtpCodecKind::Video {
                    continue;
                }
                let recent = t
                    .last_keyframe_request
                    .filter(|last| now.duration_since(*last) < gap);
                if let Some(last) = recent {
                    self.stats.keyframe_requests_throttled += 1;
                    if why != Keyframe::Now {
                        let at = last + gap;
                        t.keyframe_deferred = Some(t.keyframe_deferred.map_or(at, |d| d.min(at)));
                        p.keyframe_due = Some(p.keyframe_due.map_or(at, |d| d.min(at)));
                    }
                    continue;
                }
                if t.send_pli(&mut p.pc, now) {
                    self.stats.keyframe_requests_out += 1;
                }
                self.touched.insert(idx);
            }
        }
    }

    /// Forgets a peer: closes it, flushes what closing queued, and drops every index.
    fn remove_peer(&mut self, idx: usize) {
        let Some(mut p) = self.peers.get_mut(idx).and_then(Option::take) else {
            return;
        };
        let _ = p.pc.close();
        while let Some(m) = p.pc.poll_write() {
            self.out.push_back(m);
        }
        self.by_ufrag.remove(&p.ufrag);
        self.pending.retain(|_, v| *v != idx);
        if let Some(source) = p.leg.publisher() {
            self.publisher_replaced(p.call, source);
            // A reload or a failed connection: the other side hears of it at once.
            self.side_lost(p.call, idx, source);
        }
        for a in &p.addrs {
            if self.by_addr.get(a) == Some(&idx) {
                self.by_addr.remove(a);
            }
        }
        if let Some(c) = self.calls.get_mut(&p.call) {
            c.members.retain(|&m| m != idx);
            if c.members.is_empty() && c.linked_at.is_none() {
                self.calls.remove(&p.call);
            }
        }
        self.touched.remove(&idx);
        self.inputs.remove(&idx);
        self.refusals_logged.remove(&Refusal::Peer(idx));
        self.free.push(idx);
        self.stats.peers_removed += 1;
    }

    /// `source`'s connection is gone (a reload, a new connection, a failure): whatever
    /// comes next from that side is a new stream. Every leg receiving it re-bases sequence
    /// numbers and timestamps at its first packet, and its video waits for a keyframe
    /// (the first packets of a new stream are asked for as a keyframe when it connects).
    fn publisher_replaced(&mut self, call: Uuid, source: Publisher) {
        self.for_slots_of(call, source, |slot| {
            slot.seq.pause();
            slot.ts.rebase();
            if slot.kind == RtpCodecKind::Video {
                slot.awaiting_keyframe = true;
            }
        });
    }
}

/// The ICE host candidate for `addr` (UDP, component 1).
fn host_candidate(addr: SocketAddr) -> Result<RTCIceCandidateInit, MediaError> {
    let host = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: addr.ip().to_string(),
            port: addr.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()
    .map_err(internal)?;
    RTCIceCandidate::from(&host).to_json().map_err(internal)
}

/// What a publisher is told it may send for video, given the lowest estimate among its
/// receivers.
fn remb_for(estimate: u64, redundant_audio: bool) -> u64 {
    let audio = AUDIO_ALLOWANCE
        + if redundant_audio {
            REDUNDANCY_ALLOWANCE
        } else {
            0
        };
    (estimate * ESTIMATE_SHARE / 100)
        .saturating_sub(audio)
        .max(REMB_FLOOR)
}

fn build_pc(now: Instant) -> Result<(RTCPeerConnection, codec::Estimate), MediaError> {
    let mut me = codec::media_engine(true).map_err(internal)?;
    let estimate = codec::Estimate::default();
    let registry = codec::registry(&mut me, estimate.clone()).map_err(internal)?;
    let settings = SettingEngineBuilder::new()
        .with_lite(true)
        // rtc counts only connectivity checks as signs of life, not media, and browsers
        // and aiortc check consent every 4–6 s (RFC 7675): with the crate's 5 s a live leg
        // flapped to "disconnected" and its video stopped. Consent is lost after 30 s
        // without a check (RFC 7675), so: disconnected after 15, failed 15 later.
        .with_ice_timeouts(Some(ICE_DISCONNECTED_AFTER), Some(ICE_FAILED_AFTER), None)
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .build();
    RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(me)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .build(now)
        .map_err(internal)
        .map(|pc| (pc, estimate))
}

/// Adds a local track carrying `source`'s audio or video. After the remote offer is set,
/// `add_track` takes an offered transceiver of that kind that has no sender yet.
fn add_slot(
    pc: &mut RTCPeerConnection,
    call: Uuid,
    source: Publisher,
    kind: RtpCodecKind,
    codec: rtc::rtp_transceiver::rtp_sender::RTCRtpCodec,
) -> Result<Slot, MediaError> {
    let ssrc = rand::random::<u32>();
    let kind_name = if kind == RtpCodecKind::Audio {
        "audio"
    } else {
        "video"
    };
    let stream_id = format!("{}-{}", source.name(), call.simple());
    let track_id = format!("{}-{kind_name}", source.name());
    let track = MediaStreamTrack::new(
        stream_id,
        track_id.clone(),
        track_id.clone(),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            // The codec the sending stream is set up with (its NACK buffer and reports):
            // the leg's first choice. It would limit the answer to itself, so
            // `prefer_codec` then lists everything the leg offered, in order.
            codec,
            ..Default::default()
        }],
    );
    let sender_id = pc.add_track(track).map_err(bad_sdp)?;
    Ok(Slot {
        source,
        kind,
        sender_id,
        track_id,
        ssrc,
        pt: None,
        ext_out: Vec::new(),
        awaiting_keyframe: kind == RtpCodecKind::Video,
        seq: rewrite::SeqMap::default(),
        ts: rewrite::TsMap::default(),
        sending: true,
        gate: VideoGate::default(),
        picture_from: None,
        red_pt: None,
        redundancy: AudioRedundancy::default(),
    })
}

/// Orders the video codecs of every video section of `pc`'s next answer: `preferred`
/// first when the leg offered it (a browser sends the first codec of the answer), then the
/// rest of what it offered. Returns the codec put first.
fn prefer_codec(
    pc: &mut RTCPeerConnection,
    offered: &[(VideoCodec, u8)],
    preferred: Option<VideoCodec>,
) -> Option<VideoCodec> {
    let kinds: Vec<VideoCodec> = offered.iter().map(|(c, _)| *c).collect();
    let order = codec::answer_order(&kinds, preferred);
    // With the offer's payload types: the receiving side maps packets by them.
    let codecs: Vec<RTCRtpCodecParameters> = order
        .iter()
        .filter_map(|c| offered.iter().find(|(o, _)| o == c))
        .map(|(c, pt)| RTCRtpCodecParameters {
            rtp_codec: c.codec(),
            payload_type: *pt,
        })
        .collect();
    if codecs.is_empty() {
        return None;
    }
    set_preferences(pc, RtpCodecKind::Video, &codecs);
    order.first().copied()
}

/// Sets the codecs (in order) of the next answer for every section of `kind`.
fn set_preferences(
    pc: &mut RTCPeerConnection,
    kind: RtpCodecKind,
    codecs: &[RTCRtpCodecParameters],
) {
    let ids: Vec<_> = pc.get_transceivers().collect();
    for id in ids {
        let of_kind = pc
            .rtp_transceiver(id)
            .and_then(|t| t.receiver())
            .and_then(|r| pc.rtp_receiver(r))
            .is_some_and(|r| r.track().kind() == kind);
        if !of_kind {
            continue;
        }
        if let Some(mut t) = pc.rtp_transceiver(id) {
            if let Err(e) = t.set_codec_preferences(codecs.to_vec()) {
                tracing::debug!(error = %e, ?kind, "media: codec preferences refused");
            }
        }
    }
}

/// When the offer has RED over its Opus, answers every audio section with Opus first (what
/// the browser sends: its uplink is protected by Opus's own FEC) and RED second (what the
/// server may send to it when its downlink loses audio). Otherwise the answer is Opus
/// alone, as the audio track's codec makes it.
fn prefer_audio(pc: &mut RTCPeerConnection, offered: Option<wire::OfferedAudio>) {
    let Some(wire::OfferedAudio {
        opus,
        red: Some((red_pt, red_fmtp)),
    }) = offered
    else {
        return;
    };
    let codecs = vec![
        RTCRtpCodecParameters {
            rtp_codec: codec::opus(),
            payload_type: opus,
        },
        RTCRtpCodecParameters {
            rtp_codec: rtc::rtp_transceiver::rtp_sender::RTCRtpCodec {
                sdp_fmtp_line: red_fmtp,
                ..codec::red()
            },
            payload_type: red_pt,
        },
    ];
    set_preferences(pc, RtpCodecKind::Audio, &codecs);
}

/// rtc 0.21 answers each media section with its transceiver's own direction, whatever the
/// offer said; RFC 3264 wants the offer's direction reversed, limited to what this leg
/// does (a monitor only receives from the server's point of view: it never publishes).
fn match_offer_directions(pc: &mut RTCPeerConnection, offer: &str, leg: Leg) {
    use RTCRtpTransceiverDirection as D;
    let offered = wire::sdp_directions(offer);
    let ids: Vec<_> = pc.get_transceivers().collect();
    for id in ids {
        let Some(mut t) = pc.rtp_transceiver(id) else {
            continue;
        };
        let Some(mid) = t.mid().clone() else {
            continue;
        };
        let Some((_, dir)) = offered.iter().find(|(m, _)| *m == mid) else {
            continue;
        };
        let theirs = D::from(dir.as_str());
        let (send, recv) = (
            theirs.has_recv(),
            theirs.has_send() && leg.publisher().is_some(),
        );
        let ours = match (send, recv) {
            (true, true) => D::Sendrecv,
            (true, false) => D::Sendonly,
            (false, true) => D::Recvonly,
            (false, false) => D::Inactive,
        };
        if t.direction() != ours {
            t.set_direction(ours);
        }
    }
}

/// Updates each slot's `sending` from its transceiver after a negotiation; returns the
/// publishers whose video this leg receives again (it needs a keyframe).
fn refresh_sending(pc: &mut RTCPeerConnection, slots: &mut [Slot]) -> Vec<Publisher> {
    let mut resumed = Vec::new();
    for slot in slots {
        let sending = pc
            .rtp_transceiver(slot.sender_id.into())
            .is_some_and(|t| t.direction().has_send());
        if sending && !slot.sending {
            slot.seq.pause();
            slot.gate.reset();
            if slot.kind == RtpCodecKind::Video {
                slot.awaiting_keyframe = true;
                resumed.push(slot.source);
            }
        }
        slot.sending = sending;
    }
    resumed
}

fn bad_sdp(e: impl std::fmt::Display) -> MediaError {
    MediaError::BadSdp(e.to_string())
}

fn internal(e: impl std::fmt::Display) -> MediaError {
    MediaError::Internal(e.to_string())
}

mod gate;
#[cfg(test)]
mod tests;
