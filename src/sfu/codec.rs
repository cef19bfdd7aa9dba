//! What every leg negotiates, shared by the SFU's peer connections (sans-IO `rtc`) and the
//! Rust client (async `webrtc`, built on the same `rtc` types): the codecs, the header
//! extensions that are forwarded end to end, and the interceptor chain.
//!
//! The SFU forwards without transcoding. Audio is Opus on every leg. Video is VP8 (what every
//! browser can encode) or H.264 constrained baseline with packetization mode 1 (what Safari
//! and phones with a hardware encoder prefer): each leg negotiates whichever of the two its
//! offer has, and the worker steers both sides of a call to one they share ([`choose`]).
//! Payload types may differ per leg; the worker maps them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rtc::interceptor::{
    Attribute, CongestionControlBuilder, Gcc, Interceptor, NackGeneratorBuilder,
    NackResponderBuilder, Packet, Registry, Slot, StreamInfo, TaggedPacket, TwccSenderBuilder,
};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_nack, configure_rtcp_reports, configure_simulcast_extension_headers,
    configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8,
};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sansio::Protocol;

pub const PT_OPUS: u8 = 111;
pub const PT_VP8: u8 = 96;
pub const PT_H264: u8 = 102;
/// RED over Opus (RFC 2198), at Chromium's payload type.
pub const PT_RED: u8 = 63;
pub const MIME_TYPE_RED: &str = "audio/red";

/// A video codec the SFU forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    Vp8,
    H264,
}

impl VideoCodec {
    /// In the order the server prefers them when both sides could use either: VP8 is what
    /// every browser encodes and decodes.
    pub const ALL: [VideoCodec; 2] = [VideoCodec::Vp8, VideoCodec::H264];

    pub fn codec(self) -> RTCRtpCodec {
        match self {
            VideoCodec::Vp8 => vp8(),
            VideoCodec::H264 => h264(),
        }
    }

    pub fn from_mime(mime: &str) -> Option<VideoCodec> {
        if mime.eq_ignore_ascii_case(MIME_TYPE_VP8) {
            Some(VideoCodec::Vp8)
        } else if mime.eq_ignore_ascii_case(MIME_TYPE_H264) {
            Some(VideoCodec::H264)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "VP8",
            VideoCodec::H264 => "H264",
        }
    }

    /// Whether an RTP payload of this codec is the first packet of a keyframe.
    pub fn keyframe_start(self, payload: &[u8]) -> bool {
        match self {
            VideoCodec::Vp8 => vp8_keyframe_start(payload),
            VideoCodec::H264 => h264_keyframe_start(payload),
        }
    }
}

/// The video codec a call's legs should all send: the first of [`VideoCodec::ALL`] that
/// every leg offered (`None` when they share none: each leg then gets its own first choice
/// and video cannot cross between them, as there is no transcoding). Legs that offered no
/// video codec at all (video rejected) do not count.
pub fn choose<'a>(legs: impl IntoIterator<Item = &'a [VideoCodec]> + Clone) -> Option<VideoCodec> {
    VideoCodec::ALL.into_iter().find(|c| {
        legs.clone()
            .into_iter()
            .filter(|offered| !offered.is_empty())
            .all(|offered| offered.contains(c))
    })
}

/// What one leg's answer lists, first choice first: `preferred` when the leg offered it,
/// then the rest of what it offered in the server's order. A browser sends the first
/// codec of the answer.
pub fn answer_order(offered: &[VideoCodec], preferred: Option<VideoCodec>) -> Vec<VideoCodec> {
    let first = preferred.filter(|p| offered.contains(p));
    first
        .into_iter()
        .chain(
            VideoCodec::ALL
                .into_iter()
                .filter(|c| offered.contains(c) && Some(*c) != first),
        )
        .collect()
}

pub fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        // Wideband speech at up to 24 kbit/s (Chromium's default is 32): less for a weak
        // uplink to carry, and what is saved is left to video.
        sdp_fmtp_line: "minptime=10;useinbandfec=1;maxaveragebitrate=24000".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// RED whose blocks are Opus at [`PT_OPUS`] (each leg's own payload types come from its
/// offer: see `forwarder::prefer_audio`).
pub fn red() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_RED.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: format!("{PT_OPUS}/{PT_OPUS}"),
        rtcp_feedback: vec![],
    }
}

pub fn vp8() -> RTCRtpCodec {
    let fb = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.into(),
        parameter: parameter.into(),
    };
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        // Keyframe requests must be negotiated or a browser never sends them; REMB is how
        // the server tells a publisher what its receivers' links carry.
        rtcp_feedback: vec![
            fb("nack", ""),
            fb("nack", "pli"),
            fb("ccm", "fir"),
            fb("goog-remb", ""),
        ],
    }
}

/// The H.264 every WebRTC endpoint must support (RFC 7742): constrained baseline, level
/// 3.1, packetization mode 1 (fragmented NAL units).
pub const H264_FMTP: &str =
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

pub fn h264() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_H264.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: H264_FMTP.to_owned(),
        rtcp_feedback: vp8().rtcp_feedback,
    }
}

/// The clock rate of a kind's codecs (every video codec runs at 90 kHz).
pub fn clock_rate(kind: RtpCodecKind) -> u32 {
    match kind {
        RtpCodecKind::Audio => 48_000,
        _ => 90_000,
    }
}

pub const EXT_AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// Header extensions forwarded end to end (ids remapped per leg). Everything else
/// (transport-cc, abs-send-time, mid, rid, ...) belongs to one hop and is dropped. The
/// audio level lets a receiver show who speaks.
///
/// Video orientation (`urn:3gpp:video-orientation`) is deliberately not negotiated: a
/// phone held upright then turns its frames itself before encoding, so every receiver
/// shows them upright, including Firefox and other stacks that do not negotiate the
/// extension (a forwarded extension would reach only receivers that negotiated it, and a
/// publisher's negotiation is over before it is known who will receive it).
pub const FORWARDED_EXTENSIONS: &[&str] = &[EXT_AUDIO_LEVEL];

/// Opus/111, VP8/96 and H.264/102 with the forwarded header extensions, and with `red`
/// RED/63 over Opus (the server's engine; the test client leaves it out, as Firefox does).
pub fn media_engine(red: bool) -> Result<MediaEngine, rtc::shared::error::Error> {
    let mut me = MediaEngine::default();
    me.register_header_extension(
        RTCRtpHeaderExtensionCapability {
            uri: EXT_AUDIO_LEVEL.into(),
        },
        RtpCodecKind::Audio,
        None,
    )?;
    let red = red.then(|| (self::red(), PT_RED, RtpCodecKind::Audio));
    for (codec, payload_type, kind) in [
        (opus(), PT_OPUS, RtpCodecKind::Audio),
        (vp8(), PT_VP8, RtpCodecKind::Video),
        (h264(), PT_H264, RtpCodecKind::Video),
    ]
    .into_iter()
    .chain(red)
    {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: codec,
                payload_type,
            },
            kind,
        )?;
    }
    Ok(me)
}

/// Video packets each sending stream keeps for retransmission on a NACK: about 1.5 s of
/// 1.5 Mbit/s video, far beyond any round trip worth retransmitting over. The crate's
/// default (1024) held about 1.2 MB per forwarded video stream, most of a call's memory
/// (measured with `sunwai bench`, docs/benchmarks.md).
const NACK_BUFFER: u16 = 256;

/// What a send-side bandwidth estimate starts at, and the range it is held in, in bit/s.
/// The floor is below what video needs, so that a link too weak for video says so.
const ESTIMATE_INITIAL: f64 = 300_000.0;
const ESTIMATE_MIN: f64 = 30_000.0;
const ESTIMATE_MAX: f64 = 5_000_000.0;

/// What one peer connection's remote end says about the path from here to it: the latest
/// send-side bandwidth estimate (bit/s; 0 until the first feedback), and the audio lost on
/// it in the remote's latest receiver report (the report's fraction lost plus one; 0 until
/// the first report).
#[derive(Clone, Default)]
pub struct Estimate(Arc<AtomicU64>, Arc<AtomicU32>);

impl Estimate {
    pub fn bits_per_second(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&b| b > 0)
    }

    /// The fraction (0.0–1.0) of the audio sent here that the remote's latest receiver
    /// report says was lost.
    pub fn audio_loss(&self) -> Option<f64> {
        match self.1.load(Ordering::Relaxed) {
            0 => None,
            n => Some(f64::from(n - 1) / 256.0),
        }
    }
}

/// The crate's default chain (NACK responder and generator, sender and receiver reports,
/// TWCC as receiver), with a smaller NACK buffer; send-side congestion control (GCC over
/// the remote's TWCC feedback, without the crate's pacer: the estimate is read, not paced
/// to), whose estimate lands in `estimate`; and [`DeliverKeyframeRequests`].
pub fn registry(
    me: &mut MediaEngine,
    estimate: Estimate,
) -> Result<Registry, rtc::shared::error::Error> {
    // The video codecs' nack / nack pli feedback; the registry it returns is replaced
    // below so that the responder's buffer can be sized.
    let _ = configure_nack(Registry::new(), me);
    let registry = Registry::new()
        .with(
            Slot::NackResponder,
            NackResponderBuilder::new().with_size(NACK_BUFFER).build(),
        )
        .with(Slot::NackGenerator, NackGeneratorBuilder::new().build());
    configure_simulcast_extension_headers(me)?;
    // Registers transport-cc (feedback and header extension) for audio and video, and the
    // recorder that reports what arrives here to the remote's estimator.
    let registry = configure_twcc_receiver_only(registry, me)?
        // This end's own loop: number what leaves, and estimate from what the remote says
        // arrived.
        .with(Slot::TwccSender, TwccSenderBuilder::new().build())
        .with(
            Slot::CongestionControl,
            CongestionControlBuilder::new(Gcc::new(ESTIMATE_INITIAL, ESTIMATE_MIN, ESTIMATE_MAX))
                .build(),
        );
    Ok(configure_rtcp_reports(registry).with(
        Slot::from(SLOT_DELIVER_KEYFRAME),
        DeliverKeyframeRequests {
            estimate,
            ..Default::default()
        },
    ))
}

/// After every built-in interceptor (the jitter buffer is 13 000): closest to the
/// application.
const SLOT_DELIVER_KEYFRAME: usize = 14_000;

/// rtc 0.21's interceptor chain ends in a terminus that drops every inbound RTCP packet
/// that no interceptor marked for the application, keyframe requests included. This one
/// marks compound packets that carry a PLI or FIR, so that they come out of `poll_read`,
/// and keeps the congestion controller's latest estimate, which travels on the feedback
/// packet that changed it, and the audio loss the remote reports.
#[derive(Default)]
pub struct DeliverKeyframeRequests {
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
    estimate: Estimate,
    /// The SSRCs of the audio this connection sends.
    audio_ssrcs: Vec<u32>,
}

impl DeliverKeyframeRequests {
    /// Keeps the highest fraction lost that a receiver report gives for audio sent here.
    fn note_reports(&self, pkts: &[Box<dyn rtc::rtcp::Packet>]) {
        let lost = pkts
            .iter()
            .flat_map(|p| {
                let any = p.as_any();
                let reports = if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                    rr.reports.as_slice()
                } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
                    sr.reports.as_slice()
                } else {
                    &[]
                };
                reports.iter()
            })
            .filter(|r| self.audio_ssrcs.contains(&r.ssrc))
            .map(|r| r.fraction_lost)
            .max();
        if let Some(lost) = lost {
            self.estimate
                .1
                .store(u32::from(lost) + 1, Ordering::Relaxed);
        }
    }
}

pub fn is_keyframe_request(p: &dyn rtc::rtcp::Packet) -> bool {
    let any = p.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for DeliverKeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Some(Attribute::TargetBitrateChanged { bits_per_second }) =
            msg.message.get(&Attribute::TargetBitrateChanged {
                bits_per_second: 0.0,
            })
        {
            self.estimate
                .0
                .store(bits_per_second.max(1.0) as u64, Ordering::Relaxed);
        }
        if let Packet::Rtcp(pkts) = &msg.message.packet {
            if !self.audio_ssrcs.is_empty() {
                self.note_reports(pkts);
            }
            if pkts.iter().any(|p| is_keyframe_request(p.as_ref())) {
                msg.message.add(Attribute::DeliverToApplication);
            }
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

impl Interceptor for DeliverKeyframeRequests {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        let audio = info
            .mime_type
            .get(..6)
            .is_some_and(|m| m.eq_ignore_ascii_case("audio/"));
        if audio && !self.audio_ssrcs.contains(&info.ssrc) {
            self.audio_ssrcs.push(info.ssrc);
        }
    }
    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.audio_ssrcs.retain(|s| *s != info.ssrc);
    }
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// Whether a VP8 RTP payload (RFC 7741) is the first packet of a keyframe: the payload
/// descriptor's S bit set with partition index 0, and the VP8 payload header's P bit clear.
pub fn vp8_keyframe_start(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let start_of_partition = first & 0x10 != 0;
    let partition = first & 0x07;
    if !start_of_partition || partition != 0 {
        return false;
    }
    let mut at = 1;
    if first & 0x80 != 0 {
        // X: an extension byte says which optional fields follow.
        let Some(&x) = payload.get(at) else {
            return false;
        };
        at += 1;
        if x & 0x80 != 0 {
            // I: picture id, one byte or two when its M bit is set.
            let Some(&pid) = payload.get(at) else {
                return false;
            };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // L: TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // T or K: TID/Y/KEYIDX
        }
    }
    payload.get(at).is_some_and(|&header| header & 0x01 == 0)
}

/// Whether an H.264 RTP payload (RFC 6184) begins a keyframe: a sequence parameter set or
/// the start of an IDR slice, alone, first in an aggregation packet (STAP-A), or as the
/// first fragment of a fragmented unit (FU-A). Encoders send SPS and PPS right before each
/// IDR, so a receiver that starts there can decode.
pub fn h264_keyframe_start(payload: &[u8]) -> bool {
    const IDR: u8 = 5;
    const SPS: u8 = 7;
    const STAP_A: u8 = 24;
    const FU_A: u8 = 28;
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1f {
        IDR | SPS => true,
        STAP_A => {
            // Aggregated units, each a 16-bit size then the unit.
            let mut at = 1;
            while let (Some(&hi), Some(&lo)) = (payload.get(at), payload.get(at + 1)) {
                let size = usize::from(u16::from_be_bytes([hi, lo]));
                let Some(&header) = payload.get(at + 2) else {
                    return false;
                };
                if size == 0 {
                    return false;
                }
                if matches!(header & 0x1f, IDR | SPS) {
                    return true;
                }
                at += 2 + size;
            }
            false
        }
        FU_A => payload
            .get(1)
            .is_some_and(|&fu| fu & 0x80 != 0 && matches!(fu & 0x1f, IDR | SPS)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_start_of_an_h264_keyframe() {
        // Single units: SPS, IDR, a non-IDR slice, PPS alone.
        assert!(h264_keyframe_start(&[0x67, 0x42]));
        assert!(h264_keyframe_start(&[0x65, 0x88]));
        assert!(!h264_keyframe_start(&[0x41, 0x9a]));
        assert!(!h264_keyframe_start(&[0x68, 0xce]));
        // STAP-A with SPS and PPS (what browsers send before an IDR).
        assert!(h264_keyframe_start(&[
            0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce
        ]));
        // STAP-A holding only slices that are not IDR, and a truncated one.
        assert!(!h264_keyframe_start(&[
            0x78, 0x00, 0x02, 0x41, 0x9a, 0x00, 0x01, 0x06
        ]));
        assert!(!h264_keyframe_start(&[0x78, 0x00, 0x09, 0x41]));
        assert!(!h264_keyframe_start(&[0x78, 0x00, 0x00, 0x67]));
        // FU-A: the first fragment of an IDR, a middle fragment, a fragment of a P slice.
        assert!(h264_keyframe_start(&[0x7c, 0x85, 0x88]));
        assert!(!h264_keyframe_start(&[0x7c, 0x05, 0x88]));
        assert!(!h264_keyframe_start(&[0x7c, 0x81, 0x9a]));
        assert!(!h264_keyframe_start(&[0x7c]));
        assert!(!h264_keyframe_start(&[]));
    }

    #[test]
    fn a_call_shares_the_first_codec_every_leg_offered() {
        use VideoCodec::*;
        assert_eq!(choose([&[Vp8, H264][..], &[H264, Vp8][..]]), Some(Vp8));
        assert_eq!(choose([&[Vp8, H264][..], &[H264][..]]), Some(H264));
        assert_eq!(choose([&[H264][..]]), Some(H264));
        assert_eq!(choose([&[Vp8][..], &[H264][..]]), None);
        // A leg whose video was rejected does not hold the others back.
        assert_eq!(choose([&[][..], &[H264][..]]), Some(H264));
        assert_eq!(answer_order(&[H264, Vp8], Some(H264)), vec![H264, Vp8]);
        assert_eq!(answer_order(&[H264, Vp8], None), vec![Vp8, H264]);
        assert_eq!(answer_order(&[Vp8], Some(H264)), vec![Vp8]);
        assert_eq!(answer_order(&[], Some(Vp8)), Vec::<VideoCodec>::new());
    }

    #[test]
    fn finds_the_start_of_a_vp8_keyframe() {
        // Minimal descriptor (S=1, PID=0), keyframe header (P=0).
        assert!(vp8_keyframe_start(&[0x10, 0x50, 0x01]));
        // The same with a delta frame header (P=1).
        assert!(!vp8_keyframe_start(&[0x10, 0x51]));
        // Not the start of the partition, or not partition 0.
        assert!(!vp8_keyframe_start(&[0x00, 0x50]));
        assert!(!vp8_keyframe_start(&[0x11, 0x50]));
        // Chromium's usual descriptor: X, I with a 15-bit picture id, then a keyframe.
        assert!(vp8_keyframe_start(&[0x90, 0x80, 0x81, 0x23, 0x9c]));
        assert!(!vp8_keyframe_start(&[0x90, 0x80, 0x81, 0x23, 0x9d]));
        // X with I (7-bit id), L and T/K: four descriptor bytes before the header.
        assert!(vp8_keyframe_start(&[0x90, 0xf0, 0x05, 0x07, 0x20, 0x00]));
        // Truncated payloads are never a keyframe start.
        for cut in [&[][..], &[0x90], &[0x90, 0x80], &[0x90, 0x80, 0x81, 0x23]] {
            assert!(!vp8_keyframe_start(cut));
        }
    }
}
