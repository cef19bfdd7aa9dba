//! The forwarder driven without sockets or a clock: in-memory peers (sans-IO `rtc` peer
//! connections, each publishing like a browser: Opus every 20 ms, VP8 frames with a
//! keyframe when asked) exchange datagrams with it on a fake network, and time is advanced
//! by hand. What a browser would see is read from each peer's own connection.

use std::sync::Mutex;

use proptest::prelude::*;
use rtc::interceptor::{Attribute, TaggedPacket};
use rtc::interceptor::{Interceptor, Packet as IPacket, Registry, Slot as ISlot, StreamInfo};
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};

use super::*;

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)), 4000);
/// The fake network's step: every peer's timers run and every datagram is delivered
/// within one step.
const STEP: Duration = Duration::from_millis(5);
const FRAME: Duration = Duration::from_millis(20);

/// Hands every RTCP packet to the application (the crate's chain ends by dropping what no
/// interceptor marked), so a test can read REMB and PLI as a browser's stack sees them.
#[derive(Default)]
struct DeliverRtcp {
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for DeliverRtcp {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if matches!(msg.message.packet, IPacket::Rtcp(_)) {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.reads.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.reads.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.writes.pop_front()
    }
    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Self::Error> {
        Ok(())
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

impl Interceptor for DeliverRtcp {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// What one peer received.
#[derive(Default)]
struct Seen {
    audio: u64,
    /// Audio packets that came as RED, and those whose redundant block was the frame
    /// published just before the primary one.
    red: u64,
    red_with_previous: u64,
    /// Opus packets whose payload was not one whole frame as published.
    opus_mangled: u64,
    video: u64,
    /// Whether the first video packet received started a keyframe.
    first_video_keyframe: Option<bool>,
    /// REMB values received (bit/s), in order.
    rembs: Vec<u64>,
    plis: u64,
    /// The streams received (their SSRCs on this leg).
    ssrcs: Vec<u32>,
    /// When video last arrived, and for each run of video after a second without any,
    /// whether it began at a keyframe.
    last_video: Option<Instant>,
    video_runs: Vec<bool>,
}

struct TestPeer {
    leg: Leg,
    addr: SocketAddr,
    pc: RTCPeerConnection,
    /// (sender, ssrc) of the audio and video it publishes.
    audio: Option<(RTCRtpSenderId, u32)>,
    video: Option<(RTCRtpSenderId, u32)>,
    seq: [u16; 2],
    frames: u32,
    next_frame: Instant,
    /// Video frames sent as 3 packets each; the next one is a keyframe.
    keyframe_due: bool,
    /// It publishes its audio as RED (each packet carrying the previous frame too), and
    /// its next audio packet as RED whose block header runs past the payload.
    send_red: bool,
    send_bad_red: bool,
    /// False: it sends nothing (its network is down) and hears nothing.
    online: bool,
    /// Fractions of the datagrams to it and from it that its network loses.
    down_loss: f64,
    up_loss: f64,
    rng: u64,
    connected: bool,
    seen: Seen,
}

fn test_track(kind: RtpCodecKind, ssrc: u32) -> MediaStreamTrack {
    let (name, codec) = match kind {
        RtpCodecKind::Audio => ("audio", codec::opus()),
        _ => ("video", codec::vp8()),
    };
    MediaStreamTrack::new(
        "test-stream".into(),
        format!("test-{name}"),
        format!("test-{name}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )
}

impl TestPeer {
    /// `red`: it offers RED over Opus, as Chromium does (Firefox does not).
    fn new(leg: Leg, addr: SocketAddr, red: bool, now: Instant) -> TestPeer {
        let mut me = codec::media_engine(red).unwrap();
        let registry = register_default_interceptors(Registry::new(), &mut me)
            .unwrap()
            .with(ISlot::from(14_000usize), DeliverRtcp::default());
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(me)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .build(now)
            .unwrap();
        let (mut audio, mut video) = (None, None);
        if leg.publisher().is_some() {
            for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
                let ssrc = rand::random::<u32>();
                let id = pc.add_track(test_track(kind, ssrc)).unwrap();
                match kind {
                    RtpCodecKind::Audio => audio = Some((id, ssrc)),
                    _ => video = Some((id, ssrc)),
                }
            }
        } else {
            for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
                for _ in 0..2 {
                    pc.add_transceiver_from_kind(kind, None).unwrap();
                }
            }
        }
        TestPeer {
            leg,
            addr,
            pc,
            audio,
            video,
            seq: [0; 2],
            frames: 0,
            next_frame: now,
            keyframe_due: true,
            send_red: false,
            send_bad_red: false,
            online: true,
            down_loss: 0.0,
            up_loss: 0.0,
            rng: 0x9e37_79b9_7f4a_7c15
                ^ u64::from(addr.port())
                ^ u64::from(addr.ip().to_string().len() as u32),
            connected: false,
            seen: Seen::default(),
        }
    }

    fn offer(&mut self, now: Instant) -> String {
        let offer = self.pc.create_offer(None).unwrap();
        self.pc.set_local_description(now, offer).unwrap();
        self.pc
            .add_local_candidate(host_candidate(self.addr).unwrap())
            .unwrap();
        self.pc.local_description().unwrap().sdp.clone()
    }

    fn answer(&mut self, sdp: String, now: Instant) {
        let answer = RTCSessionDescription::answer(sdp).unwrap();
        self.pc.set_remote_description(now, answer).unwrap();
    }

    fn write(&mut self, kind: usize, now: Instant, marker: bool, payload: Vec<u8>, ts: u32) {
        let Some((id, ssrc)) = (if kind == 0 { self.audio } else { self.video }) else {
            return;
        };
        let Some(mut sender) = self.pc.rtp_sender(id) else {
            return;
        };
        let codecs = sender.get_parameters().rtp_parameters.codecs.clone();
        let Some(mut pt) = codecs.first().map(|c| c.payload_type) else {
            return;
        };
        let mut payload = payload;
        let red_pt = codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type == codec::MIME_TYPE_RED)
            .map(|c| c.payload_type);
        if let (0, true, Some(red_pt)) = (kind, self.send_red, red_pt) {
            // Frame n's payload is n's low byte throughout (see `publish`).
            let previous = vec![payload[0].wrapping_sub(1); payload.len()];
            payload = red::with_previous(pt, &previous, 960, &payload)
                .unwrap()
                .to_vec();
            pt = red_pt;
        }
        if let (0, true, Some(red_pt)) = (kind, self.send_bad_red, red_pt) {
            self.send_bad_red = false;
            payload = vec![0x80 | pt, 0, 0x03, 0xff, pt, 1, 2, 3];
            pt = red_pt;
        }
        self.seq[kind] = self.seq[kind].wrapping_add(1);
        let pkt = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker,
                payload_type: pt,
                sequence_number: self.seq[kind],
                timestamp: ts,
                ssrc,
                ..Default::default()
            },
            payload: payload.into(),
        };
        let _ = sender.write_rtp(now, pkt);
    }

    /// One 20 ms tick of a browser's media: an Opus frame and a VP8 frame of three packets
    /// (the first of a keyframe when one was asked for).
    fn publish(&mut self, now: Instant) {
        if !self.connected || self.leg.publisher().is_none() || now < self.next_frame {
            return;
        }
        self.next_frame = now + FRAME;
        self.frames += 1;
        let ts_audio = self.frames.wrapping_mul(960);
        self.write(0, now, false, vec![self.frames as u8; 60], ts_audio);
        let ts_video = self.frames.wrapping_mul(1800);
        let key = std::mem::take(&mut self.keyframe_due);
        for part in 0..3u8 {
            // VP8 payload descriptor: S bit on the first packet of the frame (partition 0);
            // the payload header's P bit clear on a keyframe.
            let mut payload = vec![if part == 0 { 0x10 } else { 0x00 }];
            payload.push(if key { 0x00 } else { 0x01 });
            payload.extend(std::iter::repeat_n(0xab, 400));
            self.write(1, now, part == 2, payload, ts_video);
        }
    }

    /// Whether the next datagram in `dir` (0: to it, 1: from it) is lost: drawn from a
    /// generator with a fixed seed, so that tests are repeatable.
    fn loses(&mut self, dir: usize) -> bool {
        let loss = if dir == 0 {
            self.down_loss
        } else {
            self.up_loss
        };
        if loss <= 0.0 {
            return false;
        }
        // xorshift64
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x % 10_000) as f64 / 10_000.0 < loss
    }

    fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) = ev {
                self.connected = s == RTCPeerConnectionState::Connected;
            }
        }
        while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
            match message {
                RTCMessage::RtpPacket(_, pkt) => {
                    if !self.seen.ssrcs.contains(&pkt.header.ssrc) {
                        self.seen.ssrcs.push(pkt.header.ssrc);
                    }
                    // Payload types are the server's on every leg of these tests.
                    if pkt.header.payload_type == codec::PT_OPUS {
                        self.seen.audio += 1;
                        let p = &pkt.payload;
                        if p.len() != 60 || p.iter().any(|b| *b != p[0]) {
                            self.seen.opus_mangled += 1;
                        }
                    } else if pkt.header.payload_type == codec::PT_RED {
                        self.seen.audio += 1;
                        self.seen.red += 1;
                        let (pt, primary) = red::primary(&pkt.payload).expect("well-formed RED");
                        assert_eq!(pt, codec::PT_OPUS);
                        let previous = &pkt.payload[5..pkt.payload.len() - primary.len()];
                        let header =
                            u32::from_be_bytes([0, pkt.payload[1], pkt.payload[2], pkt.payload[3]]);
                        if header >> 10 == 960
                            && previous.len() == primary.len()
                            && previous.iter().all(|b| *b == primary[0].wrapping_sub(1))
                        {
                            self.seen.red_with_previous += 1;
                        }
                    } else {
                        self.seen.video += 1;
                        let key = codec::vp8_keyframe_start(&pkt.payload);
                        self.seen.first_video_keyframe.get_or_insert(key);
                        let gap = self
                            .seen
                            .last_video
                            .is_none_or(|t| now.duration_since(t) > Duration::from_secs(1));
                        if gap {
                            self.seen.video_runs.push(key);
                        }
                        self.seen.last_video = Some(now);
                    }
                }
                RTCMessage::RtcpPacket(_, pkts) => {
                    for p in pkts {
                        let any = p.as_any();
                        if let Some(r) = any.downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
                            self.seen.rembs.push(r.bitrate as u64);
                        } else if codec::is_keyframe_request(p.as_ref()) {
                            self.seen.plis += 1;
                            self.keyframe_due = true;
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

type Events = Arc<Mutex<Vec<(Leg, LegEvent)>>>;

/// A forwarder, its peers and a fake clock.
struct Net {
    now: Instant,
    fwd: Forwarder,
    peers: Vec<TestPeer>,
    events: Events,
    /// Datagrams from the forwarder to nobody the test knows (counted, not delivered).
    stray: u64,
}

impl Net {
    fn new() -> Net {
        let now = Instant::now();
        let all = Arc::new(vec![Cidr::parse("0.0.0.0/0").unwrap()]);
        Net {
            now,
            fwd: Forwarder::new(SERVER, all, now),
            peers: Vec::new(),
            events: Arc::default(),
            stray: 0,
        }
    }

    /// A leg joins `call`: its offer, the forwarder's answer. Returns the peer's index.
    fn join(&mut self, call: Uuid, leg: Leg) -> usize {
        self.join_offering(call, leg, true)
    }

    /// As `join`, with or without RED in its offer.
    fn join_offering(&mut self, call: Uuid, leg: Leg, red: bool) -> usize {
        let n = self.peers.len() as u8;
        let addr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 1, n + 2)), 5000);
        let mut peer = TestPeer::new(leg, addr, red, self.now);
        let offer = peer.offer(self.now);
        let events = self.events.clone();
        let tell: LegEvents = Arc::new(move |e| events.lock().unwrap().push((leg, e)));
        let answer = self
            .fwd
            .offer(call, leg, &offer, Some(tell), self.now)
            .expect("the forwarder answers");
        peer.answer(answer, self.now);
        self.peers.push(peer);
        self.peers.len() - 1
    }

    /// Delivers everything in flight, repeatedly, until nothing moves.
    fn exchange(&mut self) {
        for _ in 0..64 {
            let mut moved = false;
            for p in &mut self.peers {
                while let Some(m) = p.pc.poll_write() {
                    if p.online && m.transport.peer_addr == SERVER && !p.loses(1) {
                        self.fwd.handle_datagram(&m.message, p.addr, self.now);
                        moved = true;
                    }
                }
            }
            self.fwd.process(self.now);
            while let Some(m) = self.fwd.poll_transmit() {
                let Some(p) = self
                    .peers
                    .iter_mut()
                    .find(|p| p.addr == m.transport.peer_addr)
                else {
                    self.stray += 1;
                    continue;
                };
                match p.online && !p.loses(0) {
                    false => {}
                    true => {
                        let msg = TaggedBytesMut {
                            now: self.now,
                            transport: TransportContext {
                                local_addr: p.addr,
                                peer_addr: SERVER,
                                ecn: None,
                                transport_protocol: TransportProtocol::UDP,
                            },
                            message: m.message,
                        };
                        let _ = p.pc.handle_read(msg);
                        moved = true;
                    }
                }
            }
            for p in &mut self.peers {
                p.drain(self.now);
            }
            if !moved {
                return;
            }
        }
    }

    /// Advances the clock by `d` in steps, running every peer's timers and media.
    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += STEP;
            let now = self.now;
            for p in &mut self.peers {
                if p.pc.poll_timeout().is_some_and(|t| t <= now) {
                    let _ = p.pc.handle_timeout(now);
                }
                p.publish(now);
            }
            self.exchange();
        }
    }

    fn connected(&self) -> bool {
        self.peers.iter().all(|p| p.connected)
    }

    fn events(&self) -> Vec<(Leg, LegEvent)> {
        self.events.lock().unwrap().clone()
    }
}

/// A citizen and an officer of one call, both connected (not linked yet).
fn two_sided() -> (Net, Uuid) {
    let mut net = Net::new();
    let call = Uuid::new_v4();
    net.join(call, Leg::Citizen);
    net.join(call, Leg::Officer);
    net.run(Duration::from_secs(2));
    assert!(net.connected(), "both legs connect over the fake network");
    (net, call)
}

#[test]
fn nothing_is_forwarded_before_the_call_is_linked_and_everything_after() {
    let (mut net, call) = two_sided();
    net.run(Duration::from_secs(1));
    assert_eq!(net.peers[0].seen.audio + net.peers[1].seen.audio, 0);
    assert!(net.fwd.stats().rtp_before_call > 0);
    net.fwd.link(call, net.now);
    net.run(Duration::from_secs(2));
    for p in &net.peers {
        // 2 s of 20 ms frames, less the first round trip.
        assert!(
            p.seen.audio > 80,
            "{:?} heard {} audio packets",
            p.leg,
            p.seen.audio
        );
        assert!(
            p.seen.video > 200,
            "{:?} saw {} video packets",
            p.leg,
            p.seen.video
        );
        assert_eq!(
            p.seen.first_video_keyframe,
            Some(true),
            "video starts at a keyframe"
        );
    }
    let s = net.fwd.stats();
    assert_eq!(s.rtp_write_errors, 0);
    assert_eq!(net.stray, 0);
}

#[test]
fn linking_asks_each_publisher_for_a_keyframe_and_tells_it_a_modest_start() {
    let (mut net, call) = two_sided();
    net.fwd.link(call, net.now);
    net.run(Duration::from_millis(200));
    for p in &net.peers {
        assert!(p.seen.plis >= 1, "{:?} was asked for a keyframe", p.leg);
        let first = *p.seen.rembs.first().expect("a receiver estimate");
        assert_eq!(first, remb_for(START_ESTIMATE, false));
        assert!(first < START_ESTIMATE - AUDIO_ALLOWANCE && first > REMB_FLOOR);
    }
}

#[test]
fn a_monitor_sees_both_sides_and_does_not_publish() {
    let (mut net, call) = two_sided();
    net.fwd.link(call, net.now);
    net.join(call, Leg::Monitor(7));
    net.run(Duration::from_secs(2));
    let m = &net.peers[2];
    assert!(m.connected);
    assert!(m.seen.audio > 100, "both sides' audio: {}", m.seen.audio);
    assert_eq!(m.seen.first_video_keyframe, Some(true));
}

#[test]
fn a_publisher_whose_network_drops_is_reported_and_returns_from_a_keyframe() {
    let (mut net, call) = two_sided();
    net.fwd.link(call, net.now);
    net.run(Duration::from_secs(1));
    net.peers[0].online = false;
    net.run(STALLED_AFTER + SWEEP_EVERY + Duration::from_secs(4));
    let told = net.events();
    assert!(
        told.contains(&(Leg::Officer, LegEvent::PeerReconnecting(Publisher::Citizen))),
        "the officer's page is told: {told:?}"
    );
    let before = net.peers[1].seen.video;
    net.peers[0].online = true;
    net.run(Duration::from_secs(3));
    assert!(net
        .events()
        .contains(&(Leg::Officer, LegEvent::PeerConnected(Publisher::Citizen))));
    assert!(
        net.peers[1].seen.video > before,
        "the citizen's video is forwarded again"
    );
    // What was lost during the outage is not a weak link: video is not paused after it.
    net.run(Duration::from_secs(8));
    assert_eq!(video_events(&net), vec![], "no video pause after an outage");
}

#[test]
fn closing_a_call_forgets_every_leg() {
    let (mut net, call) = two_sided();
    net.fwd.link(call, net.now);
    net.run(Duration::from_millis(500));
    net.fwd.close_call(call);
    net.exchange();
    let s = net.fwd.stats();
    assert_eq!((s.peers, s.calls), (0, 0));
    assert_eq!(s.peers_removed, 2);
}

fn video_events(net: &Net) -> Vec<(Leg, LegEvent)> {
    net.events()
        .into_iter()
        .filter(|(_, e)| matches!(e, LegEvent::Video { .. }))
        .collect()
}

#[test]
fn a_citizens_weak_downlink_pauses_the_officers_video_and_it_returns_from_a_keyframe() {
    let (mut net, call) = two_sided();
    net.fwd.link(call, net.now);
    net.run(Duration::from_secs(2));
    assert!(video_events(&net).is_empty(), "a clean link keeps video");
    net.peers[0].down_loss = 0.25;
    let audio = net.peers[0].seen.audio;
    net.run(Duration::from_secs(5));
    let paused = LegEvent::Video {
        source: Publisher::Officer,
        paused: true,
        link: Publisher::Citizen,
    };
    assert_eq!(
        video_events(&net),
        vec![(Leg::Citizen, paused), (Leg::Officer, paused)],
        "both pages are told within 5 s"
    );
    let video = net.peers[0].seen.video;
    net.run(Duration::from_secs(3));
    // Only retransmissions of what was lost before the pause.
    let late = net.peers[0].seen.video - video;
    assert!(late < 30, "no video while paused: {late} packets");
    assert!(net.peers[0].seen.audio > audio + 150, "speech goes on");
    assert!(
        net.peers[1].seen.video > 0,
        "the citizen's video still reaches the officer"
    );
    // The link recovers: video returns after the back-off, at a keyframe.
    net.peers[0].down_loss = 0.0;
    net.run(gate::BACKOFF_START + gate::RESUME_AFTER + Duration::from_secs(2));
    let resumed = LegEvent::Video {
        source: Publisher::Officer,
        paused: false,
        link: Publisher::Citizen,
    };
    assert!(video_events(&net).contains(&(Leg::Citizen, resumed)));
    assert!(net.peers[0].seen.video > video, "video is back");
    assert_eq!(
        net.peers[0].seen.video_runs,
        vec![true, true],
        "each run starts at a keyframe"
    );
    let s = net.fwd.stats();
    assert_eq!((s.video_pauses, s.video_resumes), (1, 1));
}

#[test]
fn a_citizens_weak_uplink_pauses_their_own_video_for_everyone() {
    let (mut net, call) = two_sided();
    net.fwd.link(call, net.now);
    net.join(call, Leg::Monitor(3));
    net.run(Duration::from_secs(2));
    net.peers[0].up_loss = 0.25;
    net.run(Duration::from_secs(5));
    let paused = LegEvent::Video {
        source: Publisher::Citizen,
        paused: true,
        link: Publisher::Citizen,
    };
    let told = video_events(&net);
    for leg in [Leg::Citizen, Leg::Officer, Leg::Monitor(3)] {
        assert!(told.contains(&(leg, paused)), "{leg:?} is told: {told:?}");
    }
    let (officer, monitor) = (net.peers[1].seen.video, net.peers[2].seen.video);
    net.run(Duration::from_secs(2));
    let late = net.peers[1].seen.video - officer;
    assert!(
        late < 30,
        "the officer gets no citizen video: {late} packets"
    );
    // Over the media path too: the citizen's browser is told to send the least.
    assert_eq!(net.peers[0].seen.rembs.last(), Some(&REMB_FLOOR));
    let told = video_events(&net);
    assert_eq!(
        told.len(),
        3,
        "one notice each, none blaming the officer's link: {told:?}"
    );
    assert!(
        net.peers[2].seen.video > monitor,
        "the monitor still sees the officer"
    );
    assert!(
        net.peers[0].seen.video > 0,
        "the officer's video still reaches the citizen"
    );
}

#[test]
fn a_citizen_whose_uplink_cannot_carry_video_while_waiting_starts_the_call_with_it_paused() {
    let mut net = Net::new();
    let call = Uuid::new_v4();
    // Instant connect: the citizen's connection is up while they wait.
    net.join(call, Leg::Citizen);
    net.run(Duration::from_secs(2));
    assert!(net.connected());
    net.peers[0].up_loss = 0.3;
    net.run(LINKS_SETTLE + Duration::from_secs(2));
    let paused = LegEvent::Video {
        source: Publisher::Citizen,
        paused: true,
        link: Publisher::Citizen,
    };
    assert_eq!(video_events(&net), vec![(Leg::Citizen, paused)]);
    // The officer's connection comes later, and is told at once.
    net.join(call, Leg::Officer);
    net.run(Duration::from_secs(2));
    assert!(video_events(&net).contains(&(Leg::Officer, paused)));
    net.fwd.link(call, net.now);
    net.run(Duration::from_secs(2));
    let officer = &net.peers[1].seen;
    assert_eq!(officer.video, 0, "no citizen video in the call");
    assert!(
        officer.audio > 50,
        "the citizen is heard: {}",
        officer.audio
    );
    assert!(
        net.peers[0].seen.video > 0,
        "the officer's video reaches the citizen"
    );
}

#[test]
fn a_page_whose_signaling_connection_was_replaced_is_told_again_what_is_paused() {
    let (mut net, call) = two_sided();
    net.fwd.link(call, net.now);
    net.run(Duration::from_secs(2));
    net.peers[0].up_loss = 0.3;
    net.run(LINKS_SETTLE);
    let paused = LegEvent::Video {
        source: Publisher::Citizen,
        paused: true,
        link: Publisher::Citizen,
    };
    assert!(video_events(&net).contains(&(Leg::Citizen, paused)));
    // The citizen's page lost its signaling connection (the media went on) and renegotiates
    // over the new one: the news now goes there, starting with what is paused.
    let fresh: Events = Arc::default();
    let sink = fresh.clone();
    let tell: LegEvents = Arc::new(move |e| sink.lock().unwrap().push((Leg::Citizen, e)));
    let pc = &mut net.peers[0].pc;
    let offer = pc.create_offer(None).unwrap();
    pc.set_local_description(net.now, offer).unwrap();
    let offer = pc.local_description().unwrap().sdp.clone();
    let answer = net
        .fwd
        .offer(call, Leg::Citizen, &offer, Some(tell), net.now)
        .expect("a renegotiation is answered");
    net.peers[0].answer(answer, net.now);
    net.run(Duration::from_secs(2));
    assert!(
        fresh.lock().unwrap().contains(&(Leg::Citizen, paused)),
        "told again: {:?}",
        fresh.lock().unwrap()
    );
}

#[test]
fn a_keyframe_request_held_back_by_the_throttle_goes_out_when_the_gap_has_passed() {
    let (mut net, call) = two_sided();
    net.fwd.link(call, net.now);
    // Past the first picture's grace: the citizen's requests are repairs.
    net.run(FIRST_PICTURE_GRACE + Duration::from_secs(1));
    // Two requests from the citizen's decoder 200 ms apart: the first goes through, the
    // second waits for the gap instead of being lost.
    let plis = net.peers[1].seen.plis;
    net.forge(&Forged::Pli);
    net.run(Duration::from_millis(200));
    assert_eq!(net.peers[1].seen.plis, plis + 1);
    net.forge(&Forged::Pli);
    net.run(Duration::from_millis(400));
    assert_eq!(net.peers[1].seen.plis, plis + 1, "held back within the gap");
    net.run(KEYFRAME_REPAIR_GAP);
    assert_eq!(net.peers[1].seen.plis, plis + 2, "sent once the gap passed");
    net.run(Duration::from_secs(2));
    assert_eq!(net.peers[1].seen.plis, plis + 2, "and only once");
}

#[test]
fn a_lossy_downlink_gets_each_frame_twice_and_a_leg_without_red_plain_opus() {
    let mut net = Net::new();
    let call = Uuid::new_v4();
    net.join(call, Leg::Citizen);
    net.join_offering(call, Leg::Officer, false);
    net.run(Duration::from_secs(2));
    assert!(net.connected());
    net.fwd.link(call, net.now);
    net.run(Duration::from_secs(3));
    assert_eq!(net.peers[0].seen.red, 0, "no redundancy on a clean link");
    // Both downlinks lose 5 %; only the citizen's browser negotiated RED.
    net.peers[0].down_loss = 0.05;
    net.peers[1].down_loss = 0.05;
    // The first report that counts a loss comes a second or two later.
    net.run(Duration::from_secs(6));
    let citizen = &net.peers[0].seen;
    assert!(citizen.red > 100, "the citizen gets RED: {}", citizen.red);
    assert!(
        citizen.red_with_previous + 2 >= citizen.red,
        "each RED packet carries the frame before it: {} of {}",
        citizen.red_with_previous,
        citizen.red
    );
    let officer = &net.peers[1].seen;
    assert_eq!(officer.red, 0, "the officer did not negotiate RED");
    assert!(officer.audio > 250 && officer.opus_mangled == 0);
    assert!(net.fwd.stats().audio_redundant_out >= net.peers[0].seen.red);
    // Clean again: redundancy ends once the hold has passed.
    net.peers[0].down_loss = 0.0;
    net.peers[1].down_loss = 0.0;
    net.run(gate::REDUNDANCY_HOLD + Duration::from_secs(3));
    let red = net.peers[0].seen.red;
    net.run(Duration::from_secs(2));
    assert_eq!(
        net.peers[0].seen.red, red,
        "no redundancy on a clean link again"
    );
}

#[test]
fn red_from_a_publisher_reaches_a_leg_without_red_as_its_opus_and_bad_red_is_dropped() {
    let mut net = Net::new();
    let call = Uuid::new_v4();
    net.join(call, Leg::Citizen);
    net.join_offering(call, Leg::Officer, false);
    net.peers[0].send_red = true;
    net.run(Duration::from_secs(2));
    net.fwd.link(call, net.now);
    net.run(Duration::from_secs(2));
    net.peers[0].send_bad_red = true;
    net.run(Duration::from_secs(2));
    let officer = &net.peers[1].seen;
    assert!(officer.audio > 150, "speech arrives: {}", officer.audio);
    assert_eq!(
        officer.opus_mangled, 0,
        "each packet is the primary Opus frame alone"
    );
    assert_eq!(net.fwd.stats().audio_red_malformed, 1);
}

/// Feedback a hostile or broken client can send about the server's streams to it.
#[derive(Clone, Debug)]
enum Forged {
    Remb(f32),
    Nack(u16, u16),
    Pli,
    Garbage(Vec<u8>),
}

fn forged() -> impl Strategy<Value = Forged> {
    prop_oneof![
        prop_oneof![Just(0.0f32), Just(1.0e10), Just(f32::MAX), 0.0f32..1.0e7]
            .prop_map(Forged::Remb),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Forged::Nack(a, b)),
        Just(Forged::Pli),
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(Forged::Garbage),
    ]
}

impl Net {
    /// The citizen's connection sends `f` about the officer's video it receives.
    fn forge(&mut self, f: &Forged) {
        let now = self.now;
        let p = &mut self.peers[0];
        let Some(r) =
            p.pc.get_transceivers()
                .collect::<Vec<_>>()
                .into_iter()
                .find_map(|id| p.pc.rtp_transceiver(id)?.receiver())
        else {
            return;
        };
        let ssrcs = p.seen.ssrcs.clone();
        if let Forged::Garbage(bytes) = f {
            self.fwd.handle_datagram(bytes, p.addr, now);
            return;
        }
        for ssrc in ssrcs {
            let pkt: Box<dyn rtc::rtcp::Packet> = match f {
                Forged::Remb(b) => Box::new(ReceiverEstimatedMaximumBitrate {
                    sender_ssrc: 1,
                    bitrate: *b,
                    ssrcs: vec![ssrc],
                }),
                Forged::Nack(id, mask) => Box::new(TransportLayerNack {
                    sender_ssrc: 1,
                    media_ssrc: ssrc,
                    nacks: vec![
                        NackPair {
                            packet_id: *id,
                            lost_packets: *mask
                        };
                        16
                    ],
                }),
                Forged::Pli => Box::new(PictureLossIndication {
                    sender_ssrc: 1,
                    media_ssrc: ssrc,
                }),
                Forged::Garbage(_) => unreachable!(),
            };
            if let Some(mut rx) = p.pc.rtp_receiver(r) {
                let _ = rx.write_rtcp(now, vec![pkt]);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever one call's citizen sends as feedback, another call on the same forwarder
    /// keeps its media, nothing is written in error, a sender is never asked for
    /// keyframes more often than the throttle allows, and the send queue is drained.
    #[test]
    fn forged_feedback_cannot_stall_another_call(
        feedback in proptest::collection::vec(forged(), 1..40)
    ) {
        let mut net = Net::new();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        net.join(a, Leg::Citizen);
        net.join(a, Leg::Officer);
        net.join(b, Leg::Citizen);
        net.join(b, Leg::Officer);
        net.run(Duration::from_secs(2));
        prop_assert!(net.connected());
        net.fwd.link(a, net.now);
        net.fwd.link(b, net.now);
        // Past the first picture's grace, when a receiver's requests are repairs (at most
        // one a second; before it, one every 300 ms).
        net.run(FIRST_PICTURE_GRACE + Duration::from_millis(500));
        let heard = net.peers[2].seen.audio;
        let plis_before = net.peers[1].seen.plis;
        let window = Duration::from_secs(2);
        // Spread over the window, 40 steps of 50 ms.
        let per_step = feedback.len().div_ceil(40);
        let mut chunks = feedback.chunks(per_step);
        for _ in 0..40 {
            for f in chunks.next().unwrap_or_default() {
                net.forge(f);
            }
            net.run(window / 40);
        }
        // The other call: 2 s of audio, less one frame at either end.
        let got = net.peers[2].seen.audio - heard;
        prop_assert!(got >= 95, "the other call's citizen heard {} packets in 2 s", got);
        // The officer of the forging call: keyframe requests stay throttled.
        let plis = net.peers[1].seen.plis - plis_before;
        let most = (window.as_millis() / KEYFRAME_REPAIR_GAP.as_millis()) as u64 + 1;
        prop_assert!(plis <= most, "{} keyframe requests in 2 s", plis);
        prop_assert_eq!(net.fwd.stats().rtp_write_errors, 0);
        prop_assert!(net.fwd.poll_transmit().is_none());
        prop_assert!(net.fwd.out.is_empty());
    }
}
